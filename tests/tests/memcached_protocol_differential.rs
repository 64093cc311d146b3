//! Our Memcached port against a real `memcached` 1.6.18 where the random differential
//! (`memcached_differential.rs`) does not reach: the ASCII authentication exchange (`memcached -Y
//! <authfile>` vs our `requirepass`), the binary protocol (default flags: auto-negotiation), and
//! the exact shape of `stats`, `stats settings`, `stats detail`, `stats sizes`, `verbosity`.
//! Replies are compared byte for byte; CAS uniques in binary replies compare as zero / non-zero,
//! and `stats` values that depend on the process (pid, uptime, counters, memory) are compared by
//! key only. A missing `memcached` skips (panics under `CI=true`). Bounds: each exchange < 2 MB,
//! 3 s read timeout per reply.

use std::time::Duration;

use cache_tests::memcached::{McConn, Memcached, OurMemcached, escape};

const PASSWORD: &str = "s3cret";

/// The authentication exchange, one request at a time (memcached answers only the last of a
/// batch pipelined before authentication; we answer each), with how many reply lines each gets.
const AUTH_STEPS: &[(&[u8], usize)] = &[
    (b"get a\r\n", 1),
    (b"version\r\n", 1),
    (b"mn\r\n", 1),
    (b"stats\r\n", 1),
    (b"flush_all\r\n", 1),
    (b"quit\r\n", 1),
    (b"set a 0 0\r\n", 1),
    (b"set a 0 0 x\r\n", 1),
    (b"set a 0 0 -1\r\n", 1),
    (b"SET a 0 0 3\r\n", 1),
    (b"add a 0 0 9\r\n", 1),
    (b"set a 0 0 1\r\nx\r\n", 1),
    (b"set a 0 0 0\r\n\r\n", 1),
    (b"set a 0 0 13\r\ndefault wrong\r\n", 1),
    (b"set a 0 0 13\r\nnobody s3cret\r\n", 1),
    (b"set a 0 0 9\r\nuser2 pw2XY", 1),
    (b"set a b c 17 noreply\r\ndefault s3cret xx\r\n", 1),
    (b"get a\r\n", 1),
    (b"set a 0 0 1\r\nx\r\n", 1),
    (b"get a\r\n", 3),
];

fn auth_transcript(addr: std::net::SocketAddr) -> Vec<String> {
    let mut c = McConn::connect(addr).expect("connect");
    c.set_read_timeout(Duration::from_secs(3)).expect("timeout");
    AUTH_STEPS
        .iter()
        .map(|(req, lines)| format!("{} => {}", escape(req), escape(&c.exchange(req, *lines).expect("exchange"))))
        .collect()
}

#[test]
fn ascii_authentication_matches_memcached_with_an_authfile() {
    let dir = std::env::temp_dir().join(format!("cache-tests-authfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let authfile = dir.join("auth");
    std::fs::write(&authfile, format!("default:{PASSWORD}\nuser2:pw2\n")).expect("write authfile");
    let peer = Memcached::start_with(&["-Y", authfile.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    let Some(peer) = peer else { return };
    let mut config = cache_server::Config::default();
    config.requirepass = Some(PASSWORD.to_owned());
    let ours = OurMemcached::start(config);
    let (got, want) = (auth_transcript(ours.addr()), auth_transcript(peer.addr()));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "(ours first, memcached second)");
    }
    // A long line without a newline closes the connection on both.
    for addr in [ours.addr(), peer.addr()] {
        let mut c = McConn::connect(addr).expect("connect");
        c.send_raw(&[b'x'; 3000]).expect("send");
        assert_eq!(c.read_to_close().expect("closed"), b"", "{addr}");
    }
}

/// A binary request: magic, opcode, key, extras, value, CAS, and an optional body length override.
fn bin(op: u8, key: &[u8], extras: &[u8], value: &[u8], cas: u64, bodylen: Option<u32>) -> Vec<u8> {
    let body = bodylen.unwrap_or((extras.len() + key.len() + value.len()) as u32);
    let mut r = vec![0x80, op];
    r.extend_from_slice(&(key.len() as u16).to_be_bytes());
    r.extend_from_slice(&[extras.len() as u8, 0, 0, 0]);
    r.extend_from_slice(&body.to_be_bytes());
    r.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    r.extend_from_slice(&cas.to_be_bytes());
    r.extend_from_slice(extras);
    r.extend_from_slice(key);
    r.extend_from_slice(value);
    r
}

/// Reads until `quiet` (300 ms without data) or a close; CAS fields of response headers become
/// 0 or 1. Returns the bytes and whether the server closed.
fn bin_exchange(addr: std::net::SocketAddr, req: &[u8]) -> (String, bool) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
    s.write_all(req).expect("send");
    let (mut out, mut closed) = (Vec::new(), false);
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(_) => break,
        }
    }
    let mut i = 0;
    while out.len() >= i + 24 && out[i] == 0x81 {
        let body = u32::from_be_bytes([out[i + 8], out[i + 9], out[i + 10], out[i + 11]]) as usize;
        let cas = &mut out[i + 16..i + 24];
        let nonzero = cas.iter().any(|b| *b != 0);
        cas.fill(0);
        cas[7] = u8::from(nonzero);
        i += 24 + body;
    }
    (escape(&out), closed)
}

