//! Pinned entries: nodes that count toward a shard's weight but are never eviction candidates.
//!
//! [`Pinning`] wraps the shard's policy. A node the shard marks [`Queue::Pinned`] before
//! `on_insert` (or moves with [`Pinning::set_pinned`]) is kept out of the inner policy: its
//! weight is added to `pinned` instead, and eviction asks the inner policy to fit the
//! *candidates* into `capacity - pinned`. The inner policies therefore never see a pinned node
//! and keep their contract unchanged.
//!
//! ```text
//!   weighted_size = pinned + inner.weighted_size()          (≤ capacity)
//!   evict: inner.evict(capacity − pinned)                    victims are candidates only
//! ```
//! Cost: no memory per entry (the pin is the node's queue tag); on a read, one compare of a
//! counter of this struct (`pinned_len`) while the shard holds no pinned entry, plus one load
//! of the node's tag once it does. Whether a write fits is the shard's decision (see
//! `Shard::no_room`); this wrapper only keeps the books.
//!
//! W-TinyLFU sizes its window and protected regions from its capacity; when the pinned weight
//! moves by more than an eighth of what the candidates have, the inner policy is resized to
//! the candidates' share so its proportions follow.

use super::{AnyPolicy, Policy, Weights};
use crate::slab::{Queue, Slab};

/// A policy plus the books of the pinned nodes of its shard.
#[derive(Debug)]
pub(crate) struct Pinning<P = AnyPolicy> {
    inner: P,
    /// Sum of the weights of pinned nodes.
    pinned: u64,
    /// Number of pinned nodes (zero-weight ones included): zero keeps reads free of tag checks.
    pinned_len: u32,
    /// The shard's capacity, and what the inner policy was last sized for.
    capacity: u64,
    sized_for: u64,
}

impl<P: Policy> Pinning<P> {
    pub(crate) fn new(inner: P, capacity: u64) -> Self {
        Self { inner, pinned: 0, pinned_len: 0, capacity, sized_for: capacity }
    }

    /// The policy behind the pinning books.
    pub(crate) fn inner(&self) -> &P {
        &self.inner
    }

    /// Sum of the weights of pinned nodes.
    pub(crate) fn pinned_weight(&self) -> u64 {
        self.pinned
    }

    fn is_pinned<K, V>(&self, slab: &Slab<K, V>, idx: u32) -> bool {
        self.pinned_len != 0 && slab.get(idx).queue() == Queue::Pinned
    }

    /// Pins or unpins the linked node `idx`, which weighs `weight`; `len` is the shard's entry
    /// count. Nothing is evicted here: unpinning adds a candidate, pinning removes one, and the
    /// total weight is unchanged.
    pub(crate) fn set_pinned<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64, pinned: bool, len: u32) {
        if self.is_pinned(slab, idx) == pinned {
            return;
        }
        if pinned {
            self.inner.on_remove(slab, idx, weight);
            slab.get(idx).set_queue(Queue::Pinned);
            self.pinned += weight;
            self.pinned_len += 1;
        } else {
            self.pinned -= weight;
            self.pinned_len -= 1;
            self.inner.on_insert(slab, idx, weight, len);
        }
    }
}

