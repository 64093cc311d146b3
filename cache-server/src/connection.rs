//! One client connection: read into a buffer, decode every complete request, execute them in
//! order, encode all replies into one buffer and write once per batch. Also the per-client state
//! (`ClientState`, owned by the task) and the registry entry other clients can see
//! (`ClientHandle`: CLIENT LIST / KILL). It owns the socket and nothing else.
//!
//! Pushes (tracking invalidations, pub/sub messages) arrive in the client's
//! [`Mailbox`] from other tasks; this task encodes them between two
//! replies — before the next command runs, or when woken while it waits for input — so a push
//! never lands inside a reply.

use crate::commands;
use crate::frame::Parser;
use crate::output::Class;
use crate::reply::Reply;
use crate::server::Shared;
use crate::tracking::{INVALIDATE_CHANNEL, Mailbox, Mode, Push};
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

/// Replies are flushed mid-batch once this many bytes are queued, bounding memory per client.
const FLUSH_AT: usize = 256 * 1024;
/// Smallest read we ask the kernel for.
const READ_CHUNK: usize = 16 * 1024;
/// What a client's state costs beyond its buffers (task, registry entry, parser), for INFO's
/// `mem_clients_normal` and CLIENT LIST's `tot-mem`.
const CLIENT_STATE_BYTES: u64 = 2048;

/// What other connections may read about a client (CLIENT LIST) and how they kill it.
#[derive(Debug)]
pub struct ClientHandle {
    /// CLIENT ID.
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// Connect time.
    pub created: Instant,
    /// Fields updated by the owning task once per batch.
    pub meta: Mutex<ClientMeta>,
    /// Pushes for this client and its output backlog (registered with tracking at accept).
    pub mailbox: Arc<Mailbox>,
    /// The socket's file descriptor (`fd=`; -1 for a session without one).
    pub fd: std::sync::atomic::AtomicI32,
    killed: AtomicBool,
    kill_signal: Notify,
}

/// Mutable client details shown by CLIENT LIST.
#[derive(Debug)]
pub struct ClientMeta {
    /// CLIENT SETNAME.
    pub name: Bytes,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Bytes,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Bytes,
    /// Selected database.
    pub db: u32,
    /// Protocol version.
    pub resp: u8,
    /// Registry index of the last command.
    pub last_cmd: usize,
    /// Last time the client sent something.
    pub last_active: Instant,
    /// Unparsed input bytes.
    pub qbuf: usize,
    /// Free room in the input buffer.
    pub qbuf_free: usize,
    /// Reply buffer capacity (`rbs`) and the most of it a batch used (`rbp`).
    pub rbs: (usize, usize),
    /// CLIENT LIST `flags=` state as [`flag`] bits, rendered in Redis's letter order.
    pub flags: u16,
    /// Subscribed channels and patterns.
    pub sub: (usize, usize, usize),
    /// Tracking REDIRECT id (0 none, -1 tracking off).
    pub redir: i64,
    /// Parked by a blocking command (flag `b`).
    pub blocked: bool,
    /// Bytes of the arguments a parked client keeps (`argv-mem`).
    pub argv_mem: usize,
    /// Commands queued in MULTI (`-1` outside MULTI) and their bytes (`multi`, `multi-mem`).
    pub multi: (i64, usize),
}

/// Bits of [`ClientMeta::flags`] (Redis's `flags=` letters).
pub mod flag {
    /// `P`: subscribed to a channel or pattern.
    pub const PUBSUB: u16 = 1;
    /// `x`: in MULTI.
    pub const MULTI: u16 = 2;
    /// `t`: tracking.
    pub const TRACKING: u16 = 4;
    /// `R`: tracking redirect broken.
    pub const BROKEN_REDIR: u16 = 8;
    /// `B`: tracking in BCAST mode.
    pub const BCAST: u16 = 16;
    /// `d`: a WATCHed key changed.
    pub const DIRTY_CAS: u16 = 32;
    /// `e`: CLIENT NO-EVICT on.
    pub const NO_EVICT: u16 = 64;
    /// `O`: in MONITOR mode.
    pub const MONITOR: u16 = 128;
    /// `r`: READONLY ran (cluster mode).
    pub const READONLY: u16 = 256;
}

