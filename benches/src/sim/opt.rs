//! Belady's optimum with bypass (OPT): on a miss with a full cache, drop whichever of the resident
//! keys *or the requested key itself* is next used furthest in the future.
//!
//! Owns the upper bound that every hit-ratio result is checked against: a policy above OPT at the
//! same capacity has a bug (most often it held more than its capacity). Implementation: one pass
//! backwards computes each request's next use; a max-heap of (next use, key) with lazy deletion picks
//! the victim. O(n log n) time, O(n) memory.

use std::collections::{BinaryHeap, HashMap};

use super::Outcome;

/// Position of the next request of the same key, `usize::MAX` when there is none.
#[must_use]
pub fn next_uses(keys: &[u64]) -> Vec<usize> {
    let mut next = vec![usize::MAX; keys.len()];
    let mut last_seen: HashMap<u64, usize> = HashMap::new();
    for (i, &k) in keys.iter().enumerate().rev() {
        if let Some(j) = last_seen.insert(k, i) {
            next[i] = j;
        }
    }
    next
}

/// Replays `keys` through OPT with bypass at `capacity` entries.
#[must_use]
pub fn run(keys: &[u64], capacity: usize) -> Outcome {
    run_with(keys, &next_uses(keys), capacity)
}

/// As [`run`], reusing next-use positions computed once per trace by [`next_uses`].
#[must_use]
pub fn run_with(keys: &[u64], next: &[usize], capacity: usize) -> Outcome {
    assert_eq!(keys.len(), next.len(), "next-use table of another trace");
    // key -> its next use, for resident keys; the heap may hold stale (older) entries.
    let mut resident: HashMap<u64, usize> = HashMap::with_capacity(capacity + 1);
    let mut heap: BinaryHeap<(usize, u64)> = BinaryHeap::with_capacity(capacity + 1);
    let mut hits = 0u64;
    for (&key, &nx) in keys.iter().zip(next) {
        if let Some(slot) = resident.get_mut(&key) {
            hits += 1;
            *slot = nx;
            heap.push((nx, key));
            continue;
        }
        if capacity == 0 || nx == usize::MAX {
            continue; // never requested again: bypass
        }
        if resident.len() == capacity {
            let victim = loop {
                let (when, k) = heap.pop().expect("heap covers every resident key");
                if resident.get(&k) == Some(&when) {
                    break (when, k);
                }
            };
            if victim.0 <= nx {
                heap.push(victim); // the newcomer is needed last: bypass it
                continue;
            }
            resident.remove(&victim.1);
        }
        resident.insert(key, nx);
        heap.push((nx, key));
        if heap.len() > 4 * capacity + 1024 {
            heap.retain(|&(when, k)| resident.get(&k) == Some(&when));
        }
    }
    Outcome { hits, requests: keys.len() as u64, max_resident: resident.len() as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_keeps_the_loop_prefix() {
        // A loop of 10 keys at capacity 5: OPT keeps 4 resident and cycles one slot.
        let keys: Vec<u64> = (0..10).cycle().take(1000).collect();
        let out = run(&keys, 5);
        assert!(out.hits > 0 && out.hits < 1000 - 10);
        assert!(out.max_resident <= 5);
    }

    #[test]
    fn bypass_beats_admitting_one_shot_keys() {
        // 1 and 2 alternate; one-shot keys 100.. in between must not displace them.
        let mut keys = Vec::new();
        for i in 0..50 {
            keys.extend([1, 2, 100 + i]);
        }
        let out = run(&keys, 2);
        assert_eq!(out.hits, 98);
    }

    #[test]
    fn opt_is_never_below_lru() {
        let keys = crate::zipf::keys(0.8, 500, 20_000, 3).unwrap();
        for cap in [1, 10, 100, 400] {
            assert!(run(&keys, cap).hits >= super::super::lru::run(&keys, cap).hits);
        }
    }
}
