//! The keyspaces: Redis's logical databases over ONE `cache_core::Cache<Key, Entry>`, so
//! `maxmemory` is a single budget. This is the only module that touches the cache-core API; command
//! handlers see `Entry`/`Value` and the few operations below.
//!
//! Expiry: every entry stores its absolute expire time in unix milliseconds (`expire_at`), so
//! EXPIRETIME round-trips exactly; the core also gets the remaining TTL so it reclaims memory
//! proactively. Reads treat an entry past `expire_at` as absent (and remove it), which keeps
//! Redis semantics independent of the core's timer granularity. Under CLIENT PAUSE nothing
//! expires or is evicted ([`Db::pause_switch`], see `crate::pause`): an expired key reads as
//! absent and stays. DEBUG SET-ACTIVE-EXPIRE 0 stops active expiry ([`Db::set_active_expiry`]).
//!
//! Memory: an entry weighs `key bytes + value bytes + ENTRY_OVERHEAD` (hashes add `FIELD_OVERHEAD`
//! per field); the core evicts to keep the sum under the capacity.
//!
//! `volatile-*`: the core is built with an `evictable` predicate — under a volatile policy an
//! entry without a TTL (`expire_at == 0`) is pinned: it counts toward `maxmemory` but is never
//! evicted. Every write re-asks the predicate, so `PERSIST` pins a key, `EXPIRE` unpins it, and a
//! `SET` without `EX` over a TTL key pins it. A write the core refuses (the pinned keys leave no
//! room) changes nothing and is noted for the command ([`take_refused`]): the dispatcher replaces
//! the reply with `-OOM`, as Redis answers when no volatile key is left to evict.

use crate::cluster::index::SlotIndex;
use crate::config::{Config, MaxMemoryPolicy};
pub use crate::entry::{Entry, FIELD_OVERHEAD, HashValue, Key, Str, Value};
use crate::entry::{heap_overhead, with_encoded};
use crate::metrics::latency::Monitor;
use bytes::Bytes;
use cache_core::{Cache, EvictionPolicy, Locked, Slot};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes charged per entry on top of key and value bytes (plus [`heap_overhead`] for keys and
/// values too long to live in the node), measured: 1M `SET`s of 16 B keys with 32 B values over
/// `redis-cli --pipe` grew the release binary's RSS by 108 B per key, i.e. 60 B beyond the
/// payload (72 B before the core's sketch and index changes of 2026-11-23). That is the core's
/// slab slot (`Key` 24 B + `Entry` 48 B + 13 B of hash and links, padded to 88 B, so 40 B beyond
/// the payload) and about 20 B of weight, index slot and frequency sketch. No heap allocation:
/// key and value are inline (see [`crate::entry`]). Charging it keeps `used_memory` close to
/// RSS, so `maxmemory` bounds the process. (Same run: Redis 7 100 B, Memcached 1.6 75 B.)
pub const ENTRY_OVERHEAD: u64 = 60;
/// How long an entry stored already expired lingers before the core reclaims it (Redis's active
/// expiry runs every 100 ms).
const EXPIRED_GRACE: Duration = Duration::from_millis(100);
/// The server's time source: unix milliseconds that follow tokio's clock (so tests can pause it).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_ms: u64,
    base: tokio::time::Instant,
}

impl Clock {
    fn new() -> Self {
        let base_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Self { base_ms, base: tokio::time::Instant::now() }
    }

    /// Now, in unix microseconds.
    pub fn now_us(&self) -> u64 {
        self.base_ms * 1000 + self.base.elapsed().as_micros() as u64
    }

    /// Now, in unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.now_us() / 1000
    }

    /// The unix milliseconds of instant `t` (for a caller that already read the clock).
    #[inline]
    pub fn ms_at(&self, t: tokio::time::Instant) -> u64 {
        // In u64 (`as_millis` computes in u128): this runs once per command.
        let d = t.saturating_duration_since(self.base);
        self.base_ms + d.as_secs() * 1000 + u64::from(d.subsec_millis())
    }
}

impl cache_core::Clock for Clock {
    fn now_nanos(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

thread_local! {
    /// Set when the core refuses a write of the command running on this thread (see the module docs).
    static REFUSED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a write was refused for lack of room since the last call (and clears the mark). The
/// dispatcher calls it before and after each command; commands run on one thread without awaiting.
pub fn take_refused() -> bool {
    REFUSED.with(|r| r.replace(false))
}

/// Live counters of the keyspace, for INFO stats.
#[derive(Debug, Default)]
pub struct DbStats {
    /// Successful key lookups.
    pub hits: AtomicU64,
    /// Failed key lookups.
    pub misses: AtomicU64,
    /// Keys found expired on access.
    pub expired_lazy: AtomicU64,
    /// Writes so far (keys put, changed or deleted, flushes): the save rules and INFO's
    /// `rdb_changes_since_last_save` count from it ([`crate::persistence`]).
    pub changes: AtomicU64,
}

/// All databases.
pub struct Db {
    cache: Cache<Key, Entry>,
    databases: usize,
    /// WATCHed keys and the flags of the clients watching them.
    watches: Arc<Watches>,
    /// Bit i set once database i (i < 63) was written; bit 63 for any higher one. When only one
    /// database was ever used, DBSIZE is the cache's O(1) `len()`.
    used: AtomicU64,
    /// The budget, for the noeviction check and INFO.
    maxmemory: AtomicU64,
    noeviction: AtomicBool,
    /// The core capacity the budget calls for ([`core_capacity`]); shared with a pending
    /// [`Sweep`], which applies the latest one whenever it runs.
    capacity: Arc<AtomicU64>,
    /// A `volatile-*` policy is in force: the core's `evictable` predicate reads it.
    volatile: Arc<AtomicBool>,
    /// Last CAS unique handed out (see [`Entry::cas`]).
    cas: AtomicU64,
    /// Time source.
    pub clock: Clock,
    /// Counters.
    pub stats: DbStats,
    /// Client-side caching hook: every put/delete/expiry/eviction/flush is reported here.
    pub tracking: std::sync::Arc<crate::tracking::Tracking>,
    /// Keys by hash slot, once the cluster is enabled ([`Db::enable_slot_index`]).
    slot_index: Arc<OnceLock<SlotIndex>>,
    /// Bytes charged per entry for the slot index (0 while it is off).
    index_charge: Arc<AtomicU64>,
    /// The latency monitor (`Shared` attaches it): the background cycle records
    /// `expire-cycle` / `eviction-cycle` samples in it.
    latency: Arc<OnceLock<Monitor>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("databases", &self.databases).finish_non_exhaustive()
    }
}

fn weigh(k: &Key, e: &Entry) -> u32 {
    Db::memory_usage(k.key(), e).min(u64::from(u32::MAX)) as u32
}

/// The core's bound for a budget: the budget itself when the core evicts; unbounded under
/// noeviction, where the core never evicts (not even when the budget is lowered below the data)
/// and the `-OOM` check ([`Db::would_oom`]) stops writes instead.
fn core_capacity(maxmemory: u64, noeviction: bool) -> u64 {
    match (maxmemory, noeviction) {
        (0, _) | (_, true) => 1 << 62,
        (m, false) => m,
    }
}

/// One background maintenance cycle — the access clock, buffered reads, active expiry, and the
/// evictions a pause deferred — timed as Redis times `activeExpireCycle` (`expire-cycle`, when
/// it reclaimed expired keys) and `performEvictions` (`eviction-cycle`, when it evicted).
/// Reclaims nothing while paused or active expiry is off.
fn maintenance_cycle(cache: &Cache<Key, Entry>, latency: &OnceLock<Monitor>, clock: Clock) {
    let monitor = latency.get().filter(|m| m.is_on());
    let before = monitor.map(|_| cache.stats());
    let started = std::time::Instant::now();
    // The time access stamps use until the next cycle (Redis's cached `lruclock`); taking each
    // shard's lock below also replays its buffered reads, so a stamp lags a read by one cycle.
    cache.tick_access_clock();
    cache.run_pending_tasks();
    if let (Some(monitor), Some(before)) = (monitor, before) {
        // Only a cycle that did the work is timed: one that reclaimed nothing did no expiry (the
        // wheel holds only due entries, nothing is scanned), and its wall time on a busy
        // machine would be the scheduler's, not ours.
        let (micros, now_s) = (started.elapsed().as_micros() as u64, clock.now_ms() / 1000);
        let after = cache.stats();
        if after.expired.count > before.expired.count {
            monitor.event("expire-cycle", micros, now_s);
        }
        if after.evicted.count > before.evicted.count {
            monitor.event("eviction-cycle", micros, now_s);
        }
    }
}

/// Runs [`maintenance_cycle`] once on a blocking thread (at UNPAUSE, or when active expiry comes
/// back on), so that the caller — maybe a command holding shards — never waits for it.
fn spawn_cycle(cache: &Cache<Key, Entry>, latency: &Arc<OnceLock<Monitor>>, clock: Clock) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let (cache, latency) = (cache.clone(), latency.clone());
        rt.spawn_blocking(move || maintenance_cycle(&cache, &latency, clock));
    }
}

