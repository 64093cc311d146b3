//! Behaviour through the public API: expiry, the listener, rejection of oversized entries,
//! scans and iteration, `retain`, `invalidate_all`, statistics and refresh-after-write.

use cache_core::{Cache, EvictionPolicy, Expiry, MockClock, RemovalCause};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

type Log = Arc<Mutex<Vec<(u32, u32, RemovalCause)>>>;
type Tasks = Arc<Mutex<Vec<Box<dyn FnOnce() + Send>>>>;

fn logged(builder: cache_core::CacheBuilder<u32, u32>) -> (Cache<u32, u32>, Log) {
    let log: Log = Arc::default();
    let sink = log.clone();
    (builder.eviction_listener(move |k, v, c| sink.lock().push((k, v, c))).build(), log)
}

#[test]
fn ttl_expires_exactly_and_is_never_negative() {
    let clock = MockClock::new();
    let cache: Cache<u32, u32> =
        Cache::builder().max_capacity(100).time_to_live(Duration::from_secs(10)).clock(clock.clone()).build();
    cache.insert(1, 1);
    cache.insert_with_ttl(2, 2, Duration::from_secs(3));
    assert_eq!(cache.ttl(&1), Some(Some(Duration::from_secs(10))));
    clock.advance(Duration::from_millis(2999));
    assert_eq!(cache.ttl(&2), Some(Some(Duration::from_millis(1))));
    clock.advance(Duration::from_millis(1));
    assert_eq!(cache.get(&2), None);
    assert_eq!(cache.ttl(&2), None);
    assert_eq!(cache.get(&1), Some(1));
    clock.advance(Duration::from_secs(7));
    assert_eq!(cache.get(&1), None);
}

#[test]
fn time_to_idle_is_extended_by_reads() {
    let clock = MockClock::new();
    let cache: Cache<u32, u32> =
        Cache::builder().max_capacity(100).time_to_idle(Duration::from_secs(5)).clock(clock.clone()).build();
    cache.insert(1, 1);
    for _ in 0..4 {
        clock.advance(Duration::from_secs(4));
        assert_eq!(cache.get(&1), Some(1));
    }
    clock.advance(Duration::from_secs(5));
    assert_eq!(cache.get(&1), None);
}

#[test]
fn expired_entries_are_reclaimed_without_reads() {
    let clock = MockClock::new();
    let (cache, log) = logged(Cache::builder().max_capacity(10_000).clock(clock.clone()));
    for k in 0..1000 {
        cache.insert_with_ttl(k, k, Duration::from_millis(100 + u64::from(k)));
    }
    cache.insert(5000, 0);
    assert_eq!(cache.len(), 1001);
    clock.advance(Duration::from_secs(2));
    // Writes to other keys drive the wheel; no read of the expired keys is needed.
    for k in 6000..6100 {
        cache.insert(k, k);
    }
    cache.run_pending_tasks();
    assert_eq!(cache.len(), 101);
    assert_eq!(log.lock().iter().filter(|e| e.2 == RemovalCause::Expired).count(), 1000);
}

struct PerKey;
impl Expiry<u32, u32> for PerKey {
    fn expire_after_create(&self, key: &u32, _value: &u32) -> Option<Duration> {
        (*key > 0).then(|| Duration::from_secs(u64::from(*key)))
    }
    fn expire_after_read(&self, _key: &u32, _value: &u32, _remaining: Option<Duration>) -> Option<Duration> {
        Some(Duration::from_secs(100))
    }
}

#[test]
fn expiry_hook_sets_per_entry_deadlines_on_create_and_read() {
    let clock = MockClock::new();
    let cache: Cache<u32, u32> = Cache::builder().max_capacity(100).expiry(PerKey).clock(clock.clone()).build();
    cache.insert(0, 0);
    cache.insert(2, 2);
    cache.insert(5, 5);
    assert_eq!(cache.ttl(&0), Some(None));
    assert_eq!(cache.ttl(&2), Some(Some(Duration::from_secs(2))));
    clock.advance(Duration::from_secs(3));
    assert_eq!(cache.get(&2), None);
    assert_eq!(cache.get(&5), Some(5));
    assert_eq!(cache.ttl(&5), Some(Some(Duration::from_secs(100))));
}

