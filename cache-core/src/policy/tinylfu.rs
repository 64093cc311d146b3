//! Adaptive W-TinyLFU (after Caffeine): window LRU → TinyLFU admission → segmented LRU main.
//!
//! ```text
//!   insert ──► [ window LRU ] ──overflow──► candidate ─┐
//!                                                      ├─ frequency(candidate) > frequency(victim)?
//!   [ probation ◄─demote── protected ]   victim ◄──────┘   yes: victim leaves; no: candidate leaves
//!        └──hit──► protected
//! ```
//! New entries enter the window (initially 1% of capacity). Entries pushed out of the window
//! become admission candidates at the back of probation; while the shard is over capacity each
//! candidate is compared with the probation LRU victim by estimated frequency, and the loser is
//! evicted. A hit in probation promotes to protected (80% of the main region); protected
//! overflow is demoted back to probation. A candidate that is merely warm (frequency >= 6) wins
//! against an equally warm victim with probability 1/128, so an attacker cannot pin the victim by
//! flooding one hash.
//!
//! Every `sample_size` requests (ten per entry of capacity) the hill climber compares this
//! sample's hit rate with the previous one and moves the window/main boundary in the direction
//! that helped — recency-heavy workloads grow the window, frequency-heavy ones shrink it. The
//! step starts at 3% of capacity, shrinks by 10% per sample and returns to 3% when the hit rate
//! jumps by 5 points (a phase change). The first move grows the window: the first sample has
//! nothing to compare with, so it counts as an improvement, and probing upwards costs little on
//! frequency-heavy traces (the climber comes straight back) while recency-heavy ones, which
//! want a window of half the cache or more, need every sample of a short trace to get there.
//! Caffeine's production constants (a 6.25% step decaying by 2%, first move downwards) were
//! measured to wander on short traces: a window that should stay at 1% (loops) drifted by whole
//! steps on sampling noise.

use super::sketch::FrequencySketch;
use super::{Policy, Weights};
use crate::list::{Deque, Links, NIL};
use crate::slab::{Queue, Slab};

const PERCENT_MAIN: f64 = 0.99;
const PERCENT_MAIN_PROTECTED: f64 = 0.80;
/// The climber's initial (and restart) step, as a share of capacity.
const STEP_PERCENT: f64 = 0.03;
/// Per-sample shrink factor of the climber's step.
const STEP_DECAY: f64 = 0.9;
const RESTART_THRESHOLD: f64 = 0.05;
const ADMIT_HASHDOS_THRESHOLD: u8 = 6;
/// Most entries moved between regions per adjustment step (bounds the work of one call).
const QUEUE_TRANSFER_THRESHOLD: usize = 1000;

#[derive(Debug)]
pub(crate) struct TinyLfu {
    window: Deque,
    probation: Deque,
    protected: Deque,
    window_weight: u64,
    probation_weight: u64,
    protected_weight: u64,
    window_max: u64,
    protected_max: u64,
    capacity: u64,
    sketch: FrequencySketch,
    /// Whether the sketch follows the entry count (weighted or unbounded shards).
    grow_sketch: bool,
    hits_in_sample: u64,
    misses_in_sample: u64,
    previous_hit_rate: f64,
    step: f64,
    /// Weight still to move into (+) or out of (-) the window.
    adjustment: i64,
    rng: u64,
}

impl TinyLfu {
    #[cfg(test)]
    pub(crate) fn checked_members<K, V>(&self, slab: &Slab<K, V>) -> Vec<u32> {
        [(self.window, Queue::Window), (self.probation, Queue::Probation), (self.protected, Queue::Protected)]
            .into_iter()
            .flat_map(|(deque, queue)| super::checked_queue(deque, slab, queue))
            .collect()
    }
}

impl TinyLfu {
    /// The initial window and protected maxima for `capacity`.
    fn regions(capacity: u64) -> (u64, u64) {
        let window_max = capacity - (PERCENT_MAIN * capacity as f64) as u64;
        (window_max, (PERCENT_MAIN_PROTECTED * (capacity - window_max) as f64) as u64)
    }

