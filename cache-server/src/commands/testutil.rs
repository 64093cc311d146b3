//! Test harness: a server on 127.0.0.1 port 0 and a table of request → expected reply bytes.
//! Requests are written in redis-cli syntax and sent as RESP multibulk; an expected reply may
//! contain `...`, meaning "any bytes here" (for ids, times and addresses).

use crate::config::Config;
use crate::frame::split_args;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts a server with a tweaked default config; returns its address.
pub async fn start(tweak: impl FnOnce(&mut Config)) -> std::net::SocketAddr {
    let mut cfg = Config { maxmemory: 64 << 20, ..Config::default() };
    tweak(&mut cfg);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(crate::run(cfg, listener, std::future::pending()));
    addr
}

/// Encodes a redis-cli style line as a RESP request.
pub fn encode(line: &str) -> Vec<u8> {
    let args = split_args(line.as_bytes()).unwrap();
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(&a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Length of the first complete RESP reply in `b`, if complete.
pub fn reply_len(b: &[u8]) -> Option<usize> {
    let nl = b.windows(2).position(|w| w == b"\r\n")?;
    let n: i64 = std::str::from_utf8(&b[1..nl]).ok()?.parse().unwrap_or(0);
    let head = nl + 2;
    match b[0] {
        b'$' | b'=' | b'!' if n >= 0 => (b.len() >= head + n as usize + 2).then_some(head + n as usize + 2),
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let items = if matches!(b[0], b'%' | b'|') { 2 * n } else { n };
            let mut pos = head;
            for _ in 0..items.max(0) {
                pos += reply_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => Some(head),
    }
}

/// Reads one complete reply.
pub async fn read_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<u8> {
    loop {
        if !buf.is_empty() {
            if let Some(n) = reply_len(buf) {
                return buf.drain(..n).collect();
            }
        }
        let mut chunk = [0u8; 65536];
        let n =
            tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk)).await.expect("reply timeout").unwrap();
        if n == 0 {
            return std::mem::take(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// True if `got` matches `want`, where `...` in `want` matches any bytes.
pub fn matches(want: &str, got: &[u8]) -> bool {
    let parts: Vec<&str> = want.split("...").collect();
    if parts.len() == 1 {
        return want.as_bytes() == got;
    }
    let mut pos = 0;
    for (i, p) in parts.iter().enumerate() {
        let p = p.as_bytes();
        if i == 0 {
            if !got.starts_with(p) {
                return false;
            }
            pos = p.len();
        } else if let Some(at) = got[pos..].windows(p.len().max(1)).position(|w| w == p).filter(|_| !p.is_empty()) {
            pos += at + p.len();
        } else if !p.is_empty() {
            return false;
        }
    }
    true
}

/// Runs a table against a fresh default server on one connection.
pub async fn run_table(table: &[(&str, &str)]) {
    run_table_with(|_| {}, table).await;
}

/// Runs a table against a fresh server with a tweaked config.
pub async fn run_table_with(tweak: impl FnOnce(&mut Config), table: &[(&str, &str)]) {
    let addr = start(tweak).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    for (req, want) in table {
        s.write_all(&encode(req)).await.unwrap();
        let got = read_reply(&mut s, &mut buf).await;
        assert!(matches(want, &got), "request {req:?}\n want {want:?}\n  got {:?}", String::from_utf8_lossy(&got));
    }
}

/// Sends raw bytes and returns everything the server sends back until it closes or goes quiet.
pub async fn raw_exchange(addr: std::net::SocketAddr, input: &[u8]) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(input).await.unwrap();
    let mut out = Vec::new();
    loop {
        let mut chunk = [0u8; 65536];
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&chunk[..n]),
            Err(_) => return (out, false),
        }
    }
}
