//! [`Locked`]: the shards of several keys held at once (see its docs).

use crate::cache::{Cache, ShardWrite, scan_shards};
use crate::compute::Slot;
use crate::listener::Removals;
use crate::shard::RefreshTicket;
use crate::stats::CacheStats;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

/// The key's shard is not held by this [`Locked`] (see [`Locked::try_extend`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotHeld;

impl fmt::Display for NotHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the key's shard is not held")
    }
}

impl std::error::Error for NotHeld {}

/// Write locks on a set of shards: the core's "these keys, atomically".
///
/// A caller that must read and write several keys with nothing interleaving (a server's MSET,
/// RENAME, MULTI/EXEC or script) names the keys up front; [`Cache::lock`] takes the write locks
/// of their shards in ascending shard order and hands back a [`Locked`], through which every
/// operation on those keys runs. Other threads' operations on those shards wait; operations on
/// other shards go on in parallel.
///
/// Deadlock freedom rests on two rules, both enforced here:
/// - a thread that waits for a shard while holding another acquired both through
///   [`Cache::lock`] / [`Cache::lock_all`], which wait in ascending shard order only — so no
///   cycle of waiters can form;
/// - growing a held set later ([`Locked::try_extend`]) never waits: it takes a free shard or
///   reports that it could not.
///
/// Single-key operations ([`Cache::get`], [`Cache::compute`], …) hold one shard and wait for
/// nothing else while holding it, so they cannot close a cycle either. The one way to hang is
/// for the holding thread to call the [`Cache`] itself on a shard it holds (parking_lot's locks
/// are not reentrant): debug builds check every lock taken against the shards the thread holds
/// and panic instead of hanging.
///
/// Removals (evictions, expirations, replacements) reach the eviction listener when the
/// `Locked` is dropped, after every shard is released, as with single-key operations.
pub struct Locked<'c, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    cache: &'c Cache<K, V, S>,
    /// Held shards by index, ascending, with their guards.
    held: Vec<(usize, ShardWrite<'c, K, V>)>,
    sink: Removals<K, V>,
    refreshes: Vec<(u64, RefreshTicket<K, V>)>,
}

impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    /// Locks the shards of `keys` (in ascending shard order, each once) for operations that
    /// must not interleave with any other; see [`Locked`](crate::Locked).
    ///
    /// The calling thread must not hold a `Locked` of this cache already, nor call this cache's
    /// own methods on the held keys until the `Locked` is dropped: use the `Locked`'s methods.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::Cache;
    ///
    /// let accounts: Cache<&str, i64> = Cache::new(100);
    /// accounts.insert("alice", 100);
    /// accounts.insert("bob", 0);
    /// // Move 30 from alice to bob: no reader sees the money in both places or in neither.
    /// let mut both = accounts.lock(["alice", "bob"].iter());
    /// both.compute("alice", |slot| slot.modify(|v| *v -= 30)).unwrap();
    /// both.compute("bob", |slot| slot.modify(|v| *v += 30)).unwrap();
    /// drop(both);
    /// assert_eq!((accounts.get("alice"), accounts.get("bob")), (Some(70), Some(30)));
    /// ```
    pub fn lock<'k, Q>(&self, keys: impl IntoIterator<Item = &'k Q>) -> Locked<'_, K, V, S>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized + 'k,
    {
        let mut shards: Vec<usize> = keys.into_iter().map(|k| self.shard_of(self.hash(k))).collect();
        shards.sort_unstable();
        shards.dedup();
        self.lock_shards(shards)
    }

    /// Locks every shard, in order: the whole cache, for work that cannot name its keys.
    pub fn lock_all(&self) -> Locked<'_, K, V, S> {
        self.lock_shards((0..self.inner.shards.len()).collect())
    }

    fn lock_shards(&self, ascending: Vec<usize>) -> Locked<'_, K, V, S> {
        let held = ascending
            .into_iter()
            .map(|i| {
                let cell = &self.inner.shards[i];
                let guard = cell.write();
                held::enter(cell);
                (i, guard)
            })
            .collect();
        let sink = Removals::new(self.inner.cfg.listener.is_some());
        Locked { cache: self, held, sink, refreshes: Vec::new() }
    }

    pub(crate) fn shard_of(&self, hash: u64) -> usize {
        ((hash >> 32) & self.inner.shard_mask) as usize
    }
}