/// What the per-key access stamps hold under `cfg`, as Redis's `lru` field: an LFU counter
/// under the `*-lfu` policies, the LRU clock under every other (noeviction included).
fn access_mode(cfg: &Config) -> cache_core::AccessMode {
    let int = |name: &str, default: u32| cfg.get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    match cfg.maxmemory_policy.algorithm() {
        "lfu" => cache_core::AccessMode::Lfu {
            log_factor: int("lfu-log-factor", 10),
            decay_minutes: int("lfu-decay-time", 1),
        },
        _ => cache_core::AccessMode::Lru,
    }
}

fn db_bit(db: u32) -> u64 {
    1u64 << db.min(63)
}

/// The shard-wide work a new budget or policy needs ([`Db::set_budget`]): owned, so it can run
/// on another thread, and it applies the budget in force when it runs (of two pending sweeps,
/// whichever runs last leaves the latest budget).
#[derive(Debug)]
#[must_use = "a budget reaches the shards only when its sweep runs"]
pub struct Sweep {
    repin: bool,
    cache: Cache<Key, Entry>,
    capacity: Arc<AtomicU64>,
}

impl Sweep {
    /// Re-pins every key if `volatile-*` changed (first, so that the evictions follow the new
    /// policy), then evicts down to the capacity (one shard lock at a time).
    pub fn run(self) {
        if self.repin {
            self.cache.reevaluate_evictable();
        }
        let capacity = self.capacity.load(Relaxed);
        if self.cache.capacity() != capacity {
            self.cache.set_capacity(capacity);
        }
    }
}

/// What a read found ([`Db::lookup`]).
#[derive(Debug)]
pub enum Lookup {
    /// The live entry.
    Live(Entry),
    /// An entry past its expire time, removed by this read.
    Expired,
    /// Nothing.
    Missing,
}

/// What `Db::update` hands a handler: the live entry (expired ones look absent) and ways to change it.
pub struct Current<'a, 'b> {
    slot: &'a mut Slot<'b, Key, Entry>,
    now: u64,
    expired: bool,
    /// The keyspace's CAS counter: every `put` takes the next value.
    cas: &'a AtomicU64,
    /// A put or delete happened (tracking hook: reported after the lock is released).
    modified: bool,
    /// A put was refused: no room beside the keys that may not be evicted.
    refused: bool,
}

impl std::fmt::Debug for Current<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current").field("now", &self.now).field("expired", &self.expired).finish_non_exhaustive()
    }
}

impl Current<'_, '_> {
    /// The live entry, if any.
    pub fn get(&self) -> Option<&Entry> {
        if self.expired { None } else { self.slot.value() }
    }

    /// Stores `e` (a RESP write), with a TTL derived from `e.expire_at`. An expire time already
    /// past stores an entry that reads treat as absent and the core reclaims after
    /// `EXPIRED_GRACE` — as Redis's `SET k v PXAT <past>` leaves a key that DBSIZE counts until
    /// active expiry removes it. The CAS unique is cleared (no memory spent on it): a Memcached
    /// token handed out before no longer matches, and the next Memcached read assigns a fresh one.
    pub fn put(&mut self, mut e: Entry) {
        e.set_cas(0);
        self.put_keep_cas(e);
    }

    /// Stores `e` (a Memcached write) with a fresh CAS unique.
    pub fn put_mc(&mut self, mut e: Entry) {
        e.set_cas(self.cas.fetch_add(1, Relaxed) + 1);
        self.put_keep_cas(e);
    }

    /// The live entry with a CAS unique, assigning a fresh one if a RESP write cleared it.
    pub fn get_with_cas(&mut self) -> Option<Entry> {
        let mut e = self.get()?.clone();
        if e.cas() == 0 {
            e.set_cas(self.cas.fetch_add(1, Relaxed) + 1);
            self.put_keep_cas(e.clone());
        }
        Some(e)
    }

    /// Stores `e` as [`Current::put`] does but keeps `e.cas()` (Memcached's touch and GAT do not
    /// change the CAS unique).
    ///
    /// Under a `volatile-*` policy the core may refuse the write (see the module docs): then
    /// nothing changes, [`Current::refused`] turns true and the command replies `-OOM`.
    pub fn put_keep_cas(&mut self, e: Entry) {
        let ttl = match e.expire_at {
            0 => None,
            t if t > self.now => Some(Duration::from_millis(t - self.now)),
            _ => Some(EXPIRED_GRACE),
        };
        if self.slot.try_set_with_ttl(e, ttl).is_ok() {
            self.expired = false;
            self.modified = true;
        } else {
            self.refused = true;
            REFUSED.with(|r| r.set(true));
        }
    }

    /// Sets the live entry's Memcached meta word (fetched and win-token bits, last access, see
    /// `memcache/item.rs`) in place. Not a write: the CAS unique stays, and no WATCH, tracking
    /// invalidation or notification fires, since memcached's fetch bookkeeping changes nothing a
    /// client stored. False when there is no live entry.
    pub fn set_mc_meta(&mut self, meta: u32) -> bool {
        if self.expired {
            return false;
        }
        self.slot.modify(|e| e.set_meta(meta)).is_some()
    }

