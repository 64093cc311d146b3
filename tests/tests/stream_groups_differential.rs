//! Consumer groups against a real `redis-server` 7.0: seeded streams from
//! [`cache_tests::gen_stream_groups::GroupsGenerator`] sent to both servers, every reply compared
//! byte for byte (the exceptions of `cache_tests::diff`, plus the clock readings of XPENDING and
//! XINFO compared within a few seconds: [`cache_tests::gen_stream_groups::agree`]). RESP2 one by
//! one, RESP3, and RESP2 pipelined in random batches cut at random byte boundaries. Errors are
//! part of the stream (NOGROUP, BUSYGROUP, WRONGTYPE, malformed ids, unknown options, arity).
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one); a mismatch prints the seed, the
//! command's index, the command and both replies.

use std::time::Duration;

use cache_tests::diff::{self, Delivery, Protocol, Source};
use cache_tests::gen_stream_groups::{GroupsGenerator, agree};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::Frame;
use cache_tests::{ServerOpts, Subject};

const DEFAULT_SEED: u64 = 0x0005_7ea3_0001;
/// Per-run bound on wall time: the loop stops there (reported, not failed).
const TIME_BOUND: Duration = Duration::from_secs(60);

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else {
        return;
    };
    let Some(subject) = Subject::start(&ServerOpts::default()) else {
        return;
    };
    let chosen = diff::seed_from_env(DEFAULT_SEED);
    let seed = chosen ^ seed_offset;
    eprintln!("stream groups differential {protocol:?} {delivery:?}: {} vs redis-server, seed {seed}", subject.name());
    let mut generator = GroupsGenerator::new(seed);
    let mut next = || generator.next_command();
    let by_property = |cmd: &_, ours: &(Frame, Vec<u8>), theirs: &(Frame, Vec<u8>)| agree(cmd, &ours.0, &theirs.0);
    let source = Source { next: &mut next, agree: &by_property };
    match diff::run_with(subject.addr(), reference.addr(), seed, count, protocol, delivery, TIME_BOUND, source) {
        Ok(outcome) => {
            eprintln!("stream groups differential {protocol:?}: {outcome:?}");
            assert!(outcome.errors < outcome.compared, "a run of errors only tests little: {outcome:?}");
        }
        Err(report) => {
            panic!("{report}\nreproduce with CACHE_TESTS_SEED={chosen} (this test uses it XOR {seed_offset})")
        }
    }
}

#[test]
fn resp2_stream_groups_match_redis() {
    differential(6_000, Protocol::Resp2, Delivery::OneByOne, 0);
}

#[test]
fn resp3_stream_groups_match_redis() {
    differential(4_000, Protocol::Resp3, Delivery::OneByOne, 3);
}

#[test]
fn pipelined_stream_groups_match_redis() {
    differential(6_000, Protocol::Resp2, Delivery::Pipelined { max_batch: 64 }, 5);
}
