//! [`NearCache`]: the in-process L1 (a cache-core [`Cache`]) in front of the servers, and the
//! bookkeeping that keeps it coherent with them.
//!
//! Coherence comes from server-assisted client-side caching: values are only ever inserted from
//! a GET sent on a node's *tracking* connection (`CLIENT TRACKING on`, RESP3), so the server
//! remembers that we hold the key and pushes `invalidate` on that same connection when anyone
//! changes it. Every entry remembers the node whose tracking connection filled it. The rules:
//! - an `invalidate` push removes the key; a null one (that node's flush) drops that node's
//!   entries;
//! - losing a node's tracking connection drops that node's entries: while it was down we would
//!   miss its pushes (the other nodes' entries stay, their connections still listen);
//! - in cluster mode, a slot that changes owner drops the entries of its keys
//!   ([`NearCache::flush_slots`]): the old owner no longer reports their changes;
//! - the race "GET in flight, invalidation arrives before the reply is inserted" is closed by
//!   a sequence check: a fill takes a [`Ticket`] (epoch + invalidation sequence) *before*
//!   sending its GET, and is inserted only if no invalidation of that key, and no flush, came
//!   after the ticket. Insertions and invalidations serialize on one small mutex; hits never
//!   take it.
//!
//! An entry lives at most min(local TTL, the server's PTTL read with the value).
//! It owns no sockets: the client feeds it pushes through [`TrackingHandler`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cache_core::Cache;
use parking_lot::Mutex;

use crate::config::NearCacheConfig;
use crate::connection::PushHandler;
use crate::value::Value;

/// Counters of the near-cache, since the client was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NearCacheStats {
    /// Reads served locally.
    pub local_hits: u64,
    /// Reads that missed locally and found the key on the server (and filled the near-cache).
    pub remote_hits: u64,
    /// Reads of keys the server did not have.
    pub misses: u64,
    /// Keys dropped by `invalidate` pushes or by this client's own writes.
    pub invalidations: u64,
    /// Whole-cache drops: null invalidations (server flush) and lost tracking connections.
    pub flushes: u64,
    /// Fills refused because an invalidation or flush raced them.
    pub stale_fills_refused: u64,
}

#[derive(Debug, Default)]
struct Guard {
    /// Bumped by every flush; a ticket from an older epoch never inserts.
    epoch: u64,
    /// Bumped by every invalidation.
    seq: u64,
    /// Key → sequence of its last invalidation, kept only while fills are outstanding.
    invalidated: HashMap<Bytes, u64>,
    /// Ticket sequence → number of outstanding fills holding it.
    outstanding: BTreeMap<u64, usize>,
}

/// A local value and the node whose tracking connection vouches for it.
#[derive(Debug, Clone)]
struct Entry {
    value: Bytes,
    node: usize,
}

/// The near-cache. Shared by every clone of a client.
pub struct NearCache {
    cache: Cache<Bytes, Entry>,
    local_ttl: Duration,
    guard: Mutex<Guard>,
    local_hits: AtomicU64,
    remote_hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    flushes: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for NearCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NearCache").field("len", &self.cache.len()).field("stats", &self.stats()).finish()
    }
}

/// Per-entry bookkeeping charged to a byte-bounded near-cache on top of key and value.
const ENTRY_OVERHEAD: usize = 64;

