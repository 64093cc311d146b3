//! A real consumer-group worker pool driving the server end to end: walrus's `ConsumerGroup`
//! (`tests/clients/stream_workers.py`, RESP2 and RESP3) creates a group over two streams, shares
//! jobs between two workers with XREADGROUP and XACK, recovers a crashed worker's jobs with XCLAIM
//! and XAUTOCLAIM (one of them deleted meanwhile), replays with SETID, reads the introspection a
//! dashboard shows, and parks a worker in XREADGROUP BLOCK until a job arrives.
//!
//! The transcript is checked first against two redis-servers (it must not depend on timing or
//! clocks), then ours against redis-server. The must-contain lines prove that real work happened:
//! the claimed jobs, the deleted one XAUTOCLAIM reports, the job that woke the blocked worker.
//!
//! walrus comes from `tests/clients/requirements.txt` (pip); without it the test prints why and
//! skips, and under `CI=true` it fails. A run takes about 1 s per server; every wait in the script
//! is bounded (the blocked read gives up after 5 s).

use std::net::SocketAddr;
use std::process::Command;

use cache_tests::ServerOpts;
use cache_tests::ours::OurServer;
use cache_tests::redis_server::RedisServer;
use cache_tests::transcript::{assert_same, require, transcript};

/// The script prints 43 steps per protocol.
const MIN_STEPS: usize = 86;

fn walrus_ready() -> bool {
    require(
        "python3 with walrus",
        "pip install -r tests/clients/requirements.txt",
        Command::new("python3").args(["-c", "import walrus"]),
    )
}

/// Runs the script against both addresses at once.
fn both(a: SocketAddr, b: SocketAddr) -> (Vec<String>, Vec<String>) {
    std::thread::scope(|s| {
        let first = s.spawn(move || transcript("python3", "stream_workers.py", &[], a));
        let second = transcript("python3", "stream_workers.py", &[], b);
        (first.join().expect("the first run"), second)
    })
}

fn assert_contains(transcript: &[String], lines: &[&str]) {
    for line in lines {
        assert!(transcript.iter().any(|l| l == line), "missing {line:?} in {transcript:#?}");
    }
}

/// Drives: two redis-servers. The transcript is deterministic: the same on both.
#[test]
fn walrus_transcript_is_deterministic_on_redis() {
    if !walrus_ready() {
        return;
    }
    let Some(one) = RedisServer::start::<&str>(&[]) else { return };
    let Some(two) = RedisServer::start::<&str>(&[]) else { return };
    let (a, b) = both(one.addr(), two.addr());
    assert_same("stream_workers.py, redis vs redis", &a, &b, MIN_STEPS);
    assert_contains(
        &a,
        &[
            "resp2 w1 autoclaims mails [b'0-0', [], [b'3-1']]",
            "resp2 pending after claims [(b'3-0', b'w1', 3), (b'4-0', b'w1', 2)]",
            "resp2 blocked worker wakes [[b'orders', [[b'100-0', [(b'order', b'late')]]]]]",
            "resp3 blocked worker wakes [(b'orders', [[[b'100-0', [(b'order', b'late')]]]])]",
            "resp3 woke in time True",
        ],
    );
}

/// Drives: our server (in-process) against redis-server.
#[test]
fn walrus_on_ours_matches_redis() {
    if !walrus_ready() {
        return;
    }
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurServer::start(&ServerOpts::default());
    let (mine, theirs) = both(ours.addr(), reference.addr());
    assert_same("stream_workers.py, ours vs redis", &mine, &theirs, MIN_STEPS);
}
