//! `memory`: bytes per entry of each cache holding 1M `u64 → u64` entries at capacity 1M, counted by
//! a global allocator that wraps the system one.
//!
//! For each cache: note the live heap, build it, insert keys `0..n`, let deferred maintenance settle,
//! and divide the heap growth by the entries actually resident; the overhead is that minus the 16
//! payload bytes. Also prints the peak during the fill. Owns only this measurement loop.

use std::process::ExitCode;

use cache_bench::adapters::{BenchCache, Kind};
use cache_bench::alloc::Counting;
use cache_bench::with_cache;
use clap::Parser;

#[global_allocator]
static ALLOC: Counting = Counting::new();

/// Payload of one `u64 → u64` entry.
const PAYLOAD: f64 = 16.0;

/// The design bar for our cache, bytes of overhead per entry.
const BAR: f64 = 32.0;

/// Measure heap bytes per cache entry.
#[derive(Debug, Parser)]
struct Args {
    /// Entries to insert (and capacity).
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
}

#[derive(Debug)]
struct Measured {
    kind: Kind,
    resident: u64,
    bytes: usize,
    peak: usize,
}

/// Fills `cache` (built after `before` was read) and measures the heap growth since `before`.
fn measure<C: BenchCache>(kind: Kind, cache: &C, before: usize, n: u64) -> Measured {
    for k in 0..n {
        cache.insert(k, k);
    }
    cache.settle();
    let resident = cache.resident();
    let bytes = ALLOC.live().saturating_sub(before);
    let peak = ALLOC.peak().saturating_sub(before);
    Measured { kind, resident, bytes, peak }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let n = args.entries;
    println!("# Memory per entry: {n} u64 → u64 entries at capacity {n}\n");
    println!(
        "Heap bytes counted by a wrapping global allocator (requested sizes), divided by the entries \
         resident after maintenance settles. Overhead = bytes/entry − 16 payload bytes. Our cache \
         uses its default shard count; all caches hash with ahash::RandomState.\n"
    );
    println!("| cache | resident | heap bytes | bytes/entry | overhead/entry | peak during fill/entry |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut ours_default = None;
    for kind in Kind::ALL {
        let before = ALLOC.live();
        ALLOC.reset_peak();
        let m = with_cache!(kind, n, None, |c| measure(kind, &c, before, n));
        let per = m.bytes as f64 / m.resident.max(1) as f64;
        let peak = m.peak as f64 / m.resident.max(1) as f64;
        println!("| {} | {} | {} | {per:.1} | {:.1} | {peak:.1} |", m.kind, m.resident, m.bytes, per - PAYLOAD);
        if m.kind == Kind::OursTinyLfu {
            ours_default = Some(per - PAYLOAD);
        }
    }
    println!();
    match ours_default {
        Some(o) if o <= BAR => {
            println!("Bar (ours TinyLfu ≤ {BAR} B overhead): MET ({o:.1} B)");
            ExitCode::SUCCESS
        }
        Some(o) => {
            println!("Bar (ours TinyLfu ≤ {BAR} B overhead): MISSED ({o:.1} B)");
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}
