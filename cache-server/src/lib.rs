//! `cache-server`: a multi-threaded Redis 7 compatible server (RESP2 and RESP3) over `cache-core`.
//!
//! The crate reads top to bottom like the request path:
//!
//! ```text
//!   listener (server.rs) ── accept, maxclients, protected mode, shutdown
//!        │ one tokio task per client
//!   connection.rs ── read buffer ─► frame.rs (RESP / inline parser, limits)
//!        │                              │ Vec<Bytes> per command
//!        │                       commands/mod.rs (table: arity, flags, stats, auth, OOM)
//!        │                              │ handler per family: strings, keys, hashes, connection, server
//!        │                         db.rs (keyspaces over ONE cache_core::Cache) ── the only cache-core user
//!        └── reply.rs encodes every reply of a batch into one buffer → one write
//! ```
//!
//! # Memory and eviction policies
//!
//! All databases share one [`cache_core::Cache`] keyed by `(db, key)`, so `maxmemory` is one global
//! budget as in Redis. Each entry weighs `key + value + ENTRY_OVERHEAD` bytes (see [`db`]); the core
//! keeps the weighted size at or under the capacity after every call. Policies map as follows:
//!
//! | `maxmemory-policy` | behaviour |
//! |---|---|
//! | `allkeys-lfu` (default) | core W-TinyLFU over every key |
//! | `allkeys-lru` | core exact-per-shard LRU over every key |
//! | `volatile-lfu` | **approximation**: same as `allkeys-lfu` — the core cannot restrict eviction to keys with a TTL, so keys without a TTL may be evicted too |
//! | `volatile-lru`, `volatile-ttl` | **approximation**: same as `allkeys-lru` (for `volatile-ttl`, LRU order stands in for "soonest expiry first") |
//! | `noeviction` | nothing is evicted; a `denyoom` command (SET, APPEND, HSET, ...) whose arguments would push the weighted size past `maxmemory` fails with `-OOM command not allowed when used memory > 'maxmemory'.`; reads and deletes keep working |
//!
//! # Limits (config names in brackets)
//!
//! bulk length 512 MB (`proto-max-bulk-len`), inline request 64 KB (`inline-max-size`), query buffer
//! 1 GB (`client-query-buffer-limit`); before AUTH when `requirepass` is set: 10 arguments
//! (`unauth-max-multibulk-len`) and 16 KB bulks (`unauth-max-bulk-len`). A claimed bulk length is
//! never allocated before its bytes arrive. HTTP-looking requests (`POST`, `Host:`) close the connection.
//!
//! # Known gaps
//!
//! - `volatile-*` policies are approximations (table above).
//! - Switching between LRU and LFU at runtime is refused (the core is built with one policy).
//!   `CONFIG SET maxmemory` works under every policy: a smaller budget evicts down to it at once
//!   (noeviction: nothing is evicted, writes fail with `-OOM` until keys go), as in Redis.
//! - INCRBYFLOAT / HINCRBYFLOAT compute in `f64` and print 15 significant digits; Redis uses
//!   `long double` and can differ in the last digits of long fractions.
//! - A client that never reads its replies stalls only its own task (its socket buffer fills and the
//!   task stops reading); there is no `client-output-buffer-limit` disconnect.
//! - Per-entry overhead is 60 B (measured, 16 B keys and 32 B values) against Redis's ~100 B and
//!   Memcached's ~75–82 B, just inside the 0.8x bar; about 36 B of it is the core's (slot links
//!   and padding, weight, index, sketch): see [`db::ENTRY_OVERHEAD`] and [`entry`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alloc;
pub mod commands;
pub mod config;
pub mod connection;
pub mod db;
pub mod entry;
pub mod frame;
pub mod glob;
pub mod memcache;
pub mod metrics;
pub mod pubsub;
pub mod reply;
pub mod server;
pub mod shutdown;
pub mod sockopt;
pub mod tracking;

pub use config::{Config, ConfigError, MaxMemoryPolicy};
pub use server::{ServerError, run, run_with};

/// The Redis version this server reports (`INFO`, `HELLO`): the Redis 7 release it is tested against.
pub const REDIS_VERSION: &str = "7.0.15";
