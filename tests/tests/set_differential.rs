//! Differential tests of the set commands: a seeded stream from `cache_tests::gen_set` (every set
//! command in valid and invalid forms, integer and non-integer members, conversions past
//! `set-max-intset-entries`, STORE forms over other types, SMOVE's edge cases, SINTERCARD's
//! numkeys and LIMIT, SSCAN, OBJECT ENCODING, wrong types and arity) sent to our server and to a
//! real `redis-server` 7.0, replies compared byte for byte except where Redis's own order or
//! randomness decides (`gen_set::agree`: multisets for hashtable orders, properties for
//! SRANDMEMBER, SPOP and partial SSCANs). RESP2, RESP3 and pipelined in random batches cut at
//! random boundaries; and a run that also changes `set-max-intset-entries` (0 to 512) with CONFIG
//! SET, against our server in a process of its own (the thresholds are process-wide).
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run; a mismatch prints the seed, the command's index, the
//! command and both replies.

use std::time::Duration;

use cache_tests::Subject;
use cache_tests::diff::{Delivery, Protocol, Source, Suite};
use cache_tests::gen_set::{SetGenerator, agree};

const SETS: Suite = Suite {
    label: "set differential",
    default_seed: 0x5e75_0001,
    // Per-run bound on wall time: the loop stops there even if the count is not reached.
    time_bound: Duration::from_secs(90),
};

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64, thresholds: bool) {
    let plan = SETS.plan(count, protocol, delivery, seed_offset);
    let Some(run) = plan.start_with(if thresholds { Subject::start_process } else { Subject::start }) else {
        return;
    };
    eprintln!("set differential (thresholds: {thresholds})");
    let mut generator = SetGenerator::new(run.seed(), thresholds);
    let snapshots = generator.snapshots();
    let rule = move |c: &_, a: &_, b: &_| agree(&snapshots, c, a, b);
    let outcome = run.compare(Source { next: &mut || generator.next_command(), agree: &rule });
    assert!(outcome.errors * 2 < outcome.compared.max(1), "mostly errors: {outcome:?}");
}

#[test]
fn resp2_set_sequence_matches_redis() {
    differential(10_000, Protocol::Resp2, Delivery::OneByOne, 0, false);
}

#[test]
fn resp3_set_sequence_matches_redis() {
    differential(4_000, Protocol::Resp3, Delivery::OneByOne, 3, false);
}

#[test]
fn pipelined_set_sequence_matches_redis() {
    differential(10_000, Protocol::Resp2, Delivery::Pipelined { max_batch: 64 }, 5, false);
}

/// CONFIG SET set-max-intset-entries between 0 and 512 along the stream, on both servers.
#[test]
fn intset_threshold_changes_match_redis() {
    differential(6_000, Protocol::Resp2, Delivery::OneByOne, 7, true);
}
