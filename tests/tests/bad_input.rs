//! Bad and hostile input over raw TCP: malformed frames, negative and huge bulk lengths, too many
//! arguments, a 512 MB + 1 bulk header (an error, and the server must not allocate it), a half-sent
//! frame then a disconnect, a client that never reads its replies, HTTP on the port, unauthenticated
//! commands with `requirepass`, inline commands, and the exact unknown-command and wrong-arity errors.
//! After each case another client must still be served (`witness`). The expected bytes are Redis
//! 7.0's; `CACHE_TESTS_SUBJECT=redis` runs this file against a real redis-server to prove them.

use std::net::SocketAddr;

use cache_tests::resp::{Frame, RawConn, encode_command, escape};
use cache_tests::subject::rss_bytes;
use cache_tests::{ServerOpts, Subject};

fn ok() -> Frame {
    Frame::Simple(b"OK".to_vec())
}

/// Proves the server still serves a fresh client: PING, SET, GET on a new connection.
fn witness(addr: SocketAddr, password: Option<&str>) {
    let mut c = RawConn::connect(addr).expect("witness connects");
    if let Some(p) = password {
        assert_eq!(c.cmd(&["AUTH", p]).expect("AUTH"), ok());
    }
    assert_eq!(c.cmd(&["PING"]).expect("PING"), Frame::Simple(b"PONG".to_vec()));
    assert_eq!(c.cmd(&["SET", "witness", "alive"]).expect("SET"), ok());
    assert_eq!(c.cmd(&["GET", "witness"]).expect("GET"), Frame::Bulk(Some(b"alive".to_vec())));
}

/// Sends `input` on a fresh connection and expects exactly `reply` and then the connection closed.
fn expect_reply_then_close(addr: SocketAddr, input: &[u8], reply: &[u8]) {
    let mut c = RawConn::connect(addr).expect("connect");
    c.send_raw(input).expect("send");
    let got = c.read_to_close().unwrap_or_else(|e| panic!("{}: not closed: {e}", escape(input)));
    assert_eq!(escape(&got), escape(reply), "reply to {}", escape(input));
}

fn start(opts: &ServerOpts) -> Option<Subject> {
    Subject::start(opts)
}

