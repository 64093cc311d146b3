//! Atomicity under concurrency: many clients on separate connections (threads, pipelined batches)
//! hammer the same keys with read-modify-write commands, and the end state must be exactly what a
//! serial execution gives: INCR/INCRBY/HINCRBY/INCRBYFLOAT totals, APPEND lengths, one SETNX /
//! HSETNX / MSETNX / GETDEL / `SET NX GET` winner per key. The loops are bounded in count (the
//! connection timeouts bound their time).

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};

use cache_tests::resp::{Frame, RawConn, encode_command};
use cache_tests::{ServerOpts, Subject};

const THREADS: usize = 8;
const ROUNDS: usize = 50;
const BATCH: usize = 40;

/// Runs `work(thread, conn)` on `THREADS` connections at once, released together.
fn in_parallel<T: Send + 'static>(
    addr: SocketAddr,
    work: impl Fn(usize, &mut RawConn) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let work = Arc::new(work);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (work, barrier) = (Arc::clone(&work), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut c = RawConn::connect(addr).expect("connect");
                barrier.wait();
                work(t, &mut c)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("worker thread")).collect()
}

/// Sends `cmds` as one pipelined batch and returns the replies.
fn pipeline(c: &mut RawConn, cmds: &[Vec<Vec<u8>>]) -> Vec<Frame> {
    let bytes: Vec<u8> = cmds.iter().flat_map(|cmd| encode_command(cmd)).collect();
    c.send_raw(&bytes).expect("send batch");
    cmds.iter().map(|_| c.read_frame().expect("reply")).collect()
}

fn args(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

#[test]
fn read_modify_write_commands_are_atomic() {
    let Some(s) = Subject::start(&ServerOpts::default()) else { return };
    in_parallel(s.addr(), |_, c| {
        for _ in 0..ROUNDS {
            let batch: Vec<_> = (0..BATCH)
                .map(|i| match i % 5 {
                    0 => args(&["INCR", "counter"]),
                    1 => args(&["INCRBY", "counter", "-3"]),
                    2 => args(&["HINCRBY", "hash", "n", "2"]),
                    3 => args(&["APPEND", "log", "ab"]),
                    _ => args(&["INCRBYFLOAT", "float", "0.5"]),
                })
                .collect();
            for r in pipeline(c, &batch) {
                assert!(r.error_text().is_none(), "error reply {r:?}");
            }
        }
    });
    let per_kind = i64::try_from(THREADS * ROUNDS * BATCH / 5).expect("small");
    let mut c = RawConn::connect(s.addr()).expect("connect");
    assert_eq!(
        c.cmd(&["GET", "counter"]).expect("GET"),
        Frame::Bulk(Some((per_kind - 3 * per_kind).to_string().into_bytes()))
    );
    assert_eq!(
        c.cmd(&["HGET", "hash", "n"]).expect("HGET"),
        Frame::Bulk(Some((2 * per_kind).to_string().into_bytes()))
    );
    assert_eq!(c.cmd(&["STRLEN", "log"]).expect("STRLEN"), Frame::Integer(2 * per_kind));
    assert_eq!(c.cmd(&["GET", "float"]).expect("GET"), Frame::Bulk(Some((per_kind / 2).to_string().into_bytes())));
}

#[test]
fn exactly_one_winner_per_key() {
    let Some(s) = Subject::start(&ServerOpts::default()) else { return };
    const KEYS: usize = 200;
    let mut setup = RawConn::connect(s.addr()).expect("connect");
    let seed: Vec<_> = (0..KEYS).map(|k| args(&["SET", &format!("take:{k}"), "prize"])).collect();
    pipeline(&mut setup, &seed);
    let wins = in_parallel(s.addr(), |t, c| {
        let mut wins = [0i64; 5];
        for k in 0..KEYS {
            let me = t.to_string();
            let batch = vec![
                args(&["SETNX", &format!("nx:{k}"), &me]),
                args(&["HSETNX", "hnx", &format!("f{k}"), &me]),
                args(&["MSETNX", &format!("m:{k}:a"), &me, &format!("m:{k}:b"), &me]),
                args(&["GETDEL", &format!("take:{k}")]),
                args(&["SET", &format!("setnx-get:{k}"), &me, "NX", "GET"]),
            ];
            for (i, r) in pipeline(c, &batch).into_iter().enumerate() {
                let won = match (i, r) {
                    (0..=2, Frame::Integer(n)) => n == 1,
                    (3, Frame::Bulk(Some(v))) => v == b"prize",
                    (3 | 4, Frame::Bulk(None)) => i == 4,
                    (4, Frame::Bulk(Some(_))) => false,
                    (_, other) => panic!("unexpected reply #{i}: {other:?}"),
                };
                wins[i] += i64::from(won);
            }
        }
        wins
    });
    let total = wins.iter().fold([0i64; 5], |mut acc, w| {
        for (a, x) in acc.iter_mut().zip(w) {
            *a += x;
        }
        acc
    });
    let keys = i64::try_from(KEYS).expect("small");
    assert_eq!(total, [keys; 5], "winners per command (SETNX, HSETNX, MSETNX, GETDEL, SET NX GET)");
    // MSETNX set both keys of a pair to the same winner.
    let mut c = RawConn::connect(s.addr()).expect("connect");
    for k in 0..KEYS {
        let a = c.cmd(&["GET", &format!("m:{k}:a")]).expect("GET");
        let b = c.cmd(&["GET", &format!("m:{k}:b")]).expect("GET");
        assert_eq!(a, b, "MSETNX pair {k} written by two clients");
    }
}
