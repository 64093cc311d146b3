//! Streams (without consumer groups) against a real `redis-server` 7.0.
//!
//! - `*_stream_matches_redis`: seeded command streams from
//!   [`cache_tests::gen_stream::StreamGenerator`] sent to both servers, every reply compared byte
//!   for byte (XADD `*` ids by shape: [`cache_tests::gen_stream::agree`]), in RESP2 one by one,
//!   RESP3, and RESP2 pipelined in random batches cut at random byte boundaries.
//! - `blocking_xread_*`: scripted scenes played on both servers over several connections, every
//!   reply recorded in the order the scene reads it and compared byte for byte, in RESP2 and RESP3:
//!   XREAD BLOCK with `$` served by an XADD from another client, with an explicit id, over several
//!   streams, with COUNT, timing out, served by MULTI/EXEC, and XREAD BLOCK inside MULTI. A scene
//!   waits for clients to be parked by polling `INFO clients` (bounded). Ids are explicit, so
//!   replies are deterministic.
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one); a mismatch prints the seed, the
//! command's index, the command and both replies.

use std::time::Duration;

use cache_tests::diff::{Delivery, Protocol, Source, Suite};
use cache_tests::gen_stream::{StreamGenerator, agree};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::Frame;
use cache_tests::scenes::{self, Step, call, send};
use cache_tests::{ServerOpts, Subject};

const STREAMS: Suite = Suite {
    label: "stream differential",
    default_seed: 0x57e4_0001,
    // Per-run bound on wall time: the loop stops there (reported, not failed).
    time_bound: Duration::from_secs(90),
};

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) {
    let Some(run) = STREAMS.plan(count, protocol, delivery, seed_offset).start() else { return };
    let mut generator = StreamGenerator::new(run.seed());
    let by_property = |cmd: &_, ours: &(Frame, Vec<u8>), theirs: &(Frame, Vec<u8>)| agree(cmd, &ours.0, &theirs.0);
    run.check(Source { next: &mut || generator.next_command(), agree: &by_property });
}

#[test]
fn resp2_stream_matches_redis() {
    differential(8_000, Protocol::Resp2, Delivery::OneByOne, 0);
}

#[test]
fn resp3_stream_matches_redis() {
    differential(4_000, Protocol::Resp3, Delivery::OneByOne, 3);
}

#[test]
fn pipelined_stream_matches_redis() {
    differential(8_000, Protocol::Resp2, Delivery::Pipelined { max_batch: 64 }, 5);
}

/// The scenes: (name, connections, steps).
fn scenes() -> Vec<(&'static str, usize, Vec<Step>)> {
    vec![
        (
            "$ waits for the next entry, added by another client",
            2,
            vec![
                call(1, "XADD s 1-1 f old"),
                send(0, "XREAD BLOCK 0 STREAMS s $"),
                Step::Parked(1),
                call(1, "XADD s 2-1 f new g w"),
                Step::Read(0),
                call(1, "XLEN s"),
            ],
        ),
        (
            "$ on a missing key, created by XADD; two readers served by one entry",
            3,
            vec![
                send(0, "XREAD BLOCK 0 STREAMS nokey $"),
                Step::Parked(1),
                send(1, "XREAD COUNT 5 BLOCK 0 STREAMS nokey 0"),
                Step::Parked(2),
                call(2, "XADD nokey 5-5 a b"),
                Step::Read(0),
                Step::Read(1),
            ],
        ),
        (
            "an explicit id past the end; an entry at or below it does not serve",
            2,
            vec![
                call(1, "XADD s 1-1 f v"),
                send(0, "XREAD BLOCK 0 STREAMS s 3-0"),
                Step::Parked(1),
                call(1, "XADD s 2-0 f v"),
                call(1, "XADD s 3-0 f v"),
                call(1, "XADD s 3-1 f v"),
                Step::Read(0),
            ],
        ),
        (
            "several streams: the one written replies alone, with COUNT",
            2,
            vec![
                call(1, "XADD a 1-0 f v"),
                call(1, "XADD b 1-0 f v"),
                send(0, "XREAD COUNT 1 BLOCK 0 STREAMS a b $ $"),
                Step::Parked(1),
                call(1, "MULTI"),
                call(1, "XADD b 2-0 x 1"),
                call(1, "XADD b 3-0 x 2"),
                call(1, "EXEC"),
                Step::Read(0),
            ],
        ),
        (
            "served by a script's XADD; an XADD trimmed to nothing serves an empty list",
            2,
            vec![
                call(1, "XADD s 1-0 f v"),
                send(0, "XREAD BLOCK 0 STREAMS s $"),
                Step::Parked(1),
                call(1, "EVAL redis.call('XADD','s','2-0','f','v') 0"),
                Step::Read(0),
                send(0, "XREAD BLOCK 0 STREAMS s $"),
                Step::Parked(1),
                call(1, "XADD s MAXLEN 0 3-0 f v"),
                Step::Read(0),
                call(1, "XLEN s"),
            ],
        ),
        (
            "ids below the last one with nothing newer alive: only a later XADD serves",
            2,
            vec![
                call(1, "XADD s 1-0 f v"),
                call(1, "XADD s 2-0 f v"),
                call(1, "XDEL s 2-0"),
                send(0, "XREAD BLOCK 0 STREAMS s 1-0"),
                Step::Parked(1),
                call(1, "XDEL s 1-0"),
                call(1, "XADD s 3-0 f v"),
                Step::Read(0),
            ],
        ),
        (
            "XSETID raising the last id wakes nobody; the next XADD serves what follows the raised id",
            2,
            vec![
                call(1, "XADD s 1-0 f v"),
                send(0, "XREAD BLOCK 0 STREAMS s $"),
                Step::Parked(1),
                call(1, "XSETID s 5-0"),
                Step::Parked(1),
                call(1, "XADD s 6-0 f v"),
                Step::Read(0),
            ],
        ),
        (
            "timeouts and their errors",
            1,
            vec![
                call(0, "XREAD BLOCK 20 STREAMS s $"),
                call(0, "XREAD BLOCK 10 COUNT 2 STREAMS s t 0 0"),
                call(0, "XREAD BLOCK -1 STREAMS s $"),
                call(0, "XREAD BLOCK 1.5 STREAMS s $"),
                call(0, "XREAD BLOCK 0 STREAMS s"),
            ],
        ),
        (
            "served by MULTI/EXEC once it ends; XREAD BLOCK inside MULTI does not wait",
            2,
            vec![
                call(1, "XADD s 1-0 f v"),
                send(0, "XREAD BLOCK 0 STREAMS s $"),
                Step::Parked(1),
                call(1, "MULTI"),
                call(1, "XREAD BLOCK 0 STREAMS s $"),
                call(1, "XADD s 2-0 f v"),
                call(1, "XREAD BLOCK 0 STREAMS s 1-0"),
                call(1, "EXEC"),
                Step::Read(0),
            ],
        ),
        (
            "data already there is served at once; a key of another type is an error",
            1,
            vec![
                call(0, "XADD s 1-0 f v"),
                call(0, "XREAD BLOCK 0 STREAMS s 0-0"),
                call(0, "SET str x"),
                call(0, "XREAD BLOCK 0 STREAMS s str $ $"),
            ],
        ),
    ]
}

fn blocking(protocol: Protocol) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    scenes::compare(reference.addr(), subject.addr(), &scenes(), protocol);
}

#[test]
fn blocking_xread_resp2() {
    blocking(Protocol::Resp2);
}

#[test]
fn blocking_xread_resp3() {
    blocking(Protocol::Resp3);
}
