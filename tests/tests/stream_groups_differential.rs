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

use cache_tests::diff::{Delivery, Protocol, Source, Suite};
use cache_tests::gen_stream_groups::{GroupsGenerator, agree};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::Frame;
use cache_tests::{ServerOpts, Subject};

const GROUPS: Suite = Suite {
    label: "stream groups differential",
    default_seed: 0x0005_7ea3_0001,
    // Per-run bound on wall time: the loop stops there (reported, not failed).
    time_bound: Duration::from_secs(60),
};

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) {
    let Some(run) = GROUPS.plan(count, protocol, delivery, seed_offset).start() else { return };
    let mut generator = GroupsGenerator::new(run.seed());
    let by_property = |cmd: &_, ours: &(Frame, Vec<u8>), theirs: &(Frame, Vec<u8>)| agree(cmd, &ours.0, &theirs.0);
    run.check(Source { next: &mut || generator.next_command(), agree: &by_property });
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

/// One blocked-reader scenario on a server: the replies the blocked connection and the writer
/// see, as raw bytes, in order. The reader parks in XREADGROUP BLOCK; the writer then acts
/// (`XADD`, `XGROUP DESTROY`, `DEL`, `SET`, a write to the other key, nothing at all) and both
/// read what follows.
fn blocked_scenarios(addr: std::net::SocketAddr, resp3: bool) -> Vec<Vec<u8>> {
    use cache_tests::resp::RawConn;
    let mut log = Vec::new();
    let mut w = RawConn::connect(addr).expect("writer");
    let mut r = RawConn::connect(addr).expect("reader");
    if resp3 {
        w.cmd(&["HELLO", "3"]).expect("hello");
        r.cmd(&["HELLO", "3"]).expect("hello");
    }
    let run = |c: &mut RawConn, args: &[&str], log: &mut Vec<Vec<u8>>| {
        log.push(c.cmd_raw(args).expect("reply").1);
    };
    run(&mut w, &["FLUSHALL"], &mut log);
    // Served by a later XADD (the consumer is created then), with COUNT.
    let setups: &[&[&str]] = &[
        &["XADD", "s", "1-0", "f", "a"],
        &["XGROUP", "CREATE", "s", "g", "$"],
        &["XGROUP", "CREATE", "t", "g", "$", "MKSTREAM"],
    ];
    for args in setups {
        run(&mut w, args, &mut log);
    }
    let block = ["XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "BLOCK", "5000", "STREAMS", "s", "t", ">", ">"];
    let park = |r: &mut RawConn| {
        r.send_raw(&cache_tests::resp::encode_command(&block)).expect("send");
        // Let the server park it before the writer acts.
        std::thread::sleep(Duration::from_millis(150));
    };
    let actions: &[&[&[&str]]] = &[
        &[&["XADD", "s", "2-0", "f", "b"]],
        &[&["XADD", "t", "5-0", "f", "c"], &["XADD", "t", "6-0", "f", "d"]],
        &[&["XGROUP", "DESTROY", "s", "g"]],
        &[&["XGROUP", "CREATE", "s", "g", "$"], &["DEL", "t"]],
        &[&["XGROUP", "CREATE", "t", "g", "$", "MKSTREAM"], &["SET", "s", "x"]],
    ];
    for writes in actions {
        park(&mut r);
        for args in *writes {
            run(&mut w, args, &mut log);
        }
        log.push(r.read_frame_raw().expect("the parked reader's reply").1);
    }
    run(&mut w, &["XINFO", "GROUPS", "t"], &mut log);
    // A short BLOCK times out; inside MULTI it answers at once.
    run(&mut r, &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "50", "STREAMS", "t", ">"], &mut log);
    for args in [&["MULTI"][..], &block, &["EXEC"]] {
        run(&mut r, args, &mut log);
    }
    log
}

/// XREADGROUP BLOCK served by XADD (to either key), unblocked with `-NOGROUP` by XGROUP DESTROY
/// and with `-UNBLOCKED` by DEL or a type change, timing out, and inside MULTI: the same bytes
/// from both servers, RESP2 and RESP3.
#[test]
fn blocked_readers_match_redis() {
    let Some(reference) = RedisServer::start::<&str>(&[]) else {
        return;
    };
    let Some(subject) = Subject::start(&ServerOpts::default()) else {
        return;
    };
    for resp3 in [false, true] {
        let ours = blocked_scenarios(subject.addr(), resp3);
        let theirs = blocked_scenarios(reference.addr(), resp3);
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(
                cache_tests::resp::escape(a),
                cache_tests::resp::escape(b),
                "step {i} (resp3: {resp3}) differs: ours first, redis second"
            );
        }
        assert_eq!(ours.len(), theirs.len());
    }
}
