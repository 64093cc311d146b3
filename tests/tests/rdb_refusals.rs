//! Bad snapshot files at start: our server must refuse them whole — exit with an error that names
//! the byte offset (and the key, when one was being read) — never start half-loaded, never panic,
//! and leave the file exactly as it was. Cases: truncations at every kind of boundary, a wrong
//! checksum, an unknown value type on a named key, Redis 7.2's stream type 21, module aux data,
//! a newer RDB version, a duplicate key, a database index past `databases`; then 24 seeded
//! random byte flips (checksum recomputed) that must each either load or be refused cleanly
//! (the seed replays the flips; the file's key order follows the process's hash seeds).
//!
//! Each case starts the server binary as a process (about 0.2 s each in a debug build); the
//! whole test is bounded to about 40 processes.

use cache_server::persistence::rdb::crc64;
use cache_tests::ours::{OurServer, server_binary};
use cache_tests::port::{free_port, loopback, wait_for_port};
use cache_tests::resp::{Frame, RawConn};
use cache_tests::{ServerOpts, diff};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        // No spaces: the test wrapper binary (`cache-tests-server`) splits flag values on them.
        let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let p = std::env::temp_dir().join(format!("rdb-refusals-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Self(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A valid snapshot of a few keys of every type, written by our server.
fn valid_file() -> Vec<u8> {
    let dir = Scratch::new("source");
    let server = OurServer::start(&ServerOpts {
        directives: vec![("dir".into(), dir.path().display().to_string())],
        ..ServerOpts::default()
    });
    let mut c = RawConn::connect(server.addr()).expect("connect");
    let long = "x".repeat(300);
    let cmds: Vec<Vec<&str>> = vec![
        vec!["SET", "alpha", "1"],
        vec!["SET", "victim", "some value"],
        vec!["SET", "long", &long],
        vec!["RPUSH", "list", "a", "b", "c"],
        vec!["SADD", "set", "x", "y"],
        vec!["ZADD", "zset", "1", "a", "2", "b"],
        vec!["HSET", "hash", "f", "v"],
        vec!["XADD", "stream", "1-1", "f", "v"],
        vec!["SET", "ttl", "v", "EX", "1000"],
    ];
    for cmd in &cmds {
        assert!(!matches!(c.cmd(cmd).expect("write"), Frame::Error(_)), "{cmd:?}");
    }
    assert_eq!(c.cmd(&["SAVE"]).expect("save"), Frame::Simple(b"OK".to_vec()));
    std::fs::read(dir.path().join("dump.rdb")).expect("read the snapshot")
}

/// The file with its CRC-64 recomputed (so that the reader, not the checksum, meets the damage).
fn resealed(mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len() - 8;
    let crc = crc64(0, &b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Offset of the record of string key `key` (its type byte).
fn record_of(b: &[u8], key: &[u8]) -> usize {
    let mut needle = vec![0u8, key.len() as u8];
    needle.extend_from_slice(key);
    b.windows(needle.len()).position(|w| w == needle).expect("the key's record")
}

/// How a start on a file ended.
enum Start {
    Served,
    Refused(String),
}

/// Starts the server binary on `file` (as `dump.rdb` in a fresh directory); checks the file is
/// left unchanged.
fn start_on(file: &[u8], name: &str) -> Start {
    let dir = Scratch::new(name);
    let path = dir.path().join("dump.rdb");
    std::fs::write(&path, file).expect("write the file");
    let port = free_port();
    let mut child = Command::new(server_binary())
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--dir", &dir.path().display().to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let started = Instant::now();
    // The port is bound before the load runs: served means a PING is answered after it.
    let bound = wait_for_port(loopback(port), || matches!(child.try_wait(), Ok(None)));
    let pong = || RawConn::connect(loopback(port)).and_then(|mut c| c.cmd(&["PING"]));
    let served = bound && matches!(pong(), Ok(Frame::Simple(p)) if p == b"PONG");
    let outcome = if served {
        let _ = child.kill();
        let _ = child.wait();
        Start::Served
    } else {
        let out = child.wait_with_output().expect("wait for the server");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{name}: a refused load must exit with an error status");
        assert!(!err.contains("panicked"), "{name}: the server panicked:\n{err}");
        Start::Refused(err)
    };
    assert!(started.elapsed() < Duration::from_secs(30), "{name}: bounded");
    assert_eq!(std::fs::read(&path).expect("the file is still there"), file, "{name}: the file was changed");
    outcome
}

fn refused(file: &[u8], name: &str, expect: &[&str]) {
    match start_on(file, name) {
        Start::Served => panic!("{name}: the server started on a bad file"),
        Start::Refused(err) => {
            assert!(err.contains("refusing to load RDB file") && err.contains("byte offset"), "{name}:\n{err}");
            for e in expect {
                assert!(err.contains(e), "{name}: the error should mention {e:?}:\n{err}");
            }
        }
    }
}

#[test]
fn bad_files_are_refused_whole_and_kept() {
    let good = valid_file();
    assert!(matches!(start_on(&good, "good"), Start::Served), "the valid file loads");

    // Truncations: inside the header, the aux fields, a key record, before EOF, inside the CRC.
    let victim = record_of(&good, b"victim");
    for cut in [0, 4, 9, 20, victim + 3, good.len() - 9, good.len() - 4] {
        refused(&good[..cut], &format!("truncated at {cut}"), &[]);
    }
    refused(&good[..victim + 3], "truncated inside a key", &["truncated"]);

    let mut crc = good.clone();
    *crc.last_mut().expect("bytes") ^= 1;
    refused(&crc, "wrong checksum", &["checksum"]);

    let mut unknown = good.clone();
    unknown[victim] = 22;
    refused(&resealed(unknown), "unknown type", &["type 22", "\"victim\""]);
    let mut future = good.clone();
    future[victim] = 21;
    refused(&resealed(future), "stream listpacks 3", &["type 21", "\"victim\""]);

    let mut module = good.clone();
    module.insert(victim, 247);
    refused(&resealed(module), "module aux", &["module"]);

    let mut newer = good.clone();
    newer[5..9].copy_from_slice(b"0011");
    refused(&newer, "RDB version 11", &["version"]);

    // The victim's record twice.
    // Type, key, value: 1 + 7 + 11 bytes.
    let end = victim + 1 + 7 + 11;
    assert_eq!(&good[victim + 8..end], b"\x0asome value");
    let mut dup = good.clone();
    let rec = good[victim..end].to_vec();
    dup.splice(end..end, rec);
    refused(&resealed(dup), "duplicate key", &["duplicate", "\"victim\""]);

    let mut far = good.clone();
    let select = far.iter().position(|&b| b == 0xFE).expect("SELECTDB");
    far[select + 1] = 40;
    refused(&resealed(far), "database 40", &["database 40"]);

    // Random single-byte damage past the header: loads (the damage hit a value's bytes) or is
    // refused cleanly; never a panic, never a changed file.
    let seed = diff::seed_from_env(0x0bad);
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut loads, mut refusals) = (0, 0);
    for i in 0..24 {
        let mut b = good.clone();
        let at = rng.random_range(9..b.len() - 9);
        b[at] ^= rng.random_range(1..=255u8);
        match start_on(&resealed(b), &format!("seed {seed} flip {i} at {at}")) {
            Start::Served => loads += 1,
            Start::Refused(err) => {
                assert!(err.contains("refusing to load RDB file"), "seed {seed} flip {i} at {at}:\n{err}");
                refusals += 1;
            }
        }
    }
    eprintln!("random flips (seed {seed}): {loads} loaded, {refusals} refused");
}
