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
    /// CLIENT LIST `flags=` letters (`P` subscribed, `t` tracking, `B` broadcast; `N` none).
    pub flags: &'static str,
    /// Subscribed channels and patterns.
    pub sub: (usize, usize),
    /// Tracking REDIRECT id (0 none, -1 tracking off).
    pub redir: i64,
    /// Parked by a blocking command (flag `b`).
    pub blocked: bool,
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
                flags: "N",
                sub: (0, 0),
                redir: -1,
                blocked: false,
            }),
            mailbox,
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        }
    }

    /// Asks the owning task to close the connection (CLIENT KILL).
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill_signal.notify_one();
    }

    /// Memory this client holds: input buffer, unread output, and a fixed part for its state.
    pub fn memory(&self) -> u64 {
        let m = self.meta.lock();
        (m.qbuf + m.qbuf_free) as u64 + self.mailbox.backlog.bytes() + CLIENT_STATE_BYTES
    }

    /// One CLIENT LIST line; `cmd_name` maps a registry index to a name.
    pub fn describe<'a>(&self, cmd_name: impl Fn(usize) -> &'a str) -> String {
        let omem = self.mailbox.backlog.bytes();
        let oll = self.mailbox.queued();
        let m = self.meta.lock();
        let tot = (m.qbuf + m.qbuf_free) as u64 + omem + CLIENT_STATE_BYTES;
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi=-1 qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll={oll} omem={omem} tot-mem={tot} events=r cmd={} user=default redir={} resp={} lib-name={} lib-ver={}\n",
            self.id,
            self.addr,
            self.laddr,
            String::from_utf8_lossy(&m.name),
            self.created.elapsed().as_secs(),
            m.last_active.elapsed().as_secs(),
            flags_with_blocked(m.flags, m.blocked),
            m.db,
            m.sub.0,
            m.sub.1,
            m.qbuf,
            m.qbuf_free,
            m.qbuf + m.qbuf_free,
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
    /// Channels and patterns subscribed, apart (CLIENT LIST `sub=` / `psub=`).
    pub subscribed: (usize, usize),
    /// MULTI queue and WATCHed keys.
    pub tx: crate::commands::transactions::TxState,
    /// Set by a blocking command that found nothing: the connection parks on it.
    pub blocked: Option<crate::blocking::BlockRequest>,
    resp3: bool,
}

impl ClientState {
    /// The state of a new connection registered as `handle`.
    pub fn new(shared: &Shared, handle: Arc<ClientHandle>) -> Self {
        Self {
            mailbox: handle.mailbox.clone(),
            tracking: None,
            caching: false,
            subscriptions: 0,
            subscribed: (0, 0),
            handle,
            db: 0,
            authenticated: !shared.auth_required(),
            close: false,
            discard: false,
            last_cmd: usize::MAX,
            tx: Default::default(),
            blocked: None,
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
        // Redis's letters, in its order: P (pub/sub), t (tracking), R (broken redirect), B (BCAST).
        const FLAGS: [&str; 16] =
            ["N", "P", "t", "Pt", "R", "PR", "tR", "PtR", "B", "PB", "tB", "PtB", "RB", "PRB", "tRB", "PtRB"];
        let tracking = self.tracking.as_ref();
        let bits = usize::from(self.subscriptions > 0)
            | usize::from(tracking.is_some()) << 1
            | usize::from(tracking.is_some() && self.mailbox.broken_redirect.load(Relaxed)) << 2
            | usize::from(tracking.is_some_and(|t| t.bcast)) << 3;
        m.flags = FLAGS[bits];
        let class = if self.subscriptions > 0 && !self.resp3 { Class::PubSub } else { Class::Normal };
        self.mailbox.backlog.set_class(class);
    }
}

/// The `flags=` letters with `b` for a parked client, in Redis's order (after `P`, before `t`).
fn flags_with_blocked(flags: &str, blocked: bool) -> std::borrow::Cow<'_, str> {
    if !blocked {
        return flags.into();
    }
    let rest = if flags == "N" { "" } else { flags };
    let (p, after) = rest.split_at(usize::from(rest.starts_with('P')));
    format!("{p}b{after}").into()
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
    loop {
        let mut limits = shared.limits(client.needs_auth(&shared));
        while !client.close {
            match parser.parse(&mut rbuf, &limits) {
                Ok(Some(args)) if args.is_empty() => {}
                Ok(Some(args)) => {
                    if client.mailbox.has_pending() {
                        deliver(&client, &mut out);
                    }
                    let was_unauth = limits.unauthenticated;
                    commands::execute(&shared, &mut client, &mut out, &args);
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
        if !out.buf.is_empty() && write(&shared, &client, &mut stream, &mut out).await.is_err() {
            return;
        }
        if let Some(request) = client.blocked.take() {
            let served = park(&shared, &mut client, &mut stream, &mut rbuf, &mut out, &mut stop, request).await;
            if served.is_err() {
                return;
            }
            // Go on with the requests that arrived meanwhile (or wait for more).
            continue;
        }
        client.sync_meta();
        {
            let mut m = handle.meta.lock();
            m.qbuf = rbuf.len();
            m.qbuf_free = rbuf.capacity() - rbuf.len();
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
                Ok(n) => { shared.metrics.net_input.fetch_add(n as u64, Relaxed); }
            },
            _ = idle => return,
            _ = stop.wait_for(|s| *s) => return,
            _ = handle.kill_signal.notified() => return,
            _ = client.mailbox.backlog.closed.notified() => return,
            _ = client.mailbox.wake.notified() => {}
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
    let handle = client.handle.clone();
    let qlimit = shared.config.read().client_query_buffer_limit;
    client.sync_meta();
    client.handle.meta.lock().blocked = true;
    let wait = registry.wait(&w);
    tokio::pin!(wait);
    let outcome = loop {
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        let over = tokio::select! {
            o = &mut wait => break o,
            r = stream.read_buf(rbuf) => match r {
                Ok(n) if n > 0 && rbuf.len() as u64 <= qlimit => {
                    shared.metrics.net_input.fetch_add(n as u64, Relaxed);
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
        let over = over || (!out.buf.is_empty() && write(shared, client, stream, out).await.is_err());
        if over {
            registry.leave(&w);
            return Err(());
        }
    };
    client.handle.meta.lock().blocked = false;
    match outcome {
        Outcome::Served(reply) => out.buf.extend_from_slice(&reply),
        Outcome::TimedOut => out.null_array(),
        Outcome::Unblocked => out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
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
            let info = handle.describe(|i| reg.entries.get(i).map_or("NULL", |e| e.0.as_str()));
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
        use super::flags_with_blocked as f;
        assert_eq!(f("N", false), "N");
        assert_eq!(f("N", true), "b");
        assert_eq!(f("P", true), "Pb");
        assert_eq!(f("PtR", true), "PbtR");
        assert_eq!(f("tB", true), "btB");
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
