//! `stall`: does a long command stall other clients? Against a running server (ours or Redis), it
//! loads `--keys` keys, then runs `--glob-clients` connections sending the CVE-2022-36021 pattern
//! (`KEYS ('*a'×20)+'*b'`, beside a 40-byte key of `a`s) and `--keys-clients` sending `KEYS *`
//! back to back, while a prober opens a fresh connection every 10 ms and times one PING. Prints
//! the PING p50 / p99 / max and how long the long commands took; with `--sigterm PID` it then
//! sends SIGTERM and times the process's exit.
//!
//! ```text
//! cargo build --release -p cache-server -p cache-bench
//! ./target/release/cache-server --port 7001 --maxmemory 2gb & \
//!   ./target/release/stall --addr 127.0.0.1:7001 --keys 1000000 --sigterm $!
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cache_tests::resp::{Frame, RawConn, encode_command};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "PING latency of fresh clients while others run long KEYS commands")]
struct Cli {
    /// The server to probe.
    #[arg(long, default_value = "127.0.0.1:6379")]
    addr: SocketAddr,
    /// Keys to load first (skipped when DBSIZE already has them).
    #[arg(long, default_value_t = 1_000_000)]
    keys: usize,
    /// Connections running the CVE-2022-36021 glob pattern.
    #[arg(long, default_value_t = 3)]
    glob_clients: usize,
    /// Connections running `KEYS *`.
    #[arg(long, default_value_t = 1)]
    keys_clients: usize,
    /// Seconds of probing.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Send SIGTERM to this pid afterwards and time its exit.
    #[arg(long)]
    sigterm: Option<u32>,
}

fn load(addr: SocketAddr, n: usize) -> Result<()> {
    let mut c = RawConn::connect(addr)?;
    let have = match c.cmd(&["DBSIZE"])? {
        Frame::Integer(k) => k as usize,
        f => bail!("DBSIZE: {f:?}"),
    };
    c.cmd(&[&b"SET"[..], &[b'a'; 40], b"v"])?;
    if have >= n {
        return Ok(());
    }
    const BATCH: usize = 1000;
    for chunk in (0..n).step_by(BATCH * 50).map(|s| s..(s + BATCH * 50).min(n)) {
        let mut pipeline = Vec::new();
        let mut sent = 0;
        for start in chunk.clone().step_by(BATCH) {
            let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
            for i in start..(start + BATCH).min(chunk.end) {
                args.push(format!("key:{i:012}").into_bytes());
                args.push(b"value-of-16-byte".to_vec());
            }
            pipeline.extend_from_slice(&encode_command(&args));
            sent += 1;
        }
        c.send_raw(&pipeline)?;
        for _ in 0..sent {
            c.read_frame()?;
        }
    }
    Ok(())
}

/// Sends `cmd` back to back until `stop`; returns each call's duration.
fn looping(addr: SocketAddr, cmd: Vec<Vec<u8>>, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let mut took = Vec::new();
        let Ok(mut c) = RawConn::connect(addr) else { return took };
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            if c.cmd(&cmd).is_err() {
                break;
            }
            took.push(t.elapsed());
        }
        took
    })
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v.get(((v.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or_default()
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let t = Instant::now();
    load(cli.addr, cli.keys).context("loading keys")?;
    println!("loaded {} keys in {:.1?}", cli.keys, t.elapsed());
    let stop = Arc::new(AtomicBool::new(false));
    let mut glob = b"*a".repeat(20);
    glob.extend_from_slice(b"*b");
    let glob_cmd = vec![b"KEYS".to_vec(), glob];
    let all_cmd = vec![b"KEYS".to_vec(), b"*".to_vec()];
    let globs: Vec<_> = (0..cli.glob_clients).map(|_| looping(cli.addr, glob_cmd.clone(), stop.clone())).collect();
    let alls: Vec<_> = (0..cli.keys_clients).map(|_| looping(cli.addr, all_cmd.clone(), stop.clone())).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut pings = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(cli.secs);
    while Instant::now() < deadline {
        let t = Instant::now();
        let mut c = RawConn::connect(cli.addr)?;
        c.cmd(&["PING"])?;
        pings.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let report = |name: &str, hs: Vec<JoinHandle<Vec<Duration>>>| {
        let mut all: Vec<Duration> = hs.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect();
        println!("{name}: {} calls, median {:.1?}, max {:.1?}", all.len(), pct(&mut all, 0.5), pct(&mut all, 1.0));
    };
    report("KEYS glob (CVE-2022-36021 shape)", globs);
    report("KEYS *", alls);
    let n = pings.len();
    println!(
        "fresh-client PING ({n}): p50 {:.2?}  p99 {:.2?}  max {:.2?}",
        pct(&mut pings, 0.5),
        pct(&mut pings, 0.99),
        pct(&mut pings, 1.0)
    );
    if let Some(pid) = cli.sigterm {
        let stop = Arc::new(AtomicBool::new(false));
        let busy: Vec<_> =
            (0..cli.keys_clients.max(1)).map(|_| looping(cli.addr, all_cmd.clone(), stop.clone())).collect();
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
        while std::path::Path::new(&format!("/proc/{pid}")).exists() && t.elapsed() < Duration::from_secs(60) {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.split(' ').nth(2) == Some("Z") {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        println!("SIGTERM to exit during KEYS *: {:.2?}", t.elapsed());
        stop.store(true, Ordering::Relaxed);
        for h in busy {
            let _ = h.join();
        }
    }
    Ok(())
}
