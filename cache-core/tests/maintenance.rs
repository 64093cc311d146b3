//! The maintenance switches: a maintenance pause (`Cache::pause_maintenance`, Redis's CLIENT
//! PAUSE) lets no entry leave on its own, and active expiry off (`Cache::set_active_expiry`,
//! Redis's DEBUG SET-ACTIVE-EXPIRE 0) leaves expired entries to the operations that meet them.
//! Time is a `MockClock`; what left is seen through the eviction listener and the statistics.

use cache_core::{Cache, EvictionPolicy, MockClock, RemovalCause};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Log = Arc<Mutex<Vec<(u64, RemovalCause)>>>;

fn cache(clock: &MockClock, capacity: u64, policy: EvictionPolicy, shards: usize) -> (Cache<u64, u64>, Log) {
    let log: Log = Arc::default();
    let sink = log.clone();
    let cache = Cache::builder()
        .max_capacity(capacity)
        .eviction_policy(policy)
        .shards(shards)
        .clock(clock.clone())
        .record_stats()
        .eviction_listener(move |k, _, cause| sink.lock().unwrap().push((k, cause)))
        .build();
    (cache, log)
}

fn left(log: &Log, cause: RemovalCause) -> usize {
    log.lock().unwrap().iter().filter(|(_, c)| *c == cause).count()
}

const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_pause_keeps_expired_entries_invisible_and_in_place_until_it_ends() {
    for policy in [EvictionPolicy::TinyLfu, EvictionPolicy::Lru] {
        let clock = MockClock::new();
        let (cache, log) = cache(&clock, 1_000, policy, 4);
        for k in 0..100 {
            cache.insert_with_ttl(k, k, SEC);
        }
        cache.insert(1_000, 1_000);
        cache.pause_maintenance(Duration::from_secs(60));
        assert!(cache.maintenance_paused());
        clock.advance(3 * SEC);
        // Every way of meeting them: reads, lookups, operations on other keys, the periodic task.
        for k in 0..100 {
            assert_eq!(cache.get(&k), None, "{policy:?}: an expired entry was returned");
            assert_eq!(cache.peek(&k), None);
            assert!(!cache.contains_key(&k));
            assert_eq!(cache.ttl(&k), None);
            assert_eq!(cache.compute(k, |slot| slot.value().copied()), None);
            assert!(!cache.set_ttl(&k, Some(SEC)));
            assert_eq!(cache.remove(&k), None);
        }
        cache.run_pending_tasks();
        for k in 2_000..2_100 {
            cache.insert(k, k);
            cache.get(&k);
        }
        assert!(cache.scan(0, 10_000).1.iter().all(|(k, _)| *k >= 1_000), "a scan returned an expired entry");
        assert_eq!(cache.len(), 201, "{policy:?}: an entry left during the pause");
        assert_eq!(left(&log, RemovalCause::Expired), 0);
        assert_eq!(cache.stats().expired.count, 0);
        // Resumed: the periodic task reclaims them all.
        cache.resume_maintenance();
        assert!(!cache.maintenance_paused());
        cache.run_pending_tasks();
        assert_eq!(cache.len(), 101);
        assert_eq!(left(&log, RemovalCause::Expired), 100);
        assert_eq!(cache.stats().expired.count, 100);
    }
}

#[test]
fn a_write_over_a_kept_expired_entry_replaces_it() {
    let clock = MockClock::new();
    let (cache, log) = cache(&clock, 100, EvictionPolicy::TinyLfu, 1);
    cache.insert_with_ttl(1, 10, SEC);
    cache.insert_with_ttl(2, 20, SEC);
    cache.pause_maintenance(Duration::from_secs(60));
    clock.advance(2 * SEC);
    cache.insert(1, 11);
    cache.compute(2, |slot| {
        assert!(slot.value().is_none(), "an expired entry reached a compute");
        slot.set(21);
    });
    assert_eq!((cache.get(&1), cache.get(&2)), (Some(11), Some(21)));
    assert_eq!(cache.len(), 2, "the old entries were not replaced");
    assert_eq!(left(&log, RemovalCause::Expired), 2, "the old entries leave as expired");
    cache.resume_maintenance();
    cache.run_pending_tasks();
    assert_eq!(cache.len(), 2);
}

#[test]
fn a_pause_ends_at_its_deadline_by_itself() {
    let clock = MockClock::new();
    let (cache, log) = cache(&clock, 100, EvictionPolicy::TinyLfu, 1);
    cache.insert_with_ttl(1, 1, SEC);
    cache.pause_maintenance(5 * SEC);
    clock.advance(2 * SEC);
    cache.run_pending_tasks();
    assert_eq!(cache.len(), 1);
    clock.advance(4 * SEC);
    assert!(!cache.maintenance_paused());
    cache.insert(9, 9); // an ordinary operation crossing a wheel tick reclaims it
    assert_eq!(cache.len(), 1);
    assert_eq!(left(&log, RemovalCause::Expired), 1);
    // A second call sets a new end; a zero pause is none.
    cache.pause_maintenance(10 * SEC);
    cache.pause_maintenance(Duration::ZERO);
    assert!(!cache.maintenance_paused());
}

