//! Cache statistics: counted per shard under the shard lock (no shared counter on any path),
//! summed on demand by [`Cache::stats`](crate::Cache::stats).

use crate::listener::RemovalCause;
use std::time::Duration;

/// How many entries left for one cause, and their total weight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemovalStats {
    /// Entries removed.
    pub count: u64,
    /// Sum of their weights.
    pub weight: u64,
}

/// A snapshot of a cache's counters. All zero unless the builder called `record_stats()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads that found a live entry.
    pub hits: u64,
    /// Reads that found nothing (or an expired entry).
    pub misses: u64,
    /// Writes that created an entry.
    pub inserts: u64,
    /// Writes that replaced the value of an entry.
    pub updates: u64,
    /// Entries evicted for size (including rejected, oversized ones).
    pub evicted: RemovalStats,
    /// Entries that expired.
    pub expired: RemovalStats,
    /// Entries removed by the caller.
    pub invalidated: RemovalStats,
    /// Values overwritten.
    pub replaced: RemovalStats,
    /// Writes refused because pinned entries left no room for them (see
    /// [`CacheBuilder::evictable`](crate::CacheBuilder::evictable)); nothing was stored or removed.
    pub refused: u64,
    /// Loader calls (`get_with`, `try_get_with`, refreshes) that produced a value.
    pub load_successes: u64,
    /// Loader calls that failed (error, or a refresh that returned nothing).
    pub load_failures: u64,
    /// Time spent in loaders.
    pub total_load_time: Duration,
}

impl CacheStats {
    /// Hits over reads, or 0 with no reads.
    #[must_use]
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 { 0.0 } else { self.hits as f64 / reads as f64 }
    }

    /// The removal counters for `cause`.
    #[must_use]
    pub fn removed(&self, cause: RemovalCause) -> RemovalStats {
        match cause {
            RemovalCause::Size => self.evicted,
            RemovalCause::Expired => self.expired,
            RemovalCause::Explicit => self.invalidated,
            RemovalCause::Replaced => self.replaced,
        }
    }

    pub(crate) fn add(&mut self, other: &Self) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.inserts += other.inserts;
        self.updates += other.updates;
        self.refused += other.refused;
        for (mine, theirs) in [
            (&mut self.evicted, other.evicted),
            (&mut self.expired, other.expired),
            (&mut self.invalidated, other.invalidated),
            (&mut self.replaced, other.replaced),
        ] {
            mine.count += theirs.count;
            mine.weight += theirs.weight;
        }
        self.load_successes += other.load_successes;
        self.load_failures += other.load_failures;
        self.total_load_time += other.total_load_time;
    }

    pub(crate) fn record_removal(&mut self, cause: RemovalCause, weight: u64) {
        let slot = match cause {
            RemovalCause::Size => &mut self.evicted,
            RemovalCause::Expired => &mut self.expired,
            RemovalCause::Explicit => &mut self.invalidated,
            RemovalCause::Replaced => &mut self.replaced,
        };
        slot.count += 1;
        slot.weight += weight;
    }
}
