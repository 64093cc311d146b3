//! The network load generator behind the `loadgen` binary (what memtier_benchmark gives a Redis or
//! Memcached user) and the `compare` binary that runs it against our server, Redis and Memcached.
//!
//! - [`config`]: the settings (command line and JSON echo);
//! - [`keys`]: key names, values, uniform / Zipf / sequential key choice;
//! - [`proto`], [`resp`], [`memcache`]: request encoders and incremental reply decoders;
//! - [`conn`]: one connection's closed (or paced) loop and the per-thread tally;
//! - [`cluster`]: `--cluster`: the CLUSTER SLOTS map and a connection routing each key to its
//!   slot's node;
//! - [`mod@run`]: phases (prefill, warm-up, measured window), threads, the hard time cap;
//! - [`report`]: the JSON report and its text table;
//! - [`procfs`]: a local server's CPU time and RSS from `/proc`;
//! - [`servers`], [`summary`], [`chart`]: the side-by-side comparison's peers, medians and ratios,
//!   and its SVG.
//!
//! It only ever connects to the address it is given (with `--cluster`, also to the nodes that
//! address's CLUSTER SLOTS names).

pub mod chart;
pub mod cluster;
pub mod config;
pub mod conn;
pub mod keys;
pub mod memcache;
pub mod procfs;
pub mod proto;
pub mod report;
pub mod resp;
pub mod run;
pub mod servers;
pub mod summary;

pub use config::LoadConfig;
pub use report::LoadReport;
pub use run::{LoadError, run};