#[test]
fn a_shrink_during_a_pause_evicts_when_it_ends_and_writes_still_make_room() {
    let clock = MockClock::new();
    let (cache, log) = cache(&clock, 2_000, EvictionPolicy::TinyLfu, 2);
    for k in 0..1_000 {
        cache.insert(k, k);
    }
    assert_eq!(cache.len(), 1_000);
    cache.pause_maintenance(Duration::from_secs(60));
    cache.set_capacity(100);
    assert_eq!(cache.capacity(), 100);
    assert_eq!(cache.len(), 1_000, "a shrink evicted during the pause");
    assert_eq!(left(&log, RemovalCause::Size), 0);
    // Inserts still make their own room: the size never grows past what it was.
    for k in 5_000..5_010 {
        cache.insert(k, k);
        assert!(cache.weighted_size() <= 1_000);
    }
    cache.resume_maintenance();
    cache.run_pending_tasks();
    assert!(cache.weighted_size() <= 100, "{} over the bound after the pause", cache.weighted_size());
    assert!(left(&log, RemovalCause::Size) >= 900);
}

#[test]
fn active_expiry_off_leaves_expired_entries_to_the_operations_that_meet_them() {
    let clock = MockClock::new();
    let (cache, log) = cache(&clock, 1_000, EvictionPolicy::TinyLfu, 1);
    assert!(cache.active_expiry());
    for k in 0..10 {
        cache.insert_with_ttl(k, k, SEC);
    }
    cache.set_active_expiry(false);
    assert!(!cache.active_expiry());
    clock.advance(2 * SEC);
    cache.run_pending_tasks();
    cache.insert(100, 100);
    cache.get(&100);
    assert_eq!(cache.len(), 11, "active expiry ran while off");
    // Lazy expiry: a read of the key reclaims it.
    assert_eq!(cache.get(&3), None);
    assert_eq!(cache.len(), 10);
    assert_eq!(left(&log, RemovalCause::Expired), 1);
    cache.set_active_expiry(true);
    cache.run_pending_tasks();
    assert_eq!(cache.len(), 1);
    assert_eq!(left(&log, RemovalCause::Expired), 10);
    // Off and paused together: the pause also stops lazy expiry; ending it leaves active expiry off.
    cache.insert_with_ttl(7, 7, SEC);
    cache.set_active_expiry(false);
    cache.pause_maintenance(Duration::from_secs(60));
    clock.advance(2 * SEC);
    assert_eq!(cache.get(&7), None);
    assert_eq!(cache.len(), 2);
    cache.resume_maintenance();
    assert!(!cache.active_expiry());
    cache.run_pending_tasks();
    assert_eq!(cache.len(), 2, "the end of a pause switched active expiry on");
    assert_eq!(cache.get(&7), None);
    assert_eq!(cache.len(), 1);
}

/// Random operations with the pause switched on and off: while paused nothing leaves except
/// what a caller's own write or remove takes, and no read ever sees an expired value.
#[test]
fn nothing_leaves_on_its_own_while_paused_under_random_operations() {
    for policy in [EvictionPolicy::TinyLfu, EvictionPolicy::Lru, EvictionPolicy::NearestExpiry] {
        let clock = MockClock::new();
        let (cache, log) = cache(&clock, 64, policy, 2);
        let mut deadline = std::collections::HashMap::new();
        let mut x = 0x9e37_79b9_u64;
        let mut paused = false;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = x % 200;
            let now = clock_now(&clock);
            let before = log.lock().unwrap().len();
            let mut by_caller = false;
            match x % 8 {
                0 | 1 => {
                    if let Some(v) = cache.get(&key) {
                        assert!(deadline.get(&key).is_none_or(|&d| d > now), "{policy:?}: expired value {v} read");
                    }
                }
                2 => {
                    let ttl = Duration::from_millis(x % 500 + 1);
                    cache.insert_with_ttl(key, x, ttl);
                    deadline.insert(key, now + ttl.as_nanos() as u64);
                    by_caller = true;
                }
                3 => {
                    cache.remove(&key);
                    by_caller = true;
                }
                4 => cache.run_pending_tasks(),
                5 => {
                    paused = !paused;
                    if paused {
                        cache.pause_maintenance(Duration::from_secs(3_600));
                    } else {
                        cache.resume_maintenance();
                    }
                }
                _ => clock.advance(Duration::from_millis(x % 40)),
            }
            let removed: Vec<_> = log.lock().unwrap()[before..].to_vec();
            if paused && !by_caller {
                assert!(removed.is_empty(), "{policy:?}: {removed:?} left on its own during a pause");
            }
            assert!(cache.weighted_size() <= 64);
        }
    }
}

fn clock_now(clock: &MockClock) -> u64 {
    use cache_core::Clock;
    clock.now_nanos()
}

/// `deadline_len` counts the entries with a deadline as `len` counts entries: a reclaimed,
/// removed or persisted entry leaves the count, a paused expired one stays in it.
#[test]
fn deadline_len_follows_ttls_removals_and_reclaims() {
    let clock = MockClock::new();
    let (cache, _log) = cache(&clock, 1_000, EvictionPolicy::TinyLfu, 4);
    for k in 0..10 {
        cache.insert_with_ttl(k, k, SEC);
    }
    cache.insert_with_ttl(10, 10, 60 * SEC);
    cache.insert(11, 11);
    assert_eq!((cache.len(), cache.deadline_len()), (12, 11));
    assert!(cache.set_ttl(&0, None));
    cache.remove(&1);
    assert_eq!((cache.len(), cache.deadline_len()), (11, 9));
    cache.pause_maintenance(Duration::from_secs(60));
    clock.advance(3 * SEC);
    cache.run_pending_tasks();
    assert_eq!((cache.len(), cache.deadline_len()), (11, 9), "paused: expired entries stay counted");
    cache.resume_maintenance();
    cache.run_pending_tasks();
    assert_eq!((cache.len(), cache.deadline_len()), (3, 1));
}
