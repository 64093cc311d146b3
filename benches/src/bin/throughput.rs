//! `throughput`: operations per second of our cache (TinyLfu and Lru) against moka and quick_cache
//! in one run, on the workloads of issue 3, with the ratio of ours against each peer.
//!
//! Each row builds a fresh cache of each kind, warms them untimed, then runs `--rounds` timed
//! rounds bounded by `--secs` and `--max-ops`, interleaving the caches, and reports each one's
//! median. All caches use ahash; ours keeps its default shard count, quick_cache its default
//! options. Owns only the table of rows and their printing.

use std::time::Duration;

use anyhow::Result;
use cache_bench::adapters::{BenchCache, Kind};
use cache_bench::adapters::{moka, ours, quick};
use cache_bench::workload::{self as wl, Budget, Run};
use cache_core::EvictionPolicy;
use clap::Parser;

/// Throughput of each cache, side by side.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds per timed round.
    #[arg(long, default_value_t = 0.5)]
    secs: f64,
    /// Operation cap per timed round (all threads together).
    #[arg(long, default_value_t = 50_000_000)]
    max_ops: u64,
    /// Timed rounds per cell (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Keys in the Zipf-gets workload (all present).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Capacity for the eviction workloads (key space is 10×).
    #[arg(long, default_value_t = 100_000)]
    capacity: u64,
    /// Run only the workloads whose short name is listed (zipf, mixed, insert, get_with).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Rate operations by on-CPU time (ops ÷ the threads' CPU seconds × threads) instead of wall
    /// time: on a loaded shared machine a thread waits for a CPU much of the time, and wall-time
    /// rates then measure the scheduler more than the cache. Time a thread spends asleep in a
    /// lock is not counted either, so read it beside a wall-time run.
    #[arg(long)]
    cpu_time: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    ZipfGets,
    Mixed,
    InsertOnly,
    GetWith,
}

impl Workload {
    fn short(self) -> &'static str {
        match self {
            Workload::ZipfGets => "zipf",
            Workload::Mixed => "mixed",
            Workload::InsertOnly => "insert",
            Workload::GetWith => "get_with",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Workload::ZipfGets => "Zipf gets (s=1.0, all present)",
            Workload::Mixed => "90% get / 10% insert, keys 10× capacity",
            Workload::InsertOnly => "insert-only with eviction",
            Workload::GetWith => "get_with, 4 hot missing keys",
        }
    }
}

