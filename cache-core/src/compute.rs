//! [`Slot`]: the entry view of an atomic read-modify-write ([`Cache::compute`](crate::Cache::compute)).
//!
//! A slot is handed to the caller's closure while the shard lock is held, so everything done
//! through it is atomic with respect to every other operation on the cache. Writes take effect
//! immediately (including any eviction they cause); removed or replaced values reach the
//! eviction listener after the lock is released.

use crate::config::Config;
use crate::expiry::TtlMode;
use crate::listener::Removals;
use crate::shard::Shard;
use std::fmt;
use std::time::Duration;

/// The state of one key during [`Cache::compute`](crate::Cache::compute).
pub struct Slot<'a, K, V> {
    pub(crate) shard: &'a mut Shard<K, V>,
    pub(crate) cfg: &'a Config<K, V>,
    pub(crate) sink: &'a mut Removals<K, V>,
    pub(crate) key: K,
    pub(crate) hash: u32,
    pub(crate) idx: Option<u32>,
    pub(crate) now: u64,
}

impl<K: Eq + Clone + 'static, V: Clone + 'static> Slot<'_, K, V> {
    /// The key this slot is for.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The current value, if the key is present (and not expired).
    pub fn value(&self) -> Option<&V> {
        self.idx.map(|idx| self.shard.value(idx))
    }

    /// Whether the key is present.
    pub fn is_present(&self) -> bool {
        self.idx.is_some()
    }

    /// Remaining time to live of the present entry (`None`: absent or no deadline).
    pub fn ttl(&self) -> Option<Duration> {
        self.idx.and_then(|idx| self.shard.remaining(idx, self.now))
    }

    /// The time of this operation; read from the clock only once something needs it.
    pub(crate) fn clock(&mut self, needed: bool) -> u64 {
        if self.now == 0 {
            self.now = self.shard.now(self.cfg, needed);
        }
        self.now
    }

    fn write(&mut self, value: V, mode: TtlMode) {
        let now = self.clock(matches!(mode, TtlMode::Explicit(Some(_))));
        self.idx = self.shard.write(self.cfg, self.hash, self.key.clone(), value, mode, now, self.sink);
    }

    /// Inserts or replaces the value. A replaced entry keeps its remaining time to live; a new
    /// one gets the builder's default.
    pub fn set(&mut self, value: V) {
        self.write(value, TtlMode::Keep);
    }

    /// Inserts or replaces the value with this time to live (`None`: no expiry).
    pub fn set_with_ttl(&mut self, value: V, ttl: Option<Duration>) {
        self.write(value, TtlMode::Explicit(ttl.map(crate::clock::nanos)));
    }

    /// Changes the present value in place and returns `f`'s answer (`None`, without calling `f`,
    /// if the key is absent).
    ///
    /// This is the write for values that are expensive to copy (a large string or collection):
    /// `f` gets the stored value itself, under the shard lock, so a write costs what it changes.
    /// Afterwards the entry is re-weighed exactly as [`set`](Self::set) would weigh a new value:
    /// the weighted size follows, growth may evict other entries or this one, and an entry that
    /// alone exceeds the capacity is removed. With pinned entries (an `evictable` predicate), a
    /// modification that leaves no room beside them removes the entry too, where
    /// [`try_set`](Self::try_set) would refuse: a change already made cannot be refused, so check
    /// the room first if the entry must survive. The entry keeps its remaining time to live; its idle
    /// time restarts, as on any write.
    ///
    /// What the eviction listener sees: nothing for the modification itself (the entry keeps its
    /// identity, so there is no `Replaced` removal and the statistics count no replacement, only
    /// an update); if the new weight evicts entries, each arrives with [`RemovalCause::Size`],
    /// this entry included, with its modified value.
    ///
    /// [`RemovalCause::Size`]: crate::RemovalCause::Size
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::Cache;
    ///
    /// let logs: Cache<&str, Vec<u8>> =
    ///     Cache::builder().max_capacity(1 << 20).weigher(|_k, v: &Vec<u8>| v.len() as u32).build();
    /// logs.insert("a", b"one".to_vec());
    /// let len = logs.compute("a", |slot| slot.modify(|v| { v.extend_from_slice(b" two"); v.len() }));
    /// assert_eq!(len, Some(7));
    /// assert_eq!(logs.weighted_size(), 7);
    /// assert_eq!(logs.compute("b", |slot| slot.modify(|v| v.len())), None);
    /// ```
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let idx = self.idx?;
        let now = self.clock(false);
        let (r, idx) = self.shard.modify_at(self.cfg, idx, f, now, self.sink);
        self.idx = idx;
        Some(r)
    }

    /// Changes the time to live of the present entry, from now (`None`: no expiry). A zero TTL
    /// expires it. Returns whether the entry is present afterwards.
    pub fn set_ttl(&mut self, ttl: Option<Duration>) -> bool {
        let Some(idx) = self.idx else { return false };
        let now = self.clock(true);
        let alive = self.shard.set_ttl_at(self.cfg, idx, ttl.map(crate::clock::nanos), now, self.sink);
        if !alive {
            self.idx = None;
        }
        alive
    }

    /// Removes the entry and returns its value.
    pub fn remove(&mut self) -> Option<V> {
        let idx = self.idx.take()?;
        Some(self.shard.remove_at(self.cfg, idx, self.sink))
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Slot<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").field("key", &self.key).field("present", &self.idx.is_some()).finish()
    }
}
