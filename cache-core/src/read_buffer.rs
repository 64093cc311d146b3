//! A shard's read buffers: lossy, bounded rings of atomics where concurrent readers record
//! their hits and misses, to be applied to the eviction policy later by whoever holds the
//! policy (Caffeine's design).
//!
//! ```text
//!   reader (read lock) ──record(idx, hash)──► stripe[probe]: [ slot | … ] ◄── drain (writer, or a
//!        full after my record? ──policy try_lock──► drain now              reader holding the policy)
//!                                  (never waits: if busy, someone else is draining)
//! ```
//!
//! A shard has one ring per *stripe* ([`Striped`]), each on its own cache lines with the hit and
//! miss counters of its readers; a thread records into the stripe its per-thread probe picks and
//! moves to another stripe when it loses a race for a slot. Readers on different threads then
//! write to different cache lines, so a hit writes to no line another core is reading (the shard
//! lock's word aside). The drainer, holding the shard's policy, empties every stripe.
//!
//! Recording never blocks and never fails loudly: when the ring is full or another reader won
//! the race for the same slot, the access is dropped — the policy sees a sample of the reads,
//! which is all a frequency sketch and an approximate recency order need. Each recorded entry
//! is a slab index with the entry's stored 32-bit hash; since slab slots are reused, the
//! drainer applies an entry only if the slot still holds a node with that hash. The buffer
//! knows nothing of shards, slabs or policies; it only moves `u64`s.

use crate::sync::atomic::{AtomicU64, AtomicUsize};
use std::cell::Cell;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// Stripes per shard: the CPU count rounded up to a power of two, at most 16 (a stripe is a few
/// hundred bytes).
pub(crate) fn default_stripes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16).next_power_of_two()
}

/// Hands each new thread the next probe, so the first threads of a process get different stripes.
static NEXT_PROBE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    static PROBE: Cell<usize> = Cell::new(NEXT_PROBE.fetch_add(1, Relaxed));
}

/// This thread's stripe probe.
pub(crate) fn probe() -> usize {
    PROBE.with(Cell::get)
}

/// Moves this thread to the next stripe (after it lost a race for a slot in its own).
pub(crate) fn rehash_probe() {
    PROBE.with(|p| p.set(p.get().wrapping_add(1)));
}

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

/// What [`ReadBuffer::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// Recorded, and the ring has room left.
    Ok,
    /// The ring is full (the access was recorded in its last slot, or dropped): drain it.
    Full,
    /// Another reader won the race for the slot: the access was dropped. The caller should
    /// move to another stripe.
    Contended,
}

/// The lossy ring. `tail` is claimed by readers with a CAS; `head` moves only in
/// [`drain`](Self::drain), whose caller holds the shard's policy.
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
    pub(crate) fn record(&self, read: Read) -> Recorded {
        let head = self.head.load(Acquire);
        let tail = self.tail.load(Relaxed);
        let used = tail.wrapping_sub(head);
        if used >= SLOTS {
            return Recorded::Full;
        }
        if self.tail.compare_exchange_weak(tail, tail.wrapping_add(1), Relaxed, Relaxed).is_err() {
            return Recorded::Contended; // drop this one
        }
        // A drain may have passed this position already; then the word waits for a later drain
        // (or is overwritten by a later lap). Either is fine: drained words are validated.
        self.slots[tail & (SLOTS - 1)].store(read.encode(), Release);
        if used + 1 >= SLOTS { Recorded::Full } else { Recorded::Ok }
    }

    /// Whether any position awaits a drain (cheap; used to skip draining an idle buffer).
    pub(crate) fn is_pending(&self) -> bool {
        self.tail.load(Relaxed) != self.head.load(Relaxed)
    }

    /// Hands every recorded access to `apply` (at most [`SLOTS`] of them), oldest first, and
    /// empties the ring. The caller holds the shard's policy (its mutex, or the write lock), so
    /// there is one drainer at a time.
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

/// One stripe of a shard's read buffers: a ring and the hit/miss counters of the buffered reads
/// recorded through it (only with `record_stats`), aligned so that no two stripes share a cache
/// line (nor the lines the adjacent-line prefetcher pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Stripe {
    pub(crate) ring: ReadBuffer,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
}

/// A shard's stripes (a power of two of them).
#[derive(Debug)]
pub(crate) struct Striped {
    stripes: Box<[Stripe]>,
}

