//! The Memcached front end against a real `memcached` 1.6: a seeded random sequence of text-protocol
//! commands (binary-safe values, noreply, cas with per-server CAS uniques compared by equality
//! pattern, incr/decr, append/prepend, touch/gat, deletes, flush_all, malformed lines and data
//! blocks) sent to both, every reply compared byte for byte; bad input (a long line without a
//! newline, a data block of the wrong length, an oversized item, a bad exptime), each followed by
//! proof the server still serves another client; and keys shared with RESP.
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run. A missing `memcached` skips (panics under `CI=true`).

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cache_tests::memcached::{CasPattern, McConn, Memcached, OurMemcached, escape, generate};
use cache_tests::resp::{Frame, RawConn};

const DEFAULT_SEED: u64 = 0x6d63_5eed;
const COUNT: usize = 6000;

fn ours() -> OurMemcached {
    OurMemcached::start(cache_server::Config::default())
}

fn seed() -> u64 {
    match std::env::var("CACHE_TESTS_SEED") {
        Ok(s) if s == "random" => SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64),
        Ok(s) => s.parse().expect("CACHE_TESTS_SEED is a u64"),
        Err(_) => DEFAULT_SEED,
    }
}

#[test]
fn differential_text_protocol_matches_memcached() {
    let Some(peer) = Memcached::start() else { return };
    let server = ours();
    let seed = seed();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let ops = generate(seed, COUNT, now);
    let mut a = McConn::connect(server.addr()).expect("connect ours");
    let mut b = McConn::connect(peer.addr()).expect("connect memcached");
    let (mut cas_a, mut cas_b) = (CasPattern::default(), CasPattern::default());
    let started = Instant::now();
    for (i, op) in ops.iter().enumerate() {
        let (ra, rb) = (op.render(&cas_a), op.render(&cas_b));
        let got = a.request(&ra).unwrap_or_else(|e| panic!("seed {seed} #{i} {}: ours: {e}", escape(&ra)));
        let want = b.request(&rb).unwrap_or_else(|e| panic!("seed {seed} #{i} {}: memcached: {e}", escape(&rb)));
        let (got, want) = (cas_a.normalize(&got), cas_b.normalize(&want));
        if let Ok(k) = std::env::var("CACHE_TESTS_TRACE") {
            if rb.windows(k.len()).any(|w| w == k.as_bytes()) {
                eprintln!("#{i} {}\n   ours {}\n   peer {}", escape(&rb), escape(&got), escape(&want));
            }
        }
        assert_eq!(
            escape(&got),
            escape(&want),
            "seed {seed}, command #{i}: {}\nprevious: {}\n(ours first, memcached second)",
            escape(&rb),
            ops[i.saturating_sub(3)..i].iter().map(|o| escape(&o.render(&cas_b))).collect::<Vec<_>>().join(" | ")
        );
    }
    eprintln!("memcached differential: {COUNT} commands equal, seed {seed}, {:?}", started.elapsed());
}

/// Proves a fresh client is served: set, get.
fn witness(addr: SocketAddr) {
    let mut c = McConn::connect(addr).expect("witness connects");
    assert_eq!(c.request(b"set witness 7 0 5\r\nalive\r\n").expect("set"), b"STORED\r\n");
    assert_eq!(c.request(b"get witness\r\n").expect("get"), b"VALUE witness 7 5\r\nalive\r\nEND\r\n");
}

