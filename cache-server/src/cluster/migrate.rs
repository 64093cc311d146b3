//! MIGRATE's wire side: send `RESTORE` (or `RESTORE-ASKING` in cluster mode) commands carrying
//! DUMP payloads to another server and read one reply line per command, over a connection kept
//! for the next MIGRATE to the same `host:port` (Redis keeps these sockets 10 s, at most 64).
//!
//! ```text
//!   commands/migrate.rs ── keys, TTLs, payloads (read under no lock) ──► transfer()
//!        ▲                                                                 │ blocking socket I/O,
//!        └── acknowledged keys deleted (if unchanged), reply ◄─────────────┘ off the async workers
//! ```
//!
//! The exchange is Redis's (`migrateCommand` in cluster.c): optional `AUTH`, `SELECT` when the
//! cached connection last selected another database, then the `RESTORE`s, written in 64 KB
//! chunks; replies are read one line each. A socket error before any reply was read (a cached
//! connection the target closed) is retried once on a fresh connection, unless it was a timeout.
//! This module knows nothing of the keyspace.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long an unused cached connection is kept.
const IDLE: Duration = Duration::from_secs(10);
/// At most this many cached connections.
const MAX_CACHED: usize = 64;

/// One key to send.
#[derive(Debug)]
pub struct Item {
    /// The key.
    pub key: Bytes,
    /// Remaining TTL in milliseconds (0: none).
    pub ttl: u64,
    /// DUMP payload.
    pub payload: Vec<u8>,
}

/// What to send, and where.
#[derive(Debug)]
pub struct Request<'a> {
    /// Target host.
    pub host: &'a str,
    /// Target port (as given: a port that does not parse fails to connect, as in Redis).
    pub port: &'a str,
    /// `AUTH [user] password`.
    pub auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    /// Target database.
    pub db: i64,
    /// Connect, write and read timeout.
    pub timeout: Duration,
    /// `RESTORE-ASKING` (cluster mode) rather than `RESTORE`.
    pub asking: bool,
    /// Add `REPLACE` to each `RESTORE`.
    pub replace: bool,
    /// The keys.
    pub items: Vec<Item>,
}

/// What the target said.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Per item: the target stored it (`+OK`).
    pub acked: Vec<bool>,
    /// The error to reply, if any (`Target instance replied with error: …` or an `IOERR`).
    pub error: Option<String>,
}

struct Cached {
    conn: BufReader<TcpStream>,
    db: i64,
    used: Instant,
}

/// The cached connections. The first use starts a thread that closes idle ones every second
/// (Redis's `migrateCloseTimedoutSockets`, from its cron), so a target is not left holding a
/// connection nobody will use.
fn cache() -> &'static Mutex<HashMap<String, Cached>> {
    static C: OnceLock<Mutex<HashMap<String, Cached>>> = OnceLock::new();
    C.get_or_init(|| {
        let spawned = std::thread::Builder::new().name("migrate-sockets".into()).spawn(|| {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                cache().lock().retain(|_, s| s.used.elapsed() < IDLE);
            }
        });
        if let Err(e) = spawned {
            tracing::warn!("MIGRATE: no thread to close idle cached connections ({e}); they close on next use");
        }
        Mutex::default()
    })
}

/// A cached connection to `addr` or a new one. `Err(None)`: the connection could not be made
/// (a bad address, a timeout); `Err(Some(e))`: the target refused it, which Redis (connecting
/// without blocking) only notices when it writes.
fn connect(addr: &str, host: &str, port: &str, timeout: Duration) -> Result<Cached, Option<io::Error>> {
    {
        let mut c = cache().lock();
        c.retain(|_, s| s.used.elapsed() < IDLE);
        if let Some(s) = c.remove(addr) {
            return Ok(s);
        }
    }
    let port: u16 = port.parse().map_err(|_| None)?;
    let mut last = None;
    for a in (host, port).to_socket_addrs().map_err(|_| None)? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(sock) => {
                sock.set_nodelay(true).map_err(|_| None)?;
                return Ok(Cached { conn: BufReader::new(sock), db: -1, used: Instant::now() });
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.filter(|e| e.kind() == io::ErrorKind::ConnectionRefused))
}

fn keep(addr: String, mut s: Cached) {
    s.used = Instant::now();
    let mut c = cache().lock();
    if c.len() >= MAX_CACHED
        && let Some(oldest) = c.iter().min_by_key(|(_, s)| s.used).map(|(k, _)| k.clone())
    {
        c.remove(&oldest);
    }
    c.insert(addr, s);
}