impl Striped {
    /// `n` stripes, rounded up to a power of two (at least one).
    pub(crate) fn new(n: usize) -> Self {
        Self { stripes: (0..n.max(1).next_power_of_two()).map(|_| Stripe::default()).collect() }
    }

    /// The stripe a thread with this probe records into.
    pub(crate) fn stripe(&self, probe: usize) -> &Stripe {
        &self.stripes[probe & (self.stripes.len() - 1)]
    }

    /// Every stripe.
    pub(crate) fn all(&self) -> &[Stripe] {
        &self.stripes
    }

    /// Whether any stripe holds accesses not drained yet.
    #[cfg(test)]
    pub(crate) fn is_pending(&self) -> bool {
        self.stripes.iter().any(|s| s.ring.is_pending())
    }

    /// Hits counted by every stripe.
    pub(crate) fn hits(&self) -> u64 {
        self.stripes.iter().map(|s| s.hits.load(Relaxed)).sum()
    }

    /// Misses counted by every stripe.
    pub(crate) fn misses(&self) -> u64 {
        self.stripes.iter().map(|s| s.misses.load(Relaxed)).sum()
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
            assert_eq!(buffer.record(Read::Hit { idx: i, hash: i }), Recorded::Ok);
        }
        assert_eq!(buffer.record(Read::Miss), Recorded::Full, "the last free slot fills the ring");
        assert_eq!(
            buffer.record(Read::Hit { idx: 99, hash: 99 }),
            Recorded::Full,
            "a full ring drops and asks for a drain"
        );
        let mut seen = Vec::new();
        buffer.drain(|r| seen.push(r));
        assert_eq!(seen.len(), SLOTS);
        assert_eq!(seen[0], Read::Hit { idx: 0, hash: 0 });
        assert_eq!(seen[SLOTS - 1], Read::Miss);
        assert!(!buffer.is_pending());
        assert_eq!(buffer.record(Read::Hit { idx: 1, hash: 2 }), Recorded::Ok);
        seen.clear();
        buffer.drain(|r| seen.push(r));
        assert_eq!(seen, [Read::Hit { idx: 1, hash: 2 }]);
    }

    #[test]
    fn stripes_are_a_power_of_two_on_separate_lines_and_sum_their_counters() {
        let striped = Striped::new(3);
        assert_eq!(striped.all().len(), 4);
        assert!(std::mem::align_of::<Stripe>() >= 128);
        assert!(std::ptr::eq(striped.stripe(1), striped.stripe(5)), "probes wrap around");
        striped.stripe(0).hits.fetch_add(2, Relaxed);
        striped.stripe(3).hits.fetch_add(1, Relaxed);
        striped.stripe(2).misses.fetch_add(4, Relaxed);
        assert_eq!((striped.hits(), striped.misses()), (3, 4));
        assert!(!striped.is_pending());
        striped.stripe(2).ring.record(Read::Miss);
        assert!(striped.is_pending());
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

    /// Two readers record into their own stripes while a drainer empties every stripe: the same
    /// guarantees as for one ring, across stripes (nothing invented, nothing drained twice).
    #[test]
    fn loom_striped_buffers_drain_each_stripe_once() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let striped = Arc::new(Striped::new(2));
            let readers: Vec<_> = (0..2u32)
                .map(|t| {
                    let striped = striped.clone();
                    thread::spawn(move || {
                        let stripe = striped.stripe(t as usize);
                        stripe.ring.record(Read::Hit { idx: t, hash: 100 + t });
                        stripe.hits.fetch_add(1, Relaxed);
                    })
                })
                .collect();
            let mut seen = Vec::new();
            for stripe in striped.all() {
                stripe.ring.drain(|r| seen.push(r));
            }
            for reader in readers {
                reader.join().unwrap();
            }
            for stripe in striped.all() {
                stripe.ring.drain(|r| seen.push(r));
            }
            let mut idxs: Vec<u32> = seen
                .iter()
                .map(|r| match *r {
                    Read::Hit { idx, hash } if idx < 2 && hash == 100 + idx => idx,
                    other => panic!("invented {other:?}"),
                })
                .collect();
            idxs.sort_unstable();
            idxs.dedup();
            assert_eq!(idxs.len(), seen.len(), "an access drained twice: {seen:?}");
            // A record may still be dropped (a spurious CAS failure, or a drain that passed its
            // claimed slot before the word landed), as in one ring; the counters lose nothing.
            assert!(seen.len() <= 2);
            assert_eq!(striped.hits(), 2);
        });
    }
}
