//! [`Client`] and [`ClientBuilder`]: the nodes, the ring, the near-cache and the retry loop.
//! Typed commands are in `commands.rs`, `get_or_load` in `load.rs`, cluster mode's slot map and
//! redirect loop in `cluster.rs`; this file owns how one command reaches its node: routing (a
//! `Route` is a ring node, or in cluster mode a hash slot resolved when sent), the node list
//! (append-only, so indexes stay valid as a cluster's nodes are discovered), retries with
//! backoff and jitter for idempotent commands, treating an unavailable node as a miss when
//! configured, and the near-cache read path.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cache_core::{Cache, Clock, SystemClock};
use parking_lot::RwLock;
use rand::Rng;

use crate::breaker::{Breaker, BreakerState};
use crate::cluster::Cluster;
use crate::config::{ClusterConfig, Config, LeaseConfig, NearCacheConfig, NodeAddr};
use crate::connection::ConnectOptions;
use crate::error::{Error, Result};
use crate::near_cache::{NearCache, NearCacheStats};
use crate::node::Node;
use crate::pool::{Backoff, Pool};
use crate::ring::Ring;
use crate::slot::key_slot;
use crate::value::Value;

/// Builds a [`Client`].
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> cache_client::Result<()> {
/// use std::time::Duration;
/// use cache_client::{Client, NearCacheConfig};
///
/// let client = Client::builder()
///     .node("redis://127.0.0.1:6379")
///     .node("redis://:secret@127.0.0.1:6380/0")
///     .near_cache(NearCacheConfig::entries(10_000, Duration::from_secs(30)))
///     .build()?;
/// client.set("user:{42}:name", "Ada").await?;
/// assert_eq!(client.get("user:{42}:name").await?.as_deref(), Some(&b"Ada"[..]));
/// # Ok(()) }
/// ```
#[derive(Default)]
#[must_use]
pub struct ClientBuilder {
    urls: Vec<String>,
    cfg: Config,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder").field("urls", &self.urls).field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Adds a node by URL (`redis://[[user]:password@]host:port[/db][?weight=n]`).
    pub fn node(mut self, url: impl Into<String>) -> Self {
        self.urls.push(url.into());
        self
    }

    /// Multiplexed connections per node (default 2).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.cfg.pool_size = n.max(1);
        self
    }

    /// Whether to try RESP3 (`HELLO 3`) first (default true; falls back to RESP2).
    pub fn resp3(mut self, on: bool) -> Self {
        self.cfg.resp3 = on;
        self
    }

    /// Connect (and handshake) timeout.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.cfg.connect_timeout = t;
        self
    }

    /// Per-request timeout.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.cfg.request_timeout = t;
        self
    }

    /// Retries for idempotent commands (default 2).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.cfg.max_retries = n;
        self
    }

    /// Reconnect backoff: first delay and cap.
    pub fn reconnect_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.cfg.reconnect_base = base;
        self.cfg.reconnect_max = max;
        self
    }

    /// Circuit breaker: opens after `failures` consecutive node failures, probes after `cooldown`.
    pub fn breaker(mut self, failures: u32, cooldown: Duration) -> Self {
        self.cfg.breaker_failures = failures;
        self.cfg.breaker_cooldown = cooldown;
        self
    }

    /// Reads of keys on an unavailable node return a miss instead of an error.
    pub fn miss_on_unavailable(mut self, on: bool) -> Self {
        self.cfg.miss_on_unavailable = on;
        self
    }

    /// Puts a near-cache in front (needs RESP3 and `CLIENT TRACKING` on the servers).
    pub fn near_cache(mut self, cfg: NearCacheConfig) -> Self {
        self.cfg.near_cache = Some(cfg);
        self
    }

    /// Coalesces `get_or_load` misses across instances with a lease.
    pub fn lease(mut self, cfg: LeaseConfig) -> Self {
        self.cfg.lease = Some(cfg);
        self
    }

    /// The clock the breakers read (a mock in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Cluster mode: the nodes given are seeds of one Redis Cluster; the client reads the slot
    /// map from any of them (`CLUSTER SLOTS`), routes each key to the primary of its hash slot,
    /// follows `-MOVED` / `-ASK`, and keeps the map fresh (see [`ClusterConfig`]). Without it,
    /// keys are spread over the nodes by the consistent-hashing ring.
    ///
    /// ```no_run
    /// # async fn demo() -> cache_client::Result<()> {
    /// use cache_client::{Client, ClusterConfig};
    ///
    /// let client = Client::builder().node("redis://127.0.0.1:7000").cluster(ClusterConfig::default()).build()?;
    /// client.set("user:{42}:name", "Ada").await?; // to the primary of the slot of "42"
    /// # Ok(()) }
    /// ```
    pub fn cluster(mut self, cfg: ClusterConfig) -> Self {
        self.cfg.cluster = Some(cfg);
        self
    }

    /// Builds the client. Connections open lazily, on first use (in cluster mode, so does the
    /// first read of the slot map).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad URL or no nodes (or, in cluster mode, a database other than 0).
    pub fn build(mut self) -> Result<Client> {
        for url in &self.urls {
            self.cfg.nodes.push(NodeAddr::parse(url)?);
        }
        if self.cfg.nodes.is_empty() {
            return Err(Error::Config("no nodes".into()));
        }
        if self.cfg.cluster.is_some() && self.cfg.nodes.iter().any(|a| a.db != 0) {
            return Err(Error::Config("a cluster has only database 0".into()));
        }
        let cfg = self.cfg;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock::new()));
        let factory = NodeFactory {
            opts: ConnectOptions { resp3: cfg.resp3, connect_timeout: cfg.connect_timeout },
            backoff: Backoff { base: cfg.reconnect_base, max: cfg.reconnect_max },
            clock,
            pool_size: cfg.pool_size,
            breaker_failures: cfg.breaker_failures,
            breaker_cooldown: cfg.breaker_cooldown,
        };
        let nodes: Vec<Arc<Node>> =
            cfg.nodes.iter().enumerate().map(|(i, addr)| factory.make(i, addr.clone())).collect();
        let ring = if cfg.cluster.is_some() {
            Ring::default()
        } else {
            let names: Vec<(String, u32)> = cfg.nodes.iter().map(|a| (a.name(), a.weight)).collect();
            Ring::new(&names)
        };
        let cluster = cfg.cluster.clone().map(Cluster::new);
        let near = cfg.near_cache.as_ref().map(|c| Arc::new(NearCache::new(c)));
        let loads = Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(1)).build();
        Ok(Client { inner: Arc::new(Inner { cfg, nodes: RwLock::new(nodes), factory, ring, cluster, near, loads }) })
    }
}

