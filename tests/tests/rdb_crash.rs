//! A warm restart after a crash: our server (as a process) is filled with keys of every type, half
//! of them with an expiry time; a load generator keeps writing new keys while BGSAVE runs; once
//! INFO says the save completed the process is killed with SIGKILL (no shutdown save), restarted
//! on the same directory, and every key acknowledged before BGSAVE was sent must be back: the
//! preloaded ones with their type, value and exact expiry time (PEXPIRETIME), and every key the
//! generator had written by then.
//!
//! Size: 1,000,000 preloaded keys in an optimised build; 100,000 in a debug build, to stay under
//! about 60 s of wall time on a busy 2-core machine (200,000 took 52 s idle, 122 s beside a
//! release build). `RDB_CRASH_KEYS=<n>` sets it; CI runs the debug test, and the full size runs
//! with `CACHE_SERVER_BIN=target/release/cache-server RDB_CRASH_KEYS=1000000 cargo test -p
//! cache-tests --test rdb_crash` (a release server, about 3.5 minutes on a busy machine).

use cache_tests::ServerOpts;
use cache_tests::ours::OurProcess;
use cache_tests::resp::{Frame, RawConn};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

const BATCH: u64 = 1000;
/// The generator's bound: at most this many keys, whatever the save takes.
const GENERATOR_MAX: u64 = 2_000_000;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn keys() -> u64 {
    let default = if cfg!(debug_assertions) { 100_000 } else { 1_000_000 };
    std::env::var("RDB_CRASH_KEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn key(i: u64) -> Vec<u8> {
    format!("k:{i:08}").into_bytes()
}

/// The commands that build key `i`: its type follows `i % 10`, its expiry `i % 2`.
fn build(i: u64, expire_base: u64) -> Vec<Vec<Vec<u8>>> {
    let k = key(i);
    let n = i.to_string().into_bytes();
    let w = |words: &[&[u8]]| words.iter().map(|w| w.to_vec()).collect::<Vec<_>>();
    let mut cmds = vec![match i % 10 {
        4 => w(&[b"HSET", &k, b"f1", &n, b"f2", b"x"]),
        5 => w(&[b"RPUSH", &k, b"a", b"b", &n]),
        6 => w(&[b"SADD", &k, &n, b"a"]),
        7 => w(&[b"ZADD", &k, &n, b"m"]),
        8 => w(&[b"SET", &k, &n]),
        9 if i % 1000 == 9 => w(&[b"XADD", &k, b"*", b"f", &n]),
        _ => w(&[b"SET", &k, format!("value-of-{i}-padding").as_bytes()]),
    }];
    if i % 2 == 0 {
        cmds.push(w(&[b"PEXPIREAT", &k, (expire_base + i).to_string().as_bytes()]));
    }
    cmds
}

/// The reads that check key `i` and their expected replies.
fn check(i: u64, expire_base: u64) -> (Vec<Vec<Vec<u8>>>, Vec<Frame>) {
    let k = key(i);
    let n = i.to_string().into_bytes();
    let w = |words: &[&[u8]]| words.iter().map(|w| w.to_vec()).collect::<Vec<_>>();
    let bulk = |b: &[u8]| Frame::Bulk(Some(b.to_vec()));
    let (read, want, ty): (Vec<Vec<u8>>, Frame, &[u8]) = match i % 10 {
        4 => (w(&[b"HGET", &k, b"f1"]), bulk(&n), b"hash"),
        5 => (w(&[b"LINDEX", &k, b"-1"]), bulk(&n), b"list"),
        6 => (w(&[b"SISMEMBER", &k, &n]), Frame::Integer(1), b"set"),
        7 => (w(&[b"ZSCORE", &k, b"m"]), bulk(&n), b"zset"),
        8 => (w(&[b"GET", &k]), bulk(&n), b"string"),
        9 if i % 1000 == 9 => (w(&[b"XLEN", &k]), Frame::Integer(1), b"stream"),
        _ => (w(&[b"GET", &k]), bulk(format!("value-of-{i}-padding").as_bytes()), b"string"),
    };
    let expiry = if i % 2 == 0 { Frame::Integer((expire_base + i) as i64) } else { Frame::Integer(-1) };
    (vec![w(&[b"TYPE", &k]), read, w(&[b"PEXPIRETIME", &k])], vec![Frame::Simple(ty.to_vec()), want, expiry])
}

fn info(conn: &mut RawConn) -> String {
    match conn.cmd(&["INFO", "persistence"]).expect("info") {
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    }
}

fn field<'a>(info: &'a str, name: &str) -> &'a str {
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).unwrap_or("")
}