#[test]
fn malformed_frames_get_protocol_errors_and_a_close() {
    let Some(s) = start(&ServerOpts::default()) else { return };
    let cases: &[(&[u8], &[u8])] = &[
        (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*2\r\n$3\r\nGET\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
        (b"SET \"a b\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        // Replies to the commands before the bad frame still arrive, in order.
        (b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n", b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"),
    ];
    for (input, reply) in cases {
        expect_reply_then_close(s.addr(), input, reply);
        witness(s.addr(), None);
    }
}

#[test]
fn negative_and_huge_lengths() {
    let Some(s) = start(&ServerOpts::default()) else { return };
    let bulk = b"-ERR Protocol error: invalid bulk length\r\n";
    let multi = b"-ERR Protocol error: invalid multibulk length\r\n";
    let cases: &[(&[u8], &[u8])] = &[
        (b"*1\r\n$-5\r\n", bulk),
        (b"*1\r\n$-1\r\n", bulk),
        (b"*2\r\n$3\r\nGET\r\n$536870913\r\n", bulk),
        (b"*2\r\n$3\r\nGET\r\n$9223372036854775807\r\n", bulk),
        (b"*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n", bulk),
        (b"*2147483648\r\n", multi),
        (b"*99999999999999999999\r\n", multi),
    ];
    for (input, reply) in cases {
        expect_reply_then_close(s.addr(), input, reply);
        witness(s.addr(), None);
    }
    // A multibulk count of zero or below is an empty request: ignored, and the connection goes on.
    let mut c = RawConn::connect(s.addr()).expect("connect");
    c.send_raw(b"*0\r\n*-5\r\n*1\r\n$4\r\nPING\r\n").expect("send");
    assert_eq!(c.read_frame().expect("reply"), Frame::Simple(b"PONG".to_vec()));
}

#[test]
fn oversized_bulk_header_is_refused_without_allocating() {
    // Its own process, so its RSS can be read.
    let Some(s) = Subject::start_process(&ServerOpts::default()) else { return };
    let pid = s.pid().expect("a process subject has a pid");
    witness(s.addr(), None);
    let before = rss_bytes(pid).expect("read VmRSS");
    // 512 MB + 1: refused at once.
    expect_reply_then_close(
        s.addr(),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    // Exactly 512 MB is allowed, but only a few bytes of it ever arrive: the server must wait for
    // them without committing 512 MB of memory, and keep serving others meanwhile.
    let mut slow = RawConn::connect(s.addr()).expect("connect");
    slow.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nabcdef").expect("send");
    witness(s.addr(), None);
    let during = rss_bytes(pid).expect("read VmRSS");
    drop(slow);
    witness(s.addr(), None);
    let limit = 64 << 20;
    assert!(
        during < before + limit,
        "{}: RSS grew from {before} to {during} bytes after a 512 MB bulk header (limit +{limit})",
        s.name()
    );
}

#[test]
fn too_many_arguments() {
    let Some(s) = start(&ServerOpts::default()) else { return };
    // Over INT_MAX arguments: refused.
    expect_reply_then_close(s.addr(), b"*2147483648\r\n", b"-ERR Protocol error: invalid multibulk length\r\n");
    // A large but legal request: DEL with 100,000 keys.
    let mut args: Vec<Vec<u8>> = vec![b"DEL".to_vec()];
    args.extend((0..100_000).map(|i| format!("key:{i}").into_bytes()));
    let mut c = RawConn::connect(s.addr()).expect("connect");
    assert_eq!(c.cmd(&args).expect("DEL reply"), Frame::Integer(0));
    // A wrong count for a known command is an arity error, and the connection stays usable.
    let mut args: Vec<Vec<u8>> = vec![b"GET".to_vec()];
    args.extend((0..1000).map(|i| format!("k{i}").into_bytes()));
    assert_eq!(
        c.cmd(&args).expect("GET reply"),
        Frame::Error(b"ERR wrong number of arguments for 'get' command".to_vec())
    );
    assert_eq!(c.cmd(&["PING"]).expect("PING"), Frame::Simple(b"PONG".to_vec()));
    witness(s.addr(), None);
}

#[test]
fn half_sent_frames_then_disconnect() {
    let Some(s) = start(&ServerOpts::default()) else { return };
    let partials: &[&[u8]] = &[
        b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc",
        b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n",
        b"*3\r\n$3\r\nSE",
        b"*3",
        b"SET half inline-without-newline",
    ];
    for p in partials {
        let mut c = RawConn::connect(s.addr()).expect("connect");
        c.send_raw(p).expect("send");
        drop(c);
        witness(s.addr(), None);
    }
    // None of the partial commands ran.
    let mut c = RawConn::connect(s.addr()).expect("connect");
    assert_eq!(c.cmd(&["EXISTS", "half"]).expect("EXISTS"), Frame::Integer(0));
}

#[test]
fn a_client_that_never_reads_does_not_stall_others() {
    let Some(s) = start(&ServerOpts::default()) else { return };
    let mut setter = RawConn::connect(s.addr()).expect("connect");
    let big = vec![b'x'; 1 << 20];
    assert_eq!(setter.cmd(&[&b"SET"[..], b"big", &big]).expect("SET big"), ok());
    // 64 pipelined GETs of 1 MB (64 MB of replies) that this client never reads. The requests are
    // small enough to fit in the socket buffers, so sending them cannot block; the count bounds it.
    let mut lazy = RawConn::connect(s.addr()).expect("connect");
    let one = encode_command(&["GET", "big"]);
    let requests: Vec<u8> = one.iter().copied().cycle().take(one.len() * 64).collect();
    lazy.send_raw(&requests).expect("send pipelined GETs");
    for _ in 0..3 {
        witness(s.addr(), None);
    }
    assert_eq!(setter.cmd(&["STRLEN", "big"]).expect("STRLEN"), Frame::Integer(1 << 20));
    drop(lazy);
    witness(s.addr(), None);
}

#[test]
fn http_requests_close_the_connection() {
    let Some(s) = start(&ServerOpts::default()) else { return };
    expect_reply_then_close(s.addr(), b"POST / HTTP/1.1\r\nHost: localhost\r\n\r\n", b"");
    expect_reply_then_close(s.addr(), b"POST /api HTTP/1.1\r\n", b"");
    witness(s.addr(), None);
    // A GET request line is an (invalid) inline GET; the `Host:` line then closes the connection.
    // Redis drops the queued error reply along with the connection; the close is what matters.
    let mut c = RawConn::connect(s.addr()).expect("connect");
    c.send_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl\r\n\r\n").expect("send");
    let got = c.read_to_close().expect("connection closed after Host:");
    assert!(got.is_empty() || got.starts_with(b"-"), "sent before closing: {}", escape(&got));
    witness(s.addr(), None);
}

#[test]
fn requirepass_refuses_unauthenticated_commands() {
    let opts = ServerOpts { requirepass: Some("s3cret".to_owned()), ..ServerOpts::default() };
    let Some(s) = start(&opts) else { return };
    let mut c = RawConn::connect(s.addr()).expect("connect");
    let noauth = Frame::Error(b"NOAUTH Authentication required.".to_vec());
    assert_eq!(c.cmd(&["GET", "a"]).expect("GET"), noauth);
    assert_eq!(c.cmd(&["SET", "a", "b"]).expect("SET"), noauth);
    assert_eq!(c.cmd(&["PING"]).expect("PING"), noauth);
    // Redis looks the command up before checking authentication.
    assert_eq!(
        c.cmd(&["NOSUCHCOMMAND"]).expect("unknown"),
        Frame::Error(b"ERR unknown command 'NOSUCHCOMMAND', with args beginning with: ".to_vec())
    );
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]).expect("AUTH wrong"),
        Frame::Error(b"WRONGPASS invalid username-password pair or user is disabled.".to_vec())
    );
    assert_eq!(
        c.cmd(&["HELLO", "3"]).expect("HELLO"),
        Frame::Error(
            b"NOAUTH HELLO must be called with the client already authenticated, otherwise the \
              HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
              the RESP protocol version at the same time"
                .to_vec()
        )
    );
    assert_eq!(c.cmd(&["AUTH", "s3cret"]).expect("AUTH"), ok());
    assert_eq!(c.cmd(&["SET", "a", "b"]).expect("SET"), ok());
    assert_eq!(c.cmd(&["GET", "a"]).expect("GET"), Frame::Bulk(Some(b"b".to_vec())));

    // HELLO with AUTH authenticates and switches protocol in one step.
    let mut h = RawConn::connect(s.addr()).expect("connect");
    let hello = h.cmd(&["HELLO", "3", "AUTH", "default", "s3cret"]).expect("HELLO AUTH");
    assert!(matches!(hello, Frame::Map(_)), "HELLO 3 AUTH replied {hello:?}");
    assert_eq!(h.cmd(&["GET", "a"]).expect("GET"), Frame::Bulk(Some(b"b".to_vec())));
    assert_eq!(h.cmd(&["GET", "nope"]).expect("GET"), Frame::Null);

    // Before AUTH the protocol limits are tighter: at most 10 arguments, 16 KB bulks.
    expect_reply_then_close(s.addr(), b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n");
    expect_reply_then_close(
        s.addr(),
        b"*2\r\n$3\r\nGET\r\n$16385\r\n",
        b"-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    witness(s.addr(), Some("s3cret"));
}

#[test]
fn unknown_commands_and_wrong_arity_errors_are_exact() {
    let Some(s) = start(&ServerOpts::default()) else { return };
    let long = "a".repeat(200);
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["FOO"], "ERR unknown command 'FOO', with args beginning with: ".into()),
        (vec!["foo", "a", "b"], "ERR unknown command 'foo', with args beginning with: 'a' 'b' ".into()),
        (vec!["FOO", &long], format!("ERR unknown command 'FOO', with args beginning with: '{}' ", "a".repeat(128))),
        (vec!["FOO", "a\r\nb"], "ERR unknown command 'FOO', with args beginning with: 'a  b' ".into()),
        (vec!["get"], "ERR wrong number of arguments for 'get' command".into()),
        (vec!["GET", "a", "b"], "ERR wrong number of arguments for 'get' command".into()),
        (vec!["SeT", "k"], "ERR wrong number of arguments for 'set' command".into()),
        (vec!["HSET", "h", "f"], "ERR wrong number of arguments for 'hset' command".into()),
        (vec!["MSET", "a"], "ERR wrong number of arguments for 'mset' command".into()),
        (vec!["EXPIRE", "k"], "ERR wrong number of arguments for 'expire' command".into()),
        (vec!["SET", "k", "v", "EX"], "ERR syntax error".into()),
        (vec!["SET", "k", "v", "EX", "0"], "ERR invalid expire time in 'set' command".into()),
        (vec!["SET", "k", "v", "NX", "XX"], "ERR syntax error".into()),
        (vec!["INCRBY", "k", "x"], "ERR value is not an integer or out of range".into()),
        (vec!["SELECT", "99"], "ERR DB index is out of range".into()),
    ];
    let mut c = RawConn::connect(s.addr()).expect("connect");
    for (cmd, err) in &cases {
        let got = c.cmd(cmd).expect("reply");
        assert_eq!(got, Frame::Error(err.as_bytes().to_vec()), "reply to {cmd:?}");
        assert_eq!(c.cmd(&["PING"]).expect("PING"), Frame::Simple(b"PONG".to_vec()), "after {cmd:?}");
    }
}

#[test]
fn inline_commands_work() {
    let Some(s) = start(&ServerOpts::default()) else { return };
    let mut c = RawConn::connect(s.addr()).expect("connect");
    c.send_raw(b"PING\r\nSET q \"x y\"\r\nGET q\r\n\r\nFOO bar\r\nGET\r\nDEL q\nEXISTS q\r\n").expect("send");
    let expected = [
        Frame::Simple(b"PONG".to_vec()),
        ok(),
        Frame::Bulk(Some(b"x y".to_vec())),
        Frame::Error(b"ERR unknown command 'FOO', with args beginning with: 'bar' ".to_vec()),
        Frame::Error(b"ERR wrong number of arguments for 'get' command".to_vec()),
        Frame::Integer(1),
        Frame::Integer(0),
    ];
    for e in expected {
        assert_eq!(c.read_frame().expect("reply"), e);
    }
}
