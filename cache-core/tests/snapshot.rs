//! `Cache::snapshot`: a point-in-time copy across shards, taken while writers run. Transfers
//! between accounts in different shards (each under `Cache::lock` of both keys) keep the total
//! constant; every snapshot must see that total exactly, which a shard-by-shard copy without the
//! all-shards read-lock phase would not (a transfer landing between two shard copies is seen
//! half). Bounded: 4 writer threads for 300 ms, snapshots back to back meanwhile.

use cache_core::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const ACCOUNTS: u64 = 512;
const START: i64 = 1_000;

#[test]
fn snapshots_see_one_consistent_state_while_transfers_run() {
    let c: Cache<u64, i64> = Cache::builder().max_capacity(100_000).shards(16).build();
    for a in 0..ACCOUNTS {
        c.insert(a, START);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let (c, stop) = (c.clone(), stop.clone());
            thread::spawn(move || {
                let mut x = 0x2545_F491_4F6C_DD1D ^ t;
                let mut moved = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (from, to) = (x % ACCOUNTS, (x >> 20) % ACCOUNTS);
                    if from == to {
                        continue;
                    }
                    let mut both = c.lock([from, to].iter());
                    both.compute(from, |s| s.modify(|v| *v -= 1)).expect("held");
                    both.compute(to, |s| s.modify(|v| *v += 1)).expect("held");
                    moved += 1;
                }
                moved
            })
        })
        .collect();
    let (started, mut snapshots) = (Instant::now(), 0);
    while started.elapsed() < Duration::from_millis(300) {
        let (mut total, mut n) = (0i64, 0u64);
        c.snapshot(|shard| {
            n += shard.len() as u64;
            total += shard.iter().map(|(_, v)| v).sum::<i64>();
        });
        assert_eq!((n, total), (ACCOUNTS, ACCOUNTS as i64 * START), "snapshot {snapshots}");
        snapshots += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let moved: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    assert!(snapshots > 0 && moved > 0, "{snapshots} snapshots, {moved} transfers");
}
