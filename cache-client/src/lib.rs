//! An async client for the cache server (and for Redis): multiplexed, pipelined connections in
//! a small pool per node, keys spread over nodes by consistent hashing or (cluster mode) by the
//! hash slots of a Redis Cluster, retries and a circuit breaker per node, and an optional
//! near-cache (a cache-core [`Cache`](cache_core::Cache)) kept coherent by server-assisted
//! client-side caching.
//!
//! ```text
//!  Client ── near-cache (cache-core) ◄── invalidate pushes ── tracking conn (RESP3) ─┐
//!     │                                                         (one per node)       │
//!     ├─ ring mode:    ring (ketama, 160 points × weight, {hash tags}) → node i      │
//!     ├─ cluster mode: CRC16({hash tag}) mod 16384 → slot map → node i,              │
//!     │                following -MOVED / -ASK / -TRYAGAIN, map refreshed           │
//!     │      node i ── breaker ── pool [conn, conn] ── writer/reader tasks ── socket ─┤─ server i
//!     └─ get_or_load: in-process coalescing + cross-instance lease                   │
//! ```
//!
//! # Ring mode and cluster mode
//!
//! By default the nodes are independent servers and the client shards keys over them with a
//! consistent-hashing ring. With [`ClientBuilder::cluster`] the nodes are seeds of one Redis
//! Cluster (Redis's, or ours with `cluster-enabled yes`): the client reads the slot map with
//! `CLUSTER SLOTS` (or `CLUSTER SHARDS`) from any node, sends each key to the primary of its slot
//! ([`key_slot`]: CRC16 of the key's `{hash tag}`, mod 16384 — the pure function the server side
//! shares), updates the map and resends on `-MOVED`, resends once with `ASKING` on `-ASK` without
//! touching the map, retries `-TRYAGAIN` / `-CLUSTERDOWN` with bounded backoff, and refreshes the
//! map periodically and after errors (coalesced, rate-limited). `MGET` / `MSET` / `DEL` /
//! `EXISTS` are split per slot; a transaction or a script must keep its keys in one slot
//! ([`Error::CrossSlot`] otherwise). The near-cache has one tracking connection per node, so a
//! write through any client on any node invalidates it; a slot that changes owner, or a node
//! whose tracking connection is lost, drops its entries. Both modes share everything below the
//! routing: pools, breakers, retries, the near-cache. Replicas are not read from (`READONLY`)
//! yet.
//!
//! Files: `client` (builder, routing, retries, near-cache read path), `cluster` (the slot map's
//! refreshes and the redirect-following send loop), `topology` (slot map, `CLUSTER SLOTS` and
//! `-MOVED`/`-ASK` parsing; pure), `slot` (CRC16 and key slots; pure), `commands` (typed
//! commands), `load` (`get_or_load`), `transaction` (`WATCH`/`MULTI`/`EXEC` on an exclusive
//! connection, and the retry loop), `script` (`EVALSHA` with `EVAL` fallback), `node`, `pool`,
//! `connection`, `codec`, `value`, `ring`, `router`, `breaker`, `near_cache`, `config`, `error`,
//! `json` (feature `serde`).
//!
//! # Examples
//!
//! ```no_run
//! # async fn demo() -> cache_client::Result<()> {
//! use std::time::Duration;
//! use cache_client::{Client, NearCacheConfig};
//!
//! let client = Client::builder()
//!     .node("redis://127.0.0.1:6379")
//!     .near_cache(NearCacheConfig::entries(10_000, Duration::from_secs(30)))
//!     .build()?;
//! client.set("greeting", "hello").await?;
//! let v = client.get("greeting").await?; // remote; fills the near-cache
//! let v2 = client.get("greeting").await?; // local
//! assert_eq!(v, v2);
//! let page = client
//!     .get_or_load("page:/", Duration::from_secs(60), || async { Ok::<_, std::io::Error>("<html>".into()) })
//!     .await?;
//! # let _ = page; Ok(()) }
//! ```
//!
//! The near-cache needs RESP3 and `CLIENT TRACKING` on the servers; where the tracking
//! connection cannot be had, reads go to the server and nothing is cached locally.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod breaker;
mod client;
mod cluster;
mod codec;
mod commands;
mod config;
mod connection;
mod error;
#[cfg(feature = "serde")]
mod json;
mod load;
mod near_cache;
mod node;
mod pool;
mod ring;
mod router;
mod script;
pub mod slot;
mod topology;
mod transaction;
mod value;

pub use breaker::{Breaker, BreakerState, Permit};
pub use client::{Client, ClientBuilder};
pub use cluster::ClusterStats;
pub use codec::{Protocol, decode_reply, encode_command};
pub use commands::{GetExExpiry, SetCondition, SetExpiry, SetOptions};
pub use config::{ClusterConfig, Config, LeaseConfig, NearCacheConfig, NodeAddr};
pub use connection::{ConnectOptions, Connection, PendingReply, PushHandler};
pub use error::{Error, Result};
pub use near_cache::{NearCache, NearCacheStats};
pub use ring::{Ring, hash_tag};
pub use script::Script;
pub use slot::{SLOTS, crc16, key_slot};
pub use topology::{
    Endpoint, Redirect, RedirectKind, SlotMap, SlotRange, parse_cluster_shards, parse_cluster_slots, parse_redirect,
};
pub use transaction::{Committed, ExecOutcome, Transaction, TxFuture};
pub use value::Value;