/// The `flags=` letters of `bits` (and `b` for a parked client), in Redis 7.0's order.
fn flag_letters(bits: u16, blocked: bool) -> String {
    let mut s = String::new();
    for (on, c) in [
        (bits & flag::MONITOR != 0, 'O'),
        (bits & flag::PUBSUB != 0, 'P'),
        (bits & flag::MULTI != 0, 'x'),
        (blocked, 'b'),
        (bits & flag::TRACKING != 0, 't'),
        (bits & flag::BROKEN_REDIR != 0, 'R'),
        (bits & flag::BCAST != 0, 'B'),
        (bits & flag::DIRTY_CAS != 0, 'd'),
        (bits & flag::READONLY != 0, 'r'),
        (bits & flag::NO_EVICT != 0, 'e'),
    ] {
        if on {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push('N');
    }
    s
}

/// What CLIENT LIST shows of the client running it, which only its own task knows mid-batch.
#[derive(Debug, Default, Clone, Copy)]
pub struct SelfView {
    /// Bytes in the query buffer, this command included (`qbuf`).
    pub qbuf: usize,
    /// Free room in the query buffer (`qbuf-free`).
    pub qbuf_free: usize,
    /// Bytes of this command's arguments (`argv-mem`).
    pub argv_mem: usize,
    /// Unsent reply bytes of this batch (`obl`).
    pub obl: usize,
}

impl ClientHandle {
    /// A fresh client.
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, mailbox: Arc<Mailbox>) -> Self {
        let now = Instant::now();
        Self {
            id,
            addr,
            laddr,
            created: now,
            meta: Mutex::new(ClientMeta {
                name: Bytes::new(),
                lib_name: Bytes::new(),
                lib_ver: Bytes::new(),
                db: 0,
                resp: 2,
                last_cmd: usize::MAX,
                last_active: now,
                qbuf: 0,
                qbuf_free: 0,
                rbs: (0, 0),
                flags: 0,
                sub: (0, 0, 0),
                redir: -1,
                blocked: false,
                argv_mem: 0,
                multi: (-1, 0),
            }),
            mailbox,
            fd: std::sync::atomic::AtomicI32::new(-1),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        }
    }

    /// Asks the owning task to close the connection (CLIENT KILL).
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill_signal.notify_one();
    }

    /// Memory this client holds: buffers, unread output, queued MULTI commands, and a fixed
    /// part for its state.
    pub fn memory(&self) -> u64 {
        let m = self.meta.lock();
        (m.qbuf + m.qbuf_free + m.rbs.0 + m.argv_mem + m.multi.1) as u64
            + self.mailbox.backlog.bytes()
            + CLIENT_STATE_BYTES
    }

    /// One CLIENT LIST line; `cmd_name` maps a registry index to a name. `me` is set when the
    /// client describes itself (CLIENT INFO, or its own line of CLIENT LIST).
    pub fn describe<'a>(&self, cmd_name: impl Fn(usize) -> &'a str, me: Option<SelfView>) -> String {
        // omem: every byte sent but not yet read (replies waiting for the socket, queued
        // pushes); oll: pushes waiting in the mailbox; obl: replies of the running batch.
        let omem = self.mailbox.backlog.bytes();
        let oll = self.mailbox.queued();
        let m = self.meta.lock();
        let (qbuf, qbuf_free, argv_mem, obl) = match me {
            Some(v) => (v.qbuf, v.qbuf_free, v.argv_mem, v.obl),
            None => (m.qbuf, m.qbuf_free, m.argv_mem, 0),
        };
        let tot = (qbuf + qbuf_free + m.rbs.0 + argv_mem + m.multi.1) as u64 + omem + CLIENT_STATE_BYTES;
        let events = if omem > 0 { "rw" } else { "r" };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={qbuf} qbuf-free={qbuf_free} argv-mem={argv_mem} multi-mem={} rbs={} rbp={} obl={} oll={oll} omem={omem} tot-mem={tot} events={events} cmd={} user=default redir={} resp={} lib-name={} lib-ver={}\n",
            self.id,
            self.addr,
            self.laddr,
            self.fd.load(Relaxed),
            String::from_utf8_lossy(&m.name),
            self.created.elapsed().as_secs(),
            m.last_active.elapsed().as_secs(),
            flag_letters(m.flags, m.blocked),
            m.db,
            m.sub.0,
            m.sub.1,
            m.sub.2,
            m.multi.0,
            m.multi.1,
            m.rbs.0,
            m.rbs.1,
            obl,
            cmd_name(m.last_cmd),
            m.redir,
            m.resp,
            String::from_utf8_lossy(&m.lib_name),
            String::from_utf8_lossy(&m.lib_ver),
        )
    }
}

