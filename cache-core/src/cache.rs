//! [`Cache`]: the concurrent façade — an array of shards, each behind its own `RwLock`.
//!
//! ```text
//!   key ──hash once (ahash)──► h ──bits 32..──► shard index ──► ShardCell (padded)
//!                              └──bits 0..32──► stored hash       ├─ RwLock<Shard> (policy inside,
//!                                  (never 0)                      │    behind its own Mutex)
//!                                                                 └─ Striped: per stripe a lossy
//!                                                                    ring + hits / misses (atomics)
//! ```
//! Each call hashes the key once and touches exactly one shard. Writes (insert, remove,
//! compute, loaders, TTL changes, evictions) take the shard's write lock, first replay the
//! shard's buffered reads on the policy, run the shard kernel, unlock, and then deliver removed
//! entries to the listener.
//!
//! Reads take one of two paths. On a W-TinyLFU shard without time-to-idle, an `Expiry` hook or
//! refresh-after-write, `get` takes the *read* lock, finds the entry, checks its deadline,
//! clones the value, and records the access (slab index + stored hash) in its own stripe of the
//! shard's read buffers ([`Striped`], picked by a per-thread probe, so two threads reading one
//! shard write to different cache lines). A reader whose record fills its stripe replays the
//! shard's buffers on the policy right there, still under the read lock, if the policy's own
//! mutex is free (`try_lock`, never waiting: a busy mutex means another reader is draining; a
//! slow path taken once every [`SLOTS`](read_buffer::SLOTS) reads of a thread at most). Other
//! readers of the shard go on meanwhile: the replay relinks nodes through relaxed atomics that
//! no reader looks at, and only writers wait for it, as they wait for any reader. Every write
//! drains the buffers before deciding anything, so evictions always see every
//! buffered read that was not dropped. An expired entry found on this path is never returned:
//! the read retries under the write lock, which reclaims it. Every other configuration (exact
//! LRU, TTI, `Expiry::expire_after_read`, refresh) needs to change the shard on each read and
//! keeps the locked path. Nothing global is touched on any path: no shared counter, no global
//! lock, no channel; statistics and sizes are summed over shards on demand.

use crate::access::AccessMode;
use crate::builder::CacheBuilder;
use crate::compute::Slot;
use crate::config::Config;
use crate::expiry::TtlMode;
use crate::iter::Iter;
use crate::listener::Removals;
use crate::loader::{Outcome, Role, SharedError, Waiter};
use crate::locked::held;
use crate::policy::Weights;
use crate::shard::SharedRead;
use crate::shard::{Order, Shard, table_hash};
use crate::slab::Slab;
use crate::stats::CacheStats;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use read_buffer::{Read, Recorded, Striped};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// Declared here rather than in lib.rs: the buffer is part of the cache's shard cell.
#[path = "read_buffer.rs"]
pub(crate) mod read_buffer;

/// One shard behind its lock, with what readers share outside the lock: the striped read
/// buffers, which also count the hits and misses of buffered reads (only with `record_stats`;
/// locked reads count in the shard's own [`CacheStats`]). Aligned so that shards do not share a
/// cache line.
#[repr(align(128))]
pub(crate) struct ShardCell<K, V> {
    pub(crate) lock: RwLock<Shard<K, V>>,
    pub(crate) reads: Striped,
    /// The shard's entry count, weighted size, pinned weight and count of entries with a
    /// deadline as of its last write-lock release ([`ShardWrite`] publishes them), so that the
    /// cache-wide sums take no lock — not even one this thread already holds through
    /// [`Locked`](crate::Locked).
    len: AtomicU64,
    weighted: AtomicU64,
    pinned: AtomicU64,
    deadlines: AtomicU64,
}

impl<K, V> ShardCell<K, V> {
    pub(crate) fn new(shard: Shard<K, V>) -> Self {
        Self {
            lock: RwLock::new(shard),
            reads: Striped::new(read_buffer::default_stripes()),
            len: AtomicU64::new(0),
            weighted: AtomicU64::new(0),
            pinned: AtomicU64::new(0),
            deadlines: AtomicU64::new(0),
        }
    }

    /// The shard's published entry count.
    pub(crate) fn published_len(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }

    /// The shard's published weighted size.
    pub(crate) fn published_weight(&self) -> u64 {
        self.weighted.load(Ordering::Relaxed)
    }

    /// The shard's published pinned weight.
    pub(crate) fn published_pinned(&self) -> u64 {
        self.pinned.load(Ordering::Relaxed)
    }

    /// The read lock (debug builds check that this thread does not hold it already).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Shard<K, V>> {
        held::check(self);
        self.lock.read()
    }
}

/// A shard's write guard that publishes the shard's sizes when released.
pub(crate) struct ShardWrite<'a, K: Eq + Clone + 'static, V: Clone + 'static> {
    guard: RwLockWriteGuard<'a, Shard<K, V>>,
    cell: &'a ShardCell<K, V>,
}

impl<K: Eq + Clone + 'static, V: Clone + 'static> std::ops::Deref for ShardWrite<'_, K, V> {
    type Target = Shard<K, V>;
    fn deref(&self) -> &Shard<K, V> {
        &self.guard
    }
}

impl<K: Eq + Clone + 'static, V: Clone + 'static> std::ops::DerefMut for ShardWrite<'_, K, V> {
    fn deref_mut(&mut self) -> &mut Shard<K, V> {
        &mut self.guard
    }
}

impl<K: Eq + Clone + 'static, V: Clone + 'static> Drop for ShardWrite<'_, K, V> {
    fn drop(&mut self) {
        let shard = &mut *self.guard;
        let (weighted, pinned) = shard.policy_sizes();
        self.cell.len.store(shard.len(), Ordering::Relaxed);
        self.cell.weighted.store(weighted, Ordering::Relaxed);
        self.cell.pinned.store(pinned, Ordering::Relaxed);
        self.cell.deadlines.store(shard.deadline_len(), Ordering::Relaxed);
    }
}

