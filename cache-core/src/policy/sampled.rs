//! Sampling policies: random eviction, and nearest-expiry-first eviction by sampling (Redis's
//! `allkeys-random` / `volatile-random` and `volatile-ttl`).
//!
//! ```text
//!   members: [ 7 | 2 | 9 | 4 | … ]      dense Vec<u32> of candidate slab indices
//!              ▲ node.prev = its position here (the node's list links are unused)
//!   evict:  random pick (Random), or the soonest deadline among SAMPLES random picks
//!           (NearestExpiry); swap-remove from `members`
//! ```
//! Insert, remove and each pick are O(1); a read changes nothing (no queue to reorder), so the
//! policy needs no per-read work at all. The entry written last (`newest`) is skipped while any
//! other candidate is left: Redis evicts *before* running a write, so a write never evicts what
//! it writes, and neither does this policy.
//!
//! Nearest expiry is approximate, as in Redis: each victim is the candidate with the soonest
//! deadline among [`SAMPLES`] drawn at random (with replacement), so it is, in expectation, in
//! the soonest-expiring `1 / (SAMPLES + 1)` of the candidates. Redis draws `maxmemory-samples`
//! (default 5) keys per round into a 16-key pool kept across rounds; 8 fresh draws per victim
//! land in the same neighbourhood without keeping a pool that goes stale as entries change.
//! Candidates without a deadline rank last. Deadlines come from the shard (the policy itself
//! never sees time): see [`Policy::evict_ranked`].

use super::{Policy, Weights};
use crate::list::NIL;
use crate::slab::{Queue, Slab};

/// Candidates drawn per victim by nearest-expiry eviction.
pub(crate) const SAMPLES: usize = 8;

/// Random or nearest-expiry eviction over one shard.
#[derive(Debug)]
pub(crate) struct Sampled {
    members: Vec<u32>,
    weight: u64,
    /// The node inserted or updated last: not a victim while another candidate is left.
    newest: u32,
    rng: u64,
    /// Rank samples by deadline (nearest expiry) rather than take the first draw (random).
    by_expiry: bool,
}

impl Sampled {
    pub(crate) fn new(by_expiry: bool, seed: u64) -> Self {
        Self { members: Vec::new(), weight: 0, newest: NIL, rng: seed | 1, by_expiry }
    }

    /// A uniform position in `0..n` (`n > 0`).
    fn draw(&mut self, n: usize) -> usize {
        // xorshift64*, then Lemire's multiply-shift to a range.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((u128::from(r) * n as u128) >> 64) as usize
    }

    /// The next victim: one random candidate, or the soonest-ranked of `SAMPLES`, skipping the
    /// newest node unless it is the only one.
    fn pick(&mut self, rank: &dyn Fn(u32) -> u64) -> u32 {
        let n = self.members.len();
        if n == 1 {
            return self.members[0];
        }
        let draws = if self.by_expiry { SAMPLES } else { 1 };
        let (mut best, mut best_rank) = (NIL, u64::MAX);
        for _ in 0..draws {
            // Draw again on the newest node (n >= 2: some other node exists), so that every
            // other candidate stays equally likely.
            let mut idx = self.newest;
            while idx == self.newest {
                let pos = self.draw(n);
                idx = self.members[pos];
            }
            let r = if self.by_expiry { rank(idx) } else { 0 };
            if best == NIL || r < best_rank {
                (best, best_rank) = (idx, r);
            }
        }
        best
    }

    #[cfg(test)]
    pub(crate) fn checked_members<K, V>(&self, slab: &Slab<K, V>) -> Vec<u32> {
        for (pos, &idx) in self.members.iter().enumerate() {
            assert_eq!(slab.get(idx).prev() as usize, pos, "a member's position is stale");
            assert_eq!(slab.get(idx).queue(), Queue::Sampled);
        }
        self.members.clone()
    }

    #[cfg(test)]
    fn contains<K, V>(&self, slab: &Slab<K, V>, idx: u32) -> bool {
        self.members.get(slab.get(idx).prev() as usize) == Some(&idx)
    }
}

