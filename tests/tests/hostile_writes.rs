//! Writes that must cost what they change, not the size of the value they change: HSETs on a large
//! hash, APPENDs that build a large string, small APPENDs and SETRANGEs to a large string. Each
//! test states its bounds (bytes sent, seconds); the bounds are generous for a debug build on a
//! loaded 2-core machine, and the old copy-the-whole-value code misses them by far (its figures,
//! release build: one HSET on a 1M-field hash ~300 ms, building 32 MB by 64 KB APPENDs ~9 s).
//! No timed unit tests: the unit tests beside `entry.rs` count copies instead.
//! `CACHE_TESTS_SUBJECT=redis` runs the same tests against redis-server.

use std::time::{Duration, Instant};

use cache_tests::resp::{Frame, RawConn, encode_command};
use cache_tests::{ServerOpts, Subject};

/// Sends `commands` pipelined in batches of `batch` and checks every reply with `check`.
fn pipeline(conn: &mut RawConn, commands: &[Vec<Vec<u8>>], batch: usize, mut check: impl FnMut(usize, Frame)) {
    for (b, chunk) in commands.chunks(batch).enumerate() {
        let mut bytes = Vec::new();
        for c in chunk {
            bytes.extend(encode_command(c));
        }
        conn.send_raw(&bytes).expect("send batch");
        for i in 0..chunk.len() {
            check(b * batch + i, conn.read_frame().expect("reply"));
        }
    }
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// 200,000 fields (about 6 MB sent, in HSETs of 1,000 fields), then 2,000 single-field HSETs, 2,000
/// HINCRBYs and 2,000 HDELs one round trip each, within 60 s in all. The old code copied the
/// whole hash on every write (in a debug build tens of ms per write at 200k fields: minutes).
#[test]
fn writes_to_a_large_hash_cost_what_they_change() {
    const FIELDS: usize = 200_000;
    const WRITES: usize = 2_000;
    let bound = Duration::from_secs(60);
    let Some(s) = Subject::start(&ServerOpts::default()) else { return };
    let mut conn = RawConn::connect(s.addr()).expect("connect");
    let started = Instant::now();
    let loads: Vec<Vec<Vec<u8>>> = (0..FIELDS / 1000)
        .map(|b| {
            let mut c = vec![b"HSET".to_vec(), b"big".to_vec()];
            for f in b * 1000..(b + 1) * 1000 {
                c.push(format!("field:{f}").into_bytes());
                c.push(b"value".to_vec());
            }
            c
        })
        .collect();
    pipeline(&mut conn, &loads, 8, |_, f| assert_eq!(int(&f), 1000));
    let loaded = started.elapsed();
    let writes = Instant::now();
    for i in 0..WRITES {
        let f = format!("new:{i}");
        assert_eq!(int(&conn.cmd(&["HSET", "big", &f, "x"]).expect("HSET")), 1);
        assert_eq!(int(&conn.cmd(&["HINCRBY", "big", "counter", "1"]).expect("HINCRBY")), i as i64 + 1);
        assert_eq!(int(&conn.cmd(&["HDEL", "big", &format!("field:{i}")]).expect("HDEL")), 1);
        assert!(started.elapsed() < bound, "{} after {i} rounds of writes ({:?} loading)", s.name(), loaded);
    }
    let writes = writes.elapsed();
    assert_eq!(int(&conn.cmd(&["HLEN", "big"]).expect("HLEN")), (FIELDS + 1) as i64);
    assert_eq!(conn.cmd(&["HGET", "big", "new:1999"]).expect("HGET"), Frame::Bulk(Some(b"x".to_vec())));
    eprintln!("{}: {FIELDS} fields loaded in {loaded:?}; {} writes in {writes:?}", s.name(), 3 * WRITES);
}

/// 64 MiB built by 1,024 APPENDs of 64 KiB (64 MiB sent, pipelined 16 at a time), then 2,000
/// APPENDs of 10 B and 2,000 SETRANGEs of 10 B inside it, one round trip each: within 30 s in all,
/// the whole string read back once. The old code copied the string on each write (≈32 GiB of
/// copying for the build alone, then 64 MiB per small write: minutes).
#[test]
fn appends_and_setranges_to_a_large_string_cost_what_they_change() {
    const CHUNK: usize = 64 << 10;
    const CHUNKS: usize = 1024;
    const SMALL: usize = 2_000;
    let bound = Duration::from_secs(30);
    let Some(s) = Subject::start(&ServerOpts::default()) else { return };
    let mut conn = RawConn::connect(s.addr()).expect("connect");
    let started = Instant::now();
    let appends: Vec<Vec<Vec<u8>>> =
        (0..CHUNKS).map(|i| vec![b"APPEND".to_vec(), b"log".to_vec(), vec![b'a' + (i % 26) as u8; CHUNK]]).collect();
    pipeline(&mut conn, &appends, 16, |i, f| {
        assert_eq!(int(&f), ((i + 1) * CHUNK) as i64);
        assert!(started.elapsed() < bound, "{} after {i} APPENDs of 64 KiB", s.name());
    });
    let built = started.elapsed();
    let mut len = CHUNKS * CHUNK;
    for i in 0..SMALL {
        len += 10;
        assert_eq!(int(&conn.cmd(&["APPEND", "log", "0123456789"]).expect("APPEND")), len as i64);
        let offset = (i * 7919 % (CHUNKS * CHUNK)).to_string();
        assert_eq!(int(&conn.cmd(&["SETRANGE", "log", &offset, "ZZZZZZZZZZ"]).expect("SETRANGE")), len as i64);
        assert!(started.elapsed() < bound, "{} after {i} small APPENDs and SETRANGEs ({built:?} building)", s.name());
    }
    assert_eq!(int(&conn.cmd(&["STRLEN", "log"]).expect("STRLEN")), len as i64);
    let Frame::Bulk(Some(whole)) = conn.cmd(&["GET", "log"]).expect("GET") else { panic!("GET log") };
    assert_eq!(whole.len(), len);
    assert_eq!(&whole[..10], b"ZZZZZZZZZZ");
    assert_eq!(&whole[CHUNK..CHUNK + 3], b"bbb");
    assert_eq!(&whole[len - 10..], b"0123456789");
    eprintln!("{}: 64 MiB built in {built:?}; everything in {:?}", s.name(), started.elapsed());
}