    pub(crate) fn new(capacity: u64, entries_hint: Option<u64>, seed: u64) -> Self {
        let (window_max, protected_max) = Self::regions(capacity);
        let sketch_size = entries_hint.unwrap_or(64).min(capacity);
        Self {
            window: Deque::default(),
            probation: Deque::default(),
            protected: Deque::default(),
            window_weight: 0,
            probation_weight: 0,
            protected_weight: 0,
            window_max,
            protected_max,
            capacity,
            sketch: FrequencySketch::new(sketch_size),
            grow_sketch: entries_hint.is_none(),
            hits_in_sample: 0,
            misses_in_sample: 0,
            previous_hit_rate: 0.0,
            // Positive: the first move grows the window (see the module docs).
            step: STEP_PERCENT * capacity as f64,
            adjustment: 0,
            rng: seed | 1,
        }
    }

    /// Requests per hill-climbing sample: ten per entry the sketch is sized for (Caffeine's
    /// period). Shorter samples were measured to let noise steer the climber (loop@768 fell
    /// from 70% to 48%).
    fn climb_sample(&self) -> u64 {
        self.sketch.sample_size()
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: cheap, and seeded per shard from a random state.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn admit(&mut self, candidate: u32, victim: u32) -> bool {
        let victim_freq = self.sketch.frequency(victim);
        let candidate_freq = self.sketch.frequency(candidate);
        if candidate_freq > victim_freq {
            true
        } else if candidate_freq >= ADMIT_HASHDOS_THRESHOLD {
            self.random() & 127 == 0
        } else {
            false
        }
    }

    fn queue(&mut self, q: Queue) -> (&mut Deque, &mut u64) {
        match q {
            Queue::Window => (&mut self.window, &mut self.window_weight),
            Queue::Probation => (&mut self.probation, &mut self.probation_weight),
            Queue::Protected => (&mut self.protected, &mut self.protected_weight),
            Queue::Lru | Queue::Sampled | Queue::Pinned => unreachable!("a foreign node in a TinyLFU shard"),
        }
    }

    fn transfer<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64, to: Queue) {
        let from = slab.get(idx).queue();
        let (deque, w) = self.queue(from);
        deque.unlink(slab, idx);
        *w -= weight;
        let (deque, w) = self.queue(to);
        deque.push_back(slab, idx);
        *w += weight;
        slab.get(idx).set_queue(to);
    }