#[test]
fn binary_protocol_matches_memcached() {
    let Some(peer) = Memcached::start() else { return };
    let ours = OurMemcached::start(cache_server::Config::default());
    let sx = [0, 0, 0, 3, 0, 0, 0, 0];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("get miss", bin(0x00, b"k", &[], &[], 0, None)),
        ("getk miss", bin(0x0c, b"k", &[], &[], 0, None)),
        ("getq miss, noop", [bin(0x09, b"k", &[], &[], 0, None), bin(0x0a, b"", &[], &[], 0, None)].concat()),
        (
            "set, get, getk, getkq, noop",
            [
                bin(0x01, b"k", &sx, b"val", 0, None),
                bin(0x00, b"k", &[], &[], 0, None),
                bin(0x0c, b"k", &[], &[], 0, None),
                bin(0x0d, b"k", &[], &[], 0, None),
                bin(0x0a, b"", &[], &[], 0, None),
            ]
            .concat(),
        ),
        ("add present", [bin(0x01, b"e", &sx, b"1", 0, None), bin(0x02, b"e", &sx, b"2", 0, None)].concat()),
        ("addq present, noop", [bin(0x12, b"e", &sx, b"2", 0, None), bin(0x0a, b"", &[], &[], 0, None)].concat()),
        ("replace missing", bin(0x03, b"zz", &sx, b"v", 0, None)),
        ("replaceq missing, noop", [bin(0x13, b"zz", &sx, b"v", 0, None), bin(0x0a, b"", &[], &[], 0, None)].concat()),
        ("setq, noop", [bin(0x11, b"q", &sx, b"v", 0, None), bin(0x0a, b"", &[], &[], 0, None)].concat()),
        ("delete twice", [bin(0x04, b"e", &[], &[], 0, None), bin(0x04, b"e", &[], &[], 0, None)].concat()),
        ("deleteq missing, noop", [bin(0x14, b"no", &[], &[], 0, None), bin(0x0a, b"", &[], &[], 0, None)].concat()),
        ("delete cas mismatch", [bin(0x01, b"d", &sx, b"1", 0, None), bin(0x04, b"d", &[], &[], 999, None)].concat()),
        ("set cas on missing", bin(0x01, b"missing", &sx, b"1", 5, None)),
        ("set exptime 0xffffffff, get", {
            let ext = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
            [bin(0x01, b"x1", &ext, b"v", 0, None), bin(0x00, b"x1", &[], &[], 0, None)].concat()
        }),
        ("set too large, get", {
            let v = vec![b'v'; 1024 * 1024 + 1];
            [bin(0x01, b"big", &sx, &v, 0, None), bin(0x00, b"big", &[], &[], 0, None)].concat()
        }),
        ("version", bin(0x0b, b"", &[], &[], 0, None)),
        ("unknown opcode", bin(0x50, b"", &[], &[], 0, None)),
        ("quit", bin(0x07, b"", &[], &[], 0, None)),
        ("quitq", bin(0x17, b"", &[], &[], 0, None)),
        ("get with extras", bin(0x00, b"k", b"abcd", &[], 0, None)),
        ("set without extras", bin(0x01, b"k", &[], b"v", 0, None)),
        ("get without key", bin(0x00, b"", &[], &[], 0, None)),
        ("key of 251 bytes", bin(0x00, &[b'k'; 251], &[], &[], 0, None)),
        ("body shorter than key", bin(0x00, b"kk", &[], &[], 0, Some(1))),
        ("noop with a body", bin(0x0a, b"k", &[], &[], 0, None)),
        (
            "noop then bad magic",
            [bin(0x0a, b"", &[], &[], 0, None), {
                let mut b = bin(0x0a, b"", &[], &[], 0, None);
                b[0] = 0x81;
                b
            }]
            .concat(),
        ),
        ("noop then text", [bin(0x0a, b"", &[], &[], 0, None), b"version\r\n".to_vec()].concat()),
        ("text then binary", [b"version\r\n".to_vec(), bin(0x0a, b"", &[], &[], 0, None)].concat()),
    ];
    for (name, req) in &cases {
        assert_eq!(bin_exchange(ours.addr(), req), bin_exchange(peer.addr(), req), "{name} (ours first)");
    }
}