/// What it takes to make a [`Node`] for an address (cluster mode discovers nodes at run time).
pub(crate) struct NodeFactory {
    opts: ConnectOptions,
    backoff: Backoff,
    clock: Arc<dyn Clock>,
    pool_size: usize,
    breaker_failures: u32,
    breaker_cooldown: Duration,
}

impl NodeFactory {
    fn make(&self, index: usize, addr: NodeAddr) -> Arc<Node> {
        let pool = Pool::new(addr, self.pool_size, self.opts.clone(), self.backoff);
        let breaker = Breaker::new(self.breaker_failures, self.breaker_cooldown, Arc::clone(&self.clock));
        Arc::new(Node::new(index, pool, breaker))
    }
}

pub(crate) struct Inner {
    pub(crate) cfg: Config,
    /// Every node ever known, by index. Append-only, so an index names one node forever (the
    /// ring's nodes in ring mode; seeds, then discovered nodes, in cluster mode).
    nodes: RwLock<Vec<Arc<Node>>>,
    factory: NodeFactory,
    pub(crate) ring: Ring,
    /// The slot map and its refresh machinery (cluster mode only).
    pub(crate) cluster: Option<Cluster>,
    pub(crate) near: Option<Arc<NearCache>>,
    /// In-process coalescing of `get_or_load` misses (entries live only while a load is shared).
    pub(crate) loads: Cache<Bytes, Bytes>,
}

