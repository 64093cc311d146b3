//! Model-based property test of pinned entries ([`CacheBuilder::evictable`]): random operation
//! sequences over every policy, checking after each operation that
//! - no pinned entry is ever evicted for size (the listener sees no such eviction), and every
//!   pinned entry written and not since removed or expired is still there with its value;
//! - `weighted_size() <= capacity()`, or, after a shrink below the pinned weight, only pinned
//!   entries are left (one shard; the relaxation is per shard, invisible from outside, so
//!   sharded runs only grow the capacity and keep the hard bound), and `weighted_size` / `pinned_weight` equal the sums over the entries;
//! - a write is refused exactly when the pinned weight of the other entries plus its own weight
//!   passes the capacity (one shard: predicted exactly), a refused write changes nothing, and an
//!   accepted pinned write is resident;
//! - refusals are counted in `stats().refused`, the listener's removals by cause match the
//!   statistics, and `inserts - evicted - expired - invalidated == len`;
//! - with LRU over one shard, the resident set equals an exact model: LRU among candidates.
//!
//! Values decide pinning: `v % 3 == 0` is pinned, unless the `all` switch is on (the
//! predicate reads it; `Toggle` flips it and calls `reevaluate_evictable`).

use cache_core::{Cache, EvictionPolicy, MockClock, RemovalCause};
use parking_lot::Mutex;
use proptest::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u16),
    TryInsert(u8, u16),
    TryInsertTtl(u8, u16, u16),
    Get(u8),
    Remove(u8),
    /// `compute` + `Slot::try_set(v + 1)`: may change the entry's pinning.
    Incr(u8),
    SetTtl(u8, Option<u16>),
    Advance(u16),
    /// Sets the capacity to this share (in percent, 50..=150) of the initial one.
    Resize(u8),
    Toggle,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..20;
    prop_oneof![
        3 => (key.clone(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => (key.clone(), any::<u16>()).prop_map(|(k, v)| Op::TryInsert(k, v)),
        2 => (key.clone(), any::<u16>(), 1u16..500).prop_map(|(k, v, t)| Op::TryInsertTtl(k, v, t)),
        3 => key.clone().prop_map(Op::Get),
        1 => key.clone().prop_map(Op::Remove),
        2 => key.clone().prop_map(Op::Incr),
        1 => (key, proptest::option::of(1u16..500)).prop_map(|(k, t)| Op::SetTtl(k, t)),
        1 => (1u16..300).prop_map(Op::Advance),
        1 => (50u8..=150).prop_map(Op::Resize),
        1 => Just(Op::Toggle),
    ]
}

fn pinned_value(all_evictable: bool, v: u16) -> bool {
    !all_evictable && v % 3 == 0
}

#[derive(Clone, Copy)]
struct Setup {
    policy: EvictionPolicy,
    capacity: u64,
    weighted: bool,
    shards: usize,
}

impl Setup {
    fn weight(&self, v: u16) -> u64 {
        if self.weighted { u64::from(v % 5) + 1 } else { 1 }
    }
}

type Events = Arc<Mutex<Vec<(u8, u16, RemovalCause)>>>;

/// Exact LRU among candidates (one shard, unit weights), deadlines in milliseconds.
#[derive(Default)]
struct LruModel {
    order: VecDeque<u8>,
    entries: HashMap<u8, (u16, Option<u64>)>,
    capacity: usize,
}

impl LruModel {
    fn touch(&mut self, k: u8) {
        self.order.retain(|&x| x != k);
        self.order.push_back(k);
    }

    fn pinned_others(&self, all: bool, k: u8) -> usize {
        self.entries.iter().filter(|&(&x, &(v, _))| x != k && pinned_value(all, v)).count()
    }

    /// Returns whether the write was accepted.
    fn write(&mut self, all: bool, k: u8, v: u16, deadline: Option<u64>) -> bool {
        if self.pinned_others(all, k) + 1 > self.capacity {
            return false;
        }
        self.entries.insert(k, (v, deadline));
        self.touch(k);
        self.evict(all);
        true
    }

    fn evict(&mut self, all: bool) {
        while self.entries.len() > self.capacity {
            let Some(pos) = self.order.iter().position(|x| !pinned_value(all, self.entries[x].0)) else { break };
            let victim = self.order.remove(pos).unwrap();
            self.entries.remove(&victim);
        }
    }

    fn remove(&mut self, k: u8) {
        self.order.retain(|&x| x != k);
        self.entries.remove(&k);
    }

    fn expire(&mut self, now: u64) {
        let due: Vec<u8> =
            self.entries.iter().filter(|(_, (_, d))| d.is_some_and(|d| d <= now)).map(|(&k, _)| k).collect();
        for k in due {
            self.remove(k);
        }
    }
}

struct Harness {
    setup: Setup,
    cache: Cache<u8, u16>,
    clock: MockClock,
    all: Arc<AtomicBool>,
    events: Events,
    /// Last accepted value per key and its deadline (ms), dropped when the cache reports it gone.
    written: HashMap<u8, (u16, Option<u64>)>,
    now: u64,
    refusals: u64,
    model: Option<LruModel>,
    /// A shrink left the cache over capacity (the documented relaxation).
    shrunk: bool,
}

impl Harness {
    fn new(setup: Setup) -> Self {
        let clock = MockClock::new();
        let all = Arc::new(AtomicBool::new(false));
        let events: Events = Arc::default();
        let (flag, sink) = (all.clone(), events.clone());
        let mut builder = Cache::builder()
            .max_capacity(setup.capacity)
            .eviction_policy(setup.policy)
            .shards(setup.shards)
            .clock(clock.clone())
            .record_stats()
            .evictable(move |_k, v: &u16| !pinned_value(flag.load(Relaxed), *v))
            .eviction_listener(move |k, v, cause| sink.lock().push((k, v, cause)));
        if setup.weighted {
            builder = builder.weigher(|_k, v: &u16| u32::from(*v % 5) + 1);
        }
        let exact = setup.policy == EvictionPolicy::Lru && !setup.weighted && setup.shards == 1;
        Self {
            setup,
            cache: builder.build(),
            clock,
            all,
            events,
            written: HashMap::new(),
            now: 0,
            refusals: 0,
            model: exact.then(|| LruModel { capacity: setup.capacity as usize, ..LruModel::default() }),
            shrunk: false,
        }
    }

    fn all(&self) -> bool {
        self.all.load(Relaxed)
    }

    fn pinned(&self, v: u16) -> bool {
        pinned_value(self.all(), v)
    }

    fn snapshot(&self) -> Vec<(u8, u16)> {
        let mut entries: Vec<(u8, u16)> = self.cache.iter().collect();
        entries.sort_unstable();
        entries
    }

    /// With one shard, whether writing `v` to `k` must be refused.
    fn predict_refusal(&self, k: u8, v: u16) -> Option<bool> {
        (self.setup.shards == 1).then(|| {
            let others: u64 = self
                .snapshot()
                .into_iter()
                .filter(|&(x, w)| x != k && self.pinned(w))
                .map(|(_, w)| self.setup.weight(w))
                .sum();
            others + self.setup.weight(v) > self.cache.capacity()
        })
    }

    /// Checks a write's outcome; `accepted` is what the cache said.
    fn wrote(
        &mut self,
        k: u8,
        v: u16,
        deadline: Option<u64>,
        accepted: bool,
        before: &[(u8, u16)],
        predicted: Option<bool>,
    ) {
        if let Some(refuse) = predicted {
            assert_eq!(!accepted, refuse, "write {k}={v}: refusal mispredicted");
        }
        if accepted {
            self.written.insert(k, (v, deadline));
            if self.pinned(v) || self.setup.policy != EvictionPolicy::TinyLfu {
                assert_eq!(self.cache.peek(&k), Some(v), "accepted write {k}={v} is not resident");
            }
        } else {
            self.refusals += 1;
            assert_eq!(self.snapshot(), before, "a refused write changed the cache");
        }
        if let Some(model) = &mut self.model {
            let all = self.all.load(Relaxed);
            assert_eq!(model.write(all, k, v, deadline), accepted, "LRU model disagrees on {k}={v}");
        }
    }

    fn apply(&mut self, op: &Op) {
        let ms = |t: u16| Duration::from_millis(u64::from(t));
        let now = self.now;
        let before = self.snapshot();
        self.events.lock().clear();
        match *op {
            Op::Insert(k, v) => {
                let predicted = self.predict_refusal(k, v);
                let refused_before = self.cache.stats().refused;
                self.cache.insert(k, v);
                let accepted = self.cache.stats().refused == refused_before;
                self.wrote(k, v, None, accepted, &before, predicted);
            }
            Op::TryInsert(k, v) => {
                let predicted = self.predict_refusal(k, v);
                let r = self.cache.try_insert(k, v);
                if let Err(e) = &r {
                    assert_eq!(e.clone().into_inner(), (k, v), "a refusal hands back the key and value");
                }
                self.wrote(k, v, None, r.is_ok(), &before, predicted);
            }
            Op::TryInsertTtl(k, v, t) => {
                let predicted = self.predict_refusal(k, v);
                let r = self.cache.try_insert_with_ttl(k, v, ms(t));
                self.wrote(k, v, Some(now + u64::from(t)), r.is_ok(), &before, predicted);
            }
            Op::Get(k) => {
                let got = self.cache.get(&k);
                if let Some(v) = got {
                    assert_eq!(Some(v), self.written.get(&k).map(|w| w.0), "get({k}) returned a stale value");
                }
                if let Some(model) = &mut self.model {
                    let want = model.entries.get(&k).map(|e| e.0);
                    if want.is_some() {
                        model.touch(k);
                    }
                    assert_eq!(got, want, "get({k})");
                }
            }
            Op::Remove(k) => {
                self.cache.remove(&k);
                self.written.remove(&k);
                if let Some(model) = &mut self.model {
                    model.remove(k);
                }
            }
            Op::Incr(k) => {
                let Some(old) = self.cache.peek(&k) else { return self.check() };
                let v = old.wrapping_add(1);
                let predicted = self.predict_refusal(k, v);
                let deadline = self.cache.ttl(&k).flatten().map(|d| now + d.as_millis() as u64);
                let may_leave = self.setup.policy == EvictionPolicy::TinyLfu && !self.pinned(v);
                let r = self.cache.compute(k, |slot| {
                    let r = slot.try_set(v);
                    let want = if r.is_ok() { v } else { old };
                    if !(may_leave && r.is_ok()) {
                        assert_eq!(slot.value().copied(), Some(want), "slot after try_set");
                    }
                    r
                });
                self.wrote(k, v, deadline, r.is_ok(), &before, predicted);
            }
            Op::SetTtl(k, t) => {
                self.cache.set_ttl(&k, t.map(ms));
                let deadline = t.map(|t| now + u64::from(t));
                if let Some(w) = self.written.get_mut(&k) {
                    w.1 = deadline;
                }
                if let Some(e) = self.model.as_mut().and_then(|m| m.entries.get_mut(&k)) {
                    e.1 = deadline;
                }
            }
            Op::Advance(t) => {
                self.clock.advance(ms(t));
                self.cache.run_pending_tasks();
                self.now += u64::from(t);
                if let Some(model) = &mut self.model {
                    model.expire(self.now);
                }
            }
            Op::Resize(percent) => {
                let mut capacity = (self.setup.capacity * u64::from(percent) / 100).max(5 * self.setup.shards as u64);
                if self.setup.shards > 1 {
                    capacity = capacity.max(self.cache.capacity());
                }
                self.cache.set_capacity(capacity);
                self.shrunk |= self.cache.weighted_size() > capacity;
                if let Some(model) = &mut self.model {
                    model.capacity = capacity as usize;
                    let all = self.all.load(Relaxed);
                    model.evict(all);
                }
            }
            Op::Toggle => {
                self.all.fetch_xor(true, Relaxed);
                self.cache.reevaluate_evictable();
                let all = self.all();
                // Unpinned entries join the LRU as its newest, in slot order (the iteration
                // order of one shard).
                let slots: Vec<(u8, u16)> = self.cache.iter().collect();
                if let Some(model) = &mut self.model {
                    if all {
                        for (k, v) in slots {
                            if v % 3 == 0 {
                                model.touch(k);
                            }
                        }
                    }
                    model.evict(all);
                }
            }
        }
        self.check();
    }

    fn check(&mut self) {
        let entries = self.snapshot();
        let all = self.all();
        for &(k, v, cause) in self.events.lock().iter() {
            assert!(!(cause == RemovalCause::Size && pinned_value(all, v)), "pinned entry {k}={v} was evicted");
            if cause != RemovalCause::Replaced && self.written.get(&k).is_some_and(|w| w.0 == v) {
                self.written.remove(&k);
            }
        }
        for (&k, &(v, deadline)) in &self.written {
            if self.pinned(v) && deadline.is_none_or(|d| d > self.now) {
                assert_eq!(self.cache.peek(&k), Some(v), "pinned entry {k}={v} is gone");
            }
        }
        let weight: u64 = entries.iter().map(|&(_, v)| self.setup.weight(v)).sum();
        let pinned: u64 = entries.iter().filter(|&&(_, v)| self.pinned(v)).map(|&(_, v)| self.setup.weight(v)).sum();
        assert_eq!(self.cache.weighted_size(), weight);
        assert_eq!(self.cache.pinned_weight(), pinned);
        assert_eq!(self.cache.len(), entries.len() as u64);
        assert!(
            weight <= self.cache.capacity() || (weight == pinned && self.shrunk),
            "over capacity ({weight} > {}) with candidates left",
            self.cache.capacity()
        );
        let stats = self.cache.stats();
        assert!(stats.refused >= self.refusals, "refusals reported to callers but not counted");
        if self.setup.shards == 1 {
            assert_eq!(stats.refused, self.refusals, "refusal count");
        }
        assert_eq!(
            stats.inserts - stats.evicted.count - stats.expired.count - stats.invalidated.count,
            self.cache.len()
        );
        if let Some(model) = &self.model {
            let mut want: Vec<(u8, u16)> = model.entries.iter().map(|(&k, &(v, _))| (k, v)).collect();
            want.sort_unstable();
            assert_eq!(entries, want, "resident set differs from the exact LRU model");
        }
    }
}

/// Listener events by cause equal the statistics (checked once at the end: `apply` clears the
/// per-op event log, so this keeps its own totals).
fn run(ops: &[Op], setup: Setup) {
    let mut h = Harness::new(setup);
    let mut by_cause: HashMap<RemovalCause, u64> = HashMap::new();
    for op in ops {
        h.apply(op);
        for &(_, _, cause) in h.events.lock().iter() {
            *by_cause.entry(cause).or_default() += 1;
        }
    }
    let stats = h.cache.stats();
    for cause in [RemovalCause::Size, RemovalCause::Expired, RemovalCause::Explicit, RemovalCause::Replaced] {
        assert_eq!(stats.removed(cause).count, by_cause.get(&cause).copied().unwrap_or(0), "{cause:?}");
    }
}

fn policy() -> impl Strategy<Value = EvictionPolicy> {
    prop_oneof![
        Just(EvictionPolicy::Lru),
        Just(EvictionPolicy::TinyLfu),
        Just(EvictionPolicy::Random),
        Just(EvictionPolicy::NearestExpiry),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lru_with_pinned_entries_matches_an_exact_model(
        ops in proptest::collection::vec(op(), 1..200),
        capacity in 5u64..12,
    ) {
        run(&ops, Setup { policy: EvictionPolicy::Lru, capacity, weighted: false, shards: 1 });
    }

    #[test]
    fn every_policy_keeps_pinned_entries_and_reports_refusals(
        ops in proptest::collection::vec(op(), 1..200),
        policy in policy(),
        capacity in 5u64..12,
    ) {
        run(&ops, Setup { policy, capacity, weighted: false, shards: 1 });
    }

    #[test]
    fn weighted_and_sharded_caches_keep_pinned_entries(
        ops in proptest::collection::vec(op(), 1..200),
        policy in policy(),
        capacity in 20u64..60,
        shards in prop_oneof![Just(1usize), Just(2), Just(4)],
    ) {
        run(&ops, Setup { policy, capacity, weighted: true, shards });
    }
}
