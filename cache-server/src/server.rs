//! The listener and the server-wide state ([`Shared`]): accepts connections, enforces
//! `maxclients` and protected mode, spawns one task per client, and on shutdown (the caller's
//! future, SIGTERM/SIGINT in the binary, or the SHUTDOWN command) stops accepting, lets every
//! connection finish the batch it is replying to, and returns.
//!
//! ```text
//!  run() ──accept──► maxclients / protected mode ──spawn──► connection::serve (one task per client)
//!    ▲                                                           │ reads shutdown watch between batches
//!    └──── shutdown watch ◄── caller future | SHUTDOWN command ───┘
//! ```

use crate::commands::registry;
use crate::config::{Config, MaxMemoryPolicy};
use crate::connection::{self, ClientHandle, ClientState};
use crate::db::Db;
use crate::frame::Limits;
use crate::metrics::Metrics;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listener failed.
    #[error("listener error: {0}")]
    Io(#[from] std::io::Error),
    /// The snapshot file at `dir`/`dbfilename` exists and was refused.
    #[error(transparent)]
    Load(#[from] crate::persistence::LoadError),
}

/// How long shutdown waits for connections to finish their replies before dropping them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// State shared by every connection.
pub struct Shared {
    /// The live configuration (CONFIG SET changes it).
    pub config: RwLock<Config>,
    /// The keyspaces.
    pub db: Db,
    /// Counters and slow log.
    pub metrics: Metrics,
    /// Clients by id, for CLIENT LIST / KILL.
    pub clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    /// Number of connected clients (maxclients).
    pub connected: AtomicUsize,
    next_id: AtomicU64,
    /// When the server started (INFO uptime).
    pub started: Instant,
    /// 40 hex chars identifying this run.
    pub run_id: String,
    /// The listening port.
    pub port: u16,
    /// Mirrors `config.requirepass.is_some()` for the per-command auth check.
    auth_required: AtomicBool,
    /// Memcached front end state (counters, pending delayed flush).
    pub memcache: crate::memcache::McState,
    /// Clients parked by blocking commands.
    pub blocked: crate::blocking::Registry,
    /// CLIENT PAUSE state (the dispatcher checks it with one relaxed load).
    pub pause: crate::pause::Pause,
    /// Redis Cluster state; `None` unless `cluster-enabled yes`.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Script cache, function libraries, running scripts.
    pub scripting: Arc<crate::commands::scripting::ScriptState>,
    /// `slowlog-log-slower-than`, mirrored from the config so that every command reads it without
    /// taking the config lock.
    slowlog_threshold: std::sync::atomic::AtomicI64,
    /// Highest `used_memory` seen (INFO).
    peak: AtomicU64,
    /// Eviction algorithm the cache was built with ([`MaxMemoryPolicy::algorithm`]; never `"none"`).
    built_algorithm: &'static str,
    shutdown: watch::Sender<bool>,
    /// Snapshots: save state and INFO persistence counters.
    pub persistence: Arc<crate::persistence::State>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("port", &self.port).finish_non_exhaustive()
    }
}

/// A client session without a socket: requests go through the dispatcher as a connection's
/// would, and the reply bytes come back. For benchmarks of the command path and for embedding.
#[derive(Debug)]
pub struct Session {
    shared: Arc<Shared>,
    client: ClientState,
    out: crate::reply::Reply,
}

impl Session {
    /// A session on a fresh server state built from `config`.
    pub fn new(config: Config) -> Self {
        let shared = Arc::new(Shared::new(config, 0));
        let id = shared.next_client_id();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let handle = Arc::new(ClientHandle::new(id, addr, addr, shared.db.tracking.connect(id)));
        let client = ClientState::new(&shared, handle);
        Self { shared, client, out: crate::reply::Reply::default() }
    }

