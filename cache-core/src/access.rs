//! Per-entry access stamps: a 24-bit field in every node, kept like Redis's `robj.lru`.
//!
//! Owns the stamp's meaning and arithmetic ([`AccessMode`], the free functions below) and the
//! per-shard state that writes stamps (`ShardAccess`: mode, cached time, random generator). It
//! does not own the node (`slab.rs` stores the 24 bits beside the queue tag in one word, so no
//! slot grows) nor the moments a stamp changes (`shard.rs`: on insert, on every write to the
//! entry, on a read applied to the policy — locked reads and replayed buffered reads — never on
//! `peek`, `contains_key`, `ttl`, `frequency` or a `compute` that only looks).
//!
//! Two modes, as Redis's two readings of the same bits:
//!
//! ```text
//!   Lru:  [ 24-bit clock: unix seconds mod 2^24 ]              (LRU_CLOCK, wraps every 194 days)
//!   Lfu:  [ 16-bit minutes mod 2^16 | 8-bit log counter ]      (last decrement time, LFU_INIT_VAL 5)
//! ```
//!
//! An LFU access first decays the counter by one per `decay_minutes` elapsed since the stored
//! minutes, then increments it with probability `1 / ((counter - 5) * log_factor + 1)`
//! (Redis's `LFULogIncr`; a per-shard xorshift generator supplies the randomness, so hot keys soon
//! stop changing their stamp), then stores the current minutes. Switching the mode of a running
//! cache keeps the bits and reads them the new way, as Redis does after `CONFIG SET
//! maxmemory-policy`.
//!
//! Time: the cache's [`Clock`] plus an epoch
//! ([`CacheBuilder::access_epoch_ms`](crate::CacheBuilder::access_epoch_ms)), so that a server can
//! keep unix time and write the same bits as Redis. A shard takes the time once per drain of its
//! read buffers (every write-lock acquisition, and every reader's drain; only when stamps are on)
//! and stamps everything done until the next with it: the clock's reading, or — once the owner
//! calls [`Cache::tick_access_clock`](crate::Cache::tick_access_clock) on a timer, as Redis caches
//! its `lruclock` — the time of the latest tick, one relaxed load instead of a clock read. How
//! stale a stamp can be: a buffered read reaches its stamp when its shard's read buffer is drained
//! — on the next write to that shard, when a reader fills a stripe, on
//! [`Cache::access_stamp`](crate::Cache::access_stamp) (which drains the key's shard first,
//! stamping pending reads with the drain time), or when an owner's timer takes every shard's lock
//! ([`Cache::apply_pending_reads`](crate::Cache::apply_pending_reads) or
//! [`Cache::run_pending_tasks`](crate::Cache::run_pending_tasks); our server's maintenance cycle
//! runs every 100 ms, like Redis's cached LRU clock). Lossy buffers may drop a read under
//! contention: its stamp then stays older, as if the read had not happened.
//!
//! Cost: no memory (the bits share a word with the node's queue tag); with stamps off, one relaxed
//! load and a branch per drain; with stamps on, a clock read per drain (none with a ticking owner)
//! and a few instructions per applied access (LRU: one relaxed store; LFU: the decay check, a
//! random draw and a multiply). Nothing on the read fast path.

use crate::clock::Clock;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The largest stamp: 24 bits (Redis's `LRU_CLOCK_MAX`).
pub const STAMP_MAX: u32 = (1 << 24) - 1;
/// The LFU counter of a new entry (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u8 = 5;

/// What the 24-bit access stamp of each entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AccessMode {
    /// No stamps are written (the default; stamps read as 0).
    #[default]
    Off,
    /// Time of last access in seconds, modulo 2^24.
    Lru,
    /// Minutes of last decrement modulo 2^16, and an 8-bit logarithmic access counter.
    Lfu {
        /// Redis's `lfu-log-factor`: higher values need more accesses per increment.
        log_factor: u32,
        /// Redis's `lfu-decay-time`: minutes per decrement of an unused counter (0: never decays).
        decay_minutes: u32,
    },
}

/// What a cache shares with its shards about stamps: the mode, packed in one word (2-bit tag,
/// then 31 bits each of log factor and decay time, which Redis bounds to `i32::MAX`), and the
/// published time (0: none, read the clock). A change is one store, which each shard picks up at
/// its next write-lock acquisition, without taking any shard lock (so a thread that holds shards
/// through [`Locked`](crate::Locked) may make it).
#[derive(Debug, Default)]
pub(crate) struct SharedMode(AtomicU64, AtomicU64);

