//! A shard's read buffer: a lossy, bounded ring of atomics where concurrent readers record
//! their hits and misses, to be applied to the eviction policy later under the shard's write
//! lock (Caffeine's design).
//!
//! ```text
//!   reader (read lock released) ──record(idx, hash)──► [ slot | slot | … ] ◄── drain (write lock)
//!        full after my record? ──try_write──► drain now     (never waits: if busy, someone else will)
//! ```
//!
//! Recording never blocks and never fails loudly: when the ring is full or another reader won
//! the race for the same slot, the access is dropped — the policy sees a sample of the reads,
//! which is all a frequency sketch and an approximate recency order need. Each recorded entry
//! is a slab index with the entry's stored 32-bit hash; since slab slots are reused, the
//! drainer applies an entry only if the slot still holds a node with that hash. The buffer
//! knows nothing of shards, slabs or policies; it only moves `u64`s.

use crate::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// Slots per buffer (a power of two). Caffeine uses 16 per stripe; 32 halves the drains.
pub(crate) const SLOTS: usize = 32;

/// Marks an empty slot. No encoded access equals it: a hit stores `idx + 1 ≥ 1` in the top
/// half, a miss is [`MISS`].
const EMPTY: u64 = 0;

/// A recorded miss (a read that found nothing), for the policy's hit-rate sample: top half 0,
/// so it is no hit either.
const MISS: u64 = 1;

/// What a reader recorded, decoded by the drainer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// A hit on the node in slot `idx`, which carried `hash` at the time.
    Hit { idx: u32, hash: u32 },
    /// A read that found nothing.
    Miss,
}

impl Read {
    fn encode(self) -> u64 {
        match self {
            // Slab indices stay below `u32::MAX`, so `idx + 1` fits in the top half.
            Self::Hit { idx, hash } => (u64::from(idx) + 1) << 32 | u64::from(hash),
            Self::Miss => MISS,
        }
    }

    fn decode(word: u64) -> Self {
        if word >> 32 == 0 { Self::Miss } else { Self::Hit { idx: ((word >> 32) - 1) as u32, hash: word as u32 } }
    }
}

/// The lossy ring. `tail` is claimed by readers with a CAS; `head` moves only under the
/// shard's write lock, in [`drain`](Self::drain).
#[derive(Debug)]
pub(crate) struct ReadBuffer {
    slots: Box<[AtomicU64]>,
    /// Next position a reader claims (monotonic, wrapping).
    tail: AtomicUsize,
    /// First position not yet drained (monotonic, wrapping).
    head: AtomicUsize,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| AtomicU64::new(EMPTY)).collect(),
            tail: AtomicUsize::new(0),
            head: AtomicUsize::new(0),
        }
    }
}

impl ReadBuffer {
    /// Records `read` unless the ring is full or the slot was taken by a concurrent reader.
    /// Returns whether the ring is full now, i.e. whether the caller should try to drain it.
    pub(crate) fn record(&self, read: Read) -> bool {
        let head = self.head.load(Acquire);
        let tail = self.tail.load(Relaxed);
        let used = tail.wrapping_sub(head);
        if used >= SLOTS {
            return true;
        }
        if self.tail.compare_exchange_weak(tail, tail.wrapping_add(1), Relaxed, Relaxed).is_err() {
            return false; // contended: drop this one
        }
        // A drain may have passed this position already; then the word waits for a later drain
        // (or is overwritten by a later lap). Either is fine: drained words are validated.
        self.slots[tail & (SLOTS - 1)].store(read.encode(), Release);
        used + 1 >= SLOTS
    }

    /// Whether any position awaits a drain (cheap; used to skip draining an idle buffer).
    pub(crate) fn is_pending(&self) -> bool {
        self.tail.load(Relaxed) != self.head.load(Relaxed)
    }

    /// Hands every recorded access to `apply` (at most [`SLOTS`] of them), oldest first, and
    /// empties the ring. The caller holds the shard's write lock, so there is one drainer at a
    /// time.
    pub(crate) fn drain(&self, mut apply: impl FnMut(Read)) {
        let head = self.head.load(Relaxed);
        let tail = self.tail.load(Acquire);
        let mut pos = head;
        while pos != tail {
            let word = self.slots[pos & (SLOTS - 1)].swap(EMPTY, Acquire);
            if word != EMPTY {
                apply(Read::decode(word));
            }
            pos = pos.wrapping_add(1);
        }
        self.head.store(tail, Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_never_collides_with_empty() {
        for read in [
            Read::Miss,
            Read::Hit { idx: 0, hash: 0 },
            Read::Hit { idx: u32::MAX - 1, hash: u32::MAX },
            Read::Hit { idx: 7, hash: 0xdead_beef },
        ] {
            assert_ne!(read.encode(), EMPTY);
            assert_eq!(Read::decode(read.encode()), read);
        }
    }

    #[test]
    fn records_in_order_signals_full_and_drops_when_full() {
        let buffer = ReadBuffer::default();
        for i in 0..SLOTS as u32 - 1 {
            assert!(!buffer.record(Read::Hit { idx: i, hash: i }));
        }
        assert!(buffer.record(Read::Miss), "the last free slot fills the ring");
        assert!(buffer.record(Read::Hit { idx: 99, hash: 99 }), "a full ring drops and asks for a drain");
        let mut seen = Vec::new();
        buffer.drain(|r| seen.push(r));
        assert_eq!(seen.len(), SLOTS);
        assert_eq!(seen[0], Read::Hit { idx: 0, hash: 0 });
        assert_eq!(seen[SLOTS - 1], Read::Miss);
        assert!(!buffer.is_pending());
        assert!(!buffer.record(Read::Hit { idx: 1, hash: 2 }));
        seen.clear();
        buffer.drain(|r| seen.push(r));
        assert_eq!(seen, [Read::Hit { idx: 1, hash: 2 }]);
    }
}

#[cfg(loom)]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Two readers record while a drainer drains: every drained word is one that was recorded
    /// (no torn or invented entries), none is drained twice, and after a final drain nothing
    /// recorded is lost unless it was dropped at record time.
    #[test]
    fn loom_read_buffer_drains_only_recorded_accesses_once() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let buffer = Arc::new(ReadBuffer::default());
            let readers: Vec<_> = (0..2u32)
                .map(|t| {
                    let buffer = buffer.clone();
                    thread::spawn(move || {
                        buffer.record(Read::Hit { idx: t, hash: 100 + t });
                    })
                })
                .collect();
            let mut seen = Vec::new();
            buffer.drain(|r| seen.push(r));
            for reader in readers {
                reader.join().unwrap();
            }
            buffer.drain(|r| seen.push(r));
            for r in &seen {
                match *r {
                    Read::Hit { idx, hash } => assert!(idx < 2 && hash == 100 + idx, "invented {r:?}"),
                    Read::Miss => panic!("invented a miss"),
                }
            }
            let mut idxs: Vec<_> = seen.iter().map(|r| matches!(r, Read::Hit { idx: 0, .. })).collect();
            idxs.sort_unstable();
            idxs.dedup();
            assert_eq!(idxs.len(), seen.len(), "an access drained twice: {seen:?}");
        });
    }
}