/// State owned by the connection task.
#[derive(Debug)]
pub struct ClientState {
    /// The shared registry entry.
    pub handle: Arc<ClientHandle>,
    /// Selected database.
    pub db: u32,
    /// True once AUTH succeeded (or no password was required at connect).
    pub authenticated: bool,
    /// Close after writing the pending replies (QUIT, protocol error, kill).
    pub close: bool,
    /// Close without writing pending replies (HTTP request, SHUTDOWN).
    pub discard: bool,
    /// Registry index of the last command.
    pub last_cmd: usize,
    /// Pushes for this client (invalidations, pub/sub messages).
    pub mailbox: Arc<Mailbox>,
    /// CLIENT TRACKING mode, mirrored here so reads decide without a lock; `None` = off.
    pub tracking: Option<Mode>,
    /// CLIENT CACHING yes/no was given for the next command.
    pub caching: bool,
    /// Channels + patterns subscribed (RESP2 subscribe mode when non-zero).
    pub subscriptions: usize,
    /// Channels, patterns and shard channels subscribed, apart (CLIENT LIST `sub=` / `psub=` /
    /// `ssub=`).
    pub subscribed: (usize, usize, usize),
    /// MULTI queue and WATCHed keys.
    pub tx: crate::commands::transactions::TxState,
    /// Set by a blocking command that found nothing: the connection parks on it.
    pub blocked: Option<crate::blocking::BlockRequest>,
    /// Per-command features the connection loop handles after `execute`, as [`hook`] bits; 0 on
    /// the fast path (one branch per command).
    pub hooks: u8,
    /// A command CLIENT PAUSE holds ([`hook::POSTPONED`]): run again when the pause lets it.
    pub postponed: Option<Vec<Bytes>>,
    /// CLIENT NO-EVICT ON.
    pub no_evict: bool,
    /// MONITOR ran (CLIENT LIST flag `O`); RESET ends it.
    pub monitoring: bool,
    /// What CLIENT LIST says of this client while it runs the command (set by the loop when a
    /// batch starts; CLIENT LIST / INFO complete it).
    pub view: SelfView,
    /// Redis Cluster flags of the connection (ASKING, READONLY), as [`crate::cluster::route`]
    /// bits; 0 outside cluster mode.
    pub cluster: u8,
    resp3: bool,
}

/// Bits of [`ClientState::hooks`].
pub mod hook {
    /// CLIENT REPLY OFF: no reply is sent.
    pub const REPLY_OFF: u8 = 1;
    /// CLIENT REPLY SKIP took effect: this command's reply is dropped.
    pub const REPLY_SKIP: u8 = 2;
    /// CLIENT REPLY SKIP just ran: the next command's reply is dropped.
    pub const REPLY_SKIP_NEXT: u8 = 4;
    /// The command was held by CLIENT PAUSE (see [`super::ClientState::postponed`]).
    pub const POSTPONED: u8 = 8;
}

impl ClientState {
    /// The state of a new connection registered as `handle`.
    pub fn new(shared: &Shared, handle: Arc<ClientHandle>) -> Self {
        Self {
            mailbox: handle.mailbox.clone(),
            tracking: None,
            caching: false,
            subscriptions: 0,
            monitoring: false,
            subscribed: (0, 0, 0),
            handle,
            db: 0,
            authenticated: !shared.auth_required(),
            close: false,
            discard: false,
            last_cmd: usize::MAX,
            tx: Default::default(),
            blocked: None,
            hooks: 0,
            postponed: None,
            no_evict: false,
            view: SelfView::default(),
            cluster: 0,
            resp3: false,
        }
    }

    /// True if this client must AUTH before running ordinary commands.
    pub fn needs_auth(&self, shared: &Shared) -> bool {
        !self.authenticated && shared.auth_required()
    }

    /// Publishes db / protocol / last command to the handle (CLIENT LIST reads them).
    pub fn sync_meta(&self) {
        let mut m = self.handle.meta.lock();
        m.db = self.db;
        m.resp = if self.resp3 { 3 } else { 2 };
        m.last_cmd = self.last_cmd;
        m.last_active = Instant::now();
        m.sub = self.subscribed;
        m.redir = self.tracking.as_ref().map_or(-1, |t| t.redirect as i64);
        let tracking = self.tracking.as_ref();
        let (queued, dirty) = self.tx.summary();
        m.multi = queued.map_or((-1, 0), |(n, bytes)| (n as i64, bytes));
        let on = |b: bool, bit: u16| if b { bit } else { 0 };
        m.flags = on(self.subscriptions > 0, flag::PUBSUB)
            | on(queued.is_some(), flag::MULTI)
            | on(tracking.is_some(), flag::TRACKING)
            | on(tracking.is_some() && self.mailbox.broken_redirect.load(Relaxed), flag::BROKEN_REDIR)
            | on(tracking.is_some_and(|t| t.bcast), flag::BCAST)
            | on(dirty, flag::DIRTY_CAS)
            | on(self.no_evict, flag::NO_EVICT)
            | on(self.monitoring, flag::MONITOR)
            | on(self.cluster & crate::cluster::route::READONLY != 0, flag::READONLY);
        let class = if self.subscriptions > 0 && !self.resp3 { Class::PubSub } else { Class::Normal };
        self.mailbox.backlog.set_class(class);
    }
}