/// Drops the cached connection to `addr` (Redis's `migrateCloseSocket`).
fn forget(addr: &str) {
    cache().lock().remove(addr);
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        bulk(out, a);
    }
}

/// Why an attempt ended on the socket.
enum SocketError {
    Write(io::Error),
    Read(io::Error),
}

fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

/// Sends `req` (blocking: call it off the async workers) and reads the replies.
pub fn transfer(req: &Request<'_>) -> Outcome {
    let addr = format!("{}:{}", req.host, req.port);
    let mut may_retry = true;
    loop {
        let mut out = Outcome { acked: vec![false; req.items.len()], error: None };
        let attempted = match connect(&addr, req.host, req.port, req.timeout) {
            Ok(mut sock) => attempt(req, &mut sock, &mut out).map(|()| sock),
            Err(Some(refused)) => Err(SocketError::Write(refused)),
            Err(None) => {
                return Outcome {
                    acked: vec![],
                    error: Some("IOERR error or timeout connecting to the client".into()),
                };
            }
        };
        let fail = match attempted {
            Ok(mut sock) => {
                if out.error.is_some() {
                    // After an error the selected database is unknown: SELECT next time.
                    sock.db = -1;
                }
                keep(addr, sock);
                return out;
            }
            Err(e) => e,
        };
        forget(&addr);
        let (io, reading) = match &fail {
            SocketError::Write(e) => (e, false),
            SocketError::Read(e) => (e, true),
        };
        let nothing_read = !out.acked.iter().any(|&a| a) && out.error.is_none();
        if may_retry && nothing_read && !timed_out(io) {
            may_retry = false;
            continue;
        }
        if out.error.is_none() {
            let what = if reading { "reading" } else { "writing" };
            out.error = Some(format!("IOERR error or timeout {what} to target instance"));
        }
        return out;
    }
}

fn attempt(req: &Request<'_>, sock: &mut Cached, out: &mut Outcome) -> Result<(), SocketError> {
    let mut buf = Vec::new();
    if let Some((user, pass)) = req.auth {
        match user {
            Some(u) => command(&mut buf, &[b"AUTH", u, pass]),
            None => command(&mut buf, &[b"AUTH", pass]),
        }
    }
    let select = sock.db != req.db;
    if select {
        command(&mut buf, &[b"SELECT", req.db.to_string().as_bytes()]);
    }
    let name: &[u8] = if req.asking { b"RESTORE-ASKING" } else { b"RESTORE" };
    for it in &req.items {
        let ttl = it.ttl.to_string();
        if req.replace {
            command(&mut buf, &[name, &it.key, ttl.as_bytes(), &it.payload, b"REPLACE"]);
        } else {
            command(&mut buf, &[name, &it.key, ttl.as_bytes(), &it.payload]);
        }
    }
    let stream = sock.conn.get_mut();
    stream.set_write_timeout(Some(req.timeout)).map_err(SocketError::Write)?;
    stream.set_read_timeout(Some(req.timeout)).map_err(SocketError::Read)?;
    for chunk in buf.chunks(64 * 1024) {
        stream.write_all(chunk).map_err(SocketError::Write)?;
    }
    let line = |conn: &mut BufReader<TcpStream>| -> Result<String, SocketError> {
        let mut l = Vec::new();
        match conn.read_until(b'\n', &mut l) {
            Ok(0) => Err(SocketError::Read(io::ErrorKind::UnexpectedEof.into())),
            Ok(_) => Ok(String::from_utf8_lossy(l.trim_ascii_end()).into_owned()),
            Err(e) => Err(SocketError::Read(e)),
        }
    };
    let auth_reply = if req.auth.is_some() { Some(line(&mut sock.conn)?) } else { None };
    let select_reply = if select { Some(line(&mut sock.conn)?) } else { None };
    for i in 0..req.items.len() {
        let reply = line(&mut sock.conn)?;
        let failed = [auth_reply.as_deref(), select_reply.as_deref(), Some(reply.as_str())]
            .into_iter()
            .flatten()
            .find(|r| r.starts_with('-'));
        match failed {
            Some(err) => {
                if out.error.is_none() {
                    out.error = Some(format!("ERR Target instance replied with error: {}", &err[1..]));
                }
            }
            None => out.acked[i] = true,
        }
    }
    if out.error.is_none() {
        sock.db = req.db;
    }
    Ok(())
}
