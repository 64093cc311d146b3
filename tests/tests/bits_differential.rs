//! Bitmaps and HyperLogLogs against a real `redis-server` 7.0: seeded streams from
//! [`cache_tests::gen_bits::BitsGenerator`] sent to both servers, every reply compared byte for
//! byte — PFCOUNT estimates and the raw bytes of every HLL (GET) included — in RESP2 and RESP3,
//! one by one and pipelined in random batches cut at random byte boundaries. A second test moves
//! HLL values both ways: PFADD runs of growing sizes (through the sparse → dense switch) in one
//! server, the bytes SET into the other (and moved by DUMP / RESTORE once the server under test
//! has them), then PFCOUNT and further PFADDs compared.
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one); a mismatch prints the seed, the
//! command's index, the command and both replies.

use std::time::Duration;

use cache_tests::diff::{self, Delivery, Protocol, Source, Suite};
use cache_tests::gen_bits::BitsGenerator;
use cache_tests::peer::skip_unless;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn};
use cache_tests::{ServerOpts, Subject};

const BITS: Suite = Suite {
    label: "bits differential",
    default_seed: 0xb175_0001,
    // Per-run bound on wall time: the loop stops there (reported, not failed).
    time_bound: Duration::from_secs(90),
};

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) {
    differential_with(count, protocol, delivery, seed_offset, None);
}

/// A run whose first command sets `hll-sparse-max-bytes` on both servers (when given).
fn differential_with(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64, sparse_max: Option<&str>) {
    let Some(run) = BITS.plan(count, protocol, delivery, seed_offset).start() else { return };
    if sparse_max.is_some() {
        let mut c = RawConn::connect(run.subject.addr()).expect("ours");
        let known =
            matches!(c.cmd(&["CONFIG", "GET", "hll-sparse-max-bytes"]), Ok(Frame::Array(Some(v))) if !v.is_empty());
        if !skip_unless(known, || "the server under test has no hll-sparse-max-bytes directive".into()) {
            return;
        }
    }
    let mut generator = BitsGenerator::new(run.seed());
    let setup =
        sparse_max.map(|v| ["CONFIG", "SET", "hll-sparse-max-bytes", v].map(|w| w.as_bytes().to_vec()).to_vec());
    let mut next = diff::after_setup(setup.into_iter().collect(), || generator.next_command());
    run.check(Source { next: &mut next, agree: &|_, _, _| false });
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

#[test]
fn pipelined_resp3_bits_stream_matches_redis() {
    differential(4_000, Protocol::Resp3, Delivery::Pipelined { max_batch: 32 }, 9);
}

/// Sparse HLLs turn dense much earlier (and at once with 0): the promotion threshold is exact.
#[test]
fn small_hll_sparse_max_bytes_matches_redis() {
    for (i, v) in ["0", "40", "300"].into_iter().enumerate() {
        differential_with(3_000, Protocol::Resp2, Delivery::OneByOne, 11 + i as u64, Some(v));
    }
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
    let dump_restore =
        skip_unless(diff::knows(subject.addr(), "dump") && diff::knows(subject.addr(), "restore"), || {
            "the DUMP/RESTORE leg: the server under test has no DUMP/RESTORE".into()
        });
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
        if dump_restore {
            // The same value through DUMP / RESTORE (Redis compresses big strings in the payload).
            // PFCOUNT above wrote the cached cardinality back, so the bytes are read again.
            let bytes = bulk(from.cmd(&["GET", "src"]).expect("GET"));
            let payload = bulk(from.cmd(&["DUMP", "src"]).expect("DUMP"));
            let r = to.cmd(&[b"RESTORE".as_slice(), b"restored", b"0", &payload, b"REPLACE"]).expect("RESTORE");
            assert_eq!(r, Frame::Simple(b"OK".to_vec()), "{dir}: RESTORE of {n} elements");
            assert_eq!(int(to.cmd(&["PFCOUNT", "restored"]).unwrap()), a, "{dir}: PFCOUNT after RESTORE");
            assert_eq!(bulk(to.cmd(&["GET", "restored"]).unwrap()), bytes, "{dir}: bytes after RESTORE");
        }
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