/// Serves one client until it quits, errs, is killed, idles out, or the server shuts down.
pub async fn serve(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    handle: Arc<ClientHandle>,
    mut stop: watch::Receiver<bool>,
) {
    let _forget = Forget(&shared, &handle);
    let mut client = ClientState::new(&shared, handle.clone());
    let mut parser = Parser::default();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Reply::default();
    {
        use std::os::fd::AsRawFd;
        handle.fd.store(stream.as_raw_fd(), Relaxed);
    }
    // The most reply bytes one batch queued (CLIENT LIST `rbp`).
    let mut reply_peak = 0;
    loop {
        let mut limits = shared.limits(client.needs_auth(&shared));
        client.view.qbuf = rbuf.len();
        client.view.qbuf_free = rbuf.capacity() - rbuf.len();
        while !client.close {
            match parser.parse(&mut rbuf, &limits) {
                Ok(Some(args)) if args.is_empty() => {}
                Ok(Some(args)) => {
                    if client.mailbox.has_pending() {
                        deliver(&client, &mut out);
                    }
                    let was_unauth = limits.unauthenticated;
                    let mark = out.buf.len();
                    commands::execute(&shared, &mut client, &mut out, &args);
                    if client.hooks != 0 {
                        if client.hooks & hook::POSTPONED != 0 {
                            // Held by CLIENT PAUSE: nothing after it runs until it has.
                            client.postponed = Some(args);
                            break;
                        }
                        if client.blocked.is_none() {
                            reply_hooks(&mut client, &mut out, mark);
                        }
                    }
                    if was_unauth && !client.needs_auth(&shared) {
                        limits = shared.limits(false);
                    }
                    if client.blocked.is_some() {
                        // Nothing after a blocking command runs until it is answered.
                        break;
                    }
                    if out.buf.len() >= FLUSH_AT
                        && !client.discard
                        && write(&shared, &client, &mut stream, &mut out).await.is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let msg = format!("ERR {e}");
                    shared.metrics.error(&msg);
                    out.error(&msg);
                    client.close = true;
                }
            }
        }
        if client.mailbox.has_pending() {
            deliver(&client, &mut out);
        }
        client.resp3 = out.resp3;
        if client.discard {
            return;
        }
        reply_peak = reply_peak.max(out.buf.len());
        // Published before the replies go out, so that CLIENT LIST run by another client after
        // this one got its replies sees the state they left (MULTI queue, db, flags).
        client.sync_meta();
        {
            let mut m = handle.meta.lock();
            m.qbuf = rbuf.len();
            m.qbuf_free = rbuf.capacity() - rbuf.len();
            m.rbs = (out.buf.capacity(), reply_peak);
        }
        if !out.buf.is_empty() && write(&shared, &client, &mut stream, &mut out).await.is_err() {
            return;
        }
        if let Some(args) = client.postponed.take() {
            if run_postponed(&shared, &mut client, &mut stream, &mut rbuf, &mut out, &mut stop, args).await.is_err() {
                return;
            }
            if client.blocked.is_none() {
                continue;
            }
            if !out.buf.is_empty() && write(&shared, &client, &mut stream, &mut out).await.is_err() {
                return;
            }
        }
        if let Some(request) = client.blocked.take() {
            let served = park(&shared, &mut client, &mut stream, &mut rbuf, &mut out, &mut stop, request).await;
            if served.is_err() {
                return;
            }
            // Go on with the requests that arrived meanwhile (or wait for more).
            continue;
        }
        if client.close || handle.killed.load(Relaxed) || *stop.borrow() {
            let _ = stream.shutdown().await;
            return;
        }
        let (qlimit, timeout) = {
            let c = shared.config.read();
            // Like Redis, `timeout` never closes a subscribed client: it may wait for ever.
            (c.client_query_buffer_limit, if client.subscriptions > 0 { 0 } else { c.timeout })
        };
        if rbuf.len() as u64 > qlimit {
            tracing::warn!(client = %handle.addr, "closing client that reached max query buffer length");
            return;
        }
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            // Grow with what arrives (doubling inside BytesMut), never by a claimed length.
            rbuf.reserve(READ_CHUNK.max(rbuf.len().min(4 << 20)));
        }
        let read = stream.read_buf(&mut rbuf);
        let idle = async {
            if timeout == 0 {
                std::future::pending::<()>().await;
            } else {
                tokio::time::sleep(Duration::from_secs(timeout)).await;
            }
        };
        tokio::select! {
            r = read => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    shared.metrics.net_input.fetch_add(n as u64, Relaxed);
                    shared.metrics.reads.fetch_add(1, Relaxed);
                }
            },
            _ = idle => return,
            _ = stop.wait_for(|s| *s) => return,
            _ = handle.kill_signal.notified() => return,
            _ = client.mailbox.backlog.closed.notified() => return,
            _ = client.mailbox.wake.notified() => {}
        }
    }
}