impl Policy for Sampled {
    fn on_insert<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64, _len: u32) {
        let node = slab.get(idx);
        node.set_queue(Queue::Sampled);
        node.set_prev(self.members.len() as u32);
        self.members.push(idx);
        self.weight += weight;
        self.newest = idx;
    }

    fn on_access<K, V>(&mut self, _slab: &Slab<K, V>, _weights: &Weights, _idx: u32) {}

    fn on_miss(&mut self) {}

    fn on_update<K, V>(&mut self, _slab: &Slab<K, V>, _weights: &Weights, idx: u32, old: u64, new: u64) {
        self.weight = self.weight - old + new;
        self.newest = idx;
    }

    fn on_remove<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64) {
        let pos = slab.get(idx).prev() as usize;
        debug_assert_eq!(self.members.get(pos), Some(&idx), "removing a node that is not a member");
        let last = self.members.pop().expect("removing from an empty candidate set");
        if last != idx {
            self.members[pos] = last;
            slab.get(last).set_prev(pos as u32);
        }
        self.weight -= weight;
        if self.newest == idx {
            self.newest = NIL;
        }
    }

    fn evict<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, capacity: u64, victims: &mut Vec<u32>) {
        self.evict_ranked(slab, weights, capacity, victims, &|_| 0);
    }

    fn evict_ranked<K, V>(
        &mut self,
        slab: &Slab<K, V>,
        weights: &Weights,
        capacity: u64,
        victims: &mut Vec<u32>,
        rank: &dyn Fn(u32) -> u64,
    ) {
        while self.weight > capacity && !self.members.is_empty() {
            let victim = self.pick(rank);
            self.on_remove(slab, victim, weights.get(victim));
            victims.push(victim);
        }
    }

    fn resize(&mut self, _capacity: u64) {}

    fn weighted_size(&self) -> u64 {
        self.weight
    }

    fn clear(&mut self) {
        self.members = Vec::new();
        self.weight = 0;
        self.newest = NIL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Node;

    fn insert(slab: &mut Slab<u32, ()>, p: &mut Sampled, key: u32) -> u32 {
        let idx = slab.insert(Node::new(key, (), key, Queue::Lru));
        let len = slab.len();
        p.on_insert(slab, idx, 1, len);
        idx
    }

    #[test]
    fn removal_keeps_the_candidate_set_dense() {
        let mut slab = Slab::new(100);
        let mut p = Sampled::new(false, 3);
        let idx: Vec<u32> = (0..10).map(|k| insert(&mut slab, &mut p, k)).collect();
        p.on_remove(&slab, idx[3], 1);
        p.on_remove(&slab, idx[9], 1);
        p.on_remove(&slab, idx[0], 1);
        assert_eq!(p.members.len(), 7);
        assert_eq!(p.weighted_size(), 7);
        for (k, &i) in idx.iter().enumerate() {
            assert_eq!(p.contains(&slab, i), ![0, 3, 9].contains(&k), "key {k}");
        }
    }

    #[test]
    fn random_eviction_spreads_over_the_candidates_and_spares_the_newest() {
        let mut first_victims = [0u32; 10];
        for seed in 0..2_000 {
            let mut slab = Slab::new(100);
            let mut p = Sampled::new(false, seed * 7919 + 1);
            for k in 0..10 {
                insert(&mut slab, &mut p, k);
            }
            let mut victims = Vec::new();
            p.evict(&slab, &Weights::default(), 9, &mut victims);
            assert_eq!(victims.len(), 1);
            first_victims[slab.get(victims[0]).key as usize] += 1;
        }
        assert_eq!(first_victims[9], 0, "the entry just inserted was evicted: {first_victims:?}");
        // Keys 0..9 share the 2,000 evictions: about 222 each.
        for (k, &n) in first_victims[..9].iter().enumerate() {
            assert!((150..300).contains(&n), "key {k} evicted {n} times of 2,000: {first_victims:?}");
        }
    }

    #[test]
    fn nearest_expiry_prefers_soon_deadlines() {
        let mut slab = Slab::new(2_000);
        let mut p = Sampled::new(true, 11);
        for k in 0..1_000 {
            insert(&mut slab, &mut p, k);
        }
        // Deadline = key: the soonest-expiring tenth are keys 0..100.
        let rank = |idx: u32| u64::from(slab_key(idx));
        fn slab_key(idx: u32) -> u32 {
            idx // slab indices equal keys here (inserted in order into an empty slab)
        }
        let mut victims = Vec::new();
        p.evict_ranked(&slab, &Weights::default(), 900, &mut victims, &rank);
        assert_eq!(victims.len(), 100);
        let mean = victims.iter().map(|&v| f64::from(slab.get(v).key)).sum::<f64>() / 100.0;
        // Best of 8 uniform draws has a mean rank near 1/9 of the range (111), against 500 at random.
        assert!(mean < 200.0, "mean deadline rank of victims {mean}");
        assert_eq!(p.weighted_size(), 900);
    }

    #[test]
    fn an_only_candidate_is_evicted_even_if_newest() {
        let mut slab = Slab::new(10);
        let mut p = Sampled::new(true, 5);
        let a = insert(&mut slab, &mut p, 1);
        let mut victims = Vec::new();
        p.evict(&slab, &Weights::default(), 0, &mut victims);
        assert_eq!(victims, [a]);
        assert_eq!(p.weighted_size(), 0);
    }
}
