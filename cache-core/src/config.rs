//! The settings a built cache runs with, shared read-only by all shards.

use crate::clock::Clock;
use crate::expiry::Expiry;
use crate::listener::Listener;
use std::fmt;
use std::sync::Arc;

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
