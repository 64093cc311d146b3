//! Real libraries that need transactions and Lua scripts, run by `tests/clients/libraries.py`:
//! redis-py's `Lock`, the `limits` rate limiters (fixed window, sliding window counter, moving
//! window on a list), redis-py pipelines with `transaction=True`, `WATCH`, and
//! `r.transaction(func, *watches)` retried after a second client's write. RESP2 and RESP3.
//!
//! The transcript is checked first against two redis-servers (it must not depend on timing or
//! tokens), then ours against redis-server. Job queues have their own test (`job_queues.rs`).
//!
//! The libraries come from `tests/clients/requirements.txt` (`.ci/run` installs it). Without them
//! a test prints why and skips, and under `CI=true` it fails.

use std::process::Command;

use cache_tests::ServerOpts;
use cache_tests::ours::OurServer;
use cache_tests::redis_server::RedisServer;
use cache_tests::transcript::{assert_same, require, transcript};

/// Steps per protocol are about 60; a shorter reference means the script stopped early.
const MIN_STEPS: usize = 110;

fn ready() -> bool {
    require(
        "python3 with redis-py and limits",
        "pip install -r tests/clients/requirements.txt",
        Command::new("python3").args(["-c", "import redis, limits"]),
    )
}

/// Runs libraries.py against both addresses at once (the script sleeps past short expiries, so
/// running the two side by side halves the wall time).
fn both(a: std::net::SocketAddr, b: std::net::SocketAddr) -> (Vec<String>, Vec<String>) {
    std::thread::scope(|s| {
        let first = s.spawn(move || transcript("python3", "libraries.py", &[], a));
        let second = transcript("python3", "libraries.py", &[], b);
        (first.join().expect("the first run"), second)
    })
}

/// Drives: two redis-servers. The transcript is deterministic: the same on both.
#[test]
fn libraries_transcript_is_deterministic_on_redis() {
    if !ready() {
        return;
    }
    let Some(one) = RedisServer::start::<&str>(&[]) else { return };
    let Some(two) = RedisServer::start::<&str>(&[]) else { return };
    let (a, b) = both(one.addr(), two.addr());
    assert_same("libraries.py, redis vs redis", &a, &b, MIN_STEPS);
    for line in [
        "resp2 lock release not owner \"LockNotOwnedError: Cannot release a lock that's no longer owned\"",
        "resp3 fixed hits [True, True, True, False]",
        "resp3 tx watch conflict 'WatchError: Watched variable changed.'",
        "resp3 tx transaction retry (105, [(100, 0), (105, 0)], [b'85', b'20'])",
    ] {
        assert!(a.iter().any(|l| l == line), "missing {line:?} in {a:#?}");
    }
}

/// Drives: our server (in-process) against redis-server.
#[test]
fn libraries_on_ours_match_redis() {
    if !ready() {
        return;
    }
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurServer::start(&ServerOpts::default());
    let (mine, theirs) = both(ours.addr(), reference.addr());
    assert_same("libraries.py, ours vs redis", &mine, &theirs, MIN_STEPS);
}
