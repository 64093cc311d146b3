//! The entry store of one shard: a `Vec` of slots addressed by `u32` indices, with a free list.
//!
//! Every resident entry lives in exactly one occupied slot and keeps that slot until it leaves
//! the cache, so an index is a stable handle: policies link entries into queues by index, the
//! timer wheel refers to them by index, and the cursor scan walks slots in index order (which
//! is what lets SCAN promise that an entry present for the whole scan is seen). Freed slots are
//! reused before the vector grows, and growth never goes past the shard's entry limit, so a
//! cache bounded by entries holds no slack slots at capacity.
//!
//! Layout: a slot is an enum whose occupied variant is the node itself. A node's stored hash is
//! never 0 ([`Cache::hash`](crate::Cache) sees to it), which gives the enum its niche, so for
//! `u64 -> u64` a slot is 32 bytes: 8 key, 8 value, 4 hash, two 4-byte links, and a 4-byte word
//! holding the queue tag and the 3-byte access stamp (see `access.rs`). A unit test pins that
//! size.
//!
//! The links and that word are relaxed atomics: a reader that drains the shard's read buffers
//! relinks nodes holding only the shard's *read* lock (and the shard's policy mutex), while
//! other readers go on reading keys and values. Only one thread at a time ever writes them —
//! the policy mutex's holder, or a writer holding the write lock — so relaxed loads and stores
//! suffice (plain moves on x86-64 and ARM); the locks order them.

use crate::list::{Links, NIL};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Which policy queue a node is linked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Queue {
    /// The single queue of the LRU policy.
    Lru,
    /// W-TinyLFU's admission window.
    Window,
    /// W-TinyLFU's main region, probationary segment.
    Probation,
    /// W-TinyLFU's main region, protected segment.
    Protected,
    /// The candidate set of a sampling policy (random, nearest expiry); `prev` holds the node's
    /// position in that set instead of a link.
    Sampled,
    /// In no queue: a pinned entry, which counts toward the weight but is never an eviction
    /// candidate (see `policy::pinned`).
    Pinned,
}

impl Queue {
    const ALL: [Queue; 6] =
        [Queue::Lru, Queue::Window, Queue::Probation, Queue::Protected, Queue::Sampled, Queue::Pinned];
}

/// One resident entry.
#[derive(Debug)]
pub(crate) struct Node<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    /// The low 32 bits of the key's hash (never 0): the index table rehashes and the sketch
    /// counts from it.
    hash: NonZeroU32,
    prev: AtomicU32,
    next: AtomicU32,
    /// The queue tag in the low 8 bits, the 24-bit access stamp (see `access.rs`) above it.
    meta: AtomicU32,
}

impl<K, V> Node<K, V> {
    /// A node in `queue`, unlinked, with access stamp 0. A `hash` of 0 is stored as 1: the
    /// cache never hands a shard one (see `Cache::hash`), and the niche needs it.
    pub(crate) fn new(key: K, value: V, hash: u32, queue: Queue) -> Self {
        Self {
            key,
            value,
            hash: NonZeroU32::new(hash).unwrap_or(NonZeroU32::MIN),
            prev: AtomicU32::new(NIL),
            next: AtomicU32::new(NIL),
            meta: AtomicU32::new(queue as u32),
        }
    }

    /// The stored hash.
    #[inline]
    pub(crate) fn hash(&self) -> u32 {
        self.hash.get()
    }

    /// The queue the node is linked in.
    #[inline]
    pub(crate) fn queue(&self) -> Queue {
        Queue::ALL[(self.meta.load(Relaxed) & 0xff) as usize]
    }

    #[inline]
    pub(crate) fn set_queue(&self, queue: Queue) {
        let meta = self.meta.load(Relaxed);
        self.meta.store(meta & !0xff | queue as u32, Relaxed);
    }

    /// The access stamp.
    #[inline]
    pub(crate) fn stamp(&self) -> u32 {
        self.meta.load(Relaxed) >> 8
    }

    /// Stores `stamp` (its low 24 bits).
    #[inline]
    pub(crate) fn set_stamp(&self, stamp: u32) {
        let meta = self.meta.load(Relaxed);
        self.meta.store(stamp << 8 | meta & 0xff, Relaxed);
    }

    #[inline]
    pub(crate) fn prev(&self) -> u32 {
        self.prev.load(Relaxed)
    }

    #[inline]
    pub(crate) fn next(&self) -> u32 {
        self.next.load(Relaxed)
    }

    /// Sets the `prev` link (a sampling policy keeps the node's position there).
    #[inline]
    pub(crate) fn set_prev(&self, prev: u32) {
        self.prev.store(prev, Relaxed);
    }

    #[inline]
    fn set_next(&self, next: u32) {
        self.next.store(next, Relaxed);
    }
}

#[derive(Debug)]
enum Slot<K, V> {
    Occupied(Node<K, V>),
    Vacant { next_free: u32 },
}

/// Slots of one shard.
#[derive(Debug)]
pub(crate) struct Slab<K, V> {
    slots: Vec<Slot<K, V>>,
    free_head: u32,
    len: u32,
    /// Most slots this slab may ever hold (the shard's entry bound, or `u32::MAX - 1`).
    max_slots: usize,
}

impl<K, V> Slab<K, V> {
    pub(crate) fn new(max_slots: usize) -> Self {
        Self { slots: Vec::new(), free_head: NIL, len: 0, max_slots: max_slots.clamp(1, NIL as usize - 1) }
    }

