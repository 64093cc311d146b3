//! End-to-end test support for the cache: real clients and real peer servers against our server.
//!
//! The tests live in `tests/tests/*.rs`; this library is their harness:
//! - [`port`]: free loopback ports and the bounded wait for a server to listen;
//! - [`peer`]: finding `redis-server` / `redis-cli` / `memcached` ([`peer::require_peer`] skips with a
//!   reason locally and panics under `CI=true`);
//! - [`redis_server`]: a real `redis-server` child, killed on drop;
//! - [`ours`]: our server in-process (`cache_server::run` on its own runtime) or as a binary;
//! - [`subject`]: the server under test, ours by default, or redis-server with
//!   `CACHE_TESTS_SUBJECT=redis` to validate the harness itself;
//! - [`resp`]: an independent raw RESP2/RESP3 client that keeps the exact reply bytes;
//! - [`generator`] and [`diff`]: the seeded command generator and the differential comparison.
//!
//! CI needs the Debian packages `redis-server` and `redis-tools` (and `memcached` for the Memcached
//! tests) and runs `cargo build -p cache-server && cargo test -p cache-tests`.

pub mod diff;
pub mod generator;
pub mod memcached;
pub mod ours;
pub mod peer;
pub mod port;
pub mod redis_server;
pub mod resp;
pub mod subject;

pub use ours::ServerOpts;
pub use subject::Subject;