/// Pre-generated streams shared by every cache.
#[derive(Debug)]
struct Streams {
    gets: Vec<u64>,
    mixed: Vec<u64>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let budget = Budget { time: Duration::from_secs_f64(args.secs), ops: args.max_ops };
    let len = 1 << 22;
    let streams = Streams {
        gets: wl::zipf_gets(1.0, args.keys, len, 1)?,
        mixed: wl::mixed(1.0, args.capacity * 10, len, 0.1, 2)?,
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_before = load_average();
    let basis = if args.cpu_time { "ops per on-CPU second × threads" } else { "ops/s, wall time" };
    println!("# Throughput ({basis}, median of {} rounds of ≤ {}s / ≤ {} ops)\n", args.rounds, args.secs, args.max_ops);
    println!(
        "Machine: {cpus} CPUs. Zipf gets: {} keys, capacity {} (+25% so every key stays resident in \
         every sharded cache). Eviction workloads: capacity {}, Zipf(1.0) over {} keys (90/10) or \
         fresh keys (insert-only). get_with: 2 threads ask the same 4 missing keys 16× each, then the \
         next 4; the loader does ~100 multiplies. Hasher: ahash for all.\n",
        args.keys,
        args.keys + args.keys / 4,
        args.capacity,
        args.capacity * 10
    );
    let cells = [
        (Workload::ZipfGets, 1),
        (Workload::ZipfGets, 2),
        (Workload::Mixed, 1),
        (Workload::Mixed, 2),
        (Workload::InsertOnly, 1),
        (Workload::InsertOnly, 2),
        (Workload::GetWith, 2),
    ];
    print!("| workload | threads |");
    for k in Kind::ALL {
        print!(" {k} |");
    }
    println!(
        " TinyLfu ÷ moka | TinyLfu ÷ quick_cache | Lru ÷ moka | Lru ÷ quick_cache | hit % (ours TinyLfu / moka / qc) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut bars = Vec::new();
    for (w, threads) in cells {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == w.short()) {
            continue;
        }
        let runs = row(w, threads, &args, &streams, budget);
        let rate = |r: &Run| if args.cpu_time { r.ops_per_cpu_sec(threads) } else { r.ops_per_sec() };
        let ops = |k: Kind| rate(&runs[Kind::ALL.iter().position(|&x| x == k).unwrap()]);
        let hit = |k: Kind| runs[Kind::ALL.iter().position(|&x| x == k).unwrap()].hit_pct();
        print!("| {} | {threads} |", w.label());
        for k in Kind::ALL {
            print!(" {} |", mops(ops(k)));
        }
        let (t, l) = (ops(Kind::OursTinyLfu), ops(Kind::OursLru));
        let (m, q) = (ops(Kind::Moka), ops(Kind::QuickCache));
        println!(
            " {:.2}× | {:.2}× | {:.2}× | {:.2}× | {:.1} / {:.1} / {:.1} |",
            t / m,
            t / q,
            l / m,
            l / q,
            hit(Kind::OursTinyLfu),
            hit(Kind::Moka),
            hit(Kind::QuickCache)
        );
        match (w, threads) {
            (Workload::ZipfGets, 2) => bars.push(("Zipf gets, 2 threads", t / m, 3.0, t / q, 1.2)),
            (Workload::Mixed, 2) => bars.push(("90/10 with eviction, 2 threads", t / m, 3.0, t / q, 1.0)),
            _ => {}
        }
    }
    println!(
        "\nLoad average (1/5/15 min) before: {load_before}; after: {} — the machine is shared, so \
         a load above the CPU count means other work ran alongside.",
        load_average()
    );
    println!("\n## Bars (ours TinyLfu, the default)\n");
    for (name, vm, bm, vq, bq) in bars {
        let verdict = |v: f64, b: f64| if v >= b { "MET" } else { "MISSED" };
        println!(
            "- {name}: {vm:.2}× moka (bar ≥ {bm}×, {}), {vq:.2}× quick_cache (bar ≥ {bq}×, {})",
            verdict(vm, bm),
            verdict(vq, bq)
        );
    }
    Ok(())
}

/// The first three fields of `/proc/loadavg`, or `?` where it cannot be read.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `12_345_678.9` → `12.35 M`.
fn mops(x: f64) -> String {
    format!("{:.2} M", x / 1e6)
}

/// Builds and warms all four caches for one (workload, threads) row, then runs the timed rounds
/// interleaved (round `r` starts with cache `r mod 4`), so a burst of background load on this
/// shared machine hits every cache alike; returns each cache's median round, in [`Kind::ALL`] order.
fn row(w: Workload, threads: usize, args: &Args, s: &Streams, budget: Budget) -> Vec<Run> {
    let cap = match w {
        Workload::ZipfGets => args.keys + args.keys / 4,
        _ => args.capacity,
    };
    let tiny = ours(cap, EvictionPolicy::TinyLfu, None);
    let lru = ours(cap, EvictionPolicy::Lru, None);
    let (mk, qc) = (moka(cap), quick(cap));
    warm(&tiny, w, args, s);
    warm(&lru, w, args, s);
    warm(&mk, w, args, s);
    warm(&qc, w, args, s);
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); Kind::ALL.len()];
    for r in 0..args.rounds.max(1) {
        let start = r as u64 * budget.ops;
        for i in 0..Kind::ALL.len() {
            let k = (r + i) % Kind::ALL.len();
            let run = match Kind::ALL[k] {
                Kind::OursTinyLfu => timed(&tiny, w, threads, s, budget, start),
                Kind::OursLru => timed(&lru, w, threads, s, budget, start),
                Kind::Moka => timed(&mk, w, threads, s, budget, start),
                Kind::QuickCache => timed(&qc, w, threads, s, budget, start),
            };
            runs[k].push(run);
        }
    }
    Kind::ALL
        .iter()
        .zip(runs)
        .map(|(kind, mut rs)| {
            let rate = |r: &Run| if args.cpu_time { r.ops_per_cpu_sec(threads) } else { r.ops_per_sec() };
            rs.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
            let median = rs[rs.len() / 2];
            eprintln!("{kind} / {} / {threads}t: {} ops/s", w.label(), mops(rate(&median)));
            median
        })
        .collect()
}

/// Untimed set-up: fill the cache the way the workload expects to find it.
fn warm<C: BenchCache>(c: &C, w: Workload, args: &Args, s: &Streams) {
    match w {
        Workload::ZipfGets => wl::all_keys(args.keys).for_each(|k| c.insert(k, k)),
        Workload::Mixed => s.mixed[..s.mixed.len().min(2_000_000)].iter().for_each(|&op| {
            wl::apply(c, op);
        }),
        Workload::InsertOnly => (0..args.capacity).for_each(|i| c.insert(wl::fresh_key(99, i), i)),
        Workload::GetWith => {}
    }
    c.settle();
}

/// One timed round; `start` keeps fresh-key workloads from reusing earlier rounds' keys.
fn timed<C: BenchCache>(c: &C, w: Workload, threads: usize, s: &Streams, b: Budget, start: u64) -> Run {
    match w {
        Workload::ZipfGets => wl::run(c, threads, b, start, |c, t, i| c.get(wl::nth(&s.gets, threads, t, i)).is_some()),
        Workload::Mixed => wl::run(c, threads, b, start, |c, t, i| wl::apply(c, wl::nth(&s.mixed, threads, t, i))),
        Workload::InsertOnly => wl::run(c, threads, b, start, |c, t, i| {
            c.insert(wl::fresh_key(t, i), i);
            false
        }),
        Workload::GetWith => wl::run(c, threads, b, start, |c, _, i| {
            let key = wl::hot_key(i);
            let mut loaded = false;
            c.get_with(key, || {
                loaded = true;
                wl::load(key)
            });
            !loaded
        }),
    }
}