#[test]
fn bgsave_under_writes_then_kill_9_restart_keeps_every_acknowledged_key() {
    let n = keys();
    let dir = Scratch(std::env::temp_dir().join(format!("rdb-crash-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("scratch dir");
    let opts = ServerOpts { directives: vec![("dir".into(), dir.0.display().to_string())], ..ServerOpts::default() };
    let expire_base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis()
        as u64
        + 7_200_000;
    let t0 = Instant::now();
    let server = OurProcess::start(&opts);
    let addr = server.addr();

    // Preload on two connections.
    std::thread::scope(|s| {
        for part in 0..2u64 {
            s.spawn(move || {
                let mut c = RawConn::connect(addr).expect("connect");
                let mut i = part * BATCH;
                while i < n {
                    let cmds: Vec<Vec<Vec<u8>>> = (i..(i + BATCH).min(n)).flat_map(|j| build(j, expire_base)).collect();
                    for r in c.pipeline(&cmds).expect("preload") {
                        assert!(!matches!(r, Frame::Error(_)), "preload: {r:?}");
                    }
                    i += 2 * BATCH;
                }
            });
        }
    });
    let preloaded = t0.elapsed();

    // The generator: new keys in pipelined batches, counting the acknowledged ones.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let generator = std::thread::spawn({
        let (acked, stop) = (acked.clone(), stop.clone());
        move || {
            let mut c = RawConn::connect(addr).expect("connect");
            let mut j = 0;
            while !stop.load(SeqCst) && j < GENERATOR_MAX {
                let cmds: Vec<Vec<Vec<u8>>> = (j..j + 100)
                    .map(|g| vec![b"SET".to_vec(), format!("gen:{g}").into_bytes(), b"v".to_vec()])
                    .collect();
                match c.pipeline(&cmds) {
                    Ok(_) => j += 100,
                    Err(_) => break, // killed
                }
                acked.store(j, SeqCst);
            }
        }
    });
    while acked.load(SeqCst) < 1000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut admin = RawConn::connect(addr).expect("connect");
    let before_save = acked.load(SeqCst);
    let save_started = Instant::now();
    assert_eq!(admin.cmd(&["BGSAVE"]).expect("bgsave"), Frame::Simple(b"Background saving started".to_vec()));
    loop {
        let i = info(&mut admin);
        if field(&i, "rdb_bgsave_in_progress") == "0" && field(&i, "rdb_saves") == "1" {
            assert_eq!(field(&i, "rdb_last_bgsave_status"), "ok", "{i}");
            break;
        }
        assert!(save_started.elapsed() < Duration::from_secs(120), "BGSAVE did not complete: {i}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let saved = save_started.elapsed();
    let during = acked.load(SeqCst) - before_save;
    drop(server); // SIGKILL while the generator writes
    stop.store(true, SeqCst);
    generator.join().expect("generator");

    let t1 = Instant::now();
    let server = OurProcess::start(&opts);
    let mut c = RawConn::connect(server.addr()).expect("connect");
    // The port is bound before the load: the first reply comes after it.
    let Frame::Integer(size) = c.cmd(&["DBSIZE"]).expect("dbsize") else { panic!("DBSIZE") };
    let reloaded = t1.elapsed();
    assert!(
        size as u64 >= n + before_save,
        "DBSIZE {size} after the restart, {n} + {before_save} acknowledged before BGSAVE"
    );
    let mut i = 0;
    while i < n {
        let (mut cmds, mut want) = (Vec::new(), Vec::new());
        for j in i..(i + BATCH).min(n) {
            let (c, w) = check(j, expire_base);
            cmds.extend(c);
            want.extend(w);
        }
        let got = c.pipeline(&cmds).expect("check");
        for ((cmd, g), w) in cmds.iter().zip(&got).zip(&want) {
            assert_eq!(g, w, "{} after the restart", String::from_utf8_lossy(&cmd.join(&b' ')));
        }
        i += BATCH;
    }
    let mut g = 0;
    while g < before_save {
        let cmds: Vec<Vec<Vec<u8>>> = (g..(g + BATCH).min(before_save))
            .map(|x| vec![b"EXISTS".to_vec(), format!("gen:{x}").into_bytes()])
            .collect();
        for (cmd, r) in cmds.iter().zip(c.pipeline(&cmds).expect("exists")) {
            assert_eq!(r, Frame::Integer(1), "{} after the restart", String::from_utf8_lossy(&cmd[1]));
        }
        g += BATCH;
    }
    eprintln!(
        "rdb crash: {n} keys preloaded in {preloaded:?}; BGSAVE took {saved:?} while the generator wrote {during} keys; \
         restart + load {reloaded:?} ({size} keys); whole test {:?}",
        t0.elapsed()
    );
}
