//! List differential tests: a seeded stream of list commands (`cache_tests::gen_list`: every list
//! command, option mixes valid and invalid, binary and integer-edge elements, long lists that span
//! chunks, LMOVE between lists, a string, a hash and the same key, wrong types and arity, the
//! blocking commands inside MULTI and on a key just pushed to) sent to our server and to a real
//! `redis-server` 7.0, every reply compared byte for byte. RESP2, RESP3 (after `HELLO 3`) and RESP2
//! pipelined in random batches cut at random byte boundaries; the pipelined run first sets
//! `list-max-listpack-size 3` on both servers, so chunks split and merge all the time.
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one); a mismatch prints the seed, the
//! command's index, the command and both replies. Blocking waits are not tested here.

use std::time::Duration;

use cache_tests::diff::{self, Delivery, Protocol, Source};
use cache_tests::gen_list::ListGenerator;
use cache_tests::redis_server::RedisServer;
use cache_tests::{ServerOpts, Subject};

const DEFAULT_SEED: u64 = 0x1157_5eed;
/// Per-run bound on wall time: the loop stops there even if the count is not reached.
const TIME_BOUND: Duration = Duration::from_secs(90);

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64, small_chunks: bool) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else {
        return;
    };
    let Some(subject) = Subject::start(&ServerOpts::default()) else {
        return;
    };
    let chosen = diff::seed_from_env(DEFAULT_SEED);
    let seed = chosen ^ seed_offset;
    eprintln!(
        "list differential {protocol:?} {delivery:?}: {} vs redis-server, seed {seed}, {count} commands",
        subject.name()
    );
    let mut generator = ListGenerator::new(seed);
    let mut first = small_chunks;
    let mut next = || {
        if std::mem::take(&mut first) {
            return ["CONFIG", "SET", "list-max-listpack-size", "3"].map(|s| s.as_bytes().to_vec()).to_vec();
        }
        generator.next_command()
    };
    let source = Source { next: &mut next, agree: &|_, _, _| false };
    match diff::run_with(subject.addr(), reference.addr(), seed, count, protocol, delivery, TIME_BOUND, source) {
        Ok(outcome) => {
            eprintln!("list differential {protocol:?}: {outcome:?}");
            assert!(outcome.errors < outcome.compared / 2, "mostly errors: {outcome:?}");
        }
        Err(report) => {
            panic!("{report}\nreproduce with CACHE_TESTS_SEED={chosen} (this test uses it XOR {seed_offset})")
        }
    }
}

#[test]
fn resp2_list_sequence_matches_redis() {
    differential(10_000, Protocol::Resp2, Delivery::OneByOne, 0, false);
}

#[test]
fn resp3_list_sequence_matches_redis() {
    differential(4_000, Protocol::Resp3, Delivery::OneByOne, 3, false);
}

#[test]
fn pipelined_list_sequence_with_small_chunks_matches_redis() {
    differential(10_000, Protocol::Resp2, Delivery::Pipelined { max_batch: 64 }, 5, true);
}