impl<K: Eq + Clone + 'static, V: Clone + 'static> ShardCell<K, V> {
    /// The write lock, with every buffered read already applied to the policy.
    pub(crate) fn write(&self) -> ShardWrite<'_, K, V> {
        held::check(self);
        let mut shard = ShardWrite { guard: self.lock.write(), cell: self };
        let (slab, weights, order) = shard.replay_parts();
        self.drain(slab, weights, order);
        shard
    }

    /// The write lock if it is free (buffered reads applied), without waiting.
    pub(crate) fn try_write(&self) -> Option<ShardWrite<'_, K, V>> {
        let mut shard = ShardWrite { guard: self.lock.try_write()?, cell: self };
        let (slab, weights, order) = shard.replay_parts();
        self.drain(slab, weights, order);
        Some(shard)
    }

    /// Replays the buffered reads on the policy if its mutex is free, under the read lock the
    /// caller holds: other readers of the shard go on meanwhile (a busy mutex means another
    /// reader is draining).
    pub(crate) fn try_drain_shared(&self, shard: &Shard<K, V>) {
        let (slab, weights, order) = shard.shared_replay_parts();
        if let Some(mut order) = order.try_lock() {
            self.drain(slab, weights, &mut order);
        }
    }

    /// Replays the buffered reads on the policy, prefetching each read's node and sketch line
    /// `FAR` reads before applying it and its list neighbours `NEAR` reads before (see
    /// [`Order::prefetch_far`]). The caller holds the shard's lock (read or write) and the
    /// policy, so there is one drainer at a time and no slot is freed meanwhile.
    fn drain(&self, slab: &Slab<K, V>, weights: &Weights, order: &mut Order) {
        const FAR: usize = 8;
        const NEAR: usize = 4;
        order.access.tick();
        for stripe in self.reads.all() {
            if !stripe.ring.is_pending() {
                continue;
            }
            let mut reads = [Read::Miss; read_buffer::SLOTS];
            let mut n = 0;
            stripe.ring.drain(|read| {
                if let Some(slot) = reads.get_mut(n) {
                    *slot = read;
                    n += 1;
                }
            });
            let reads = &reads[..n];
            for &read in reads.iter().take(FAR) {
                order.prefetch_far(slab, read);
            }
            for &read in reads.iter().take(NEAR) {
                Order::prefetch_near(slab, read);
            }
            for (i, &read) in reads.iter().enumerate() {
                if let Some(&far) = reads.get(i + FAR) {
                    order.prefetch_far(slab, far);
                }
                if let Some(&near) = reads.get(i + NEAR) {
                    Order::prefetch_near(slab, near);
                }
                order.apply_read(slab, weights, read);
            }
        }
    }
}

pub(crate) struct Inner<K, V, S> {
    pub(crate) shards: Box<[ShardCell<K, V>]>,
    /// Whether `get` may take the read lock and buffer its policy update (see the module docs).
    pub(crate) buffered_reads: bool,
    pub(crate) shard_mask: u64,
    pub(crate) hasher: S,
    pub(crate) cfg: Config<K, V>,
    pub(crate) capacity: AtomicU64,
    /// What the access stamps record (each shard keeps a copy; this one is read without a shard
    /// lock, so that a thread holding shards through [`Locked`](crate::Locked) may ask).
    pub(crate) access_mode: Arc<crate::access::SharedMode>,
    /// The stamp clock's reading at the clock's zero (see `access.rs`).
    pub(crate) access_epoch_ms: u64,
}

/// A sharded, concurrent, bounded cache. Cheap to clone: clones share the same entries.
///
/// `K` and `V` must be `Clone` (reads return clones: wrap large values in `Arc`, or use a
/// cheaply cloned type such as `bytes::Bytes`).
///
/// # Examples
///
/// ```
/// use cache_core::Cache;
///
/// let cache: Cache<String, u64> = Cache::new(10_000);
/// cache.insert("answer".to_string(), 42);
/// assert_eq!(cache.get("answer"), Some(42));
/// assert_eq!(cache.remove("answer"), Some(42));
/// assert!(cache.get("answer").is_none());
/// ```
pub struct Cache<K, V, S = ahash::RandomState> {
    pub(crate) inner: Arc<Inner<K, V, S>>,
}

impl<K, V, S> Clone for Cache<K, V, S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<K, V, S> fmt::Debug for Cache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("capacity", &self.inner.capacity.load(Ordering::Relaxed))
            .field("shards", &self.inner.shards.len())
            .field("config", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache of at most `max_entries` entries, with every other setting at its default.
    #[must_use]
    pub fn new(max_entries: u64) -> Self {
        Self::builder().max_capacity(max_entries).build()
    }

    /// A builder for every other configuration.
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder::default()
    }
}

impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        let hash = self.inner.hasher.hash_one(key);
        // The low half is the hash a node stores, which is never 0 (the slot's niche).
        hash | u64::from(hash as u32 == 0)
    }

    fn cell(&self, hash: u64) -> &ShardCell<K, V> {
        &self.inner.shards[((hash >> 32) & self.inner.shard_mask) as usize]
    }

    /// Runs `f` on the shard of `hash` under its write lock (after replaying its buffered
    /// reads), then delivers removals to the listener.
    pub(crate) fn with_shard<R>(
        &self,
        hash: u64,
        f: impl FnOnce(&mut Shard<K, V>, &Config<K, V>, &mut Removals<K, V>) -> R,
    ) -> R {
        let cfg = &self.inner.cfg;
        let mut sink = Removals::new(cfg.listener.is_some());
        let result = f(&mut self.cell(hash).write(), cfg, &mut sink);
        sink.deliver(cfg.listener.as_ref());
        result
    }

    /// The value of `key`, counting a hit or a miss and updating the eviction policy.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_map(key, V::clone)
    }

    /// What `f` makes of the value of `key`, counting a hit or a miss and updating the eviction
    /// policy as [`get`](Self::get) does: a borrowing read, for callers that copy a value
    /// somewhere (a reply buffer) or need only a part of it, and would otherwise clone it first.
    ///
    /// `f` runs under the shard's lock (shared on the default configuration): keep it short and
    /// do not call back into the cache.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::Cache;
    ///
    /// let cache: Cache<u64, Vec<u8>> = Cache::new(100);
    /// cache.insert(1, b"hello".to_vec());
    /// let mut reply = Vec::new();
    /// assert_eq!(cache.get_map(&1, |v| reply.extend_from_slice(v)), Some(()));
    /// assert_eq!(cache.get_map(&1, Vec::len), Some(5));
    /// assert_eq!(cache.get_map(&2, Vec::len), None);
    /// assert_eq!(reply, b"hello");
    /// ```
    pub fn get_map<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut f = Some(f);
        if self.inner.buffered_reads {
            let cell = self.cell(hash);
            let shard = cell.read();
            let found = shard.get_shared(&self.inner.cfg, hash as u32, key, |v| f.take().map(|f| f(v)));
            let read = match found {
                SharedRead::Hit(idx, value) => Some((Read::Hit { idx, hash: hash as u32 }, value)),
                SharedRead::Miss => Some((Read::Miss, None)),
                SharedRead::Expired => None, // reclaim it under the write lock below
            };
            if let Some((read, value)) = read {
                self.record_read(cell, shard, read);
                return value;
            }
        }
        let f = f.take()?;
        let (value, ticket) = self.with_shard(hash, |s, cfg, sink| s.get(cfg, hash as u32, key, sink, f))?;
        if let Some(ticket) = ticket {
            self.spawn_refresh(hash, ticket);
        }
        Some(value)
    }

    /// Buffers a read for the policy in this thread's stripe, counts it there, and releases the
    /// read lock `shard`. If this read filled the stripe, it first replays the shard's buffered
    /// reads, still under the read lock and beside other readers, if the policy's mutex is free
    /// (a busy one means another reader is draining), then, with the lock released, calls
    /// [`maintain_if_due`](Self::maintain_if_due). A reader that lost a race for a slot moves to
    /// another stripe for its next read.
    fn record_read(&self, cell: &ShardCell<K, V>, shard: RwLockReadGuard<'_, Shard<K, V>>, read: Read) {
        let cfg = &self.inner.cfg;
        let stripe = cell.reads.stripe(read_buffer::probe());
        if cfg.record_stats {
            let counter = if matches!(read, Read::Miss) { &stripe.misses } else { &stripe.hits };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        match stripe.ring.record(read) {
            Recorded::Ok => {}
            Recorded::Contended => read_buffer::rehash_probe(),
            Recorded::Full => {
                cell.try_drain_shared(&shard);
                drop(shard);
                self.maintain_if_due(cell);
            }
        }
    }

    /// After a reader's drain: if entries of `cell`'s shard have deadlines, advances its timer
    /// wheel (reclaiming due entries) when the write lock is free, never waiting for it.
    fn maintain_if_due(&self, cell: &ShardCell<K, V>) {
        if cell.deadlines.load(Ordering::Relaxed) == 0 {
            return;
        }
        let cfg = &self.inner.cfg;
        if let Some(mut shard) = cell.try_write() {
            let mut sink = Removals::new(cfg.listener.is_some());
            let now = shard.now(cfg, false);
            shard.maintain(cfg, now, &mut sink);
            drop(shard);
            sink.deliver(cfg.listener.as_ref());
        }
    }

    /// The value of `key` without touching the policy or the statistics.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.cell(hash).read().peek(&self.inner.cfg, hash as u32, key).cloned()
    }

    /// True if `key` is still stored but past its deadline: an entry the reads above hide and
    /// that has not been reclaimed yet (a caller doing lazy expiry, as Redis's lookups do, then
    /// removes it with a write such as [`compute`](Self::compute)). Touches nothing.
    pub fn holds_expired<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.cell(hash).read().holds_expired(&self.inner.cfg, hash as u32, key)
    }

    /// How often the eviction policy estimates `key` was used, without touching the policy or
    /// the statistics: W-TinyLFU's count-min sketch estimate, 0..=15 (saturating, halved each
    /// time the sketch ages; reads reach it once their buffer is drained). `None` when the key is
    /// absent or the policy keeps no frequencies (LRU, sampled).
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(100);
    /// cache.insert(1, 10);
    /// assert!(cache.frequency(&1).is_some());
    /// assert_eq!(cache.frequency(&2), None);
    /// ```
    pub fn frequency<Q>(&self, key: &Q) -> Option<u8>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.cell(hash).read().frequency(&self.inner.cfg, hash as u32, key).flatten()
    }

    /// The 24-bit access stamp of `key` (see [`AccessMode`](crate::AccessMode) for what it
    /// holds; 0 while stamps are off), without touching it: `None` when the key is absent. Drains
    /// the key's shard's read buffer first (under its write lock), so every read recorded so far is
    /// in the answer, stamped at the latest with the time of this call.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cache_core::{AccessMode, Cache, MockClock, access};
    ///
    /// let clock = MockClock::new();
    /// let cache: Cache<u32, u32> = Cache::builder().max_capacity(10).clock(clock.clone()).access_stamps(AccessMode::Lru).build();
    /// cache.insert(1, 1);
    /// clock.advance(Duration::from_secs(7));
    /// let stamp = cache.access_stamp(&1).unwrap();
    /// assert_eq!(access::idle_ms(stamp, cache.access_time_ms()), 7_000);
    /// cache.get(&1);
    /// assert_eq!(access::idle_ms(cache.access_stamp(&1).unwrap(), cache.access_time_ms()), 0);
    /// ```
    pub fn access_stamp<Q>(&self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.with_shard(hash, |s, cfg, _| s.access_stamp(cfg, hash as u32, key))
    }

    /// Overwrites the access stamp of `key` (its low 24 bits), as a load from a snapshot or a
    /// Redis `RESTORE … IDLETIME` does; false when the key is absent.
    pub fn set_access_stamp<Q>(&self, key: &Q, stamp: u32) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.with_shard(hash, |s, cfg, _| s.set_access_stamp(cfg, hash as u32, key, stamp))
    }

    /// What the access stamps record now.
    pub fn access_mode(&self) -> AccessMode {
        self.inner.access_mode.get()
    }

    /// Changes what access stamps record from now on (each shard takes the new mode up at its
    /// next write-lock acquisition; no shard lock is taken here, so a thread holding shards through
    /// [`Locked`](crate::Locked) may call it). The stamps already written keep their bits, and are
    /// read the new way (as Redis reads its `lru` field after a policy change); turning stamps on
    /// from [`AccessMode::Off`] starts every entry at 0.
    pub fn set_access_mode(&self, mode: AccessMode) {
        self.inner.access_mode.set(mode);
    }

    /// The stamp clock's reading now, in milliseconds (unix ms when the builder was given the
    /// epoch, see [`CacheBuilder::access_epoch_ms`](crate::CacheBuilder::access_epoch_ms)): the
    /// `now_ms` to give [`access::idle_ms`](crate::access::idle_ms) and
    /// [`access::lfu_counter`](crate::access::lfu_counter).
    pub fn access_time_ms(&self) -> u64 {
        let clock = || self.inner.access_epoch_ms + self.inner.cfg.now() / 1_000_000;
        self.inner.access_mode.published().unwrap_or_else(clock)
    }

    /// Reads the clock once and publishes the time for access stamps: from the first call on,
    /// shards stamp with the time of the latest call (one relaxed load per write lock) instead of
    /// reading the clock at every write-lock acquisition, and
    /// [`access_time_ms`](Self::access_time_ms) answers it — Redis's cached `lruclock`. Call it
    /// on a timer (a server every 100 ms) or never: stamps are then as old as the last call.
    pub fn tick_access_clock(&self) {
        let now = self.inner.access_epoch_ms + self.inner.cfg.now() / 1_000_000;
        self.inner.access_mode.publish(now);
    }

    /// Applies every buffered read to the policy and the access stamps now (each shard with
    /// pending reads is write-locked briefly). A server calls it on a timer so that a read's stamp
    /// lags the read by at most that period (see [`access`](crate::access)).
    pub fn apply_pending_reads(&self) {
        for cell in &self.inner.shards {
            if cell.reads.all().iter().any(|stripe| stripe.ring.is_pending()) {
                drop(cell.write());
            }
        }
    }

    /// [`snapshot`](Self::snapshot), with each entry's access stamp: `(key, value, stamp)`.
    pub fn snapshot_with_access(&self, mut each: impl FnMut(Vec<(K, V, u32)>)) {
        let cfg = &self.inner.cfg;
        let mut guards: Vec<_> = self.inner.shards.iter().map(ShardCell::read).collect();
        for guard in guards.drain(..) {
            let mut out = Vec::with_capacity(guard.len() as usize);
            guard.stamped_entries(cfg, &mut out);
            drop(guard);
            each(out);
        }
    }

    /// Whether `key` is present (and not expired), without touching the policy.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.cell(hash).read().peek(&self.inner.cfg, hash as u32, key).is_some()
    }

    fn write(&self, key: K, value: V, mode: TtlMode) {
        let hash = self.hash(&key);
        self.with_shard(hash, |s, cfg, sink| {
            let now = s.now(cfg, matches!(mode, TtlMode::Explicit(Some(_))));
            s.write(cfg, hash as u32, key, value, mode, now, sink);
        });
    }

    /// Inserts or replaces `key`. The entry's time to live is reset to the builder's default.
    pub fn insert(&self, key: K, value: V) {
        self.write(key, value, TtlMode::Default);
    }

    /// Inserts or replaces `key`, expiring it `ttl` from now.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        self.write(key, value, TtlMode::Explicit(Some(crate::clock::nanos(ttl))));
    }

    /// Removes `key` and returns its value.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.with_shard(hash, |s, cfg, sink| {
            let now = s.now(cfg, false);
            let idx = s.find_live(cfg, hash as u32, key, now, sink)?;
            Some(s.remove_at(cfg, idx, sink))
        })
    }

    /// Runs `f` on the entry of `key` atomically: no other operation on the cache observes or
    /// interleaves with what `f` reads and writes through the [`Slot`].
    ///
    /// `f` runs under a shard lock: keep it short and do not call back into the cache.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::Cache;
    ///
    /// let hits: Cache<&str, u64> = Cache::new(100);
    /// for _ in 0..3 {
    ///     hits.compute("page", |slot| {
    ///         let next = slot.value().copied().unwrap_or(0) + 1;
    ///         slot.set(next);
    ///     });
    /// }
    /// assert_eq!(hits.get("page"), Some(3));
    /// ```
    pub fn compute<R>(&self, key: K, f: impl FnOnce(&mut Slot<'_, K, V>) -> R) -> R {
        let hash = self.hash(&key);
        self.with_shard(hash, |shard, cfg, sink| {
            let now = shard.now(cfg, false);
            shard.maintain(cfg, now, sink);
            let idx = shard.find_live(cfg, hash as u32, &key, now, sink);
            let mut slot = Slot { shard, cfg, sink, key, hash: hash as u32, idx, now };
            f(&mut slot)
        })
    }

    /// Remaining time to live of `key`: `None` if absent, `Some(None)` if it never expires.
    pub fn ttl<Q>(&self, key: &Q) -> Option<Option<Duration>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.cell(hash).read().ttl(&self.inner.cfg, hash as u32, key)
    }

    /// Sets the time to live of `key` from now (`None`: never expires; zero: expire now).
    /// Returns whether the key is present afterwards.
    pub fn set_ttl<Q>(&self, key: &Q, ttl: Option<Duration>) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.with_shard(hash, |s, cfg, sink| {
            let now = cfg.now();
            s.maintain(cfg, now, sink);
            match s.find_live(cfg, hash as u32, key, now, sink) {
                Some(idx) => s.set_ttl_at(cfg, idx, ttl.map(crate::clock::nanos), now, sink),
                None => false,
            }
        })
    }

    pub(crate) fn for_each_shard(&self, mut f: impl FnMut(&mut Shard<K, V>, &Config<K, V>, &mut Removals<K, V>)) {
        for shard in &self.inner.shards {
            let cfg = &self.inner.cfg;
            let mut sink = Removals::new(cfg.listener.is_some());
            f(&mut shard.write(), cfg, &mut sink);
            sink.deliver(cfg.listener.as_ref());
        }
    }

    /// Removes every entry (the listener sees each with [`RemovalCause::Explicit`](crate::RemovalCause)).
    pub fn invalidate_all(&self) {
        self.for_each_shard(|s, cfg, sink| s.clear(cfg, sink));
    }

    /// Keeps only the entries for which `keep` returns true; the others are removed as explicit
    /// removals. `keep` runs under a shard lock.
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.for_each_shard(|s, cfg, sink| s.retain(cfg, &mut keep, sink));
    }

    /// Reclaims every expired entry now, and evicts down to the capacity what a shrink during a
    /// [maintenance pause](Self::pause_maintenance) left over. (Expired entries are also
    /// reclaimed as time passes during ordinary operations; this makes it exact and immediate.)
    /// This is active expiry: it reclaims nothing while [active expiry](Self::set_active_expiry)
    /// is off or maintenance is paused.
    pub fn run_pending_tasks(&self) {
        self.for_each_shard(|s, cfg, sink| {
            let now = cfg.now();
            s.run_pending(cfg, now, sink);
        });
    }

    /// Pauses maintenance for `duration` (or until [`resume_maintenance`](Self::resume_maintenance);
    /// a second call sets a new end): no entry leaves on its own, so the cache's contents change
    /// only through its callers' writes — Redis's rule under `CLIENT PAUSE`. Meanwhile:
    ///
    /// - The timer wheel stands still. A read ([`get`](Self::get), [`peek`](Self::peek),
    ///   [`compute`](Self::compute), [`scan`](Self::scan), …) still never returns an expired
    ///   entry: it answers as if the key were absent and leaves the entry in place, so
    ///   [`len`](Self::len) and the removal statistics do not move. A write to such a key (an insert, or a
    ///   [`Slot`] write) replaces it, and the old entry leaves as
    ///   [`RemovalCause::Expired`](crate::RemovalCause); [`remove`](Self::remove) leaves it.
    /// - [`set_capacity`](Self::set_capacity) to a smaller bound evicts nothing: until the pause
    ///   ends the weighted size may stay above the new capacity. Writes still evict to make their
    ///   own room, so the cache never grows past its bound through inserts.
    ///
    /// Costs nothing per operation: the switch is read only where an entry would leave. Lock-free,
    /// so it may be called while shards are held through [`Locked`](crate::Locked).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cache_core::{Cache, MockClock};
    ///
    /// let clock = MockClock::new();
    /// let cache: Cache<u32, u32> = Cache::builder().max_capacity(10).clock(clock.clone()).build();
    /// cache.insert_with_ttl(1, 1, Duration::from_secs(1));
    /// cache.pause_maintenance(Duration::from_secs(60));
    /// clock.advance(Duration::from_secs(2));
    /// cache.run_pending_tasks();
    /// assert_eq!(cache.get(&1), None, "expired entries stay invisible");
    /// assert_eq!(cache.len(), 1, "but nothing left");
    /// cache.resume_maintenance();
    /// cache.run_pending_tasks();
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn pause_maintenance(&self, duration: Duration) {
        let cfg = &self.inner.cfg;
        cfg.switches.pause_until(cfg.now().saturating_add(crate::clock::nanos(duration)));
    }

    /// Ends a [maintenance pause](Self::pause_maintenance) now. Lock-free: expiry resumes at each
    /// shard's next operation, and a shrink's deferred evictions happen at the shard's next write
    /// or at [`run_pending_tasks`](Self::run_pending_tasks).
    pub fn resume_maintenance(&self) {
        self.inner.cfg.switches.pause_until(0);
    }

    /// Whether a [maintenance pause](Self::pause_maintenance) is in force.
    pub fn maintenance_paused(&self) -> bool {
        let cfg = &self.inner.cfg;
        cfg.switches.paused(cfg.now())
    }

    /// Switches active expiry on (the default) or off — Redis's `DEBUG SET-ACTIVE-EXPIRE`. While
    /// it is off the timer wheel stands still (during operations and in
    /// [`run_pending_tasks`](Self::run_pending_tasks)), and an expired entry leaves only when an
    /// operation on its key meets it (lazy expiry). Reads never return an expired entry either
    /// way. Lock-free.
    pub fn set_active_expiry(&self, on: bool) {
        self.inner.cfg.switches.set_active(on);
    }

    /// Whether active expiry is on (see [`set_active_expiry`](Self::set_active_expiry)).
    pub fn active_expiry(&self) -> bool {
        self.inner.cfg.switches.active()
    }

    /// A page of a resumable scan: visits about `count` entry slots from `cursor` (0 starts)
    /// and returns the next cursor (0 when done) with the live entries found.
    ///
    /// Like Redis's `SCAN`: every entry present for the whole scan is returned at least once
    /// (here exactly once), entries added or removed during it may or may not be, and the
    /// cursor stays valid however the cache grows.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(K, V)>) {
        let cfg = &self.inner.cfg;
        scan_shards(self.inner.shards.len(), cursor, count, |i, slot, budget, out| {
            self.inner.shards[i].read().scan(cfg, slot, budget, out)
        })
    }

    /// A point-in-time copy of every live entry, handed to `each` one shard at a time (for
    /// snapshots taken without stopping the cache, like a fork's copy-on-write view).
    ///
    /// Takes every shard's *read* lock in ascending order (the order multi-shard writers use, so
    /// this cannot deadlock with them), then copies the shards one by one, releasing each as soon
    /// as it is copied, and calls `each` with its entries after the release. While a shard waits
    /// for its turn, readers go on (buffered reads take the read lock) and only its writers wait:
    /// at most for the copy of the shards before it. Every write either finished before all the
    /// locks were held, and is in the copy, or starts after its shard was copied, and is not: the
    /// copies together are one consistent state, however many shards a write touched.
    pub fn snapshot(&self, mut each: impl FnMut(Vec<(K, V)>)) {
        let cfg = &self.inner.cfg;
        let mut guards: Vec<_> = self.inner.shards.iter().map(ShardCell::read).collect();
        for guard in guards.drain(..) {
            let mut out = Vec::with_capacity(guard.len() as usize);
            let mut slot = Some(0);
            while let Some(start) = slot {
                slot = guard.scan(cfg, start, usize::MAX, &mut out);
            }
            drop(guard);
            each(out);
        }
    }

    /// A weakly consistent iterator over clones of the entries: it walks the cache in pages
    /// (locking one shard briefly per page) and sees each entry present throughout exactly once.
    pub fn iter(&self) -> Iter<K, V, S> {
        Iter::new(self.clone())
    }

    /// Number of entries (including expired ones not yet reclaimed).
    pub fn len(&self) -> u64 {
        self.inner.shards.iter().map(ShardCell::published_len).sum()
    }

    /// Entries with a deadline — a TTL, an idle deadline or a per-entry expiry — counting
    /// expired ones not reclaimed yet, as [`len`](Self::len) does. Like `len`, it sums what each
    /// shard published at its last write, without a lock.
    ///
    /// ```
    /// use cache_core::Cache;
    /// use std::time::Duration;
    ///
    /// let cache: Cache<u32, u32> = Cache::new(100);
    /// cache.insert(1, 1);
    /// cache.insert_with_ttl(2, 2, Duration::from_secs(60));
    /// assert_eq!((cache.len(), cache.deadline_len()), (2, 1));
    /// ```
    pub fn deadline_len(&self) -> u64 {
        self.inner.shards.iter().map(|cell| cell.deadlines.load(Ordering::Relaxed)).sum()
    }

    /// The mean time left before the deadlines of the entries that have one (`None` when none
    /// has): Redis's INFO `avg_ttl`, exactly. One sequential pass over each shard's timer table
    /// under its read lock; no entry is visited, so nothing counts as a read. Expired entries
    /// not reclaimed yet count as zero.
    ///
    /// ```
    /// use cache_core::Cache;
    /// use std::time::Duration;
    ///
    /// let cache: Cache<u32, u32> = Cache::new(100);
    /// cache.insert(1, 1);
    /// assert_eq!(cache.mean_time_to_deadline(), None);
    /// cache.insert_with_ttl(2, 2, Duration::from_secs(60));
    /// cache.insert_with_ttl(3, 3, Duration::from_secs(120));
    /// let mean = cache.mean_time_to_deadline().unwrap();
    /// assert!(mean > Duration::from_secs(89) && mean <= Duration::from_secs(90));
    /// ```
    pub fn mean_time_to_deadline(&self) -> Option<Duration> {
        let now = self.inner.cfg.now();
        let (count, sum) = self.inner.shards.iter().fold((0u64, 0u128), |(n, sum), cell| {
            let (count, left) = cell.read().time_left(now);
            (n + count, sum + left)
        });
        let mean = sum.checked_div(u128::from(count))?;
        Some(Duration::from_nanos(u64::try_from(mean).unwrap_or(u64::MAX)))
    }

    /// Whether the cache holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sum of the weights of the entries (their count, for an unweighted cache).
    pub fn weighted_size(&self) -> u64 {
        self.inner.shards.iter().map(ShardCell::published_weight).sum()
    }

    /// The bound on [`weighted_size`](Self::weighted_size).
    pub fn capacity(&self) -> u64 {
        self.inner.capacity.load(Ordering::Relaxed)
    }

    /// Changes the bound. Shrinking evicts down to the new bound before returning (the
    /// listener sees [`RemovalCause::Size`](crate::RemovalCause)) — or, during a
    /// [maintenance pause](Self::pause_maintenance), once it ends; the shard count stays, so
    /// the largest storable entry becomes `capacity / shard_count()`.
    pub fn set_capacity(&self, capacity: u64) {
        self.inner.capacity.store(capacity, Ordering::Relaxed);
        let shares = split_capacity(capacity, self.inner.shards.len());
        let mut shares = shares.into_iter();
        self.for_each_shard(|s, cfg, sink| s.set_capacity(cfg, shares.next().unwrap_or(0), sink));
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.inner.shards.len()
    }

    /// A snapshot of the statistics (zero unless built with `record_stats()`).
    pub fn stats(&self) -> CacheStats {
        let mut total = CacheStats::default();
        for shard in &self.inner.shards {
            total.add(shard.read().stats());
            total.hits += shard.reads.hits();
            total.misses += shard.reads.misses();
        }
        total
    }

    /// The value of `key`, loading it with `init` if absent. Concurrent callers of a missing
    /// key run one `init` between them; the others wait and receive its value.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::Cache;
    ///
    /// let cache: Cache<u32, String> = Cache::new(100);
    /// let v = cache.get_with(7, || "seven".to_string());
    /// assert_eq!(v, "seven");
    /// assert_eq!(cache.get_with(7, || unreachable!()), "seven");
    /// ```
    pub fn get_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        match self.try_get_with::<std::convert::Infallible>(key, || Ok(init())) {
            Ok(value) => value,
            Err(never) => match *never {},
        }
    }

    /// Like [`get_with`](Self::get_with) for a fallible loader. An error reaches every caller
    /// waiting on the same load (as the same `Arc<E>`), and nothing is cached.
    ///
    /// # Errors
    ///
    /// The loader's error, shared.
    pub fn try_get_with<E>(&self, key: K, init: impl FnOnce() -> Result<V, E>) -> Result<V, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        let mut init = Some(init);
        loop {
            match self.begin_load(&key) {
                Ok(value) => return Ok(value),
                Err(Role::Leader(waiter)) => {
                    let mut guard = LoadGuard::new(self, &key, waiter);
                    let init = init.take().expect("a caller leads at most one load");
                    return guard.finish(init());
                }
                Err(Role::Follower(waiter)) => {
                    if let Some(result) = shared_result(waiter.wait()) {
                        return result;
                    }
                }
            }
        }
    }

    /// Async [`get_with`](Self::get_with): the loader is a future; waiters `.await`.
    /// Runtime-agnostic. If the loading future is dropped, a waiter takes over the load.
    #[cfg(feature = "async")]
    pub async fn get_with_async(&self, key: K, init: impl std::future::Future<Output = V>) -> V {
        match self.try_get_with_async::<std::convert::Infallible>(key, async { Ok(init.await) }).await {
            Ok(value) => value,
            Err(never) => match *never {},
        }
    }

    /// Async [`try_get_with`](Self::try_get_with).
    ///
    /// # Errors
    ///
    /// The loader's error, shared.
    #[cfg(feature = "async")]
    pub async fn try_get_with_async<E>(
        &self,
        key: K,
        init: impl std::future::Future<Output = Result<V, E>>,
    ) -> Result<V, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        let mut init = Some(init);
        loop {
            match self.begin_load(&key) {
                Ok(value) => return Ok(value),
                Err(Role::Leader(waiter)) => {
                    let mut guard = LoadGuard::new(self, &key, waiter);
                    let init = init.take().expect("a caller leads at most one load");
                    return guard.finish(init.await);
                }
                Err(Role::Follower(waiter)) => {
                    if let Some(result) = shared_result(waiter.wait_async().await) {
                        return result;
                    }
                }
            }
        }
    }

    /// A hit, or the caller's role in loading `key`.
    fn begin_load(&self, key: &K) -> Result<V, Role<V>> {
        let hash = self.hash(key);
        if self.inner.buffered_reads {
            // A hit needs no write lock; a miss joins the load under it (and is counted there).
            let cell = self.cell(hash);
            let shard = cell.read();
            let found = shard.get_shared(&self.inner.cfg, hash as u32, key, V::clone);
            if let SharedRead::Hit(idx, value) = found {
                self.record_read(cell, shard, Read::Hit { idx, hash: hash as u32 });
                return Ok(value);
            }
        }
        self.with_shard(hash, |s, cfg, sink| match s.get(cfg, hash as u32, key, sink, V::clone) {
            Some((value, _)) => Ok(value),
            None => Err(s.loading.join(table_hash(hash as u32), key, || key.clone())),
        })
    }

    pub(crate) fn spawn_refresh(&self, hash: u64, ticket: crate::shard::RefreshTicket<K, V>) {
        let Some(refresh) = &self.inner.cfg.refresh else { return };
        let cache = self.clone();
        let reload = refresh.reload.clone();
        (refresh.spawn)(Box::new(move || {
            let started = Instant::now();
            let value = reload(&ticket.key, &ticket.value);
            let elapsed = started.elapsed();
            cache.with_shard(hash, |s, cfg, sink| {
                s.complete_refresh(cfg, hash as u32, &ticket.key, ticket.stamp, value, sink);
                if cfg.record_stats {
                    s.stats_mut().total_load_time += elapsed;
                }
            });
        }));
    }
}

