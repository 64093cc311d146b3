//! The memory bound: our server as its own process with `maxmemory` 32 MB, flooded with a bounded
//! 4 x maxmemory of SETs (large values, then many small ones); its RSS (`VmRSS` from
//! `/proc/<pid>/status`), sampled after every pipelined batch, must stay within maxmemory plus
//! [`FIXED_OVERHEAD`]. With `noeviction`, writes past the budget get Redis's exact `-OOM` error
//! while reads, deletes and FLUSHALL keep working. `CACHE_TESTS_SUBJECT=redis` runs the same floods
//! against redis-server, which stays well inside the same bound.

use std::time::{Duration, Instant};

use cache_tests::resp::{Frame, RawConn, encode_command};
use cache_tests::subject::rss_bytes;
use cache_tests::{ServerOpts, Subject};

const MAXMEMORY: u64 = 32 << 20;
/// What the process may use beyond `maxmemory`: the executable and its libraries, the tokio runtime
/// and thread stacks, connection buffers (a 64-command batch of 16 KB values is 1 MB of input), and
/// allocator slack and fragmentation from the churn of evicted and replaced values. A debug build of
/// our server idles at a few MB; Redis 7.0 stays within a few MB of maxmemory in the same floods.
const FIXED_OVERHEAD: u64 = 32 << 20;
/// Commands per pipelined batch.
const BATCH: usize = 64;
/// Wall-time bound per flood; reaching it ends the flood early (reported, not failed).
const TIME_BOUND: Duration = Duration::from_secs(60);

const OOM: &[u8] = b"OOM command not allowed when used memory > 'maxmemory'.";

#[derive(Debug, Default)]
struct Flood {
    sent: usize,
    ok: usize,
    oom: usize,
    other: Vec<Frame>,
    peak_rss: u64,
    stopped_by_time: bool,
}

/// SETs `key:<i>` = `value_len` bytes until `total` bytes of key+value were written (or, when
/// `stop_on_oom`, until the first OOM), in pipelined batches, sampling the RSS of `pid` after each.
fn flood(conn: &mut RawConn, pid: u32, value_len: usize, total: u64, stop_on_oom: bool) -> Flood {
    let value = vec![b'v'; value_len];
    let per_key = u64::try_from(value_len + 16).unwrap_or(u64::MAX);
    let count = usize::try_from(total / per_key).unwrap_or(usize::MAX);
    let started = Instant::now();
    let mut f = Flood::default();
    while f.sent < count {
        if started.elapsed() > TIME_BOUND {
            f.stopped_by_time = true;
            eprintln!("flood stopped at its time bound after {} of {count} SETs", f.sent);
            break;
        }
        let n = BATCH.min(count - f.sent);
        let mut batch = Vec::with_capacity(n * (value_len + 40));
        for i in f.sent..f.sent + n {
            batch.extend(encode_command(&[&b"SET"[..], format!("key:{i:012}").as_bytes(), &value]));
        }
        conn.send_raw(&batch).expect("send batch");
        for _ in 0..n {
            match conn.read_frame().expect("reply") {
                Frame::Simple(s) if s == b"OK" => f.ok += 1,
                Frame::Error(e) if e == OOM => f.oom += 1,
                other => f.other.push(other),
            }
        }
        f.sent += n;
        f.peak_rss = f.peak_rss.max(rss_bytes(pid).expect("read VmRSS"));
        if stop_on_oom && f.oom > 0 {
            break;
        }
    }
    f
}

fn start(policy: &str) -> Option<(Subject, u32, RawConn)> {
    let opts =
        ServerOpts { maxmemory: Some(MAXMEMORY), maxmemory_policy: Some(policy.to_owned()), ..ServerOpts::default() };
    let s = Subject::start_process(&opts)?;
    let pid = s.pid().expect("a process subject has a pid");
    let conn = RawConn::connect(s.addr()).expect("connect");
    Some((s, pid, conn))
}

