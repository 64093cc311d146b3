//! CLIENT PAUSE and DEBUG SET-ACTIVE-EXPIRE against a real redis-server 7.0.15, and the latency
//! monitor's `expire-cycle` / `eviction-cycle` events.
//!
//! Redis 7.0 keeps the dataset static while clients are paused: no key expires (neither by the
//! active cycle nor on access — a read answers nil and leaves the key) and nothing is evicted, not
//! even by a smaller `maxmemory`, until the pause ends. With active expiry off, a key expires only
//! when a command meets it. Each scenario runs on both servers and records what a client sees —
//! replies, DBSIZE, INFO `expired_keys` / `evicted_keys`, the `__keyevent@0__:expired` messages of
//! a subscriber — and the two transcripts must be equal. Timing-dependent steps wait past the TTLs
//! and then poll with a bound. Memcached clients of the same keyspace are held by a pause by the
//! same rule (ours only: Redis has no Memcached port). Bounds: each scenario sends fewer than 200
//! requests (plus 20,000 pipelined SETs to fill memory, 30,000 for the latency scenario and 60,000
//! for the eviction one) and waits at most 10 s per poll.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cache_tests::ServerOpts;
use cache_tests::ours::OurServer;
use cache_tests::port::{free_port, loopback, wait_for_port};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, REPLY_TIMEOUT, RawConn};

/// Keys with a short TTL in each scenario.
const SHORT: [&str; 5] = ["k0", "k1", "k2", "k3", "k4"];
/// How long a poll waits for a server to catch up.
const POLL_BOUND: Duration = Duration::from_secs(10);

fn both(extra: &[(&str, &str)]) -> Option<(RedisServer, OurServer)> {
    let mut flags: Vec<String> = vec!["--enable-debug-command".into(), "yes".into()];
    for (name, value) in extra {
        flags.push(format!("--{name}"));
        flags.push((*value).to_owned());
    }
    let redis = RedisServer::start(&flags)?;
    let mut directives = vec![("enable-debug-command".to_owned(), "yes".to_owned())];
    directives.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
    let ours = OurServer::start(&ServerOpts { directives, ..ServerOpts::default() });
    Some((redis, ours))
}

/// Runs `args` and records `label: reply`.
fn step(t: &mut Vec<String>, c: &mut RawConn, args: &[&str]) -> Frame {
    let reply = c.call(args);
    t.push(format!("{}: {}", args.join(" "), reply.text()));
    reply
}