#[test]
fn set_ttl_and_compute_ttl_semantics() {
    let clock = MockClock::new();
    let cache: Cache<u32, u32> = Cache::builder().max_capacity(100).clock(clock.clone()).build();
    assert!(!cache.set_ttl(&1, Some(Duration::from_secs(1))));
    cache.insert(1, 1);
    assert!(cache.set_ttl(&1, Some(Duration::from_secs(5))));
    // `set` keeps the remaining TTL (INCR), `set_with_ttl(None)` clears it (SET).
    cache.compute(1, |slot| slot.set(slot.value().unwrap() + 1));
    assert_eq!(cache.ttl(&1), Some(Some(Duration::from_secs(5))));
    cache.compute(1, |slot| slot.set_with_ttl(10, None));
    assert_eq!(cache.ttl(&1), Some(None));
    assert!(!cache.set_ttl(&1, Some(Duration::ZERO)));
    assert_eq!(cache.get(&1), None);
    // compute sees absent keys and can decline to write.
    let inserted = cache.compute(2, |slot| {
        if slot.is_present() {
            false
        } else {
            slot.set(7);
            true
        }
    });
    assert!(inserted);
    assert!(!cache.compute(2, |slot| !slot.is_present()));
    assert_eq!(cache.compute(2, |slot| slot.remove()), Some(7));
}

#[test]
fn listener_sees_every_cause_outside_the_lock() {
    let clock = MockClock::new();
    let cache: Arc<Mutex<Option<Cache<u32, u32>>>> = Arc::default();
    let reentrant = cache.clone();
    let log: Log = Arc::default();
    let sink = log.clone();
    let built: Cache<u32, u32> = Cache::builder()
        .max_capacity(2)
        .shards(1)
        .eviction_policy(EvictionPolicy::Lru)
        .clock(clock.clone())
        .eviction_listener(move |k, v, c| {
            // Calling back into the cache from the listener must not deadlock.
            if let Some(cache) = reentrant.lock().as_ref() {
                let _ = cache.peek(&k);
            }
            sink.lock().push((k, v, c));
        })
        .build();
    *cache.lock() = Some(built.clone());
    built.insert(1, 10);
    built.insert(1, 11);
    built.insert(2, 20);
    built.insert(3, 30);
    built.remove(&2);
    built.insert_with_ttl(4, 40, Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    assert_eq!(built.get(&4), None);
    assert_eq!(
        *log.lock(),
        [
            (1, 10, RemovalCause::Replaced),
            (1, 11, RemovalCause::Size),
            (2, 20, RemovalCause::Explicit),
            (4, 40, RemovalCause::Expired)
        ]
    );
    cache.lock().take();
}

#[test]
fn an_entry_heavier_than_the_capacity_is_rejected() {
    let (cache, log) = logged(Cache::builder().max_capacity(100).shards(1).weigher(|_k, v: &u32| *v));
    cache.insert(1, 60);
    cache.insert(2, 101);
    assert_eq!(cache.get(&2), None);
    assert_eq!(cache.get(&1), Some(60));
    cache.insert(1, 500);
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.weighted_size(), 0);
    assert_eq!(
        *log.lock(),
        [(2, 101, RemovalCause::Size), (1, 60, RemovalCause::Replaced), (1, 500, RemovalCause::Size)]
    );
}

#[test]
fn weighted_capacity_is_a_hard_bound() {
    let cache: Cache<u32, u32> = Cache::builder().max_capacity(1000).weigher(|_k, v: &u32| *v % 50 + 1).build();
    for k in 0..10_000u32 {
        cache.insert(k, k.wrapping_mul(2_654_435_761));
        if k % 10 == 0 {
            let _ = cache.get(&(k / 2));
        }
        assert!(cache.weighted_size() <= 1000);
    }
    let sum: u64 = cache.iter().map(|(_, v)| u64::from(v % 50 + 1)).sum();
    assert_eq!(sum, cache.weighted_size());
}

#[test]
fn scan_returns_every_key_present_throughout_exactly_once() {
    let cache: Cache<u32, u32> = Cache::builder().max_capacity(1_000_000).shards(4).build();
    for k in 0..5000 {
        cache.insert(k, k);
    }
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut churn = 100_000;
    loop {
        let (next, page) = cache.scan(cursor, 100);
        seen.extend(page.into_iter().map(|(k, _)| k));
        // Meanwhile the cache grows and loses other keys.
        for _ in 0..300 {
            cache.insert(churn, 0);
            churn += 1;
        }
        cache.remove(&(churn - 150));
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let stable: Vec<u32> = seen.iter().copied().filter(|&k| k < 5000).collect();
    let unique: HashSet<u32> = stable.iter().copied().collect();
    assert_eq!(unique.len(), 5000, "a key present for the whole scan was missed");
    assert_eq!(stable.len(), 5000, "a key was returned twice");
}

#[test]
fn retain_invalidate_all_and_iter() {
    let (cache, log) = logged(Cache::builder().max_capacity(1000));
    for k in 0..100 {
        cache.insert(k, k);
    }
    cache.retain(|k, _| k % 2 == 0);
    assert_eq!(cache.len(), 50);
    let mut keys: Vec<u32> = cache.iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..100).step_by(2).collect::<Vec<_>>());
    cache.invalidate_all();
    assert!(cache.is_empty());
    assert_eq!(cache.weighted_size(), 0);
    assert_eq!(log.lock().iter().filter(|e| e.2 == RemovalCause::Explicit).count(), 100);
    cache.insert(1, 1);
    assert_eq!(cache.get(&1), Some(1));
}