impl<K, V, S> Locked<'_, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    fn position(&self, shard: usize) -> Result<usize, usize> {
        self.held.binary_search_by_key(&shard, |(i, _)| *i)
    }

    /// Whether the shard of `key` is held.
    pub fn holds<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.position(self.cache.shard_of(self.cache.hash(key))).is_ok()
    }

    /// Whether every shard is held (as after [`Cache::lock_all`]).
    pub fn holds_all(&self) -> bool {
        self.held.len() == self.cache.inner.shards.len()
    }

    /// Adds the shard of `key` to the held set if it is free, without waiting (waiting here
    /// could deadlock: see [`Locked`]). True if the shard is held afterwards.
    pub fn try_extend<Q>(&mut self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.cache.shard_of(self.cache.hash(key));
        match self.position(shard) {
            Ok(_) => true,
            Err(at) => {
                let cell = &self.cache.inner.shards[shard];
                let Some(guard) = cell.try_write() else { return false };
                held::enter(cell);
                self.held.insert(at, (shard, guard));
                true
            }
        }
    }

    /// Adds every shard that is free, without waiting; true if all are held afterwards (the
    /// shards taken stay held either way).
    pub fn try_extend_all(&mut self) -> bool {
        for shard in 0..self.cache.inner.shards.len() {
            if let Err(at) = self.position(shard) {
                let cell = &self.cache.inner.shards[shard];
                let Some(guard) = cell.try_write() else { return false };
                held::enter(cell);
                self.held.insert(at, (shard, guard));
            }
        }
        true
    }

    /// [`Cache::compute`] on a held key.
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the key's shard is not held (nothing runs).
    pub fn compute<R>(&mut self, key: K, f: impl FnOnce(&mut Slot<'_, K, V>) -> R) -> Result<R, NotHeld> {
        let hash = self.cache.hash(&key);
        let at = self.position(self.cache.shard_of(hash)).map_err(|_| NotHeld)?;
        let cfg = &self.cache.inner.cfg;
        let shard = &mut *self.held[at].1;
        let now = shard.now(cfg, false);
        shard.maintain(cfg, now, &mut self.sink);
        let idx = shard.find_live(cfg, hash as u32, &key, now, &mut self.sink);
        let mut slot = Slot { shard, cfg, sink: &mut self.sink, key, hash: hash as u32, idx, now };
        Ok(f(&mut slot))
    }

    /// [`Cache::get`] on a held key (counts a hit or miss and updates the policy).
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the key's shard is not held.
    pub fn get<Q>(&mut self, key: &Q) -> Result<Option<V>, NotHeld>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.cache.hash(key);
        let at = self.position(self.cache.shard_of(hash)).map_err(|_| NotHeld)?;
        let found = self.held[at].1.get(&self.cache.inner.cfg, hash as u32, key, &mut self.sink, V::clone);
        Ok(found.map(|(value, ticket)| {
            if let Some(ticket) = ticket {
                self.refreshes.push((hash, ticket));
            }
            value
        }))
    }

    /// [`Cache::peek`] on a held key.
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the key's shard is not held.
    pub fn peek<Q>(&self, key: &Q) -> Result<Option<V>, NotHeld>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.cache.hash(key);
        let at = self.position(self.cache.shard_of(hash)).map_err(|_| NotHeld)?;
        Ok(self.held[at].1.peek(&self.cache.inner.cfg, hash as u32, key).cloned())
    }

    /// [`Cache::access_stamp`] on a held key (held shards have no pending reads to apply).
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the key's shard is not held.
    pub fn access_stamp<Q>(&self, key: &Q) -> Result<Option<u32>, NotHeld>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.cache.hash(key);
        let at = self.position(self.cache.shard_of(hash)).map_err(|_| NotHeld)?;
        Ok(self.held[at].1.access_stamp(&self.cache.inner.cfg, hash as u32, key))
    }

    /// [`Cache::set_access_stamp`] on a held key.
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the key's shard is not held.
    pub fn set_access_stamp<Q>(&mut self, key: &Q, stamp: u32) -> Result<bool, NotHeld>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.cache.hash(key);
        let at = self.position(self.cache.shard_of(hash)).map_err(|_| NotHeld)?;
        Ok(self.held[at].1.set_access_stamp(&self.cache.inner.cfg, hash as u32, key, stamp))
    }

    /// [`Cache::remove`] on a held key.
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the key's shard is not held.
    pub fn remove<Q>(&mut self, key: &Q) -> Result<Option<V>, NotHeld>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.cache.hash(key);
        let at = self.position(self.cache.shard_of(hash)).map_err(|_| NotHeld)?;
        let cfg = &self.cache.inner.cfg;
        let shard = &mut *self.held[at].1;
        let now = shard.now(cfg, false);
        let Some(idx) = shard.find_live(cfg, hash as u32, key, now, &mut self.sink) else { return Ok(None) };
        Ok(Some(shard.remove_at(cfg, idx, &mut self.sink)))
    }

    /// Entries in the held shards (expired ones not yet reclaimed included).
    pub fn len(&self) -> u64 {
        self.held.iter().map(|(_, s)| s.len()).sum()
    }

    /// Whether the held shards hold no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Statistics of the whole cache ([`Cache::stats`], which would wait for the held shards).
    pub fn stats(&self) -> CacheStats {
        let mut total = CacheStats::default();
        for (i, cell) in self.cache.inner.shards.iter().enumerate() {
            match self.position(i) {
                Ok(at) => total.add(self.held[at].1.stats()),
                Err(_) => total.add(cell.read().stats()),
            }
            total.hits += cell.reads.hits();
            total.misses += cell.reads.misses();
        }
        total
    }

    /// [`Cache::scan`] over the whole cache, which must be held ([`Cache::lock_all`]).
    ///
    /// # Errors
    ///
    /// [`NotHeld`] unless every shard is held.
    pub fn scan(&self, cursor: u64, count: usize) -> Result<(u64, Vec<(K, V)>), NotHeld> {
        if !self.holds_all() {
            return Err(NotHeld);
        }
        let cfg = &self.cache.inner.cfg;
        Ok(scan_shards(self.held.len(), cursor, count, |i, slot, budget, out| {
            self.held[i].1.scan(cfg, slot, budget, out)
        }))
    }

    /// Every entry of the held shards (clones).
    pub fn entries(&self) -> Vec<(K, V)> {
        let cfg = &self.cache.inner.cfg;
        let mut out = Vec::new();
        for (_, shard) in &self.held {
            let mut slot = Some(0);
            while let Some(start) = slot {
                slot = shard.scan(cfg, start, 4096, &mut out);
            }
        }
        out
    }

    /// [`Cache::retain`] over the held shards.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let cfg = &self.cache.inner.cfg;
        for (_, shard) in &mut self.held {
            shard.retain(cfg, &mut keep, &mut self.sink);
        }
    }

    /// Removes every entry of the held shards ([`Cache::invalidate_all`] when all are held).
    pub fn clear(&mut self) {
        let cfg = &self.cache.inner.cfg;
        for (_, shard) in &mut self.held {
            shard.clear(cfg, &mut self.sink);
        }
    }
}

