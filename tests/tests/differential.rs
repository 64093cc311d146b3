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

use std::time::Duration;

use cache_tests::diff::{self, Delivery, Protocol};
use cache_tests::redis_server::RedisServer;
use cache_tests::{ServerOpts, Subject};

const DEFAULT_SEED: u64 = 0x5eed_cafe;
/// Per-run bound on wall time: the loop stops there even if the count is not reached.
const TIME_BOUND: Duration = Duration::from_secs(90);

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else {
        return;
    };
    let Some(subject) = Subject::start(&ServerOpts::default()) else {
        return;
    };
    let chosen = diff::seed_from_env(DEFAULT_SEED);
    // Each test runs its own sequence, derived from the one chosen seed.
    let seed = chosen ^ seed_offset;
    eprintln!(
        "differential {protocol:?} {delivery:?}: {} vs redis-server, seed {seed}, {count} commands",
        subject.name()
    );
    match diff::run(subject.addr(), reference.addr(), seed, count, protocol, delivery, TIME_BOUND) {
        Ok(outcome) => eprintln!("differential {protocol:?}: {outcome:?}"),
        Err(report) => {
            panic!("{report}\nreproduce with CACHE_TESTS_SEED={chosen} (this test uses it XOR {seed_offset})")
        }
    }
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