impl SharedMode {
    const LOW: u64 = (1 << 31) - 1;

    pub(crate) fn new(mode: AccessMode) -> Self {
        let s = Self::default();
        s.set(mode);
        s
    }

    pub(crate) fn set(&self, mode: AccessMode) {
        let packed = match mode {
            AccessMode::Off => 0,
            AccessMode::Lru => 1 << 62,
            AccessMode::Lfu { log_factor, decay_minutes } => {
                2 << 62 | u64::from(log_factor).min(Self::LOW) << 31 | u64::from(decay_minutes).min(Self::LOW)
            }
        };
        self.0.store(packed, Relaxed);
    }

    /// Publishes `now_ms` as the time stamps use until the next call (see
    /// [`Cache::tick_access_clock`](crate::Cache::tick_access_clock)).
    pub(crate) fn publish(&self, now_ms: u64) {
        self.1.store(now_ms.max(1), Relaxed);
    }

    /// The published time, if any.
    pub(crate) fn published(&self) -> Option<u64> {
        Some(self.1.load(Relaxed)).filter(|&t| t != 0)
    }

    pub(crate) fn get(&self) -> AccessMode {
        let packed = self.0.load(Relaxed);
        match packed >> 62 {
            0 => AccessMode::Off,
            1 => AccessMode::Lru,
            _ => AccessMode::Lfu {
                log_factor: (packed >> 31 & Self::LOW) as u32,
                decay_minutes: (packed & Self::LOW) as u32,
            },
        }
    }
}

/// The LRU clock at `now_ms` (unix ms): seconds modulo 2^24.
#[must_use]
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) & u64::from(STAMP_MAX)) as u32
}

/// Milliseconds since the access an LRU stamp records, at `now_ms` (Redis's
/// `estimateObjectIdleTime`; the clock wraps, so an idle time past 194 days reads short).
#[must_use]
pub fn idle_ms(stamp: u32, now_ms: u64) -> u64 {
    let clock = lru_clock(now_ms);
    let secs = if clock >= stamp { clock - stamp } else { clock + (STAMP_MAX - stamp) };
    u64::from(secs) * 1000
}

/// The LRU stamp of an entry last used `idle_secs` before `now_ms` (Redis's
/// `objectSetLRUOrLFU`: an idle time longer than the clock gives a stamp half a lap back).
#[must_use]
pub fn lru_stamp_idle(idle_secs: u64, now_ms: u64) -> u32 {
    let clock = i64::from(lru_clock(now_ms));
    let at = clock - i64::try_from(idle_secs).unwrap_or(i64::MAX).min(1 << 40);
    if at < 0 { ((clock + i64::from(STAMP_MAX / 2)) % i64::from(STAMP_MAX)) as u32 } else { at as u32 }
}

/// The LFU minutes clock at `now_ms`: minutes modulo 2^16.
#[must_use]
pub fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// An LFU stamp holding `counter`, decremented last at `now_ms`.
#[must_use]
pub fn lfu_stamp(counter: u8, now_ms: u64) -> u32 {
    lfu_minutes(now_ms) << 8 | u32::from(counter)
}

/// The counter of an LFU stamp after the decay due by `now_ms` (Redis's `LFUDecrAndReturn`):
/// one less per `decay_minutes` elapsed since the stamp's minutes, never below 0.
#[must_use]
pub fn lfu_counter(stamp: u32, now_ms: u64, decay_minutes: u32) -> u8 {
    let (ldt, counter) = (stamp >> 8, (stamp & 0xff) as u8);
    if decay_minutes == 0 {
        return counter;
    }
    decayed(ldt, counter, lfu_minutes(now_ms), decay_minutes)
}

/// [`lfu_counter`] with the minutes clock read: `now` minutes, decay time not 0.
#[inline]
fn decayed(ldt: u32, counter: u8, now: u32, decay_minutes: u32) -> u8 {
    if ldt == now {
        return counter; // the common case: no division
    }
    let elapsed = if now >= ldt { now - ldt } else { 65_535 - ldt + now };
    let periods = elapsed / decay_minutes;
    counter.saturating_sub(u8::try_from(periods).unwrap_or(u8::MAX))
}

/// One logarithmic increment (Redis's `LFULogIncr`), `r` uniform in [0, 1).
fn lfu_log_incr(counter: u8, log_factor: u32, r: f64) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    // r < 1 / (base * factor + 1), without the division.
    if r * (base * f64::from(log_factor) + 1.0) < 1.0 { counter + 1 } else { counter }
}