#[test]
fn statistics_count_what_happened() {
    let cache: Cache<u32, u32> = Cache::builder().max_capacity(2).shards(1).record_stats().build();
    cache.insert(1, 1);
    cache.insert(1, 2);
    let _ = cache.get(&1);
    let _ = cache.get(&9);
    let _ = cache.peek(&1);
    cache.remove(&1);
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.inserts, s.updates), (1, 1, 1, 1));
    assert_eq!(s.replaced.count, 1);
    assert_eq!(s.invalidated.count, 1);
    assert!((s.hit_ratio() - 0.5).abs() < f64::EPSILON);
}

#[test]
fn refresh_after_write_serves_stale_and_reloads_once() {
    let clock = MockClock::new();
    let reloads = Arc::new(Mutex::new(0));
    let counter = reloads.clone();
    let tasks: Tasks = Arc::default();
    let queue = tasks.clone();
    let cache: Cache<u32, u32> = Cache::builder()
        .max_capacity(100)
        .clock(clock.clone())
        .record_stats()
        .refresh_after(Duration::from_secs(10), move |_k, v| {
            *counter.lock() += 1;
            (*v < 2).then_some(v + 1)
        })
        .refresh_executor(move |task| queue.lock().push(task))
        .build();
    cache.insert(1, 0);
    clock.advance(Duration::from_secs(11));
    // Stale reads return the current value at once and queue exactly one reload.
    assert_eq!(cache.get(&1), Some(0));
    assert_eq!(cache.get(&1), Some(0));
    assert_eq!(tasks.lock().len(), 1);
    let run = |tasks: &Tasks| {
        let pending: Vec<_> = tasks.lock().drain(..).collect();
        pending.into_iter().for_each(|t| t());
    };
    run(&tasks);
    assert_eq!(cache.get(&1), Some(1));
    clock.advance(Duration::from_secs(11));
    assert_eq!(cache.get(&1), Some(1));
    run(&tasks);
    assert_eq!(cache.get(&1), Some(2));
    // A failed reload keeps the old value.
    clock.advance(Duration::from_secs(11));
    assert_eq!(cache.get(&1), Some(2));
    run(&tasks);
    assert_eq!(cache.get(&1), Some(2));
    assert_eq!(*reloads.lock(), 3);
    let stats = cache.stats();
    assert_eq!((stats.load_successes, stats.load_failures), (2, 1));
    // A write during a reload wins over the reload's result.
    clock.advance(Duration::from_secs(11));
    let _ = cache.get(&1);
    cache.insert(1, 0);
    run(&tasks);
    assert_eq!(cache.get(&1), Some(0));
}

#[test]
fn set_capacity_shrinks_before_returning_and_can_grow_again() {
    let (cache, log) = logged(Cache::builder().max_capacity(1000).shards(4));
    for k in 0..1000 {
        cache.insert(k, k);
    }
    cache.set_capacity(100);
    assert_eq!(cache.capacity(), 100);
    assert!(cache.weighted_size() <= 100);
    assert_eq!(log.lock().iter().filter(|e| e.2 == RemovalCause::Size).count() as u64, 1000 - cache.len());
    cache.set_capacity(2000);
    for k in 0..2000 {
        cache.insert(k, k);
    }
    // Keys spread unevenly over the shards, so a full cache holds a little under its bound.
    assert!(cache.len() > 1800 && cache.weighted_size() <= 2000, "{}", cache.len());
}