    /// Runs one request (`args[0]` is the command name) and returns its reply.
    pub fn run(&mut self, args: &[Bytes]) -> &[u8] {
        self.out.buf.clear();
        crate::commands::execute(&self.shared, &mut self.client, &mut self.out, args);
        &self.out.buf
    }
}

impl Shared {
    fn new(config: Config, port: u16) -> Self {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let run_id = format!("{:040x}", seed.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835) >> 8);
        let db = Db::new(&config);
        let script_budget = usize::try_from(config.script_cache_max_memory).unwrap_or(usize::MAX);
        let slowlog_threshold = std::sync::atomic::AtomicI64::new(config.slowlog_log_slower_than);
        let busy_threshold = config.busy_reply_threshold;
        db.tracking.limits.store(&config.client_output_buffer_limit);
        crate::notify::configure(&db, config.notify_keyspace_events);
        crate::types::publish(&config.encodings);
        let metrics = Metrics::new(&config);
        db.attach_latency(metrics.latency.clone());
        let pause = crate::pause::Pause::with_keyspace(db.pause_switch());
        let persistence = Arc::new(crate::persistence::State::new());
        persistence.configure(&config);
        Self {
            db,
            auth_required: AtomicBool::new(config.requirepass.is_some()),
            // Under noeviction the core is built with W-TinyLFU (see `Db::new`).
            built_algorithm: match config.maxmemory_policy.algorithm() {
                "none" => "lfu",
                a => a,
            },
            config: RwLock::new(config),
            metrics,
            clients: Mutex::new(HashMap::new()),
            connected: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            started: Instant::now(),
            run_id: run_id[..40].to_string(),
            port,
            peak: AtomicU64::new(0),
            memcache: crate::memcache::McState::default(),
            blocked: Default::default(),
            pause,
            cluster: None,
            scripting: Arc::new(crate::commands::scripting::ScriptState::new(script_budget, busy_threshold)),
            slowlog_threshold,
            shutdown: watch::channel(false).0,
            persistence,
        }
    }

    /// True when a password is configured.
    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Relaxed)
    }

    /// The eviction algorithm the cache was built with (see `config_set`).
    pub fn built_algorithm(&self) -> &'static str {
        self.built_algorithm
    }

    /// Installs a new configuration (after CONFIG SET validated it).
    pub fn apply_config(&self, cfg: Config) {
        self.install_config(cfg).run();
    }

    /// [`Shared::apply_config`] for a caller that holds shards (CONFIG SET inside EXEC): the new
    /// configuration is live at once, and the re-pinning and evictions it needs run on a blocking
    /// thread that takes each shard once the caller has released it, so they follow the EXEC
    /// (Redis runs them within it; its EXEC holds no locks). Without a runtime they run here.
    pub fn apply_config_holding_shards(&self, cfg: Config) {
        let sweep = self.install_config(cfg);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(move || sweep.run())),
            Err(_) => sweep.run(),
        }
    }

    /// Makes `cfg` the live configuration, everything but the shard-wide sweep it returns.
    fn install_config(&self, cfg: Config) -> crate::db::Sweep {
        self.auth_required.store(cfg.requirepass.is_some(), Relaxed);
        let sweep = self.db.set_budget(
            cfg.maxmemory_policy.is_volatile(),
            cfg.maxmemory,
            cfg.maxmemory_policy == MaxMemoryPolicy::NoEviction,
        );
        self.db.configure_access(&cfg);
        self.db.tracking.limits.store(&cfg.client_output_buffer_limit);
        crate::notify::configure(&self.db, cfg.notify_keyspace_events);
        self.slowlog_threshold.store(cfg.slowlog_log_slower_than, Relaxed);
        self.scripting.busy_threshold.store(cfg.busy_reply_threshold, Relaxed);
        crate::types::publish(&cfg.encodings);
        self.persistence.configure(&cfg);
        if let Some(cluster) = &self.cluster {
            crate::cluster::setup::reconfigure(cluster, &cfg);
        }
        *self.config.write() = cfg;
        sweep
    }

    /// Records and returns the peak of `used`.
    pub fn peak_memory(&self, used: u64) -> u64 {
        self.peak.fetch_max(used, Relaxed).max(used)
    }

    /// Asks the server to shut down.
    pub fn trigger_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Parser limits for a client.
    pub fn limits(&self, unauthenticated: bool) -> Limits {
        let c = self.config.read();
        Limits {
            max_bulk: c.proto_max_bulk_len,
            max_multibulk: i32::MAX as u64,
            inline_max: c.inline_max_size,
            unauthenticated,
            unauth_multibulk: c.unauth_max_multibulk_len,
            unauth_bulk: c.unauth_max_bulk_len,
        }
    }

    /// CLIENT LIST text for all clients or the given ids.
    pub fn client_list(&self, ids: Option<&[u64]>) -> String {
        let mut clients: Vec<Arc<ClientHandle>> = self.clients.lock().values().cloned().collect();
        clients.sort_by_key(|c| c.id);
        let reg = registry();
        let mut out = String::new();
        for c in clients.iter().filter(|c| ids.is_none_or(|ids| ids.contains(&c.id))) {
            out.push_str(&c.describe(|i| reg.entries.get(i).map_or("NULL", |e| e.0.as_str()), None));
        }
        out
    }

    /// Kills matching clients (except `skip`); returns how many.
    pub fn kill_clients(&self, pred: impl Fn(&ClientHandle) -> bool, skip: Option<u64>) -> usize {
        let clients = self.clients.lock();
        let mut n = 0;
        for c in clients.values() {
            if Some(c.id) != skip && pred(c) {
                c.kill();
                n += 1;
            }
        }
        n
    }

    /// Adds a SLOWLOG entry if the command was slow enough.
    pub fn maybe_slowlog(&self, client: &ClientState, args: &[Bytes], micros: u64) {
        let threshold = self.slowlog_threshold.load(Relaxed);
        if threshold < 0 || (micros as i64) < threshold {
            return;
        }
        let max = self.config.read().slowlog_max_len;
        let name = String::from_utf8_lossy(&client.handle.meta.lock().name).into_owned();
        let time = self.db.clock.now_ms() / 1000;
        self.metrics.slow(micros, time, args, client.handle.addr.to_string(), name, max as usize);
    }

    fn next_client_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed)
    }
}