impl NearCache {
    /// A near-cache as configured.
    #[must_use]
    pub fn new(cfg: &NearCacheConfig) -> Self {
        let mut b = Cache::builder().max_capacity(cfg.capacity).time_to_live(cfg.local_ttl);
        if cfg.weigh_bytes {
            b = b.weigher(|k: &Bytes, e: &Entry| {
                u32::try_from(k.len() + e.value.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            });
        }
        Self {
            cache: b.build(),
            local_ttl: cfg.local_ttl,
            guard: Mutex::new(Guard::default()),
            local_hits: AtomicU64::new(0),
            remote_hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// The local value of `key`, counting a local hit.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        let e = self.cache.get(key)?;
        self.local_hits.fetch_add(1, Ordering::Relaxed);
        Some(e.value)
    }

    /// Starts a fill of `key`: take this before sending the GET.
    pub fn begin(&self) -> Ticket<'_> {
        let mut g = self.guard.lock();
        let seq = g.seq;
        *g.outstanding.entry(seq).or_default() += 1;
        Ticket { near: self, epoch: g.epoch, seq, done: false }
    }

    /// Ends a fill: inserts `value` (if any) unless an invalidation or flush came after the
    /// ticket. `server_pttl` is the server's PTTL reply (-1 no expiry, -2 gone); `node` is the
    /// index of the node whose tracking connection read it. Returns whether it inserted.
    pub fn finish(
        &self,
        mut ticket: Ticket<'_>,
        node: usize,
        key: Bytes,
        value: Option<Bytes>,
        server_pttl: i64,
    ) -> bool {
        ticket.done = true;
        let mut g = self.guard.lock();
        let fresh = g.epoch == ticket.epoch && g.invalidated.get(&key).is_none_or(|&s| s <= ticket.seq);
        release(&mut g, ticket.seq);
        let Some(value) = value else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        self.remote_hits.fetch_add(1, Ordering::Relaxed);
        if !fresh {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let ttl = match server_pttl {
            -2 => return false,
            ms if ms >= 0 => self.local_ttl.min(Duration::from_millis(ms.unsigned_abs())),
            _ => self.local_ttl,
        };
        if ttl.is_zero() {
            return false;
        }
        self.cache.insert_with_ttl(key, Entry { value, node }, ttl);
        true
    }

    /// Drops `key` (an `invalidate` push, or this client's own write).
    pub fn invalidate(&self, key: &[u8]) {
        let mut g = self.guard.lock();
        g.seq += 1;
        if !g.outstanding.is_empty() {
            let seq = g.seq;
            g.invalidated.insert(Bytes::copy_from_slice(key), seq);
        }
        self.cache.remove(key);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops everything and starts a new epoch, so no fill begun before can insert.
    pub fn flush(&self) {
        self.flush_where(|_, _| false);
    }

    /// Drops the entries filled through node `node` (its tracking connection was lost, or the
    /// node was flushed). Fills in flight on any node are refused too (a new epoch): cheap and
    /// safe, as a refused fill only costs one more remote read.
    pub fn flush_node(&self, node: usize) {
        self.flush_where(|_, e| e.node != node);
    }

    /// Drops the entries of keys in `slots` (hash slots that changed owner, in cluster mode),
    /// and starts a new epoch as [`flush_node`](Self::flush_node) does.
    pub fn flush_slots(&self, slots: &[u16]) {
        if slots.is_empty() {
            return;
        }
        let mut moved = vec![false; usize::from(crate::slot::SLOTS)];
        for &s in slots {
            moved[usize::from(s)] = true;
        }
        self.flush_where(|k, _| !moved[usize::from(crate::slot::key_slot(k))]);
    }

    fn flush_where(&self, keep: impl FnMut(&Bytes, &Entry) -> bool) {
        let mut g = self.guard.lock();
        g.epoch += 1;
        g.seq += 1;
        g.invalidated.clear();
        self.cache.retain(keep);
        self.flushes.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a read that bypassed the near-cache and found nothing.
    pub(crate) fn count_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> NearCacheStats {
        NearCacheStats {
            local_hits: self.local_hits.load(Ordering::Relaxed),
            remote_hits: self.remote_hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            flushes: self.flushes.load(Ordering::Relaxed),
            stale_fills_refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Whether `key` is held locally (no statistics, no policy update).
    #[must_use]
    pub fn contains(&self, key: &[u8]) -> bool {
        self.cache.contains_key(key)
    }

    /// Entries held locally.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.cache.len()
    }

    /// Whether nothing is held locally.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

fn release(g: &mut Guard, seq: u64) {
    if let Some(n) = g.outstanding.get_mut(&seq) {
        *n -= 1;
        if *n == 0 {
            g.outstanding.remove(&seq);
        }
    }
    match g.outstanding.first_key_value() {
        None => g.invalidated.clear(),
        // Invalidations at or before the oldest outstanding ticket can no longer refuse a fill.
        Some((&oldest, _)) if g.invalidated.len() > 1024 => g.invalidated.retain(|_, s| *s > oldest),
        Some(_) => {}
    }
}

/// An outstanding fill (see [`NearCache::begin`]); dropping it unfinished abandons the fill.
#[derive(Debug)]
#[must_use]
pub struct Ticket<'a> {
    near: &'a NearCache,
    epoch: u64,
    seq: u64,
    done: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            release(&mut self.near.guard.lock(), self.seq);
        }
    }
}

/// Feeds one node's tracking connection's pushes and loss into the near-cache.
#[derive(Debug)]
pub struct TrackingHandler {
    near: Arc<NearCache>,
    node: usize,
}

impl TrackingHandler {
    /// The handler of node `node`'s tracking connection.
    #[must_use]
    pub fn new(near: Arc<NearCache>, node: usize) -> Self {
        Self { near, node }
    }
}

impl PushHandler for TrackingHandler {
    fn on_push(&self, items: Vec<Value>) {
        let mut it = items.into_iter();
        if !matches!(it.next(), Some(Value::Bulk(ref b)) if b.eq_ignore_ascii_case(b"invalidate")) {
            return;
        }
        match it.next() {
            Some(Value::Array(keys)) => {
                for k in keys {
                    if let Value::Bulk(k) = k {
                        self.near.invalidate(&k);
                    }
                }
            }
            Some(Value::Bulk(k)) => self.near.invalidate(&k),
            _ => self.near.flush_node(self.node),
        }
    }

    fn on_disconnect(&self) {
        self.near.flush_node(self.node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near() -> NearCache {
        NearCache::new(&NearCacheConfig::entries(100, Duration::from_secs(60)))
    }

    fn k(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn fill_then_hit_then_invalidate() {
        let n = near();
        let t = n.begin();
        assert!(n.finish(t, 0, k("a"), Some(k("1")), -1));
        assert_eq!(n.get(b"a"), Some(k("1")));
        n.invalidate(b"a");
        assert_eq!(n.get(b"a"), None);
        let s = n.stats();
        assert_eq!((s.local_hits, s.remote_hits, s.invalidations), (1, 1, 1));
    }

    #[test]
    fn an_invalidation_during_the_fill_refuses_the_stale_value() {
        let n = near();
        let t = n.begin();
        n.invalidate(b"a");
        assert!(!n.finish(t, 0, k("a"), Some(k("old")), -1));
        assert_eq!(n.get(b"a"), None);
        // Another key's invalidation does not refuse this one.
        let t = n.begin();
        n.invalidate(b"b");
        assert!(n.finish(t, 0, k("a"), Some(k("new")), -1));
        assert_eq!(n.stats().stale_fills_refused, 1);
    }

    #[test]
    fn a_flush_during_the_fill_refuses_it_and_drops_everything() {
        let n = near();
        let t = n.begin();
        assert!(n.finish(t, 0, k("x"), Some(k("1")), -1));
        let t = n.begin();
        n.flush();
        assert!(!n.finish(t, 0, k("a"), Some(k("1")), -1));
        assert!(n.is_empty());
    }

    #[test]
    fn pushes_invalidate_keys_or_flush() {
        let n = Arc::new(near());
        let h = TrackingHandler::new(Arc::clone(&n), 0);
        for key in ["a", "b"] {
            let t = n.begin();
            n.finish(t, 0, k(key), Some(k("v")), 5000);
        }
        h.on_push(vec![Value::Bulk(k("invalidate")), Value::Array(vec![Value::Bulk(k("a"))])]);
        assert_eq!((n.get(b"a"), n.get(b"b")), (None, Some(k("v"))));
        h.on_push(vec![Value::Bulk(k("invalidate")), Value::Nil]);
        assert!(n.get(b"b").is_none());
        assert_eq!(n.stats().flushes, 1);
    }

    #[test]
    fn node_and_slot_flushes_drop_only_their_entries() {
        let n = Arc::new(near());
        for (key, node) in [("foo", 0), ("bar", 1), ("hello", 1)] {
            let t = n.begin();
            assert!(n.finish(t, node, k(key), Some(k("v")), -1));
        }
        TrackingHandler::new(Arc::clone(&n), 0).on_disconnect();
        assert!(!n.contains(b"foo") && n.contains(b"bar") && n.contains(b"hello"));
        let t = n.begin();
        n.flush_slots(&[crate::slot::key_slot(b"bar")]);
        assert!(!n.finish(t, 1, k("x"), Some(k("v")), -1), "a fill in flight across a slot move is refused");
        assert!(!n.contains(b"bar") && n.contains(b"hello"));
    }

    #[test]
    fn server_ttl_bounds_and_gone_keys_are_not_cached() {
        let n = near();
        let t = n.begin();
        assert!(!n.finish(t, 0, k("gone"), Some(k("v")), -2));
        let t = n.begin();
        assert!(!n.finish(t, 0, k("expiring"), Some(k("v")), 0));
        let t = n.begin();
        assert!(n.finish(t, 0, k("short"), Some(k("v")), 10_000));
    }

    #[test]
    fn a_byte_bound_holds() {
        let n = NearCache::new(&NearCacheConfig::bytes(10_000, Duration::from_secs(60)));
        for i in 0..1000 {
            let t = n.begin();
            n.finish(t, 0, Bytes::from(format!("key:{i}")), Some(Bytes::from(vec![0u8; 100])), -1);
        }
        assert!(n.cache.weighted_size() <= 10_000, "{}", n.cache.weighted_size());
        assert!(!n.is_empty() && n.len() < 1000);
    }

    #[test]
    fn bookkeeping_is_released() {
        let n = near();
        for i in 0..3000 {
            let t = n.begin();
            n.invalidate(format!("k{i}").as_bytes());
            drop(t);
        }
        let g = n.guard.lock();
        assert!(g.outstanding.is_empty() && g.invalidated.is_empty());
    }
}