/// CLIENT REPLY after a command ran (its reply starts at `mark`): OFF and SKIP drop the reply,
/// and a SKIP given by this command applies to the next one (Redis's `resetClient`).
fn reply_hooks(client: &mut ClientState, out: &mut Reply, mark: usize) {
    let h = client.hooks;
    if h & (hook::REPLY_OFF | hook::REPLY_SKIP) != 0 {
        out.buf.truncate(mark);
    }
    let next = if h & hook::REPLY_SKIP_NEXT != 0 { hook::REPLY_SKIP } else { 0 };
    client.hooks = (h & !(hook::REPLY_SKIP | hook::REPLY_SKIP_NEXT)) | next;
}

/// Waits, holding no lock, until CLIENT PAUSE lets the held command `args` run, then runs it
/// (again held if a new pause came first). Meanwhile the socket is read (requests pile up in
/// `rbuf` within the query buffer limit; a closed socket ends the wait), pushes are delivered,
/// and the client shows as blocked, as in Redis. `Err` means the connection is over.
async fn run_postponed(
    shared: &Arc<Shared>,
    client: &mut ClientState,
    stream: &mut TcpStream,
    rbuf: &mut BytesMut,
    out: &mut Reply,
    stop: &mut watch::Receiver<bool>,
    args: Vec<Bytes>,
) -> Result<(), ()> {
    client.sync_meta();
    show_waiting(&client.handle, Some(args.iter().map(|a| a.len()).sum()));
    shared.pause.waiting.fetch_add(1, Relaxed);
    let result = loop {
        client.hooks &= !hook::POSTPONED;
        if hold(shared, client, stream, rbuf, out, stop, shared.pause.wait()).await.is_none() {
            break Err(());
        }
        let mark = out.buf.len();
        commands::execute(shared, client, out, &args);
        if client.hooks & hook::POSTPONED == 0 {
            if client.hooks != 0 && client.blocked.is_none() {
                reply_hooks(client, out, mark);
            }
            break Ok(());
        }
    };
    shared.pause.waiting.fetch_sub(1, Relaxed);
    show_waiting(&client.handle, None);
    result
}

/// Shows the client as blocked (`b` in CLIENT LIST) with its waiting command's argument bytes,
/// or (`None`) as running again.
fn show_waiting(handle: &ClientHandle, argv_mem: Option<usize>) {
    let mut m = handle.meta.lock();
    m.blocked = argv_mem.is_some();
    m.argv_mem = argv_mem.unwrap_or(0);
}

/// Waits for `wait` (a parked command's outcome, the end of a CLIENT PAUSE) holding no lock,
/// while the connection lives on: the socket is read (requests pile up in `rbuf` within the
/// query buffer limit), pushes are delivered and written, as in Redis. `None` when the
/// connection is over first: the socket closed or overflowed the limit, shutdown, CLIENT KILL,
/// the output limit, or a failed write.
async fn hold<T>(
    shared: &Arc<Shared>,
    client: &mut ClientState,
    stream: &mut TcpStream,
    rbuf: &mut BytesMut,
    out: &mut Reply,
    stop: &mut watch::Receiver<bool>,
    wait: impl std::future::Future<Output = T>,
) -> Option<T> {
    let handle = client.handle.clone();
    let qlimit = shared.config.read().client_query_buffer_limit;
    tokio::pin!(wait);
    loop {
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        let over = tokio::select! {
            t = &mut wait => return Some(t),
            r = stream.read_buf(rbuf) => match r {
                Ok(n) if n > 0 && rbuf.len() as u64 <= qlimit => {
                    shared.metrics.net_input.fetch_add(n as u64, Relaxed);
                    shared.metrics.reads.fetch_add(1, Relaxed);
                    false
                }
                _ => true,
            },
            _ = stop.wait_for(|s| *s) => true,
            _ = handle.kill_signal.notified() => true,
            _ = client.mailbox.backlog.closed.notified() => true,
            _ = client.mailbox.wake.notified() => {
                deliver(client, out);
                false
            }
        };
        if over || (!out.buf.is_empty() && write(shared, client, stream, out).await.is_err()) {
            return None;
        }
    }
}