impl Inner {
    /// Node `index`.
    pub(crate) fn node(&self, index: usize) -> Arc<Node> {
        Arc::clone(&self.nodes.read()[index])
    }

    /// How many nodes are known.
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.read().len()
    }

    /// The index of the node at `host:port`, adding it (with the seeds' credentials) if new.
    pub(crate) fn node_index(&self, host: &str, port: u16) -> usize {
        let found =
            |nodes: &[Arc<Node>]| nodes.iter().position(|n| n.pool.addr().port == port && n.pool.addr().host == host);
        if let Some(i) = found(&self.nodes.read()) {
            return i;
        }
        let mut nodes = self.nodes.write();
        if let Some(i) = found(&nodes) {
            return i;
        }
        let mut addr = self.cfg.nodes[0].clone();
        addr.host = host.to_owned();
        addr.port = port;
        let i = nodes.len();
        nodes.push(self.factory.make(i, addr));
        i
    }
}

/// Where a key's command goes: a node of the ring, or (cluster mode) the owner of a slot,
/// looked up when the command is sent so that redirections can update it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    Node(usize),
    Slot(u16),
}

/// An async client for one or more cache (or Redis) nodes. Cheap to clone; clones share
/// connections and the near-cache.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.inner.nodes.read().iter().map(|n| n.name.clone()).collect();
        f.debug_struct("Client")
            .field("nodes", &names)
            .field("cluster", &self.inner.cluster.is_some())
            .field("near_cache", &self.inner.near)
            .finish()
    }
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for one node URL with default settings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad URL.
    pub fn open(url: &str) -> Result<Self> {
        Self::builder().node(url).build()
    }

    /// The index of the node that owns `key`: its ring node, or in cluster mode the primary
    /// of its hash slot as the client's map has it now (node 0 before the map is read; see
    /// [`Client::refresh_slots`]).
    #[must_use]
    pub fn node_of(&self, key: impl AsRef<[u8]>) -> usize {
        match self.route(key.as_ref()) {
            Route::Node(n) => n,
            Route::Slot(slot) => self.slot_owner(slot).unwrap_or(0),
        }
    }

    /// The one node that owns all of `keys` (node 0 for none), for work that must run on a
    /// single node: a transaction, a script. In cluster mode the keys must share a hash slot.
    ///
    /// # Errors
    ///
    /// [`Error::CrossNode`] naming two keys that map to different nodes; in cluster mode
    /// [`Error::CrossSlot`] naming two keys in different slots.
    pub fn node_of_keys<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<usize> {
        Ok(match self.route_of_keys(keys)? {
            Route::Node(n) => n,
            Route::Slot(slot) => self.slot_owner(slot).unwrap_or(0),
        })
    }

    /// Where a command about `key` goes.
    pub(crate) fn route(&self, key: &[u8]) -> Route {
        if self.inner.cluster.is_some() {
            Route::Slot(key_slot(key))
        } else {
            Route::Node(self.inner.ring.node_for(key).unwrap_or(0))
        }
    }

    /// Where a command about all of `keys` goes (node 0 for none).
    pub(crate) fn route_of_keys<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Route> {
        let Some(first) = keys.first() else { return Ok(Route::Node(0)) };
        let first = first.as_ref();
        let route = self.route(first);
        let Some(other) = keys.iter().map(AsRef::as_ref).find(|k| self.route(k) != route) else { return Ok(route) };
        let text = |k: &[u8]| String::from_utf8_lossy(k).into_owned();
        Err(match (route, self.route(other)) {
            (Route::Slot(first_slot), Route::Slot(other_slot)) => {
                Error::CrossSlot { first: text(first), first_slot, other: text(other), other_slot }
            }
            _ => Error::CrossNode {
                first: text(first),
                first_node: self.node_name(self.node_of(first)),
                other: text(other),
                other_node: self.node_name(self.node_of(other)),
            },
        })
    }

    /// The `host:port` of node `index`.
    #[must_use]
    pub fn node_name(&self, index: usize) -> String {
        self.inner.node(index).name.clone()
    }

    /// How many nodes the client knows (in cluster mode it grows as nodes are discovered;
    /// indexes are never reused).
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.inner.node_count()
    }

    /// The circuit breaker state of node `index`.
    #[must_use]
    pub fn breaker_state(&self, index: usize) -> BreakerState {
        self.inner.node(index).breaker.state()
    }

    /// Near-cache counters (`None` without a near-cache).
    #[must_use]
    pub fn near_cache_stats(&self) -> Option<NearCacheStats> {
        self.inner.near.as_ref().map(|n| n.stats())
    }

    /// The near-cache itself, for inspection.
    #[must_use]
    pub fn near_cache(&self) -> Option<&NearCache> {
        self.inner.near.as_deref()
    }

    /// Sends `args` to node `node`, retrying retryable failures of idempotent commands with
    /// exponential backoff and full jitter.
    pub(crate) async fn call_node(&self, node: usize, args: &[Bytes], idempotent: bool) -> Result<Value> {
        let cfg = &self.inner.cfg;
        let mut attempt = 0;
        loop {
            let result = self.inner.node(node).call(args, cfg.request_timeout).await;
            match result {
                Err(e) if idempotent && e.is_retryable() && attempt < cfg.max_retries => {
                    attempt += 1;
                    let cap = cfg.retry_base.saturating_mul(1 << attempt.min(16)).min(cfg.retry_max);
                    let jitter = rand::rng().random_range(0..=cap.as_micros().max(1));
                    tokio::time::sleep(Duration::from_micros(u64::try_from(jitter).unwrap_or(0))).await;
                }
                other => return other,
            }
        }
    }

    /// Sends a command about `key` to its node (in cluster mode, following redirections).
    pub(crate) async fn call_key(&self, key: &[u8], args: &[Bytes], idempotent: bool) -> Result<Value> {
        self.call_route(self.route(key), args, idempotent).await
    }

    /// Sends `args` along `route`.
    pub(crate) async fn call_route(&self, route: Route, args: &[Bytes], idempotent: bool) -> Result<Value> {
        match route {
            Route::Node(node) => self.call_node(node, args, idempotent).await,
            Route::Slot(slot) => self.call_slot(slot, args, idempotent).await,
        }
    }

    /// Whether a read failure should be answered as a miss.
    pub(crate) fn as_miss(&self, e: &Error) -> bool {
        self.inner.cfg.miss_on_unavailable
            && (e.is_node_failure() || matches!(e, Error::NodeUnavailable(_) | Error::SlotUncovered(_)))
    }

    /// Drops `key` from the near-cache after this client changed it.
    pub(crate) fn forget(&self, key: &[u8]) {
        if let Some(near) = &self.inner.near {
            near.invalidate(key);
        }
    }

    /// Runs an arbitrary command on the node of its first argument after the name (or node 0
    /// for commands without one); in cluster mode, on the owner of that argument's hash slot,
    /// following redirections. Not retried
    /// otherwise; the near-cache is not told what it changes (the server's invalidation pushes
    /// still are).
    ///
    /// # Errors
    ///
    /// The server's error reply ([`Error::Server`], verbatim) or a transport error.
    pub async fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Value> {
        let route = args.get(1).map_or(Route::Node(0), |k| self.route(k.as_ref()));
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_ref())).collect();
        self.call_route(route, &args, false).await
    }

    /// Runs an arbitrary command on node `node` (see [`Client::node_of`]), as is: in cluster
    /// mode a redirection comes back as the server's error.
    ///
    /// # Errors
    ///
    /// As [`Client::cmd`].
    pub async fn cmd_on<A: AsRef<[u8]>>(&self, node: usize, args: &[A]) -> Result<Value> {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_ref())).collect();
        self.call_node(node, &args, false).await
    }

    /// Sends all `cmds` back to back on one connection to node `node` before awaiting any reply
    /// (one write for the batch), then collects the replies in order. In cluster mode they are
    /// sent as is: a redirection comes back as that command's error.
    ///
    /// # Errors
    ///
    /// The outer error when no connection could be had; each command's own result inside.
    pub async fn pipeline<A: AsRef<[u8]>>(&self, node: usize, cmds: &[Vec<A>]) -> Result<Vec<Result<Value>>> {
        let conn = self.inner.node(node).connection().await?;
        let mut pending = Vec::with_capacity(cmds.len());
        for c in cmds {
            pending.push(conn.submit(c).await);
        }
        // Replies arrive in order, so waiting for them in order never waits longer than needed,
        // and one deadline for the batch arms no timer per request.
        let timeout = self.inner.cfg.request_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut replies = Vec::with_capacity(pending.len());
        for p in pending {
            replies.push(match p {
                Ok(p) => p.wait_until(deadline, timeout).await,
                Err(e) => Err(e),
            });
        }
        Ok(replies)
    }

    /// `GET`, through the near-cache when there is one: a local hit costs no I/O; a miss reads
    /// the value and its PTTL on the node's tracking connection and fills the near-cache. If the
    /// tracking connection cannot be had, the read goes to the pool and fills nothing.
    ///
    /// # Errors
    ///
    /// Transport errors (or a miss instead, with `miss_on_unavailable`).
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        if let Some(near) = &self.inner.near {
            if let Some(v) = near.get(key) {
                return Ok(Some(v));
            }
            if let Ok(v) = self.fill(near, key).await {
                return Ok(v);
            }
        }
        match self.call_key(key, &[Bytes::from_static(b"GET"), Bytes::copy_from_slice(key)], true).await {
            Ok(v) => {
                let v = v.into_opt_bytes()?;
                if v.is_none() {
                    if let Some(near) = &self.inner.near {
                        near.count_miss();
                    }
                }
                Ok(v)
            }
            Err(e) if self.as_miss(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn fill(&self, near: &Arc<NearCache>, key: &[u8]) -> Result<Option<Bytes>> {
        let node = match self.route(key) {
            Route::Node(n) => self.inner.node(n),
            Route::Slot(slot) => self.inner.node(self.owner_or_refresh(slot).await?),
        };
        let timeout = self.inner.cfg.request_timeout;
        let permit = node.breaker.allow().ok_or_else(|| Error::NodeUnavailable(node.name.clone()))?;
        let conn = match node.tracking(near, timeout).await {
            Ok(c) => c,
            Err(e) => {
                // A refused CLIENT TRACKING proves the node alive; only transport failures count.
                node.breaker.record(permit, !e.is_node_failure());
                return Err(e);
            }
        };
        let ticket = near.begin();
        let result = async {
            let value = conn.submit(&[&b"GET"[..], key]).await?;
            let pttl = conn.submit(&[&b"PTTL"[..], key]).await?;
            Ok::<_, Error>((value.wait(timeout).await?.into_opt_bytes()?, pttl.wait(timeout).await?.into_int()?))
        }
        .await;
        node.breaker.record(permit, !matches!(&result, Err(e) if e.is_node_failure()));
        if let Err(Error::Server(text)) = &result {
            if text.starts_with("MOVED ") {
                // The map learns it; the caller's plain read follows it (uncached, like an ASK).
                self.note_redirect(text, &node);
            }
        }
        let (value, pttl) = result?;
        near.finish(ticket, node.index, Bytes::copy_from_slice(key), value.clone(), pttl);
        Ok(value)
    }
}
