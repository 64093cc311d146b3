//! One shard: a single-threaded cache kernel with `&mut self` methods.
//!
//! A shard owns an index table (hash → slab index), the slab of entries, their weights, the
//! eviction policy's queues, the timer wheel and its own statistics. The concurrent
//! [`Cache`](crate::Cache) is an array of shards, each behind its own `RwLock`; the `&mut self`
//! methods run under the write lock, never block, allocate only to grow, and call no user code
//! except the weigher and the `Expiry` hook. Removed entries go to a [`Removals`] buffer that
//! the caller delivers to the listener after unlocking.
//!
//! Buffered reads split a hit in two: [`Shard::get_shared`] runs under the read lock and only
//! looks (find, deadline check, clone); [`Order::apply_read`] replays the recorded access on the
//! policy later, after checking that the slot still holds the same entry. The policy sits in
//! [`Order`], behind a mutex of its own, so the replay needs the shard's read lock only (and
//! that mutex): readers of the shard are never shut out by it.
//! [`Shard::get`] is the whole read in one go, for configurations whose reads must change the
//! shard (exact LRU, time-to-idle, the `Expiry` read hook, refresh-after-write).
//!
//! The index (`index.rs`) maps the 32-bit hash kept in each node to slab indices, one word per
//! slot with hash bits beside the index, so a lookup reads one line of it before the node, and
//! resizing it never touches keys. Expired entries are reclaimed by the timer wheel as time
//! moves (checked on every operation of the shard), and a read of an expired entry removes it.

use crate::access::ShardAccess;
use crate::cache::read_buffer::Read;
use crate::config::Config;
use crate::expiry::TtlMode;
use crate::index::Index;
use crate::listener::{RemovalCause, Removals};
use crate::loader::Loading;
use crate::policy::{AnyPolicy, EvictionPolicy, Pinning, Policy, Weights};
use crate::slab::{Node, Queue, Slab};
use crate::stats::CacheStats;
use crate::timer::{NEVER, Timers};
use parking_lot::Mutex;
use std::borrow::Borrow;
use std::time::Duration;

/// Spreads the stored 32-bit hash over 64 bits, for the index (home slot from the top bits,
/// signature from the bits below) and for the table of loads in flight.
pub(crate) fn table_hash(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Remaining time until `deadline`, `None` for no deadline.
pub(crate) fn remaining(deadline: u64, now: u64) -> Option<Duration> {
    (deadline != NEVER).then(|| Duration::from_nanos(deadline.saturating_sub(now)))
}

/// A refresh that a read decided to start: reload `key` (whose value is `value`) and apply the
/// result only if the entry still carries `stamp`.
#[derive(Debug)]
pub(crate) struct RefreshTicket<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    pub(crate) stamp: u64,
}

/// What a read under the shared lock found.
#[derive(Debug)]
pub(crate) enum SharedRead<V> {
    /// A live entry at this slab index, and a clone of its value.
    Hit(u32, V),
    /// No entry.
    Miss,
    /// An expired entry: the caller retries under the write lock, which reclaims it.
    Expired,
}

#[derive(Debug)]
pub(crate) struct Shard<K, V> {
    table: Index,
    slab: Slab<K, V>,
    weights: Weights,
    weighted: bool,
    /// The eviction policy and the access-stamp writer, behind a mutex of their own so that a
    /// reader can replay buffered reads under the shard's read lock (see [`Order`]).
    order: Mutex<Order>,
    timers: Timers,
    capacity: u64,
    stats: CacheStats,
    /// Last write stamp handed out (unique and increasing within the shard).
    stamp: u64,
    /// Reused buffer of victim / expired indices.
    scratch: Vec<u32>,
    /// Loads in flight for keys of this shard.
    pub(crate) loading: Loading<K, V>,
}

/// What replaying a read changes: the eviction policy (behind the books of pinned entries, see
/// `policy::pinned`) and the writer of access stamps (see `access.rs`).
///
/// It sits behind its own mutex in the shard. A writer, holding the shard's write lock, reaches
/// it with `Mutex::get_mut` (no atomic operation); a reader whose read buffer filled takes it
/// with `try_lock` while holding only the read lock, so the replay runs beside other readers of
/// the shard instead of shutting them out. The links and stamps it writes are relaxed atomics
/// in the nodes (see `slab.rs`), which readers never look at.
#[derive(Debug)]
pub(crate) struct Order {
    pub(crate) policy: Pinning<AnyPolicy>,
    pub(crate) access: ShardAccess,
}

impl Order {
    /// Replays one buffered read on the policy. A hit is applied only if its slot still holds
    /// a node with the recorded hash: the entry may have left, and its slot been reused, since.
    pub(crate) fn apply_read<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, read: Read) {
        match read {
            Read::Hit { idx, hash } => {
                if let Some(node) = slab.try_get(idx).filter(|n| n.hash() == hash) {
                    self.policy.on_access(slab, weights, idx);
                    self.stamp(node);
                }
            }
            Read::Miss => self.policy.on_miss(),
        }
    }

    /// Records one access in the node's stamp (nothing when stamps are off).
    #[inline]
    fn stamp<K, V>(&mut self, node: &Node<K, V>) {
        if self.access.on() {
            node.set_stamp(self.access.touched(node.stamp()));
        }
    }

    /// The first of two prefetch stages issued several reads ahead of
    /// [`apply_read`](Self::apply_read) while draining: starts loading the node's slot and its
    /// frequency-sketch line. Prefetches do not wait, so the misses of several buffered reads
    /// overlap in the memory system instead of stalling the drain one after another.
    pub(crate) fn prefetch_far<K, V>(&self, slab: &Slab<K, V>, read: Read) {
        if let Read::Hit { idx, hash } = read {
            self.policy.warm(hash);
            slab.prefetch(idx);
        }
    }

    /// The second prefetch stage, a few reads after [`prefetch_far`](Self::prefetch_far) (the node
    /// is cached by then): starts loading the list neighbours the access will relink.
    pub(crate) fn prefetch_near<K, V>(slab: &Slab<K, V>, read: Read) {
        if let Read::Hit { idx, hash } = read {
            if let Some(node) = slab.try_get(idx).filter(|n| n.hash() == hash) {
                slab.prefetch(node.prev());
                slab.prefetch(node.next());
            }
        }
    }
}

