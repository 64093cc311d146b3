//! Memcached test harness: a real `memcached` child ([`Memcached`]), our server in-process with its
//! Memcached listener on port 0 ([`OurMemcached`]), a raw text-protocol client that keeps the exact
//! reply bytes ([`McConn`]), the seeded command generator ([`generate`]) and the CAS-pattern
//! normalisation the differential comparison needs ([`CasPattern`]). It owns nothing of the RESP
//! harness and knows nothing about what a test asserts.
//!
//! Each request is followed by `mn\r\n` (the meta no-op, answered `MN\r\n`) so the client knows
//! where one reply ends even when the request was `noreply`, malformed, or made of several lines.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::peer::require_peer;
use crate::port::{START_TIMEOUT, free_port, loopback, wait_for_port};

/// A running `memcached -t 1 -m 64 -U 0` on 127.0.0.1; killed on drop.
#[derive(Debug)]
pub struct Memcached {
    child: Child,
    addr: SocketAddr,
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines().find(|l| l.starts_with("Uid:")).is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
}

impl Memcached {
    /// Starts memcached, or returns `None` (after printing why) when it is not installed.
    ///
    /// # Panics
    ///
    /// When it does not come up on a few fresh ports in turn, or is missing under `CI=true`.
    #[must_use]
    pub fn start() -> Option<Self> {
        Self::start_with(&[])
    }

