//! The settings a built cache runs with, shared read-only by all shards.

use crate::clock::Clock;
use crate::expiry::Expiry;
use crate::listener::Listener;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub(crate) type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u32 + Send + Sync>;
pub(crate) type Reloader<K, V> = Arc<dyn Fn(&K, &V) -> Option<V> + Send + Sync>;
/// Answers whether an entry may be evicted (see [`CacheBuilder::evictable`](crate::CacheBuilder::evictable)).
pub(crate) type Evictable<K, V> = Box<dyn Fn(&K, &V) -> bool + Send + Sync>;
pub(crate) type Spawner = Box<dyn Fn(Box<dyn FnOnce() + Send>) + Send + Sync>;

/// Refresh-after-write settings.
pub(crate) struct Refresh<K, V> {
    pub(crate) after: u64,
    pub(crate) reload: Reloader<K, V>,
    pub(crate) spawn: Spawner,
}

pub(crate) struct Config<K, V> {
    pub(crate) weigher: Option<Weigher<K, V>>,
    /// `None`: every entry is an eviction candidate (and no write is ever refused for room).
    pub(crate) evictable: Option<Evictable<K, V>>,
    pub(crate) ttl: Option<u64>,
    pub(crate) tti: Option<u64>,
    pub(crate) expiry: Option<Box<dyn Expiry<K, V>>>,
    pub(crate) listener: Option<Listener<K, V>>,
    pub(crate) refresh: Option<Refresh<K, V>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) record_stats: bool,
    /// Runtime switches of expiry and eviction ([`Cache::pause_maintenance`](crate::Cache::pause_maintenance)).
    pub(crate) switches: Switches,
}

/// What may make entries leave on their own, switched at run time without any lock: one word
/// holding "active expiry off" (the top bit) and the end of a maintenance pause (the low 63 bits,
/// in clock nanoseconds; 0: no pause). Read with one relaxed load, only where an entry would
/// leave: when the timer wheel is about to process a bucket, when a lookup meets an expired
/// entry, when a smaller capacity would evict.
#[derive(Debug, Default)]
pub(crate) struct Switches(AtomicU64);

/// The "active expiry off" bit of [`Switches`].
const PASSIVE: u64 = 1 << 63;

impl Switches {
    /// A maintenance pause is in force at `now`: nothing expires or is evicted on its own.
    pub(crate) fn paused(&self, now: u64) -> bool {
        now < self.0.load(Relaxed) & !PASSIVE
    }

    /// The timer wheel must stand still at `now`: active expiry is off, or maintenance is paused.
    pub(crate) fn wheel_stopped(&self, now: u64) -> bool {
        let s = self.0.load(Relaxed);
        s & PASSIVE != 0 || now < s & !PASSIVE
    }

    /// Whether active expiry is on.
    pub(crate) fn active(&self) -> bool {
        self.0.load(Relaxed) & PASSIVE == 0
    }

    /// Pauses maintenance until `until` (clock nanoseconds; 0 ends a pause).
    pub(crate) fn pause_until(&self, until: u64) {
        let until = until.min(!PASSIVE);
        let _ = self.0.fetch_update(Relaxed, Relaxed, |s| Some(s & PASSIVE | until));
    }

    /// Switches active expiry on or off.
    pub(crate) fn set_active(&self, on: bool) {
        if on {
            self.0.fetch_and(!PASSIVE, Relaxed);
        } else {
            self.0.fetch_or(PASSIVE, Relaxed);
        }
    }
}

impl<K, V> Config<K, V> {
    /// Whether writes must consult the clock even for entries without a deadline.
    pub(crate) fn uses_time(&self) -> bool {
        self.ttl.is_some() || self.tti.is_some() || self.expiry.is_some() || self.refresh.is_some()
    }

    pub(crate) fn weigh(&self, key: &K, value: &V) -> u32 {
        self.weigher.as_ref().map_or(1, |w| w(key, value))
    }

    /// Whether this entry is pinned: counted in the weight, never evicted.
    pub(crate) fn pins(&self, key: &K, value: &V) -> bool {
        self.evictable.as_ref().is_some_and(|e| !e(key, value))
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_nanos()
    }
}

impl<K, V> fmt::Debug for Config<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("weighted", &self.weigher.is_some())
            .field("pinning", &self.evictable.is_some())
            .field("ttl", &self.ttl)
            .field("tti", &self.tti)
            .field("expiry", &self.expiry.is_some())
            .field("listener", &self.listener.is_some())
            .field("refresh", &self.refresh.as_ref().map(|r| r.after))
            .field("record_stats", &self.record_stats)
            .finish()
    }
}
