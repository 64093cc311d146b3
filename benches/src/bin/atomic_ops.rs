//! `atomic_ops`: throughput of the atomic paths against a running server (ours or Redis) — an
//! EVALSHA fixed-window rate limiter on distinct keys, and MULTI + 3 SETs + EXEC — with 1 and then
//! 2 client threads, each thread driving `--connections` connections pipelined `--pipeline` deep.
//! Prints ops/s per workload and thread count, and the 2-thread ÷ 1-thread ratio. Bounded: each
//! measurement stops after `--secs` seconds.
//!
//! ```text
//! cargo build --release -p cache-server -p cache-bench
//! ./target/release/cache-server --port 7001 & redis-server --port 7002 --save '' &
//! ./target/release/atomic_ops --addr 127.0.0.1:7001; ./target/release/atomic_ops --addr 127.0.0.1:7002
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cache_tests::resp::{Frame, RawConn, encode_command};
use clap::Parser;

/// INCR a per-key window counter, set its expiry on first use, refuse past the limit.
const RATE_LIMITER: &str = "local n = redis.call('INCR', KEYS[1]) \
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
if n > tonumber(ARGV[2]) then return 0 end return 1";

#[derive(Debug, Parser)]
#[command(about = "EVALSHA rate limiter and MULTI/EXEC throughput, 1 vs 2 client threads")]
struct Cli {
    /// The server.
    #[arg(long, default_value = "127.0.0.1:6379")]
    addr: SocketAddr,
    /// Connections per client thread.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 32)]
    pipeline: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Distinct keys per connection.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Which workloads: `all`, `script` (the rate limiter) or `multi`.
    #[arg(long, default_value = "all")]
    only: String,
}

#[derive(Debug, Clone, Copy)]
enum Workload {
    RateLimiter,
    MultiExec,
}

/// One connection's requests for one "operation", already encoded, and how many replies they get.
fn operation(w: Workload, sha: &str, prefix: &str, i: usize) -> (Vec<u8>, usize) {
    match w {
        Workload::RateLimiter => {
            let key = format!("rl:{prefix}:{i}");
            (encode_command(&["EVALSHA", sha, "1", &key, "60", "1000000000"]), 1)
        }
        Workload::MultiExec => {
            let mut v = encode_command(&["MULTI"]);
            for k in 0..3 {
                v.extend(encode_command(&["SET", &format!("tx:{prefix}:{i}:{k}"), "value-of-32-bytes-xxxxxxxxxxxxxx"]));
            }
            v.extend(encode_command(&["EXEC"]));
            (v, 5)
        }
    }
}

/// Counts complete RESP replies in `buf[*pos..]`, advancing `pos` past them.
fn count_replies(buf: &[u8], pos: &mut usize) -> usize {
    fn one(b: &[u8]) -> Option<usize> {
        let nl = b.windows(2).position(|w| w == b"\r\n")?;
        let head = nl + 2;
        let n: i64 = std::str::from_utf8(&b[1..nl]).ok()?.parse().unwrap_or(0);
        match b[0] {
            b'$' if n >= 0 => (b.len() >= head + n as usize + 2).then_some(head + n as usize + 2),
            b'*' if n > 0 => {
                let mut p = head;
                for _ in 0..n {
                    p += one(&b[p..])?;
                }
                Some(p)
            }
            _ => Some(head),
        }
    }
    let mut n = 0;
    while let Some(len) = one(&buf[*pos..]) {
        *pos += len;
        n += 1;
    }
    n
}

/// One connection of a client thread.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Operations sent and not yet fully answered.
    outstanding: usize,
    /// Replies received toward the oldest outstanding operation.
    partial: usize,
}

/// One client thread: its connections in turn, each kept `pipeline` operations deep.
fn client(cli: &Cli, w: Workload, sha: &str, thread: usize, until: Instant) -> Result<u64> {
    let mut conns: Vec<Conn> = (0..cli.connections)
        .map(|_| {
            let stream = TcpStream::connect(cli.addr)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            Ok(Conn { stream, buf: Vec::new(), outstanding: 0, partial: 0 })
        })
        .collect::<Result<_>>()?;
    let per_op = operation(w, sha, "", 0).1;
    let mut done = 0u64;
    let mut next = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    while Instant::now() < until {
        for (c, conn) in conns.iter_mut().enumerate() {
            let mut batch = Vec::new();
            while conn.outstanding < cli.pipeline {
                batch.extend(operation(w, sha, &format!("{thread}:{c}"), next % cli.keys).0);
                next += 1;
                conn.outstanding += 1;
            }
            conn.stream.write_all(&batch)?;
            let n = conn.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("connection closed");
            }
            conn.buf.extend_from_slice(&chunk[..n]);
            let mut pos = 0;
            let replies = conn.partial + count_replies(&conn.buf, &mut pos);
            conn.buf.drain(..pos);
            let ops = replies / per_op;
            conn.partial = replies % per_op;
            conn.outstanding -= ops;
            done += ops as u64;
        }
    }
    Ok(done)
}

fn measure(cli: &Cli, w: Workload, sha: &str, threads: usize) -> Result<f64> {
    let until = Instant::now() + Duration::from_secs(cli.secs);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || client(cli, w, sha, t, until))).collect();
        handles.into_iter().map(|h| h.join().expect("client thread").unwrap_or(0)).sum()
    });
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut admin = RawConn::connect(cli.addr).context("connect")?;
    admin.cmd(&["FLUSHALL"])?;
    let sha = match admin.cmd(&["SCRIPT", "LOAD", RATE_LIMITER])? {
        Frame::Bulk(Some(b)) => String::from_utf8(b)?,
        f => bail!("SCRIPT LOAD: {f:?}"),
    };
    for (name, w, tag) in [
        ("EVALSHA rate limiter", Workload::RateLimiter, "script"),
        ("MULTI + 3 SET + EXEC", Workload::MultiExec, "multi"),
    ] {
        if cli.only != "all" && cli.only != tag {
            continue;
        }
        let one = measure(&cli, w, &sha, 1)?;
        let two = measure(&cli, w, &sha, 2)?;
        println!("{name}: 1 thread {one:.0} ops/s, 2 threads {two:.0} ops/s, ratio {:.2}", two / one);
    }
    Ok(())
}