    /// Whether a put of this update was refused for lack of room (nothing was stored).
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// Changes the live entry in place (a RESP write: the CAS unique is cleared as by
    /// [`Current::put`]) and returns `f`'s answer; `None`, without calling `f`, if there is no live
    /// entry. The core re-weighs the entry afterwards (growth may evict others, or this entry if it
    /// alone exceeds the budget) and keeps its TTL, so `f` must not change `expire_at`.
    ///
    /// This is what makes a write cost what it changes: `f` sees the stored value, and a shared
    /// part of it (`Arc`) is copied by `Arc::make_mut` only if a reader still holds it.
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        self.modify_with_cas(0, f)
    }

    /// [`Current::modify`] for a Memcached write: the entry takes a fresh CAS unique, or `cas`.
    pub fn modify_mc<R>(&mut self, cas: Option<u64>, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        let cas = cas.unwrap_or_else(|| self.cas.fetch_add(1, Relaxed) + 1);
        self.modify_with_cas(cas, f)
    }

    fn modify_with_cas<R>(&mut self, cas: u64, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        if self.expired {
            return None;
        }
        let r = self.slot.modify(|e| {
            // First, so that a Memcached `Memo` rebuilt for the new CAS is not shared when `f` runs.
            e.set_cas(cas);
            let expire_at = e.expire_at;
            let r = f(e);
            debug_assert_eq!(e.expire_at, expire_at, "modify must not change the expiry");
            r
        })?;
        self.modified = true;
        Some(r)
    }

    /// Deletes the entry; true if a live one existed.
    pub fn delete(&mut self) -> bool {
        let live = self.get().is_some();
        if self.slot.value().is_some() {
            self.slot.remove();
            self.modified = true;
        }
        self.expired = false;
        live
    }
}

impl Db {
    /// Builds the keyspaces with the configured budget and policy.
    pub fn new(cfg: &Config) -> Self {
        let capacity = core_capacity(cfg.maxmemory, cfg.maxmemory_policy == MaxMemoryPolicy::NoEviction);
        let policy = match cfg.maxmemory_policy.algorithm() {
            "lru" => EvictionPolicy::Lru,
            "random" => EvictionPolicy::Random,
            "ttl" => EvictionPolicy::NearestExpiry,
            _ => EvictionPolicy::TinyLfu,
        };
        let volatile = Arc::new(AtomicBool::new(cfg.maxmemory_policy.is_volatile()));
        let pinning = volatile.clone();
        let clock = Clock::new();
        // Tracking hook: keys the core evicts or expires are invalidated for tracking clients.
        let tracking = std::sync::Arc::new(crate::tracking::Tracking::default());
        let weak = std::sync::Arc::downgrade(&tracking);
        let watches = Arc::new(Watches::default());
        let watched = Arc::downgrade(&watches);
        let slot_index: Arc<OnceLock<SlotIndex>> = Arc::default();
        let indexed = slot_index.clone();
        let index_charge = Arc::new(AtomicU64::new(0));
        let charge = index_charge.clone();
        let cache = Cache::builder()
            .eviction_listener(move |k: Key, _, cause| {
                if matches!(cause, cache_core::RemovalCause::Size | cache_core::RemovalCause::Expired) {
                    if cause == cache_core::RemovalCause::Size {
                        crate::metrics::latency::note_eviction();
                    }
                    if let Some(ix) = indexed.get() {
                        ix.removed(&k);
                    }
                    if let Some(t) = weak.upgrade() {
                        t.modified(k.key());
                        crate::notify::removed(&t, k.db(), k.key(), cause == cache_core::RemovalCause::Size);
                    }
                    if let Some(w) = watched.upgrade() {
                        w.touch(k.db(), k.key());
                    }
                }
            })
            .clock(clock)
            .max_capacity(capacity)
            .weigher(move |k: &Key, e: &Entry| weigh(k, e).saturating_add(charge.load(Relaxed) as u32))
            .evictable(move |_, e: &Entry| e.expire_at != 0 || !pinning.load(Relaxed))
            .eviction_policy(policy)
            .access_stamps(access_mode(cfg))
            .access_epoch_ms(clock.base_ms)
            .record_stats()
            .build();
        Self {
            cache,
            databases: cfg.databases,
            used: AtomicU64::new(0),
            watches,
            maxmemory: AtomicU64::new(cfg.maxmemory),
            noeviction: AtomicBool::new(cfg.maxmemory_policy == MaxMemoryPolicy::NoEviction),
            capacity: Arc::new(AtomicU64::new(core_capacity(
                cfg.maxmemory,
                cfg.maxmemory_policy == MaxMemoryPolicy::NoEviction,
            ))),
            volatile,
            cas: AtomicU64::new(0),
            clock,
            stats: DbStats::default(),
            tracking,
            slot_index,
            index_charge,
            latency: Arc::default(),
        }
    }

    /// Gives the background cycle the server's latency monitor.
    pub fn attach_latency(&self, monitor: Monitor) {
        let _ = self.latency.set(monitor);
    }

    /// The switch CLIENT PAUSE flips ([`crate::pause::Pause::with_keyspace`]): `Some(ms)` pauses
    /// the core's expiry and eviction for `ms`; `None` resumes them and runs a catch-up cycle.
    pub fn pause_switch(&self) -> crate::pause::Switch {
        let (cache, latency, clock) = (self.cache.clone(), self.latency.clone(), self.clock);
        Box::new(move |left| match left {
            Some(ms) => cache.pause_maintenance(Duration::from_millis(ms)),
            None => {
                cache.resume_maintenance();
                spawn_cycle(&cache, &latency, clock);
            }
        })
    }

    /// DEBUG SET-ACTIVE-EXPIRE: switches active expiry (the core's timer wheel and the background
    /// cycle) off or on — a key then expires only when a command meets it; switching it on runs
    /// a catch-up cycle.
    pub fn set_active_expiry(&self, on: bool) {
        self.cache.set_active_expiry(on);
        if on {
            spawn_cycle(&self.cache, &self.latency, self.clock);
        }
    }

    /// Turns the per-slot key index on (a server with `cluster-enabled yes` calls it once, before
    /// it loads keys; keys already present are indexed too). Each key is then charged
    /// [`crate::cluster::index::INDEX_ENTRY_OVERHEAD`] more bytes towards `maxmemory`.
    pub fn enable_slot_index(&self) {
        if self.slot_index.set(SlotIndex::default()).is_ok() {
            self.index_charge.store(crate::cluster::index::INDEX_ENTRY_OVERHEAD, Relaxed);
            let ix = self.slot_index();
            for (k, _) in self.cache.iter() {
                ix.expect("just set").added(k);
            }
        }
    }

    /// The per-slot key index, when the cluster is enabled.
    #[inline]
    pub fn slot_index(&self) -> Option<&SlotIndex> {
        self.slot_index.get()
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.databases
    }

    /// Reads a key, counting a keyspace hit or miss; expired entries are removed and look absent.
    pub fn get(&self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        match self.lookup(db, key, now) {
            Lookup::Live(e) => Some(e),
            Lookup::Expired | Lookup::Missing => None,
        }
    }

    /// [`Db::get`], telling an expired key (removed now) from a missing one (Memcached's
    /// `get_expired`).
    pub fn lookup(&self, db: u32, key: &[u8], now: u64) -> Lookup {
        let r = self.peek_lookup(db, key, now);
        self.count_lookup(db, key, matches!(r, Lookup::Live(_)));
        r
    }