/// One shard's stamp writer: the mode, the clock and the time read at lock acquisition, and a
/// cheap random generator for LFU increments.
pub(crate) struct ShardAccess {
    /// The cache's mode as of this shard's last write-lock acquisition.
    mode: AccessMode,
    shared: Arc<SharedMode>,
    clock: Option<Arc<dyn Clock>>,
    epoch_ms: u64,
    /// The time (unix ms) everything under the current write lock is stamped with, and its LRU
    /// clock and LFU minutes (computed once per lock, not per stamp).
    now_ms: u64,
    lru_now: u32,
    lfu_now: u32,
    rng: u64,
}

impl Default for ShardAccess {
    fn default() -> Self {
        Self {
            mode: AccessMode::Off,
            shared: Arc::default(),
            clock: None,
            epoch_ms: 0,
            now_ms: 0,
            lru_now: 0,
            lfu_now: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl fmt::Debug for ShardAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardAccess").field("mode", &self.mode).field("now_ms", &self.now_ms).finish()
    }
}

impl ShardAccess {
    pub(crate) fn new(shared: Arc<SharedMode>, clock: Arc<dyn Clock>, epoch_ms: u64, seed: u64) -> Self {
        Self {
            mode: shared.get(),
            shared,
            clock: Some(clock),
            epoch_ms,
            now_ms: 0,
            lru_now: 0,
            lfu_now: 0,
            rng: seed | 1,
        }
    }

    /// Whether stamps are written.
    #[inline]
    pub(crate) fn on(&self) -> bool {
        self.mode != AccessMode::Off
    }

    /// Takes up the cache's mode and the time (once per write-lock acquisition, the time only
    /// when stamps are on): the published time if there is one, else the clock.
    #[inline]
    pub(crate) fn tick(&mut self) {
        self.mode = self.shared.get();
        if self.on() {
            let now = self.shared.published().unwrap_or_else(|| self.time_ms());
            if now != self.now_ms {
                self.now_ms = now;
                self.lru_now = lru_clock(now);
                self.lfu_now = lfu_minutes(now);
            }
        }
    }

    /// The stamp clock's reading now (unix ms with the builder's epoch).
    pub(crate) fn time_ms(&self) -> u64 {
        self.epoch_ms + self.clock.as_ref().map_or(0, |c| c.now_nanos() / 1_000_000)
    }

    /// The stamp of a new entry.
    #[inline]
    pub(crate) fn created(&self) -> u32 {
        match self.mode {
            AccessMode::Off => 0,
            AccessMode::Lru => self.lru_now,
            AccessMode::Lfu { .. } => self.lfu_now << 8 | u32::from(LFU_INIT_VAL),
        }
    }

    /// The stamp after one access to an entry stamped `old`.
    #[inline]
    pub(crate) fn touched(&mut self, old: u32) -> u32 {
        match self.mode {
            AccessMode::Off => old,
            AccessMode::Lru => self.lru_now,
            AccessMode::Lfu { log_factor, decay_minutes } => {
                let (ldt, mut counter) = (old >> 8, (old & 0xff) as u8);
                if decay_minutes != 0 {
                    counter = decayed(ldt, counter, self.lfu_now, decay_minutes);
                }
                if counter != u8::MAX {
                    counter = lfu_log_incr(counter, log_factor, self.random());
                }
                self.lfu_now << 8 | u32::from(counter)
            }
        }
    }