impl<K: Eq + Clone + 'static, V: Clone + 'static> Shard<K, V> {
    pub(crate) fn new(capacity: u64, kind: EvictionPolicy, weighted: bool, seed: u64) -> Self {
        let max_slots = if weighted { usize::MAX } else { usize::try_from(capacity).unwrap_or(usize::MAX) };
        let entries_hint = (!weighted && capacity < u64::from(u32::MAX)).then_some(capacity);
        Self {
            table: Index::default(),
            slab: Slab::new(max_slots),
            weights: Weights::default(),
            weighted,
            order: Mutex::new(Order {
                policy: Pinning::new(AnyPolicy::new(kind, capacity, entries_hint, seed), capacity),
                access: ShardAccess::default(),
            }),
            timers: Timers::default(),
            capacity,
            stats: CacheStats::default(),
            stamp: 0,
            scratch: Vec::new(),
            loading: Loading::default(),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        u64::from(self.slab.len())
    }

    /// The weighted size and pinned weight, for a holder of the write lock (no mutex taken).
    pub(crate) fn policy_sizes(&mut self) -> (u64, u64) {
        let policy = &self.order.get_mut().policy;
        (policy.weighted_size(), policy.pinned_weight())
    }

    /// Entries with a deadline in the timer wheel (expired ones not yet reclaimed included).
    pub(crate) fn deadline_len(&self) -> u64 {
        self.timers.scheduled() as u64
    }

    /// Entries with a deadline and the sum of their time left at `now`, in nanoseconds.
    pub(crate) fn time_left(&self, now: u64) -> (u64, u128) {
        self.timers.time_left(now)
    }

    pub(crate) fn stats(&self) -> &CacheStats {
        &self.stats
    }

    pub(crate) fn stats_mut(&mut self) -> &mut CacheStats {
        &mut self.stats
    }

    /// The current time if anything in this shard, or the write at hand, depends on it; else 0.
    pub(crate) fn now(&self, cfg: &Config<K, V>, explicit_ttl: bool) -> u64 {
        if explicit_ttl || cfg.uses_time() || self.timers.scheduled() > 0 { cfg.now() } else { 0 }
    }

    pub(crate) fn find<Q>(&self, hash: u32, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let slab = &self.slab;
        self.table.find(hash, |i| {
            let node = slab.get(i);
            node.hash() == hash && node.key.borrow() == key
        })
    }

    /// Finds a live entry, reclaiming it first if it has expired.
    pub(crate) fn find_live<Q>(
        &mut self,
        cfg: &Config<K, V>,
        hash: u32,
        key: &Q,
        now: u64,
        sink: &mut Removals<K, V>,
    ) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let idx = self.find(hash, key)?;
        if self.timers.deadline(idx) <= now {
            if cfg.switches.paused(now) {
                // Paused maintenance: the entry stays, absent to the caller (a write reclaims it).
                return None;
            }
            let (k, v, w) = self.detach(idx, false);
            self.discard(cfg, k, v, w, RemovalCause::Expired, sink);
            return None;
        }
        Some(idx)
    }

    pub(crate) fn key(&self, idx: u32) -> &K {
        &self.slab.get(idx).key
    }

    pub(crate) fn value(&self, idx: u32) -> &V {
        &self.slab.get(idx).value
    }

    pub(crate) fn remaining(&self, idx: u32, now: u64) -> Option<Duration> {
        remaining(self.timers.deadline(idx), now)
    }

