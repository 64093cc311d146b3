//! [`CacheBuilder`]: every setting of a cache, with the defaults a service would pick.

use crate::access::{AccessMode, ShardAccess, SharedMode};
use crate::cache::{Cache, Inner, ShardCell, split_capacity};
use crate::clock::{Clock, SystemClock, nanos};
use crate::config::{Config, Evictable, Refresh, Spawner, Weigher};
use crate::expiry::Expiry;
use crate::listener::{Listener, RemovalCause};
use crate::policy::EvictionPolicy;
use crate::shard::Shard;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Smallest share of capacity a default-sized shard gets: fewer, larger shards keep the
/// policy's view of frequency and recency close to a single cache's.
const MIN_SHARD_CAPACITY: u64 = 1024;

/// Builds a [`Cache`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cache_core::{Cache, EvictionPolicy};
///
/// // At most 64 MiB of values, weighed by their length, expiring 10 minutes after a write.
/// let cache: Cache<String, Vec<u8>> = Cache::builder()
///     .max_capacity(64 << 20)
///     .weigher(|key: &String, value: &Vec<u8>| (key.len() + value.len()) as u32)
///     .eviction_policy(EvictionPolicy::TinyLfu)
///     .time_to_live(Duration::from_secs(600))
///     .record_stats()
///     .build();
/// cache.insert("k".to_string(), vec![0; 1024]);
/// assert_eq!(cache.weighted_size(), 1025);
/// ```
#[must_use]
pub struct CacheBuilder<K, V, S = ahash::RandomState> {
    max_capacity: Option<u64>,
    weigher: Option<Weigher<K, V>>,
    evictable: Option<Evictable<K, V>>,
    policy: EvictionPolicy,
    ttl: Option<Duration>,
    tti: Option<Duration>,
    expiry: Option<Box<dyn Expiry<K, V>>>,
    listener: Option<Listener<K, V>>,
    refresh: Option<(Duration, crate::config::Reloader<K, V>)>,
    spawner: Option<Spawner>,
    clock: Option<Arc<dyn Clock>>,
    record_stats: bool,
    shards: Option<usize>,
    access: AccessMode,
    access_epoch_ms: u64,
    hasher: S,
}

impl<K, V> Default for CacheBuilder<K, V> {
    fn default() -> Self {
        Self {
            max_capacity: None,
            weigher: None,
            evictable: None,
            policy: EvictionPolicy::default(),
            ttl: None,
            tti: None,
            expiry: None,
            listener: None,
            refresh: None,
            spawner: None,
            clock: None,
            record_stats: false,
            shards: None,
            access: AccessMode::Off,
            access_epoch_ms: 0,
            hasher: ahash::RandomState::new(),
        }
    }
}

impl<K, V, S> fmt::Debug for CacheBuilder<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("max_capacity", &self.max_capacity)
            .field("policy", &self.policy)
            .field("ttl", &self.ttl)
            .field("tti", &self.tti)
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

