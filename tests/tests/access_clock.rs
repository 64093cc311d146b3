//! The per-key access clock against redis-server 7.0.15: OBJECT FREQ / IDLETIME, DEBUG OBJECT's
//! `lru_seconds_idle`, RESTORE's IDLETIME / FREQ, and the RDB `IDLE` / `FREQ` records in both
//! directions, under LRU, LFU and noeviction policies.
//!
//! Both servers get the same commands; replies are compared exactly where Redis is deterministic
//! (FREQ 5 after SET, 6 after one GET, FREQ values carried by RESTORE and files, errors) and within
//! one second where they count seconds (IDLETIME after real waits of ~2 s, no `DEBUG SLEEP`, and
//! after RESTORE IDLETIME 1000). Values are non-integers: Redis shares one object (and one clock)
//! among the small integers when `maxmemory` is 0, which we do not mirror. Bounds: a few dozen
//! commands per server, two waits of ~2.2 s, two SAVEs each way; about 10 s in a debug build.

use cache_tests::ServerOpts;
use cache_tests::ours::OurServer;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("access-clock-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Self(p)
    }
    fn arg(&self) -> String {
        self.0.display().to_string()
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// redis-server and our server, both under `policy`, with DEBUG enabled, saving into `dir`.
fn pair(policy: &str, dir: Option<&Scratch>) -> Option<(RedisServer, OurServer)> {
    let mut args =
        vec!["--maxmemory-policy".to_owned(), policy.to_owned(), "--enable-debug-command".into(), "yes".into()];
    let mut directives = vec![("enable-debug-command".to_owned(), "yes".to_owned())];
    if let Some(d) = dir {
        args.extend(["--dir".to_owned(), d.arg()]);
        directives.push(("dir".into(), d.arg()));
    }
    let redis = RedisServer::start(&args)?;
    let ours =
        OurServer::start(&ServerOpts { maxmemory_policy: Some(policy.into()), directives, ..ServerOpts::default() });
    Some((redis, ours))
}

fn conns(redis: &RedisServer, ours: &OurServer) -> (RawConn, RawConn) {
    (RawConn::connect(redis.addr()).expect("connect redis"), RawConn::connect(ours.addr()).expect("connect ours"))
}

/// Runs `cmd` on both and asserts the same reply.
fn same(r: &mut RawConn, o: &mut RawConn, cmd: &[&[u8]]) -> Frame {
    let (want, got) = (r.cmd(cmd).expect("redis"), o.cmd(cmd).expect("ours"));
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&cmd.join(&b' ')));
    got
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// Runs `cmd` on both: integer replies within `tolerance` of each other.
fn close(r: &mut RawConn, o: &mut RawConn, cmd: &[&[u8]], tolerance: i64) -> i64 {
    let (want, got) = (int(&r.cmd(cmd).expect("redis")), int(&o.cmd(cmd).expect("ours")));
    assert!((got - want).abs() <= tolerance, "{}: ours {got}, redis {want}", String::from_utf8_lossy(&cmd.join(&b' ')));
    got
}

fn dump(c: &mut RawConn, key: &[u8]) -> Vec<u8> {
    match c.cmd(&[&b"DUMP"[..], key]).expect("dump") {
        Frame::Bulk(Some(p)) => p,
        other => panic!("DUMP: {other:?}"),
    }
}

/// DEBUG OBJECT's `lru_seconds_idle`.
fn debug_idle(c: &mut RawConn, key: &[u8]) -> i64 {
    let line = match c.cmd(&[&b"DEBUG"[..], b"OBJECT", key]).expect("debug object") {
        Frame::Simple(s) => String::from_utf8_lossy(&s).into_owned(),
        other => panic!("DEBUG OBJECT: {other:?}"),
    };
    let idle = line.split(' ').find_map(|w| w.strip_prefix("lru_seconds_idle:")).expect("lru_seconds_idle");
    idle.parse().expect("a number")
}

const NOT_LFU: &[u8] = b"ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