    /// Moves protected overflow to the back of probation.
    fn demote_protected<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights) {
        let mut moved = 0;
        while self.protected_weight > self.protected_max && moved < QUEUE_TRANSFER_THRESHOLD {
            let idx = self.protected.front;
            if idx == NIL {
                break;
            }
            self.transfer(slab, idx, weights.get(idx), Queue::Probation);
            moved += 1;
        }
    }

    fn unlink_victim<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32, victims: &mut Vec<u32>) {
        let weight = weights.get(idx);
        self.on_remove(slab, idx, weight);
        victims.push(idx);
    }

    /// Moves window overflow to probation; returns the first node moved (the oldest candidate).
    fn evict_from_window<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights) -> u32 {
        let mut first = NIL;
        while self.window_weight > self.window_max {
            let idx = self.window.front;
            if idx == NIL {
                break;
            }
            self.transfer(slab, idx, weights.get(idx), Queue::Probation);
            if first == NIL {
                first = idx;
            }
        }
        first
    }

    /// Caffeine's `evictFromMain`: candidates walk forward from the first window overflow,
    /// victims forward from the probation front (then protected, then window).
    fn evict_from_main<K, V>(
        &mut self,
        slab: &Slab<K, V>,
        weights: &Weights,
        mut candidate: u32,
        capacity: u64,
        victims: &mut Vec<u32>,
    ) {
        let mut victim_queue = Queue::Probation;
        let mut candidate_queue = Queue::Probation;
        let mut victim = self.probation.front;
        while self.weighted_size() > capacity {
            if candidate == NIL && candidate_queue == Queue::Probation {
                candidate = self.window.front;
                candidate_queue = Queue::Window;
            }
            if candidate == NIL && victim == NIL {
                match victim_queue {
                    Queue::Probation => {
                        victim = self.protected.front;
                        victim_queue = Queue::Protected;
                        continue;
                    }
                    Queue::Protected => {
                        victim = self.window.front;
                        victim_queue = Queue::Window;
                        continue;
                    }
                    _ => break,
                }
            }
            if victim != NIL && weights.get(victim) == 0 {
                victim = slab.next(victim);
                continue;
            }
            if candidate != NIL && weights.get(candidate) == 0 {
                candidate = slab.next(candidate);
                continue;
            }
            if victim == NIL {
                let evict = candidate;
                candidate = slab.next(candidate);
                self.unlink_victim(slab, weights, evict, victims);
                continue;
            }
            if candidate == NIL {
                let evict = victim;
                victim = slab.next(victim);
                self.unlink_victim(slab, weights, evict, victims);
                continue;
            }
            if candidate == victim {
                victim = slab.next(victim);
                self.unlink_victim(slab, weights, candidate, victims);
                candidate = NIL;
                continue;
            }
            if weights.get(candidate) > capacity {
                let evict = candidate;
                candidate = slab.next(candidate);
                self.unlink_victim(slab, weights, evict, victims);
                continue;
            }
            let (candidate_hash, victim_hash) = (slab.get(candidate).hash(), slab.get(victim).hash());
            if self.admit(candidate_hash, victim_hash) {
                let evict = victim;
                victim = slab.next(victim);
                if victim == candidate {
                    // The victim walk reached the candidates: keep them apart.
                    victim = NIL;
                }
                self.unlink_victim(slab, weights, evict, victims);
                candidate = slab.next(candidate);
            } else {
                let evict = candidate;
                candidate = slab.next(candidate);
                self.unlink_victim(slab, weights, evict, victims);
            }
        }
    }

    /// Hill climbing: once per sample, decide how far to move the window boundary, then move it.
    fn climb<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights) {
        let requests = self.hits_in_sample + self.misses_in_sample;
        if requests >= self.climb_sample() {
            let hit_rate = self.hits_in_sample as f64 / requests as f64;
            let change = hit_rate - self.previous_hit_rate;
            let amount = if change >= 0.0 { self.step } else { -self.step };
            self.step = if change.abs() >= RESTART_THRESHOLD {
                STEP_PERCENT * self.capacity as f64 * if amount >= 0.0 { 1.0 } else { -1.0 }
            } else {
                STEP_DECAY * amount
            };
            self.previous_hit_rate = hit_rate;
            self.adjustment = amount as i64;
            self.hits_in_sample = 0;
            self.misses_in_sample = 0;
        }
        if self.adjustment > 0 {
            self.increase_window(slab, weights);
        } else if self.adjustment < 0 {
            self.decrease_window(slab, weights);
        }
    }

    fn increase_window<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights) {
        if self.protected_max == 0 {
            self.adjustment = 0;
            return;
        }
        let mut quota = (self.adjustment as u64).min(self.protected_max);
        self.protected_max -= quota;
        self.window_max += quota;
        self.demote_protected(slab, weights);
        for _ in 0..QUEUE_TRANSFER_THRESHOLD {
            let mut idx = self.probation.front;
            if idx == NIL || quota < weights.get(idx) {
                idx = self.protected.front;
            }
            if idx == NIL {
                break;
            }
            let weight = weights.get(idx);
            if quota < weight {
                break;
            }
            quota -= weight;
            self.transfer(slab, idx, weight, Queue::Window);
        }
        self.protected_max += quota;
        self.window_max -= quota;
        self.adjustment = quota as i64;
    }

    fn decrease_window<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights) {
        if self.window_max <= 1 {
            self.adjustment = 0;
            return;
        }
        let mut quota = self.adjustment.unsigned_abs().min(self.window_max - 1);
        self.protected_max += quota;
        self.window_max -= quota;
        for _ in 0..QUEUE_TRANSFER_THRESHOLD {
            let idx = self.window.front;
            if idx == NIL {
                break;
            }
            let weight = weights.get(idx);
            if quota < weight {
                break;
            }
            quota -= weight;
            self.transfer(slab, idx, weight, Queue::Probation);
        }
        self.protected_max -= quota;
        self.window_max += quota;
        self.adjustment = -(quota as i64);
    }

    /// Counts an access of `idx` and moves it as its region prescribes.
    fn reorder<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32) {
        self.sketch.increment(slab.get(idx).hash());
        match slab.get(idx).queue() {
            Queue::Window => self.window.move_to_back(slab, idx),
            Queue::Probation => {
                let weight = weights.get(idx);
                if weight > self.protected_max {
                    self.probation.move_to_back(slab, idx);
                } else {
                    self.transfer(slab, idx, weight, Queue::Protected);
                    self.demote_protected(slab, weights);
                }
            }
            Queue::Protected => self.protected.move_to_back(slab, idx),
            Queue::Lru | Queue::Sampled | Queue::Pinned => unreachable!("a foreign node in a TinyLFU shard"),
        }
    }

    /// Prefetches the sketch line of `hash` ahead of an access (see `Shard::prefetch_far`).
    pub(crate) fn warm(&self, hash: u32) {
        self.sketch.prefetch(hash);
    }

    /// The sketch's frequency estimate of `hash`, 0..=15.
    pub(crate) fn frequency(&self, hash: u32) -> u8 {
        self.sketch.frequency(hash)
    }

    #[cfg(test)]
    fn keys<K: Copy, V>(&self, slab: &Slab<K, V>, q: Queue) -> Vec<K> {
        let deque = match q {
            Queue::Window => self.window,
            Queue::Probation => self.probation,
            Queue::Protected => self.protected,
            _ => unreachable!(),
        };
        deque.to_vec(slab).into_iter().map(|i| slab.get(i).key).collect()
    }
}

