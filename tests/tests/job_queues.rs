//! Real job queues driving the server end to end: RQ (`tests/clients/job_queues.py`, RESP2 and
//! RESP3, job functions in `rq_jobs.py`), Bull (`tests/clients/job_queues.mjs`) and Celery with its
//! Redis broker and result backend (`tests/clients/celery_queue.py`, tasks in `celery_tasks.py`,
//! a worker in the script's process). They keep jobs in hashes, queues in lists (Celery: one per
//! priority), registries in sorted sets, dependencies in sets, RQ's results in streams and
//! Celery's in strings with a TTL; they run Lua scripts (Celery's chords count their parts in
//! one), publish events (Celery's results and remote control travel over pub/sub), and park their
//! workers in BLMOVE / BLPOP (RQ), BRPOPLPUSH (Bull) and BRPOP (Celery) until a job arrives.
//!
//! Each transcript is checked first against two redis-servers (it must not depend on timing, ids
//! or clocks), then ours against redis-server. The must-contain lines prove that real work
//! happened: a job's result, a failed job's error, the job that woke a blocked worker, a retried
//! task's success, a chord's sum.
//!
//! The libraries come from `tests/clients/requirements.txt` (pip) and `tests/clients/package.json`
//! (`npm ci` in that folder); `.ci/run` installs both. Without them a test prints why and skips,
//! and under `CI=true` it fails. A run takes about 8 s (RQ), 3 s (Bull) and 7 s (Celery), the two
//! servers side by side; every wait in the scripts is bounded (a worker never woken gives up after
//! 5 s; Celery's script waits at most 10 s for a result and gives up entirely after 60 s).

use std::net::SocketAddr;
use std::process::Command;

use cache_tests::ServerOpts;
use cache_tests::ours::OurServer;
use cache_tests::redis_server::RedisServer;
use cache_tests::transcript::{assert_same, clients_dir, require, transcript};

/// RQ prints 52 steps per protocol; a shorter reference means the script stopped early.
const RQ_MIN_STEPS: usize = 104;

/// Bull prints 40 steps.
const BULL_MIN_STEPS: usize = 40;

/// Celery prints 35 steps.
const CELERY_MIN_STEPS: usize = 35;

fn rq_ready() -> bool {
    require(
        "python3 with RQ",
        "pip install -r tests/clients/requirements.txt",
        Command::new("python3").args(["-c", "import redis, rq"]),
    )
}

fn celery_ready() -> bool {
    require(
        "python3 with Celery",
        "pip install -r tests/clients/requirements.txt",
        Command::new("python3").args(["-c", "import redis, celery, kombu"]),
    )
}

fn bull_ready() -> bool {
    require(
        "node with bull",
        "cd tests/clients && npm ci",
        Command::new("node").current_dir(clients_dir()).args(["-e", "require.resolve('bull')"]),
    )
}

/// Runs `program script` against both addresses at once (each run spends most of its time
/// waiting on workers, so side by side halves the wall time).
fn both(program: &str, script: &str, a: SocketAddr, b: SocketAddr) -> (Vec<String>, Vec<String>) {
    std::thread::scope(|s| {
        let first = s.spawn(move || transcript(program, script, &[], a));
        let second = transcript(program, script, &[], b);
        (first.join().expect("the first run"), second)
    })
}

fn assert_contains(transcript: &[String], lines: &[&str]) {
    for line in lines {
        assert!(transcript.iter().any(|l| l == line), "missing {line:?} in {transcript:#?}");
    }
}

/// Drives: two redis-servers. The RQ transcript is deterministic: the same on both.
#[test]
fn rq_transcript_is_deterministic_on_redis() {
    if !rq_ready() {
        return;
    }
    let Some(one) = RedisServer::start::<&str>(&[]) else { return };
    let Some(two) = RedisServer::start::<&str>(&[]) else { return };
    let (a, b) = both("python3", "job_queues.py", one.addr(), two.addr());
    assert_same("job_queues.py, redis vs redis", &a, &b, RQ_MIN_STEPS);
    assert_contains(
        &a,
        &[
            "resp2 rq return values [5, 'QUEUE!', 'succeeded on attempt 3', 'half', 2, 4, 20, None]",
            "resp2 rq exc_info ('Traceback (most recent call last):', 'ValueError: bad input 7')",
            "resp2 rq chain order [b'a', b'b', b'c']",
            "resp3 rq priorities order [b'high-1', b'high-2', b'default-1', b'low-1', b'low-2']",
            "resp3 rq requeue failed (('queued', ['once'], ['boom', 'slow']), True, 'finished', \
             'succeeded on attempt 2', ['boom', 'slow'])",
            "resp2 rq blocking wake wake ([1], True, True, 'finished', 42)",
            "resp3 rq blocking wake wake-high-wake-low ([1], True, True, 'finished', 42)",
        ],
    );
}

