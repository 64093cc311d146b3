//! `Cache::lock`: several keys at once, atomically, without deadlock.

use cache_core::{Cache, NotHeld, RemovalCause};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

fn cache(shards: usize) -> Cache<u64, i64> {
    Cache::builder().max_capacity(100_000).shards(shards).build()
}

#[test]
fn a_locked_set_reads_and_writes_its_keys_and_refuses_others() {
    let c = cache(64);
    c.insert(1, 10);
    c.insert(2, 20);
    let mut l = c.lock([1u64, 2].iter());
    assert_eq!(l.get(&1), Ok(Some(10)));
    assert_eq!(l.compute(2, |s| s.modify(|v| *v += 1)), Ok(Some(())));
    assert_eq!(l.peek(&2), Ok(Some(21)));
    assert_eq!(l.remove(&1), Ok(Some(10)));
    // Some key among many lives in a shard that is not held: it is refused, not waited for.
    let outside = (3..1_000u64).find(|k| !l.holds(k)).expect("64 shards, two held");
    assert_eq!(l.compute(outside, |s| s.set(1)), Err(NotHeld));
    assert_eq!(l.get(&outside), Err(NotHeld));
    // Whole-cache sums take no shard lock, so they answer while shards are held (with the sizes
    // as of the last release).
    assert_eq!((c.len(), c.weighted_size()), (2, 2));
    drop(l);
    assert_eq!((c.get(&1), c.get(&2)), (None, Some(21)));
}

#[test]
fn removals_reach_the_listener_after_the_shards_are_released() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let c: Cache<u64, i64> = Cache::builder()
        .max_capacity(1_000)
        .shards(4)
        .eviction_listener(move |k, v, cause| sink.lock().unwrap().push((k, v, cause)))
        .build();
    c.insert(1, 1);
    let mut l = c.lock_all();
    l.compute(1, |s| s.set(2)).unwrap();
    l.clear();
    assert!(seen.lock().unwrap().is_empty(), "delivered while the shards were held");
    drop(l);
    let seen = seen.lock().unwrap();
    assert_eq!(&*seen, &[(1, 1, RemovalCause::Replaced), (1, 2, RemovalCause::Explicit)]);
}

#[test]
fn try_extend_takes_a_free_shard_and_never_waits_for_a_busy_one() {
    let c = cache(16);
    let mut l = c.lock([0u64].iter());
    let other = (1..1_000u64).find(|k| !l.holds(k)).unwrap();
    let (locked_tx, locked_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let c2 = c.clone();
        s.spawn(move || {
            let _held = c2.lock([other].iter());
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        locked_rx.recv().unwrap();
        assert!(!l.try_extend(&other), "the other thread holds it");
        release_tx.send(()).unwrap();
    });
    assert!(l.try_extend(&other));
    assert!(l.holds(&other) && l.compute(other, |s| s.set(5)).is_ok());
    assert!(l.try_extend(&0), "a held shard extends trivially");
}

#[test]
fn scan_and_entries_see_the_whole_cache_when_all_is_held() {
    let c = cache(8);
    for k in 0..1_000 {
        c.insert(k, k as i64);
    }
    let l = c.lock_all();
    assert!(l.holds_all());
    let (mut cursor, mut seen) = (0, Vec::new());
    loop {
        let (next, page) = l.scan(cursor, 100).unwrap();
        seen.extend(page.into_iter().map(|(k, _)| k));
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..1_000).collect::<Vec<_>>());
    assert_eq!(l.entries().len(), 1_000);
    assert_eq!(l.len(), 1_000);
    drop(l);
    assert_eq!(c.lock([1u64].iter()).scan(0, 10).err(), Some(NotHeld));
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "locked again by the thread holding it")]
fn relocking_a_held_shard_panics_in_debug_builds_instead_of_hanging() {
    let c = cache(4);
    let _l = c.lock([7u64].iter());
    c.insert(7, 1);
}

/// Threads move amounts between random pairs of accounts, each pair named in a random order, while
/// others lock every account and check the total, and single-key operations run beside them. A lock
/// order that depended on the order the keys are named would deadlock within a few thousand
/// transfers (the watchdog then fails the test instead of hanging CI); a lock that let a reader see
/// half a transfer would break the sum.
#[test]
fn transfers_in_any_key_order_never_deadlock_and_never_show_half_a_transfer() {
    const ACCOUNTS: u64 = 32;
    const TRANSFERS: u64 = 20_000;
    let c = cache(8);
    for k in 0..ACCOUNTS {
        c.insert(k, 1_000);
    }
    let total = 1_000 * ACCOUNTS as i64;
    let done = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let (finished_tx, finished_rx) = mpsc::channel();
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let (c, done, checks, finished) = (c.clone(), done.clone(), checks.clone(), finished_tx.clone());
            thread::spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t + 1);
                let mut next = move || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                };
                match t {
                    0 | 1 => {
                        for _ in 0..TRANSFERS {
                            let (a, b) = (next() % ACCOUNTS, next() % ACCOUNTS);
                            let mut l = c.lock([b, a].iter());
                            let amount = (next() % 10) as i64;
                            l.compute(a, |s| s.modify(|v| *v -= amount)).unwrap();
                            // A third account, not named up front, joins if its shard is free.
                            let extra = next() % ACCOUNTS;
                            if l.try_extend(&extra) {
                                l.compute(extra, |s| s.modify(|v| *v += 0)).unwrap();
                            }
                            l.compute(b, |s| s.modify(|v| *v += amount)).unwrap();
                        }
                    }
                    2 => {
                        while !done.load(Ordering::Relaxed) {
                            let l = c.lock((0..ACCOUNTS).collect::<Vec<_>>().iter());
                            let sum: i64 = (0..ACCOUNTS).map(|k| l.peek(&k).unwrap().unwrap()).sum();
                            assert_eq!(sum, total, "a reader saw half a transfer");
                            checks.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        while !done.load(Ordering::Relaxed) {
                            // Other keys in the same shards, and reads of the accounts.
                            let k = next() % ACCOUNTS;
                            c.insert(ACCOUNTS + k, 1);
                            assert!(c.get(&k).is_some());
                        }
                    }
                }
                finished.send(t).unwrap();
            })
        })
        .collect();
    for _ in 0..2 {
        let t = finished_rx.recv_timeout(Duration::from_secs(60)).expect("deadlock: a transfer thread never finished");
        assert!(t < 2);
    }
    done.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let l = c.lock_all();
    assert_eq!((0..ACCOUNTS).map(|k| l.peek(&k).unwrap().unwrap()).sum::<i64>(), total);
    assert!(checks.load(Ordering::Relaxed) > 0);
}