/// One page of a resumable scan over `shards` shards: `page(shard, start slot, budget, out)` copies
/// one shard's live entries from `start` and answers the next slot (`None`: the shard is done).
/// The cursor is `shard << 32 | slot`; 0 starts and ends.
pub(crate) fn scan_shards<K, V>(
    shards: usize,
    cursor: u64,
    count: usize,
    mut page: impl FnMut(usize, u32, usize, &mut Vec<(K, V)>) -> Option<u32>,
) -> (u64, Vec<(K, V)>) {
    let mut out = Vec::new();
    let (mut shard, mut slot) = ((cursor >> 32) as usize, cursor as u32);
    let mut budget = count.max(1);
    while shard < shards {
        let before = out.len();
        match page(shard, slot, budget, &mut out) {
            Some(next) => return ((shard as u64) << 32 | u64::from(next), out),
            None => {
                shard += 1;
                slot = 0;
                budget = budget.saturating_sub((out.len() - before).max(1));
                if budget == 0 {
                    break;
                }
            }
        }
    }
    let cursor = if shard >= shards { 0 } else { (shard as u64) << 32 };
    (cursor, out)
}

/// Splits `capacity` over `shards` so that the shares sum to it exactly.
pub(crate) fn split_capacity(capacity: u64, shards: usize) -> Vec<u64> {
    let n = shards as u64;
    (0..n).map(|i| capacity / n + u64::from(i < capacity % n)).collect()
}

