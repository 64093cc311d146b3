//! A connection in MULTI as a connection state of its own: its queue is bounded, what EXEC does
//! reaches other connections as pushes (pub/sub messages, client-side caching invalidations), and
//! an open transaction neither holds keys nor delays a shutdown.

use std::time::{Duration, Instant};

use cache_tests::ServerOpts;
use cache_tests::ours::OurServer;
use cache_tests::resp::{Frame, RawConn, encode_command};

fn conn(server: &OurServer) -> RawConn {
    let c = RawConn::connect(server.addr()).expect("connect");
    c.stream().set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    c
}

fn ok() -> Frame {
    Frame::Simple(b"OK".to_vec())
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Some(s.as_bytes().to_vec()))
}

/// A MULTI queue past `client-query-buffer-limit` closes that client (as an oversized query buffer
/// does), and the server keeps serving the others.
#[test]
fn a_queue_past_the_query_buffer_limit_closes_only_that_client() {
    let opts =
        ServerOpts { directives: vec![("client-query-buffer-limit".into(), "1mb".into())], ..ServerOpts::default() };
    let server = OurServer::start(&opts);
    let mut other = conn(&server);
    let mut c = conn(&server);
    assert_eq!(c.cmd(&["MULTI"]).unwrap(), ok());
    let value = "v".repeat(64 * 1024);
    let mut closed = false;
    for i in 0..64 {
        // 64 × 64 KiB = 4 MiB queued at most; the limit is 1 MiB.
        match c.cmd(&["SET", &format!("k{i}"), &value]) {
            Ok(Frame::Simple(s)) if s == b"QUEUED" => {}
            Ok(f) => panic!("unexpected reply while queueing: {f:?}"),
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "a 4 MiB MULTI queue was accepted under a 1 MiB limit");
    assert_eq!(other.cmd(&["PING"]).unwrap(), Frame::Simple(b"PONG".to_vec()));
    assert_eq!(other.cmd(&["EXISTS", "k0"]).unwrap(), Frame::Integer(0), "nothing of the queue ran");
}

/// PUBLISH inside EXEC reaches subscribers (RESP2 and RESP3), and a write inside EXEC invalidates a
/// tracking client's key, as single commands do.
#[test]
fn exec_delivers_pubsub_messages_and_tracking_invalidations() {
    let server = OurServer::start(&ServerOpts::default());
    let mut sub = conn(&server);
    sub.cmd(&["SUBSCRIBE", "news"]).unwrap();
    let mut tracker = conn(&server);
    tracker.cmd(&["HELLO", "3"]).unwrap();
    assert_eq!(tracker.cmd(&["CLIENT", "TRACKING", "on"]).unwrap(), ok());
    tracker.cmd(&["SET", "k", "old"]).unwrap();
    assert_eq!(tracker.cmd(&["GET", "k"]).unwrap(), bulk("old"));

    let mut tx = conn(&server);
    tx.cmd(&["MULTI"]).unwrap();
    tx.cmd(&["PUBLISH", "news", "hello"]).unwrap();
    tx.cmd(&["SET", "k", "new"]).unwrap();
    let exec = tx.cmd(&["EXEC"]).unwrap();
    assert_eq!(exec, Frame::Array(Some(vec![Frame::Integer(1), ok()])));

    let message = sub.read_frame().unwrap();
    assert_eq!(message, Frame::Array(Some(vec![bulk("message"), bulk("news"), bulk("hello")])));
    // The invalidation arrives as a RESP3 push before the next reply.
    tracker.send_raw(&encode_command(&["PING"])).unwrap();
    let push = tracker.read_frame().unwrap();
    let text = format!("{push:?}");
    assert!(text.contains("invalidate") && text.contains('k'), "no invalidation push: {text}");
}

/// A client left in MULTI (with WATCHed keys) holds no lock: others write the keys, and a shutdown
/// drains at once instead of waiting for the transaction.
#[test]
fn an_open_transaction_holds_nothing_and_does_not_delay_shutdown() {
    let server = OurServer::start(&ServerOpts::default());
    let mut tx = conn(&server);
    tx.cmd(&["WATCH", "a"]).unwrap();
    tx.cmd(&["MULTI"]).unwrap();
    tx.cmd(&["SET", "a", "1"]).unwrap();
    let mut other = conn(&server);
    assert_eq!(other.cmd(&["SET", "a", "2"]).unwrap(), ok());
    assert_eq!(other.cmd(&["GET", "a"]).unwrap(), bulk("2"));
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown waited {:?}", started.elapsed());
}
