//! Sorted sets against a real `redis-server` 7.0: seeded streams from
//! [`cache_tests::gen_zset::ZsetGenerator`] sent to both servers, every reply compared byte for
//! byte (the exceptions of `cache_tests::diff`, plus ZRANDMEMBER and the ZSCAN of a large sorted set
//! compared by property: [`cache_tests::gen_zset::agree`]). RESP2 one by one, RESP3, RESP2
//! pipelined in random batches cut at random byte boundaries, and a run that changes
//! `zset-max-listpack-entries` / `-value` with CONFIG SET as it goes.
//!
//! Sets as inputs of ZUNION & co. and OBJECT ENCODING join the streams by themselves once the
//! server under test knows SADD / OBJECT. The tests run one at a time: the listpack thresholds are
//! process-wide in our server, and the thresholds run changes them.
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one); a mismatch prints the seed, the
//! command's index, the command and both replies.

use std::sync::Mutex;
use std::time::Duration;

use cache_tests::diff::{Delivery, Protocol, Source, Suite, knows};
use cache_tests::gen_zset::{Options, ZsetGenerator, agree};
use cache_tests::peer::skip_unless;
use cache_tests::resp::Frame;

const ZSETS: Suite = Suite {
    label: "zset differential",
    default_seed: 0x25e7_0001,
    // Per-run bound on wall time: the loop stops there (reported, not failed).
    time_bound: Duration::from_secs(90),
};

/// One run at a time (see the module docs).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Whether the server under test knows `command`; the stream leaves out what it does not (a
/// failure under CI, where the server is complete).
fn feature(addr: std::net::SocketAddr, command: &str) -> bool {
    skip_unless(knows(addr, command), || {
        format!("the {command} part of the zset streams: the server under test has no {command}")
    })
}

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64, thresholds: bool) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(run) = ZSETS.plan(count, protocol, delivery, seed_offset).start() else { return };
    let ours = run.subject.addr();
    let opts = Options { sets: feature(ours, "sadd"), object: feature(ours, "object"), thresholds };
    eprintln!("zset differential: {opts:?}");
    let mut generator = ZsetGenerator::new(run.seed(), opts);
    // Membership of ZRANDMEMBER's draws is checked on the reference only when it has not run
    // further commands of a pipelined batch yet.
    let check_on = (delivery == Delivery::OneByOne).then(|| run.reference.addr());
    let by_property =
        move |cmd: &_, ours: &(Frame, Vec<u8>), theirs: &(Frame, Vec<u8>)| agree(cmd, &ours.0, &theirs.0, check_on);
    run.check(Source { next: &mut || generator.next_command(), agree: &by_property });
}

#[test]
fn resp2_zset_stream_matches_redis() {
    differential(8_000, Protocol::Resp2, Delivery::OneByOne, 0, false);
}

#[test]
fn resp3_zset_stream_matches_redis() {
    differential(4_000, Protocol::Resp3, Delivery::OneByOne, 3, false);
}

#[test]
fn pipelined_zset_stream_matches_redis() {
    differential(8_000, Protocol::Resp2, Delivery::Pipelined { max_batch: 64 }, 5, false);
}

/// CONFIG SET of the listpack thresholds mid-stream: conversions at 0, 1, 2, 4 entries and at
/// 0, 1, 4 bytes, stickiness, and *STORE results built fresh.
#[test]
fn listpack_thresholds_changed_mid_stream_match_redis() {
    differential(6_000, Protocol::Resp2, Delivery::OneByOne, 7, true);
}
