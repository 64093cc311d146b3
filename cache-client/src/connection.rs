//! [`Connection`]: one multiplexed, pipelined socket to one node.
//!
//! ```text
//!  callers ──mpsc(Request)──► writer task ──write_all(batch)──► socket
//!                               │ (pending senders, in write order)
//!                               ▼
//!                           reader task ◄──read_buf── socket
//!                               ├─ reply  → next pending oneshot (FIFO: replies come in order)
//!                               └─ push   → PushHandler (RESP3 only: `invalidate`, ...)
//! ```
//! Many requests are in flight at once; the writer drains every queued request into one buffer
//! and writes it with one syscall. The handshake (`HELLO 3` with fallback to RESP2, `AUTH`,
//! `SELECT`) runs before the tasks start. When either task ends, the connection is dead: pending
//! callers get [`Error::ConnectionDropped`], and the push handler hears `on_disconnect`.
//! Owns nothing above one socket: no retries, no reconnects (the pool's job).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

use crate::codec::{Protocol, Reply, decode_reply, encode_command, encode_to_bytes};
use crate::config::NodeAddr;
use crate::error::{Error, Result};
use crate::value::Value;

/// Receives what arrives outside request/reply: RESP3 pushes, and the connection's end.
pub trait PushHandler: Send + Sync + 'static {
    /// A push frame's items (for `invalidate`: the name, then the keys or nil).
    fn on_push(&self, items: Vec<Value>);
    /// The connection is gone; no more pushes will come from it.
    fn on_disconnect(&self);
}

struct Request {
    bytes: Bytes,
    reply: oneshot::Sender<Reply>,
}

/// Settings for one connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Try RESP3 first.
    pub resp3: bool,
    /// Bound on connect + handshake.
    pub connect_timeout: Duration,
}

/// A handle to one multiplexed connection. Cheap to clone; clones share the socket.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::Sender<Request>,
    alive: Arc<AtomicBool>,
    /// Set by the first caller that reports this connection's loss to a breaker, so that the
    /// many requests in flight when one socket dies count as one failure, not many.
    drop_reported: Arc<AtomicBool>,
    protocol: Protocol,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("protocol", &self.protocol).field("alive", &self.is_alive()).finish()
    }
}

/// How many requests may queue for the writer before senders wait (backpressure).
const QUEUE: usize = 8192;

impl Connection {
    /// Connects to `addr`, runs the handshake, and starts the writer and reader tasks.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when the socket or the handshake fails, [`Error::Timeout`] when they
    /// exceed the connect timeout, [`Error::Server`] with the server's reply when the handshake
    /// is refused (`WRONGPASS ...`, `NOAUTH ...`).
    pub async fn connect(addr: &NodeAddr, opts: &ConnectOptions, push: Option<Arc<dyn PushHandler>>) -> Result<Self> {
        let fail = |reason: String| Error::Connect { addr: addr.name(), reason };
        let setup = async {
            let stream = TcpStream::connect((addr.host.as_str(), addr.port)).await.map_err(|e| fail(e.to_string()))?;
            stream.set_nodelay(true).map_err(|e| fail(e.to_string()))?;
            let mut hs = Handshake { stream, buf: BytesMut::with_capacity(4096) };
            // A server error reply (WRONGPASS, NOAUTH, ...) is kept verbatim: the node is alive.
            let protocol = hs.run(addr, opts.resp3).await.map_err(|e| match e {
                Error::Server(_) => e,
                other => fail(other.to_string()),
            })?;
            Ok::<_, Error>((hs, protocol))
        };
        let (hs, protocol) = tokio::time::timeout(opts.connect_timeout, setup)
            .await
            .map_err(|_| Error::Timeout(opts.connect_timeout))??;
        let (rd, wr) = hs.stream.into_split();
        let (tx, rx) = mpsc::channel(QUEUE);
        let (pending_tx, pending_rx) = mpsc::unbounded_channel();
        let alive = Arc::new(AtomicBool::new(true));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(writer(wr, rx, pending_tx, stop_rx));
        tokio::spawn(reader(rd, hs.buf, protocol, pending_rx, push, Arc::clone(&alive), stop_tx));
        Ok(Self { tx, alive, drop_reported: Arc::new(AtomicBool::new(false)), protocol })
    }

    /// The negotiated protocol.
    #[must_use]
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether both tasks still run (a dead connection fails every request).
    #[must_use]
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire) && !self.tx.is_closed()
    }

    /// Whether the caller is the first to report this connection's loss (see the field docs).
    #[must_use]
    pub fn claim_drop_report(&self) -> bool {
        !self.drop_reported.swap(true, Ordering::AcqRel)
    }

    /// Queues one command and returns the receiver of its reply. Requests queued by one task
    /// are written in the order they were queued, so a caller can pipeline by queueing several
    /// before awaiting any.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectionDropped`] if the connection is dead (the command was not sent).
    pub async fn submit<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<PendingReply> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Request { bytes: encode_to_bytes(args), reply }).await.map_err(|_| Error::ConnectionDropped)?;
        Ok(PendingReply(rx))
    }

    /// Sends one command and waits at most `timeout` for its reply.
    ///
    /// # Errors
    ///
    /// The server's error reply as [`Error::Server`], [`Error::Timeout`], or
    /// [`Error::ConnectionDropped`].
    pub async fn request<A: AsRef<[u8]>>(&self, args: &[A], timeout: Duration) -> Result<Value> {
        let pending = self.submit(args).await?;
        pending.wait(timeout).await
    }
}