    /// A read: records the hit or miss, updates the policy and idle deadline, decides on a
    /// refresh, and answers what `read` makes of the value.
    pub(crate) fn get<Q, R>(
        &mut self,
        cfg: &Config<K, V>,
        hash: u32,
        key: &Q,
        sink: &mut Removals<K, V>,
        read: impl FnOnce(&V) -> R,
    ) -> Option<(R, Option<RefreshTicket<K, V>>)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let now = self.now(cfg, false);
        self.maintain(cfg, now, sink);
        let Some(idx) = self.find_live(cfg, hash, key, now, sink) else {
            self.order.get_mut().policy.on_miss();
            if cfg.record_stats {
                self.stats.misses += 1;
            }
            return None;
        };
        if cfg.record_stats {
            self.stats.hits += 1;
        }
        self.order.get_mut().policy.on_access(&self.slab, &self.weights, idx);
        self.stamp_access(idx);
        if cfg.tti.is_some() || cfg.expiry.is_some() {
            self.touch(cfg, idx, now);
        }
        let ticket = cfg.refresh.as_ref().and_then(|r| {
            let written = self.timers.node(idx).map_or(0, |n| n.written);
            (now.saturating_sub(written) >= r.after).then(|| {
                let stamp = self.next_stamp(now);
                self.timers.node_mut(idx).written = stamp;
                let node = self.slab.get(idx);
                RefreshTicket { key: node.key.clone(), value: node.value.clone(), stamp }
            })
        });
        Some((read(&self.slab.get(idx).value), ticket))
    }

    /// The read-locked half of a buffered read: finds `key` and answers what `read` makes of its
    /// value (a clone, for `get`) without touching the policy, the statistics or the timer
    /// wheel. The caller records the access in the shard's read buffer;
    /// [`apply_read`](Self::apply_read) replays it later.
    pub(crate) fn get_shared<Q, R>(
        &self,
        cfg: &Config<K, V>,
        hash: u32,
        key: &Q,
        read: impl FnOnce(&V) -> R,
    ) -> SharedRead<R>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let Some(idx) = self.find(hash, key) else { return SharedRead::Miss };
        if self.timers.scheduled() > 0 && self.timers.deadline(idx) <= self.now(cfg, false) {
            return SharedRead::Expired;
        }
        SharedRead::Hit(idx, read(&self.slab.get(idx).value))
    }

    /// The parts a replay of buffered reads needs, for a holder of the write lock: the slab and
    /// weights to read, and the policy without locking its mutex.
    pub(crate) fn replay_parts(&mut self) -> (&Slab<K, V>, &Weights, &mut Order) {
        (&self.slab, &self.weights, self.order.get_mut())
    }

    /// The same for a holder of the read lock: the policy's mutex is the caller's to take.
    pub(crate) fn shared_replay_parts(&self) -> (&Slab<K, V>, &Weights, &Mutex<Order>) {
        (&self.slab, &self.weights, &self.order)
    }

    /// Replays one buffered read (tests; the cache replays through [`replay_parts`](Self::replay_parts)).
    #[cfg(test)]
    pub(crate) fn apply_read(&mut self, read: Read) {
        let (slab, weights, order) = self.replay_parts();
        order.apply_read(slab, weights, read);
    }

    /// The access-stamp writer (the builder installs it).
    pub(crate) fn access_mut(&mut self) -> &mut ShardAccess {
        &mut self.order.get_mut().access
    }

    /// The policy's frequency estimate of a live `key`: `None` when absent, `Some(None)` when the
    /// policy keeps no frequencies. Like [`peek`](Self::peek), it changes nothing.
    pub(crate) fn frequency<Q>(&self, cfg: &Config<K, V>, hash: u32, key: &Q) -> Option<Option<u8>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.peek(cfg, hash, key)?;
        Some(self.order.lock().policy.inner().frequency(hash))
    }

    /// A read without policy or statistics effects.
    pub(crate) fn peek<Q>(&self, cfg: &Config<K, V>, hash: u32, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let now = self.now(cfg, false);
        let idx = self.find(hash, key)?;
        (self.timers.deadline(idx) > now).then(|| &self.slab.get(idx).value)
    }

    /// True if `key` is stored but past its deadline (not reclaimed yet).
    pub(crate) fn holds_expired<Q>(&self, cfg: &Config<K, V>, hash: u32, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let now = self.now(cfg, false);
        self.find(hash, key).is_some_and(|idx| self.timers.deadline(idx) <= now)
    }

    /// Remaining time to live: `None` absent, `Some(None)` no deadline.
    pub(crate) fn ttl<Q>(&self, cfg: &Config<K, V>, hash: u32, key: &Q) -> Option<Option<Duration>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let now = self.now(cfg, false);
        let idx = self.find(hash, key)?;
        let deadline = self.timers.deadline(idx);
        (deadline > now).then(|| remaining(deadline, now))
    }

    /// Applies the read side of expiry: the `Expiry` hook and the idle deadline.
    fn touch(&mut self, cfg: &Config<K, V>, idx: u32, now: u64) {
        let mut hard = self.timers.node(idx).map_or(NEVER, |n| n.hard);
        if let Some(expiry) = &cfg.expiry {
            let node = self.slab.get(idx);
            hard = deadline_after(now, expiry.expire_after_read(&node.key, &node.value, remaining(hard, now)));
        }
        let idle = cfg.tti.map_or(NEVER, |t| now.saturating_add(t));
        if hard != NEVER || idle != NEVER || self.timers.node(idx).is_some() {
            self.timers.set(idx, hard, idle);
        }
    }

    /// Inserts or replaces `key`. Returns the entry's index if it is resident afterwards; a
    /// refused write (see [`try_write`](Self::try_write)) is dropped.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write(
        &mut self,
        cfg: &Config<K, V>,
        hash: u32,
        key: K,
        value: V,
        mode: TtlMode,
        now: u64,
        sink: &mut Removals<K, V>,
    ) -> Option<u32> {
        self.try_write(cfg, hash, key, value, mode, now, sink).unwrap_or(None)
    }

    /// Inserts or replaces `key`, or refuses to when pinned entries leave no room for it: then
    /// nothing changed and the key and value come back.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn try_write(
        &mut self,
        cfg: &Config<K, V>,
        hash: u32,
        key: K,
        value: V,
        mode: TtlMode,
        now: u64,
        sink: &mut Removals<K, V>,
    ) -> Result<Option<u32>, (K, V)> {
        self.maintain(cfg, now, sink);
        match self.find_live(cfg, hash, &key, now, sink) {
            Some(idx) => self.replace_at(cfg, idx, value, mode, now, sink).map_err(|value| (key, value)),
            None => {
                self.reclaim_kept(cfg, hash, &key, now, sink);
                self.insert_new(cfg, hash, key, value, mode, now, sink)
            }
        }
    }

    /// Whether an entry weighing `weight` cannot fit even with every candidate evicted: the
    /// pinned weight of the other entries (`own`: what the entry written already pins) plus
    /// `weight` passes the capacity. Counts the refusal.
    fn no_room(&mut self, cfg: &Config<K, V>, own: u64, weight: u32) -> bool {
        let refuse = self.order.get_mut().policy.pinned_weight() - own + u64::from(weight) > self.capacity;
        if refuse && cfg.record_stats {
            self.stats.refused += 1;
        }
        refuse
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_new(
        &mut self,
        cfg: &Config<K, V>,
        hash: u32,
        key: K,
        value: V,
        mode: TtlMode,
        now: u64,
        sink: &mut Removals<K, V>,
    ) -> Result<Option<u32>, (K, V)> {
        let weight = cfg.weigh(&key, &value);
        if u64::from(weight) > self.capacity {
            self.discard(cfg, key, value, weight.into(), RemovalCause::Size, sink);
            return Ok(None);
        }
        let hard = write_deadline(cfg, None, &key, &value, mode, now);
        if hard <= now {
            self.discard(cfg, key, value, weight.into(), RemovalCause::Expired, sink);
            return Ok(None);
        }
        let pinned = cfg.pins(&key, &value);
        if self.no_room(cfg, 0, weight) {
            return Err((key, value));
        }
        let queue = if pinned { Queue::Pinned } else { Queue::Lru };
        let node = Node::new(key, value, hash, queue);
        node.set_stamp(self.order.get_mut().access.created());
        let idx = self.slab.insert(node);
        if self.weighted {
            self.weights.set(idx, weight);
        }
        let slab = &self.slab;
        self.table.insert(hash, idx, |i| slab.get(i).hash());
        let len = self.slab.len();
        self.order.get_mut().policy.on_insert(&self.slab, idx, weight.into(), len);
        self.set_deadlines(cfg, idx, hard, now);
        if cfg.record_stats {
            self.stats.inserts += 1;
        }
        self.evict(cfg, sink);
        Ok(self.slab.try_get(idx).is_some_and(|n| n.hash() == hash).then_some(idx))
    }

    fn replace_at(
        &mut self,
        cfg: &Config<K, V>,
        idx: u32,
        value: V,
        mode: TtlMode,
        now: u64,
        sink: &mut Removals<K, V>,
    ) -> Result<Option<u32>, V> {
        let weight = cfg.weigh(self.key(idx), &value);
        let old_weight = self.weights.get(idx);
        let existing = self.timers.node(idx).map_or(NEVER, |n| n.hard);
        let hard = write_deadline(cfg, Some(existing), self.key(idx), &value, mode, now);
        if u64::from(weight) > self.capacity || hard <= now {
            let (key, old, w) = self.detach(idx, false);
            self.discard(cfg, key.clone(), old, w, RemovalCause::Replaced, sink);
            let cause = if hard <= now { RemovalCause::Expired } else { RemovalCause::Size };
            self.discard(cfg, key, value, weight.into(), cause, sink);
            return Ok(None);
        }
        let pinned = cfg.pins(self.key(idx), &value);
        let own = if self.slab.get(idx).queue() == Queue::Pinned { old_weight } else { 0 };
        if self.no_room(cfg, own, weight) {
            return Err(value);
        }
        let old = std::mem::replace(&mut self.slab.get_mut(idx).value, value);
        if self.weighted {
            self.weights.set(idx, weight);
        }
        self.rewritten(idx, old_weight, weight.into(), pinned);
        self.set_deadlines(cfg, idx, hard, now);
        if cfg.record_stats {
            self.stats.updates += 1;
        }
        let key = if sink.wants_values() { Some(self.key(idx).clone()) } else { None };
        match key {
            Some(key) => self.discard(cfg, key, old, old_weight, RemovalCause::Replaced, sink),
            None if cfg.record_stats => self.stats.record_removal(RemovalCause::Replaced, old_weight),
            None => {}
        }
        self.evict(cfg, sink);
        Ok(self.slab.try_get(idx).is_some().then_some(idx))
    }

    /// Changes the live entry `idx` in place with `f`, then re-weighs it as a replace would: the
    /// policy's accounting follows the new weight (and the `evictable` predicate is asked again),
    /// growth may evict other entries or this one, and an entry heavier than the whole shard, or
    /// than the room pinned entries leave (where a replace would be refused: a change already made
    /// cannot be), leaves with [`RemovalCause::Size`] (the listener gets the changed value). The hard deadline is kept; the idle deadline and the refresh stamp
    /// restart as on any write. No `Replaced` removal is recorded or delivered: no value was
    /// replaced. Returns `f`'s result and the entry's index if it is resident afterwards.
    pub(crate) fn modify_at<R>(
        &mut self,
        cfg: &Config<K, V>,
        idx: u32,
        f: impl FnOnce(&mut V) -> R,
        now: u64,
        sink: &mut Removals<K, V>,
    ) -> (R, Option<u32>) {
        let r = f(&mut self.slab.get_mut(idx).value);
        let old_weight = self.weights.get(idx);
        let weight = if self.weighted { cfg.weigh(self.key(idx), self.value(idx)) } else { 1 };
        // What this entry already pins, and whether the pinned entries beside it leave it room.
        let own = if self.slab.get(idx).queue() == Queue::Pinned { old_weight } else { 0 };
        let no_room = self.order.get_mut().policy.pinned_weight() - own + u64::from(weight) > self.capacity;
        if u64::from(weight) > self.capacity || no_room {
            // An in-place change cannot be refused after the fact: the entry leaves instead.
            let (key, value, w) = self.detach(idx, false);
            self.discard(cfg, key, value, w, RemovalCause::Size, sink);
            return (r, None);
        }
        if self.weighted {
            self.weights.set(idx, weight);
        }
        let pinned = cfg.pins(self.key(idx), self.value(idx));
        self.rewritten(idx, old_weight, weight.into(), pinned);
        let hard = self.timers.node(idx).map_or(NEVER, |n| n.hard);
        self.set_deadlines(cfg, idx, hard, now);
        if cfg.record_stats {
            self.stats.updates += 1;
        }
        self.evict(cfg, sink);
        (r, self.slab.try_get(idx).is_some().then_some(idx))
    }

    fn set_deadlines(&mut self, cfg: &Config<K, V>, idx: u32, hard: u64, now: u64) {
        let idle = cfg.tti.map_or(NEVER, |t| now.saturating_add(t));
        if hard != NEVER || idle != NEVER || cfg.refresh.is_some() || self.timers.node(idx).is_some() {
            self.timers.set(idx, hard, idle);
            if cfg.refresh.is_some() {
                let stamp = self.next_stamp(now);
                self.timers.node_mut(idx).written = stamp;
            }
        }
    }

    /// Gives the live entry `idx` a new time to live from `now` (`None`: no hard deadline).
    pub(crate) fn set_ttl_at(
        &mut self,
        cfg: &Config<K, V>,
        idx: u32,
        ttl: Option<u64>,
        now: u64,
        sink: &mut Removals<K, V>,
    ) -> bool {
        let hard = ttl.map_or(NEVER, |t| now.saturating_add(t));
        if hard <= now {
            let (k, v, w) = self.detach(idx, false);
            self.discard(cfg, k, v, w, RemovalCause::Expired, sink);
            return false;
        }
        let idle = cfg.tti.map_or(NEVER, |t| now.saturating_add(t));
        self.timers.set(idx, hard, idle);
        self.stamp_access(idx);
        true
    }

    /// Removes the live entry `idx` at the caller's request and returns its value.
    pub(crate) fn remove_at(&mut self, cfg: &Config<K, V>, idx: u32, sink: &mut Removals<K, V>) -> V {
        let (key, value, weight) = self.detach(idx, false);
        if sink.wants_values() {
            self.discard(cfg, key, value.clone(), weight, RemovalCause::Explicit, sink);
        } else if cfg.record_stats {
            self.stats.record_removal(RemovalCause::Explicit, weight);
        }
        value
    }

    /// Changes the shard's bound, evicting down to it.
    pub(crate) fn set_capacity(&mut self, cfg: &Config<K, V>, capacity: u64, sink: &mut Removals<K, V>) {
        self.capacity = capacity;
        if !self.weighted {
            self.slab.set_max_slots(usize::try_from(capacity).unwrap_or(usize::MAX));
        }
        self.order.get_mut().policy.resize(capacity);
        if !cfg.switches.paused(cfg.now()) {
            self.evict(cfg, sink);
        }
    }

    /// Runs the policy until the shard is within capacity (or, after a shrink below the pinned
    /// weight, until no candidate is left).
    fn evict(&mut self, cfg: &Config<K, V>, sink: &mut Removals<K, V>) {
        if self.order.get_mut().policy.weighted_size() <= self.capacity {
            return;
        }
        let mut victims = std::mem::take(&mut self.scratch);
        let timers = &self.timers;
        let deadline = |idx: u32| timers.deadline(idx);
        self.order.get_mut().policy.evict_ranked(&self.slab, &self.weights, self.capacity, &mut victims, &deadline);
        for &idx in &victims {
            let (k, v, w) = self.detach(idx, true);
            self.discard(cfg, k, v, w, RemovalCause::Size, sink);
        }
        victims.clear();
        self.scratch = victims;
        debug_assert!(
            {
                let (weighted, pinned) = self.policy_sizes();
                weighted <= self.capacity.max(pinned)
            },
            "over capacity with candidates left"
        );
    }

    /// Tells the policy that the linked entry `idx` was rewritten, its weight going from `old`
    /// to `new`: pins or unpins it to match `pinned`, then counts the write as an access (in
    /// the policy and in the access stamp).
    fn rewritten(&mut self, idx: u32, old: u64, new: u64, pinned: bool) {
        let len = self.slab.len();
        let policy = &mut self.order.get_mut().policy;
        policy.set_pinned(&self.slab, idx, old, pinned, len);
        policy.on_update(&self.slab, &self.weights, idx, old, new);
        self.stamp_access(idx);
    }

    /// Asks the `evictable` predicate again about every entry and pins or unpins it to match.
    /// Total weight is unchanged, so nothing is evicted or refused.
    pub(crate) fn reevaluate_pins(&mut self, cfg: &Config<K, V>, sink: &mut Removals<K, V>) {
        let len = self.slab.len();
        for idx in 0..self.slab.slot_count() {
            let Some(node) = self.slab.try_get(idx) else { continue };
            let pinned = cfg.pins(&node.key, &node.value);
            let weight = self.weights.get(idx);
            self.order.get_mut().policy.set_pinned(&self.slab, idx, weight, pinned, len);
        }
        // Only needed after a shrink below the pinned weight: unpinned entries may now go.
        self.evict(cfg, sink);
    }

    /// Advances the timer wheel, reclaiming due entries (`exact`: every one of them).
    pub(crate) fn expire(&mut self, cfg: &Config<K, V>, now: u64, exact: bool, sink: &mut Removals<K, V>) {
        if self.timers.scheduled() == 0 {
            return;
        }
        // Active expiry off or maintenance paused: the wheel stands still (checked only when it
        // would process a bucket, so an operation within a tick pays nothing for the switch).
        if (exact || self.timers.crosses_tick(now)) && cfg.switches.wheel_stopped(now) {
            return;
        }
        let mut due = std::mem::take(&mut self.scratch);
        self.timers.advance(now, exact, &mut due);
        for &idx in &due {
            let (k, v, w) = self.detach(idx, false);
            self.discard(cfg, k, v, w, RemovalCause::Expired, sink);
        }
        due.clear();
        self.scratch = due;
    }

    /// Cheap per-operation maintenance.
    pub(crate) fn maintain(&mut self, cfg: &Config<K, V>, now: u64, sink: &mut Removals<K, V>) {
        if self.timers.scheduled() > 0 {
            self.expire(cfg, now, false, sink);
        }
    }

    /// The periodic task ([`Cache::run_pending_tasks`](crate::Cache::run_pending_tasks)): reclaims
    /// every due entry and, unless maintenance is paused, evicts down to the capacity (what a
    /// shrink during a pause left over).
    pub(crate) fn run_pending(&mut self, cfg: &Config<K, V>, now: u64, sink: &mut Removals<K, V>) {
        self.expire(cfg, now, true, sink);
        if !cfg.switches.paused(now) {
            self.evict(cfg, sink);
        }
    }

    /// Before a write inserts `key` as new: reclaims its expired entry, which
    /// [`find_live`](Self::find_live) keeps while maintenance is paused (free without deadlines).
    fn reclaim_kept(&mut self, cfg: &Config<K, V>, hash: u32, key: &K, now: u64, sink: &mut Removals<K, V>) {
        if self.timers.scheduled() > 0 && cfg.switches.paused(now) {
            if let Some(idx) = self.find(hash, key) {
                let (k, v, w) = self.detach(idx, false);
                self.discard(cfg, k, v, w, RemovalCause::Expired, sink);
            }
        }
    }

    /// Unlinks `idx` from every structure and frees its slot.
    fn detach(&mut self, idx: u32, unlinked: bool) -> (K, V, u64) {
        let weight = self.weights.get(idx);
        if !unlinked {
            self.order.get_mut().policy.on_remove(&self.slab, idx, weight);
        }
        let hash = self.slab.get(idx).hash();
        let removed = self.table.remove(hash, idx);
        assert!(removed, "a resident entry missing from the index");
        self.timers.clear(idx);
        let node = self.slab.remove(idx);
        (node.key, node.value, weight)
    }

    fn discard(
        &mut self,
        cfg: &Config<K, V>,
        key: K,
        value: V,
        weight: u64,
        cause: RemovalCause,
        sink: &mut Removals<K, V>,
    ) {
        if cfg.record_stats {
            self.stats.record_removal(cause, weight);
        }
        sink.push(key, value, cause);
    }

    fn next_stamp(&mut self, now: u64) -> u64 {
        self.stamp = now.max(self.stamp + 1);
        self.stamp
    }

    /// Applies a finished refresh if the entry was not written since it started.
    pub(crate) fn complete_refresh(
        &mut self,
        cfg: &Config<K, V>,
        hash: u32,
        key: &K,
        stamp: u64,
        value: Option<V>,
        sink: &mut Removals<K, V>,
    ) {
        let current = self.find(hash, key).filter(|&idx| self.timers.node(idx).is_some_and(|n| n.written == stamp));
        match (current, value) {
            (Some(idx), Some(value)) => {
                let now = cfg.now();
                // A refused refresh keeps the current value, as a failed reload does.
                let _ = self.replace_at(cfg, idx, value, TtlMode::Default, now, sink);
                self.stats.load_successes += u64::from(cfg.record_stats);
            }
            (_, None) => self.stats.load_failures += u64::from(cfg.record_stats),
            (None, Some(_)) => {}
        }
    }

    /// Copies live entries from slot `start` on, visiting at most `count` slots; returns the
    /// next slot to visit, or `None` when the shard is done.
    pub(crate) fn scan(&self, cfg: &Config<K, V>, start: u32, count: usize, out: &mut Vec<(K, V)>) -> Option<u32> {
        let now = self.now(cfg, false);
        let end = self.slab.slot_count();
        let stop = start.saturating_add(u32::try_from(count.max(1)).unwrap_or(u32::MAX)).min(end);
        for idx in start..stop {
            if let Some(node) = self.slab.try_get(idx) {
                if self.timers.deadline(idx) > now {
                    out.push((node.key.clone(), node.value.clone()));
                }
            }
        }
        (stop < end).then_some(stop)
    }

    /// Removes every entry for which `keep` answers false.
    pub(crate) fn retain(
        &mut self,
        cfg: &Config<K, V>,
        keep: &mut impl FnMut(&K, &V) -> bool,
        sink: &mut Removals<K, V>,
    ) {
        let now = self.now(cfg, false);
        self.expire(cfg, now, true, sink);
        let doomed: Vec<u32> = (0..self.slab.slot_count())
            .filter(|&i| self.slab.try_get(i).is_some_and(|n| !keep(&n.key, &n.value)))
            .collect();
        for idx in doomed {
            self.remove_at(cfg, idx, sink);
        }
    }

    /// Removes every entry.
    pub(crate) fn clear(&mut self, cfg: &Config<K, V>, sink: &mut Removals<K, V>) {
        let now = self.now(cfg, false);
        if sink.wants_values() || cfg.record_stats {
            for idx in 0..self.slab.slot_count() {
                if self.slab.try_get(idx).is_some() {
                    let cause =
                        if self.timers.deadline(idx) <= now { RemovalCause::Expired } else { RemovalCause::Explicit };
                    let (k, v, w) = self.detach(idx, false);
                    self.discard(cfg, k, v, w, cause, sink);
                }
            }
        }
        self.slab.clear();
        self.table.clear();
        self.weights.clear();
        self.order.get_mut().policy.clear();
        self.timers.reset();
    }

    /// Records one access in the entry's stamp (nothing when stamps are off).
    #[inline]
    fn stamp_access(&mut self, idx: u32) {
        self.order.get_mut().stamp(self.slab.get(idx));
    }

    /// The access stamp of a live `key`, without touching anything (like [`peek`](Self::peek)).
    pub(crate) fn access_stamp<Q>(&self, cfg: &Config<K, V>, hash: u32, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let now = self.now(cfg, false);
        let idx = self.find(hash, key)?;
        (self.timers.deadline(idx) > now).then(|| self.slab.get(idx).stamp())
    }

    /// Overwrites the access stamp of a live `key`; false when it is absent.
    pub(crate) fn set_access_stamp<Q>(&mut self, cfg: &Config<K, V>, hash: u32, key: &Q, stamp: u32) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let now = self.now(cfg, false);
        match self.find(hash, key) {
            Some(idx) if self.timers.deadline(idx) > now => {
                self.slab.get_mut(idx).set_stamp(stamp);
                true
            }
            _ => false,
        }
    }

    /// Copies every live entry with its access stamp.
    pub(crate) fn stamped_entries(&self, cfg: &Config<K, V>, out: &mut Vec<(K, V, u32)>) {
        let now = self.now(cfg, false);
        for idx in 0..self.slab.slot_count() {
            if let Some(node) = self.slab.try_get(idx) {
                if self.timers.deadline(idx) > now {
                    out.push((node.key.clone(), node.value.clone(), node.stamp()));
                }
            }
        }
    }

    /// Checks every internal invariant (tests only; O(n)).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        assert_eq!(self.table.len(), self.slab.len() as usize, "index and slab disagree");
        let (mut weight, mut pinned) = (0, 0);
        for idx in 0..self.slab.slot_count() {
            if let Some(node) = self.slab.try_get(idx) {
                assert_eq!(self.find(node.hash(), &node.key), Some(idx));
                weight += self.weights.get(idx);
                if node.queue() == Queue::Pinned {
                    pinned += self.weights.get(idx);
                }
            }
        }
        let order = self.order.lock();
        let mut linked = order.policy.inner().checked_members(&self.slab);
        let candidates = (0..self.slab.slot_count())
            .filter(|&i| self.slab.try_get(i).is_some_and(|n| n.queue() != Queue::Pinned))
            .count();
        assert_eq!(linked.len(), candidates, "a resident candidate missing from the queues, or a stray");
        linked.sort_unstable();
        linked.dedup();
        assert_eq!(linked.len(), candidates, "a node linked twice");
        assert_eq!(weight, order.policy.weighted_size(), "policy weight drifted");
        assert_eq!(pinned, order.policy.pinned_weight(), "pinned weight drifted");
        assert!(weight <= self.capacity, "over capacity: {weight} > {}", self.capacity);
    }
}