/// Parks the client on its blocking command until it is served, times out or is unblocked, and
/// writes the answer (see [`crate::blocking`]). Meanwhile the socket is read (requests pile up in
/// `rbuf`, bounded by the query buffer limit; a closed socket ends the wait) and pushes are
/// delivered. `Err` means the connection is over.
async fn park(
    shared: &Arc<Shared>,
    client: &mut ClientState,
    stream: &mut TcpStream,
    rbuf: &mut BytesMut,
    out: &mut Reply,
    stop: &mut watch::Receiver<bool>,
    request: crate::blocking::BlockRequest,
) -> Result<(), ()> {
    use crate::blocking::Outcome;
    let registry = &shared.blocked;
    let w = registry.park(client.handle.clone(), request, out.resp3);
    // A push that landed between the command's look and the parking saw nobody waiting: look
    // again now that the client is queued (anything later sees it parked).
    let keys = w.request.keys.iter().map(|k| (w.request.db, k.clone())).collect();
    registry.serve(keys, &mut |w, key| commands::serve_parked(shared, w, key));
    client.sync_meta();
    show_waiting(&client.handle, Some(w.request.command.as_ref().map_or(0, |(_, a)| a.iter().map(|a| a.len()).sum())));
    let waiting = async {
        match &shared.cluster {
            None => registry.wait(&w).await,
            Some(cluster) => crate::cluster::route::wait_or_redirect(cluster, registry, &w).await,
        }
    };
    let Some(outcome) = hold(shared, client, stream, rbuf, out, stop, waiting).await else {
        registry.leave(&w);
        return Err(());
    };
    show_waiting(&client.handle, None);
    let mark = out.buf.len();
    match outcome {
        Outcome::Served(reply) => out.buf.extend_from_slice(&reply),
        Outcome::TimedOut => out.null_array(),
        Outcome::Unblocked => out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
        Outcome::Redirected(msg) => out.error(&msg),
    }
    if client.hooks != 0 {
        reply_hooks(client, out, mark);
    }
    if client.mailbox.has_pending() {
        deliver(client, out);
    }
    write(shared, client, stream, out).await.map_err(|_| ())
}

/// Unregisters the client's mailbox, tracking and subscriptions however `serve` ends, and
/// reports a client closed by its output-buffer limit as Redis does.
struct Forget<'a>(&'a Shared, &'a ClientHandle);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        let (shared, handle) = (self.0, self.1);
        if handle.mailbox.backlog.is_closing() {
            shared.metrics.output_limit_disconnections.fetch_add(1, Relaxed);
            let reg = commands::registry();
            let info = handle.describe(|i| reg.entries.get(i).map_or("NULL", |e| e.0.as_str()), None);
            tracing::warn!("Client {} closed for overcoming of output buffer limits.", info.trim_end());
        }
        shared.db.tracking.disconnect(handle.id);
    }
}

/// Encodes the queued pushes in the client's current protocol. A RESP2 client only receives
/// pub/sub messages, and redirected invalidations as `__redis__:invalidate` messages while it is
/// subscribed to something (as Redis does); other pushes need RESP3.
pub(crate) fn deliver(client: &ClientState, out: &mut Reply) {
    for p in client.mailbox.take() {
        match p {
            Push::Invalidate { keys, null_resp3, redirected } => {
                if out.resp3 {
                    out.push(2);
                    out.bulk(b"invalidate");
                } else if redirected && client.subscriptions > 0 {
                    out.push(3);
                    out.bulk(b"message");
                    out.bulk(INVALIDATE_CHANNEL);
                } else {
                    continue;
                }
                match keys {
                    Some(keys) => out.bulks(&keys),
                    None => {
                        // Redis writes the null of the *tracking* client's protocol.
                        let own = out.resp3;
                        out.resp3 = null_resp3;
                        out.null();
                        out.resp3 = own;
                    }
                }
            }
            Push::RedirBroken(id) if out.resp3 => {
                out.push(2);
                out.bulk(b"tracking-redir-broken");
                out.int(id as i64);
            }
            Push::RedirBroken(_) => {}
            Push::Message { pattern: None, channel, payload } => {
                out.push(3);
                out.bulk(b"message");
                out.bulk(&channel);
                out.bulk(&payload);
            }
            Push::Monitor(line) => out.buf.extend_from_slice(&line),
            Push::ShardMessage { channel, payload } => {
                out.push(3);
                out.bulk(b"smessage");
                out.bulk(&channel);
                out.bulk(&payload);
            }
            Push::Message { pattern: Some(pattern), channel, payload } => {
                out.push(4);
                out.bulk(b"pmessage");
                out.bulk(&pattern);
                out.bulk(&channel);
                out.bulk(&payload);
            }
        }
    }
}