    /// [`Memcached::start`] with extra command-line arguments (e.g. `["-Y", authfile]`).
    ///
    /// # Panics
    ///
    /// As [`Memcached::start`].
    #[must_use]
    pub fn start_with(extra: &[&str]) -> Option<Self> {
        let bin = require_peer("memcached")?;
        for _attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&bin);
            cmd.args(["-p", &port.to_string(), "-l", "127.0.0.1", "-U", "0", "-t", "1", "-m", "64"]);
            cmd.args(extra);
            if running_as_root() {
                cmd.args(["-u", "root"]);
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn memcached");
            let addr = loopback(port);
            if wait_for_port(addr, || matches!(child.try_wait(), Ok(None))) {
                return Some(Self { child, addr });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("memcached did not start listening after 3 attempts");
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our server in this process with RESP and Memcached listeners on 127.0.0.1:0; stopped on drop.
#[derive(Debug)]
pub struct OurMemcached {
    addr: SocketAddr,
    resp: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OurMemcached {
    /// Starts the server with `config` (its ports are ignored).
    ///
    /// # Panics
    ///
    /// When the runtime cannot be built or the server does not start in time.
    #[must_use]
    pub fn start(config: cache_server::Config) -> Self {
        let (tx, rx) = mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            rt.block_on(async move {
                let resp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let mc = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let _ = tx.send((mc.local_addr().expect("addr"), resp.local_addr().expect("addr")));
                let stop = async move {
                    let _ = shutdown_rx.await;
                };
                if let Err(e) = cache_server::run_with(config, resp, Some(mc), stop).await {
                    eprintln!("cache-server (in-process) stopped with an error: {e}");
                }
            });
            rt.shutdown_timeout(Duration::from_secs(5));
        });
        let (addr, resp) = rx.recv_timeout(START_TIMEOUT).expect("the in-process server did not start");
        Self { addr, resp, shutdown: Some(shutdown), thread: Some(thread) }
    }

    /// The Memcached address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The RESP address.
    #[must_use]
    pub fn resp_addr(&self) -> SocketAddr {
        self.resp
    }
}

impl Drop for OurMemcached {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A raw Memcached text-protocol connection.
#[derive(Debug)]
pub struct McConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl McConn {
    /// Connects with a 10 s read timeout.
    ///
    /// # Errors
    ///
    /// When the connection fails.
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Self { stream, buf: Vec::new() })
    }

    /// Sends raw bytes.
    ///
    /// # Errors
    ///
    /// When the write fails.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn line(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(self.buf.drain(..i + 2).collect());
            }
            self.fill()?;
        }
    }

    /// Sends `request` then `mn\r\n` and returns every reply byte before `MN\r\n`.
    ///
    /// # Errors
    ///
    /// When the connection fails or closes first.
    pub fn request(&mut self, request: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut msg = request.to_vec();
        msg.extend_from_slice(b"mn\r\n");
        self.send_raw(&msg)?;
        let mut reply = Vec::new();
        loop {
            let line = self.line()?;
            if line == b"MN\r\n" {
                return Ok(reply);
            }
            let len = value_len(&line);
            reply.extend_from_slice(&line);
            if let Some(n) = len {
                while self.buf.len() < n + 2 {
                    self.fill()?;
                }
                reply.extend(self.buf.drain(..n + 2));
            }
        }
    }

    /// Sends `bytes` and reads until `lines` lines (`\r\n`-terminated) have arrived, or until the
    /// server closes or the read timeout passes: for exchanges where the `mn` marker cannot be
    /// used (before memcached's ASCII authentication every request, `mn` included, is refused).
    ///
    /// # Errors
    ///
    /// When the write fails.
    pub fn exchange(&mut self, bytes: &[u8], lines: usize) -> std::io::Result<Vec<u8>> {
        self.send_raw(bytes)?;
        let mut out = Vec::new();
        for _ in 0..lines {
            match self.line() {
                Ok(l) => out.extend_from_slice(&l),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// Reads exactly `n` bytes.
    ///
    /// # Errors
    ///
    /// When the connection fails, closes or times out first.
    pub fn read_bytes(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Sets the read timeout (10 s after [`McConn::connect`]).
    ///
    /// # Errors
    ///
    /// When the socket refuses it.
    pub fn set_read_timeout(&self, t: Duration) -> std::io::Result<()> {
        self.stream.set_read_timeout(Some(t))
    }

    /// Reads until the server closes the connection.
    ///
    /// # Errors
    ///
    /// When reading fails (a timeout: the server did not close).
    pub fn read_to_close(&mut self) -> std::io::Result<Vec<u8>> {
        let mut out = std::mem::take(&mut self.buf);
        self.stream.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// The data length of a `VALUE <key> <flags> <bytes> [<cas>]` or `VA <bytes> ...` line.
fn value_len(line: &[u8]) -> Option<usize> {
    let words: Vec<&[u8]> = line.trim_ascii_end().split(|b| *b == b' ').collect();
    let w = match *words.first()? {
        b"VALUE" => words.get(3)?,
        b"VA" => words.get(1)?,
        _ => return None,
    };
    std::str::from_utf8(w).ok()?.parse().ok()
}

/// Replaces CAS uniques in `VALUE` lines by the order in which each was first seen, so two servers'
/// replies compare by equality pattern rather than by number; also records them per key.
#[derive(Debug, Default)]
pub struct CasPattern {
    ordinal: HashMap<u64, usize>,
    /// Every CAS unique seen, in first-seen order.
    pub seen: Vec<u64>,
    /// The latest CAS unique seen for each key.
    pub latest: HashMap<Vec<u8>, u64>,
}

impl CasPattern {
    /// Normalises one reply.
    #[must_use]
    pub fn normalize(&mut self, reply: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(reply.len());
        let mut rest = reply;
        while !rest.is_empty() {
            let end = rest.windows(2).position(|w| w == b"\r\n").map_or(rest.len(), |i| i + 2);
            let line = &rest[..end];
            rest = &rest[end..];
            let words: Vec<&[u8]> = line.trim_ascii_end().split(|b| *b == b' ').collect();
            let block = value_len(line).map(|n| {
                let n = (n + 2).min(rest.len());
                let b = &rest[..n];
                rest = &rest[n..];
                b
            });
            let number = block.and_then(padded_number);
            let size = match number {
                Some(d) => format!("~{}", d.len()),
                None => escape(words.get(3).copied().unwrap_or_default()),
            };
            if words.first() == Some(&&b"VALUE"[..]) && words.len() >= 4 {
                let cas = words.get(4).map(|w| {
                    let cas: u64 = std::str::from_utf8(w).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
                    let next = self.ordinal.len();
                    let ord = *self.ordinal.entry(cas).or_insert(next);
                    if ord == next {
                        self.seen.push(cas);
                    }
                    self.latest.insert(words[1].to_vec(), cas);
                    format!(" #{ord}")
                });
                let head =
                    format!("VALUE {} {} {size}{}\r\n", escape(words[1]), escape(words[2]), cas.unwrap_or_default());
                out.extend_from_slice(head.as_bytes());
            } else {
                out.extend_from_slice(line);
            }
            match (number, block) {
                (Some(d), _) => {
                    out.extend_from_slice(d);
                    out.extend_from_slice(b"\r\n");
                }
                (None, Some(b)) => out.extend_from_slice(b),
                (None, None) => {}
            }
        }
        out
    }
}

/// True for a data block (with its `\r\n`) that is a decimal number padded with spaces, as memcached
/// leaves a decremented number that got shorter *when it holds the only reference to the item*
/// (`10` decr 1 reads back `9 `), which depends on timing; such blocks compare by their digits.
fn padded_number(block: &[u8]) -> Option<&[u8]> {
    let body = block.strip_suffix(b"\r\n")?;
    let digits = body.iter().take_while(|b| b.is_ascii_digit()).count();
    (digits > 0 && body[digits..].iter().all(|b| *b == b' ')).then(|| &body[..digits])
}

/// Printable form of bytes (`\xNN` for the rest).
#[must_use]
pub fn escape(b: &[u8]) -> String {
    b.iter()
        .flat_map(|c| match *c {
            b'\r' => "\\r".chars().collect::<Vec<_>>(),
            b'\n' => "\\n".chars().collect(),
            c if (0x20..0x7f).contains(&c) => vec![c as char],
            c => format!("\\x{c:02x}").chars().collect(),
        })
        .collect()
}

/// Which CAS unique a generated `cas` command carries: each server substitutes its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasPick {
    /// The latest seen for the key (0 if none).
    Latest,
    /// The `i`-th unique ever seen (modulo how many), often stale.
    Seen(usize),
    /// A number neither server has handed out.
    Bogus,
}

/// One generated request.
#[derive(Debug, Clone)]
pub enum McOp {
    /// Bytes sent as they are.
    Raw(Vec<u8>),
    /// `cas <key> <flags> <exptime> <len> <CAS>[ noreply]\r\n<data>\r\n`, CAS chosen per server.
    Cas {
        /// The key.
        key: Vec<u8>,
        /// `<flags> <exptime> <len>`.
        middle: String,
        /// Which CAS.
        pick: CasPick,
        /// ` noreply` or empty.
        tail: &'static str,
        /// Data block including its terminator (possibly malformed).
        data: Vec<u8>,
    },
}

impl McOp {
    /// The bytes to send to a server whose CAS uniques are `cas`.
    #[must_use]
    pub fn render(&self, cas: &CasPattern) -> Vec<u8> {
        match self {
            McOp::Raw(b) => b.clone(),
            McOp::Cas { key, middle, pick, tail, data } => {
                let unique = match pick {
                    CasPick::Latest => cas.latest.get(key).copied().unwrap_or(0),
                    CasPick::Seen(i) if !cas.seen.is_empty() => cas.seen[i % cas.seen.len()],
                    CasPick::Seen(_) => 0,
                    CasPick::Bogus => 987_654_321_987,
                };
                let mut out = b"cas ".to_vec();
                out.extend_from_slice(key);
                out.extend_from_slice(format!(" {middle} {unique}{tail}\r\n").as_bytes());
                out.extend_from_slice(data);
                out
            }
        }
    }
}

/// True when a storage line with these fields is refused before its data block is read.
fn refused(key: &[u8], flags: &str, exptime: &str) -> bool {
    key.len() > 250 || !flags.bytes().all(|c| c.is_ascii_digit() || c == b'+') || exptime.contains(['x', '.'])
}

struct Gen {
    rng: StdRng,
    now_unix: u64,
}

impl Gen {
    fn pct(&mut self, p: u32) -> bool {
        self.rng.random_range(0..100) < p
    }

    fn key(&mut self) -> Vec<u8> {
        if self.pct(1) {
            return vec![b'k'; 251];
        }
        format!("key:{}", self.rng.random_range(0..40)).into_bytes()
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0..=3 => {
                let mut v = vec![0u8; self.rng.random_range(0..64)];
                self.rng.fill_bytes(&mut v);
                v
            }
            4..=6 => self.rng.random_range(0..100_000u64).to_string().into_bytes(),
            7 | 8 => format!("x{}", self.rng.random_range(0..100)).into_bytes(),
            _ => Vec::new(),
        }
    }

    /// A key of the small `num:` space, the only one decr (and incr that can wrap) touch: a number
    /// that shrinks is padded with spaces by memcached only when it holds the sole reference to the
    /// item (timing), so an append after it could differ. `append`/`prepend` never use these keys.
    fn num_key(&mut self) -> String {
        format!("num:{}", self.rng.random_range(0..8))
    }

    fn num_value(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..6) {
            // Far below 2^63: memcached 1.6.18 intermittently calls stored values >= 2^63
            // non-numeric, so no sequence here reaches them (incr never gets a huge delta).
            0 => (1_000_000_000_000_000_000 - self.rng.random_range(1..1000u64)).to_string().into_bytes(),
            1 => format!("{} tail", self.rng.random_range(0..100)).into_bytes(),
            2 => b"abc".to_vec(),
            _ => self.rng.random_range(0..100_000u64).to_string().into_bytes(),
        }
    }

    fn exptime(&mut self) -> String {
        match self.rng.random_range(0..10) {
            0..=4 => "0".into(),
            5 => "-1".into(),
            6 => self.rng.random_range(1000..100_000).to_string(),
            7 => (self.now_unix + 100_000).to_string(),
            8 => "1000000000".into(),
            _ => ["x", "1.5"][self.rng.random_range(0..2)].into(),
        }
    }

    fn flags(&mut self) -> String {
        match self.rng.random_range(0..10) {
            0..=5 => "0".into(),
            6..=7 => self.rng.random::<u32>().to_string(),
            8 => "4294967295".into(),
            _ => ["-1", "abc", "+5"][self.rng.random_range(0..3)].into(),
        }
    }

    fn noreply(&mut self) -> &'static str {
        if self.pct(20) { " noreply" } else { "" }
    }

    /// A data block: usually right, sometimes the wrong length (alphanumeric, so what follows is
    /// read as harmless command lines by both servers).
    fn data(&mut self, value: &[u8]) -> (usize, Vec<u8>) {
        let mut block = value.to_vec();
        if self.pct(4) {
            let len = self.rng.random_range(2..10);
            let mut b: Vec<u8> = (0..len).map(|_| b"xyzq"[self.rng.random_range(0..4)]).collect();
            b.extend_from_slice(b"\r\n");
            return (self.rng.random_range(0..len), b);
        }
        block.extend_from_slice(b"\r\n");
        (value.len(), block)
    }

    fn op(&mut self) -> McOp {
        let raw = |s: String| McOp::Raw(s.into_bytes());
        let k = self.key();
        let key = String::from_utf8_lossy(&k).into_owned();
        match self.rng.random_range(0..100) {
            0..=29 => {
                let cmd = ["set", "add", "replace", "append", "prepend"][self.rng.random_range(0..5)];
                let cmd = if self.pct(50) { "set" } else { cmd };
                let v = self.value();
                let (len, block) = self.data(&v);
                // A line the server refuses is followed by no data block: the block's random bytes
                // would otherwise be read as command lines.
                let (flags, exptime) = (self.flags(), self.exptime());
                let mut refused = refused(&k, &flags, &exptime);
                let mut out = if self.pct(1) {
                    refused = true;
                    format!("{cmd} {key} {flags} {exptime} -1\r\n")
                } else if self.pct(2) {
                    refused = true;
                    format!("{cmd} {key} 0 0\r\n")
                } else {
                    format!("{cmd} {key} {flags} {exptime} {len}{}\r\n", self.noreply())
                }
                .into_bytes();
                if !refused {
                    out.extend_from_slice(&block);
                }
                McOp::Raw(out)
            }
            30..=49 => {
                let cmd = ["get", "gets", "gat", "gats"][self.rng.random_range(0..4)];
                let keys: Vec<String> = (0..self.rng.random_range(1..4))
                    .map(|_| String::from_utf8_lossy(&self.key()).into_owned())
                    .collect();
                let t = if cmd.starts_with("gat") { format!(" {}", self.exptime()) } else { String::new() };
                raw(format!("{cmd}{t} {}\r\n", keys.join(" ")))
            }
            50..=61 => {
                let v = self.value();
                let (len, block) = self.data(&v);
                let pick = match self.rng.random_range(0..4) {
                    0 | 1 => CasPick::Latest,
                    2 => CasPick::Seen(self.rng.random_range(0..1000)),
                    _ => CasPick::Bogus,
                };
                let (flags, exptime) = (self.flags(), self.exptime());
                let data = if refused(&k, &flags, &exptime) { Vec::new() } else { block };
                McOp::Cas { key: k, middle: format!("{flags} {exptime} {len}"), pick, tail: self.noreply(), data }
            }
            62..=73 => {
                let cmd = if self.pct(50) { "incr" } else { "decr" };
                let delta = match self.rng.random_range(0..6) {
                    0 => u64::MAX.to_string(),
                    1 => "abc".into(),
                    2 => "-1".into(),
                    _ => self.rng.random_range(0..1000).to_string(),
                };
                let delta = if cmd == "incr" && delta.len() > 3 { "1".to_owned() } else { delta };
                let key = if cmd == "decr" || self.pct(50) { self.num_key() } else { key };
                raw(format!("{cmd} {key} {delta}{}\r\n", self.noreply()))
            }
            74..=79 => raw(format!("touch {key} {}{}\r\n", self.exptime(), self.noreply())),
            80..=89 => match self.rng.random_range(0..6) {
                0 => raw(format!("delete {key} 0\r\n")),
                1 => raw(format!("delete {key} 5\r\n")),
                _ => raw(format!("delete {key}{}\r\n", self.noreply())),
            },
            90 => raw(["flush_all\r\n", "flush_all 0\r\n", "flush_all noreply\r\n", "flush_all 0 noreply\r\n"]
                [self.rng.random_range(0..4)]
            .into()),
            91 => raw("version\r\n".into()),
            92 => {
                raw(["verbosity 1\r\n", "verbosity\r\n", "verbosity 0 noreply\r\n"][self.rng.random_range(0..3)].into())
            }
            93..=95 => raw([
                "bogus\r\n",
                "\r\n",
                "g\r\n",
                "get\r\n",
                "incr k\r\n",
                "touch k\r\n",
                "delete\r\n",
                "set k 0 0 1 2 3\r\nx\r\n",
            ][self.rng.random_range(0..8)]
            .into()),
            _ => {
                // Never a too-long key here: memcached 1.6 drops the unsent replies of earlier
                // pipelined commands when a get fails on one (a quirk we do not reproduce).
                let (key, v) = if self.pct(50) {
                    (self.num_key(), self.num_value())
                } else {
                    (format!("key:{}", self.rng.random_range(0..40)), self.value())
                };
                let (len, block) = self.data(&v);
                let mut out = format!("set {key} {} 0 {len}\r\n", self.flags()).into_bytes();
                out.extend_from_slice(&block);
                out.extend_from_slice(format!("gets {key}\r\n").as_bytes());
                McOp::Raw(out)
            }
        }
    }
}

/// `count` requests for `seed`; absolute exptimes are relative to `now_unix`.
#[must_use]
pub fn generate(seed: u64, count: usize, now_unix: u64) -> Vec<McOp> {
    let mut g = Gen { rng: StdRng::seed_from_u64(seed), now_unix };
    (0..count).map(|_| g.op()).collect()
}
