//! Differential tests: a seeded random sequence of commands from the implemented set (strings with
//! every SET option, the INCR family, APPEND, GETRANGE/SETRANGE, MGET/MSET, keys and the expiry family
//! with NX/XX/GT/LT, RENAME/RENAMENX, hashes, wrong types, wrong arity, unknown commands) over
//! binary-safe keys and values, sent to our server and to a real `redis-server`, every reply compared
//! byte for byte (exceptions are documented in `cache_tests::diff`). RESP2 over 10,000 commands, RESP3
//! (after `HELLO 3`) over a shorter sequence, and RESP2 again pipelined in random batches whose bytes
//! arrive cut at random boundaries (the server's partial-frame and batch paths).
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one); a mismatch prints the seed, the
//! command's index, the command and both replies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cache_tests::diff::{Delivery, Protocol, Source, Suite};
use cache_tests::generator::Generator;

const STRINGS: Suite = Suite {
    label: "differential",
    default_seed: 0x5eed_cafe,
    // Per-run bound on wall time: the loop stops there even if the count is not reached.
    time_bound: Duration::from_secs(90),
};

/// Each test runs its own sequence, derived from the one chosen seed by its `seed_offset`.
fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) {
    let Some(run) = STRINGS.plan(count, protocol, delivery, seed_offset).start() else { return };
    let base_unix = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs();
    let mut generator = Generator::new(run.seed(), base_unix);
    run.compare(Source { next: &mut || generator.next_command(), agree: &|_, _, _| false });
}

#[test]
fn resp2_random_sequence_matches_redis() {
    differential(10_000, Protocol::Resp2, Delivery::OneByOne, 0);
}

#[test]
fn resp3_random_sequence_matches_redis() {
    differential(2_500, Protocol::Resp3, Delivery::OneByOne, 3);
}

#[test]
fn pipelined_split_frames_match_redis() {
    differential(10_000, Protocol::Resp2, Delivery::Pipelined { max_batch: 64 }, 5);
}