/// Turns a waiter's outcome into the caller's result; `None` means "retry".
fn shared_result<V, E: Send + Sync + 'static>(outcome: Outcome<V>) -> Option<Result<V, Arc<E>>> {
    match outcome {
        Outcome::Ready(value) => Some(Ok(value)),
        Outcome::Failed(error) => error.downcast_ref::<Arc<E>>().map(|e| Err(e.clone())),
        Outcome::Loading | Outcome::Abandoned => None,
    }
}

/// The leader's side of a load: publishes the result, or — if dropped unfinished (panic,
/// cancelled future) — abandons the load so that waiters retry.
struct LoadGuard<'a, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    cache: &'a Cache<K, V, S>,
    key: &'a K,
    waiter: Arc<Waiter<V>>,
    started: Instant,
    done: bool,
}

impl<'a, K, V, S> LoadGuard<'a, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    fn new(cache: &'a Cache<K, V, S>, key: &'a K, waiter: Arc<Waiter<V>>) -> Self {
        Self { cache, key, waiter, started: Instant::now(), done: false }
    }

    fn finish<E: Send + Sync + 'static>(&mut self, result: Result<V, E>) -> Result<V, Arc<E>> {
        self.done = true;
        let elapsed = self.started.elapsed();
        let hash = self.cache.hash(self.key);
        let (outcome, result) = match result {
            Ok(value) => (Outcome::Ready(value.clone()), Ok(value)),
            Err(error) => {
                let error = Arc::new(error);
                let shared: SharedError = Arc::new(error.clone());
                (Outcome::Failed(shared), Err(error))
            }
        };
        self.cache.with_shard(hash, |s, cfg, sink| {
            if let Outcome::Ready(value) = &outcome {
                let now = s.now(cfg, false);
                s.write(cfg, hash as u32, self.key.clone(), value.clone(), TtlMode::Default, now, sink);
            }
            s.loading.leave(table_hash(hash as u32), self.key, &self.waiter);
            if cfg.record_stats {
                let stats = s.stats_mut();
                stats.total_load_time += elapsed;
                match outcome {
                    Outcome::Ready(_) => stats.load_successes += 1,
                    _ => stats.load_failures += 1,
                }
            }
        });
        self.waiter.finish(outcome);
        result
    }
}