impl<K, V, S> Drop for Locked<'_, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        for (i, guard) in self.held.drain(..) {
            held::leave(&self.cache.inner.shards[i]);
            drop(guard);
        }
        let sink = std::mem::replace(&mut self.sink, Removals::new(false));
        sink.deliver(self.cache.inner.cfg.listener.as_ref());
        for (hash, ticket) in self.refreshes.drain(..) {
            self.cache.spawn_refresh(hash, ticket);
        }
    }
}

impl<K, V, S> fmt::Debug for Locked<'_, K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shards: Vec<usize> = self.held.iter().map(|(i, _)| *i).collect();
        f.debug_struct("Locked").field("shards", &shards).finish_non_exhaustive()
    }
}

/// Debug builds remember which shards each thread holds through a [`Locked`], and every lock
/// taken checks against them: re-locking a held shard panics instead of hanging.
pub(crate) mod held {
    #[cfg(debug_assertions)]
    std::thread_local! {
        static HELD: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    #[cfg(debug_assertions)]
    fn addr<T>(cell: &T) -> usize {
        std::ptr::from_ref(cell) as usize
    }

    /// Panics (debug builds) if this thread holds `cell` through a `Locked`.
    #[inline]
    pub(crate) fn check<T>(_cell: &T) {
        #[cfg(debug_assertions)]
        HELD.with(|h| {
            assert!(
                !h.borrow().contains(&addr(_cell)),
                "a cache shard was locked again by the thread holding it through `Locked`: \
                 use the `Locked`'s own methods while it lives"
            );
        });
    }

    pub(crate) fn enter<T>(_cell: &T) {
        #[cfg(debug_assertions)]
        HELD.with(|h| h.borrow_mut().push(addr(_cell)));
    }

    pub(crate) fn leave<T>(_cell: &T) {
        #[cfg(debug_assertions)]
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(i) = h.iter().position(|&a| a == addr(_cell)) {
                h.swap_remove(i);
            }
        });
    }
}