#[test]
fn lfu_counters_match_redis() {
    let Some((redis, ours)) = pair("allkeys-lfu", None) else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    let (r, o) = (&mut r, &mut o);
    same(r, o, &[b"SET", b"a", b"va"]);
    assert_eq!(same(r, o, &[b"OBJECT", b"FREQ", b"a"]), Frame::Integer(5), "a new key starts at LFU_INIT_VAL");
    same(r, o, &[b"GET", b"a"]);
    assert_eq!(same(r, o, &[b"OBJECT", b"FREQ", b"a"]), Frame::Integer(6), "the first access always counts");
    // Lookups that do not touch (LOOKUP_NOTOUCH), then one that does (TOUCH).
    for cmd in [
        &[&b"TYPE"[..], b"a"][..],
        &[b"EXISTS", b"a"],
        &[b"TTL", b"a"],
        &[b"PTTL", b"a"],
        &[b"OBJECT", b"ENCODING", b"a"],
    ] {
        same(r, o, cmd);
    }
    debug_idle(r, b"a");
    debug_idle(o, b"a");
    assert_eq!(same(r, o, &[b"OBJECT", b"FREQ", b"a"]), Frame::Integer(6));
    same(r, o, &[b"OBJECT", b"FREQ", b"missing"]);
    same(r, o, &[b"OBJECT", b"IDLETIME", b"a"]);
    same(r, o, &[b"OBJECT", b"IDLETIME", b"missing"]);
    // RESP3: the nil for a missing key is `_`.
    for c in [&mut *r, &mut *o] {
        assert!(matches!(c.cmd(&["HELLO", "3"]).expect("hello"), Frame::Map(_)));
    }
    assert_eq!(same(r, o, &[b"OBJECT", b"FREQ", b"missing"]), Frame::Null);
    same(r, o, &[b"OBJECT", b"FREQ", b"a"]);
    for c in [&mut *r, &mut *o] {
        c.cmd(&["HELLO", "2"]).expect("hello");
    }
    // SET over a key keeps counting on its old stamp (6, or 7 with probability 1/11); RESTORE
    // REPLACE starts afresh.
    same(r, o, &[b"SET", b"a", b"vb"]);
    for c in [&mut *r, &mut *o] {
        let f = int(&c.cmd(&["OBJECT", "FREQ", "a"]).expect("freq"));
        assert!((6..=7).contains(&f), "FREQ after an overwrite: {f}");
    }
    let (pr, po) = (dump(r, b"a"), dump(o, b"a"));
    let restore = |c: &mut RawConn, p: &[u8], rest: &[&[u8]]| {
        let mut cmd: Vec<&[u8]> = vec![b"RESTORE", b"b", b"0", p];
        cmd.extend_from_slice(rest);
        c.cmd(&cmd).expect("restore")
    };
    for rest in [&[&b"FREQ"[..], b"100"][..], &[b"IDLETIME", b"1000", b"REPLACE"], &[b"FREQ", b"255", b"REPLACE"]] {
        assert_eq!(restore(o, &po, rest), restore(r, &pr, rest));
        same(r, o, &[b"OBJECT", b"FREQ", b"b"]);
    }
    for bad in
        [&[&b"FREQ"[..], b"256"][..], &[b"IDLETIME", b"-1"], &[b"FREQ", b"1", b"IDLETIME", b"1"], &[b"FREQ", b"x"]]
    {
        let mut rest = bad.to_vec();
        rest.push(b"REPLACE");
        assert_eq!(restore(o, &po, &rest), restore(r, &pr, &rest));
    }
    // LFU → noeviction: the stamps keep their bits and read as an LRU clock (both servers use
    // unix minutes, so they read the same odd idle time), FREQ is refused.
    same(r, o, &[b"CONFIG", b"SET", b"maxmemory-policy", b"noeviction"]);
    assert_eq!(same(r, o, &[b"OBJECT", b"FREQ", b"b"]), Frame::Error(NOT_LFU.to_vec()));
    close(r, o, &[b"OBJECT", b"IDLETIME", b"b"], 2);
    same(r, o, &[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lfu"]);
    assert_eq!(same(r, o, &[b"OBJECT", b"FREQ", b"b"]), Frame::Integer(255));
    same(r, o, &[b"CONFIG", b"SET", b"lfu-log-factor", b"-1"]);
    same(r, o, &[b"CONFIG", b"SET", b"lfu-decay-time", b"0"]);
    same(r, o, &[b"CONFIG", b"SET", b"lfu-log-factor", b"0"]);
    for c in [&mut *r, &mut *o] {
        // Factor 0: every access counts (the counters may differ by the earlier random steps).
        let before = int(&c.cmd(&["OBJECT", "FREQ", "a"]).expect("freq"));
        c.cmd(&["GET", "a"]).expect("get");
        assert_eq!(int(&c.cmd(&["OBJECT", "FREQ", "a"]).expect("freq")), before + 1);
    }
}

fn idle_checks(policy: &str) {
    let Some((redis, ours)) = pair(policy, None) else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    let (r, o) = (&mut r, &mut o);
    for k in [&b"x"[..], b"y", b"z"] {
        same(r, o, &[b"SET", k, b"value"]);
    }
    same(r, o, &[b"OBJECT", b"IDLETIME", b"x"]);
    std::thread::sleep(Duration::from_millis(2_200));
    same(r, o, &[b"GET", b"y"]);
    same(r, o, &[b"APPEND", b"z", b"more"]);
    for cmd in [&[&b"TYPE"[..], b"x"][..], &[b"EXISTS", b"x"], &[b"TTL", b"x"], &[b"OBJECT", b"ENCODING", b"x"]] {
        same(r, o, cmd);
    }
    for cmd in [&[&b"MEMORY"[..], b"USAGE", b"x"][..], &[b"PEXPIRETIME", b"x"]] {
        r.cmd(cmd).expect("redis");
        o.cmd(cmd).expect("ours");
    }
    same(r, o, &[b"OBJECT", b"REFCOUNT", b"x"]);
    let x = close(r, o, &[b"OBJECT", b"IDLETIME", b"x"], 1);
    assert!((1..=3).contains(&x), "{policy}: x idle {x} s after a 2.2 s wait");
    assert!(close(r, o, &[b"OBJECT", b"IDLETIME", b"y"], 1) <= 1, "{policy}: GET stamps");
    assert!(close(r, o, &[b"OBJECT", b"IDLETIME", b"z"], 1) <= 1, "{policy}: a write stamps");
    let (dr, dx) = (debug_idle(r, b"x"), debug_idle(o, b"x"));
    assert!((dr - dx).abs() <= 1, "{policy}: DEBUG OBJECT lru_seconds_idle: ours {dx}, redis {dr}");
    same(r, o, &[b"OBJECT", b"FREQ", b"x"]);
    // RESTORE IDLETIME seeds the clock; FREQ is ignored under a non-LFU policy.
    let (pr, po) = (dump(r, b"x"), dump(o, b"x"));
    let restore = |c: &mut RawConn, p: &[u8], rest: &[&[u8]]| {
        let mut cmd: Vec<&[u8]> = vec![b"RESTORE", b"w", b"0", p];
        cmd.extend_from_slice(rest);
        c.cmd(&cmd).expect("restore")
    };
    assert_eq!(restore(o, &po, &[b"IDLETIME", b"1000"]), restore(r, &pr, &[b"IDLETIME", b"1000"]));
    assert!((999..=1001).contains(&close(r, o, &[b"OBJECT", b"IDLETIME", b"w"], 1)));
    assert_eq!(restore(o, &po, &[b"FREQ", b"9", b"REPLACE"]), restore(r, &pr, &[b"FREQ", b"9", b"REPLACE"]));
    assert!(close(r, o, &[b"OBJECT", b"IDLETIME", b"w"], 1) <= 1, "RESTORE REPLACE creates the key afresh");
}

#[test]
fn idle_times_match_redis_under_an_lru_policy() {
    idle_checks("allkeys-lru");
}

/// Under noeviction our core runs W-TinyLFU with buffered reads, so a GET reaches its stamp when
/// the buffer drains (the 100 ms cron, or IDLETIME itself).
#[test]
fn idle_times_match_redis_under_noeviction() {
    idle_checks("noeviction");
}

/// Keys with known access clocks (via RESTORE), written by `from` into its `dump.rdb`.
fn seed_and_save(c: &mut RawConn, lfu: bool, dir: &Path) {
    c.cmd(&[&b"SET"[..], b"template", b"some value"]).expect("set");
    // DUMP reads the key: its LFU counter goes from 5 to 6.
    let p = dump(c, b"template");
    let opts: &[(&[u8], &[u8])] = if lfu {
        &[(b"FREQ", b"0"), (b"FREQ", b"17"), (b"FREQ", b"200")]
    } else {
        &[(b"IDLETIME", b"0"), (b"IDLETIME", b"100"), (b"IDLETIME", b"5000")]
    };
    for (i, (opt, v)) in opts.iter().enumerate() {
        let key = format!("k{i}");
        let r = c.cmd(&[&b"RESTORE"[..], key.as_bytes(), b"0", &p, opt, v]).expect("restore");
        assert_eq!(r, Frame::Simple(b"OK".to_vec()));
    }
    assert_eq!(c.cmd(&["SAVE"]).expect("save"), Frame::Simple(b"OK".to_vec()));
    assert!(dir.join("dump.rdb").exists());
}

fn clocks(c: &mut RawConn, lfu: bool) -> Vec<i64> {
    ["template", "k0", "k1", "k2"]
        .iter()
        .map(|k| int(&c.cmd(&["OBJECT", if lfu { "FREQ" } else { "IDLETIME" }, k]).expect("object")))
        .collect()
}

fn assert_close(what: &str, got: &[i64], want: &[i64], tolerance: i64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tolerance, "{what}: ours {got:?}, redis {want:?}");
    }
}

