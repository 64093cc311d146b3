//! Model-based property test: random operation sequences against a simple reference model.
//!
//! For `Lru` (one shard) the resident set and every reply must equal an exact LRU model's.
//! For both policies: capacity is never exceeded, an expired entry is never returned, a value
//! returned is the last one written, `len` and `weighted_size` equal the sums over resident
//! entries, and the listener's removals (by cause) match the statistics and the entry count.

use cache_core::{Cache, EvictionPolicy, MockClock, RemovalCause};
use parking_lot::Mutex;
use proptest::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u16),
    InsertTtl(u8, u16, u16),
    Get(u8),
    Peek(u8),
    Remove(u8),
    Incr(u8),
    Modify(u8, u16),
    SetTtl(u8, Option<u16>),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..24;
    prop_oneof![
        4 => (key.clone(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => (key.clone(), any::<u16>(), 1u16..500).prop_map(|(k, v, t)| Op::InsertTtl(k, v, t)),
        4 => key.clone().prop_map(Op::Get),
        1 => key.clone().prop_map(Op::Peek),
        1 => key.clone().prop_map(Op::Remove),
        1 => key.clone().prop_map(Op::Incr),
        1 => (key.clone(), any::<u16>()).prop_map(|(k, d)| Op::Modify(k, d)),
        1 => (key, proptest::option::of(0u16..500)).prop_map(|(k, t)| Op::SetTtl(k, t)),
        1 => (1u16..300).prop_map(Op::Advance),
    ]
}

/// An exact LRU with deadlines, in milliseconds.
#[derive(Default)]
struct Model {
    order: VecDeque<u8>,
    entries: HashMap<u8, (u16, Option<u64>)>,
    now: u64,
    capacity: usize,
}

impl Model {
    fn touch(&mut self, k: u8) {
        self.order.retain(|&x| x != k);
        self.order.push_back(k);
    }

    fn write(&mut self, k: u8, v: u16, deadline: Option<u64>) {
        self.entries.insert(k, (v, deadline));
        self.touch(k);
        while self.order.len() > self.capacity {
            let victim = self.order.pop_front().unwrap();
            self.entries.remove(&victim);
        }
    }

    fn remove(&mut self, k: u8) -> Option<u16> {
        self.order.retain(|&x| x != k);
        self.entries.remove(&k).map(|(v, _)| v)
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        let now = self.now;
        let expired: Vec<u8> =
            self.entries.iter().filter(|(_, (_, d))| d.is_some_and(|d| d <= now)).map(|(&k, _)| k).collect();
        for k in expired {
            self.remove(k);
        }
    }
}

type Events = Arc<Mutex<HashMap<RemovalCause, u64>>>;

fn build(policy: EvictionPolicy, capacity: u64, weighted: bool, shards: usize) -> (Cache<u8, u16>, MockClock, Events) {
    let clock = MockClock::new();
    let events: Events = Arc::default();
    let sink = events.clone();
    let mut builder = Cache::builder()
        .max_capacity(capacity)
        .eviction_policy(policy)
        .shards(shards)
        .clock(clock.clone())
        .record_stats()
        .eviction_listener(move |_k, _v, cause| *sink.lock().entry(cause).or_default() += 1);
    if weighted {
        builder = builder.weigher(|_k, v: &u16| u32::from(*v % 5) + 1);
    }
    (builder.build(), clock, events)
}

fn check_invariants(cache: &Cache<u8, u16>, events: &Events, weighted: bool) {
    let entries: Vec<(u8, u16)> = cache.iter().collect();
    assert!(cache.weighted_size() <= cache.capacity());
    assert_eq!(cache.len(), entries.len() as u64);
    let weight: u64 = entries.iter().map(|(_, v)| if weighted { u64::from(*v % 5) + 1 } else { 1 }).sum();
    assert_eq!(cache.weighted_size(), weight);
    let stats = cache.stats();
    let events = events.lock();
    for cause in [RemovalCause::Size, RemovalCause::Expired, RemovalCause::Explicit, RemovalCause::Replaced] {
        assert_eq!(stats.removed(cause).count, events.get(&cause).copied().unwrap_or(0), "{cause:?}");
    }
    assert_eq!(stats.inserts - stats.evicted.count - stats.expired.count - stats.invalidated.count, cache.len());
}

fn run(ops: &[Op], policy: EvictionPolicy, capacity: u64, weighted: bool, shards: usize) {
    let (cache, clock, events) = build(policy, capacity, weighted, shards);
    let exact = policy == EvictionPolicy::Lru && !weighted && shards == 1;
    let mut model = Model { capacity: capacity as usize, ..Model::default() };
    // Last value written per key and its deadline: what any policy may still return.
    let mut written: HashMap<u8, (u16, Option<u64>)> = HashMap::new();
    let ms = |t: u16| Duration::from_millis(u64::from(t));
    for op in ops {
        let now = model.now;
        match *op {
            Op::Insert(k, v) => {
                cache.insert(k, v);
                model.write(k, v, None);
                written.insert(k, (v, None));
            }
            Op::InsertTtl(k, v, t) => {
                cache.insert_with_ttl(k, v, ms(t));
                model.write(k, v, Some(now + u64::from(t)));
                written.insert(k, (v, Some(now + u64::from(t))));
            }
            Op::Get(k) | Op::Peek(k) => {
                let got = if matches!(op, Op::Get(_)) { cache.get(&k) } else { cache.peek(&k) };
                if let Some(v) = got {
                    let (last, deadline) = written[&k];
                    assert_eq!(v, last, "returned a stale value for {k}");
                    assert!(deadline.is_none_or(|d| d > now), "returned an expired entry {k}");
                }
                if exact {
                    let want = model.entries.get(&k).map(|e| e.0);
                    if want.is_some() && matches!(op, Op::Get(_)) {
                        model.touch(k);
                    }
                    assert_eq!(got, want, "get({k})");
                }
            }
            Op::Remove(k) => {
                let got = cache.remove(&k);
                let want = model.remove(k);
                written.remove(&k);
                if exact {
                    assert_eq!(got, want, "remove({k})");
                }
            }
            Op::Incr(k) => {
                let after = cache.compute(k, |slot| {
                    let next = slot.value().map_or(1, |v| v.wrapping_add(1));
                    slot.set(next);
                    next
                });
                let deadline = cache.ttl(&k).and_then(|ttl| ttl.map(|d| now + d.as_millis() as u64));
                if exact {
                    let (want, keep) = model.entries.get(&k).map_or((1, None), |&(v, d)| (v.wrapping_add(1), d));
                    assert_eq!(after, want, "incr({k})");
                    model.write(k, want, keep);
                }
                written.insert(k, (after, deadline));
            }
            Op::Modify(k, d) => {
                // In place: no new entry, the deadline kept, re-weighed like a replace.
                let after = cache.compute(k, |slot| {
                    slot.modify(|v| {
                        *v = v.wrapping_add(d);
                        *v
                    })
                });
                if exact {
                    let want = model.entries.get(&k).map(|&(v, _)| v.wrapping_add(d));
                    assert_eq!(after, want, "modify({k})");
                    if let Some(v) = want {
                        let keep = model.entries[&k].1;
                        model.write(k, v, keep);
                    }
                }
                if let (Some(v), Some(w)) = (after, written.get_mut(&k)) {
                    w.0 = v;
                }
            }
            Op::SetTtl(k, t) => {
                let alive = cache.set_ttl(&k, t.map(ms));
                let deadline = t.map(|t| now + u64::from(t));
                if exact {
                    let present = model.entries.contains_key(&k);
                    assert_eq!(alive, present && t != Some(0), "set_ttl({k})");
                    if t == Some(0) {
                        model.remove(k);
                    } else if let Some(e) = model.entries.get_mut(&k) {
                        e.1 = deadline;
                    }
                }
                if let Some(w) = written.get_mut(&k) {
                    w.1 = deadline;
                }
            }
            Op::Advance(t) => {
                clock.advance(ms(t));
                cache.run_pending_tasks();
                model.advance(u64::from(t));
            }
        }
        check_invariants(&cache, &events, weighted);
        if exact {
            let mut resident: Vec<u8> = cache.iter().map(|(k, _)| k).collect();
            resident.sort_unstable();
            let mut want: Vec<u8> = model.entries.keys().copied().collect();
            want.sort_unstable();
            assert_eq!(resident, want, "resident set after {op:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lru_matches_an_exact_model(ops in proptest::collection::vec(op(), 1..200), capacity in 1u64..12) {
        run(&ops, EvictionPolicy::Lru, capacity, false, 1);
    }

    #[test]
    fn tinylfu_keeps_every_invariant(ops in proptest::collection::vec(op(), 1..200), capacity in 1u64..12) {
        run(&ops, EvictionPolicy::TinyLfu, capacity, false, 1);
    }

    #[test]
    fn weighted_and_sharded_caches_keep_every_invariant(
        ops in proptest::collection::vec(op(), 1..200),
        capacity in 20u64..60,
        lru in any::<bool>(),
        shards in prop_oneof![Just(1usize), Just(2), Just(4)],
    ) {
        let policy = if lru { EvictionPolicy::Lru } else { EvictionPolicy::TinyLfu };
        run(&ops, policy, capacity, true, shards);
    }
}
