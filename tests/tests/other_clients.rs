//! Client libraries of other languages against our server: redis-py (RESP2 and RESP3), ioredis and
//! node-redis (RESP2 and RESP3) over RESP, pymemcache over the Memcached protocol. Each script in
//! `tests/clients/` prints a transcript (one line per step: a command and what the library returned,
//! or the error it raised); the same script runs against our server and against a real
//! `redis-server` / `memcached`, and the transcripts must be equal line for line.
//!
//! The libraries come from `tests/clients/requirements.txt` (pip) and `tests/clients/package.json`
//! (`npm ci` in that folder); `.ci/run` installs both. Without them a test prints why and skips, and
//! under `CI=true` it fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use cache_tests::memcached::{Memcached, OurMemcached};
use cache_tests::peer::in_ci;
use cache_tests::redis_server::RedisServer;

/// Wall-time bound for one script run, in seconds (passed to `timeout`).
const CHILD_TIMEOUT_SECS: &str = "120";

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// `true` when `probe` succeeds; otherwise prints why the test skips (or panics under CI).
fn require(what: &str, install: &str, probe: &mut Command) -> bool {
    if probe.output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    let reason = format!("{what} is not available; install it with `{install}`");
    assert!(!in_ci(), "CI=true and {reason}");
    eprintln!("SKIPPED: {reason}");
    false
}

fn python_ready() -> bool {
    require(
        "python3 with redis-py and pymemcache",
        "pip install -r tests/clients/requirements.txt",
        Command::new("python3").args(["-c", "import redis, pymemcache"]),
    )
}

fn node_ready() -> bool {
    require(
        "node with ioredis and node-redis",
        "cd tests/clients && npm ci",
        Command::new("node")
            .current_dir(clients_dir())
            .args(["-e", "require.resolve('ioredis'); require.resolve('redis')"]),
    )
}

/// Runs `program script args… HOST PORT` and returns its transcript lines.
fn transcript(program: &str, script: &str, args: &[&str], addr: SocketAddr) -> Vec<String> {
    let out = Command::new("timeout")
        .arg(CHILD_TIMEOUT_SECS)
        .arg(program)
        .arg(clients_dir().join(script))
        .args(args)
        .args([addr.ip().to_string(), addr.port().to_string()])
        .current_dir(clients_dir())
        .output()
        .expect("spawn the client script under timeout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} {args:?} against {addr} failed ({}):\n{stderr}", out.status);
    String::from_utf8(out.stdout).expect("utf-8 transcript").lines().map(str::to_owned).collect()
}

/// Asserts equal transcripts, listing every differing step.
fn assert_same(what: &str, ours: &[String], reference: &[String], min_steps: usize) {
    assert!(reference.len() >= min_steps, "{what}: the reference transcript is too short: {reference:#?}");
    let diffs: Vec<String> = ours
        .iter()
        .zip(reference)
        .filter(|(o, r)| o != r)
        .map(|(o, r)| format!("  ours:      {o}\n  reference: {r}"))
        .collect();
    assert!(
        diffs.is_empty() && ours.len() == reference.len(),
        "{what}: {} of {} steps differ (ours has {} lines):\n{}",
        diffs.len(),
        reference.len(),
        ours.len(),
        diffs.join("\n")
    );
}

#[test]
fn redis_py_resp2_and_resp3_match_redis() {
    if !python_ready() {
        return;
    }
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurMemcached::start(cache_server::Config::default());
    let theirs = transcript("python3", "python_clients.py", &["redis"], reference.addr());
    let mine = transcript("python3", "python_clients.py", &["redis"], ours.resp_addr());
    assert_same("redis-py", &mine, &theirs, 40);
    assert!(mine.contains(&"resp3 get b'Ada'".to_owned()), "{mine:#?}");
}

#[test]
fn pymemcache_matches_memcached() {
    if !python_ready() {
        return;
    }
    let Some(reference) = Memcached::start() else { return };
    let ours = OurMemcached::start(cache_server::Config::default());
    let theirs = transcript("python3", "python_clients.py", &["memcached"], reference.addr());
    let mine = transcript("python3", "python_clients.py", &["memcached"], ours.addr());
    assert_same("pymemcache", &mine, &theirs, 14);
    assert!(mine.contains(&"mc get b'v'".to_owned()), "{mine:#?}");
}

#[test]
fn ioredis_and_node_redis_match_redis() {
    if !node_ready() {
        return;
    }
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurMemcached::start(cache_server::Config::default());
    let theirs = transcript("node", "node_clients.mjs", &[], reference.addr());
    let mine = transcript("node", "node_clients.mjs", &[], ours.resp_addr());
    assert_same("ioredis / node-redis", &mine, &theirs, 30);
    assert!(mine.contains(&"node-redis3 get \"Ada\"".to_owned()), "{mine:#?}");
}