/// Each server saves the same keys; each loads the other's file: the same IDLETIME / FREQ as the
/// server that loads its own.
fn rdb_both_ways(policy: &str, lfu: bool) {
    let (rd, od) = (Scratch::new(&format!("{policy}-redis")), Scratch::new(&format!("{policy}-ours")));
    let args = ["--maxmemory-policy".to_owned(), policy.to_owned(), "--dir".to_owned(), rd.arg()];
    let Some(redis) = RedisServer::start(&args) else { return };
    let ours = OurServer::start(&ServerOpts {
        maxmemory_policy: Some(policy.into()),
        directives: vec![("dir".into(), od.arg())],
        ..ServerOpts::default()
    });
    let (mut r, mut o) = conns(&redis, &ours);
    seed_and_save(&mut r, lfu, rd.path());
    seed_and_save(&mut o, lfu, od.path());
    let tolerance = if lfu { 0 } else { 1 };
    // Each file, loaded by both servers.
    for (name, dir) in [("redis's file", &rd), ("our file", &od)] {
        let Some((redis, ours)) = pair(policy, Some(dir)) else { return };
        let (mut r, mut o) = conns(&redis, &ours);
        let (want, got) = (clocks(&mut r, lfu), clocks(&mut o, lfu));
        assert_close(&format!("{policy}: {name}"), &got, &want, tolerance);
        let expected: &[i64] = if lfu { &[6, 0, 17, 200] } else { &[0, 0, 100, 5000] };
        assert_close(&format!("{policy}: {name}, as written"), &got, expected, if lfu { 0 } else { 2 });
    }
    // A file written under LRU loaded under LFU (and back): the other record is ignored, the keys
    // start afresh, on both servers.
    let other = if lfu { "allkeys-lru" } else { "allkeys-lfu" };
    let Some((redis, ours)) = pair(other, Some(&od)) else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    let (want, got) = (clocks(&mut r, !lfu), clocks(&mut o, !lfu));
    assert_close(&format!("{policy} file under {other}"), &got, &want, 1);
}

#[test]
fn rdb_idle_records_round_trip_both_ways() {
    rdb_both_ways("allkeys-lru", false);
}

#[test]
fn rdb_freq_records_round_trip_both_ways() {
    rdb_both_ways("volatile-lfu", true);
}