impl<K, V, S> Drop for LoadGuard<'_, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if !self.done {
            // The loader panicked or its future was dropped: unregister and wake the waiters.
            let hash = self.cache.hash(self.key);
            self.cache.cell(hash).write().loading.leave(table_hash(hash as u32), self.key, &self.waiter);
            self.waiter.finish(Outcome::Abandoned);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::clock::MockClock;
    use crate::policy::EvictionPolicy;

    #[test]
    fn frequency_follows_reads_under_tinylfu_and_is_absent_under_lru() {
        let lfu: Cache<u64, u64> = Cache::builder().max_capacity(1000).eviction_policy(EvictionPolicy::TinyLfu).build();
        lfu.insert(1, 1);
        lfu.insert(2, 2);
        for _ in 0..8 {
            lfu.get(&1);
        }
        lfu.run_pending_tasks();
        let (hot, cold) = (lfu.frequency(&1).unwrap(), lfu.frequency(&2).unwrap());
        assert!(hot > cold, "hot {hot} cold {cold}");
        assert_eq!(lfu.frequency(&3), None);
        let lru: Cache<u64, u64> = Cache::builder().max_capacity(1000).eviction_policy(EvictionPolicy::Lru).build();
        lru.insert(1, 1);
        assert_eq!(lru.frequency(&1), None);
    }

    fn pending(cache: &Cache<u64, u64>) -> bool {
        cache.inner.shards.iter().any(|cell| cell.reads.is_pending())
    }

    #[test]
    fn buffered_reads_reach_the_policy_before_any_eviction() {
        let cache: Cache<u64, u64> = Cache::builder().max_capacity(100).shards(1).record_stats().build();
        assert!(cache.inner.buffered_reads);
        for k in 0..100 {
            cache.insert(k, k);
        }
        for _ in 0..20 {
            assert_eq!(cache.get(&42), Some(42));
        }
        assert_eq!(cache.get(&1_000), None);
        assert!(pending(&cache), "a short run of reads stays in the buffer");
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (20, 1), "buffered reads are counted at once");
        // Fresh one-hit keys now compete with key 42 for space: the write drains first, so the
        // policy knows 42 is popular and keeps it.
        for k in 1_000..1_400 {
            cache.insert(k, k);
            assert!(!pending(&cache), "every write drains the buffer");
            assert!(cache.weighted_size() <= 100);
        }
        assert_eq!(cache.peek(&42), Some(42), "the frequent key lost to one-hit wonders");
    }

    #[test]
    fn a_reader_that_fills_the_buffer_drains_it() {
        let cache: Cache<u64, u64> = Cache::builder().max_capacity(1_000).shards(1).build();
        cache.insert(7, 7);
        for _ in 0..read_buffer::SLOTS * 3 + 1 {
            cache.get(&7);
        }
        let cell = &cache.inner.shards[0];
        let mut left = 0;
        cell.reads.stripe(read_buffer::probe()).ring.drain(|_| left += 1);
        assert!(left < read_buffer::SLOTS, "the buffer was never drained by its readers");
    }

    /// A reader drains while another holds the read lock: the replay needs only the policy's
    /// mutex, not the write lock.
    #[test]
    fn a_reader_drains_beside_another_reader() {
        let cache: Cache<u64, u64> = Cache::builder().max_capacity(1_000).shards(1).build();
        cache.insert(7, 7);
        let cell = &cache.inner.shards[0];
        let other_reader = cell.read();
        for _ in 0..read_buffer::SLOTS * 3 + 1 {
            assert_eq!(cache.get(&7), Some(7));
        }
        let mut left = 0;
        cell.reads.stripe(read_buffer::probe()).ring.drain(|_| left += 1);
        assert!(left < read_buffer::SLOTS, "no drain while another reader held the shard");
        drop(other_reader);
    }

    /// Readers replay their buffers under the read lock (relinking nodes through the policy's
    /// mutex) while writers insert, update and remove under the write lock, on one small shard:
    /// afterwards every queue is consistent in both directions, holds every resident
    /// candidate exactly once, and the weights add up.
    #[test]
    fn concurrent_reader_drains_and_writes_keep_the_queues_consistent() {
        const OPS: u64 = 30_000;
        for policy in [EvictionPolicy::TinyLfu, EvictionPolicy::Random] {
            let cache: Cache<u64, u64> = Cache::builder().max_capacity(300).shards(1).eviction_policy(policy).build();
            std::thread::scope(|s| {
                for t in 0..3u64 {
                    let cache = &cache;
                    s.spawn(move || {
                        let mut x = (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                        for i in 0..OPS {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            // Skewed keys: small ones are hot, so drains promote and demote.
                            let key = (x % 1_000) % (1 + x % 400);
                            if t == 0 && i % 4 == 0 {
                                match x % 3 {
                                    0 => cache.insert(key, i),
                                    1 => drop(cache.remove(&key)),
                                    _ => cache.insert(key + 1_000, i),
                                }
                            } else {
                                let _ = cache.get(&key);
                            }
                        }
                    });
                }
            });
            for cell in cache.inner.shards.iter() {
                cell.write().check();
            }
        }
    }

    #[test]
    fn an_expired_entry_is_never_returned_by_a_buffered_read() {
        let clock = MockClock::new();
        let cache: Cache<u64, u64> = Cache::builder()
            .max_capacity(100)
            .shards(1)
            .time_to_live(Duration::from_secs(5))
            .clock(clock.clone())
            .build();
        assert!(cache.inner.buffered_reads);
        cache.insert(1, 1);
        assert_eq!(cache.get(&1), Some(1));
        clock.advance(Duration::from_secs(5));
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.len(), 0, "the read fell back to the write lock and reclaimed it");
    }

    #[test]
    fn a_borrowing_read_counts_and_moves_like_get_on_both_paths() {
        for policy in [EvictionPolicy::TinyLfu, EvictionPolicy::Lru] {
            let cache: Cache<u64, Vec<u8>> =
                Cache::builder().max_capacity(100).shards(1).eviction_policy(policy).record_stats().build();
            cache.insert(1, vec![7; 3]);
            assert_eq!(cache.get_map(&1, |v| v.iter().map(|&b| u64::from(b)).sum::<u64>()), Some(21));
            assert_eq!(cache.get_map(&2, Vec::len), None);
            let stats = cache.stats();
            assert_eq!((stats.hits, stats.misses), (1, 1), "{policy:?}");
        }
        let clock = MockClock::new();
        let ttl: Cache<u64, u64> =
            Cache::builder().max_capacity(10).time_to_live(Duration::from_secs(1)).clock(clock.clone()).build();
        ttl.insert(1, 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(ttl.get_map(&1, |v| *v), None, "an expired entry is not handed to the closure");
    }

    #[test]
    fn reads_that_change_the_shard_keep_the_locked_path() {
        let lru: Cache<u64, u64> = Cache::builder().max_capacity(10).eviction_policy(EvictionPolicy::Lru).build();
        assert!(!lru.inner.buffered_reads);
        let tti: Cache<u64, u64> = Cache::builder().max_capacity(10).time_to_idle(Duration::from_secs(1)).build();
        assert!(!tti.inner.buffered_reads);
    }
}
