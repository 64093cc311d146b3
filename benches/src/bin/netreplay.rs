//! `netreplay`: the server hit ratio at an equal memory budget. Replays a cache trace over the
//! network against our server, redis-server (allkeys-lru and allkeys-lfu) and memcached, the way an
//! application uses a look-aside cache: `GET key`; on a miss, `SET key value`. Prints a markdown
//! table of hit ratios per trace row and server, and the entries each server held at the end.
//!
//! Equal budget: every value is [`VALUE_LEN`] bytes, so a row of `capacity` entries gets a budget of
//! `capacity × 16 KiB` and per-entry bookkeeping (≈ 100 B) is under 1% of it: each server holds
//! about `capacity` entries, and what differs is which ones it chooses to keep. The value length
//! fills jemalloc's 16 KiB size class in Redis (its string header included), so the allocator's
//! rounding does not penalise it. memcached's `-m` is in whole MiB and its slab pages are 1 MiB.
//!
//! The servers run as child processes on free loopback ports and are killed at the end. Requests
//! are sequential on one connection (a miss must be filled before the next request), so a row costs
//! a round trip per request: the default rows are the short traces.
//!
//! ```text
//! cargo build --release -p cache-server
//! cargo run --release -p cache-bench --bin netreplay -- [--row multi2:512 ...]
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use cache_bench::load::servers::running_as_root;
use cache_bench::trace::{self, Trace};
use clap::Parser;

/// Bytes per value: `16 KiB` minus Redis's string header (`sdshdr16`, 5 B) and terminator.
const VALUE_LEN: usize = 16_378;
/// Budget per entry of a row's capacity.
const BUDGET_PER_ENTRY: u64 = 16 << 10;