    /// Reads a key without touching hit/miss counters.
    pub fn peek(&self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        match self.peek_lookup(db, key, now) {
            Lookup::Live(e) => Some(e),
            Lookup::Expired | Lookup::Missing => None,
        }
    }

    fn peek_lookup(&self, db: u32, key: &[u8], now: u64) -> Lookup {
        let Some(e) = with_encoded(db, key, |k| self.cache.get(k)) else { return Lookup::Missing };
        if e.live(now) {
            return Lookup::Live(e);
        }
        self.update(db, key, now, |_| ());
        Lookup::Expired
    }

    /// [`Db::peek`] without touching the key's access stamp (Redis's `LOOKUP_NOTOUCH`: OBJECT,
    /// DEBUG OBJECT, TYPE, EXISTS, TTL); an expired key is removed and looks absent.
    pub fn peek_untouched(&self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        let found = with_encoded(db, key, |k| self.cache.peek(k).ok_or_else(|| self.cache.holds_expired(k)));
        match found {
            Ok(e) if e.live(now) => return Some(e),
            // Missing: nothing to reclaim.
            Err(false) => return None,
            // Expired by our clock or by the core's: reclaimed now, as Redis's lookup does.
            Ok(_) | Err(true) => {}
        }
        self.update(db, key, now, |_| ());
        None
    }

    /// [`Db::get`] without touching the key's access stamp: counts the hit or miss.
    pub fn get_untouched(&self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        let r = self.peek_untouched(db, key, now);
        self.count_lookup(db, key, r.is_some());
        r
    }

    /// Counts a keyspace hit or miss (a miss also notifies `keymiss`).
    pub fn count_lookup(&self, db: u32, key: &[u8], hit: bool) {
        if hit { &self.stats.hits } else { &self.stats.misses }.fetch_add(1, Relaxed);
        if !hit {
            crate::notify::emit(&self.tracking, db, crate::notify::Class::KeyMiss, "keymiss", key);
        }
    }

    /// The key's 24-bit access stamp (Redis's `lru` field, see `commands/object.rs`), after the
    /// reads buffered so far; `None` when absent.
    pub fn access_stamp(&self, db: u32, key: &[u8]) -> Option<u32> {
        with_encoded(db, key, |k| self.cache.access_stamp(k))
    }

    /// Overwrites the key's access stamp (RESTORE, RDB load).
    pub fn set_access_stamp(&self, db: u32, key: &[u8], stamp: u32) -> bool {
        with_encoded(db, key, |k| self.cache.set_access_stamp(k, stamp))
    }

    /// The access stamps' clock now, unix ms.
    pub fn access_time_ms(&self) -> u64 {
        self.cache.access_time_ms()
    }

    /// Follows `maxmemory-policy`, `lfu-log-factor` and `lfu-decay-time` (stamps keep their bits).
    pub fn configure_access(&self, cfg: &Config) {
        let mode = access_mode(cfg);
        if self.cache.access_mode() != mode {
            self.cache.set_access_mode(mode);
        }
    }

    /// Applies the reads buffered so far to the policy and the access stamps, after publishing
    /// the time stamps use (BGSAVE, before it copies the stamps; the maintenance cycle does the
    /// same every 100 ms).
    pub fn apply_pending_reads(&self) {
        self.cache.tick_access_clock();
        self.cache.apply_pending_reads();
    }

    /// [`Db::snapshot`] with each key's access stamp.
    pub fn snapshot_with_access(&self, each: impl FnMut(Vec<(Key, Entry, u32)>)) {
        self.cache.snapshot_with_access(each);
    }

    /// Atomic read-modify-write of one key under the core's shard lock.
    #[inline]
    pub fn update<R>(&self, db: u32, key: &[u8], now: u64, f: impl FnOnce(&mut Current<'_, '_>) -> R) -> R {
        self.used.fetch_or(db_bit(db), Relaxed);
        let (r, modified) = self.cache.compute(Key::new(db, key), |slot| self.on_slot(slot, db, key, now, f));
        if modified {
            self.tracking.modified(key);
        }
        r
    }

    /// The body of every keyed write, single-key or in a [`Scope`]: runs `f` on the live entry,
    /// removes an entry found expired, and — still under the shard lock, so that an EXEC that
    /// holds the shard next sees it — marks the clients watching the key.
    #[inline]
    fn on_slot<R>(
        &self,
        slot: &mut Slot<'_, Key, Entry>,
        db: u32,
        key: &[u8],
        now: u64,
        f: impl FnOnce(&mut Current<'_, '_>) -> R,
    ) -> (R, bool) {
        let expired = slot.value().is_some_and(|e| !e.live(now));
        // Under CLIENT PAUSE an expired key is hidden, not deleted, counted or announced.
        let kept = expired && self.cache.maintenance_paused();
        let present = slot.value().is_some();
        let creates =
            crate::notify::before_write(&self.tracking, db, key, expired && !kept, slot.value().is_none() || kept);
        let mut cur = Current { slot, now, expired, cas: &self.cas, modified: false, refused: false };
        let r = f(&mut cur);
        if creates && cur.get().is_some() {
            crate::notify::emit(&self.tracking, db, crate::notify::Class::New, "new", key);
        }
        if cur.expired && !kept {
            cur.slot.remove();
            self.stats.expired_lazy.fetch_add(1, Relaxed);
            cur.modified = true;
        }
        if let Some(ix) = self.slot_index.get()
            && present != cur.slot.value().is_some()
        {
            if present { ix.removed(&Key::new(db, key)) } else { ix.added(Key::new(db, key)) }
        }
        if cur.modified {
            self.stats.changes.fetch_add(1, Relaxed);
            self.watches.touch(db, key);
            if crate::blocking::anyone_parked() {
                crate::blocking::note_write(db, key, cur.get().map(|e| &e.value));
            }
        }
        (r, cur.modified)
    }

