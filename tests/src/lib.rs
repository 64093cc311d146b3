//! End-to-end test support for the cache: real clients and real peer servers against our server.
//!
//! The tests live in `tests/tests/*.rs`; this library is their harness:
//! - [`cluster`]: the launcher of every cluster test: N node processes (redis-server, ours, or
//!   any binary taking the redis.conf cluster flags), created with `redis-cli --cluster create`
//!   or left alone for the test to join, with slot surgery helpers (migrations, reshard,
//!   kill/restart, one more node);
//! - [`port`]: free loopback ports and the bounded wait for a server to listen;
//! - [`peer`]: finding `redis-server` / `redis-cli` / `memcached` ([`peer::require_peer`] skips with a
//!   reason locally and panics under `CI=true`);
//! - [`redis_server`]: a real `redis-server` child, killed on drop;
//! - [`ours`]: our server in-process (`cache_server::run` on its own runtime) or as a binary;
//! - [`subject`]: the server under test, ours by default, or redis-server with
//!   `CACHE_TESTS_SUBJECT=redis` to validate the harness itself;
//! - [`resp`]: an independent raw RESP2/RESP3 client that keeps the exact reply bytes;
//! - [`generator`] and [`diff`]: the seeded command generator and the differential comparison
//!   ([`diff::Suite`] → [`diff::Plan::start`] → [`diff::Ready::check`], the shape of every
//!   `*_differential` file); [`draw`]: the random draws the generators share;
//! - [`script_gen`]: the seeded generator of Lua scripts (EVAL/EVALSHA/EVAL_RO) for
//!   `scripting_differential`;
//! - [`tx_stream`]: two-connection streams (MULTI/EXEC/WATCH and a second client's writes), their
//!   generator and their differential runner;
//! - [`memcached`]: the same for the Memcached protocol against a real `memcached`;
//! - [`transcript`]: running the other languages' client scripts of `tests/clients/` and comparing
//!   their transcripts line by line.
//!
//! The test files: `differential` (random sequences vs redis-server, RESP2, RESP3, pipelined),
//! `edge_cases` and `server_commands` (fixed tables vs redis-server), `redis_crate` (redis-rs sync
//! and async, RESP2 and RESP3), `redis_cli` (redis-cli incl. `--pipe` and `-3`), `bad_input`
//! (hostile input), `memory` (RSS under a write flood, `-OOM`), `concurrency` (atomicity across
//! connections), `transactions_differential` (MULTI/EXEC/WATCH over two connections vs
//! redis-server), `atomicity` (MSETNX races, MSET/RENAME never seen half done, WATCH retry loops,
//! WATCH touched by Memcached writes and evictions), `memcached_differential`, `memcached_protocol_differential` (ASCII auth vs
//! `memcached -Y`, binary protocol, stats shapes) and `hostile_memcached` (unread huge multi-get,
//! requirepass on the Memcached port, binary no-hang), `scripting_differential` (EVAL/EVALSHA/SCRIPT/
//! FUNCTION/FCALL vs redis-server: a table of cases and generated Lua scripts, RESP2 and RESP3) and
//! `scripting_atomicity` (scripts moving amounts while readers sum, declared and undeclared keys;
//! BUSY, SCRIPT KILL, FUNCTION KILL, UNKILLABLE, SHUTDOWN NOSAVE compared with redis-server), and
//! `startup` (arguments reach our process whole; "ready" is logged once the snapshot is loaded).
//!
//! CI needs the Debian packages `redis-server`, `redis-tools` and `memcached`, then runs
//! `cargo test -p cache-tests`. Tests that need our server as a process use the real `cache-server`
//! binary when `cargo build -p cache-server` has built it fresh, else this crate's
//! `cache-tests-server` (the same library behind a minimal `main`). Knobs: `CACHE_TESTS_SEED`
//! (differential seed, or `random`), `CACHE_TESTS_SUBJECT=redis` (validate the harness against
//! redis-server), `CACHE_TESTS_TRACE=1` (print every differential command and reply),
//! `CACHE_SERVER_BIN` (the server executable to spawn).

pub mod cluster;
pub mod diff;
pub mod draw;
pub mod gen_bits;
pub mod gen_dump;
pub mod gen_dump_old;
pub mod gen_geo;
pub mod gen_list;
pub mod gen_set;
pub mod gen_stream;
pub mod gen_stream_groups;
pub mod gen_zset;
pub mod generator;
pub mod memcached;
pub mod ours;
pub mod parallel;
pub mod peer;
pub mod port;
pub mod redis_server;
pub mod resp;
pub mod scenes;
pub mod scratch;
pub mod script_gen;
pub mod subject;
pub mod transcript;
pub mod tx_stream;

pub use ours::ServerOpts;
pub use subject::Subject;
