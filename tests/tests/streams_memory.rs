//! Streams in the memory budget, measured side by side with `redis-server` 7.0 (both as their own
//! processes; RSS from `/proc/<pid>/status`):
//!
//! - `bytes_per_entry_within_1_5x_of_redis`: 1,000,000 `XADD s * field value` (then the same with
//!   two fields) on each server: our growth of `used_memory` and of RSS per entry is at most 1.5×
//!   Redis's, and our `used_memory` growth (what `maxmemory` is enforced against) is within
//!   [`HONEST`] of our RSS growth. The figures are printed.
//! - The weight falls back as the stream is trimmed (XTRIM MAXLEN ~ to a tenth, LIMIT 0) and to nothing
//!   when it is deleted.
//!
//! Every fill is bounded by [`TIME_BOUND`].

use std::time::{Duration, Instant};

use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn};
use cache_tests::subject::rss_bytes;
use cache_tests::{ServerOpts, Subject};

/// `used_memory` growth may differ from RSS growth by this factor either way.
const HONEST: f64 = 1.35;
/// Our bytes per entry may be this many times Redis's.
const BAR: f64 = 1.5;
const ENTRIES: usize = 1_000_000;
const TIME_BOUND: Duration = Duration::from_secs(240);

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

/// Appends [`ENTRIES`] entries of `fields` to `key` (pipelined in batches of 1,000); returns the
/// growth of (`used_memory`, RSS) per entry.
fn fill(c: &mut RawConn, pid: u32, key: &str, fields: &[&str]) -> (f64, f64) {
    std::thread::sleep(Duration::from_millis(300));
    let (used0, rss0) = (info(c, "used_memory"), rss_bytes(pid).expect("RSS"));
    let started = Instant::now();
    let mut cmd = vec!["XADD".to_owned(), key.to_owned(), "*".to_owned()];
    cmd.extend(fields.iter().map(|f| (*f).to_owned()));
    let batch = vec![cmd; 1_000];
    for _ in 0..ENTRIES / 1_000 {
        for r in c.pipeline(&batch).expect("XADD") {
            assert!(matches!(r, Frame::Bulk(Some(_))), "XADD answered {r:?}");
        }
        assert!(started.elapsed() < TIME_BOUND, "filling {key} ran past its time bound");
    }
    std::thread::sleep(Duration::from_millis(700));
    let (used1, rss1) = (info(c, "used_memory"), rss_bytes(pid).expect("RSS"));
    assert_eq!(c.cmd(&["XLEN", key]).unwrap(), Frame::Integer(ENTRIES as i64));
    let per = |a: u64, b: u64| (b as f64 - a as f64) / ENTRIES as f64;
    (per(used0, used1), per(rss0, rss1))
}

#[test]
fn bytes_per_entry_within_1_5x_of_redis() {
    let Some(redis) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start_process(&ServerOpts::default()) else { return };
    let pid = ours.pid().expect("a process");
    let mut theirs = RawConn::connect(redis.addr()).expect("connect redis");
    let mut mine = RawConn::connect(ours.addr()).expect("connect ours");
    let mut s1_bytes = 0.0;
    for (key, fields) in [("s1", &["field", "value"][..]), ("s2", &["field", "value", "other", "12345"][..])] {
        let (r_used, r_rss) = fill(&mut theirs, redis.pid(), key, fields);
        let (o_used, o_rss) = fill(&mut mine, pid, key, fields);
        eprintln!(
            "XADD {key} * {}: {ENTRIES} entries: redis used_memory +{r_used:.1} B/entry, RSS +{r_rss:.1} B/entry; \
             ours used_memory +{o_used:.1} B/entry, RSS +{o_rss:.1} B/entry (ratios {:.2}, {:.2})",
            fields.join(" "),
            o_used / r_used,
            o_rss / r_rss,
        );
        assert!(o_used <= r_used * BAR, "{key}: used_memory {o_used:.1} B/entry vs redis {r_used:.1}");
        assert!(o_rss <= r_rss * BAR, "{key}: RSS {o_rss:.1} B/entry vs redis {r_rss:.1}");
        if key == "s1" {
            s1_bytes = o_used * ENTRIES as f64;
        }
        let honest = o_used / o_rss;
        assert!((1.0 / HONEST..=HONEST).contains(&honest), "{key}: used_memory/RSS growth {honest:.2}");
    }
    // Trimming to a tenth gives back (about) nine tenths; DEL gives back the rest.
    let used0 = info(&mut mine, "used_memory");
    let trimmed = mine.cmd(&["XTRIM", "s1", "MAXLEN", "~", "100000", "LIMIT", "0"]).unwrap();
    assert!(matches!(trimmed, Frame::Integer(n) if n >= 899_000), "XTRIM answered {trimmed:?}");
    let used1 = info(&mut mine, "used_memory");
    assert!(
        (used0 - used1) as f64 > s1_bytes * 0.85,
        "trimming 90% of s1 ({s1_bytes} B) freed only {} B",
        used0 - used1
    );
    assert_eq!(mine.cmd(&["DEL", "s1", "s2"]).unwrap(), Frame::Integer(2));
    let used2 = info(&mut mine, "used_memory");
    assert!(used2 < used0 / 20, "{used2} B used after DEL, {used0} B before");
}
