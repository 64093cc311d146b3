//! Memory is given back: our server as its own process loads 300,000 keys (16 B keys, 100 B
//! values: about 35 MB sent, pipelined), FLUSHALLs, and its RSS (`VmRSS`) must come back within 2x
//! the RSS it had fresh plus [`SLACK`], within [`SETTLE`]. Also checks the INFO memory fields that
//! report the allocator and that MEMORY PURGE answers +OK. `CACHE_TESTS_SUBJECT=redis` runs the
//! same against redis-server (which uses jemalloc too).

use std::time::{Duration, Instant};

use cache_tests::resp::{Frame, RawConn, encode_command};
use cache_tests::subject::rss_bytes;
use cache_tests::{ServerOpts, Subject};

const KEYS: usize = 300_000;
/// Absolute allowance on top of 2x the fresh RSS: the frequency sketch sized for the keys seen
/// (kept across a flush, ~1 MB here), allocator metadata and thread caches.
const SLACK: u64 = 8 << 20;
/// How long the RSS may take to come down after FLUSHALL (ours purges at once; Redis's jemalloc
/// returns pages by decay, ~10 s).
const SETTLE: Duration = Duration::from_secs(20);

fn info_field(conn: &mut RawConn, name: &str) -> String {
    let Frame::Bulk(Some(text)) = conn.cmd(&["INFO", "memory"]).expect("INFO") else { panic!("INFO memory") };
    let text = String::from_utf8(text).expect("INFO is text");
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in INFO memory:\n{text}"))
        .to_owned()
}

#[test]
fn rss_returns_near_fresh_after_flushall() {
    let Some(s) = Subject::start_process(&ServerOpts::default()) else { return };
    let pid = s.pid().expect("a process subject has a pid");
    let mut conn = RawConn::connect(s.addr()).expect("connect");
    assert_eq!(conn.cmd(&["PING"]).expect("PING"), Frame::Simple(b"PONG".to_vec()));
    let fresh = rss_bytes(pid).expect("VmRSS");
    let allocator = info_field(&mut conn, "mem_allocator");
    assert!(allocator.starts_with("jemalloc-"), "{}: mem_allocator {allocator}", s.name());
    for field in ["allocator_allocated", "allocator_active", "allocator_resident"] {
        let v: u64 = info_field(&mut conn, field).parse().expect("a byte count");
        assert!(v > 0, "{}: {field} is 0", s.name());
    }
    let frag: f64 = info_field(&mut conn, "mem_fragmentation_ratio").parse().expect("a ratio");
    assert!(frag > 0.0);

    let value = [b'v'; 100];
    for batch in (0..KEYS).collect::<Vec<_>>().chunks(1000) {
        let mut bytes = Vec::with_capacity(batch.len() * 160);
        for i in batch {
            bytes.extend(encode_command(&[&b"SET"[..], format!("key:{i:012}").as_bytes(), &value]));
        }
        conn.send_raw(&bytes).expect("send");
        for _ in batch {
            assert_eq!(conn.read_frame().expect("reply"), Frame::Simple(b"OK".to_vec()));
        }
    }
    let loaded = rss_bytes(pid).expect("VmRSS");
    assert_eq!(conn.cmd(&["FLUSHALL"]).expect("FLUSHALL"), Frame::Simple(b"OK".to_vec()));
    let bound = 2 * fresh + SLACK;
    let started = Instant::now();
    let mut after = rss_bytes(pid).expect("VmRSS");
    while after > bound && started.elapsed() < SETTLE {
        std::thread::sleep(Duration::from_millis(200));
        after = rss_bytes(pid).expect("VmRSS");
    }
    let mb = |b: u64| b as f64 / 1048576.0;
    eprintln!(
        "{}: RSS fresh {:.1} MB, {KEYS} keys {:.1} MB, after FLUSHALL {:.1} MB in {:?} (bound {:.1} MB)",
        s.name(),
        mb(fresh),
        mb(loaded),
        mb(after),
        started.elapsed(),
        mb(bound)
    );
    assert!(loaded > fresh + (20 << 20), "{}: loading {KEYS} keys grew RSS only to {loaded}", s.name());
    assert!(after <= bound, "{}: RSS {after} after FLUSHALL, fresh {fresh}, bound {bound}", s.name());
    assert_eq!(conn.cmd(&["MEMORY", "PURGE"]).expect("MEMORY PURGE"), Frame::Simple(b"OK".to_vec()));
}