/// Drives: our server (in-process) against redis-server, RQ. RQ 3 stores each job's result with
/// XADD (MAXLEN ~) and reads it back with XREVRANGE, beside lists, sets, sorted sets,
/// BLMOVE/BLPOP workers and Lua.
#[test]
fn rq_on_ours_matches_redis() {
    if !rq_ready() {
        return;
    }
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurServer::start(&ServerOpts::default());
    let (mine, theirs) = both("python3", "job_queues.py", ours.addr(), reference.addr());
    assert_same("job_queues.py, ours vs redis", &mine, &theirs, RQ_MIN_STEPS);
}

/// Drives: two redis-servers. The Bull transcript is deterministic: the same on both.
#[test]
fn bull_transcript_is_deterministic_on_redis() {
    if !bull_ready() {
        return;
    }
    let Some(one) = RedisServer::start::<&str>(&[]) else { return };
    let Some(two) = RedisServer::start::<&str>(&[]) else { return };
    let (a, b) = both("node", "job_queues.mjs", one.addr(), two.addr());
    assert_same("job_queues.mjs, redis vs redis", &a, &b, BULL_MIN_STEPS);
    assert_contains(
        &a,
        &[
            "bull finished 5",
            "bull failing job \"error: bad input 7\"",
            "bull attempts with backoff \"succeeded on attempt 3\"",
            "bull resume [false,true,[\"p-high\",\"p-high-2\",\"p-mid\",\"p-low\"],true]",
            "bull delayed [[\"delayed\",\"delayed\",\"delayed\"],3,true,[\"d-100\",\"d-200\",\"d-300\"]]",
            "bull blocking wake [true,true,42]",
        ],
    );
}

/// Drives: our server (in-process) against redis-server, Bull.
#[test]
fn bull_on_ours_matches_redis() {
    if !bull_ready() {
        return;
    }
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurServer::start(&ServerOpts::default());
    let (mine, theirs) = both("node", "job_queues.mjs", ours.addr(), reference.addr());
    assert_same("job_queues.mjs, ours vs redis", &mine, &theirs, BULL_MIN_STEPS);
}

/// Drives: two redis-servers. The Celery transcript is deterministic: the same on both.
#[test]
fn celery_transcript_is_deterministic_on_redis() {
    if !celery_ready() {
        return;
    }
    let Some(one) = RedisServer::start::<&str>(&[]) else { return };
    let Some(two) = RedisServer::start::<&str>(&[]) else { return };
    let (a, b) = both("python3", "celery_queue.py", one.addr(), two.addr());
    assert_same("celery_queue.py, redis vs redis", &a, &b, CELERY_MIN_STEPS);
    assert_contains(
        &a,
        &[
            "celery priorities order (['p9', 'p0-a', 'p5', 'default', 'p3', 'p0-b', 'p7'], \
             [b'p0-a', b'default', b'p0-b', b'p3', b'p5', b'p7', b'p9'])",
            "celery apply_async ('add-1', 42, 'SUCCESS', True, True, 'celery_tasks.add', [20, 22], {})",
            "celery failure ('FAILURE', True, 'ValueError', 'bad input 7', 'ValueError: bad input 7')",
            "celery autoretry_for ('succeeded on attempt 3', 'SUCCESS', 2, b'3')",
            "celery self.retry ('succeeded on attempt 3 after 2 retries', 'SUCCESS', b'3')",
            "celery countdown (('now', 'later'), [b'now', b'later'], True)",
            "celery revoke pending ([{'tests@celery': {'ok': \"tasks {'revoked-1'} flagged as revoked\"}}], \
             'REVOKED', 'TaskRevokedError', 'revoked', [])",
            "celery chain (60, 'chain-3', 'chain-2', 6, 3)",
            "celery group ([0, 2, 4, 6, 8], True, True, 5, 5)",
            "celery chord (20, {'.j': 'none', '.t': 'none', '.s': 'none', '.d': 'none', '.c': 'string'}, \
             b'done', True)",
            "celery chord failure ('FAILURE', 'ChordError', \"Dependency chord-fail raised ValueError('in chord')\")",
        ],
    );
}

/// Drives: our server (in-process) against redis-server, Celery.
#[test]
fn celery_on_ours_matches_redis() {
    if !celery_ready() {
        return;
    }
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurServer::start(&ServerOpts::default());
    let (mine, theirs) = both("python3", "celery_queue.py", ours.addr(), reference.addr());
    assert_same("celery_queue.py, ours vs redis", &mine, &theirs, CELERY_MIN_STEPS);
}