fn bad_input_cases(addr: SocketAddr) {
    // A line past 2048 bytes without a newline closes the connection.
    let mut c = McConn::connect(addr).expect("connect");
    c.send_raw(&[b'x'; 4096]).expect("send");
    assert_eq!(c.read_to_close().expect("closed"), b"");
    witness(addr);
    let cases: &[(&[u8], &[u8])] = &[
        // Wrong data length, longer and shorter: rejected, and the connection stays in step.
        (b"set k 0 0 3\r\nabcde\r\nget k\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"),
        (b"set k 0 0 5\r\nab\r\n\r\n\r\nget k\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"),
        // Bad exptime, flags, length.
        (b"set k 0 x 1\r\n", b"CLIENT_ERROR bad command line format\r\n"),
        (b"set k -1 0 1\r\n", b"CLIENT_ERROR bad command line format\r\n"),
        (b"set k 0 0 -1\r\n", b"CLIENT_ERROR bad command line format\r\n"),
        // A length whose `+ 2` overflows memcached's int: malformed, and nothing is swallowed.
        (b"set k 0 0 2147483647\r\nabc\r\nget k\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\nEND\r\n"),
        (b"ms k 2147483647\r\n", b"CLIENT_ERROR bad command line format\r\n"),
        (b"touch k x\r\n", b"CLIENT_ERROR invalid exptime argument\r\n"),
        (b"gat x k\r\n", b"CLIENT_ERROR invalid exptime argument\r\n"),
        // Negative exptime stores an already expired item.
        (b"set k 0 -1 1\r\nx\r\nget k\r\n", b"STORED\r\nEND\r\n"),
    ];
    for (input, reply) in cases {
        let mut c = McConn::connect(addr).expect("connect");
        assert_eq!(escape(&c.request(input).expect("reply")), escape(reply), "reply to {}", escape(input));
        witness(addr);
    }
    // An oversized item is refused, its data swallowed, and a `set` removes the old value.
    let mut c = McConn::connect(addr).expect("connect");
    assert_eq!(c.request(b"set big 0 0 1\r\nx\r\n").expect("set"), b"STORED\r\n");
    let mut req = b"set big 0 0 2000000\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'v', 2_000_000));
    req.extend_from_slice(b"\r\nget big\r\n");
    assert_eq!(escape(&c.request(&req).expect("reply")), escape(b"SERVER_ERROR object too large for cache\r\nEND\r\n"));
    witness(addr);
}

#[test]
fn bad_input_is_refused_and_the_server_keeps_serving() {
    bad_input_cases(ours().addr());
}

#[test]
fn bad_input_expectations_hold_for_real_memcached() {
    let Some(peer) = Memcached::start() else { return };
    bad_input_cases(peer.addr());
}

#[test]
fn keys_are_shared_with_resp() {
    let server = ours();
    let mut resp = RawConn::connect(server.resp_addr()).expect("resp");
    let mut mc = McConn::connect(server.addr()).expect("memcached");
    assert_eq!(resp.cmd(&["SET", "shared", "from-resp"]).expect("SET"), Frame::Simple(b"OK".to_vec()));
    assert_eq!(mc.request(b"get shared\r\n").expect("get"), b"VALUE shared 0 9\r\nfrom-resp\r\nEND\r\n");
    assert_eq!(mc.request(b"set shared 42 0 8\r\nfrom-mc!\r\n").expect("set"), b"STORED\r\n");
    assert_eq!(resp.cmd(&["GET", "shared"]).expect("GET"), Frame::Bulk(Some(b"from-mc!".to_vec())));
    assert_eq!(mc.request(b"incr counter 1\r\n").expect("incr"), b"NOT_FOUND\r\n");
    assert_eq!(resp.cmd(&["SET", "counter", "41"]).expect("SET"), Frame::Simple(b"OK".to_vec()));
    assert_eq!(mc.request(b"incr counter 1\r\n").expect("incr"), b"42\r\n");
    assert_eq!(resp.cmd(&["INCR", "counter"]).expect("INCR"), Frame::Integer(43));
    assert_eq!(resp.cmd(&["HSET", "h", "f", "v"]).expect("HSET"), Frame::Integer(1));
    assert_eq!(mc.request(b"get h\r\n").expect("get"), b"END\r\n");
    // A collection is a miss for Memcached, and its writes do not touch it.
    for (cmd, key) in [(["RPUSH", "l", "a"], "l"), (["SADD", "s", "a"], "s"), (["ZADD", "z", "1"], "z")] {
        let mut args = cmd.to_vec();
        if key == "z" {
            args.push("m");
        }
        assert_eq!(resp.cmd(&args).expect("push"), Frame::Integer(1));
        assert_eq!(mc.request(format!("get {key}\r\n").as_bytes()).expect("get"), b"END\r\n");
        assert_eq!(mc.request(format!("append {key} 0 0 1\r\nx\r\n").as_bytes()).expect("append"), b"NOT_STORED\r\n");
        assert_eq!(mc.request(format!("incr {key} 1\r\n").as_bytes()).expect("incr"), b"NOT_FOUND\r\n");
    }
    assert_eq!(resp.cmd(&["LLEN", "l"]).expect("LLEN"), Frame::Integer(1));
}
