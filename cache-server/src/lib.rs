//! `cache-server`: a multi-threaded Redis 7 compatible server (RESP2 and RESP3) over `cache-core`.
//!
//! The crate reads top to bottom like the request path:
//!
//! ```text
//!   listener.rs (bind, tcp-backlog) → server.rs ── accept, maxclients, protected mode, shutdown
//!        │ one tokio task per client
//!   connection.rs ── read buffer ─► frame.rs (RESP / inline parser, limits)
//!        │                              │ Vec<Bytes> per command
//!        │                       commands/mod.rs (table: arity, flags, stats, auth, OOM, MULTI queue)
//!        │                              │ handler per family: strings, keys, hashes, lists, sets, zsets,
//!        │                              │ sort, object, connection, server, transactions (MULTI/EXEC/WATCH),
//!        │                              │ scripting (EVAL, FUNCTION → scripting/); layouts in types/
//!        │                              │ blocking.rs: parked BLPOP & co., served when a write ends
//!        │                         db.rs (keyspaces over ONE cache_core::Cache) ── the only cache-core user
//!        └── reply.rs encodes every reply of a batch into one buffer → one write
//!              (output.rs: unread replies + queued pushes against client-output-buffer-limit)
//! ```
//!
//! # Atomicity: one model for multi-key commands, transactions and scripts
//!
//! Redis runs every command, every EXEC and every script in isolation, on one thread. This server
//! runs them on many, over a sharded cache, with the same guarantee:
//!
//! - **A single-key command** runs under its key's shard lock (the core's `compute`, or a read
//!   under the shard's read lock): atomic by construction, and it pays nothing for what follows.
//! - **An operation on several keys** — MSET, MSETNX, RENAME, COPY, MOVE, MGET/DEL/EXISTS of
//!   several keys, EXEC, EVAL/EVALSHA/FCALL — names its keys before it runs and holds them through a
//!   [`db::Scope`]: the write locks of their shards, taken in ascending shard order through the
//!   core's [`cache_core::Locked`], held until the operation ends. Nothing else reads or writes
//!   those shards meanwhile; operations on other shards run in parallel on the other workers.
//!   Every keyspace access of the operation goes through the scope ([`commands::Ctx`] routes it).
//! - **Work that cannot name its keys** (KEYS, SCAN, DBSIZE, FLUSHDB, FLUSHALL, RANDOMKEY, INFO
//!   inside EXEC or a script; a script that touches undeclared keys whose shards are busy) holds
//!   every shard ([`db::Db::lock_all`]) — the global gate, taken in the same order.
//! - **No deadlock**: a thread that waits for a shard while holding another took both in
//!   ascending order; growing a held set later never waits (`try_extend`); single-key commands
//!   hold one shard and wait for nothing while holding it. Nothing awaits while holding a shard.
//!   The core's stress test runs transfers naming keys in random order and fails (instead of
//!   hanging) if this is broken; debug builds panic if a thread re-locks a shard it holds.
//! - **EXEC** holds the keys of every queued command (following SELECT, plus COPY/MOVE targets and
//!   the WATCHed keys), checks the watches under those locks, runs the queue, then lets go.
//!   **WATCH** is marked by every writer while it still holds the key's shard, so a write that
//!   finished before EXEC took its locks is always seen; evictions and expirations are caught by
//!   EXEC checking, under its locks, that each watched key that existed still does.
//! - **Scripts** hold the shards of their declared KEYS; an undeclared key is taken if its shard
//!   is free, so the run stays isolated (two-phase locking: each shard held from first touch to
//!   the end). If it is busy, the run is abandoned — its writes put back under its locks — and
//!   rerun over the whole keyspace, and the script is remembered as one that needs it (see
//!   [`commands::scripting`]).
//!
//! # Blocking commands
//!
//! BLPOP, BLMOVE, BZPOPMIN and the rest park their client without holding a lock or a thread:
//! writes note the list or sorted-set keys they fill while they still hold them, and the
//! outermost command (a push, an EXEC, a script) serves the clients parked on those keys, first
//! come first served, once its own locks are released. See [`blocking`].
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
//! | `allkeys-random` | core random eviction over every key |
//! | `volatile-lfu` | W-TinyLFU over the keys with a TTL; keys without one are pinned (never evicted) |
//! | `volatile-lru` | exact-per-shard LRU over the keys with a TTL; keys without one are pinned |
//! | `volatile-random` | random eviction over the keys with a TTL; keys without one are pinned |
//! | `volatile-ttl` | nearest expiry first over the keys with a TTL, sampled as Redis does (each victim is the soonest-expiring of 8 random TTL keys); keys without one are pinned |
//! | `noeviction` | nothing is evicted; a `denyoom` command (SET, APPEND, HSET, ...) whose arguments would push the weighted size past `maxmemory` fails with `-OOM command not allowed when used memory > 'maxmemory'.`; reads and deletes keep working |
//!
//! Under `volatile-*`, keys without a TTL count toward `maxmemory` but are never evicted (the
//! core's pinned entries). A key's standing follows its TTL at every write: `PERSIST` pins it,
//! `EXPIRE` unpins it, `SET` without `EX` over a TTL key pins it. When a write needs room and no
//! key with a TTL is left to evict, it fails with the same `-OOM` error and changes nothing —
//! checked before the command from the memory of pinned keys (as Redis checks before running a
//! `denyoom` command), and by the core for the exact entry. The budget is split evenly over the
//! core's shards, so the first `-OOM` can come while other shards still have a little room (at
//! most about one entry each). INFO `evicted_keys` counts evictions under every policy.
//!
//! # Limits (config names in brackets)
//!
//! bulk length 512 MB (`proto-max-bulk-len`), inline request 64 KB (`inline-max-size`), query buffer
//! 1 GB (`client-query-buffer-limit`); before AUTH when `requirepass` is set: 10 arguments
//! (`unauth-max-multibulk-len`) and 16 KB bulks (`unauth-max-bulk-len`). A claimed bulk length is
//! never allocated before its bytes arrive. HTTP-looking requests (`POST`, `Host:`) close the connection.
//!
//! Unread output is bounded by `client-output-buffer-limit` ([`output`]); commands that visit more
//! than [`commands::LONG_WORK`] elements run off the async workers ([`commands::offload`]), so a
//! long one delays its caller only; glob patterns match in O(pattern × string) time with constant
//! stack ([`glob`]). The README's "Security and limits" section has the whole list and its tests.
//!
//! # Known gaps
//!
//! - `CONFIG SET maxmemory-policy` switches at runtime between `noeviction` and the `allkeys-`
//!   and `volatile-` policies of the eviction algorithm the server started with (LFU — also under
//!   `noeviction` —, LRU, random; `volatile-ttl` alone for nearest-expiry); another algorithm
//!   needs a restart (the core is built with one). Switching between `allkeys-X` and `volatile-X`
//!   re-pins every key at once (O(keys), one shard lock at a time).
//!   `CONFIG SET maxmemory` works under every policy: a smaller budget evicts down to it at once
//!   (noeviction: nothing is evicted, writes fail with `-OOM` until keys go), as in Redis; under
//!   `volatile-*` keys without a TTL are kept even past a smaller budget, and writes fail with
//!   `-OOM` until they go.
//! - A multi-key write (MSET) that the pre-check lets through can be stopped by the core's
//!   refusal half-way (volatile-* only): it replies `-OOM` with the keys before the refused one
//!   written (Redis refuses such a command whole, before running it).
//! - A command waiting for a shard held by a long transaction or script waits on its worker
//!   thread, stalling that worker's other connections until the holder ends (scripts past
//!   `busy-reply-threshold` hand their worker's other connections to a fresh thread, and other
//!   clients then get `-BUSY`).
//! - SWAPDB moves every key of the two databases (they share one keyspace): O(keys), where Redis
//!   swaps two pointers.
//! - INCRBYFLOAT / HINCRBYFLOAT compute in `f64` and print 15 significant digits; Redis uses
//!   `long double` and can differ in the last digits of long fractions.
//! - A normal client that never reads its replies is back-pressured (its task stops reading once
//!   about 256 KB wait), so a normal `client-output-buffer-limit` only closes it for one reply
//!   larger than the limit; Redis keeps reading and closes it at the limit (see [`output`]).
//! - Per-entry overhead is 60 B (measured, 16 B keys and 32 B values) against Redis's ~100 B and
//!   Memcached's ~75–82 B, just inside the 0.8x bar; about 36 B of it is the core's (slot links
//!   and padding, weight, index, sketch): see [`db::ENTRY_OVERHEAD`] and [`entry`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alloc;
pub mod auth;
pub mod blocking;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod connection;
pub mod db;
pub mod entry;
pub mod frame;
pub mod glob;
pub mod listener;
pub mod memcache;
pub mod metrics;
pub mod monitor;
pub mod notify;
pub mod output;
pub mod pause;
pub mod persistence;
pub mod pubsub;
pub mod reply;
pub mod scripting;
pub mod server;
pub mod shutdown;
pub mod sockopt;
pub mod tracking;
pub mod types;

pub use config::{Config, ConfigError, MaxMemoryPolicy};
pub use server::{ServerError, run, run_on, run_with};

/// The Redis version this server reports (`INFO`, `HELLO`): the Redis 7 release it is tested against.
pub const REDIS_VERSION: &str = "7.0.15";
