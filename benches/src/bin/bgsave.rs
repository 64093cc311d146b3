//! `bgsave`: snapshots of our server against redis-server 7's fork-based BGSAVE, in the same run,
//! on the same data (N keys: 16-byte keys, 32-byte string values, every third with a TTL, plus a
//! few collections): BGSAVE wall time (BGSAVE sent → INFO says done), peak extra RSS while it runs
//! (ours: the process's RSS above its level before; Redis: the parent's growth plus the fork
//! child's private pages, sampled every 2 ms from `/proc`), p99 of GETs from one client at
//! pipeline 1 idle and during BGSAVE, file size, and the load time at start (spawn → first PONG).
//! Prints a table with ratios ours / Redis. The machine may be shared: compare ratios, not
//! absolute figures.
//!
//! Run: `cargo build --release -p cache-server && cargo run --release -p cache-bench --bin
//! bgsave -- --keys 1000000` (`CACHE_SERVER_BIN` picks another server binary).

use cache_bench::load::procfs::rss_bytes;
use cache_tests::ours::OurProcess;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn};
use clap::Parser;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Compare BGSAVE with redis-server's.
#[derive(Debug, Parser)]
struct Args {
    /// Keys to load before saving.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Seconds of idle GETs measured before the save.
    #[arg(long, default_value_t = 2.0)]
    idle_secs: f64,
}

#[derive(Debug, Default, Clone)]
struct Figures {
    bgsave: Duration,
    extra_rss: u64,
    idle_p99: Duration,
    save_p99: Duration,
    save_max: Duration,
    gets_during: usize,
    file: u64,
    load: Duration,
}

fn key(i: u64) -> String {
    format!("key:{i:012}")
}

fn fill(addr: SocketAddr, n: u64) {
    std::thread::scope(|s| {
        for part in 0..2u64 {
            s.spawn(move || {
                let mut c = RawConn::connect(addr).expect("connect");
                let mut i = part * 1000;
                while i < n {
                    let mut cmds: Vec<Vec<String>> = Vec::new();
                    for j in i..(i + 1000).min(n) {
                        let v = format!("{j:032}");
                        cmds.push(match j % 50 {
                            1 => vec!["HSET".into(), key(j), "f".into(), v, "g".into(), "h".into()],
                            2 => vec!["RPUSH".into(), key(j), v, "b".into(), "c".into()],
                            3 => vec!["ZADD".into(), key(j), "1".into(), v],
                            _ => vec!["SET".into(), key(j), v],
                        });
                        if j % 3 == 0 {
                            cmds.push(vec!["EXPIRE".into(), key(j), "86400".into()]);
                        }
                    }
                    c.pipeline(&cmds).expect("fill");
                    i += 2000;
                }
            });
        }
    });
}

/// GET latencies from one connection at pipeline 1 until `stop`.
fn gets(addr: SocketAddr, n: u64, stop: &AtomicBool) -> Vec<Duration> {
    let mut c = RawConn::connect(addr).expect("connect");
    let mut lat = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while !stop.load(SeqCst) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = key(x % n);
        let t = Instant::now();
        c.cmd(&["GET", &k]).expect("get");
        lat.push(t.elapsed());
    }
    lat
}

fn p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    v.sort_unstable();
    (v[(v.len() * 99 / 100).min(v.len() - 1)], v[v.len() - 1])
}

fn info_field(c: &mut RawConn, name: &str) -> String {
    let Frame::Bulk(Some(b)) = c.cmd(&["INFO", "persistence"]).expect("info") else { panic!("INFO") };
    let text = String::from_utf8_lossy(&b).into_owned();
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::to_owned)).unwrap_or_default()
}

