//! Exact LRU over a trace: a hash index into an index-linked list, most recent at the head.
//!
//! Owns only the reference LRU used for the hit-ratio tables (and the ARC paper's sanity figure,
//! 32.83% on OLTP at 1,000 entries); the product's LRU lives in cache-core.

use std::collections::HashMap;

use super::Outcome;

const NIL: u32 = u32::MAX;

/// Exact LRU with a fixed capacity in entries.
#[derive(Debug)]
pub struct Lru {
    capacity: usize,
    index: HashMap<u64, u32>,
    /// Per slot: key, previous (towards head), next (towards tail).
    nodes: Vec<(u64, u32, u32)>,
    head: u32,
    tail: u32,
}

impl Lru {
    /// An empty LRU holding at most `capacity` keys.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            index: HashMap::with_capacity(capacity),
            nodes: Vec::with_capacity(capacity),
            head: NIL,
            tail: NIL,
        }
    }

    /// Requests `key`: returns whether it was resident; a miss inserts it, evicting the LRU key.
    pub fn access(&mut self, key: u64) -> bool {
        if let Some(&slot) = self.index.get(&key) {
            self.unlink(slot);
            self.push_front(slot);
            return true;
        }
        if self.capacity == 0 {
            return false;
        }
        let slot = if self.nodes.len() < self.capacity {
            self.nodes.push((key, NIL, NIL));
            (self.nodes.len() - 1) as u32
        } else {
            let victim = self.tail;
            self.unlink(victim);
            self.index.remove(&self.nodes[victim as usize].0);
            self.nodes[victim as usize].0 = key;
            victim
        };
        self.index.insert(key, slot);
        self.push_front(slot);
        false
    }

    /// Resident keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether nothing is resident.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn unlink(&mut self, slot: u32) {
        let (_, prev, next) = self.nodes[slot as usize];
        match prev {
            NIL => self.head = next,
            p => self.nodes[p as usize].2 = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.nodes[n as usize].1 = prev,
        }
    }

    fn push_front(&mut self, slot: u32) {
        self.nodes[slot as usize].1 = NIL;
        self.nodes[slot as usize].2 = self.head;
        match self.head {
            NIL => self.tail = slot,
            h => self.nodes[h as usize].1 = slot,
        }
        self.head = slot;
    }
}

/// Replays `keys` through an exact LRU of `capacity` entries.
#[must_use]
pub fn run(keys: &[u64], capacity: usize) -> Outcome {
    let mut lru = Lru::new(capacity);
    let hits = keys.iter().filter(|&&k| lru.access(k)).count() as u64;
    Outcome { hits, requests: keys.len() as u64, max_resident: lru.len() as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut lru = Lru::new(2);
        assert!(!lru.access(1));
        assert!(!lru.access(2));
        assert!(lru.access(1)); // order: 1, 2
        assert!(!lru.access(3)); // evicts 2
        assert!(lru.access(1));
        assert!(!lru.access(2)); // evicts 3
        assert!(!lru.access(3));
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn loop_larger_than_capacity_never_hits() {
        let keys: Vec<u64> = (0..10).cycle().take(100).collect();
        assert_eq!(run(&keys, 9).hits, 0);
        assert_eq!(run(&keys, 10).hits, 90);
    }
}