    /// Changes the bound on slot growth (slots already allocated are kept).
    pub(crate) fn set_max_slots(&mut self, max_slots: usize) {
        self.max_slots = max_slots.clamp(1, NIL as usize - 1);
    }

    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Number of slot indices in use or free (the scan's upper bound).
    pub(crate) fn slot_count(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Stores `node` and returns its index.
    pub(crate) fn insert(&mut self, node: Node<K, V>) -> u32 {
        self.len += 1;
        if self.free_head != NIL {
            let idx = self.free_head;
            let slot = &mut self.slots[idx as usize];
            match *slot {
                Slot::Vacant { next_free } => self.free_head = next_free,
                Slot::Occupied(_) => unreachable!("free list points at an occupied slot"),
            }
            *slot = Slot::Occupied(node);
            return idx;
        }
        if self.slots.len() == self.slots.capacity() {
            // Double, but never beyond the entry bound: a full entry-bounded shard has no slack.
            let limit = self.max_slots.max(self.slots.len() + 1);
            let want = (self.slots.len() * 2).max(4).min(limit);
            self.slots.reserve_exact(want - self.slots.len());
        }
        let idx = self.slots.len() as u32;
        assert!(idx != NIL, "slab index space exhausted");
        self.slots.push(Slot::Occupied(node));
        idx
    }

    /// Frees slot `idx` and returns its node. The node must be unlinked by the caller.
    pub(crate) fn remove(&mut self, idx: u32) -> Node<K, V> {
        let slot = std::mem::replace(&mut self.slots[idx as usize], Slot::Vacant { next_free: self.free_head });
        match slot {
            Slot::Occupied(node) => {
                self.free_head = idx;
                self.len -= 1;
                node
            }
            Slot::Vacant { .. } => unreachable!("removing a vacant slot"),
        }
    }

    pub(crate) fn get(&self, idx: u32) -> &Node<K, V> {
        match &self.slots[idx as usize] {
            Slot::Occupied(node) => node,
            Slot::Vacant { .. } => unreachable!("reading a vacant slot"),
        }
    }

    pub(crate) fn get_mut(&mut self, idx: u32) -> &mut Node<K, V> {
        match &mut self.slots[idx as usize] {
            Slot::Occupied(node) => node,
            Slot::Vacant { .. } => unreachable!("writing a vacant slot"),
        }
    }

    /// The node at `idx`, if that slot is occupied (for scans over slot indices).
    pub(crate) fn try_get(&self, idx: u32) -> Option<&Node<K, V>> {
        match self.slots.get(idx as usize) {
            Some(Slot::Occupied(node)) => Some(node),
            _ => None,
        }
    }

    /// Starts loading slot `idx` (if it exists) into the cache, without waiting for it.
    pub(crate) fn prefetch(&self, idx: u32) {
        if let Some(slot) = self.slots.get(idx as usize) {
            crate::prefetch::prefetch(slot);
        }
    }

    /// Drops every node and releases the memory.
    pub(crate) fn clear(&mut self) {
        self.slots = Vec::new();
        self.free_head = NIL;
        self.len = 0;
    }
}

/// The links of a shared slab: a policy relinks nodes through `&Slab` (see the module docs).
impl<K, V> Links for &Slab<K, V> {
    fn prev(&self, idx: u32) -> u32 {
        self.get(idx).prev()
    }
    fn next(&self, idx: u32) -> u32 {
        self.get(idx).next()
    }
    fn set_prev(&mut self, idx: u32, prev: u32) {
        self.get(idx).set_prev(prev);
    }
    fn set_next(&mut self, idx: u32, next: u32) {
        self.get(idx).set_next(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(k: u64) -> Node<u64, u64> {
        Node::new(k, k * 10, k as u32 + 1, Queue::Lru)
    }

    #[test]
    fn a_u64_slot_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Slot<u64, u64>>(), 32);
    }

    #[test]
    fn the_access_stamp_keeps_24_bits() {
        let n = node(1);
        n.set_queue(Queue::Protected);
        n.set_stamp(0x00ab_cdef);
        assert_eq!(n.stamp(), 0x00ab_cdef);
        n.set_stamp(u32::MAX);
        assert_eq!(n.stamp(), crate::access::STAMP_MAX);
        assert_eq!(n.queue(), Queue::Protected, "the stamp leaves the queue tag alone");
        n.set_queue(Queue::Window);
        assert_eq!((n.queue(), n.stamp()), (Queue::Window, crate::access::STAMP_MAX));
    }

    #[test]
    fn indices_are_stable_and_freed_slots_are_reused() {
        let mut slab = Slab::new(100);
        let a = slab.insert(node(1));
        let b = slab.insert(node(2));
        let c = slab.insert(node(3));
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(slab.remove(b).key, 2);
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.get(c).value, 30);
        assert!(slab.try_get(b).is_none());
        assert_eq!(slab.insert(node(4)), b);
        assert_eq!(slab.get(b).key, 4);
        assert_eq!(slab.slot_count(), 3);
    }

    #[test]
    fn growth_stops_at_the_entry_bound() {
        let mut slab = Slab::new(10);
        for k in 0..10 {
            slab.insert(node(k));
        }
        assert_eq!(slab.slots.capacity(), 10);
    }

    #[test]
    fn clear_releases_everything() {
        let mut slab = Slab::new(10);
        for k in 0..5 {
            slab.insert(node(k));
        }
        slab.clear();
        assert_eq!(slab.len(), 0);
        assert_eq!(slab.insert(node(9)), 0);
    }
}
