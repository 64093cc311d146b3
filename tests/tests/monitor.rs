//! MONITOR against redis-server 7.0: the same client script runs on both servers while a RESP2
//! and a RESP3 monitor watch; the lines they receive must be the same once the timestamps and
//! the client ports are masked (`+<time> [0 127.0.0.1:<port>] "set" "k" "v"`). The script covers
//! MULTI/EXEC (the queue shows as it runs, EXEC after it), EVAL calling `redis.call` (`[0 lua]`,
//! after the EVAL line), AUTH and HELLO AUTH redaction, SELECT, binary arguments, admin commands
//! and refused requests (not shown), a blocking command, and RESET leaving MONITOR mode. Lines
//! are read up to a final `ECHO` marker, so no step waits on a timer. Against our server only: a
//! monitor that never reads is closed by the output-buffer limit, and one that is connected at
//! SHUTDOWN is closed cleanly. Bounds: a few hundred commands; the flood writes about 12 MB.

use std::net::SocketAddr;

use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, escape};
use cache_tests::{ServerOpts, Subject};

const END: &str = "monitor-test-end";

/// `+1700000000.123456 [0 127.0.0.1:5555] "x"` → `+<time> [0 127.0.0.1:<port>] "x"`.
fn normalise(line: &[u8]) -> String {
    let text = escape(line);
    let (_, rest) = text.split_once(' ').expect("timestamp");
    let (origin, args) = rest.split_once("] ").expect("origin");
    let origin = match origin.rsplit_once(':') {
        Some((host, _port)) => format!("{host}:<port>"),
        None => origin.to_owned(),
    };
    format!("+<time> {origin}] {args}")
}

/// Reads monitor lines up to the one of the final `ECHO` marker.
fn lines_until_end(m: &mut RawConn) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..1000 {
        let line = match m.read_frame_raw().expect("monitor line") {
            (Frame::Simple(s), _) => s,
            (other, _) => panic!("monitor got {other:?}"),
        };
        let shown = normalise(&line);
        if shown.contains(END) {
            return out;
        }
        out.push(shown);
    }
    panic!("no end marker after 1000 lines")
}

fn words(s: &str) -> Vec<Vec<u8>> {
    s.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

fn script(addr: SocketAddr) -> Vec<String> {
    let mut m3 = RawConn::connect(addr).expect("connect");
    m3.cmd(&["HELLO", "3"]).expect("hello");
    let mut m2 = RawConn::connect(addr).expect("connect");
    assert_eq!(m2.cmd(&["MONITOR"]).expect("monitor"), Frame::Simple(b"OK".to_vec()));
    assert_eq!(m3.cmd(&["MONITOR"]).expect("monitor"), Frame::Simple(b"OK".to_vec()));
    let mut c = RawConn::connect(addr).expect("connect");
    let mut replies = Vec::new();
    for line in [
        "SET k v",
        "GET k",
        "AUTH secret",
        "AUTH user secret",
        "HELLO 2 AUTH default secret SETNAME me",
        "HELLO 3",
        "MULTI",
        "SET a 1",
        "INCR a",
        "EXEC",
        "MULTI",
        "GET a",
        "DISCARD",
        "CONFIG GET maxmemory",
        "CLIENT LIST",
        "NOSUCHCOMMAND x",
        "GET",
        "BLPOP nolist 0.01",
        "SELECT 2",
        "SET k2 v2",
        "SELECT 0",
        "PUBLISH ch hi",
        "SUBSCRIBE ch",
        "UNSUBSCRIBE ch",
        "PING",
    ] {
        let reply = c.cmd(&words(line)).expect("reply");
        replies.push(format!("{line} -> {}", matches!(reply, Frame::Error(_))));
    }
    let binary: Vec<&[u8]> = vec![b"SET", b"bin\x00\xff", b"q\"uote\\ \n\r\t\x07\x08 \xc3\xa9"];
    c.cmd(&binary).expect("set");
    let eval = [
        "EVAL",
        "redis.call('set', KEYS[1], 'y\\n'); redis.call('incr', 'counter'); return redis.call('get', KEYS[1])",
        "1",
        "x",
    ];
    c.cmd(&eval).expect("eval");
    c.cmd(&["ECHO", END]).expect("echo");
    let mut out = lines_until_end(&mut m2);
    assert_eq!(out, lines_until_end(&mut m3), "the RESP3 monitor sees what the RESP2 one does");
    // RESET leaves MONITOR mode: the next line m2 reads is the answer to its PING.
    assert_eq!(m2.cmd(&["RESET"]).expect("reset"), Frame::Simple(b"RESET".to_vec()));
    c.cmd(&["SET", "after", "reset"]).expect("set");
    assert_eq!(m2.cmd(&["PING"]).expect("ping"), Frame::Simple(b"PONG".to_vec()));
    c.cmd(&["ECHO", END]).expect("echo");
    out.push("-- after RESET of the other monitor --".into());
    out.extend(lines_until_end(&mut m3));
    out.extend(replies);
    out
}

#[test]
fn monitor_stream_matches_redis() {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    let (x, y) = (script(ours.addr()), script(reference.addr()));
    let diff: Vec<String> =
        x.iter().zip(&y).filter(|(p, q)| p != q).map(|(p, q)| format!("  ours:  {p}\n  redis: {q}")).collect();
    assert!(
        diff.is_empty() && x.len() == y.len(),
        "MONITOR streams differ ({} vs {} lines):\n{}\nfull ours:\n{}\nfull redis:\n{}",
        x.len(),
        y.len(),
        diff.join("\n"),
        x.join("\n"),
        y.join("\n")
    );
}

#[test]
fn a_monitor_that_never_reads_is_closed_by_the_output_limit() {
    let opts = ServerOpts {
        directives: vec![("client-output-buffer-limit".into(), "pubsub 256kb 0 0".into())],
        ..ServerOpts::default()
    };
    let Some(ours) = Subject::start(&opts) else { return };
    let mut m = RawConn::connect(ours.addr()).expect("connect");
    assert_eq!(m.cmd(&["MONITOR"]).expect("monitor"), Frame::Simple(b"OK".to_vec()));
    let mut c = RawConn::connect(ours.addr()).expect("connect");
    let value = "v".repeat(1000);
    let batch: Vec<Vec<&str>> = (0..100).map(|_| vec!["SET", "k", value.as_str()]).collect();
    for _ in 0..120 {
        c.pipeline(&batch).expect("pipeline");
    }
    let info = match c.cmd(&["INFO", "stats"]).expect("info") {
        Frame::Bulk(Some(b)) | Frame::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO gave {other:?}"),
    };
    assert!(info.contains("client_output_buffer_limit_disconnections:1"), "{info}");
    // The server dropped it: reading ends (after whatever the socket still held).
    m.read_to_close().expect("closed");
    assert_eq!(c.cmd(&["SET", "k", "v"]).expect("set"), Frame::Simple(b"OK".to_vec()));
}

#[test]
fn a_monitor_is_closed_cleanly_at_shutdown() {
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    let mut m = RawConn::connect(ours.addr()).expect("connect");
    assert_eq!(m.cmd(&["MONITOR"]).expect("monitor"), Frame::Simple(b"OK".to_vec()));
    let mut c = RawConn::connect(ours.addr()).expect("connect");
    c.send_raw(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n").expect("shutdown");
    let rest = m.read_to_close().expect("the monitor's connection ends");
    assert!(rest.is_empty() || rest.starts_with(b"+"), "only monitor lines before the close: {}", escape(&rest));
}
