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

use cache_tests::diff::{self, Delivery, Protocol, Source, Suite};
use cache_tests::gen_list::ListGenerator;

const LISTS: Suite = Suite {
    label: "list differential",
    default_seed: 0x1157_5eed,
    // Per-run bound on wall time: the loop stops there even if the count is not reached.
    time_bound: Duration::from_secs(90),
};

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64, small_chunks: bool) {
    let Some(run) = LISTS.plan(count, protocol, delivery, seed_offset).start() else { return };
    let mut generator = ListGenerator::new(run.seed());
    let setup = ["CONFIG", "SET", "list-max-listpack-size", "3"].map(|s| s.as_bytes().to_vec()).to_vec();
    let mut next = diff::after_setup(if small_chunks { vec![setup] } else { vec![] }, || generator.next_command());
    let outcome = run.compare(Source { next: &mut next, agree: &|_, _, _| false });
    assert!(outcome.errors < outcome.compared / 2, "mostly errors: {outcome:?}");
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
