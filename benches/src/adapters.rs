//! The caches under test behind one small trait: ours (cache-core, both policies), moka 0.12 and
//! quick_cache 0.7, all `u64 → u64`, all hashing with `ahash::RandomState` so the hasher is not what
//! the comparison measures.
//!
//! Owns construction (capacity, shard count, hasher) and the thin get/insert/get_with shims; the
//! workloads that drive them live in the binaries and in [`crate::replay`].

use std::fmt;

use cache_core::{Cache, EvictionPolicy};
use quick_cache::UnitWeighter;
use quick_cache::sync::DefaultLifecycle;

/// The hasher every cache under test uses.
pub type Hasher = ahash::RandomState;

/// The seed of every [`hasher`] made after it is set (0: a random one each time).
static HASHER_SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Makes every later [`hasher`] the one seeded by `seed` (0: random again), so that a run that
/// depends on hash collisions (a hit-ratio replay) can be repeated exactly.
pub fn set_hasher_seed(seed: u64) {
    HASHER_SEED.store(seed, std::sync::atomic::Ordering::Relaxed);
}

/// A hasher for a cache under test: random, or the one [`set_hasher_seed`] chose.
#[must_use]
pub fn hasher() -> Hasher {
    match HASHER_SEED.load(std::sync::atomic::Ordering::Relaxed) {
        0 => Hasher::new(),
        seed => Hasher::with_seeds(seed, seed.rotate_left(16), seed.rotate_left(32), seed.rotate_left(48)),
    }
}

/// What the benchmarks need from a cache.
pub trait BenchCache: Send + Sync {
    /// Looks `key` up, updating the policy as a normal read does.
    fn get(&self, key: u64) -> Option<u64>;
    /// Inserts or replaces `key`.
    fn insert(&self, key: u64, value: u64);
    /// Returns the cached value or runs `load` once per missing key (concurrent callers wait).
    fn get_with(&self, key: u64, load: impl FnOnce() -> u64) -> u64
    where
        Self: Sized;
    /// Entries resident right now, as the cache reports them (moka's count may lag its pending
    /// maintenance until [`BenchCache::settle`]).
    fn resident(&self) -> u64;
    /// Applies deferred maintenance (moka's pending tasks); a no-op for the others.
    fn settle(&self) {}
}

/// Which cache, and for ours which policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// cache-core with `EvictionPolicy::TinyLfu` (the default).
    OursTinyLfu,
    /// cache-core with `EvictionPolicy::Lru`.
    OursLru,
    /// `moka::sync::Cache` 0.12 (default policy: TinyLFU).
    Moka,
    /// `quick_cache::sync::Cache` 0.7 (S3-FIFO-like CLOCK-Pro).
    QuickCache,
}

impl Kind {
    /// Every cache, ours first.
    pub const ALL: [Kind; 4] = [Kind::OursTinyLfu, Kind::OursLru, Kind::Moka, Kind::QuickCache];
    /// The peers ours is measured against.
    pub const PEERS: [Kind; 2] = [Kind::Moka, Kind::QuickCache];

    /// Column label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Kind::OursTinyLfu => "ours TinyLfu",
            Kind::OursLru => "ours Lru",
            Kind::Moka => "moka",
            Kind::QuickCache => "quick_cache",
        }
    }

    /// Whether this is one of our own caches.
    #[must_use]
    pub fn is_ours(self) -> bool {
        matches!(self, Kind::OursTinyLfu | Kind::OursLru)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Our cache; `shards: None` keeps the builder's default shard count.
#[must_use]
pub fn ours(capacity: u64, policy: EvictionPolicy, shards: Option<usize>) -> Cache<u64, u64> {
    let mut builder = Cache::builder().max_capacity(capacity).eviction_policy(policy);
    if let Some(n) = shards {
        builder = builder.shards(n);
    }
    builder.hasher(hasher()).build()
}

/// Shard count we give our cache in single-client replays: one shard per 4,096 entries of capacity,
/// rounded down to a power of two, at most 4 × the CPUs — so a small cache is one exact policy and a
/// large one is sharded as it would be in a service.
#[must_use]
pub fn replay_shards(capacity: u64) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let by_size = (capacity / 4096).max(1) as usize;
    let n = by_size.min(4 * cpus).max(1);
    1 << n.ilog2()
}