fn assert_rss_bound(name: &str, f: &Flood) {
    let bound = MAXMEMORY + FIXED_OVERHEAD;
    eprintln!(
        "{name}: {} SETs, peak RSS {:.1} MB (bound {:.1} MB)",
        f.sent,
        f.peak_rss as f64 / 1048576.0,
        bound as f64 / 1048576.0
    );
    assert!(
        f.peak_rss <= bound,
        "{name}: peak RSS {} bytes exceeds maxmemory {MAXMEMORY} + fixed overhead {FIXED_OVERHEAD}",
        f.peak_rss
    );
}

fn evicting_flood(value_len: usize) {
    let Some((s, pid, mut conn)) = start("allkeys-lru") else { return };
    let f = flood(&mut conn, pid, value_len, 4 * MAXMEMORY, false);
    assert!(
        f.other.is_empty() && f.oom == 0,
        "{}: unexpected replies {:?}",
        s.name(),
        &f.other[..f.other.len().min(5)]
    );
    assert_eq!(f.ok, f.sent);
    assert_rss_bound(s.name(), &f);
    // Evictions happened, and the newest key is there.
    let size = conn.cmd(&["DBSIZE"]).expect("DBSIZE");
    let Frame::Integer(size) = size else { panic!("DBSIZE replied {size:?}") };
    assert!(usize::try_from(size).unwrap_or(0) < f.sent, "{}: nothing was evicted ({size} keys)", s.name());
    let last = format!("key:{:012}", f.sent - 1);
    assert_eq!(conn.cmd(&["STRLEN", &last]).expect("STRLEN"), Frame::Integer(value_len as i64));
}

#[test]
fn rss_bounded_under_a_flood_of_large_values() {
    evicting_flood(16 * 1024);
}

#[test]
fn rss_bounded_under_a_flood_of_small_values() {
    evicting_flood(200);
}

#[test]
fn noeviction_refuses_writes_with_oom_and_keeps_serving_reads() {
    let Some((s, pid, mut conn)) = start("noeviction") else { return };
    let f = flood(&mut conn, pid, 1024, 2 * MAXMEMORY, true);
    assert!(f.other.is_empty(), "{}: unexpected replies {:?}", s.name(), &f.other[..f.other.len().min(5)]);
    assert!(f.oom > 0, "{}: {} SETs of 2 x maxmemory and no -OOM", s.name(), f.sent);
    assert!(f.ok > 0);
    assert_rss_bound(s.name(), &f);
    let value = Frame::Bulk(Some(vec![b'v'; 1024]));
    // At the budget, a write of 1 MB fails with the exact error, whatever the command. (A tiny write
    // may still fit: Redis counts transient buffers in used memory, so its margin moves a little.)
    let oom = Frame::Error(OOM.to_vec());
    let mb = vec![b'w'; 1 << 20];
    assert_eq!(conn.cmd(&[&b"SET"[..], b"another", &mb]).expect("SET"), oom);
    assert_eq!(conn.cmd(&[&b"APPEND"[..], b"key:000000000000", &mb]).expect("APPEND"), oom);
    assert_eq!(conn.cmd(&[&b"HSET"[..], b"h", b"f", &mb]).expect("HSET"), oom);
    assert_eq!(conn.cmd(&[&b"SET"[..], b"key:000000000000", &mb]).expect("SET"), oom);
    assert_eq!(conn.cmd(&["GET", "key:000000000000"]).expect("GET"), value);
    assert_eq!(conn.cmd(&["EXISTS", "key:000000000001"]).expect("EXISTS"), Frame::Integer(1));
    assert_eq!(conn.cmd(&["DEL", "key:000000000001"]).expect("DEL"), Frame::Integer(1));
    assert_eq!(conn.cmd(&["FLUSHALL"]).expect("FLUSHALL"), Frame::Simple(b"OK".to_vec()));
    assert_eq!(conn.cmd(&["SET", "another", "x"]).expect("SET"), Frame::Simple(b"OK".to_vec()));
}
