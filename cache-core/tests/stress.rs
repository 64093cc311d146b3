//! Bounded multi-threaded stress: mixed operations from several threads on a small cache,
//! invariants checked at the end. Bounded by operation count; no timing assertions.

use cache_core::{Cache, EvictionPolicy, RemovalCause};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

fn stress(policy: EvictionPolicy, weighted: bool) {
    const THREADS: u64 = 4;
    const OPS: u64 = 40_000;
    let evicted = Arc::new(AtomicU64::new(0));
    let counter = evicted.clone();
    let mut builder =
        Cache::builder().max_capacity(512).eviction_policy(policy).shards(4).record_stats().eviction_listener(
            move |_k: u64, _v: u64, cause| {
                if cause == RemovalCause::Size {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            },
        );
    if weighted {
        builder = builder.weigher(|_k, v: &u64| (*v % 7) as u32 + 1);
    }
    let cache = builder.build();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let cache = cache.clone();
            thread::spawn(move || {
                let mut x = t.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                for _ in 0..OPS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = x % 2048;
                    match x % 10 {
                        0..=4 => {
                            let _ = cache.get(&key);
                        }
                        5..=6 => cache.insert(key, x),
                        7 => {
                            cache.remove(&key);
                        }
                        8 => cache.compute(key, |slot| {
                            let v = slot.value().map_or(0, |v| v + 1);
                            slot.set(v);
                        }),
                        _ => {
                            let _ = cache.get_with(key, || x);
                            cache.set_ttl(&key, Some(Duration::from_secs(60)));
                        }
                    }
                    assert!(cache.weighted_size() <= cache.capacity());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a worker panicked");
    }
    let entries: Vec<(u64, u64)> = cache.iter().collect();
    assert_eq!(entries.len() as u64, cache.len());
    let weight: u64 = entries.iter().map(|(_, v)| if weighted { v % 7 + 1 } else { 1 }).sum();
    assert_eq!(weight, cache.weighted_size());
    assert!(weight <= 512);
    let stats = cache.stats();
    assert_eq!(stats.evicted.count, evicted.load(Ordering::Relaxed));
    assert_eq!(stats.inserts - stats.evicted.count - stats.expired.count - stats.invalidated.count, cache.len());
}

#[test]
fn tinylfu_survives_mixed_concurrent_load() {
    stress(EvictionPolicy::TinyLfu, false);
}

#[test]
fn lru_survives_mixed_concurrent_load() {
    stress(EvictionPolicy::Lru, false);
}

#[test]
fn weighted_cache_survives_mixed_concurrent_load() {
    stress(EvictionPolicy::TinyLfu, true);
}
