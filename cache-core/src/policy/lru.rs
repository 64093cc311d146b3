//! Exact least-recently-used eviction: one queue, every access moves the entry to the back,
//! victims leave from the front.

use super::{Policy, Weights};
use crate::list::Deque;
use crate::slab::{Queue, Slab};

/// Exact LRU over one shard.
#[derive(Debug, Default)]
pub(crate) struct Lru {
    queue: Deque,
    weight: u64,
}

impl Lru {
    #[cfg(test)]
    pub(crate) fn checked_members<K, V>(&self, slab: &Slab<K, V>) -> Vec<u32> {
        super::checked_queue(self.queue, slab, Queue::Lru)
    }

    #[cfg(test)]
    pub(crate) fn order<K, V>(&self, slab: &Slab<K, V>) -> Vec<u32> {
        self.queue.to_vec(slab)
    }
}

impl Policy for Lru {
    fn on_insert<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64, _len: u32) {
        slab.get(idx).set_queue(Queue::Lru);
        self.queue.push_back(slab, idx);
        self.weight += weight;
    }

    fn on_access<K, V>(&mut self, slab: &Slab<K, V>, _weights: &Weights, idx: u32) {
        self.queue.move_to_back(slab, idx);
    }

    fn on_miss(&mut self) {}

    fn on_update<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32, old: u64, new: u64) {
        self.weight = self.weight - old + new;
        self.on_access(slab, weights, idx);
    }

    fn on_remove<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64) {
        self.queue.unlink(slab, idx);
        self.weight -= weight;
    }

    fn evict<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, capacity: u64, victims: &mut Vec<u32>) {
        while self.weight > capacity {
            let victim = self.queue.front;
            debug_assert!(!self.queue.is_empty(), "over capacity with an empty queue");
            self.on_remove(slab, victim, weights.get(victim));
            victims.push(victim);
        }
    }

    fn resize(&mut self, _capacity: u64) {}

    fn weighted_size(&self) -> u64 {
        self.weight
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Node;

    fn insert(slab: &mut Slab<u32, ()>, lru: &mut Lru, key: u32) -> u32 {
        let idx = slab.insert(Node::new(key, (), key, Queue::Lru));
        let len = slab.len();
        lru.on_insert(slab, idx, 1, len);
        idx
    }

    fn keys(slab: &Slab<u32, ()>, lru: &Lru) -> Vec<u32> {
        lru.order(slab).into_iter().map(|i| slab.get(i).key).collect()
    }

    #[test]
    fn order_is_exact_after_every_step() {
        let mut slab = Slab::new(10);
        let mut lru = Lru::default();
        let w = Weights::default();
        let a = insert(&mut slab, &mut lru, 1);
        let b = insert(&mut slab, &mut lru, 2);
        let _c = insert(&mut slab, &mut lru, 3);
        assert_eq!(keys(&slab, &lru), [1, 2, 3]);
        lru.on_access(&slab, &w, a);
        assert_eq!(keys(&slab, &lru), [2, 3, 1]);
        lru.on_update(&slab, &w, b, 1, 1);
        assert_eq!(keys(&slab, &lru), [3, 1, 2]);
        let mut victims = Vec::new();
        lru.evict(&slab, &w, 2, &mut victims);
        assert_eq!(victims.len(), 1);
        assert_eq!(slab.get(victims[0]).key, 3);
        assert_eq!(keys(&slab, &lru), [1, 2]);
        assert_eq!(lru.weighted_size(), 2);
        lru.on_remove(&slab, a, 1);
        assert_eq!(keys(&slab, &lru), [2]);
    }

    #[test]
    fn weighted_eviction_takes_as_many_as_needed() {
        let mut slab = Slab::new(10);
        let mut lru = Lru::default();
        let mut w = Weights::default();
        for k in 0..4 {
            let idx = slab.insert(Node::new(k, (), k, Queue::Lru));
            w.set(idx, 10);
            let len = slab.len();
            lru.on_insert(&slab, idx, 10, len);
        }
        let mut victims = Vec::new();
        lru.evict(&slab, &w, 15, &mut victims);
        assert_eq!(victims.iter().map(|&i| slab.get(i).key).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(lru.weighted_size(), 10);
    }
}
