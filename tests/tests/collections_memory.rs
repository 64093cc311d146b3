//! Lists, sets and sorted sets in the memory budget, on our server as its own process (its RSS is
//! read from `/proc/<pid>/status`):
//!
//! - `weights_follow_the_data`: one key per type grown to 1,000,000 elements; the server's
//!   `used_memory` growth (what `maxmemory` is enforced against) is within [`HONEST`] of the RSS
//!   growth, MEMORY USAGE of the key agrees with `used_memory`, and the weight falls back as the
//!   collection is popped down and to nothing when it is deleted;
//! - `noeviction_refuses_pushes_past_the_budget`: with `maxmemory` 16 MB under `noeviction`, RPUSH
//!   / SADD / ZADD batches get Redis's `-OOM` once the budget is full, while the data stays readable
//!   and DEL frees room again;
//! - `eviction_and_expiry_free_whole_collections`: with `maxmemory` 16 MB under `allkeys-lru`,
//!   writing 4x the budget as 5,000-element collections evicts whole keys: `used_memory` stays
//!   within the budget and RSS within the budget plus [`FIXED_OVERHEAD`]; a collection with a TTL
//!   disappears whole at its expiry.
//!
//! Every loop is bounded by its count and by [`TIME_BOUND`].

use std::time::{Duration, Instant};

use cache_tests::resp::{Frame, RawConn};
use cache_tests::subject::rss_bytes;
use cache_tests::{ServerOpts, Subject};

