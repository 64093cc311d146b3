//! Pub/sub introspection and sharded pub/sub against redis-server 7.0: PUBSUB CHANNELS / NUMSUB /
//! NUMPAT / SHARDCHANNELS / SHARDNUMSUB / HELP and their errors, SSUBSCRIBE / SUNSUBSCRIBE /
//! SPUBLISH (a namespace of their own without a cluster), RESP2 subscribe mode with shard
//! channels, RESET leaving every subscription. Each scenario runs over raw RESP on both servers,
//! RESP2 and RESP3, and the transcripts — every reply and message, byte for byte, in order — must
//! be equal. Messages are read by sending PING and reading up to its answer; unsubscribing from
//! everything is only asked with one subscription left (Redis walks a hash table there).

use std::net::SocketAddr;

use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, escape};
use cache_tests::{ServerOpts, Subject};

fn words(s: &str) -> Vec<&str> {
    s.split(' ').collect()
}

struct Client {
    name: &'static str,
    conn: RawConn,
}

impl Client {
    fn new(addr: SocketAddr, name: &'static str, resp3: bool) -> Self {
        let mut conn = RawConn::connect(addr).expect("connect");
        if resp3 {
            conn.cmd(&["HELLO", "3"]).expect("hello");
        }
        Self { name, conn }
    }

    /// Runs `line` and records every frame of its answer (a SUBSCRIBE of n channels answers n).
    fn run(&mut self, t: &mut Vec<String>, line: &str, frames: usize) {
        let w = words(line);
        self.conn.send_raw(&cache_tests::resp::encode_command(&w)).expect("send");
        for _ in 0..frames {
            let (_, raw) = self.conn.read_frame_raw().expect("reply");
            t.push(format!("{} {line}: {}", self.name, escape(&raw)));
        }
    }

    /// PING, recording the messages that arrived before its answer.
    fn drain(&mut self, t: &mut Vec<String>) {
        self.conn.send_raw(b"*1\r\n$4\r\nPING\r\n").expect("send");
        for _ in 0..100 {
            let (f, raw) = self.conn.read_frame_raw().expect("frame");
            t.push(format!("{} <-: {}", self.name, escape(&raw)));
            let pong = matches!(&f, Frame::Simple(s) if s == b"PONG")
                || matches!(&f, Frame::Array(Some(v)) if v.first() == Some(&Frame::Bulk(Some(b"pong".to_vec()))));
            if pong {
                return;
            }
        }
        panic!("no PONG");
    }
}

fn scenario(addr: SocketAddr, resp3: bool) -> Vec<String> {
    let mut t = Vec::new();
    let mut s = Client::new(addr, "sub", resp3);
    let mut p = Client::new(addr, "pub", resp3);
    let mut q = Client::new(addr, "other", false);
    p.run(&mut t, "PUBSUB CHANNELS", 1);
    p.run(&mut t, "PUBSUB NUMPAT", 1);
    p.run(&mut t, "PUBSUB SHARDCHANNELS", 1);
    p.run(&mut t, "PUBSUB NUMSUB", 1);
    p.run(&mut t, "PUBSUB SHARDNUMSUB", 1);
    s.run(&mut t, "SSUBSCRIBE news sport", 2);
    s.run(&mut t, "SUBSCRIBE news", 1);
    s.run(&mut t, "PSUBSCRIBE n*", 1);
    q.run(&mut t, "PSUBSCRIBE n*", 1);
    q.run(&mut t, "SSUBSCRIBE news", 1);
    p.run(&mut t, "PUBSUB CHANNELS", 1);
    p.run(&mut t, "PUBSUB CHANNELS n?ws", 1);
    p.run(&mut t, "PUBSUB SHARDCHANNELS s*", 1);
    p.run(&mut t, "PUBSUB NUMSUB news sport nothing", 1);
    p.run(&mut t, "PUBSUB SHARDNUMSUB news sport nothing", 1);
    p.run(&mut t, "PUBSUB NUMPAT", 1);
    p.run(&mut t, "SPUBLISH news hello", 1);
    p.run(&mut t, "SPUBLISH nobody x", 1);
    p.run(&mut t, "PUBLISH news world", 1);
    s.drain(&mut t);
    q.drain(&mut t);
    // Subscribe mode (RESP2) holds while any kind of subscription remains.
    s.run(&mut t, "GET k", 1);
    s.run(&mut t, "SPUBLISH news x", 1);
    s.run(&mut t, "SUNSUBSCRIBE sport", 1);
    s.run(&mut t, "SUNSUBSCRIBE news", 1);
    s.run(&mut t, "SUNSUBSCRIBE", 1);
    s.run(&mut t, "UNSUBSCRIBE news", 1);
    s.run(&mut t, "GET k", 1);
    s.run(&mut t, "PUNSUBSCRIBE", 1);
    s.run(&mut t, "GET k", 1);
    s.run(&mut t, "SSUBSCRIBE a", 1);
    s.run(&mut t, "RESET", 1);
    s.run(&mut t, "GET k", 1);
    p.run(&mut t, "PUBSUB SHARDNUMSUB a news", 1);
    p.run(&mut t, "SPUBLISH a gone", 1);
    // Errors and help.
    for line in [
        "PUBSUB",
        "PUBSUB FOO",
        "PUBSUB NUMPAT x",
        "PUBSUB CHANNELS a b",
        "PUBSUB SHARDCHANNELS a b",
        "PUBSUB HELP",
        "SPUBLISH a",
        "SSUBSCRIBE",
    ] {
        p.run(&mut t, line, 1);
    }
    t
}

#[test]
fn pubsub_introspection_and_shard_channels_like_redis() {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    for resp3 in [false, true] {
        let (x, y) = (scenario(ours.addr(), resp3), scenario(reference.addr(), resp3));
        let diff: Vec<String> =
            x.iter().zip(&y).filter(|(p, q)| p != q).map(|(p, q)| format!("  ours:  {p}\n  redis: {q}")).collect();
        assert!(
            diff.is_empty() && x.len() == y.len(),
            "resp3 {resp3}: transcripts differ ({} vs {} lines):\n{}",
            x.len(),
            y.len(),
            diff.join("\n")
        );
    }
}