/// `now + d` for a hook's answer, `NEVER` for `None`.
fn deadline_after(now: u64, d: Option<Duration>) -> u64 {
    d.map_or(NEVER, |d| now.saturating_add(crate::clock::nanos(d)))
}

/// The hard deadline a write gives an entry (see [`TtlMode`]).
fn write_deadline<K: 'static, V: 'static>(
    cfg: &Config<K, V>,
    existing: Option<u64>,
    key: &K,
    value: &V,
    mode: TtlMode,
    now: u64,
) -> u64 {
    match (mode, existing) {
        (TtlMode::Explicit(ttl), _) => ttl.map_or(NEVER, |t| now.saturating_add(t)),
        (TtlMode::Keep, Some(hard)) => hard,
        (_, existing) => {
            let mut hard = cfg.ttl.map_or(NEVER, |t| now.saturating_add(t));
            if let Some(expiry) = &cfg.expiry {
                let d = match existing {
                    None => expiry.expire_after_create(key, value),
                    Some(h) => expiry.expire_after_update(key, value, remaining(h, now)),
                };
                hard = hard.min(deadline_after(now, d));
            }
            hard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MockClock;
    use std::sync::Arc;

    fn config(clock: &MockClock, weighted: bool) -> Config<u32, u32> {
        Config {
            weigher: weighted.then(|| Box::new(|_k: &u32, v: &u32| v % 9 + 1) as crate::config::Weigher<u32, u32>),
            evictable: None,
            ttl: None,
            tti: Some(5_000),
            expiry: None,
            listener: None,
            refresh: None,
            clock: Arc::new(clock.clone()),
            record_stats: true,
            switches: Default::default(),
        }
    }

    /// A buffered read names a slab slot; by the time it is drained the entry may be gone and
    /// its slot reused. Only a read whose hash still matches may move the node.
    #[test]
    fn a_stale_buffered_read_of_a_reused_slot_is_ignored() {
        let clock = MockClock::new();
        let mut cfg = config(&clock, false);
        cfg.tti = None;
        let mut shard: Shard<u32, u32> = Shard::new(4, EvictionPolicy::Lru, false, 1);
        let mut sink = Removals::new(false);
        let put = |shard: &mut Shard<u32, u32>, k: u32, sink: &mut Removals<u32, u32>| {
            shard.write(&cfg, k, k, k, TtlMode::Default, 0, sink).expect("resident")
        };
        let a = put(&mut shard, 1, &mut sink);
        put(&mut shard, 2, &mut sink);
        put(&mut shard, 3, &mut sink);
        let stale = Read::Hit { idx: a, hash: 1 };
        let idx = shard.find_live(&cfg, 1, &1, 0, &mut sink).expect("present");
        shard.remove_at(&cfg, idx, &mut sink);
        let c = put(&mut shard, 10, &mut sink);
        assert_eq!(c, a, "the freed slot is reused");
        put(&mut shard, 4, &mut sink); // LRU order now: 2, 3, 10, 4
        shard.apply_read(stale);
        shard.check();
        shard.set_capacity(&cfg, 1, &mut sink);
        assert!(shard.find(4, &4).is_some(), "the stale read moved key 10 to the back");
        // The same read with the current hash does move it.
        shard.set_capacity(&cfg, 4, &mut sink);
        let c = put(&mut shard, 10, &mut sink);
        put(&mut shard, 5, &mut sink);
        shard.apply_read(Read::Hit { idx: c, hash: 10 });
        shard.set_capacity(&cfg, 1, &mut sink);
        assert!(shard.find(10, &10).is_some(), "a valid buffered read was not applied");
        shard.check();
    }

    /// Random operations straight on the kernel, with every internal invariant checked after each.
    #[test]
    fn internal_invariants_hold_under_random_operations() {
        for (policy, weighted, pinning) in [
            (EvictionPolicy::TinyLfu, false, false),
            (EvictionPolicy::TinyLfu, true, false),
            (EvictionPolicy::Lru, true, false),
            (EvictionPolicy::TinyLfu, true, true),
            (EvictionPolicy::Lru, false, true),
            (EvictionPolicy::Random, true, true),
            (EvictionPolicy::NearestExpiry, true, true),
        ] {
            let clock = MockClock::new();
            let mut cfg = config(&clock, weighted);
            if pinning {
                cfg.evictable = Some(Box::new(|_k: &u32, v: &u32| v % 4 != 0));
            }
            let mut shard: Shard<u32, u32> = Shard::new(64, policy, weighted, 1);
            let mut x = 0x2545_f491_u64;
            for step in 0..20_000u32 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = (x % 200) as u32 + 1; // a shard never sees hash 0 (see `Cache::hash`)
                let mut sink = Removals::new(false);
                match x % 6 {
                    0 | 1 => {
                        let _ = shard.get(&cfg, key, &key, &mut sink, u32::clone);
                    }
                    2 | 3 => {
                        let ttl = (x % 3 == 0).then_some(x % 10_000 + 1);
                        let now = cfg.now();
                        shard.write(&cfg, key, key, step, TtlMode::Explicit(ttl), now, &mut sink);
                    }
                    4 => {
                        let now = cfg.now();
                        match shard.find_live(&cfg, key, &key, now, &mut sink) {
                            Some(idx) if x & 64 == 0 => {
                                shard.remove_at(&cfg, idx, &mut sink);
                            }
                            Some(idx) => {
                                shard.modify_at(&cfg, idx, |v| *v = v.wrapping_add(step), now, &mut sink);
                            }
                            None => {}
                        }
                    }
                    _ => clock.advance(std::time::Duration::from_nanos(x % 3_000)),
                }
                shard.check();
            }
        }
    }

    fn pinning_config(clock: &MockClock) -> Config<u32, u32> {
        let mut cfg = config(clock, false);
        cfg.tti = None;
        // Odd values are candidates, even ones are pinned.
        cfg.evictable = Some(Box::new(|_k: &u32, v: &u32| v % 2 == 1));
        cfg
    }

    #[test]
    fn pinned_entries_survive_and_a_write_without_room_is_refused_untouched() {
        let clock = MockClock::new();
        let cfg = pinning_config(&clock);
        let mut shard: Shard<u32, u32> = Shard::new(3, EvictionPolicy::Lru, false, 1);
        let mut sink = Removals::new(false);
        let mut put = |shard: &mut Shard<u32, u32>, k: u32, v: u32| {
            shard.try_write(&cfg, k, k, v, TtlMode::Default, 0, &mut sink).map(|idx| idx.is_some())
        };
        assert_eq!(put(&mut shard, 1, 2), Ok(true));
        assert_eq!(put(&mut shard, 2, 4), Ok(true));
        for k in 3..20 {
            assert_eq!(put(&mut shard, k, 1), Ok(true), "a candidate write evicts the previous candidate");
        }
        assert!(shard.find(1, &1).is_some() && shard.find(2, &2).is_some() && shard.find(19, &19).is_some());
        assert_eq!(put(&mut shard, 5, 6), Ok(true), "a pinned write evicts the last candidate");
        assert_eq!(shard.policy_sizes().1, 3);
        assert_eq!(put(&mut shard, 6, 1), Err((6, 1)), "no candidate left");
        assert_eq!(put(&mut shard, 7, 8), Err((7, 8)));
        // Rewriting a pinned entry in place needs no extra room; unpinning it makes room.
        assert_eq!(put(&mut shard, 1, 10), Ok(true));
        assert_eq!(put(&mut shard, 1, 11), Ok(true));
        assert_eq!(shard.policy_sizes().1, 2);
        assert_eq!(put(&mut shard, 6, 1), Ok(true), "candidate 1 made room for candidate 6");
        assert!(shard.find(1, &1).is_none());
        assert_eq!(*shard.value(shard.find(2, &2).unwrap()), 4, "pinned entries keep their values");
        assert_eq!(shard.stats().refused, 2);
        assert_eq!(shard.stats().evicted.count, 18);
        shard.check();
    }

    #[test]
    fn reevaluating_pins_follows_the_predicate() {
        let clock = MockClock::new();
        let mut cfg = pinning_config(&clock);
        let mut shard: Shard<u32, u32> = Shard::new(4, EvictionPolicy::TinyLfu, false, 1);
        let mut sink = Removals::new(false);
        for k in 1..5 {
            shard.write(&cfg, k, k, 2 * k, TtlMode::Default, 0, &mut sink);
        }
        assert_eq!(shard.policy_sizes().1, 4);
        cfg.evictable = None;
        shard.reevaluate_pins(&cfg, &mut sink);
        assert_eq!(shard.policy_sizes().1, 0);
        shard.check();
        shard.write(&cfg, 9, 9, 18, TtlMode::Default, 0, &mut sink);
        assert_eq!(shard.len(), 4, "former pinned entries are candidates again");
        // A shrink below the pinned weight keeps pinned entries, and unpinning lets them go.
        cfg.evictable = Some(Box::new(|_k: &u32, v: &u32| v % 2 == 1));
        shard.reevaluate_pins(&cfg, &mut sink);
        shard.set_capacity(&cfg, 2, &mut sink);
        assert_eq!((shard.len(), shard.policy_sizes().0), (4, 4), "pinned entries stay past a shrink");
        assert!(shard.try_write(&cfg, 20, 20, 40, TtlMode::Default, 0, &mut sink).is_err());
        cfg.evictable = None;
        shard.reevaluate_pins(&cfg, &mut sink);
        assert_eq!(shard.policy_sizes().0, 2);
        shard.check();
    }
}