/// `used_memory` growth may differ from RSS growth by this factor either way.
const HONEST: f64 = 1.35;
/// What the process may use beyond `maxmemory` (as in `memory.rs`).
const FIXED_OVERHEAD: u64 = 32 << 20;
const TIME_BOUND: Duration = Duration::from_secs(60);
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn info(c: &mut RawConn, field: &str) -> u64 {
    let text = match c.cmd(&["INFO", "memory"]).expect("INFO") {
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO answered {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

/// The command adding elements `first..first + n` to `key` of type `kind`.
fn add(kind: &str, key: &str, first: usize, n: usize) -> Vec<String> {
    let mut cmd = vec![
        match kind {
            "list" => "RPUSH",
            "set" => "SADD",
            _ => "ZADD",
        }
        .to_owned(),
    ];
    cmd.push(key.to_owned());
    for i in first..first + n {
        if kind == "zset" {
            cmd.push(i.to_string());
        }
        cmd.push(format!("element:{i:07}"));
    }
    cmd
}

fn fill(c: &mut RawConn, kind: &str, key: &str, elements: usize) {
    let started = Instant::now();
    for first in (0..elements).step_by(10_000) {
        let batch: Vec<Vec<String>> =
            (first..(first + 10_000).min(elements)).step_by(1_000).map(|f| add(kind, key, f, 1_000)).collect();
        for r in c.pipeline(&batch).expect("fill") {
            assert!(matches!(r, Frame::Integer(_)), "{kind}: {r:?}");
        }
        assert!(started.elapsed() < TIME_BOUND, "filling {key} ran past its time bound");
    }
}

fn shrink(c: &mut RawConn, kind: &str, key: &str, by: usize) {
    let count = by.to_string();
    let cmd = match kind {
        "list" => vec!["RPOP", key, count.as_str()],
        "set" => vec!["SPOP", key, count.as_str()],
        _ => vec!["ZPOPMIN", key, count.as_str()],
    };
    assert!(matches!(c.cmd(&cmd).expect("pop"), Frame::Array(Some(_))), "{kind} pop");
}

#[test]
fn weights_follow_the_data() {
    const ELEMENTS: usize = 1_000_000;
    for kind in ["list", "set", "zset"] {
        let Some(server) = Subject::start_process(&ServerOpts::default()) else { return };
        let pid = server.pid().expect("a process");
        let mut c = RawConn::connect(server.addr()).expect("connect");
        std::thread::sleep(Duration::from_millis(300));
        let (rss0, used0) = (rss_bytes(pid).unwrap(), info(&mut c, "used_memory"));
        fill(&mut c, kind, "big", ELEMENTS);
        std::thread::sleep(Duration::from_millis(700));
        let (rss1, used1) = (rss_bytes(pid).unwrap(), info(&mut c, "used_memory"));
        let (grew_rss, grew_used) = ((rss1 - rss0) as f64, (used1 - used0) as f64);
        eprintln!(
            "{kind}: {ELEMENTS} elements: RSS +{:.1} B/elem, used_memory +{:.1} B/elem",
            grew_rss / ELEMENTS as f64,
            grew_used / ELEMENTS as f64
        );
        let ratio = grew_used / grew_rss;
        assert!((1.0 / HONEST..=HONEST).contains(&ratio), "{kind}: used_memory/RSS growth {ratio:.2}");
        let usage = match c.cmd(&["MEMORY", "USAGE", "big"]).unwrap() {
            Frame::Integer(n) => n as f64,
            other => panic!("MEMORY USAGE answered {other:?}"),
        };
        assert!((usage / grew_used - 1.0).abs() < 0.05, "{kind}: MEMORY USAGE {usage} vs used_memory +{grew_used}");
        // Popping 90% gives back (about) 90% of the weight: the structure shrinks with the data.
        shrink(&mut c, kind, "big", ELEMENTS * 9 / 10);
        let used2 = info(&mut c, "used_memory") - used0;
        assert!((used2 as f64) < grew_used * 0.25, "{kind}: after popping 90%, {used2} B of {grew_used} B remain");
        assert_eq!(c.cmd(&["DEL", "big"]).unwrap(), Frame::Integer(1));
        let used3 = info(&mut c, "used_memory");
        assert!(used3 <= used0 + 4096, "{kind}: {used3} B used after DEL, {used0} B before the fill");
    }
}

#[test]
fn noeviction_refuses_pushes_past_the_budget() {
    const MAXMEMORY: u64 = 16 << 20;
    let opts =
        ServerOpts { maxmemory: Some(MAXMEMORY), maxmemory_policy: Some("noeviction".into()), ..ServerOpts::default() };
    for kind in ["list", "set", "zset"] {
        let Some(server) = Subject::start_process(&opts) else { return };
        let mut c = RawConn::connect(server.addr()).expect("connect");
        let started = Instant::now();
        let (mut added, mut refused) = (0, false);
        // At most 4x the budget worth of elements (~30 B each), 1,000 per command.
        while added < 4 * MAXMEMORY as usize / 30 && started.elapsed() < TIME_BOUND {
            match c.cmd(&add(kind, "k", added, 1_000)).unwrap() {
                Frame::Integer(_) => added += 1_000,
                Frame::Error(e) => {
                    assert_eq!(String::from_utf8_lossy(&e), OOM, "{kind}");
                    refused = true;
                    break;
                }
                other => panic!("{kind}: {other:?}"),
            }
        }
        assert!(refused, "{kind}: {added} elements never filled a {MAXMEMORY} B budget");
        let used = info(&mut c, "used_memory");
        assert!(used <= MAXMEMORY + MAXMEMORY / 10, "{kind}: used_memory {used} past the budget");
        let card = match kind {
            "list" => c.cmd(&["LLEN", "k"]),
            "set" => c.cmd(&["SCARD", "k"]),
            _ => c.cmd(&["ZCARD", "k"]),
        }
        .unwrap();
        assert_eq!(card, Frame::Integer(added as i64), "{kind}: what was acknowledged is there");
        assert_eq!(c.cmd(&["DEL", "k"]).unwrap(), Frame::Integer(1));
        assert!(matches!(c.cmd(&add(kind, "k", 0, 10)).unwrap(), Frame::Integer(10)), "{kind}: room again");
        eprintln!("{kind}: -OOM after {added} elements, used_memory {used}");
    }
}

#[test]
fn eviction_and_expiry_free_whole_collections() {
    const MAXMEMORY: u64 = 16 << 20;
    let opts = ServerOpts {
        maxmemory: Some(MAXMEMORY),
        maxmemory_policy: Some("allkeys-lru".into()),
        ..ServerOpts::default()
    };
    let Some(server) = Subject::start_process(&opts) else { return };
    let pid = server.pid().expect("a process");
    let mut c = RawConn::connect(server.addr()).expect("connect");
    let started = Instant::now();
    let mut peak_rss = 0;
    // 5,000 elements of ~30 B: ~150 KB per key; 4x the budget is ~430 keys.
    for i in 0..430 {
        let kind = ["list", "set", "zset"][i % 3];
        let key = format!("{kind}:{i}");
        let batch: Vec<Vec<String>> = (0..5).map(|b| add(kind, &key, b * 1_000, 1_000)).collect();
        for r in c.pipeline(&batch).unwrap() {
            assert!(matches!(r, Frame::Integer(_)), "{key}: {r:?}");
        }
        peak_rss = peak_rss.max(rss_bytes(pid).unwrap_or(0));
        if started.elapsed() > TIME_BOUND {
            eprintln!("stopped at the time bound after {i} keys");
            break;
        }
    }
    let used = info(&mut c, "used_memory");
    assert!(used <= MAXMEMORY, "used_memory {used} past the budget");
    assert!(peak_rss <= MAXMEMORY + FIXED_OVERHEAD, "peak RSS {peak_rss}");
    let evicted = match c.cmd(&["INFO", "stats"]).unwrap() {
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b)
            .lines()
            .find_map(|l| l.strip_prefix("evicted_keys:").and_then(|v| v.trim().parse::<u64>().ok()))
            .unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(evicted > 0, "nothing evicted");
    // Whatever survived is whole: an evicted collection is gone, not truncated.
    for i in (0..430).step_by(7) {
        let kind = ["list", "set", "zset"][i % 3];
        let key = format!("{kind}:{i}");
        let n = match kind {
            "list" => c.cmd(&["LLEN", key.as_str()]),
            "set" => c.cmd(&["SCARD", key.as_str()]),
            _ => c.cmd(&["ZCARD", key.as_str()]),
        }
        .unwrap();
        assert!(n == Frame::Integer(0) || n == Frame::Integer(5_000), "{key}: {n:?}");
    }
    // A collection with a TTL goes whole at its expiry.
    c.cmd(&["FLUSHALL"]).unwrap();
    let used0 = info(&mut c, "used_memory");
    c.pipeline(&[add("zset", "ttl", 0, 1_000), vec!["PEXPIRE".into(), "ttl".into(), "100".into()]]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.cmd(&["ZCARD", "ttl"]).unwrap(), Frame::Integer(0));
    assert_eq!(c.cmd(&["DBSIZE"]).unwrap(), Frame::Integer(0));
    assert!(info(&mut c, "used_memory") <= used0 + 4096, "the expired collection's weight is gone");
    eprintln!("allkeys-lru: used_memory {used}, peak RSS {peak_rss}, evicted {evicted}");
}