/// A reply not yet received.
#[derive(Debug)]
pub struct PendingReply(oneshot::Receiver<Reply>);

impl PendingReply {
    /// Waits at most `timeout` for the reply.
    ///
    /// # Errors
    ///
    /// As [`Connection::request`].
    pub async fn wait(self, timeout: Duration) -> Result<Value> {
        self.wait_until(tokio::time::Instant::now() + timeout, timeout).await
    }

    /// Waits for the reply until `deadline` (`timeout` is what a [`Error::Timeout`] reports). A
    /// reply already there costs no timer: the deadline is only armed when the reply is pending.
    ///
    /// # Errors
    ///
    /// As [`Connection::request`].
    pub async fn wait_until(self, deadline: tokio::time::Instant, timeout: Duration) -> Result<Value> {
        match tokio::time::timeout_at(deadline, self.0).await {
            Err(_) => Err(Error::Timeout(timeout)),
            Ok(Err(_)) => Err(Error::ConnectionDropped),
            Ok(Ok(reply)) => reply.map_err(Error::Server),
        }
    }
}

async fn writer(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Request>,
    pending: mpsc::UnboundedSender<oneshot::Sender<Reply>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        let first = tokio::select! {
            r = rx.recv() => r,
            _ = stop.changed() => None,
        };
        let Some(first) = first else { break };
        let mut next = Some(first);
        // Batch everything already queued into one write (bounded so one flood cannot grow the
        // buffer without limit).
        while let Some(req) = next {
            buf.extend_from_slice(&req.bytes);
            if pending.send(req.reply).is_err() {
                return;
            }
            next = if buf.len() < 256 * 1024 { rx.try_recv().ok() } else { None };
        }
        if wr.write_all(&buf).await.is_err() {
            break;
        }
        buf.clear();
    }
    let _ = wr.shutdown().await;
}

async fn reader(
    mut rd: OwnedReadHalf,
    mut buf: BytesMut,
    protocol: Protocol,
    mut pending: mpsc::UnboundedReceiver<oneshot::Sender<Reply>>,
    push: Option<Arc<dyn PushHandler>>,
    alive: Arc<AtomicBool>,
    stop: tokio::sync::watch::Sender<bool>,
) {
    'read: loop {
        loop {
            match decode_reply(&mut buf, protocol) {
                Ok(Some(Ok(Value::Push(items)))) => {
                    if let Some(h) = &push {
                        h.on_push(items);
                    }
                }
                Ok(Some(reply)) => match pending.try_recv() {
                    Ok(tx) => {
                        let _ = tx.send(reply);
                    }
                    // A reply nobody asked for: the stream is out of step; drop the connection.
                    Err(_) => break 'read,
                },
                Ok(None) => break,
                Err(_) => break 'read,
            }
        }
        buf.reserve(16 * 1024);
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    alive.store(false, Ordering::Release);
    let _ = stop.send(true);
    pending.close();
    while let Ok(tx) = pending.try_recv() {
        drop(tx);
    }
    if let Some(h) = &push {
        h.on_disconnect();
    }
}

/// The sequential exchange that precedes multiplexing.
struct Handshake {
    stream: TcpStream,
    buf: BytesMut,
}

impl Handshake {
    async fn call(&mut self, args: &[&[u8]], protocol: Protocol) -> Result<Reply> {
        let mut out = BytesMut::new();
        encode_command(&mut out, args);
        self.stream.write_all(&out).await?;
        loop {
            if let Some(reply) = decode_reply(&mut self.buf, protocol)? {
                if matches!(reply, Ok(Value::Push(_))) {
                    continue;
                }
                return Ok(reply);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(Error::ConnectionDropped);
            }
        }
    }

    async fn run(&mut self, addr: &NodeAddr, resp3: bool) -> Result<Protocol> {
        let mut protocol = Protocol::Resp2;
        let mut authed = addr.password.is_none();
        if resp3 {
            let user = addr.username.as_deref().unwrap_or("default");
            let mut args: Vec<&[u8]> = vec![b"HELLO", b"3"];
            if let Some(pass) = &addr.password {
                args.extend([b"AUTH".as_slice(), user.as_bytes(), pass.as_bytes()]);
            }
            // The reply to HELLO 3 is RESP3; an error reply reads the same in both versions.
            match self.call(&args, Protocol::Resp3).await? {
                Ok(_) => {
                    protocol = Protocol::Resp3;
                    authed = true;
                }
                Err(e) if is_auth_error(&e) => return Err(Error::Server(e)),
                Err(_) => {}
            }
        }
        if !authed {
            let pass = addr.password.as_deref().unwrap_or_default().as_bytes();
            let args: Vec<&[u8]> = match &addr.username {
                Some(user) => vec![b"AUTH", user.as_bytes(), pass],
                None => vec![b"AUTH", pass],
            };
            self.call(&args, protocol).await?.map_err(Error::Server)?;
        }
        if addr.db != 0 {
            let db = addr.db.to_string();
            self.call(&[b"SELECT", db.as_bytes()], protocol).await?.map_err(Error::Server)?;
        }
        Ok(protocol)
    }
}

fn is_auth_error(e: &str) -> bool {
    ["WRONGPASS", "NOAUTH", "NOPERM", "ERR invalid password", "ERR AUTH"].iter().any(|p| e.starts_with(p))
}