    /// Uniform in [0, 1): xorshift64, top 53 bits.
    fn random(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_idle_time_wraps_like_redis() {
        let now = 1_000_000_000_000; // unix ms
        let stamp = lru_clock(now - 5_000);
        assert_eq!(idle_ms(stamp, now), 5_000);
        assert_eq!(idle_ms(STAMP_MAX - 1, u64::from(STAMP_MAX + 2) * 1000), 2_000, "the clock wrapped");
        assert_eq!(lru_stamp_idle(1000, now), lru_clock(now) - 1000);
        assert_eq!(idle_ms(lru_stamp_idle(1000, now), now), 1_000_000);
        let early = 10_000; // 10 s after the epoch: a longer idle time cannot be represented
        assert_eq!(lru_stamp_idle(100, early), (10 + STAMP_MAX / 2) % STAMP_MAX);
    }

    #[test]
    fn the_shared_mode_round_trips() {
        let m = SharedMode::default();
        for mode in [
            AccessMode::Lru,
            AccessMode::Off,
            AccessMode::Lfu { log_factor: 10, decay_minutes: 1 },
            AccessMode::Lfu { log_factor: 0, decay_minutes: i32::MAX as u32 },
        ] {
            m.set(mode);
            assert_eq!(m.get(), mode);
        }
    }

    #[test]
    fn lfu_counter_decays_one_per_period_and_wraps() {
        let t = 60_000 * 100;
        let s = lfu_stamp(10, t);
        assert_eq!(lfu_counter(s, t + 59_999, 1), 10);
        assert_eq!(lfu_counter(s, t + 3 * 60_000, 1), 7);
        assert_eq!(lfu_counter(s, t + 3 * 60_000, 2), 9);
        assert_eq!(lfu_counter(s, t + 300 * 60_000, 1), 0);
        assert_eq!(lfu_counter(s, t + 300 * 60_000, 0), 10, "decay time 0: no decay");
        let late = lfu_stamp(10, 65_535 * 60_000); // minutes 65535, then the clock wraps to 2
        assert_eq!(lfu_counter(late, 65_538 * 60_000, 1), 8);
    }

    #[test]
    fn lfu_increment_is_certain_at_the_initial_value_and_rare_later() {
        assert_eq!(lfu_log_incr(LFU_INIT_VAL, 10, 0.999_999), LFU_INIT_VAL + 1);
        assert_eq!(lfu_log_incr(255, 10, 0.0), 255);
        assert_eq!(lfu_log_incr(4, 10, 0.999), 5, "below the initial value every access counts");
        let mut a = ShardAccess::new(
            Arc::new(SharedMode::new(AccessMode::Lfu { log_factor: 10, decay_minutes: 1 })),
            Arc::new(crate::MockClock::new()),
            0,
            7,
        );
        let mut s = a.created();
        for _ in 0..1000 {
            s = a.touched(s);
        }
        // Redis's table for factor 10: ~1k hits reach about 18 (the curve is steep, then flat).
        assert!((12..=25).contains(&(s & 0xff)), "{}", s & 0xff);
    }

    use crate::{Cache, EvictionPolicy, MockClock};
    use std::time::Duration;

    fn cache(policy: EvictionPolicy, mode: AccessMode, clock: &MockClock) -> Cache<u64, u64> {
        Cache::builder()
            .max_capacity(100)
            .shards(1)
            .eviction_policy(policy)
            .clock(clock.clone())
            .access_stamps(mode)
            .build()
    }

    fn idle_secs(c: &Cache<u64, u64>, k: u64) -> u64 {
        idle_ms(c.access_stamp(&k).expect("present"), c.access_time_ms()) / 1000
    }

    #[test]
    fn lru_stamps_follow_inserts_writes_and_reads_on_both_read_paths_but_not_peeks() {
        for policy in [EvictionPolicy::TinyLfu, EvictionPolicy::Lru] {
            let clock = MockClock::new();
            let c = cache(policy, AccessMode::Lru, &clock);
            c.insert(1, 1);
            c.insert(2, 2);
            clock.advance(Duration::from_secs(10));
            assert_eq!(idle_secs(&c, 1), 10, "{policy:?}: stamped on insert");
            c.get(&1);
            assert_eq!(c.peek(&2), Some(2));
            assert!(c.contains_key(&2));
            let _ = (c.ttl(&2), c.frequency(&2));
            c.compute(2, |slot| slot.value().copied());
            clock.advance(Duration::from_secs(3));
            assert_eq!(idle_secs(&c, 1), 3, "{policy:?}: the read (buffered or locked) was stamped");
            assert_eq!(idle_secs(&c, 2), 13, "{policy:?}: peeks and a looking compute leave the stamp");
            c.insert(2, 20);
            assert_eq!(idle_secs(&c, 2), 0, "{policy:?}: a write stamps");
            clock.advance(Duration::from_secs(2));
            c.compute(2, |slot| slot.modify(|v| *v += 1));
            assert_eq!(idle_secs(&c, 2), 0, "{policy:?}: an in-place change stamps");
            assert_eq!(c.access_stamp(&3), None);
        }
    }

    #[test]
    fn a_buffered_read_is_stamped_when_its_buffer_drains() {
        let clock = MockClock::new();
        let c = cache(EvictionPolicy::TinyLfu, AccessMode::Lru, &clock);
        c.insert(1, 1);
        clock.advance(Duration::from_secs(5));
        c.get(&1); // buffered: the stamp still says 0 s
        clock.advance(Duration::from_secs(1));
        c.apply_pending_reads(); // the server's timer: the read is stamped at 6 s
        clock.advance(Duration::from_secs(4));
        assert_eq!(idle_secs(&c, 1), 4);
    }

    #[test]
    fn lfu_counter_starts_at_5_counts_the_first_access_and_decays_by_minutes() {
        for policy in [EvictionPolicy::TinyLfu, EvictionPolicy::Lru] {
            let clock = MockClock::new();
            let c = cache(policy, AccessMode::Lfu { log_factor: 10, decay_minutes: 1 }, &clock);
            let freq = |c: &Cache<u64, u64>, k| lfu_counter(c.access_stamp(&k).unwrap(), c.access_time_ms(), 1);
            c.insert(1, 1);
            assert_eq!(freq(&c, 1), LFU_INIT_VAL);
            c.get(&1);
            assert_eq!(freq(&c, 1), 6, "{policy:?}");
            assert_eq!(c.peek(&1), Some(1));
            assert_eq!(freq(&c, 1), 6, "{policy:?}: a peek does not count");
            clock.advance(Duration::from_secs(3 * 60));
            assert_eq!(freq(&c, 1), 3, "{policy:?}: one less a minute");
            c.get(&1); // decays to 3 (stored), then below the initial value every access counts
            assert_eq!(freq(&c, 1), 4, "{policy:?}");
            assert_eq!(c.access_stamp(&1).unwrap() >> 8, 3, "{policy:?}: the decrement time moved");
        }
    }

    #[test]
    fn a_ticking_owner_stamps_with_the_published_time() {
        let clock = MockClock::new();
        clock.advance(Duration::from_secs(100));
        let c = cache(EvictionPolicy::Lru, AccessMode::Lru, &clock);
        c.tick_access_clock();
        clock.advance(Duration::from_millis(900));
        c.insert(1, 1);
        assert_eq!(c.access_stamp(&1), Some(100), "the published second, not the clock's");
        assert_eq!(c.access_time_ms(), 100_000);
        clock.advance(Duration::from_secs(5));
        assert_eq!(idle_secs(&c, 1), 0, "the published time stands until the next tick");
        c.tick_access_clock();
        assert_eq!(idle_secs(&c, 1), 5);
        c.get(&1);
        assert_eq!(idle_secs(&c, 1), 0);
    }

    #[test]
    fn switching_the_mode_keeps_the_bits_and_set_access_stamp_overwrites_them() {
        let clock = MockClock::new();
        clock.advance(Duration::from_secs(3600));
        let c = cache(EvictionPolicy::TinyLfu, AccessMode::Off, &clock);
        c.insert(1, 1);
        assert_eq!(c.access_stamp(&1), Some(0), "no stamps while off");
        c.set_access_mode(AccessMode::Lfu { log_factor: 10, decay_minutes: 1 });
        assert_eq!(c.access_mode(), AccessMode::Lfu { log_factor: 10, decay_minutes: 1 });
        c.insert(2, 2);
        let lfu = c.access_stamp(&2).unwrap();
        assert_eq!(lfu, lfu_stamp(LFU_INIT_VAL, 3_600_000));
        c.set_access_mode(AccessMode::Lru);
        assert_eq!(c.access_stamp(&2), Some(lfu), "the bits stay, read another way");
        assert!(c.set_access_stamp(&2, lru_stamp_idle(1000, c.access_time_ms())));
        assert_eq!(idle_secs(&c, 2), 1000);
        assert!(!c.set_access_stamp(&9, 1));
        let mut all = Vec::new();
        c.snapshot_with_access(|shard| all.extend(shard));
        all.sort_unstable();
        assert_eq!(all, vec![(1, 1, 0), (2, 2, lru_stamp_idle(1000, 3_600_000))]);
    }

    /// The stamp shares a word with the queue tag: `u64 -> u64` nodes stay 32 bytes, and so do the
    /// server's (a 24-byte `Key` and a 48-byte `Entry`, both 8-aligned: 88 bytes before and after).
    #[test]
    fn stamps_cost_no_memory() {
        #[repr(align(8))]
        struct Key24([u8; 24]);
        #[repr(align(8))]
        struct Entry48([u8; 48]);
        assert_eq!(std::mem::size_of::<crate::slab::Node<u64, u64>>(), 32);
        assert_eq!(std::mem::size_of::<crate::slab::Node<Key24, Entry48>>(), 88);
        let _ = (Key24([0; 24]).0, Entry48([0; 48]).0);
    }
}