/// moka with the shared hasher and its default (TinyLFU) policy.
#[must_use]
pub fn moka(capacity: u64) -> moka::sync::Cache<u64, u64, Hasher> {
    moka::sync::Cache::builder().max_capacity(capacity).build_with_hasher(hasher())
}

/// quick_cache's concrete type with the shared hasher.
pub type Quick = quick_cache::sync::Cache<u64, u64, UnitWeighter, Hasher>;

/// quick_cache with the shared hasher and its default options (shards = 4 × CPUs, reduced for
/// small capacities by quick_cache itself).
#[must_use]
pub fn quick(capacity: u64) -> Quick {
    quick_cache::sync::Cache::with(capacity as usize, capacity, UnitWeighter, hasher(), DefaultLifecycle::default())
}

impl BenchCache for Cache<u64, u64> {
    fn get(&self, key: u64) -> Option<u64> {
        Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        Cache::insert(self, key, value);
    }
    fn get_with(&self, key: u64, load: impl FnOnce() -> u64) -> u64 {
        Cache::get_with(self, key, load)
    }
    fn resident(&self) -> u64 {
        self.len()
    }
}

impl BenchCache for moka::sync::Cache<u64, u64, Hasher> {
    fn get(&self, key: u64) -> Option<u64> {
        moka::sync::Cache::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        moka::sync::Cache::insert(self, key, value);
    }
    fn get_with(&self, key: u64, load: impl FnOnce() -> u64) -> u64 {
        moka::sync::Cache::get_with(self, key, load)
    }
    fn resident(&self) -> u64 {
        self.entry_count()
    }
    fn settle(&self) {
        self.run_pending_tasks();
    }
}

impl BenchCache for Quick {
    fn get(&self, key: u64) -> Option<u64> {
        Quick::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) {
        Quick::insert(self, key, value);
    }
    fn get_with(&self, key: u64, load: impl FnOnce() -> u64) -> u64 {
        match self.get_or_insert_with(&key, || Ok::<_, std::convert::Infallible>(load())) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }
    fn resident(&self) -> u64 {
        self.len() as u64
    }
}

/// Runs `$body` with `$c` bound to a freshly built cache of kind `$kind` and capacity `$cap`
/// (our cache with `$shards`), so generic workload code is monomorphised per cache.
#[macro_export]
macro_rules! with_cache {
    ($kind:expr, $cap:expr, $shards:expr, |$c:ident| $body:expr) => {{
        use $crate::adapters::{Kind, moka, ours, quick};
        match $kind {
            Kind::OursTinyLfu => {
                let $c = ours($cap, cache_core::EvictionPolicy::TinyLfu, $shards);
                $body
            }
            Kind::OursLru => {
                let $c = ours($cap, cache_core::EvictionPolicy::Lru, $shards);
                $body
            }
            Kind::Moka => {
                let $c = moka($cap);
                $body
            }
            Kind::QuickCache => {
                let $c = quick($cap);
                $body
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_shards_grow_with_capacity() {
        assert_eq!(replay_shards(128), 1);
        assert_eq!(replay_shards(8_191), 1);
        assert!(replay_shards(160_000) >= 2);
        assert!(replay_shards(160_000).is_power_of_two());
    }

    fn exercise<C: BenchCache>(c: &C) -> u64 {
        c.insert(1, 10);
        assert_eq!(c.get(1), Some(10));
        assert_eq!(c.get_with(2, || 20), 20);
        assert_eq!(c.get_with(2, || 99), 20);
        c.settle();
        c.resident()
    }

    #[test]
    fn every_cache_stores_and_loads() {
        for kind in Kind::ALL {
            let loaded = with_cache!(kind, 100, Some(1), |cache| exercise(&cache));
            assert_eq!(loaded, 2, "{kind}");
        }
    }
}