/// Private (copy-on-write) bytes of the fork children of `pid`.
fn children_private(pid: u32) -> u64 {
    let kids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    kids.split_whitespace()
        .filter_map(|c| std::fs::read_to_string(format!("/proc/{c}/smaps_rollup")).ok())
        .map(|s| {
            s.lines()
                .filter(|l| l.starts_with("Private_"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
                * 1024
        })
        .sum()
}

fn measure(addr: SocketAddr, pid: u32, n: u64, idle: Duration, dir: &Path) -> Figures {
    let mut f = Figures::default();
    let stop = Arc::new(AtomicBool::new(false));
    let idle_lat = std::thread::scope(|s| {
        let h = s.spawn(|| gets(addr, n, &stop));
        std::thread::sleep(idle);
        stop.store(true, SeqCst);
        h.join().expect("gets")
    });
    f.idle_p99 = p99(idle_lat).0;
    std::thread::sleep(Duration::from_millis(300));
    let base = rss_bytes(pid).expect("rss");
    let peak = AtomicU64::new(0);
    stop.store(false, SeqCst);
    let mut admin = RawConn::connect(addr).expect("connect");
    let lat = std::thread::scope(|s| {
        let getter = s.spawn(|| gets(addr, n, &stop));
        let sampler = s.spawn(|| {
            while !stop.load(SeqCst) {
                let extra = rss_bytes(pid).unwrap_or(base).saturating_sub(base) + children_private(pid);
                peak.fetch_max(extra, SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        let reply = admin.cmd(&["BGSAVE"]).expect("bgsave");
        assert!(matches!(reply, Frame::Simple(_)), "BGSAVE: {reply:?}");
        while info_field(&mut admin, "rdb_bgsave_in_progress") != "0" {
            std::thread::sleep(Duration::from_millis(2));
        }
        f.bgsave = t.elapsed();
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, SeqCst);
        sampler.join().expect("sampler");
        getter.join().expect("gets")
    });
    f.gets_during = lat.len();
    (f.save_p99, f.save_max) = p99(lat);
    f.extra_rss = peak.load(SeqCst);
    assert_eq!(info_field(&mut admin, "rdb_last_bgsave_status"), "ok");
    f.file = std::fs::metadata(dir.join("dump.rdb")).map(|m| m.len()).unwrap_or(0);
    f
}

/// Time from spawn to the first PONG (Redis answers -LOADING meanwhile; ours binds first and
/// answers after the load).
fn until_pong(addr: SocketAddr, t: Instant) -> Duration {
    loop {
        if let Ok(mut c) = RawConn::connect(addr) {
            if let Ok(Frame::Simple(p)) = c.cmd(&["PING"]) {
                if p == b"PONG" {
                    return t.elapsed();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn scratch(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("bgsave-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).expect("scratch");
    p
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args = Args::parse();
    let idle = Duration::from_secs_f64(args.idle_secs);
    let n = args.keys;
    let (ours_dir, redis_dir) = (scratch("ours"), scratch("redis"));
    let dir_opts = |d: &Path| cache_tests::ServerOpts {
        directives: vec![("dir".into(), d.display().to_string())],
        ..Default::default()
    };

    let ours = {
        let server = OurProcess::start(&dir_opts(&ours_dir));
        fill(server.addr(), n);
        let mut f = measure(server.addr(), server.pid(), n, idle, &ours_dir);
        drop(server);
        let t = Instant::now();
        let again = OurProcess::start(&dir_opts(&ours_dir));
        f.load = until_pong(again.addr(), t);
        f
    };
    let redis = {
        let flags = ["--dir".to_owned(), redis_dir.display().to_string()];
        let server = RedisServer::start(&flags).expect("redis-server is needed");
        fill(server.addr(), n);
        let mut f = measure(server.addr(), server.pid(), n, idle, &redis_dir);
        drop(server);
        let t = Instant::now();
        let again = RedisServer::start(&flags).expect("redis-server");
        f.load = until_pong(again.addr(), t);
        f
    };
    let _ = std::fs::remove_dir_all(&ours_dir);
    let _ = std::fs::remove_dir_all(&redis_dir);

    let ratio = |a: f64, b: f64| if b > 0.0 { format!("{:.2}x", a / b) } else { "-".into() };
    let d = |x: Duration| x.as_secs_f64();
    println!("BGSAVE of {n} keys (16 B keys, 32 B values, 1/3 with TTL, 6% collections); one GET client at pipeline 1");
    println!("| measure | ours | redis-server | ours / redis |");
    println!("|---|---|---|---|");
    println!(
        "| BGSAVE wall time | {} | {} | {} |",
        ms(ours.bgsave),
        ms(redis.bgsave),
        ratio(d(ours.bgsave), d(redis.bgsave))
    );
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    println!(
        "| peak extra RSS during BGSAVE | {} | {} | {} |",
        mb(ours.extra_rss),
        mb(redis.extra_rss),
        ratio(ours.extra_rss as f64, redis.extra_rss as f64)
    );
    println!(
        "| GET p99 idle | {} | {} | {} |",
        ms(ours.idle_p99),
        ms(redis.idle_p99),
        ratio(d(ours.idle_p99), d(redis.idle_p99))
    );
    println!(
        "| GET p99 during BGSAVE | {} | {} | {} |",
        ms(ours.save_p99),
        ms(redis.save_p99),
        ratio(d(ours.save_p99), d(redis.save_p99))
    );
    println!(
        "| GET max during BGSAVE | {} | {} | {} |",
        ms(ours.save_max),
        ms(redis.save_max),
        ratio(d(ours.save_max), d(redis.save_max))
    );
    println!("| GETs served during BGSAVE | {} | {} | |", ours.gets_during, redis.gets_during);
    println!("| file size | {} | {} | {} |", mb(ours.file), mb(redis.file), ratio(ours.file as f64, redis.file as f64));
    println!(
        "| load at start (spawn → PONG) | {} | {} | {} |",
        ms(ours.load),
        ms(redis.load),
        ratio(d(ours.load), d(redis.load))
    );
}
