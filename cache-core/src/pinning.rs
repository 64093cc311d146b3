//! The caller's side of pinned entries: writes that report a refusal ([`Refused`]), the pinned
//! weight, and re-asking the `evictable` predicate. The mechanism itself (pinned nodes kept out
//! of the eviction policy, the room check) lives in `policy::pinned` and the shard; the option
//! is [`CacheBuilder::evictable`](crate::CacheBuilder::evictable).

use crate::cache::Cache;
use crate::compute::Slot;
use crate::expiry::TtlMode;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

/// A write the cache refused because pinned entries leave no room for it; holds what was to be
/// written. Nothing was stored, evicted or replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct Refused<T>(pub T);

impl<T> Refused<T> {
    /// What was to be written.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Refused(..)")
    }
}

impl<T> fmt::Display for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no room: pinned entries fill the capacity")
    }
}

impl<T> std::error::Error for Refused<T> {}

impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    fn try_write(&self, key: K, value: V, mode: TtlMode) -> Result<(), Refused<(K, V)>> {
        let hash = self.hash(&key);
        self.with_shard(hash, |s, cfg, sink| {
            let now = s.now(cfg, matches!(mode, TtlMode::Explicit(Some(_))));
            s.try_write(cfg, hash as u32, key, value, mode, now, sink).map(drop).map_err(Refused)
        })
    }

    /// [`insert`](Self::insert), reporting a refused write (see
    /// [`CacheBuilder::evictable`](crate::CacheBuilder::evictable)). `Ok` does not promise the
    /// entry is resident: as with `insert`, the policy may evict it at once (W-TinyLFU's
    /// admission), or it may be heavier than a shard.
    ///
    /// # Errors
    ///
    /// [`Refused`] with the key and value when pinned entries leave no room for them.
    pub fn try_insert(&self, key: K, value: V) -> Result<(), Refused<(K, V)>> {
        self.try_write(key, value, TtlMode::Default)
    }

    /// [`insert_with_ttl`](Self::insert_with_ttl), reporting a refused write.
    ///
    /// # Errors
    ///
    /// [`Refused`] with the key and value when pinned entries leave no room for them.
    pub fn try_insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> Result<(), Refused<(K, V)>> {
        self.try_write(key, value, TtlMode::Explicit(Some(crate::clock::nanos(ttl))))
    }

    /// Sum of the weights of pinned entries (0 without an `evictable` predicate).
    pub fn pinned_weight(&self) -> u64 {
        self.inner.shards.iter().map(crate::cache::ShardCell::published_pinned).sum()
    }

    /// Asks the `evictable` predicate again about every entry, one shard at a time, and pins or
    /// unpins each to match: for a predicate that reads state outside the entry (a policy
    /// switch, say). O(entries); nothing is evicted unless a shard was shrunk below its pinned
    /// weight and entries now unpinned can go.
    pub fn reevaluate_evictable(&self) {
        self.for_each_shard(|s, cfg, sink| s.reevaluate_pins(cfg, sink));
    }
}

impl<K: Eq + Clone + 'static, V: Clone + 'static> Slot<'_, K, V> {
    fn try_write(&mut self, value: V, mode: TtlMode) -> Result<(), Refused<V>> {
        let now = self.clock(matches!(mode, TtlMode::Explicit(Some(_))));
        match self.shard.try_write(self.cfg, self.hash, self.key.clone(), value, mode, now, self.sink) {
            Ok(idx) => {
                self.idx = idx;
                Ok(())
            }
            Err((_, value)) => Err(Refused(value)),
        }
    }

    /// [`set`](Self::set), reporting a refused write; a refused write leaves the slot as it was.
    ///
    /// # Errors
    ///
    /// [`Refused`] with the value when pinned entries leave no room for it.
    pub fn try_set(&mut self, value: V) -> Result<(), Refused<V>> {
        self.try_write(value, TtlMode::Keep)
    }

    /// [`set_with_ttl`](Self::set_with_ttl), reporting a refused write; a refused write leaves
    /// the slot as it was.
    ///
    /// # Errors
    ///
    /// [`Refused`] with the value when pinned entries leave no room for it.
    pub fn try_set_with_ttl(&mut self, value: V, ttl: Option<Duration>) -> Result<(), Refused<V>> {
        self.try_write(value, TtlMode::Explicit(ttl.map(crate::clock::nanos)))
    }
}
