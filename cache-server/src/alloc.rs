//! The process's memory allocator as INFO and MEMORY see it: its name, its statistics and a purge.
//!
//! The allocator is chosen by the binary (`main.rs` installs jemalloc as `#[global_allocator]` when
//! the default `jemalloc` feature is on) and announced here with [`install`]; a library user or a
//! test that never calls it gets the system allocator's answers: `mem_allocator:libc`, zeros for the
//! `allocator_*` fields, and a `MEMORY PURGE` that does nothing (as Redis built with libc).
//!
//! Why jemalloc (figures in BENCHMARKS.md, "Allocator"): with glibc's per-thread arenas the RSS of a
//! multi-threaded server ratchets up as heavy clients come and go and stays up after FLUSHALL;
//! jemalloc's decay returns freed pages to the OS (background threads purge them off the request
//! path), at no throughput cost on `compare-servers.sh`.
//!
//! Decay: jemalloc keeps freed pages ("dirty") for `dirty_decay_ms` before returning them, 10 s by
//! default. The keyspace's tables grow by doubling (slab, index, timer and weight vectors per
//! shard), and every outgrown copy became dirty pages: right after loading 1M keys RSS was 150 MB
//! instead of 108 MB for 10 s (and with 1 s, still 135 MB half a second after a fast load, which
//! is when `compare-servers.sh` reads memory per key). [`install`] sets 200 ms
//! ([`DIRTY_DECAY_MS`]): RSS follows the data within half a second, and throughput and CPU per
//! operation stayed within noise of 1 s, 0 ms and glibc, 32 B and 4 KiB values (BENCHMARKS.md).
//!
//! Purging uses only safe `mallctl` writes: setting an arena's decay time to 0 makes jemalloc
//! purge its unused dirty pages at once; the old decay time is then restored.

use std::sync::OnceLock;

/// The allocators the binary can be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Allocator {
    /// The system allocator (glibc malloc).
    Libc,
    /// jemalloc through `tikv-jemallocator` (feature `jemalloc`).
    Jemalloc,
    /// mimalloc (feature `mimalloc`; for comparisons).
    Mimalloc,
}

static INSTALLED: OnceLock<Allocator> = OnceLock::new();

/// jemalloc's dirty-page decay time set by [`install`] (its default is 10,000 ms).
pub const DIRTY_DECAY_MS: isize = 200;

/// Announces the binary's `#[global_allocator]` (first call wins; call it first thing in `main`).
/// For jemalloc this also sets the decay time to [`DIRTY_DECAY_MS`] and starts the background
/// threads that purge on that schedule, as Redis does with `jemalloc-bg-thread yes`.
pub fn install(allocator: Allocator) {
    if INSTALLED.set(allocator).is_ok() && allocator == Allocator::Jemalloc {
        je::configure();
    }
}

/// The allocator in use.
pub fn current() -> Allocator {
    INSTALLED.get().copied().unwrap_or(Allocator::Libc)
}

/// INFO's `mem_allocator`: `jemalloc-5.3.0`, `mimalloc` or `libc`.
pub fn name() -> String {
    match current() {
        Allocator::Jemalloc => je::name(),
        Allocator::Mimalloc => "mimalloc".to_owned(),
        Allocator::Libc => "libc".to_owned(),
    }
}

/// The allocator's own byte counts, as Redis reports them (`allocator_*` in INFO memory).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes handed out to the program (`stats.allocated`).
    pub allocated: u64,
    /// Bytes in pages with live allocations (`stats.active`): allocated + internal fragmentation.
    pub active: u64,
    /// Bytes the allocator holds in physical memory (`stats.resident`): active + metadata + dirty
    /// pages not yet returned.
    pub resident: u64,
}

/// Current statistics (all zero when the allocator does not report them).
pub fn stats() -> Stats {
    match current() {
        Allocator::Jemalloc => je::stats(),
        _ => Stats::default(),
    }
}

/// Returns unused dirty pages to the OS now (MEMORY PURGE; after FLUSHALL). True if the allocator
/// supports it.
pub fn purge() -> bool {
    match current() {
        Allocator::Jemalloc => je::purge(),
        _ => false,
    }
}

#[cfg(feature = "jemalloc")]
mod je {
    use super::Stats;
    use tikv_jemalloc_ctl::{Access, AsName, arenas, background_thread, epoch, stats, version};

    pub(super) fn configure() {
        // The default for arenas created from now on (one per thread, lazily), then the existing ones.
        let _ = b"arenas.dirty_decay_ms\0".name().write(super::DIRTY_DECAY_MS);
        for_each_arena("dirty", |name, _| {
            let _ = name.write(super::DIRTY_DECAY_MS);
        });
        if let Err(e) = background_thread::write(true) {
            tracing::warn!(error = %e, "jemalloc background threads unavailable; memory returns on allocation only");
        }
    }

    /// Runs `f` on the `arena.<i>.<kind>_decay_ms` key and value of every initialised arena.
    fn for_each_arena(kind: &str, mut f: impl FnMut(&tikv_jemalloc_ctl::Name, isize)) {
        for i in 0..arenas::narenas::read().unwrap_or(0) {
            let name = format!("arena.{i}.{kind}_decay_ms\0");
            // An arena index not yet initialised answers with an error: nothing to do there.
            if let Ok(old) = Access::<isize>::read(name.name()) {
                f(name.name(), old);
            }
        }
    }

    pub(super) fn name() -> String {
        let v = version::read().unwrap_or("unknown");
        format!("jemalloc-{}", v.split('-').next().unwrap_or(v))
    }

    pub(super) fn stats() -> Stats {
        // Statistics are cached until the epoch advances.
        if epoch::advance().is_err() {
            return Stats::default();
        }
        let read = |r: tikv_jemalloc_ctl::Result<usize>| r.map_or(0, |v| v as u64);
        Stats {
            allocated: read(stats::allocated::read()),
            active: read(stats::active::read()),
            resident: read(stats::resident::read()),
        }
    }

    pub(super) fn purge() -> bool {
        for kind in ["dirty", "muzzy"] {
            for_each_arena(kind, |name, old| {
                if old != 0 && name.write(0isize).is_ok() {
                    let _ = name.write(old);
                }
            });
        }
        true
    }
}

#[cfg(not(feature = "jemalloc"))]
mod je {
    use super::Stats;

    pub(super) fn configure() {}

    pub(super) fn name() -> String {
        "libc".to_owned()
    }

    pub(super) fn stats() -> Stats {
        Stats::default()
    }

    pub(super) fn purge() -> bool {
        false
    }
}
