//! Bitmaps and HyperLogLogs against a real `redis-server` 7.0: seeded streams from
//! [`cache_tests::gen_bits::BitsGenerator`] sent to both servers, every reply compared byte for
//! byte — PFCOUNT estimates and the raw bytes of every HLL (GET) included — in RESP2 one by one,
//! RESP3, and RESP2 pipelined in random batches cut at random byte boundaries. A second test moves
//! HLL values both ways: PFADD runs of growing sizes (through the sparse → dense switch) in one
//! server, the bytes SET into the other, then PFCOUNT and further PFADDs compared.
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one); a mismatch prints the seed, the
//! command's index, the command and both replies.

use std::time::Duration;

use cache_tests::diff::{self, Delivery, Protocol, Source};
use cache_tests::gen_bits::BitsGenerator;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn};
use cache_tests::{ServerOpts, Subject};

const DEFAULT_SEED: u64 = 0xb175_0001;
/// Per-run bound on wall time: the loop stops there (reported, not failed).
const TIME_BOUND: Duration = Duration::from_secs(90);

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else {
        return;
    };
    let Some(subject) = Subject::start(&ServerOpts::default()) else {
        return;
    };
    let chosen = diff::seed_from_env(DEFAULT_SEED);
    let seed = chosen ^ seed_offset;
    eprintln!(
        "bits differential {protocol:?} {delivery:?}: {} vs redis-server, seed {seed}, {count} commands",
        subject.name()
    );
    let mut generator = BitsGenerator::new(seed);
    let mut next = || generator.next_command();
    let source = Source { next: &mut next, agree: &|_, _, _| false };
    let result = diff::run_with(subject.addr(), reference.addr(), seed, count, protocol, delivery, TIME_BOUND, source);
    match result {
        Ok(outcome) => {
            eprintln!("bits differential {protocol:?}: {outcome:?}");
            assert!(outcome.errors < outcome.compared, "a run of errors only tests little: {outcome:?}");
        }
        Err(report) => {
            panic!("{report}\nreproduce with CACHE_TESTS_SEED={chosen} (this test uses it XOR {seed_offset})")
        }
    }
}

#[test]
fn resp2_bits_stream_matches_redis() {
    differential(8_000, Protocol::Resp2, Delivery::OneByOne, 0);
}

#[test]
fn resp3_bits_stream_matches_redis() {
    differential(4_000, Protocol::Resp3, Delivery::OneByOne, 3);
}

#[test]
fn pipelined_bits_stream_matches_redis() {
    differential(8_000, Protocol::Resp2, Delivery::Pipelined { max_batch: 64 }, 5);
}

fn bulk(f: Frame) -> Vec<u8> {
    match f {
        Frame::Bulk(Some(b)) => b,
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn int(f: Frame) -> i64 {
    match f {
        Frame::Integer(n) => n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// PFADDs `n` elements (named after `tag`) to `key` in batches.
fn pfadd(c: &mut RawConn, key: &str, tag: &str, n: usize) {
    let names: Vec<String> = (0..n).map(|i| format!("{tag}:{i}")).collect();
    for chunk in names.chunks(500) {
        let mut args = vec!["PFADD", key];
        args.extend(chunk.iter().map(String::as_str));
        c.cmd(&args).expect("PFADD");
    }
}

/// HLL values written by one server are HLLs for the other, at every size across the sparse →
/// dense switch: same PFCOUNT, and the same bytes after more PFADDs and a PFMERGE.
#[test]
fn hll_values_move_between_redis_and_us() {
    let Some(reference) = RedisServer::start::<&str>(&[]) else {
        return;
    };
    let Some(subject) = Subject::start(&ServerOpts::default()) else {
        return;
    };
    let mut redis = RawConn::connect(reference.addr()).expect("redis");
    let mut ours = RawConn::connect(subject.addr()).expect("ours");
    for c in [&mut redis, &mut ours] {
        c.cmd(&["FLUSHALL"]).expect("FLUSHALL");
    }
    for (round, &n) in [0usize, 1, 5, 60, 200, 400, 800, 1500, 3000, 10_000, 40_000].iter().enumerate() {
        let (from, to, dir) = if round % 2 == 0 {
            (&mut redis, &mut ours, "redis→ours")
        } else {
            (&mut ours, &mut redis, "ours→redis")
        };
        let tag = format!("r{round}");
        from.cmd(&["DEL", "src"]).expect("DEL");
        from.cmd(&["PFADD", "src"]).expect("PFADD");
        pfadd(from, "src", &tag, n);
        let bytes = bulk(from.cmd(&["GET", "src"]).expect("GET"));
        to.cmd(&[b"SET".as_slice(), b"src", &bytes]).expect("SET");
        let (a, b) = (int(from.cmd(&["PFCOUNT", "src"]).unwrap()), int(to.cmd(&["PFCOUNT", "src"]).unwrap()));
        assert_eq!(a, b, "{dir}: PFCOUNT of {n} elements");
        // Both go on from the same bytes: more elements, a merge with a second HLL, and the
        // cached cardinality written back by PFCOUNT.
        for c in [&mut redis, &mut ours] {
            pfadd(c, "src", &format!("{tag}x"), n / 3 + 1);
            c.cmd(&["DEL", "other"]).unwrap();
            pfadd(c, "other", &format!("{tag}y"), n / 2 + 1);
            c.cmd(&["PFMERGE", "merged", "src", "other"]).unwrap();
            c.cmd(&["PFCOUNT", "merged"]).unwrap();
        }
        for key in ["src", "other", "merged"] {
            let (a, b) = (bulk(redis.cmd(&["GET", key]).unwrap()), bulk(ours.cmd(&["GET", key]).unwrap()));
            assert!(
                a == b,
                "round {round} ({n} elements): the bytes of {key} differ ({} vs {} bytes)",
                a.len(),
                b.len()
            );
        }
        let (a, b) = (
            int(redis.cmd(&["PFCOUNT", "src", "other"]).unwrap()),
            int(ours.cmd(&["PFCOUNT", "src", "other"]).unwrap()),
        );
        assert_eq!(a, b, "round {round}: PFCOUNT of two keys");
    }
}