impl<K, V, S> CacheBuilder<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    /// The bound on the cache: a number of entries, or total weight with a [`weigher`](Self::weigher).
    /// Without it the cache is unbounded.
    pub fn max_capacity(mut self, capacity: u64) -> Self {
        self.max_capacity = Some(capacity);
        self
    }

    /// Weighs each entry (in bytes, say); the capacity then bounds the sum of weights. The
    /// weigher must return the same weight for the same entry every time it is asked.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// Pins the entries for which `evictable` answers false: they count toward the weighted size
    /// and the capacity like any entry, but the eviction policy never picks them; only the other
    /// entries (the *candidates*) are evicted to make room. This is Redis's `volatile-*`: with
    /// `|_, v| v.expires()`, only entries with a TTL are evicted.
    ///
    /// The answer is taken on every write of an entry (insert, replace, `compute` set) and kept
    /// with it; call [`Cache::reevaluate_evictable`] if something else it reads changes.
    ///
    /// A write that cannot fit even after evicting every other candidate of its shard — the
    /// pinned entries of the shard (other than the one written) plus the new weight would pass
    /// the shard's capacity — is **refused**: nothing is stored, evicted or replaced, the
    /// statistics count it in [`refused`](crate::CacheStats::refused), the listener does not see
    /// it, and [`Cache::try_insert`] / [`Slot::try_set`](crate::Slot::try_set) return it as
    /// [`Refused`](crate::Refused). The plain writes (`insert`, `Slot::set`) drop it.
    ///
    /// Cost: no memory per entry; one call of `evictable` per write; on reads, one compare while
    /// a shard holds no pinned entry and one more load once it does. Capacity stays a hard bound,
    /// with one exception: [`Cache::set_capacity`] below the pinned weight keeps the pinned
    /// entries (weighted size above capacity) and refuses every write that adds weight until
    /// they go.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{Cache, EvictionPolicy};
    ///
    /// // Values are (payload, keep): entries marked `keep` are never evicted.
    /// let cache: Cache<u32, (u32, bool)> = Cache::builder()
    ///     .max_capacity(3)
    ///     .shards(1)
    ///     .eviction_policy(EvictionPolicy::Lru)
    ///     .evictable(|_k, v: &(u32, bool)| !v.1)
    ///     .build();
    /// cache.insert(1, (10, true));
    /// cache.insert(2, (20, true));
    /// for k in 3..10 {
    ///     cache.insert(k, (k, false)); // evicts the previous candidate, never 1 or 2
    /// }
    /// assert!(cache.contains_key(&1) && cache.contains_key(&2) && cache.contains_key(&9));
    /// cache.insert(10, (100, true)); // pinned: evicts candidate 9
    /// assert!(cache.try_insert(11, (0, false)).is_err(), "three pinned entries fill it");
    /// assert_eq!(cache.len(), 3);
    /// ```
    pub fn evictable(mut self, evictable: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> Self {
        self.evictable = Some(Box::new(evictable));
        self
    }

    /// The eviction policy (default: [`EvictionPolicy::TinyLfu`]).
    pub fn eviction_policy(mut self, policy: EvictionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Entries written without an explicit TTL expire this long after the write.
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Entries expire this long after their last read or write.
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// A per-entry expiry hook (see [`Expiry`]).
    pub fn expiry(mut self, expiry: impl Expiry<K, V>) -> Self {
        self.expiry = Some(Box::new(expiry));
        self
    }

    /// Called with every entry that leaves the cache, and every replaced value, with the cause;
    /// always outside the cache's locks.
    pub fn eviction_listener(mut self, listener: impl Fn(K, V, RemovalCause) + Send + Sync + 'static) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// Refresh-after-write: a read of an entry written more than `after` ago returns the current
    /// value at once and starts one background `reload(key, old_value)`. `Some(v)` replaces
    /// the value (unless the entry was written meanwhile); `None` keeps the old one. Reloads
    /// run on a new thread unless [`refresh_executor`](Self::refresh_executor) says otherwise.
    pub fn refresh_after(
        mut self,
        after: Duration,
        reload: impl Fn(&K, &V) -> Option<V> + Send + Sync + 'static,
    ) -> Self {
        self.refresh = Some((after, Arc::new(reload)));
        self
    }

    /// Where background refreshes run (for example `|task| { tokio::task::spawn_blocking(task); }`).
    pub fn refresh_executor(mut self, spawn: impl Fn(Box<dyn FnOnce() + Send>) + Send + Sync + 'static) -> Self {
        self.spawner = Some(Box::new(spawn));
        self
    }

    /// The clock for expiry decisions (default: [`SystemClock`]); [`MockClock`](crate::MockClock) in tests.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Count hits, misses, writes, removals and loads (see [`CacheStats`](crate::CacheStats)).
    pub fn record_stats(mut self) -> Self {
        self.record_stats = true;
        self
    }

    /// The number of shards, rounded up to a power of two. Default: four per CPU, but no more
    /// than keeps each shard at 1,024 capacity units or more. The largest entry a cache can
    /// hold is its capacity divided by the shard count.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards.max(1));
        self
    }

    /// Keeps a 24-bit access stamp per entry (default [`AccessMode::Off`]): the last access time
    /// ([`AccessMode::Lru`]) or a decaying logarithmic access counter ([`AccessMode::Lfu`]), as
    /// Redis's `lru` field, whatever the eviction policy. Free in memory (the bits share a word
    /// with the node's queue tag); see [`crate::access`] for when stamps change and how stale
    /// they can be, and [`Cache::access_stamp`] to read one. Changeable later with
    /// [`Cache::set_access_mode`].
    pub fn access_stamps(mut self, mode: AccessMode) -> Self {
        self.access = mode;
        self
    }

    /// The stamp clock's reading at the [`clock`](Self::clock)'s zero, in milliseconds (default
    /// 0): give the unix time in ms at which the clock starts to make stamps unix-based, so that
    /// they hold the same bits as Redis's.
    pub fn access_epoch_ms(mut self, epoch_ms: u64) -> Self {
        self.access_epoch_ms = epoch_ms;
        self
    }

    /// Uses `hasher` instead of `ahash`. The shards' private randomness is drawn from it too, so
    /// a cache built with a fixed hasher (`ahash::RandomState::with_seeds`) makes the same
    /// choices in every run.
    pub fn hasher<S2: BuildHasher + Clone + Send + Sync + 'static>(self, hasher: S2) -> CacheBuilder<K, V, S2> {
        CacheBuilder {
            max_capacity: self.max_capacity,
            weigher: self.weigher,
            evictable: self.evictable,
            policy: self.policy,
            ttl: self.ttl,
            tti: self.tti,
            expiry: self.expiry,
            listener: self.listener,
            refresh: self.refresh,
            spawner: self.spawner,
            clock: self.clock,
            record_stats: self.record_stats,
            shards: self.shards,
            access: self.access,
            access_epoch_ms: self.access_epoch_ms,
            hasher,
        }
    }

    fn shard_count(&self, capacity: u64) -> usize {
        if let Some(n) = self.shards {
            return n.next_power_of_two();
        }
        let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
        let by_cpu = (cpus * 4).next_power_of_two() as u64;
        let by_capacity = (capacity / MIN_SHARD_CAPACITY).max(1);
        let by_capacity = 1u64 << (63 - by_capacity.leading_zeros());
        by_cpu.min(by_capacity) as usize
    }

    /// Builds the cache.
    pub fn build(self) -> Cache<K, V, S> {
        let capacity = self.max_capacity.unwrap_or(u64::MAX);
        let shards = self.shard_count(capacity);
        let weighted = self.weigher.is_some();
        // The shards' private randomness (admission's coin, the LFU counter's) comes from the
        // cache's hasher: random by default, and a cache built with a fixed hasher behaves the
        // same in every run (the hit-ratio benchmark compares builds that way).
        let seeds = &self.hasher;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock::new()));
        let access_mode = Arc::new(SharedMode::new(self.access));
        let shard_vec: Vec<_> = split_capacity(capacity, shards)
            .into_iter()
            .enumerate()
            .map(|(i, cap)| {
                let mut shard = Shard::new(cap, self.policy, weighted, seeds.hash_one(i));
                let seed = seeds.hash_one((i, "access"));
                *shard.access_mut() = ShardAccess::new(access_mode.clone(), clock.clone(), self.access_epoch_ms, seed);
                ShardCell::new(shard)
            })
            .collect();
        let refresh = self.refresh.map(|(after, reload)| Refresh {
            after: nanos(after),
            reload,
            spawn: self.spawner.unwrap_or_else(|| {
                Box::new(|task| {
                    std::thread::spawn(task);
                })
            }),
        });
        // Reads that must change the shard (TTI, the `Expiry` read hook, refresh) or keep an
        // exact order (LRU) stay on the write lock; see `cache.rs`.
        // The sampling policies do nothing on a read, so they need no write lock either.
        let buffered_reads =
            matches!(self.policy, EvictionPolicy::TinyLfu | EvictionPolicy::Random | EvictionPolicy::NearestExpiry)
                && self.tti.is_none()
                && self.expiry.is_none()
                && refresh.is_none();
        let cfg = Config {
            weigher: self.weigher,
            evictable: self.evictable,
            ttl: self.ttl.map(nanos),
            tti: self.tti.map(nanos),
            expiry: self.expiry,
            listener: self.listener,
            refresh,
            clock,
            record_stats: self.record_stats,
            switches: Default::default(),
        };
        Cache {
            inner: Arc::new(Inner {
                shards: shard_vec.into_boxed_slice(),
                buffered_reads,
                shard_mask: shards as u64 - 1,
                hasher: self.hasher,
                cfg,
                capacity: AtomicU64::new(capacity),
                access_mode,
                access_epoch_ms: self.access_epoch_ms,
            }),
        }
    }
}
