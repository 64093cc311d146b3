//! Request-parser benchmark: our resumable parser (`cache_server::frame::Parser`) against
//! `redis-protocol`'s `resp2::decode::decode_bytes_mut` (+ turning the frame into argument
//! `Bytes`, which the server needs) on the same pipelined GET/SET input. Prints ns per request and
//! the ratio; run with `cargo bench -p cache-server --bench parse`.

use bytes::{Bytes, BytesMut};
use cache_server::frame::{Limits, Parser};
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;
use std::hint::black_box;
use std::time::Instant;

fn input(requests: usize) -> BytesMut {
    let mut b = BytesMut::new();
    for i in 0..requests {
        let key = format!("key:{:08}", i % 100_000);
        if i % 10 == 0 {
            let val = "v".repeat(32);
            b.extend_from_slice(
                format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{val}\r\n", key.len(), val.len()).as_bytes(),
            );
        } else {
            b.extend_from_slice(format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes());
        }
    }
    b
}

fn ours(buf: &BytesMut) -> usize {
    let mut b = buf.clone();
    let mut p = Parser::default();
    let limits = Limits::default();
    let mut n = 0;
    while let Some(args) = p.parse(&mut b, &limits).unwrap() {
        n += black_box(args).len();
    }
    n
}

fn theirs(buf: &BytesMut) -> usize {
    let mut b = buf.clone();
    let mut n = 0;
    while let Some((frame, _, _)) = decode_bytes_mut(&mut b).unwrap() {
        let BytesFrame::Array(items) = frame else { panic!("not an array") };
        let args: Vec<Bytes> = items
            .into_iter()
            .map(|f| match f {
                BytesFrame::BulkString(b) => b,
                _ => panic!("not a bulk"),
            })
            .collect();
        n += black_box(args).len();
    }
    n
}

fn time(name: &str, requests: usize, f: impl Fn() -> usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        black_box(f());
        best = best.min(t.elapsed().as_nanos() as f64 / requests as f64);
    }
    println!("{name:>16}: {best:7.1} ns/request");
    best
}

fn main() {
    let requests = 200_000;
    let buf = input(requests);
    assert_eq!(ours(&buf), theirs(&buf));
    let a = time("cache-server", requests, || ours(&buf));
    let b = time("redis-protocol", requests, || theirs(&buf));
    println!("redis-protocol / cache-server = {:.2}x", b / a);
}