    /// Reclaims every expired entry now (the tracking expiry cycle calls it off the hot path),
    /// timed for the latency monitor (`expire-cycle`, and `eviction-cycle` when it evicts).
    pub fn reclaim_expired_fn(&self) -> impl Fn() + Send + 'static {
        let (cache, latency, clock) = (self.cache.clone(), self.latency.clone(), self.clock);
        move || maintenance_cycle(&cache, &latency, clock)
    }

    /// Stores a value unconditionally.
    pub fn set(&self, db: u32, key: &[u8], e: Entry, now: u64) {
        self.update(db, key, now, |c| c.put(e));
    }

    /// Deletes a key; true if a live one existed.
    pub fn remove(&self, db: u32, key: &[u8], now: u64) -> bool {
        self.update(db, key, now, |c| c.delete())
    }

    /// Holds the keys `(db, key)` for one atomic operation: their shards, locked in the core's
    /// fixed order (see [`Scope`]).
    pub fn lock<'k>(&self, keys: impl IntoIterator<Item = (u32, &'k [u8])>) -> Scope<'_> {
        let keys: Vec<Key> = keys
            .into_iter()
            .map(|(db, k)| {
                self.used.fetch_or(db_bit(db), Relaxed);
                Key::new(db, k)
            })
            .collect();
        let locked = self.cache.lock(keys.iter().map(std::borrow::Borrow::<[u8]>::borrow));
        Scope { db: self, locked }
    }

    /// Holds the whole keyspace, for an operation that cannot name its keys.
    pub fn lock_all(&self) -> Scope<'_> {
        let locked = self.cache.lock_all();
        Scope { db: self, locked }
    }

    /// The clients' WATCHed keys.
    pub fn watches_arc(&self) -> Arc<Watches> {
        self.watches.clone()
    }

    /// Keys in every database (O(1)).
    pub fn len(&self) -> u64 {
        self.cache.len()
    }

    /// True when no database holds a key.
    pub fn is_empty(&self) -> bool {
        self.cache.len() == 0
    }

    /// `(keys, keys with a TTL, sum of their remaining ms)` per database (INFO keyspace's
    /// `avg_ttl` is the sum over the count).
    ///
    /// When one database holds every key (the common case), the counts are the core's published
    /// sizes, O(shards) as Redis's are O(1): every stored key, expired ones not reclaimed yet
    /// included, as Redis counts its dictionaries, and the TTL sum comes from one pass over the
    /// core's timer tables (`Cache::mean_time_to_deadline`), which touches no key or value.
    /// Several databases take one pass over the keyspace, live keys only.
    pub fn keyspace_counts(&self, now: u64) -> Vec<(u64, u64, u64)> {
        let mut v = vec![(0u64, 0u64, 0u64); self.databases];
        let used = self.used.load(Relaxed);
        if used.count_ones() == 1 && used != db_bit(63) {
            let (keys, expires) = (self.cache.len(), self.cache.deadline_len());
            let mean = if expires == 0 { None } else { self.cache.mean_time_to_deadline() };
            let ttl_sum = mean.map_or(0, |m| (m.as_millis() as u64).saturating_mul(expires));
            if let Some(slot) = v.get_mut(used.trailing_zeros() as usize) {
                *slot = (keys, expires, ttl_sum);
            }
            return v;
        }
        for (k, e) in self.cache.iter().filter(|(_, e)| e.live(now)) {
            if let Some(slot) = v.get_mut(k.db() as usize) {
                slot.0 += 1;
                slot.1 += u64::from(e.expire_at != 0);
                slot.2 += if e.expire_at != 0 { e.expire_at.saturating_sub(now) } else { 0 };
            }
        }
        v
    }

    /// Keys in database `db` (expired ones included until reclaimed, as Redis's DBSIZE).
    pub fn dbsize(&self, db: u32) -> u64 {
        if self.used.load(Relaxed) & !db_bit(db) == 0 && db < 63 {
            return self.cache.len();
        }
        self.cache.iter().filter(|(k, _)| k.db() == db).count() as u64
    }

    /// Empties one database, or all of them, then has the allocator return the freed pages to the
    /// OS at once (jemalloc's decay would take ~10 s; see [`crate::alloc::purge`]).
    pub fn flush(&self, db: Option<u32>) {
        // Before the cache, so that a key written meanwhile is not lost from the index.
        if let Some(ix) = self.slot_index.get() {
            ix.clear(db);
        }
        self.watches.touch_flushed(db, |d, k| self.peek(d, k, self.clock.now_ms()).is_some());
        match db {
            Some(d) if self.used.load(Relaxed) & !db_bit(d) != 0 || d >= 63 => self.cache.retain(|k, _| k.db() != d),
            _ => self.cache.invalidate_all(),
        }
        self.tracking.flush();
        self.stats.changes.fetch_add(1, Relaxed);
        crate::alloc::purge();
    }

    /// A point-in-time copy of every entry, one shard at a time (see
    /// [`cache_core::Cache::snapshot`]): what BGSAVE writes. Values are shared (`Arc`), so the copy
    /// costs a key and an entry header per key.
    pub fn snapshot(&self, each: impl FnMut(Vec<(Key, Entry)>)) {
        self.cache.snapshot(each);
    }

    /// Makes the next CAS unique handed out greater than `cas` (after loading items that carry
    /// theirs).
    pub fn note_cas(&self, cas: u64) {
        self.cas.fetch_max(cas, Relaxed);
    }

    /// One SCAN step over database `db`: the next cursor and the live keys found.
    pub fn scan(&self, db: u32, cursor: u64, count: usize, now: u64) -> (u64, Vec<(Bytes, Entry)>) {
        let (next, items) = self.cache.scan(cursor, count);
        let items = items
            .into_iter()
            .filter(|(k, e)| k.db() == db && e.live(now))
            .map(|(k, e)| (Bytes::copy_from_slice(k.key()), e))
            .collect();
        (next, items)
    }

    /// Every live key of database `db` (weakly consistent).
    pub fn entries(&self, db: u32, now: u64) -> impl Iterator<Item = (Bytes, Entry)> + '_ {
        self.cache
            .iter()
            .filter(move |(k, e)| k.db() == db && e.live(now))
            .map(|(k, e)| (Bytes::copy_from_slice(k.key()), e))
    }

    /// Weighted bytes in use (keys + values + overhead).
    pub fn used_memory(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// Memory budget (0 = unlimited).
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Relaxed)
    }

    /// True when a write adding `extra` bytes would pass the budget with nothing left to evict:
    /// under noeviction, past the used memory; under `volatile-*`, past the memory of keys
    /// without a TTL (which are never evicted). Redis checks before a denyoom command the same
    /// way, so a multi-key write is refused whole; the core's own refusal (per shard, by the
    /// entry's exact weight) backs this up for the writes this estimate lets through.
    pub fn would_oom(&self, extra: u64) -> bool {
        let max = self.maxmemory();
        if max == 0 {
            return false;
        }
        if self.noeviction.load(Relaxed) {
            self.used_memory() + extra + ENTRY_OVERHEAD > max
        } else if self.volatile.load(Relaxed) {
            self.cache.pinned_weight() + extra + ENTRY_OVERHEAD > max
        } else {
            false
        }
    }

    /// Bytes held by keys that may not be evicted (keys without a TTL under `volatile-*`).
    pub fn pinned_memory(&self) -> u64 {
        self.cache.pinned_weight()
    }

    /// Installs a budget and policy (`apply_config`) without touching any shard: the flags take
    /// effect at once, and the returned [`Sweep`] does the work that takes every shard's lock in
    /// turn — re-pinning when `volatile-*` changed (keys without a TTL stop or start being
    /// eviction candidates), evicting down to a smaller budget (none under noeviction: writes
    /// then fail with `-OOM` until keys go). A caller that holds shards (CONFIG SET inside EXEC)
    /// must run it only after releasing them.
    pub fn set_budget(&self, volatile: bool, maxmemory: u64, noeviction: bool) -> Sweep {
        let repin = self.volatile.swap(volatile, Relaxed) != volatile;
        self.maxmemory.store(maxmemory, Relaxed);
        self.noeviction.store(noeviction, Relaxed);
        self.capacity.store(core_capacity(maxmemory, noeviction), Relaxed);
        Sweep { repin, cache: self.cache.clone(), capacity: self.capacity.clone() }
    }

    /// Keys evicted for size and reclaimed expired entries, from the core's stats.
    pub fn evictions(&self) -> (u64, u64) {
        let s = self.cache.stats();
        (s.evicted.count, s.expired.count + self.stats.expired_lazy.load(Relaxed))
    }

    /// The live entry of a key with a CAS unique (assigned if a RESP write cleared it), for
    /// Memcached replies that show one.
    pub fn peek_with_cas(&self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        let e = self.peek(db, key, now)?;
        if e.cas() != 0 {
            return Some(e);
        }
        self.update(db, key, now, |cur| cur.get_with_cas())
    }

    /// Bytes MEMORY USAGE reports for one entry.
    pub fn memory_usage(key: &[u8], e: &Entry) -> u64 {
        key.len() as u64 + e.value.weight() + ENTRY_OVERHEAD + heap_overhead(key.len(), &e.value)
    }
}