impl<P: Policy> Policy for Pinning<P> {
    fn on_insert<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64, len: u32) {
        if slab.get(idx).queue() == Queue::Pinned {
            self.pinned += weight;
            self.pinned_len += 1;
        } else {
            self.inner.on_insert(slab, idx, weight, len);
        }
    }

    fn on_access<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32) {
        if !self.is_pinned(slab, idx) {
            self.inner.on_access(slab, weights, idx);
        }
    }

    fn on_miss(&mut self) {
        self.inner.on_miss();
    }

    fn on_update<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32, old: u64, new: u64) {
        if self.is_pinned(slab, idx) {
            self.pinned = self.pinned - old + new;
        } else {
            self.inner.on_update(slab, weights, idx, old, new);
        }
    }

    fn on_remove<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64) {
        if self.is_pinned(slab, idx) {
            self.pinned -= weight;
            self.pinned_len -= 1;
        } else {
            self.inner.on_remove(slab, idx, weight);
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
        let room = capacity.saturating_sub(self.pinned);
        if self.sized_for.abs_diff(room) > self.sized_for / 8 {
            self.inner.resize(room);
            self.sized_for = room;
        }
        self.inner.evict_ranked(slab, weights, room, victims, rank);
    }

    fn resize(&mut self, capacity: u64) {
        self.capacity = capacity;
        self.sized_for = capacity.saturating_sub(self.pinned);
        self.inner.resize(self.sized_for);
    }

    fn weighted_size(&self) -> u64 {
        self.pinned + self.inner.weighted_size()
    }

    fn clear(&mut self) {
        self.pinned = 0;
        self.pinned_len = 0;
        if self.sized_for != self.capacity {
            // Only a shard that held pinned weight was resized: policies without pins keep
            // their learned state across a clear, as before.
            self.sized_for = self.capacity;
            self.inner.resize(self.capacity);
        }
        self.inner.clear();
    }
}

impl Pinning<AnyPolicy> {
    /// See [`AnyPolicy::warm`].
    pub(crate) fn warm(&self, hash: u32) {
        self.inner.warm(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Lru;
    use crate::slab::Node;

    fn insert(slab: &mut Slab<u32, ()>, p: &mut Pinning<Lru>, key: u32, pinned: bool) -> u32 {
        let queue = if pinned { Queue::Pinned } else { Queue::Lru };
        let idx = slab.insert(Node::new(key, (), key, queue));
        let len = slab.len();
        p.on_insert(slab, idx, 1, len);
        idx
    }

    fn evict(slab: &mut Slab<u32, ()>, p: &mut Pinning<Lru>, capacity: u64) -> Vec<u32> {
        let mut victims = Vec::new();
        p.evict(slab, &Weights::default(), capacity, &mut victims);
        victims.into_iter().map(|v| slab.get(v).key).collect()
    }

    #[test]
    fn pinned_nodes_count_but_are_never_victims() {
        let mut slab = Slab::new(100);
        let mut p = Pinning::new(Lru::default(), 4);
        let a = insert(&mut slab, &mut p, 1, true);
        insert(&mut slab, &mut p, 2, false);
        insert(&mut slab, &mut p, 3, true);
        insert(&mut slab, &mut p, 4, false);
        insert(&mut slab, &mut p, 5, false);
        p.on_access(&slab, &Weights::default(), a); // a pinned read changes nothing
        assert_eq!((p.weighted_size(), p.pinned_weight()), (5, 2));
        assert_eq!(evict(&mut slab, &mut p, 4), [2], "the LRU candidate goes, not pinned key 1");
        assert_eq!(evict(&mut slab, &mut p, 2), [4, 5], "down to the pinned weight");
        assert_eq!(p.inner().order(&slab), Vec::<u32>::new());
        assert_eq!(p.weighted_size(), 2);
    }

    #[test]
    fn set_pinned_moves_nodes_in_and_out_of_the_policy() {
        let mut slab = Slab::new(100);
        let mut p = Pinning::new(Lru::default(), 10);
        let a = insert(&mut slab, &mut p, 1, false);
        let b = insert(&mut slab, &mut p, 2, false);
        p.set_pinned(&slab, a, 1, true, 2);
        assert_eq!(p.inner().order(&slab), [b]);
        assert_eq!((p.weighted_size(), p.pinned_weight()), (2, 1));
        p.set_pinned(&slab, a, 1, true, 2); // already pinned: no change
        assert_eq!(p.pinned_weight(), 1);
        p.set_pinned(&slab, a, 1, false, 2);
        assert_eq!(p.inner().order(&slab), [b, a], "an unpinned node enters as the newest");
        assert_eq!((p.weighted_size(), p.pinned_weight()), (2, 0));
        p.on_remove(&slab, b, 1);
        assert_eq!(evict(&mut slab, &mut p, 0), [1]);
    }
}
