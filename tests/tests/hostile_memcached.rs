//! Hostile input on the Memcached port, against our server only (the peer's answers to the same
//! exchanges are proven in `memcached_protocol_differential.rs`):
//! - one `get` naming a ~1 MB item 1,500 times (a 6 KB request, a 1.5 GB reply) from a client that
//!   does not read: the server's RSS must stay bounded (< 96 MB; bounds: 6 KB sent, RSS polled for
//!   3 s) while it keeps serving others; then the whole reply is read and checked (1.5 GB over
//!   loopback, well under the 10 s per-read timeout);
//! - `requirepass` guards the port: data commands, meta commands, `flush_all`, `quit` are refused
//!   before memcached-style authentication (`set` + `default <password>`), a binary request gets
//!   `Auth failure.` and a close, an oversized authentication block closes the connection (each
//!   exchange < 1 KB, 10 s read timeout);
//! - `CONFIG SET requirepass` applies to new Memcached connections;
//! - a binary request without a password is answered, not left hanging;
//! - `set k 0 0 2147483647` is a malformed line, and the bytes after it are read as commands.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use cache_tests::ServerOpts;
use cache_tests::memcached::{McConn, OurMemcached, escape};
use cache_tests::ours::OurProcess;
use cache_tests::port::{free_port, loopback, wait_for_port};
use cache_tests::resp::{Frame, RawConn};

/// Our binary with its Memcached port on; returns it and the Memcached address.
fn process(opts: ServerOpts) -> (OurProcess, SocketAddr) {
    let mc_port = free_port();
    let mut opts = opts;
    opts.directives.push(("memcached-port".to_owned(), mc_port.to_string()));
    let mut p = OurProcess::start(&opts);
    let addr = loopback(mc_port);
    assert!(wait_for_port(addr, || p.is_running()), "the memcached port did not open");
    (p, addr)
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS value")
}

fn witness(addr: SocketAddr, auth: Option<&str>) {
    let mut c = McConn::connect(addr).expect("witness connects");
    if let Some(p) = auth {
        let block = format!("default {p}");
        let req = format!("set a 0 0 {}\r\n{block}\r\n", block.len());
        assert_eq!(c.exchange(req.as_bytes(), 1).expect("auth"), b"STORED\r\n");
    }
    assert_eq!(c.request(b"set witness 7 0 5\r\nalive\r\n").expect("set"), b"STORED\r\n");
    assert_eq!(c.request(b"get witness\r\n").expect("get"), b"VALUE witness 7 5\r\nalive\r\nEND\r\n");
}

const VALUE_LEN: usize = 1_000_000;
const REPEAT: usize = 1500;
const RSS_BOUND_KB: u64 = 96 * 1024;

#[test]
fn multi_get_of_a_large_item_is_streamed_with_bounded_memory() {
    let (p, addr) = process(ServerOpts::default());
    let value: Vec<u8> = (0..VALUE_LEN).map(|i| b'a' + (i % 23) as u8).collect();
    let mut setter = McConn::connect(addr).expect("connect");
    let mut set = format!("set big 0 0 {VALUE_LEN}\r\n").into_bytes();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    assert_eq!(setter.request(&set).expect("set"), b"STORED\r\n");

    let mut request = b"get".to_vec();
    for _ in 0..REPEAT {
        request.extend_from_slice(b" big");
    }
    request.extend_from_slice(b"\r\n");
    let mut hostile = TcpStream::connect(addr).expect("connect");
    hostile.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    hostile.write_all(&request).expect("send the get");

    // Not reading: the server must stop producing once the socket buffers are full.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut peak = 0;
    while Instant::now() < deadline {
        peak = peak.max(rss_kb(p.pid()));
        assert!(peak < RSS_BOUND_KB, "server RSS reached {peak} kB (bound {RSS_BOUND_KB} kB) for one unread get");
        std::thread::sleep(Duration::from_millis(50));
    }
    witness(addr, None);
    eprintln!("peak RSS while the reply was unread: {peak} kB");

    // Now read it all and check every byte.
    let head = format!("VALUE big 0 {VALUE_LEN}\r\n").into_bytes();
    let mut expected = head.clone();
    expected.extend_from_slice(&value);
    expected.extend_from_slice(b"\r\n");
    let mut block = vec![0u8; expected.len()];
    for i in 0..REPEAT {
        hostile.read_exact(&mut block).unwrap_or_else(|e| panic!("value #{i}: {e}"));
        assert!(block == expected, "value #{i} differs");
        if i % 300 == 0 {
            peak = peak.max(rss_kb(p.pid()));
        }
    }
    let mut end = [0u8; 5];
    hostile.read_exact(&mut end).expect("END");
    assert_eq!(&end, b"END\r\n");
    assert!(peak < RSS_BOUND_KB, "server RSS reached {peak} kB while streaming");
}

/// Reads the auth exchange's one-line reply.
fn one(c: &mut McConn, req: &[u8]) -> String {
    escape(&c.exchange(req, 1).expect("exchange"))
}