/// The keys of one atomic operation (MSET, RENAME, EXEC, a script), held: their shards are
/// locked in the core's fixed order ([`cache_core::Locked`]), so nothing else reads or writes
/// them until the scope ends, and operations on other shards run on in parallel. Every keyspace
/// access of the operation goes through the scope (a [`crate::commands::Ctx`] routes it here).
///
/// A key outside the held shards is taken if its shard is free ([`Scope::try_extend`]); an
/// operation that needs a busy one must be rerun over a [`Db::lock_all`] scope by its caller —
/// waiting here could deadlock.
pub struct Scope<'d> {
    db: &'d Db,
    locked: Locked<'d, Key, Entry, ahash::RandomState>,
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").field("locked", &self.locked).finish()
    }
}

impl Scope<'_> {
    /// Whether key `key` of database `db` is held.
    pub fn holds(&self, db: u32, key: &[u8]) -> bool {
        with_encoded(db, key, |k| self.locked.holds(k))
    }

    /// Whether the whole keyspace is held.
    pub fn holds_all(&self) -> bool {
        self.locked.holds_all()
    }

    /// Takes the shard of `key` too if it is free, without waiting; true if it is held now.
    pub fn try_extend(&mut self, db: u32, key: &[u8]) -> bool {
        self.db.used.fetch_or(db_bit(db), Relaxed);
        with_encoded(db, key, |k| self.locked.try_extend(k))
    }

    /// Takes every free shard, without waiting; true if the whole keyspace is held now.
    pub fn try_extend_all(&mut self) -> bool {
        self.locked.try_extend_all()
    }

    fn ensure(&mut self, db: u32, key: &[u8]) {
        assert!(
            self.try_extend(db, key),
            "a key outside its atomic operation's declared keys, in a busy shard: the operation's key set is incomplete"
        );
    }

    /// [`Db::update`] on a held key.
    pub fn update<R>(&mut self, db: u32, key: &[u8], now: u64, f: impl FnOnce(&mut Current<'_, '_>) -> R) -> R {
        self.ensure(db, key);
        let d = self.db;
        let (r, modified) =
            self.locked.compute(Key::new(db, key), |slot| d.on_slot(slot, db, key, now, f)).expect("held");
        if modified {
            d.tracking.modified(key);
        }
        r
    }

    /// [`Db::get`] on a held key.
    pub fn get(&mut self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        let r = self.peek(db, key, now);
        if r.is_some() { &self.db.stats.hits } else { &self.db.stats.misses }.fetch_add(1, Relaxed);
        if r.is_none() {
            crate::notify::emit(&self.db.tracking, db, crate::notify::Class::KeyMiss, "keymiss", key);
        }
        r
    }

    /// [`Db::peek_untouched`] on a held key.
    pub fn peek_untouched(&mut self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        self.ensure(db, key);
        let e = with_encoded(db, key, |k| self.locked.peek(k)).expect("held")?;
        if e.live(now) {
            return Some(e);
        }
        self.update(db, key, now, |_| ());
        None
    }

    /// [`Db::access_stamp`] on a held key.
    pub fn access_stamp(&mut self, db: u32, key: &[u8]) -> Option<u32> {
        self.ensure(db, key);
        with_encoded(db, key, |k| self.locked.access_stamp(k)).expect("held")
    }

    /// [`Db::set_access_stamp`] on a held key.
    pub fn set_access_stamp(&mut self, db: u32, key: &[u8], stamp: u32) -> bool {
        self.ensure(db, key);
        with_encoded(db, key, |k| self.locked.set_access_stamp(k, stamp)).expect("held")
    }

    /// [`Db::peek`] on a held key.
    pub fn peek(&mut self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        self.ensure(db, key);
        let e = with_encoded(db, key, |k| self.locked.get(k)).expect("held")?;
        if e.live(now) {
            return Some(e);
        }
        self.update(db, key, now, |_| ());
        None
    }

    /// Keys in database `db` (the whole keyspace must be held).
    pub fn dbsize(&self, db: u32) -> u64 {
        if self.db.used.load(Relaxed) & !db_bit(db) == 0 && db < 63 {
            return self.locked.len();
        }
        self.locked.entries().iter().filter(|(k, _)| k.db() == db).count() as u64
    }

    /// [`Db::flush`] under the scope (the whole keyspace must be held).
    pub fn flush(&mut self, db: Option<u32>) {
        let now = self.db.clock.now_ms();
        let locked = &self.locked;
        self.db.watches.touch_flushed(db, |d, k| {
            with_encoded(d, k, |k| locked.peek(k)).ok().flatten().is_some_and(|e| e.live(now))
        });
        if let Some(ix) = self.db.slot_index.get() {
            ix.clear(db);
        }
        match db {
            Some(d) => self.locked.retain(|k, _| k.db() != d),
            None => self.locked.clear(),
        }
        self.db.stats.changes.fetch_add(1, Relaxed);
        self.db.tracking.flush();
    }

    /// [`Db::scan`] under the scope (the whole keyspace must be held).
    pub fn scan(&self, db: u32, cursor: u64, count: usize, now: u64) -> (u64, Vec<(Bytes, Entry)>) {
        let (next, items) = self.locked.scan(cursor, count).expect("the whole keyspace is held");
        (next, live_of(db, now, items))
    }

    /// Every live key of database `db` (the whole keyspace must be held).
    pub fn entries(&self, db: u32, now: u64) -> Vec<(Bytes, Entry)> {
        live_of(db, now, self.locked.entries())
    }

    /// [`Db::keyspace_counts`] over the held shards (the whole keyspace when all are held).
    pub fn keyspace_counts(&self, now: u64, databases: usize) -> Vec<(u64, u64, u64)> {
        let mut v = vec![(0u64, 0u64, 0u64); databases];
        for (k, e) in self.locked.entries().iter().filter(|(_, e)| e.live(now)) {
            if let Some(slot) = v.get_mut(k.db() as usize) {
                slot.0 += 1;
                slot.1 += u64::from(e.expire_at != 0);
                slot.2 += if e.expire_at != 0 { e.expire_at.saturating_sub(now) } else { 0 };
            }
        }
        v
    }

    /// Keys evicted for size and reclaimed expired entries ([`Db::evictions`]).
    pub fn evictions(&self) -> (u64, u64) {
        let s = self.locked.stats();
        (s.evicted.count, s.expired.count + self.db.stats.expired_lazy.load(Relaxed))
    }
}