impl Policy for TinyLfu {
    fn on_insert<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64, len: u32) {
        if self.grow_sketch && u64::from(len) > self.sketch.capacity() {
            self.sketch.ensure_capacity((u64::from(len) * 2).min(self.capacity));
        }
        self.sketch.increment(slab.get(idx).hash());
        slab.get(idx).set_queue(Queue::Window);
        self.window.push_back(slab, idx);
        self.window_weight += weight;
    }

    fn on_access<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32) {
        self.hits_in_sample += 1;
        self.reorder(slab, weights, idx);
        if self.hits_in_sample + self.misses_in_sample >= self.climb_sample() || self.adjustment != 0 {
            self.climb(slab, weights);
        }
    }

    fn on_miss(&mut self) {
        self.misses_in_sample += 1;
    }

    fn on_update<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32, old: u64, new: u64) {
        let (_, w) = self.queue(slab.get(idx).queue());
        *w = *w - old + new;
        self.reorder(slab, weights, idx);
    }

    fn on_remove<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64) {
        let (deque, w) = self.queue(slab.get(idx).queue());
        deque.unlink(slab, idx);
        *w -= weight;
    }

    fn evict<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, capacity: u64, victims: &mut Vec<u32>) {
        let candidate = self.evict_from_window(slab, weights);
        self.evict_from_main(slab, weights, candidate, capacity, victims);
        if self.misses_in_sample + self.hits_in_sample >= self.climb_sample() {
            self.climb(slab, weights);
        }
    }

    fn resize(&mut self, capacity: u64) {
        // Keep the learned window share; the climber goes on from there.
        let share = self.window_max as f64 / self.capacity.max(1) as f64;
        let window_max = ((share * capacity as f64) as u64).clamp(Self::regions(capacity).0, capacity);
        self.window_max = window_max;
        self.protected_max = (PERCENT_MAIN_PROTECTED * (capacity - window_max) as f64) as u64;
        self.capacity = capacity;
        self.adjustment = 0;
        if !self.grow_sketch {
            self.sketch.ensure_capacity(capacity);
        }
    }

    fn weighted_size(&self) -> u64 {
        self.window_weight + self.probation_weight + self.protected_weight
    }

    fn clear(&mut self) {
        self.window = Deque::default();
        self.probation = Deque::default();
        self.protected = Deque::default();
        self.window_weight = 0;
        self.probation_weight = 0;
        self.protected_weight = 0;
        if self.grow_sketch {
            // A sketch that grew with the entries goes back to its first size, so clearing a large
            // cache gives its memory back (it grows again, as it did, when entries return).
            self.sketch = FrequencySketch::new(64.min(self.capacity));
        } else {
            self.sketch.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Node;

    struct Fixture {
        slab: Slab<u32, ()>,
        policy: TinyLfu,
        weights: Weights,
        idx: std::collections::HashMap<u32, u32>,
    }

    impl Fixture {
        fn new(capacity: u64) -> Self {
            Self {
                slab: Slab::new(1000),
                policy: TinyLfu::new(capacity, Some(capacity), 7),
                weights: Weights::default(),
                idx: Default::default(),
            }
        }

        fn insert(&mut self, key: u32) -> Vec<u32> {
            let hash = key.wrapping_mul(0x9e37_79b9);
            let i = self.slab.insert(Node::new(key, (), hash, Queue::Window));
            self.idx.insert(key, i);
            let len = self.slab.len();
            self.policy.on_insert(&self.slab, i, 1, len);
            let mut victims = Vec::new();
            self.policy.evict(&self.slab, &self.weights, self.policy.capacity, &mut victims);
            victims
                .into_iter()
                .map(|v| {
                    let key = self.slab.remove(v).key;
                    self.idx.remove(&key);
                    key
                })
                .collect()
        }

        fn hit(&mut self, key: u32) {
            let i = self.idx[&key];
            self.policy.on_access(&self.slab, &self.weights, i);
        }

        fn q(&self, q: Queue) -> Vec<u32> {
            self.policy.keys(&self.slab, q)
        }
    }

    #[test]
    fn regions_start_at_one_percent_window_and_eighty_percent_protected() {
        let p = TinyLfu::new(1000, Some(1000), 1);
        assert_eq!(p.window_max, 10);
        assert_eq!(p.protected_max, 792);
        let small = TinyLfu::new(10, Some(10), 1);
        assert_eq!(small.window_max, 1);
    }

    #[test]
    fn queue_order_after_each_step() {
        let mut f = Fixture::new(10); // window 1, protected 7
        assert!(f.insert(1).is_empty());
        assert_eq!(f.q(Queue::Window), [1]);
        assert!(f.insert(2).is_empty());
        // 1 overflowed the window into probation.
        assert_eq!(f.q(Queue::Window), [2]);
        assert_eq!(f.q(Queue::Probation), [1]);
        f.hit(1);
        assert_eq!(f.q(Queue::Probation), Vec::<u32>::new());
        assert_eq!(f.q(Queue::Protected), [1]);
        f.insert(3);
        f.insert(4);
        assert_eq!(f.q(Queue::Window), [4]);
        assert_eq!(f.q(Queue::Probation), [2, 3]);
        f.hit(2);
        f.hit(3);
        assert_eq!(f.q(Queue::Protected), [1, 2, 3]);
        f.hit(1);
        assert_eq!(f.q(Queue::Protected), [2, 3, 1]);
        f.hit(4);
        assert_eq!(f.q(Queue::Window), [4]);
    }

    #[test]
    fn frequent_victim_beats_one_hit_candidates() {
        let mut f = Fixture::new(10);
        for k in 0..10 {
            f.insert(k);
        }
        for _ in 0..5 {
            for k in 0..10 {
                f.hit(k);
            }
        }
        // A scan of one-hit wonders must not flush the frequently used keys.
        let mut evicted = Vec::new();
        for k in 100..200 {
            evicted.extend(f.insert(k));
        }
        let survivors = (0..10).filter(|k| f.idx.contains_key(k)).count();
        assert!(survivors >= 8, "only {survivors} hot keys survived the scan");
        assert_eq!(f.policy.weighted_size(), 10);
        assert_eq!(f.slab.len(), 10);
    }

    #[test]
    fn protected_overflow_is_demoted_to_probation() {
        let mut f = Fixture::new(10); // protected max 7
        for k in 0..10 {
            f.insert(k);
        }
        for k in 0..9 {
            f.hit(k);
        }
        let protected = f.q(Queue::Protected);
        assert_eq!(protected.len(), 7);
        assert!(f.policy.protected_weight <= f.policy.protected_max);
        assert_eq!(f.policy.weighted_size(), 10);
    }

    #[test]
    fn window_adjustments_move_entries_between_regions() {
        let mut f = Fixture::new(100); // window 1, protected 79
        for k in 0..100 {
            f.insert(k);
        }
        for k in 0..50 {
            f.hit(k);
        }
        let (window, protected) = (f.policy.window_max, f.policy.protected_max);
        f.policy.adjustment = 10;
        f.policy.climb(&f.slab, &f.weights);
        assert_eq!(f.policy.window_max, window + 10);
        assert_eq!(f.policy.protected_max, protected - 10);
        assert_eq!(f.q(Queue::Window).len(), 11, "ten main entries moved into the window");
        assert_eq!(f.policy.adjustment, 0);
        f.policy.adjustment = -4;
        f.policy.climb(&f.slab, &f.weights);
        assert_eq!(f.policy.window_max, window + 6);
        assert_eq!(f.q(Queue::Window).len(), 7);
        assert_eq!(f.policy.weighted_size(), 100);
        // The window never shrinks below one entry.
        f.policy.adjustment = -1000;
        f.policy.climb(&f.slab, &f.weights);
        assert_eq!(f.policy.window_max, 1);
    }

    #[test]
    fn climber_probes_upwards_first_then_follows_the_hit_rate() {
        let mut f = Fixture::new(100); // window 1, step 3, sample 1,000 requests
        for k in 0..100 {
            f.insert(k);
        }
        assert_eq!(f.policy.climb_sample(), 1000);
        for i in 0..999 {
            f.hit(i % 100);
        }
        assert_eq!(f.policy.window_max, 1, "no move before the sample is complete");
        f.hit(0);
        // The first sample has nothing to compare with: it counts as a gain, so the window grows.
        assert_eq!(f.policy.window_max, 4);
        for i in 0..1000 {
            f.hit(i % 100);
        }
        // Same hit rate: keep going (the jump of the first sample restarted the step at 3; it
        // now decays to 2.7).
        assert_eq!(f.policy.window_max, 7);
        for _ in 0..500 {
            f.policy.on_miss();
        }
        for i in 0..500 {
            f.hit(i % 100);
        }
        // The hit rate fell: turn back by the decayed step (2.7, whole entries: 2).
        assert_eq!(f.policy.window_max, 5);
        assert_eq!(f.q(Queue::Window).len(), 5);
        assert_eq!(f.policy.weighted_size(), 100);
    }

    /// A sketch that grew with the entries (weighted or unbounded caches) shrinks back on clear,
    /// so FLUSHALL gives its memory back; a sketch sized for the capacity is kept.
    #[test]
    fn clear_shrinks_a_grown_sketch() {
        let mut f = Fixture::new(1 << 20);
        f.policy = TinyLfu::new(1 << 20, None, 7);
        f.slab = Slab::new(usize::MAX);
        for k in 0..10_000 {
            f.insert(k);
        }
        assert!(f.policy.sketch.capacity() >= 10_000);
        f.policy.clear();
        assert_eq!(f.policy.sketch.capacity(), 64);
        let mut bounded = Fixture::new(1000);
        bounded.policy.clear();
        assert_eq!(bounded.policy.sketch.capacity(), 1000);
    }
}
