//! An embeddable, sharded, concurrent in-process cache.
//!
//! - **Bounded** by entries, or by weight with a [`weigher`](CacheBuilder::weigher); the bound
//!   is hard: after any call returns, `weighted_size() <= capacity()` (a shrink during a
//!   [maintenance pause](Cache::pause_maintenance) evicts when the pause ends).
//! - **Eviction**: adaptive W-TinyLFU (default; see [`EvictionPolicy::TinyLfu`]), exact LRU per
//!   shard, random, or nearest expiry (sampled).
//! - **Pinned entries** ([`CacheBuilder::evictable`]): entries that count toward the capacity
//!   but are never evicted (Redis's `volatile-*`: only keys with a TTL go). A write that cannot
//!   fit beside them is refused, not stored over capacity ([`Cache::try_insert`], [`Refused`]).
//! - **Expiry**: `time_to_live`, `time_to_idle`, per-entry TTLs ([`Cache::insert_with_ttl`],
//!   [`Cache::set_ttl`], the [`Expiry`] hook). An expired entry is never returned; a timer wheel
//!   reclaims expired entries during ordinary operations, with no background thread.
//! - **Atomic read-modify-write**: [`Cache::compute`] runs a closure on one entry under its
//!   shard's lock (counters, append, set-if-absent, conditional TTL changes).
//! - **Loaders** that coalesce concurrent misses ([`Cache::get_with`], [`Cache::try_get_with`],
//!   and `*_async` with the `async` feature), and refresh-after-write
//!   ([`CacheBuilder::refresh_after`]).
//! - **Access stamps** ([`CacheBuilder::access_stamps`]): Redis's 24-bit per-key LRU clock or
//!   LFU counter, beside the node's queue tag (no memory), updated off the read fast path
//!   ([`access`]).
//! - **Eviction listener** with a [`RemovalCause`], called outside locks; **statistics**
//!   ([`CacheStats`]); a resumable [`scan`](Cache::scan) with Redis `SCAN` guarantees.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use cache_core::Cache;
//!
//! let cache: Cache<String, String> = Cache::builder()
//!     .max_capacity(10_000)
//!     .time_to_live(Duration::from_secs(300))
//!     .build();
//! cache.insert("user:1".into(), "Ada".into());
//! assert_eq!(cache.get("user:1").as_deref(), Some("Ada"));
//! let name = cache.get_with("user:2".into(), || "Grace".into());
//! assert_eq!(name, "Grace");
//! ```
//!
//! # Architecture
//!
//! ```text
//!  Cache (Arc) ── [RwLock<Shard>; N]      one lock per shard, chosen by hash bits 32..
//!                    Shard ── index: Vec<u32 word>         hash → slab index (+ hash bits)
//!                          ── slab: Vec<Slot<K, V>>        entries + policy links (atomic u32)
//!                          ── Mutex<Order>: policy          queues + frequency sketch, replayed
//!                                                           by readers under the read lock
//!                          ── timers: wheel + Vec<TimerNode> only once something expires
//! ```
//!
//! # Memory per entry
//!
//! For an unweighted cache without expiry, each entry costs `size_of::<K>() + size_of::<V>()`
//! plus 16 bytes of node (a 32-bit hash, two 32-bit links, and one word holding the queue tag and
//! the 24-bit access stamp; the node is padded to the alignment of `K` and `V`), 4 bytes per
//! slot of the index table (one word holding the slab index and hash bits, at most 87.5% full,
//! so 4.6 to 9.1 bytes an entry; see `index.rs`), and for W-TinyLFU 4 bytes of frequency sketch
//! (8 bytes in shards of at most 4,096 entries). For `u64 → u64`: a 32-byte node, 24.4 bytes in
//! all beyond the 16-byte payload with LRU and 28.4 with W-TinyLFU at 1M entries
//! (`cargo run --release -p cache-bench --bin memory`). A weigher adds 4 bytes an entry; expiry
//! or refresh adds a 40-byte timer node for every slot once any entry of the shard has a
//! deadline.

#![warn(missing_docs, missing_debug_implementations)]

pub mod access;
mod builder;
mod cache;
mod clock;
mod compute;
mod config;
mod expiry;
mod index;
mod iter;
mod list;
mod listener;
mod loader;
mod locked;
mod pinning;
mod policy;
mod prefetch;
mod shard;
mod slab;
mod stats;
mod sync;
mod timer;

pub use access::AccessMode;
pub use builder::CacheBuilder;
pub use cache::Cache;
pub use clock::{Clock, MockClock, SystemClock};
pub use compute::Slot;
pub use expiry::Expiry;
pub use iter::Iter;
pub use listener::RemovalCause;
pub use locked::{Locked, NotHeld};
pub use pinning::Refused;
pub use policy::EvictionPolicy;
pub use stats::{CacheStats, RemovalStats};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