/// A [`Scope`] as the command layer holds it (behind `dyn`, so a context can lend it to each
/// command of a transaction in turn): the scope's operations, without generics.
pub trait Held: std::fmt::Debug {
    /// [`Scope::update`] with the result left in the closure's captures.
    fn update_dyn(&mut self, db: u32, key: &[u8], now: u64, f: &mut dyn FnMut(&mut Current<'_, '_>));
    /// [`Scope::get`].
    fn get(&mut self, db: u32, key: &[u8], now: u64) -> Option<Entry>;
    /// [`Scope::peek`].
    fn peek(&mut self, db: u32, key: &[u8], now: u64) -> Option<Entry>;
    /// [`Scope::peek_untouched`].
    fn peek_untouched(&mut self, db: u32, key: &[u8], now: u64) -> Option<Entry>;
    /// [`Scope::access_stamp`].
    fn access_stamp(&mut self, db: u32, key: &[u8]) -> Option<u32>;
    /// [`Scope::set_access_stamp`].
    fn set_access_stamp(&mut self, db: u32, key: &[u8], stamp: u32) -> bool;
    /// [`Scope::holds_all`].
    fn holds_all(&self) -> bool;
    /// [`Scope::try_extend`].
    fn try_extend(&mut self, db: u32, key: &[u8]) -> bool;
    /// [`Scope::try_extend_all`].
    fn try_extend_all(&mut self) -> bool;
    /// [`Scope::dbsize`].
    fn dbsize(&self, db: u32) -> u64;
    /// [`Scope::flush`].
    fn flush(&mut self, db: Option<u32>);
    /// [`Scope::scan`].
    fn scan(&self, db: u32, cursor: u64, count: usize, now: u64) -> (u64, Vec<(Bytes, Entry)>);
    /// [`Scope::entries`].
    fn entries(&self, db: u32, now: u64) -> Vec<(Bytes, Entry)>;
    /// [`Scope::evictions`].
    fn evictions(&self) -> (u64, u64);
    /// [`Scope::keyspace_counts`].
    fn keyspace_counts(&self, now: u64, databases: usize) -> Vec<(u64, u64, u64)>;
}

impl Held for Scope<'_> {
    fn update_dyn(&mut self, db: u32, key: &[u8], now: u64, f: &mut dyn FnMut(&mut Current<'_, '_>)) {
        self.update(db, key, now, f);
    }
    fn get(&mut self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        Scope::get(self, db, key, now)
    }
    fn peek(&mut self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        Scope::peek(self, db, key, now)
    }
    fn peek_untouched(&mut self, db: u32, key: &[u8], now: u64) -> Option<Entry> {
        Scope::peek_untouched(self, db, key, now)
    }
    fn access_stamp(&mut self, db: u32, key: &[u8]) -> Option<u32> {
        Scope::access_stamp(self, db, key)
    }
    fn set_access_stamp(&mut self, db: u32, key: &[u8], stamp: u32) -> bool {
        Scope::set_access_stamp(self, db, key, stamp)
    }
    fn holds_all(&self) -> bool {
        Scope::holds_all(self)
    }
    fn try_extend(&mut self, db: u32, key: &[u8]) -> bool {
        Scope::try_extend(self, db, key)
    }
    fn try_extend_all(&mut self) -> bool {
        Scope::try_extend_all(self)
    }
    fn dbsize(&self, db: u32) -> u64 {
        Scope::dbsize(self, db)
    }
    fn flush(&mut self, db: Option<u32>) {
        Scope::flush(self, db);
    }
    fn scan(&self, db: u32, cursor: u64, count: usize, now: u64) -> (u64, Vec<(Bytes, Entry)>) {
        Scope::scan(self, db, cursor, count, now)
    }
    fn entries(&self, db: u32, now: u64) -> Vec<(Bytes, Entry)> {
        Scope::entries(self, db, now)
    }
    fn evictions(&self) -> (u64, u64) {
        Scope::evictions(self)
    }
    fn keyspace_counts(&self, now: u64, databases: usize) -> Vec<(u64, u64, u64)> {
        Scope::keyspace_counts(self, now, databases)
    }
}

fn live_of(db: u32, now: u64, items: Vec<(Key, Entry)>) -> Vec<(Bytes, Entry)> {
    items
        .into_iter()
        .filter(|(k, e)| k.db() == db && e.live(now))
        .map(|(k, e)| (Bytes::copy_from_slice(k.key()), e))
        .collect()
}

/// A client's mark that one of its WATCHed keys was touched (EXEC then answers nil).
pub type Dirty = Arc<AtomicBool>;

/// WATCHed keys: key → the flags of the clients watching it. Every write marks them under the
/// key's shard lock ([`Db::update`]); evictions and expirations as the core reports them; flushes
/// for the keys they remove. Nobody watching costs one atomic load per write.
#[derive(Debug, Default)]
pub struct Watches {
    watched: std::sync::atomic::AtomicUsize,
    map: parking_lot::Mutex<HashMap<Key, Vec<Dirty>, ahash::RandomState>>,
}

impl Watches {
    /// `dirty` watches key `key` of database `db`.
    pub fn watch(&self, db: u32, key: &[u8], dirty: &Dirty) {
        let mut map = self.map.lock();
        let list = map.entry(Key::new(db, key)).or_default();
        if !list.iter().any(|d| Arc::ptr_eq(d, dirty)) {
            list.push(dirty.clone());
            self.watched.fetch_add(1, Relaxed);
        }
    }

    /// `dirty` stops watching key `key` of database `db`.
    pub fn unwatch(&self, db: u32, key: &[u8], dirty: &Dirty) {
        let mut map = self.map.lock();
        let k = Key::new(db, key);
        if let Some(list) = map.get_mut(&k) {
            let before = list.len();
            list.retain(|d| !Arc::ptr_eq(d, dirty));
            self.watched.fetch_sub(before - list.len(), Relaxed);
            if list.is_empty() {
                map.remove(&k);
            }
        }
    }

    /// Marks the watchers of key `key` of database `db` (one load when nobody watches).
    #[inline]
    pub fn touch(&self, db: u32, key: &[u8]) {
        if self.watched.load(Relaxed) != 0 {
            self.touch_watched(db, key);
        }
    }

    #[cold]
    fn touch_watched(&self, db: u32, key: &[u8]) {
        let map = self.map.lock();
        if let Some(list) = with_encoded(db, key, |k| map.get(k)) {
            list.iter().for_each(|d| d.store(true, Relaxed));
        }
    }