const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Serves clients on `listener` until `shutdown` completes or a client sends SHUTDOWN; when
/// `config.memcached_port` is not 0 it also binds that port on the listener's address and serves
/// the Memcached protocols there (see [`crate::memcache`]).
///
/// # Errors
/// [`ServerError::Io`] if the listener's address cannot be read or the Memcached port bound.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    run_on(config, vec![listener], shutdown).await
}

/// As [`run`] on several listeners (every address of `bind`, see [`crate::listener::bind_all`]);
/// the Memcached port, when configured, is bound on each of their addresses.
///
/// # Errors
/// [`ServerError::Io`] if a listener's address cannot be read or the Memcached port bound.
pub async fn run_on(
    config: Config,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let mut memcached = Vec::new();
    if config.memcached_port != 0 {
        let mut bind = String::new();
        for l in &listeners {
            bind.push_str(&format!("{} ", l.local_addr()?.ip()));
        }
        memcached = crate::listener::bind_all(&bind, config.memcached_port, config.tcp_backlog)?;
    }
    serve(config, listeners, memcached, shutdown).await
}

/// As [`run`], with the Memcached listener given (or none): tests bind it to port 0.
///
/// # Errors
/// [`ServerError::Io`] if the listener's address cannot be read.
pub async fn run_with(
    config: Config,
    listener: TcpListener,
    memcached: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    serve(config, vec![listener], memcached.into_iter().collect(), shutdown).await
}