#[test]
fn requirepass_guards_the_memcached_port() {
    let opts = ServerOpts { requirepass: Some("s3cret".to_owned()), ..ServerOpts::default() };
    let (_p, addr) = process(opts);
    let mut c = McConn::connect(addr).expect("connect");
    for req in [
        &b"get secret\r\n"[..],
        b"flush_all\r\n",
        b"mg secret v\r\n",
        b"ms secret 1\r\n",
        b"version\r\n",
        b"quit\r\n",
        b"set a 0 0\r\n",
        b"add a 0 0 1\r\n",
    ] {
        assert_eq!(one(&mut c, req), "CLIENT_ERROR unauthenticated\\r\\n", "{}", escape(req));
    }
    assert_eq!(one(&mut c, b"set a 0 0 13\r\ndefault wrong\r\n"), "CLIENT_ERROR authentication failure\\r\\n");
    assert_eq!(one(&mut c, b"set a 0 0 12\r\nother s3cret\r\n"), "CLIENT_ERROR authentication failure\\r\\n");
    assert_eq!(one(&mut c, b"set a 0 0 1\r\nx\r\n"), "CLIENT_ERROR bad authentication token format\\r\\n");
    assert_eq!(one(&mut c, b"set a 0 0 3\r\nxyzab"), "CLIENT_ERROR bad command line termination\\r\\n");
    assert_eq!(one(&mut c, b"get secret\r\n"), "CLIENT_ERROR unauthenticated\\r\\n");
    assert_eq!(one(&mut c, b"set a 0 0 14\r\ndefault s3cret\r\n"), "STORED\\r\\n");
    assert_eq!(c.request(b"get a\r\n").expect("get"), b"END\r\n", "the auth set stores nothing");
    witness(addr, Some("s3cret"));

    // A binary request gets a binary `Auth failure.` (status 0x20) with its opcode and opaque, then a close.
    let mut b = McConn::connect(addr).expect("connect");
    let mut get = vec![0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
    get.extend_from_slice(&[0; 8]);
    get.push(b'k');
    b.send_raw(&get).expect("send");
    let mut want = vec![0x81, 0x00, 0, 0, 0, 0, 0x00, 0x20, 0, 0, 0, 13, 0xde, 0xad, 0xbe, 0xef];
    want.extend_from_slice(&[0; 8]);
    want.extend_from_slice(b"Auth failure.");
    assert_eq!(escape(&b.read_to_close().expect("closed")), escape(&want));

    // An authentication block larger than memcached's 16 KB read buffer closes the connection.
    let mut big = McConn::connect(addr).expect("connect");
    big.send_raw(b"set a 0 0 16383\r\n").expect("send");
    assert_eq!(big.read_to_close().expect("closed"), b"");
    // So does a line of more than 2048 bytes without a newline.
    let mut long = McConn::connect(addr).expect("connect");
    long.send_raw(&[b'g'; 3000]).expect("send");
    assert_eq!(long.read_to_close().expect("closed"), b"");
    witness(addr, Some("s3cret"));
}

#[test]
fn config_set_requirepass_applies_to_new_memcached_connections() {
    let server = OurMemcached::start(cache_server::Config::default());
    let mut before = McConn::connect(server.addr()).expect("connect");
    assert_eq!(before.request(b"set k 0 0 1\r\nv\r\n").expect("set"), b"STORED\r\n");
    let mut resp = RawConn::connect(server.resp_addr()).expect("resp");
    assert_eq!(resp.cmd(&["CONFIG", "SET", "requirepass", "pw"]).expect("CONFIG SET"), Frame::Simple(b"OK".to_vec()));
    let mut after = McConn::connect(server.addr()).expect("connect");
    assert_eq!(one(&mut after, b"get k\r\n"), "CLIENT_ERROR unauthenticated\\r\\n");
    assert_eq!(one(&mut after, b"set a 0 0 10\r\ndefault pw\r\n"), "STORED\\r\\n");
    assert_eq!(after.request(b"get k\r\n").expect("get"), b"VALUE k 0 1\r\nv\r\nEND\r\n");
    // A connection made before the change keeps the access it had (as a Redis connection does).
    assert_eq!(before.request(b"get k\r\n").expect("get"), b"VALUE k 0 1\r\nv\r\nEND\r\n");
}

#[test]
fn binary_requests_are_answered_not_left_hanging() {
    let server = OurMemcached::start(cache_server::Config::default());
    let mut c = McConn::connect(server.addr()).expect("connect");
    c.set_read_timeout(Duration::from_secs(5)).expect("timeout");
    // GET "k" (a miss), then an unknown opcode 0x50 with a 1-byte body, then NOOP.
    let mut req = vec![0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, b'k'];
    req.extend_from_slice(&[0x80, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, b'z']);
    req.extend_from_slice(&[0x80, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    c.send_raw(&req).expect("send");
    let mut want = vec![0x81, 0x00, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 9, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0];
    want.extend_from_slice(b"Not found");
    want.extend_from_slice(&[0x81, 0x50, 0, 0, 0, 0, 0, 0x81, 0, 0, 0, 15, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    want.extend_from_slice(b"Unknown command");
    want.extend_from_slice(&[0x81, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    let got = c.read_bytes(want.len());
    assert!(got.is_ok(), "no binary reply within 5 s: {got:?}");
    assert_eq!(escape(&got.unwrap_or_default()), escape(&want));
}

#[test]
fn set_length_overflow_is_a_malformed_line() {
    let server = OurMemcached::start(cache_server::Config::default());
    let mut c = McConn::connect(server.addr()).expect("connect");
    c.set_read_timeout(Duration::from_secs(5)).expect("timeout");
    let got = c.request(b"set k 0 0 2147483647\r\nabc\r\nget k\r\nms k 2147483647\r\n").expect("reply");
    let want =
        "CLIENT_ERROR bad command line format\\r\\nERROR\\r\\nEND\\r\\nCLIENT_ERROR bad command line format\\r\\n";
    assert_eq!(escape(&got), want);
}
