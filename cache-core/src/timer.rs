//! Per-entry deadlines and the hierarchical timer wheel that reclaims expired entries.
//!
//! ```text
//!   level 0: 64 buckets × 2^24 ns (~16.8 ms)   spans ~1.07 s
//!   level 1: 64 buckets × 2^30 ns (~1.07 s)    spans ~68.7 s
//!   level 2: 64 buckets × 2^36 ns (~68.7 s)    spans ~73 min
//!   level 3: 64 buckets × 2^42 ns (~73 min)    spans ~78 h
//!   level 4:  1 bucket  (everything further out)
//! ```
//! An entry with a deadline sits in the bucket of the coarsest level whose span covers its
//! remaining time. When time advances past a bucket, its entries are either expired (deadline
//! reached) or rescheduled into a finer level — each entry moves at most once per level, so
//! reclamation is amortised O(1) per entry and needs no background thread: the shard advances
//! the wheel during its normal operations. Reclamation can lag a deadline by up to one level-0
//! tick; reads never can, because a read checks the deadline itself.
//!
//! Timer nodes live in a table parallel to the slab, allocated only once some entry of the
//! shard has a deadline (or refresh is on), so caches without expiry pay nothing for it.
//! This module owns time arithmetic on deadlines, not keys, values or policies.

use crate::list::{Deque, Links, NIL};

const LEVELS: usize = 5;
const SHIFTS: [u32; LEVELS] = [24, 30, 36, 42, 48];
const BUCKETS: [usize; LEVELS] = [64, 64, 64, 64, 1];
const NO_BUCKET: u16 = u16::MAX;
/// "Never" as a deadline.
pub(crate) const NEVER: u64 = u64::MAX;

/// Expiry bookkeeping of one entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerNode {
    /// When the entry expires: the lesser of `hard` and its idle deadline.
    pub(crate) deadline: u64,
    /// The deadline set by writes and TTLs (builder TTL, per-entry TTL, `Expiry`).
    pub(crate) hard: u64,
    /// A per-shard unique, increasing stamp of the last write (refresh age and version).
    pub(crate) written: u64,
    prev: u32,
    next: u32,
    bucket: u16,
}

impl Default for TimerNode {
    fn default() -> Self {
        Self { deadline: NEVER, hard: NEVER, written: 0, prev: NIL, next: NIL, bucket: NO_BUCKET }
    }
}

#[derive(Debug, Default)]
struct Nodes(Vec<TimerNode>);

impl Links for Nodes {
    fn prev(&self, idx: u32) -> u32 {
        self.0[idx as usize].prev
    }
    fn next(&self, idx: u32) -> u32 {
        self.0[idx as usize].next
    }
    fn set_prev(&mut self, idx: u32, prev: u32) {
        self.0[idx as usize].prev = prev;
    }
    fn set_next(&mut self, idx: u32, next: u32) {
        self.0[idx as usize].next = next;
    }
}

/// The timer table and wheel of one shard.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    nodes: Nodes,
    buckets: Vec<Deque>,
    /// The time the wheel has been advanced to.
    now: u64,
    scheduled: usize,
}

impl Timers {
    /// Number of entries waiting in the wheel.
    pub(crate) fn scheduled(&self) -> usize {
        self.scheduled
    }

    /// The node of `idx`, if the table reaches it.
    pub(crate) fn node(&self, idx: u32) -> Option<&TimerNode> {
        self.nodes.0.get(idx as usize)
    }

    /// The effective deadline of `idx` (`NEVER` without one).
    pub(crate) fn deadline(&self, idx: u32) -> u64 {
        self.node(idx).map_or(NEVER, |n| n.deadline)
    }

    /// The number of scheduled entries and the sum of their time left at `now` (one sequential
    /// pass over the table; entries already due count as zero).
    pub(crate) fn time_left(&self, now: u64) -> (u64, u128) {
        self.nodes
            .0
            .iter()
            .filter(|node| node.bucket != NO_BUCKET)
            .fold((0, 0), |(n, sum), node| (n + 1, sum + u128::from(node.deadline.saturating_sub(now))))
    }

    /// The node of `idx`, growing the table as needed.
    pub(crate) fn node_mut(&mut self, idx: u32) -> &mut TimerNode {
        let i = idx as usize;
        if self.nodes.0.len() <= i {
            if self.buckets.is_empty() {
                self.buckets = vec![Deque::default(); BUCKETS.iter().sum()];
            }
            self.nodes.0.resize(i + 1, TimerNode::default());
        }
        &mut self.nodes.0[i]
    }

    fn bucket_index(level: usize, time: u64) -> usize {
        let offset: usize = BUCKETS[..level].iter().sum();
        offset + ((time >> SHIFTS[level]) as usize & (BUCKETS[level] - 1))
    }

    /// Sets the deadlines of `idx` and (re)places it in the wheel.
    pub(crate) fn set(&mut self, idx: u32, hard: u64, deadline: u64) {
        self.unschedule(idx);
        let node = self.node_mut(idx);
        node.hard = hard;
        node.deadline = deadline.min(hard);
        let deadline = node.deadline;
        if deadline != NEVER {
            self.schedule(idx, deadline);
        }
    }

    fn schedule(&mut self, idx: u32, deadline: u64) {
        let remaining = deadline.saturating_sub(self.now);
        let level = (0..LEVELS - 1).find(|&l| remaining < 1 << (SHIFTS[l] + 6)).unwrap_or(LEVELS - 1);
        let bucket = Self::bucket_index(level, deadline);
        self.nodes.0[idx as usize].bucket = bucket as u16;
        self.buckets[bucket].push_back(&mut self.nodes, idx);
        self.scheduled += 1;
    }