/// `Slot::modify` changes the value in place: the entry is re-weighed like a replace (growth
/// evicts others, a value heavier than the cache removes the entry itself), keeps its TTL, and the
/// listener hears nothing about the modification itself (no `Replaced`).
#[test]
fn modify_in_place_reweighs_without_a_replaced_removal() {
    let clock = MockClock::new();
    let (cache, log) = logged(
        Cache::builder().max_capacity(10).shards(1).weigher(|_k, v: &u32| *v).clock(clock.clone()).record_stats(),
    );
    cache.insert(1, 2);
    cache.insert_with_ttl(2, 3, Duration::from_secs(5));
    assert_eq!(cache.compute(9, |s| s.modify(|v| *v += 1)), None, "absent: f is not called");
    assert_eq!(cache.len(), 2);

    // Growth within capacity: the weight follows, nothing leaves, the TTL is kept.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        cache.compute(2, |s| s.modify(|v| {
            *v += 2;
            *v
        })),
        Some(5)
    );
    assert_eq!((cache.weighted_size(), cache.peek(&2)), (7, Some(5)));
    assert_eq!(cache.ttl(&2), Some(Some(Duration::from_secs(4))));
    assert!(log.lock().is_empty(), "{:?}", log.lock());
    let stats = cache.stats();
    assert_eq!((stats.updates, stats.removed(RemovalCause::Replaced).count), (1, 0));

    // Growth past capacity evicts the other entry (by size), never reported as replaced.
    cache.compute(2, |s| s.modify(|v| *v = 9));
    assert_eq!(cache.weighted_size(), 9);
    assert_eq!(*log.lock(), [(1, 2, RemovalCause::Size)]);

    // Shrinking gives the weight back.
    cache.compute(2, |s| s.modify(|v| *v = 1));
    assert_eq!(cache.weighted_size(), 1);

    // A value heavier than the whole cache takes the entry out, with its modified value.
    let present = cache.compute(2, |s| {
        s.modify(|v| *v = 11);
        s.is_present()
    });
    assert!(!present);
    assert_eq!((cache.len(), cache.weighted_size()), (0, 0));
    assert_eq!(log.lock().last(), Some(&(2, 11, RemovalCause::Size)));
    assert_eq!(cache.stats().removed(RemovalCause::Replaced).count, 0);
}

/// With pinned entries, `Slot::modify` asks the `evictable` predicate again (a value may become
/// pinned or not), evicts candidates to make room, and, where a replace would be refused, removes
/// the modified entry instead (an in-place change cannot be undone); pinned entries beside it stay.
#[test]
fn modify_with_pinned_entries_repins_and_removes_what_no_longer_fits() {
    // Even values are pinned; weight = value.
    let (cache, log) = logged(
        Cache::builder().max_capacity(10).shards(1).weigher(|_k, v: &u32| *v).evictable(|_k, v: &u32| v % 2 == 1),
    );
    cache.insert(1, 4);
    cache.insert(2, 3);
    assert_eq!(cache.pinned_weight(), 4);
    cache.compute(1, |s| s.modify(|v| *v = 6));
    assert_eq!((cache.pinned_weight(), cache.weighted_size()), (6, 9));
    cache.compute(1, |s| s.modify(|v| *v = 8));
    assert_eq!(*log.lock(), [(2, 3, RemovalCause::Size)], "the candidate made room");
    cache.insert(3, 1);
    cache.compute(3, |s| s.modify(|v| *v = 2)); // now pinned: 8 + 2 fits exactly
    assert_eq!((cache.pinned_weight(), cache.weighted_size()), (10, 10));
    let present = cache.compute(3, |s| {
        s.modify(|v| *v = 4); // 8 + 4 > 10: no room beside key 1
        s.is_present()
    });
    assert!(!present);
    assert_eq!(log.lock().last(), Some(&(3, 4, RemovalCause::Size)));
    assert_eq!((cache.peek(&1), cache.pinned_weight(), cache.weighted_size()), (Some(8), 8, 8));
}

/// A cache's private randomness (admission's coin against hash flooding, the LFU counter's
/// draws) is seeded from its hasher, so two caches built with the same fixed hasher make the
/// same choices: a replay (the hit-ratio benchmark) can be repeated exactly.
#[test]
fn a_fixed_hasher_makes_a_replay_repeatable() {
    let run = || {
        let cache: Cache<u32, u32, ahash::RandomState> = Cache::builder()
            .max_capacity(64)
            .shards(1)
            .record_stats()
            .hasher(ahash::RandomState::with_seeds(1, 2, 3, 4))
            .build();
        // Warm keys (read often enough for the coin: frequency ≥ 6) contending for few slots.
        let mut x = 1u32;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let key = (x % 512).min(x % 97);
            if cache.get(&key).is_none() {
                cache.insert(key, key);
            }
        }
        cache.run_pending_tasks();
        let mut keys: Vec<u32> = cache.iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        (keys, cache.stats().hits)
    };
    assert_eq!(run(), run());
}
