//! cache-bench: the measurements that hold cache-core to the bars in `shared/DESIGN.md`, side by
//! side with moka 0.12 and quick_cache 0.7 in one run.
//!
//! The library holds what the binaries, the criterion benches and the smoke test share: trace
//! readers ([`trace`], [`zipf`]), reference policies ([`sim`]: exact LRU, Belady OPT with bypass),
//! the caches under test behind one trait ([`adapters`]), the hit-ratio replay ([`replay`]) and its
//! output ([`report`], [`chart`]), the README's trace × capacity rows ([`mod@reference`]) and a counting
//! allocator ([`alloc`]). Binaries: `hitratio`, `memory`, `throughput`. Nothing here is used by the
//! product crates; the peers are dependencies of this crate only.

pub mod adapters;
pub mod alloc;
pub mod chart;
pub mod load;
pub mod reference;
pub mod replay;
pub mod report;
pub mod sim;
pub mod trace;
pub mod workload;
pub mod zipf;
