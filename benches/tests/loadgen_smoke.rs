//! Smoke test of the `loadgen` binary: about a second of mixed, pipelined load (after a prefill)
//! against a real `redis-server` and a real `memcached`, and against our server in-process over both
//! protocols; checks the JSON report has nonzero throughput, no errors, and only hits. No timing is
//! asserted.
//!
//! The peers come from the `cache-tests` harness: a missing one skips its test with a printed reason
//! on a laptop and fails it under `CI=true`.

use std::net::SocketAddr;
use std::process::Command;

use cache_bench::load::LoadReport;
use cache_tests::memcached::{Memcached, OurMemcached};
use cache_tests::redis_server::RedisServer;

/// Runs loadgen against `addr` for about a second and returns its parsed report.
fn loadgen(addr: SocketAddr, protocol: &str, pipeline: &str) -> LoadReport {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--json", "-s", &addr.to_string(), "-P", protocol, "--pipeline", pipeline])
        .args(["-c", "8", "-t", "2", "--keys", "2000", "--prefill", "--ratio", "1:10", "--distribution", "zipf:0.99"])
        .args(["--warmup", "200ms", "--duration", "1s", "--time-limit", "30s"])
        .output()
        .expect("run loadgen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadgen failed: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn check(r: &LoadReport) {
    assert!(r.ops > 0 && r.ops_per_sec > 0.0, "no throughput: {r:?}");
    assert_eq!(r.errors, 0, "{r:?}");
    assert_eq!(r.prefill.map(|p| (p.ops, p.errors)), Some((2000, 0)), "{r:?}");
    assert!(r.gets > 0 && r.sets > 0, "the 1:10 mix sent both kinds: {r:?}");
    assert_eq!((r.hits, r.misses), (r.gets, 0), "every key was prefilled: {r:?}");
    let l = r.latency_us;
    assert!(0.0 < l.p50 && l.p50 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, "{l:?}");
}

#[test]
fn loadgen_drives_redis_server() {
    let Some(redis) = RedisServer::start::<&str>(&[]) else { return };
    check(&loadgen(redis.addr(), "resp", "4"));
}

#[test]
fn loadgen_drives_memcached() {
    let Some(mc) = Memcached::start() else { return };
    check(&loadgen(mc.addr(), "memcache", "4"));
}

#[test]
fn loadgen_drives_our_server_over_both_protocols() {
    let ours = OurMemcached::start(cache_server::Config::default());
    check(&loadgen(ours.resp_addr(), "resp", "1"));
    check(&loadgen(ours.addr(), "memcache", "16"));
}