    fn unschedule(&mut self, idx: u32) {
        let Some(node) = self.nodes.0.get(idx as usize) else { return };
        if node.bucket != NO_BUCKET {
            let bucket = node.bucket as usize;
            self.buckets[bucket].unlink(&mut self.nodes, idx);
            self.nodes.0[idx as usize].bucket = NO_BUCKET;
            self.scheduled -= 1;
        }
    }

    /// Forgets `idx` (its entry left the cache).
    pub(crate) fn clear(&mut self, idx: u32) {
        if (idx as usize) < self.nodes.0.len() {
            self.unschedule(idx);
            self.nodes.0[idx as usize] = TimerNode::default();
        }
    }

    /// Whether advancing to `now` would process a bucket without `exact`: a level-0 tick passed.
    pub(crate) fn crosses_tick(&self, now: u64) -> bool {
        now >> SHIFTS[0] > self.now >> SHIFTS[0]
    }

    /// Advances the wheel to `now`, appending every entry whose deadline is due to `expired`
    /// (they are unscheduled; the caller removes them). With `exact`, also sweeps the current
    /// level-0 bucket so that no due entry is left behind.
    pub(crate) fn advance(&mut self, now: u64, exact: bool, expired: &mut Vec<u32>) {
        if self.scheduled == 0 || now < self.now {
            self.now = self.now.max(now);
            return;
        }
        let previous = self.now;
        self.now = now;
        for level in 0..LEVELS {
            let prev_ticks = previous >> SHIFTS[level];
            let ticks = now >> SHIFTS[level];
            if ticks == prev_ticks {
                break;
            }
            let steps = (ticks - prev_ticks + 1).min(BUCKETS[level] as u64);
            for step in 0..steps {
                let bucket = Self::bucket_index(level, (prev_ticks + step) << SHIFTS[level]);
                self.process(bucket, expired);
            }
        }
        if exact {
            self.process(Self::bucket_index(0, now), expired);
        }
    }

    /// Detaches bucket `b`, expiring due entries and rescheduling the rest.
    fn process(&mut self, b: usize, expired: &mut Vec<u32>) {
        let mut at = self.buckets[b].front;
        self.buckets[b] = Deque::default();
        while at != NIL {
            let next = self.nodes.0[at as usize].next;
            let node = &mut self.nodes.0[at as usize];
            node.prev = NIL;
            node.next = NIL;
            node.bucket = NO_BUCKET;
            self.scheduled -= 1;
            let deadline = node.deadline;
            if deadline <= self.now {
                expired.push(at);
            } else {
                self.schedule(at, deadline);
            }
            at = next;
        }
    }

    /// Drops every node.
    pub(crate) fn reset(&mut self) {
        let now = self.now;
        *self = Self::default();
        self.now = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;

    fn advance(t: &mut Timers, now: u64, exact: bool) -> Vec<u32> {
        let mut out = Vec::new();
        t.advance(now, exact, &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn entries_expire_at_their_deadlines_across_levels() {
        let mut t = Timers::default();
        t.set(0, NEVER, 10 * MS);
        t.set(1, 2 * S, NEVER);
        t.set(2, 90 * S, NEVER);
        t.set(3, 3 * 3600 * S, NEVER);
        t.set(4, 30 * 24 * 3600 * S, NEVER);
        t.set(5, NEVER, NEVER);
        assert_eq!(t.scheduled(), 5);
        assert_eq!(advance(&mut t, 5 * MS, true), Vec::<u32>::new());
        assert_eq!(advance(&mut t, 10 * MS, true), [0]);
        assert_eq!(advance(&mut t, 2 * S - 1, true), Vec::<u32>::new());
        assert_eq!(advance(&mut t, 2 * S, true), [1]);
        assert_eq!(advance(&mut t, 89 * S, true), Vec::<u32>::new());
        assert_eq!(advance(&mut t, 91 * S, false), [2]);
        assert_eq!(advance(&mut t, 3 * 3600 * S + 1, true), [3]);
        assert_eq!(advance(&mut t, 29 * 24 * 3600 * S, true), Vec::<u32>::new());
        assert_eq!(advance(&mut t, 31 * 24 * 3600 * S, true), [4]);
        assert_eq!(t.scheduled(), 0);
    }

    #[test]
    fn without_exact_reclaim_lags_by_at_most_one_tick() {
        let mut t = Timers::default();
        t.set(0, 5 * MS, NEVER);
        assert!(advance(&mut t, 6 * MS, false).is_empty());
        assert_eq!(advance(&mut t, 6 * MS + (1 << 24), false), [0]);
    }

    #[test]
    fn rescheduling_and_clearing_move_entries() {
        let mut t = Timers::default();
        t.set(0, S, NEVER);
        t.set(0, 3 * S, NEVER);
        t.set(1, S, NEVER);
        t.clear(1);
        assert_eq!(t.scheduled(), 1);
        assert!(advance(&mut t, 2 * S, true).is_empty());
        assert_eq!(advance(&mut t, 3 * S, true), [0]);
        assert_eq!(t.deadline(1), NEVER);
    }

    #[test]
    fn idle_deadline_never_outlives_the_hard_one() {
        let mut t = Timers::default();
        t.set(0, S, 5 * S);
        assert_eq!(t.deadline(0), S);
    }

    #[test]
    fn a_large_jump_processes_every_bucket_once() {
        let mut t = Timers::default();
        for i in 0..500u32 {
            t.set(i, u64::from(i) * 37 * MS + 1, NEVER);
        }
        let out = advance(&mut t, 3600 * S, false);
        assert_eq!(out.len(), 500);
        assert_eq!(t.scheduled(), 0);
    }
}