    /// Marks the watchers of the keys a flush of `db` (`None`: all) removes: those `exists`.
    fn touch_flushed(&self, db: Option<u32>, exists: impl Fn(u32, &[u8]) -> bool) {
        if self.watched.load(Relaxed) == 0 {
            return;
        }
        let map = self.map.lock();
        for (k, list) in map.iter() {
            if db.is_none_or(|d| d == k.db()) && exists(k.db(), k.key()) {
                list.iter().for_each(|d| d.store(true, Relaxed));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expiry_follows_the_paused_clock_and_expiretime_round_trips() {
        let db = Db::new(&Config::default());
        let now = db.clock.now_ms();
        let key = Bytes::from_static(b"k");
        db.set(0, &key, Entry::expiring(Value::str(b"v"), now + 100), now);
        assert_eq!(db.peek(0, &key, db.clock.now_ms()).unwrap().expire_at, now + 100);
        tokio::time::advance(Duration::from_millis(99)).await;
        assert!(db.peek(0, &key, db.clock.now_ms()).is_some());
        tokio::time::advance(Duration::from_millis(2)).await;
        assert!(db.peek(0, &key, db.clock.now_ms()).is_none());
    }

    /// A hash written in place keeps its allocation (no copy per field) unless a reader holds it,
    /// and the entry's weight follows the change.
    #[test]
    fn modify_changes_a_hash_in_place_and_reweighs_it() {
        let db = Db::new(&Config::default());
        let mut h = HashValue::default();
        for i in 0..1000 {
            h.insert(format!("f{i}").as_bytes(), Bytes::from_static(b"v"));
        }
        db.set(0, b"h", Entry::new(Value::Hash(std::sync::Arc::new(h))), 1);
        let ptr = |db: &Db| match db.peek(0, b"h", 1).unwrap().value {
            Value::Hash(h) => std::sync::Arc::as_ptr(&h),
            _ => unreachable!(),
        };
        let hset = |db: &Db, f: &str| {
            db.update(0, b"h", 1, |cur| {
                cur.modify(|e| match &mut e.value {
                    Value::Hash(h) => std::sync::Arc::make_mut(h).insert(f.as_bytes(), Bytes::from_static(b"w")),
                    _ => unreachable!(),
                })
            })
        };
        let (before, used) = (ptr(&db), db.used_memory());
        assert_eq!(hset(&db, "new"), Some(true));
        assert_eq!(ptr(&db), before, "an unshared hash is changed in place");
        assert_eq!(db.used_memory(), used + 3 + 1 + FIELD_OVERHEAD);
        let reader = db.peek(0, b"h", 1).unwrap();
        assert_eq!(hset(&db, "another"), Some(true));
        assert_ne!(ptr(&db), before, "a shared hash is copied first");
        match reader.value {
            Value::Hash(h) => assert_eq!(h.len(), 1001, "the reader's snapshot is untouched"),
            _ => unreachable!(),
        }
        assert_eq!(db.update(0, b"nokey", 1, |cur| cur.modify(|_| ())), None);
    }

    #[test]
    fn shrinking_maxmemory_evicts_down_to_the_new_budget() {
        let db = Db::new(&Config { maxmemory: 4 << 20, ..Config::default() });
        for i in 0..5_000u32 {
            db.set(0, format!("key:{i}").as_bytes(), Entry::new(Value::str(&[b'x'; 100])), 1);
        }
        assert_eq!(db.dbsize(0), 5_000);
        db.set_budget(false, 200_000, false).run();
        assert!(db.used_memory() <= 200_000, "{}", db.used_memory());
        assert!(db.dbsize(0) < 5_000 / 4 && db.evictions().0 > 3_000);
        // Under noeviction a smaller budget evicts nothing; writes past it fail instead.
        let kept = db.dbsize(0);
        db.set_budget(false, 100_000, true).run();
        assert!(db.dbsize(0) == kept && db.would_oom(100));
        db.set_budget(false, 0, true).run();
        assert!(!db.would_oom(1 << 30));
    }

    #[test]
    fn maxmemory_is_a_hard_bound_with_eviction() {
        let cfg = Config { maxmemory: 100_000, ..Config::default() };
        let db = Db::new(&cfg);
        for i in 0..10_000u32 {
            db.set(0, format!("key:{i}").as_bytes(), Entry::new(Value::str(&[b'x'; 100])), 1);
            assert!(db.used_memory() <= 100_000);
        }
        assert!(db.evictions().0 > 9000);
        assert!(db.dbsize(0) > 300);
    }

    fn volatile_db(policy: MaxMemoryPolicy) -> Db {
        Db::new(&Config { maxmemory: 200_000, maxmemory_policy: policy, ..Config::default() })
    }

    fn key(i: u32) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    /// Writes `key(i)`; false if the write was refused.
    fn put(db: &Db, i: u32, expire_at: u64) -> bool {
        take_refused();
        db.update(0, &key(i), 1, |c| c.put(Entry::expiring(Value::str(&[b'x'; 100]), expire_at)));
        !take_refused()
    }

    #[test]
    fn volatile_policies_evict_only_ttl_keys_and_refuse_when_none_is_left() {
        let far = u64::MAX / 2;
        for policy in [
            MaxMemoryPolicy::VolatileLru,
            MaxMemoryPolicy::VolatileLfu,
            MaxMemoryPolicy::VolatileRandom,
            MaxMemoryPolicy::VolatileTtl,
        ] {
            let db = volatile_db(policy);
            for i in 0..500 {
                assert!(put(&db, i, 0), "{policy}: room for persistent key {i}");
            }
            for i in 1_000..5_000 {
                put(&db, i, far + u64::from(i));
                assert!(db.used_memory() <= 200_000);
            }
            assert!(db.evictions().0 > 2_000, "{policy}: TTL keys were evicted");
            assert!((0..500).all(|i| db.peek(0, &key(i), 1).is_some()), "{policy}: a key without TTL was evicted");
            // Keys without TTL until none fits (the budget is split over shards, so refusals
            // begin in the fullest shard: go on until 200 in a row): refused writes store nothing.
            let (mut stored, mut in_a_row) = (Vec::new(), 0);
            for i in 10_000..14_000 {
                if put(&db, i, 0) {
                    stored.push(i);
                    in_a_row = 0;
                } else {
                    assert!(db.peek(0, &key(i), 1).is_none());
                    in_a_row += 1;
                    if in_a_row == 200 {
                        break;
                    }
                }
            }
            assert_eq!(in_a_row, 200, "{policy}: writes were never refused");
            assert!(!put(&db, 20_000, far), "{policy}: a TTL key has no room either");
            // The pre-check sees the budget nearly full of pinned keys (up to the slack of one
            // entry per shard; shards are at least 1,024 B here, so within a quarter).
            assert!(db.would_oom(200_000 / 4), "{policy}: pinned {} of 200,000", db.pinned_memory());
            assert!(!volatile_db(policy).would_oom(200_000 / 4));
            assert!(db.used_memory() <= 200_000);
            assert!((0..500).chain(stored).all(|k| db.peek(0, &key(k), 1).is_some()), "{policy}: lost a key");
        }
    }

    #[test]
    fn persist_and_expire_move_keys_in_and_out_of_the_candidates() {
        let far = u64::MAX / 2;
        let db = volatile_db(MaxMemoryPolicy::VolatileLru);
        assert!(put(&db, 1, far));
        let pinned = db.pinned_memory();
        // PERSIST: the key stops being a candidate.
        db.update(0, &key(1), 1, |c| {
            let mut e = c.get().unwrap().clone();
            e.expire_at = 0;
            c.put(e);
        });
        assert!(db.pinned_memory() > pinned);
        // EXPIRE: it becomes one again; SET without EX over a TTL key pins it.
        db.update(0, &key(1), 1, |c| {
            let mut e = c.get().unwrap().clone();
            e.expire_at = far;
            c.put(e);
        });
        assert_eq!(db.pinned_memory(), pinned);
        assert!(put(&db, 1, 0));
        assert!(db.pinned_memory() > pinned);
        // Switching to allkeys-lru unpins every key at once, and back pins them again.
        db.set_budget(false, 200_000, false).run();
        assert_eq!(db.pinned_memory(), 0);
        db.set_budget(true, 200_000, false).run();
        assert!(db.pinned_memory() > pinned);
    }
}
