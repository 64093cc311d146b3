//! The binary protocol's opcodes against a real `memcached` 1.6.18, byte for byte, CAS uniques
//! included (both servers number them from 1 and every case runs on a fresh pair): INCR/DECR
//! (create with the initial value, 0xffffffff exptime, CAS match, non-numeric, wrap and floor),
//! APPEND/PREPEND (missing key, CAS), FLUSH (now, delayed, quiet), TOUCH, GAT/GATK and their
//! quiet forms, STAT groups (general statistics by name only: their values are the process's),
//! the quiet variants' silence, and bad body shapes. `memcached_protocol_differential.rs` covers
//! GET/SET/ADD/REPLACE/DELETE/NOOP/VERSION/QUIT framing. Then a real client: the `memcache`
//! crate in binary mode runs its usual flow against both servers.
//!
//! A missing `memcached` skips (panics under `CI=true`). Bounds: each exchange < 2.1 MB, a reply
//! is complete after 300 ms of silence.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use cache_tests::memcached::{Memcached, OurMemcached, escape};

/// A binary request: opcode, key, extras, value, CAS.
fn bin(op: u8, key: &[u8], extras: &[u8], value: &[u8], cas: u64) -> Vec<u8> {
    let body = (extras.len() + key.len() + value.len()) as u32;
    let mut r = vec![0x80, op];
    r.extend_from_slice(&(key.len() as u16).to_be_bytes());
    r.extend_from_slice(&[extras.len() as u8, 0, 0, 0]);
    r.extend_from_slice(&body.to_be_bytes());
    r.extend_from_slice(&[0xca, 0xfe, 0x00, op]);
    r.extend_from_slice(&cas.to_be_bytes());
    r.extend_from_slice(extras);
    r.extend_from_slice(key);
    r.extend_from_slice(value);
    r
}

fn noop() -> Vec<u8> {
    bin(0x0a, b"", &[], &[], 0)
}

fn set(key: &[u8], value: &[u8], flags: u32, exptime: u32) -> Vec<u8> {
    let ext = [flags.to_be_bytes(), exptime.to_be_bytes()].concat();
    bin(0x01, key, &ext, value, 0)
}

fn delta(op: u8, key: &[u8], by: u64, initial: u64, exptime: u32, cas: u64) -> Vec<u8> {
    let ext = [&by.to_be_bytes()[..], &initial.to_be_bytes(), &exptime.to_be_bytes()].concat();
    bin(op, key, &ext, &[], cas)
}

fn touch(op: u8, key: &[u8], exptime: u32) -> Vec<u8> {
    bin(op, key, &exptime.to_be_bytes(), &[], 0)
}

/// Sends `req`, reads until 300 ms of silence or a close.
fn exchange(addr: SocketAddr, req: &[u8]) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
    s.write_all(req).expect("send");
    let (mut out, mut chunk) = (Vec::new(), [0u8; 65536]);
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// Response packets as `opcode status cas key=… value=…` lines.
fn packets(mut b: &[u8], with_values: bool) -> Vec<String> {
    let mut out = Vec::new();
    while b.len() >= 24 && b[0] == 0x81 {
        let keylen = usize::from(u16::from_be_bytes([b[2], b[3]]));
        let extlen = usize::from(b[4]);
        let body = u32::from_be_bytes([b[8], b[9], b[10], b[11]]) as usize;
        let Some(frame) = b.get(..24 + body) else { break };
        let key = &frame[24 + extlen..24 + extlen + keylen];
        let value = if with_values { escape(&frame[24 + extlen + keylen..]) } else { "…".into() };
        out.push(format!(
            "op={:02x} status={:02x}{:02x} opaque={} cas={} ext={} key={} value={}",
            frame[1],
            frame[6],
            frame[7],
            escape(&frame[12..16]),
            u64::from_be_bytes(frame[16..24].try_into().expect("8 bytes")),
            escape(&frame[24..24 + extlen]),
            escape(key),
            value
        ));
        b = &b[24 + body..];
    }
    if !b.is_empty() {
        out.push(format!("trailing {}", escape(b)));
    }
    out
}