/// Replay traces over the network against our server, Redis and memcached at equal memory budgets.
#[derive(Debug, Parser)]
struct Args {
    /// Traces directory [default: $CACHE_TRACES_DIR, else ../shared/traces from the workspace root].
    #[arg(long)]
    traces: Option<PathBuf>,
    /// `trace:capacity` rows (repeatable).
    #[arg(long = "row", default_values_t = ["multi1:512".to_owned(), "multi2:512".to_owned(), "multi3:256".to_owned(), "zigzag:512".to_owned(), "sprite:768".to_owned()])]
    rows: Vec<String>,
    /// Stop each replay after this many requests (0 = the whole trace).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// Our server's executable [default: target/release/cache-server of this workspace].
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

/// One server under test.
#[derive(Debug, Clone, Copy)]
enum Server {
    Ours(&'static str),
    Redis(&'static str),
    Memcached,
}

const SERVERS: [Server; 5] = [
    Server::Ours("allkeys-lfu"),
    Server::Ours("allkeys-lru"),
    Server::Redis("allkeys-lru"),
    Server::Redis("allkeys-lfu"),
    Server::Memcached,
];

impl Server {
    fn name(self) -> String {
        match self {
            Self::Ours(p) => format!("ours {p}"),
            Self::Redis(p) => format!("redis {p}"),
            Self::Memcached => "memcached".to_owned(),
        }
    }

    fn spawn(self, bin: &Path, port: u16, budget: u64) -> Result<Child> {
        let port_s = port.to_string();
        let mut cmd = match self {
            Self::Ours(policy) => {
                let mut c = Command::new(bin);
                c.args(["--port", &port_s, "--maxmemory", &budget.to_string(), "--maxmemory-policy", policy]);
                c
            }
            Self::Redis(policy) => {
                let mut c = Command::new("redis-server");
                c.args(["--port", &port_s, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
                c.args(["--maxmemory", &budget.to_string(), "--maxmemory-policy", policy]);
                c
            }
            Self::Memcached => {
                let mut c = Command::new("memcached");
                c.args(["-l", "127.0.0.1", "-p", &port_s, "-U", "0", "-t", "1"]);
                c.args(["-m", &budget.div_ceil(1 << 20).to_string(), "-I", "1m"]);
                if running_as_root() {
                    c.args(["-u", "root"]);
                }
                c
            }
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        cmd.spawn().with_context(|| format!("starting {}", self.name()))
    }
}

/// A look-aside client speaking RESP or the Memcached text protocol on one blocking connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    memcached: bool,
    line: Vec<u8>,
    value: Vec<u8>,
}

impl Conn {
    fn connect(addr: SocketAddr, memcached: bool) -> Result<Self> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => return Err(e).context("server did not start listening"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let writer = stream.try_clone()?;
        Ok(Self { reader: BufReader::new(stream), writer, memcached, line: Vec::new(), value: vec![b'v'; VALUE_LEN] })
    }

    fn read_line(&mut self) -> Result<&[u8]> {
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line)?;
        ensure!(n > 0, "connection closed");
        Ok(self.line.strip_suffix(b"\r\n").unwrap_or(&self.line))
    }

    /// `GET key`; true on a hit.
    fn get(&mut self, key: &[u8]) -> Result<bool> {
        if self.memcached {
            write!(self.writer, "get ")?;
            self.writer.write_all(key)?;
            self.writer.write_all(b"\r\n")?;
            let line = self.read_line()?.to_vec();
            if line == b"END" {
                return Ok(false);
            }
            let len: usize = std::str::from_utf8(line.rsplit(|&b| b == b' ').next().unwrap_or_default())?.parse()?;
            self.skip(len + 2)?;
            ensure!(self.read_line()? == b"END", "memcached: expected END");
            Ok(true)
        } else {
            write!(self.writer, "*2\r\n$3\r\nGET\r\n${}\r\n", key.len())?;
            self.writer.write_all(key)?;
            self.writer.write_all(b"\r\n")?;
            let line = self.read_line()?.to_vec();
            match line.first() {
                Some(b'$') if line == b"$-1" => Ok(false),
                Some(b'$') => {
                    let len: usize = std::str::from_utf8(&line[1..])?.parse()?;
                    self.skip(len + 2)?;
                    Ok(true)
                }
                _ => bail!("GET: unexpected reply {}", String::from_utf8_lossy(&line)),
            }
        }
    }

    /// `SET key value` (a full budget may refuse it: that is a miss the next time, not an error).
    fn set(&mut self, key: &[u8]) -> Result<()> {
        if self.memcached {
            write!(self.writer, "set ")?;
            self.writer.write_all(key)?;
            write!(self.writer, " 0 0 {VALUE_LEN}\r\n")?;
        } else {
            write!(self.writer, "*3\r\n$3\r\nSET\r\n${}\r\n", key.len())?;
            self.writer.write_all(key)?;
            write!(self.writer, "\r\n${VALUE_LEN}\r\n")?;
        }
        self.writer.write_all(&self.value)?;
        self.writer.write_all(b"\r\n")?;
        let reply = self.read_line()?;
        ensure!(
            matches!(reply, b"+OK" | b"STORED") || reply.starts_with(b"-OOM") || reply.starts_with(b"SERVER_ERROR"),
            "SET: unexpected reply {}",
            String::from_utf8_lossy(reply)
        );
        Ok(())
    }

    fn skip(&mut self, mut n: usize) -> Result<()> {
        let mut sink = [0u8; 8192];
        while n > 0 {
            let take = n.min(sink.len());
            self.reader.read_exact(&mut sink[..take])?;
            n -= take;
        }
        Ok(())
    }

    /// Entries held now (DBSIZE, or memcached's `curr_items`).
    fn entries(&mut self) -> Result<u64> {
        if self.memcached {
            self.writer.write_all(b"stats\r\n")?;
            let mut items = None;
            loop {
                let line = String::from_utf8_lossy(self.read_line()?).into_owned();
                if line == "END" {
                    break;
                }
                if let Some(v) = line.strip_prefix("STAT curr_items ") {
                    items = v.parse().ok();
                }
            }
            items.context("memcached stats without curr_items")
        } else {
            self.writer.write_all(b"*1\r\n$6\r\nDBSIZE\r\n")?;
            let line = self.read_line()?;
            Ok(std::str::from_utf8(line.strip_prefix(b":").context("DBSIZE reply")?)?.parse()?)
        }
    }
}

/// Hit ratio (%) and entries held at the end, for one server and one row.
fn replay(server: Server, bin: &Path, trace: &Trace, capacity: u64, limit: usize) -> Result<(f64, u64)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = server.spawn(bin, port, capacity * BUDGET_PER_ENTRY)?;
    let result = (|| {
        let mut conn = Conn::connect(SocketAddr::from(([127, 0, 0, 1], port)), matches!(server, Server::Memcached))?;
        let keys = if limit > 0 { &trace.keys[..limit.min(trace.keys.len())] } else { &trace.keys[..] };
        let mut hits = 0u64;
        let mut key = Vec::with_capacity(24);
        for &k in keys {
            key.clear();
            write!(key, "k{k}")?;
            if conn.get(&key)? {
                hits += 1;
            } else {
                conn.set(&key)?;
            }
        }
        Ok((100.0 * hits as f64 / keys.len().max(1) as f64, conn.entries()?))
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn main() -> Result<()> {
    let args = Args::parse();
    for peer in ["redis-server", "memcached"] {
        ensure!(
            Command::new(peer).arg("--version").output().is_ok_and(|o| o.status.success()),
            "`{peer}` not found: install it with `apt-get install -y redis-server memcached`"
        );
    }
    let bin =
        args.server_bin.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/cache-server"));
    ensure!(bin.exists(), "{} not found: run `cargo build --release -p cache-server` first", bin.display());
    let dir = trace::traces_dir(args.traces.as_deref());

    let names: Vec<String> = SERVERS.iter().map(|s| s.name()).collect();
    println!("| trace | capacity | requests | {} |", names.join(" | "));
    println!("|---|---:|---:|{}", "---:|".repeat(SERVERS.len()));
    for row in &args.rows {
        let (name, cap) = row.split_once(':').with_context(|| format!("row `{row}`: expected trace:capacity"))?;
        let capacity: u64 = cap.parse().with_context(|| format!("row `{row}`: capacity"))?;
        let trace = trace::load_file(&trace::find_in(&dir, name)?)?;
        let requests = if args.limit > 0 { args.limit.min(trace.keys.len()) } else { trace.keys.len() };
        let mut cells = Vec::new();
        for server in SERVERS {
            let started = Instant::now();
            let (ratio, held) = replay(server, &bin, &trace, capacity, args.limit)
                .with_context(|| format!("{} on {row}", server.name()))?;
            eprintln!("{row} {}: {ratio:.2}% in {:.1?}", server.name(), started.elapsed());
            cells.push(format!("{ratio:.2} ({held})"));
        }
        println!("| {name} | {capacity} | {requests} | {} |", cells.join(" | "));
    }
    println!("\nCells: hit ratio % (entries held at the end). Budget = capacity × 16 KiB, values {VALUE_LEN} B.");
    Ok(())
}