async fn serve(
    config: Config,
    listeners: Vec<TcpListener>,
    memcached: Vec<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let Some(first) = listeners.first() else {
        return Err(ServerError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no listener")));
    };
    let local = first.local_addr()?;
    let mut shared = Shared::new(config, local.port());
    let bus = crate::cluster::setup::open(&shared.config.read(), local).map_err(std::io::Error::other)?;
    let bus = bus.map(|(cluster, addr)| (shared.cluster.insert(Arc::new(cluster)).clone(), addr));
    if shared.cluster.is_some() {
        // COUNTKEYSINSLOT / GETKEYSINSLOT (and so resharding) need the per-slot key index.
        shared.db.enable_slot_index();
    }
    let shared = Arc::new(shared);
    crate::persistence::save::load_at_start(&shared)?;
    if let Some((cluster, addr)) = bus {
        crate::cluster::bus::start(cluster, addr, shared.shutdown.subscribe()).await?;
    }
    let cron = crate::persistence::save::start_cron(shared.clone());
    shared.db.tracking.start_expiry_cycle(|| shared.db.reclaim_expired_fn());
    // Only now, the snapshot loaded (as Redis: "DB loaded from disk", then "Ready to accept connections").
    tracing::info!("cache-server ready to accept connections");
    let mut stop = shared.shutdown.subscribe();
    let trigger = shared.clone();
    let external = tokio::spawn(async move {
        shutdown.await;
        trigger.trigger_shutdown();
    });
    let mut tasks = JoinSet::new();
    for l in memcached {
        tracing::info!(address = %l.local_addr()?, "serving the Memcached protocols");
        tasks.spawn(crate::memcache::listen(shared.clone(), l, shared.shutdown.subscribe()));
    }
    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            r = crate::listener::accept_any(&listeners) => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.metrics.connections.fetch_add(1, Relaxed);
        let _ = stream.set_nodelay(true);
        let _ = crate::sockopt::set_keepalive(&stream, shared.config.read().tcp_keepalive);
        let (maxclients, refused) = {
            let c = shared.config.read();
            (c.maxclients, crate::listener::protected_mode_refuses(&c, &peer))
        };
        if shared.connected.load(Relaxed) >= maxclients {
            shared.metrics.rejected_connections.fetch_add(1, Relaxed);
            tasks.spawn(refuse(stream, "-ERR max number of clients reached\r\n"));
            continue;
        }
        if refused {
            tasks.spawn(refuse(stream, DENIED));
            continue;
        }
        let id = shared.next_client_id();
        let laddr = stream.local_addr().unwrap_or(local);
        let mailbox = shared.db.tracking.connect(id);
        let handle = Arc::new(ClientHandle::new(id, peer, laddr, mailbox));
        shared.clients.lock().insert(id, handle.clone());
        shared.connected.fetch_add(1, Relaxed);
        let sh = shared.clone();
        let stop_rx = shared.shutdown.subscribe();
        tasks.spawn(async move {
            connection::serve(sh.clone(), stream, handle, stop_rx).await;
            sh.clients.lock().remove(&id);
            sh.connected.fetch_sub(1, Relaxed);
        });
    }
    drop(listeners);
    external.abort();
    tracing::info!(clients = tasks.len(), "shutting down: no longer accepting, draining connections");
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(clients = tasks.len(), "connections still busy after drain timeout; closing them");
        // Not awaited: a connection inside an unkillable script never reaches an await point, and
        // must not hold the process (the binary stops its runtime with a timeout after this).
        tasks.abort_all();
        tasks.detach_all();
    }
    cron.abort();
    let last = shared.clone();
    let _ = tokio::task::spawn_blocking(move || crate::persistence::save::at_shutdown(&last)).await;
    tracing::info!("server stopped");
    Ok(())
}

async fn refuse(mut stream: tokio::net::TcpStream, msg: &'static str) {
    let _ = stream.write_all(msg.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Address in `host:port` form for logging.
pub fn display_addr(a: &SocketAddr) -> String {
    a.to_string()
}