#[test]
fn binary_opcodes_match_memcached() {
    if Memcached::start().is_none() {
        return;
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "incr missing creates initial",
            [delta(0x05, b"n", 5, 10, 0, 0), delta(0x05, b"n", 5, 10, 0, 0), noop()].concat(),
        ),
        (
            "decr floors at 0",
            [delta(0x06, b"n", 5, 3, 0, 0), delta(0x06, b"n", 5, 3, 0, 0), bin(0x00, b"n", &[], &[], 0)].concat(),
        ),
        (
            "incr no-create exptime",
            [delta(0x05, b"n", 1, 1, u32::MAX, 0), delta(0x06, b"n", 1, 1, u32::MAX, 0)].concat(),
        ),
        (
            "incr wraps",
            [set(b"n", b"18446744073709551615", 0, 0), delta(0x05, b"n", 2, 0, 0, 0), bin(0x00, b"n", &[], &[], 0)]
                .concat(),
        ),
        (
            "incr non-numeric",
            [
                set(b"s", b"abc", 0, 0),
                delta(0x05, b"s", 1, 0, 0, 0),
                set(b"e", b"", 0, 0),
                delta(0x05, b"e", 1, 0, 0, 0),
            ]
            .concat(),
        ),
        (
            "incr cas match and mismatch",
            [set(b"n", b"1", 0, 0), delta(0x05, b"n", 1, 0, 0, 1), delta(0x05, b"n", 1, 0, 0, 99)].concat(),
        ),
        (
            "incrq decrq quiet",
            [
                delta(0x15, b"n", 1, 7, 0, 0),
                delta(0x16, b"n", 2, 7, 0, 0),
                delta(0x15, b"zz", 1, 0, u32::MAX, 0),
                noop(),
                bin(0x00, b"n", &[], &[], 0),
            ]
            .concat(),
        ),
        (
            "decr shorter",
            [set(b"n", b"10", 0, 0), delta(0x06, b"n", 1, 0, 0, 0), bin(0x00, b"n", &[], &[], 0)].concat(),
        ),
        ("incr with bad extras", bin(0x05, b"n", &[0; 8], &[], 0)),
        (
            "append prepend",
            [
                set(b"a", b"mid", 3, 0),
                bin(0x0e, b"a", &[], b">>", 0),
                bin(0x0f, b"a", &[], b"<<", 0),
                bin(0x00, b"a", &[], &[], 0),
            ]
            .concat(),
        ),
        ("append missing", [bin(0x0e, b"zz", &[], b">>", 0), bin(0x0f, b"zz", &[], b"<<", 0)].concat()),
        (
            "appendq prependq",
            [
                set(b"a", b"m", 0, 0),
                bin(0x19, b"a", &[], b">", 0),
                bin(0x1a, b"a", &[], b"<", 0),
                bin(0x19, b"zz", &[], b">", 0),
                noop(),
                bin(0x00, b"a", &[], &[], 0),
            ]
            .concat(),
        ),
        (
            "append cas",
            [
                set(b"a", b"m", 0, 0),
                bin(0x0e, b"a", &[], b">", 1),
                bin(0x0e, b"a", &[], b">", 77),
                bin(0x00, b"a", &[], &[], 0),
            ]
            .concat(),
        ),
        ("append with extras", bin(0x0e, b"a", &[0; 8], b">", 0)),
        (
            "append too large",
            [
                set(b"a", b"m", 0, 0),
                bin(0x0e, b"a", &[], &vec![b'x'; 1024 * 1024 + 1], 0),
                bin(0x00, b"a", &[], &[], 0),
            ]
            .concat(),
        ),
        ("flush", [set(b"a", b"m", 0, 0), bin(0x08, b"", &[], &[], 0), bin(0x00, b"a", &[], &[], 0)].concat()),
        ("flushq", [set(b"a", b"m", 0, 0), bin(0x18, b"", &[], &[], 0), noop(), bin(0x00, b"a", &[], &[], 0)].concat()),
        (
            "flush delayed",
            [set(b"a", b"m", 0, 0), bin(0x08, b"", &100u32.to_be_bytes(), &[], 0), bin(0x00, b"a", &[], &[], 0)]
                .concat(),
        ),
        ("flush with a key", bin(0x08, b"k", &[], &[], 0)),
        ("flush with 8 extras", bin(0x08, b"", &[0; 8], &[], 0)),
        ("touch", [set(b"t", b"v", 5, 0), touch(0x1c, b"t", 100), touch(0x1c, b"zz", 100)].concat()),
        (
            "touch expired",
            [set(b"t", b"v", 5, 0), touch(0x1c, b"t", u32::MAX - 1), bin(0x00, b"t", &[], &[], 0)].concat(),
        ),
        (
            "gat gatk",
            [
                set(b"t", b"v", 5, 0),
                touch(0x1d, b"t", 100),
                touch(0x23, b"t", 100),
                touch(0x1d, b"zz", 1),
                touch(0x23, b"zz", 1),
            ]
            .concat(),
        ),
        (
            "gatq gatkq",
            [
                set(b"t", b"v", 5, 0),
                touch(0x1e, b"t", 100),
                touch(0x24, b"t", 100),
                touch(0x1e, b"zz", 1),
                touch(0x24, b"zz", 1),
                noop(),
            ]
            .concat(),
        ),
        ("gat without extras", bin(0x1d, b"t", &[], &[], 0)),
        ("touch without key", bin(0x1c, b"", &[0; 4], &[], 0)),
        (
            "add with cas",
            [set(b"a", b"m", 0, 0), bin(0x02, b"a", &[0; 8], b"n", 1), bin(0x02, b"b", &[0; 8], b"n", 1)].concat(),
        ),
        ("stat unknown group", bin(0x10, b"bogus", &[], &[], 0)),
        ("stat reset", bin(0x10, b"reset", &[], &[], 0)),
        (
            "stat detail",
            [
                bin(0x10, b"detail on", &[], &[], 0),
                set(b"p:1", b"v", 0, 0),
                bin(0x10, b"detail dump", &[], &[], 0),
                bin(0x10, b"detail x", &[], &[], 0),
            ]
            .concat(),
        ),
        ("stat with extras", bin(0x10, b"", &[0; 4], &[], 0)),
        // Not served by 1.6.18 either (with no body: memcached skips a body after its extras twice).
        ("verbosity", bin(0x1b, b"", &[], &[], 0)),
        ("sasl list", bin(0x20, b"", &[], &[], 0)),
    ];
    for (name, req) in &cases {
        let (peer, server) =
            (Memcached::start().expect("memcached"), OurMemcached::start(cache_server::Config::default()));
        let (got, got_closed) = exchange(server.addr(), req);
        let (want, want_closed) = exchange(peer.addr(), req);
        assert_eq!((packets(&got, true), got_closed), (packets(&want, true), want_closed), "{name} (ours first)");
    }
}