fn int(c: &mut RawConn, args: &[&str]) -> i64 {
    match c.call(args) {
        Frame::Integer(n) => n,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn info_field(c: &mut RawConn, section: &str, field: &str) -> i64 {
    let info = c.call(&["INFO", section]).text();
    info.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
}

/// Polls `probe` until it answers true, at most [`POLL_BOUND`].
fn wait_for(what: &str, mut probe: impl FnMut() -> bool) {
    let start = Instant::now();
    while !probe() {
        assert!(start.elapsed() < POLL_BOUND, "waited {POLL_BOUND:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A connection subscribed to `__keyevent@0__:expired`.
fn subscriber(addr: SocketAddr) -> RawConn {
    let mut sub = RawConn::connect(addr).expect("connect");
    sub.call(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    sub
}

/// The keys of the `expired` messages that arrive within `quiet` of each other, sorted (the
/// order of a cycle's deletions is each server's own).
fn expired_messages(sub: &mut RawConn, quiet: Duration) -> Vec<String> {
    sub.stream().set_read_timeout(Some(quiet)).expect("timeout");
    let mut keys = Vec::new();
    while let Ok(Frame::Array(Some(parts))) = sub.read_frame() {
        keys.push(parts.last().map(Frame::text).unwrap_or_default());
    }
    sub.stream().set_read_timeout(Some(REPLY_TIMEOUT)).expect("timeout");
    keys.sort();
    keys
}

/// A fresh keyspace with `notify-keyspace-events Ex`, the short-TTL keys and one without a TTL.
fn prepare(c: &mut RawConn) {
    for args in [&["FLUSHALL"][..], &["CONFIG", "RESETSTAT"], &["CONFIG", "SET", "notify-keyspace-events", "Ex"]] {
        c.call(args);
    }
    for k in SHORT {
        c.call(&["SET", k, "v", "PX", "100"]);
    }
    c.call(&["SET", "keep", "v"]);
}

/// What a client sees of the short-TTL keys once past their TTL, without touching them first.
fn look(t: &mut Vec<String>, c: &mut RawConn, sub: &mut RawConn, label: &str) {
    t.push(format!("{label}: dbsize {}", int(c, &["DBSIZE"])));
    // keys= and expires= count stored keys, as DBSIZE does (avg_ttl is Redis's estimate).
    let keyspace = c.call(&["INFO", "keyspace"]).text();
    let db0 = keyspace.lines().find_map(|l| l.strip_prefix("db0:")).and_then(|l| l.split(",avg_ttl").next());
    t.push(format!("{label}: keyspace {db0:?}"));
    t.push(format!("{label}: expired_keys {}", info_field(c, "stats", "expired_keys")));
    t.push(format!("{label}: messages {:?}", expired_messages(sub, Duration::from_millis(300))));
}

fn client_pause_scenario(addr: SocketAddr) -> Vec<String> {
    let mut c = RawConn::connect(addr).expect("connect");
    let mut sub = subscriber(addr);
    let mut t = Vec::new();
    prepare(&mut c);
    step(&mut t, &mut c, &["CLIENT", "PAUSE", "60000", "WRITE"]);
    std::thread::sleep(Duration::from_millis(400));
    look(&mut t, &mut c, &mut sub, "paused, past the TTLs");
    for args in [&["GET", "k0"][..], &["TTL", "k1"], &["EXISTS", "k2", "k3"], &["KEYS", "*"], &["GET", "keep"]] {
        step(&mut t, &mut c, args);
    }
    look(&mut t, &mut c, &mut sub, "paused, after reading them");
    step(&mut t, &mut c, &["CLIENT", "UNPAUSE"]);
    wait_for("the expired keys to go after UNPAUSE", || int(&mut c, &["DBSIZE"]) == 1);
    t.push(format!("unpaused: expired_keys {}", info_field(&mut c, "stats", "expired_keys")));
    t.push(format!("unpaused: messages {:?}", expired_messages(&mut sub, Duration::from_millis(500))));
    t
}

fn active_expire_scenario(addr: SocketAddr) -> Vec<String> {
    let mut c = RawConn::connect(addr).expect("connect");
    let mut sub = subscriber(addr);
    let mut t = Vec::new();
    step(&mut t, &mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    prepare(&mut c);
    std::thread::sleep(Duration::from_millis(400));
    look(&mut t, &mut c, &mut sub, "active expiry off, past the TTLs");
    // Lazy expiry still works: the read deletes the key, counts it and announces it.
    step(&mut t, &mut c, &["GET", "k0"]);
    look(&mut t, &mut c, &mut sub, "after GET k0");
    // So do the lookups that leave the access clock alone (Redis's LOOKUP_NOTOUCH).
    for args in [&["EXISTS", "k1"][..], &["TYPE", "k2"], &["TTL", "k3"]] {
        step(&mut t, &mut c, args);
    }
    look(&mut t, &mut c, &mut sub, "after EXISTS, TYPE and TTL");
    step(&mut t, &mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    wait_for("active expiry to take the rest", || int(&mut c, &["DBSIZE"]) == 1);
    t.push(format!("active expiry on: expired_keys {}", info_field(&mut c, "stats", "expired_keys")));
    t.push(format!("active expiry on: messages {:?}", expired_messages(&mut sub, Duration::from_millis(500))));
    t
}

/// Active expiry with nothing listening (no notifications, no tracking): the keys still go on
/// their own, as Redis's `hz` cycle takes them.
fn plain_active_expiry_scenario(addr: SocketAddr) -> Vec<String> {
    let mut c = RawConn::connect(addr).expect("connect");
    let mut t = Vec::new();
    for args in [&["FLUSHALL"][..], &["CONFIG", "RESETSTAT"], &["CONFIG", "SET", "notify-keyspace-events", ""]] {
        c.call(args);
    }
    for k in SHORT {
        c.call(&["SET", k, "v", "PX", "100"]);
    }
    c.call(&["SET", "keep", "v"]);
    wait_for("active expiry to take the short keys untouched", || int(&mut c, &["DBSIZE"]) == 1);
    t.push(format!("expired_keys {}", info_field(&mut c, "stats", "expired_keys")));
    step(&mut t, &mut c, &["KEYS", "*"]);
    t
}

fn check_same(name: &str, redis: &[String], ours: &[String]) {
    for (i, (r, o)) in redis.iter().zip(ours).enumerate() {
        assert_eq!(r, o, "{name}: step {i} differs\nredis: {redis:#?}\nours:  {ours:#?}");
    }
    assert_eq!(redis.len(), ours.len(), "{name}");
}

#[test]
fn client_pause_keeps_expiring_keys_until_unpause_like_redis() {
    let Some((redis, ours)) = both(&[]) else { return };
    let (r, o) = (client_pause_scenario(redis.addr()), client_pause_scenario(ours.addr()));
    assert!(r.iter().any(|l| l == "paused, after reading them: dbsize 6"), "{r:#?}");
    check_same("CLIENT PAUSE WRITE", &r, &o);
}

#[test]
fn debug_set_active_expire_0_leaves_keys_to_lazy_expiry_like_redis() {
    let Some((redis, ours)) = both(&[]) else { return };
    let (r, o) = (active_expire_scenario(redis.addr()), active_expire_scenario(ours.addr()));
    assert!(r.iter().any(|l| l == "after GET k0: dbsize 5"), "{r:#?}");
    check_same("DEBUG SET-ACTIVE-EXPIRE 0", &r, &o);
}

#[test]
fn keys_expire_untouched_with_nothing_listening_like_redis() {
    let Some((redis, ours)) = both(&[]) else { return };
    let (r, o) = (plain_active_expiry_scenario(redis.addr()), plain_active_expiry_scenario(ours.addr()));
    assert_eq!(r[0], "expired_keys 5", "{r:#?}");
    check_same("active expiry", &r, &o);
}

fn fill(c: &mut RawConn, n: usize, extra: &[&str]) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(2_000) {
        let cmds: Vec<Vec<String>> = chunk
            .iter()
            .map(|i| {
                let mut args = vec!["SET".to_owned(), format!("key:{i}"), "v".repeat(32)];
                args.extend(extra.iter().map(|s| (*s).to_owned()));
                args
            })
            .collect();
        for reply in c.pipeline(&cmds).expect("pipeline") {
            assert_eq!(reply, Frame::Simple(b"OK".to_vec()));
        }
    }
}

fn maxmemory_scenario(addr: SocketAddr) -> Vec<String> {
    const KEYS: i64 = 20_000;
    let mut c = RawConn::connect(addr).expect("connect");
    let mut t = Vec::new();
    c.call(&["FLUSHALL"]);
    fill(&mut c, KEYS as usize, &[]);
    c.call(&["CONFIG", "RESETSTAT"]);
    let used = info_field(&mut c, "memory", "used_memory");
    step(&mut t, &mut c, &["CLIENT", "PAUSE", "60000", "WRITE"]);
    // CONFIG SET is not held; its evictions wait for the end of the pause.
    let set = c.call(&["CONFIG", "SET", "maxmemory", &(used / 2).to_string()]);
    t.push(format!("CONFIG SET maxmemory <half the used memory>: {}", set.text()));
    std::thread::sleep(Duration::from_millis(300));
    t.push(format!("paused: dbsize {}", int(&mut c, &["DBSIZE"])));
    t.push(format!("paused: evicted_keys {}", info_field(&mut c, "stats", "evicted_keys")));
    step(&mut t, &mut c, &["CLIENT", "UNPAUSE"]);
    wait_for("the evictions after UNPAUSE", || {
        c.call(&["PING"]);
        info_field(&mut c, "stats", "evicted_keys") > 0 && int(&mut c, &["DBSIZE"]) < KEYS
    });
    t.push("unpaused: evicted".into());
    c.call(&["CONFIG", "SET", "maxmemory", "0"]);
    t
}

#[test]
fn a_smaller_maxmemory_evicts_nothing_until_unpause_like_redis() {
    let Some((redis, ours)) = both(&[("maxmemory-policy", "allkeys-lru")]) else { return };
    let (r, o) = (maxmemory_scenario(redis.addr()), maxmemory_scenario(ours.addr()));
    assert!(r.iter().any(|l| l == "paused: evicted_keys 0"), "{r:#?}");
    check_same("CONFIG SET maxmemory during CLIENT PAUSE", &r, &o);
}

fn latest_events(c: &mut RawConn) -> Vec<String> {
    match c.call(&["LATENCY", "LATEST"]) {
        Frame::Array(Some(rows)) => rows
            .iter()
            .filter_map(|r| match r {
                Frame::Array(Some(fields)) => fields.first().map(Frame::text),
                _ => None,
            })
            .collect(),
        other => panic!("LATENCY LATEST: {other:?}"),
    }
}

/// 30,000 keys expiring at the same instant make one slow active-expiry cycle on both servers.
#[test]
fn a_mass_expiry_shows_as_an_expire_cycle_in_the_latency_monitor() {
    let Some((redis, ours)) = both(&[("latency-monitor-threshold", "1")]) else { return };
    for (name, addr) in [("redis", redis.addr()), ("ours", ours.addr())] {
        let mut c = RawConn::connect(addr).expect("connect");
        // With `x` notifications on, our background expiry cycle runs as Redis's always does.
        c.call(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
        let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis();
        let at = (unix_ms + 4_000).to_string();
        fill(&mut c, 30_000, &["PXAT", &at]);
        c.call(&["LATENCY", "RESET"]);
        wait_for("the keys to expire", || int(&mut c, &["DBSIZE"]) == 0);
        let events = latest_events(&mut c);
        assert!(events.iter().any(|e| e == "expire-cycle"), "{name}: LATENCY LATEST {events:?}");
        let history = c.call(&["LATENCY", "HISTORY", "expire-cycle"]);
        assert!(matches!(history, Frame::Array(Some(ref v)) if !v.is_empty()), "{name}: {history:?}");
        let doctor = c.call(&["LATENCY", "DOCTOR"]).text();
        assert!(doctor.contains(". expire-cycle: ") && doctor.contains("'CONFIG SET hz 100'"), "{name}: {doctor}");
    }
}

/// A write that evicts thousands of keys at once is an `eviction-cycle` (ours evicts inside the
/// write, so the sample is that command's time).
#[test]
fn a_write_that_evicts_many_keys_shows_as_an_eviction_cycle() {
    let opts = ServerOpts {
        maxmemory: Some(8 << 20),
        maxmemory_policy: Some("allkeys-lru".into()),
        directives: vec![("latency-monitor-threshold".into(), "1".into())],
        ..ServerOpts::default()
    };
    let ours = OurServer::start(&opts);
    let mut c = RawConn::connect(ours.addr()).expect("connect");
    fill(&mut c, 60_000, &[]);
    c.call(&["CONFIG", "RESETSTAT"]);
    c.call(&["LATENCY", "RESET"]);
    let big = "x".repeat(600 << 10);
    assert_eq!(c.call(&["SET", "big", &big]), Frame::Simple(b"OK".to_vec()));
    let evicted = info_field(&mut c, "stats", "evicted_keys");
    assert!(evicted > 1_000, "the write evicted {evicted} keys");
    let events = latest_events(&mut c);
    assert!(events.iter().any(|e| e == "eviction-cycle"), "LATENCY LATEST {events:?}");
    let doctor = c.call(&["LATENCY", "DOCTOR"]).text();
    assert!(doctor.contains(". eviction-cycle: ") && doctor.contains("sudden memory pressure"), "{doctor}");
}

/// Sends a Memcached request and reads what arrives within `within` (empty: nothing yet).
fn mc(c: &mut std::net::TcpStream, req: &str, within: Duration) -> String {
    use std::io::{Read, Write};
    if !req.is_empty() {
        c.write_all(req.as_bytes()).expect("write");
    }
    c.set_read_timeout(Some(within)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = c.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.ends_with(b"\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A pause holds Memcached writes (WRITE) and every request (ALL) until it ends, as it holds RESP
/// clients, so the shared dataset stays static; held clients count in `blocked_clients`.
#[test]
fn a_pause_holds_memcached_writes_too() {
    let mc_port = free_port();
    let opts = ServerOpts { directives: vec![("memcached-port".into(), mc_port.to_string())], ..ServerOpts::default() };
    let ours = OurServer::start(&opts);
    let mc_addr = loopback(mc_port);
    assert!(wait_for_port(mc_addr, || true), "the memcached port did not open");
    let mut c = RawConn::connect(ours.addr()).expect("connect");
    let mut writer = std::net::TcpStream::connect(mc_addr).expect("connect");
    let mut reader = std::net::TcpStream::connect(mc_addr).expect("connect");
    let short = Duration::from_millis(300);
    assert_eq!(mc(&mut writer, "set a 0 0 1\r\nx\r\n", REPLY_TIMEOUT), "STORED\r\n");

    c.call(&["CLIENT", "PAUSE", "60000", "WRITE"]);
    assert_eq!(mc(&mut writer, "set b 0 0 1\r\ny\r\n", short), "", "a write ran during a WRITE pause");
    let mut got = mc(&mut reader, "get a\r\n", REPLY_TIMEOUT);
    while !got.ends_with("END\r\n") {
        let more = mc(&mut reader, "", REPLY_TIMEOUT);
        assert!(!more.is_empty(), "a read was held by a WRITE pause: {got:?}");
        got.push_str(&more);
    }
    assert_eq!(got, "VALUE a 0 1\r\nx\r\nEND\r\n");
    assert_eq!(info_field(&mut c, "clients", "blocked_clients"), 1);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    c.call(&["CLIENT", "UNPAUSE"]);
    assert_eq!(mc(&mut writer, "", REPLY_TIMEOUT), "STORED\r\n");
    assert_eq!(int(&mut c, &["DBSIZE"]), 2);

    c.call(&["CLIENT", "PAUSE", "400", "ALL"]);
    let start = Instant::now();
    assert_eq!(mc(&mut reader, "version\r\n", REPLY_TIMEOUT).split(' ').next(), Some("VERSION"));
    assert!(start.elapsed() >= Duration::from_millis(300), "a read ran during an ALL pause");
}