/// Writes the reply buffer. While the socket is full the bytes count as the client's output
/// backlog; a client that passes its output-buffer limit, or is killed, stops the write.
async fn write(shared: &Shared, client: &ClientState, stream: &mut TcpStream, out: &mut Reply) -> std::io::Result<()> {
    let mailbox = &client.mailbox;
    let over = || std::io::Error::other("client closed for overcoming of output buffer limits");
    mailbox.backlog.set_replies(out.buf.len() as u64, mailbox.limits());
    if mailbox.backlog.is_closing() {
        return Err(over());
    }
    tokio::select! {
        r = stream.write_all(&out.buf) => r?,
        _ = mailbox.backlog.closed.notified() => return Err(over()),
        _ = client.handle.kill_signal.notified() => return Err(std::io::Error::other("client killed")),
    }
    mailbox.backlog.set_replies(0, mailbox.limits());
    shared.metrics.net_output.fetch_add(out.buf.len() as u64, Relaxed);
    shared.metrics.writes.fetch_add(1, Relaxed);
    out.buf.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::{encode, raw_exchange, read_reply, run_table_with, start};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    #[test]
    fn a_parked_client_shows_b_in_redis_order() {
        use super::{flag, flag_letters as f};
        assert_eq!(f(0, false), "N");
        assert_eq!(f(0, true), "b");
        assert_eq!(f(flag::PUBSUB, true), "Pb");
        assert_eq!(f(flag::PUBSUB | flag::TRACKING | flag::BROKEN_REDIR, true), "PbtR");
        assert_eq!(f(flag::TRACKING | flag::BCAST, true), "btB");
        assert_eq!(f(flag::MULTI | flag::DIRTY_CAS | flag::NO_EVICT, false), "xde");
    }

    #[tokio::test]
    async fn pipelined_and_inline_requests_answer_in_order() {
        let addr = start(|_| {}).await;
        let mut input = encode("SET a 1");
        input.extend_from_slice(b"GET a\r\nPING\n");
        input.extend_from_slice(&encode("INCR a"));
        input.extend_from_slice(b"*0\r\n\r\nQUIT\r\n");
        let (out, closed) = raw_exchange(addr, &input).await;
        assert_eq!(String::from_utf8_lossy(&out), "+OK\r\n$1\r\n1\r\n+PONG\r\n:2\r\n+OK\r\n");
        assert!(closed);
    }

    #[tokio::test]
    async fn client_reply_off_and_skip_drop_replies_errors_included() {
        let addr = start(|_| {}).await;
        let mut input = Vec::new();
        for line in [
            "CLIENT REPLY OFF",
            "PING",
            "NOSUCH",
            "CLIENT REPLY SKIP",
            "CLIENT REPLY ON",
            "PING",
            "CLIENT REPLY SKIP",
            "GET",
            "PING b",
            "QUIT",
        ] {
            input.extend_from_slice(&encode(line));
        }
        let (out, closed) = raw_exchange(addr, &input).await;
        assert_eq!(String::from_utf8_lossy(&out), "+OK\r\n+PONG\r\n$1\r\nb\r\n+OK\r\n");
        assert!(closed);
    }

    #[tokio::test]
    async fn client_pause_write_holds_writes_until_unpause_and_lets_reads_through() {
        use std::time::Duration;
        let addr = start(|_| {}).await;
        let (mut admin, mut other) = (TcpStream::connect(addr).await.unwrap(), TcpStream::connect(addr).await.unwrap());
        let (mut ab, mut ob) = (Vec::new(), Vec::new());
        admin.write_all(&encode("CLIENT PAUSE 60000 WRITE")).await.unwrap();
        assert_eq!(read_reply(&mut admin, &mut ab).await, b"+OK\r\n");
        other.write_all(&encode("GET k")).await.unwrap();
        assert_eq!(read_reply(&mut other, &mut ob).await, b"$-1\r\n");
        other.write_all(&encode("SET k v")).await.unwrap();
        other.write_all(&encode("GET k")).await.unwrap();
        let held = tokio::time::timeout(Duration::from_millis(200), read_reply(&mut other, &mut ob)).await;
        assert!(held.is_err(), "SET answered during a WRITE pause");
        admin.write_all(&encode("CLIENT LIST")).await.unwrap();
        let list = read_reply(&mut admin, &mut ab).await;
        assert!(String::from_utf8_lossy(&list).contains(" flags=b "), "held client shows b");
        admin.write_all(&encode("CLIENT UNPAUSE")).await.unwrap();
        assert_eq!(read_reply(&mut admin, &mut ab).await, b"+OK\r\n");
        // The held SET runs first, then the GET queued behind it.
        assert_eq!(read_reply(&mut other, &mut ob).await, b"+OK\r\n");
        assert_eq!(read_reply(&mut other, &mut ob).await, b"$1\r\nv\r\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_server_stops_while_clients_are_held_by_a_pause() {
        use std::time::Duration;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::run(crate::Config::default(), listener, async move {
            let _ = stopped.await;
        }));
        let (mut admin, mut held) = (TcpStream::connect(addr).await.unwrap(), TcpStream::connect(addr).await.unwrap());
        let mut buf = Vec::new();
        admin.write_all(&encode("CLIENT PAUSE 60000 ALL")).await.unwrap();
        assert_eq!(read_reply(&mut admin, &mut buf).await, b"+OK\r\n");
        held.write_all(&encode("SET k v")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(()).unwrap();
        let done = tokio::time::timeout(Duration::from_secs(5), server).await;
        assert!(done.is_ok(), "the server did not stop while a client was held");
        let mut b = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), held.read(&mut b)).await.unwrap().unwrap_or(0);
        assert_eq!(n, 0, "the held client is closed without a reply");
    }

    #[tokio::test]
    async fn protocol_errors_reply_then_close_and_server_keeps_serving() {
        let addr = start(|_| {}).await;
        let cases: &[(&[u8], &str)] = &[
            (b"PING\r\n*1\r\n$-5\r\n", "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"),
            (b"*1\r\n$999999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
            (b"*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"),
            (b"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
            (b"set \"a b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
            // HTTP on the port: the connection is closed without a reply.
            (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", ""),
            // Like Redis, replies queued before the `Host:` line are dropped with the connection.
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ""),
        ];
        for (input, want) in cases {
            let (out, closed) = raw_exchange(addr, input).await;
            assert_eq!(String::from_utf8_lossy(&out), *want, "input {:?}", String::from_utf8_lossy(input));
            assert!(closed, "connection should close after {:?}", String::from_utf8_lossy(input));
        }
        // A half-sent frame followed by a disconnect leaves the server serving.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"*2\r\n$3\r\nGET\r\n$100\r\nabc").await.unwrap();
        drop(s);
        let (out, _) = raw_exchange(addr, b"PING\r\n").await;
        assert_eq!(out, b"+PONG\r\n");
    }

    #[tokio::test]
    async fn unauthenticated_limits_and_query_buffer_limit() {
        let addr = start(|c| {
            c.requirepass = Some("pw".into());
            c.client_query_buffer_limit = 1 << 20;
        })
        .await;
        let (out, closed) = raw_exchange(addr, b"*1\r\n$20000\r\n").await;
        assert_eq!(out, b"-ERR Protocol error: unauthenticated bulk length\r\n");
        assert!(closed);
        let (out, _) = raw_exchange(addr, b"*11\r\n").await;
        assert_eq!(out, b"-ERR Protocol error: unauthenticated multibulk length\r\n");
        // After AUTH, a 2 MB bulk is fine in size but over the 1 MB query buffer: closed, no reply.
        let mut input = encode("AUTH pw");
        input.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
        input.extend_from_slice(&vec![b'x'; 1_500_000]);
        let (out, closed) = raw_exchange(addr, &input).await;
        assert_eq!(out, b"+OK\r\n");
        assert!(closed);
    }

    #[tokio::test]
    async fn maxclients_is_enforced() {
        let addr = start(|c| c.maxclients = 1).await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        first.write_all(b"PING\r\n").await.unwrap();
        let mut buf = Vec::new();
        assert_eq!(read_reply(&mut first, &mut buf).await, b"+PONG\r\n");
        let (out, closed) = raw_exchange(addr, b"PING\r\n").await;
        assert_eq!(out, b"-ERR max number of clients reached\r\n");
        assert!(closed);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_closes_the_connection() {
        let addr = start(|c| c.timeout = 5).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"PING\r\n").await.unwrap();
        let mut b = [0u8; 64];
        let n = s.read(&mut b).await.unwrap();
        assert_eq!(&b[..n], b"+PONG\r\n");
        // No client-side timer: the paused clock advances to the server's idle deadline.
        assert_eq!(s.read(&mut b).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn shutdown_command_stops_the_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(crate::run(crate::Config::default(), listener, std::future::pending()));
        let (out, closed) = raw_exchange(addr, b"SHUTDOWN NOSAVE\r\n").await;
        assert!(out.is_empty() && closed);
        server.await.unwrap().unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn noeviction_replies_oom_and_reads_keep_working() {
        run_table_with(
            |c| {
                c.maxmemory = 200;
                c.maxmemory_policy = crate::MaxMemoryPolicy::NoEviction;
            },
            &[
                ("SET a 1", "+OK\r\n"),
                (
                    "SET b 12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                    "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
                ),
                ("GET a", "$1\r\n1\r\n"),
                ("DEL a", ":1\r\n"),
            ],
        )
        .await;
    }
}