/// STAT with no group and with `settings`/`items`/`slabs`: the same packets, names in order
/// (values are the process's own).
#[test]
fn binary_stat_groups_have_memcached_names() {
    let Some(peer) = Memcached::start() else { return };
    let mut config = cache_server::Config::default();
    config.threads = 1;
    let server = OurMemcached::start(config);
    for group in [&b""[..], b"settings"] {
        let req = bin(0x10, group, &[], &[], 0);
        let names = |addr| -> Vec<String> {
            packets(&exchange(addr, &req).0, false)
                .iter()
                .map(|p| p.split(" value=").next().unwrap_or("").to_owned())
                .collect()
        };
        assert_eq!(names(server.addr()), names(peer.addr()), "STAT {}", escape(group));
    }
}

/// A libmemcached-style flow with the `memcache` crate in binary mode; every call's result.
fn client_flow(addr: SocketAddr) -> Vec<String> {
    let c = memcache::Client::connect(format!("memcache://{addr}?protocol=binary&timeout=5")).expect("connect");
    let mut log = Vec::new();
    macro_rules! rec {
        ($e:expr) => {
            log.push(format!("{} => {:?}", stringify!($e), $e))
        };
    }
    rec!(c.version().map(|v| v.into_iter().map(|(_, v)| v).collect::<Vec<_>>()));
    rec!(c.set("a", "hello", 0));
    rec!(c.get::<String>("a"));
    rec!(c.get::<String>("missing"));
    rec!(c.add("a", "x", 0));
    rec!(c.add("b", "bee", 100));
    rec!(c.replace("a", "world", 0));
    rec!(c.replace("zz", "world", 0));
    rec!(c.append("a", "!"));
    rec!(c.prepend("a", "<"));
    rec!(c.append("zz", "!"));
    rec!(c.get::<(String, u32, Option<u64>)>("a"));
    rec!(c.gets::<String>(&["a", "b", "missing"]).map(|m| {
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort();
        v
    }));
    rec!(c.increment("n", 5));
    rec!(c.set("n", 10u64, 0));
    rec!(c.increment("n", 5));
    rec!(c.decrement("n", 100));
    rec!(c.get::<u64>("n"));
    rec!(c.set("s", "text", 0));
    rec!(c.increment("s", 1));
    rec!(c.touch("a", 100));
    rec!(c.touch("zz", 100));
    let cas = c.get::<(String, u32, Option<u64>)>("a").ok().flatten().and_then(|(_, _, cas)| cas).unwrap_or(0);
    rec!(c.cas("a", "new", 0, cas));
    rec!(c.cas("a", "newer", 0, cas));
    rec!(c.get::<String>("a"));
    rec!(c.delete("a"));
    rec!(c.delete("a"));
    rec!(c.stats().map(|s| s.into_iter().map(|(_, stats)| stats.contains_key("curr_items")).collect::<Vec<_>>()));
    rec!(c.flush());
    rec!(c.get::<String>("b"));
    log
}

#[test]
fn memcache_crate_in_binary_mode_runs_the_same_on_both() {
    let Some(peer) = Memcached::start() else { return };
    let server = OurMemcached::start(cache_server::Config::default());
    let (got, want) = (client_flow(server.addr()), client_flow(peer.addr()));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "(ours first)");
    }
    assert_eq!(got.len(), want.len());
}