fn stat_keys(reply: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(reply)
        .split("\r\n")
        .map(|l| l.split(' ').take(if l.starts_with("STAT ") { 2 } else { 1 }).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn stats_verbosity_and_detail_match_memcached() {
    let Some(peer) = Memcached::start() else { return };
    // The peer runs `-t 1 -m 64` with 1024 connections and a 1 MB item limit: configure the same.
    let mut config = cache_server::Config::default();
    config.maxmemory = 64 * 1024 * 1024;
    config.threads = 1;
    config.maxclients = 1024;
    config.bind = "127.0.0.1".to_owned();
    let ours = OurMemcached::start(config);
    let mut a = McConn::connect(ours.addr()).expect("connect ours");
    let mut b = McConn::connect(peer.addr()).expect("connect memcached");
    // Whole replies, byte for byte.
    for req in [
        &b"verbosity\r\n"[..],
        b"verbosity 1\r\n",
        b"verbosity 1 2\r\n",
        b"verbosity 1 2 3\r\n",
        b"verbosity noreply\r\n",
        b"verbosity x\r\n",
        b"verbosity -1\r\n",
        b"verbosity noreply 1\r\n",
        b"verbosity 7 noreply\r\n",
        b"verbosity 0\r\n",
        b"stats threads\r\n",
        b"stats bogus\r\n",
        b"stats a b\r\n",
        b"stats sizes\r\n",
        b"stats detail\r\n",
        b"stats detail x\r\n",
        b"stats detail dump\r\n",
        b"stats detail on\r\n",
        b"set a:1 0 0 1\r\nx\r\nget a:1 a:2 nocolon\r\nget b:1\r\ndelete a:1\r\ndelete zz:1\r\n",
        b"gat 10 a:9\r\ntouch t:1 10\r\nincr a:5 1\r\nadd a:1 0 0 1\r\nx\r\ncas a:1 0 0 1 1\r\nx\r\n",
        b"append c:1 0 0 1\r\ny\r\nmg m:1 v\r\nms m:2 1\r\nx\r\nmd m:3\r\nget :x\r\nget x:\r\nget a::b\r\n",
        b"stats detail dump\r\n",
        b"stats detail off\r\nget a:1\r\nstats detail dump\r\n",
        b"stats detail on off\r\n",
    ] {
        let (got, want) = (a.request(req).expect("ours"), b.request(req).expect("memcached"));
        assert_eq!(escape(&got), escape(&want), "reply to {} (ours first)", escape(req));
    }
    // `stats settings`: every line but the port and the flush time.
    let varying = ["STAT tcpport ", "STAT oldest "];
    let settings = |c: &mut McConn| -> Vec<String> {
        let r = c.request(b"stats settings\r\n").expect("stats settings");
        String::from_utf8_lossy(&r)
            .split("\r\n")
            .map(|l| if varying.iter().any(|v| l.starts_with(v)) { stat_keys(l.as_bytes()).join("") } else { l.into() })
            .collect()
    };
    assert_eq!(settings(&mut a), settings(&mut b), "stats settings (ours first)");
    // General `stats`: the same keys in the same order.
    let keys = |c: &mut McConn| stat_keys(&c.request(b"stats\r\n").expect("stats"));
    assert_eq!(keys(&mut a), keys(&mut b), "stats keys (ours first)");
    assert_eq!(keys(&mut a).len(), keys(&mut b).len());
}
