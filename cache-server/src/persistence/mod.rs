//! Persistence: Redis's RDB format for single values (DUMP / RESTORE, [`rdb`]) and whole-keyspace
//! snapshots (SAVE, BGSAVE, save rules, SHUTDOWN, the load at start).
//!
//! ```text
//!   BGSAVE / save rule / SHUTDOWN / SIGTERM                      start: load.rs
//!        │ save.rs: one save at a time, INFO counters             │ dir/dbfilename, whole file read,
//!        ▼                                                        │ checksum, every record checked,
//!   Db::snapshot ── all shard read locks, then copy + release     │ refused (offset, key) or loaded
//!        │          one shard at a time (a point-in-time view;    ▼
//!        │          values are Arc-shared: ~72 B copied per key)  Db (put with TTL, flags, CAS)
//!        ▼ (BGSAVE: on its own thread from here on)
//!   file.rs ── header, aux, per db: SELECTDB, RESIZEDB, [EXPIRETIME_MS] type key body, EOF, CRC-64
//!        │    value bodies from rdb::encode_value (the DUMP encoder)
//!        ▼
//!   temp-<pid>-<n>.rdb ── fsync ── rename over dbfilename ── fsync of the directory
//! ```
//!
//! Memcached items keep their flags, CAS unique and meta bits in an aux field
//! ([`file::MC_AUX`]) written just before the key record it belongs to: Redis and
//! `redis-check-rdb` skip aux fields they do not know, so the file stays a plain Redis 7.0 RDB.

pub mod file;
pub mod load;
pub mod rdb;
pub mod save;

pub use load::{LoadError, Loaded};
pub use save::{SaveError, State};
