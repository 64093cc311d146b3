//! `hitratio`: replays cache traces through our cache (TinyLfu and Lru), moka, quick_cache, an exact
//! LRU and Belady's OPT with bypass, and prints a markdown table, the resident sizes, the verdict
//! against the design bar, a JSON dump and an SVG chart.
//!
//! With no `--trace`, runs every trace × capacity row of `shared/traces/README.md` plus the two
//! sanity figures. Exits non-zero when a result beats OPT, when our cache held more than its
//! capacity, or when a sanity figure is not reproduced. Only CLI plumbing lives here; the work is in
//! the `cache_bench` library.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use cache_bench::adapters::Kind;
use cache_bench::reference::{self, SANITY};
use cache_bench::replay::{Row, measure_row};
use cache_bench::sim::{lru, opt};
use cache_bench::trace::{self, Trace};
use cache_bench::{chart, report};
use clap::Parser;

/// Replay traces and compare hit ratios against OPT, LRU and the peers.
#[derive(Debug, Parser)]
struct Args {
    /// Traces directory [default: $CACHE_TRACES_DIR, else ../shared/traces from the workspace root].
    #[arg(long)]
    traces: Option<PathBuf>,
    /// Trace to replay: a name in the traces dir (`OLTP`, `multi1`), a path (`.lis[.zst]`,
    /// `.trace[.gz]`, plain text) or `zipf:s=1.0,n=100000,len=1000000,seed=1`. Repeatable.
    #[arg(long = "trace")]
    trace: Vec<String>,
    /// Capacity in entries, applied to every `--trace`. Repeatable.
    #[arg(long = "capacity")]
    capacity: Vec<u64>,
    /// Add a geometric sweep of capacities around each trace's rows (for the chart).
    #[arg(long)]
    sweep: bool,
    /// Also check the README's sanity figures (always done when no `--trace` is given).
    #[arg(long)]
    sanity: bool,
    /// Skip our LRU policy (the default policy, TinyLfu, always runs).
    #[arg(long)]
    skip_our_lru: bool,
    /// Give our cache this many shards on every row instead of the capacity-based rule.
    #[arg(long)]
    our_shards: Option<usize>,
    /// Seed every cache's hasher with this (a random hasher per cache without it). Our hit
    /// ratios move by up to ±1.5 pp with the hasher (see BENCHMARKS.md), so comparing two
    /// builds of the policy means running both over the same seeds.
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write hitratio.json and hitratio.svg.
    #[arg(long, default_value_os_t = Path::new(env!("CARGO_MANIFEST_DIR")).join("results"))]
    out: PathBuf,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("hitratio: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Returns `Ok(false)` when a check failed (result above OPT, ours over capacity, sanity).
fn run(args: Args) -> Result<bool> {
    let dir = trace::traces_dir(args.traces.as_deref());
    // 0 would mean "random" to the adapters.
    let seed = args.seed.map(|s| s.max(1));
    if let Some(seed) = seed {
        cache_bench::adapters::set_hasher_seed(seed);
    }
    let mut plan: Vec<(String, Vec<u64>)> = Vec::new();
    if args.trace.is_empty() {
        for r in reference::rows(&dir)? {
            match plan.iter_mut().find(|(t, _)| *t == r.trace) {
                Some((_, caps)) => caps.push(r.capacity),
                None => plan.push((r.trace, vec![r.capacity])),
            }
        }
    } else {
        anyhow::ensure!(!args.capacity.is_empty(), "--trace needs at least one --capacity");
        plan = args.trace.iter().map(|t| (t.clone(), args.capacity.clone())).collect();
    }
    let kinds: Vec<Kind> = Kind::ALL.into_iter().filter(|&k| !(args.skip_our_lru && k == Kind::OursLru)).collect();

    println!("# Hit ratio (get, insert on miss; one client thread; unit weights)\n");
    println!(
        "Caches: ours = cache-core ({}), moka::sync::Cache 0.12 (default TinyLFU), \
         quick_cache::sync::Cache 0.7 (default options); all hash with ahash::RandomState. \
         Our shard count per row: one per 4,096 entries of capacity, power of two, at most 4 × CPUs \
         (column `our shards`). Traces from {}.\n",
        kinds.iter().filter(|k| k.is_ours()).map(|k| k.label()).collect::<Vec<_>>().join(", "),
        dir.canonicalize().unwrap_or_else(|_| dir.clone()).display()
    );

    if let Some(seed) = seed {
        println!("Every cache hashes with ahash seeded from {seed} (`--seed`), so this run repeats exactly.\n");
    }

    let mut rows: Vec<Row> = Vec::new();
    let mut ok = true;
    let sanity = args.sanity || args.trace.is_empty();
    let mut loaded: Vec<Trace> = Vec::new();
    for (spec, caps) in &plan {
        let t0 = Instant::now();
        let t = load(&dir, spec)?;
        let next = opt::next_uses(&t.keys);
        let caps = if args.sweep { sweep(caps, &t) } else { caps.clone() };
        for cap in caps {
            let row = measure_row(&t.name, &t.keys, &next, cap, &kinds, args.our_shards);
            eprintln!("{} @{cap}: done in {:.1?}", t.name, t0.elapsed());
            rows.push(row);
        }
        loaded.push(t);
    }

    if sanity {
        println!("## Sanity figures (traces README)\n");
        for s in SANITY {
            let t = match loaded.iter().find(|t| t.name == s.trace) {
                Some(t) => t.clone(),
                None => load(&dir, s.trace)?,
            };
            let got = match s.policy {
                "LRU" => lru::run(&t.keys, s.capacity as usize).hit_pct(),
                _ => opt::run(&t.keys, s.capacity as usize).hit_pct(),
            };
            let pass = (got - s.pct).abs() < 0.005 + 1e-9;
            ok &= pass;
            println!(
                "- {} on {} @{}: {got:.2}% (expected {:.2}%) — {}",
                s.policy,
                s.trace,
                report::thousands(s.capacity),
                s.pct,
                if pass { "ok" } else { "MISMATCH" }
            );
        }
        println!();
    }

    println!("## Hit ratio (%)\n\n{}", report::hit_table(&rows, &kinds));
    println!(
        "## Resident entries (max sampled every 4,096 requests / final after maintenance)\n\n{}",
        report::resident_table(&rows, &kinds)
    );
    if let Some(lines) = report::verdict(&rows) {
        println!("## Bar: ours TinyLfu vs max(LRU, moka, quick_cache)\n");
        for l in lines {
            println!("- {l}");
        }
        println!();
    }
    for (bug, text) in rows.iter().flat_map(Row::problems) {
        println!("- {}: {text}", if bug { "BUG" } else { "note" });
        ok &= !bug;
    }
    if rows.iter().any(|r| r.trace == "OLTP" || r.trace == "P3") {
        println!(
            "\nARC traces (OLTP, P3): N. Megiddo and D. S. Modha, \"ARC: A Self-Tuning, Low Overhead \
             Replacement Cache\", USENIX FAST 2003."
        );
    }

    std::fs::create_dir_all(&args.out)?;
    let json = args.out.join("hitratio.json");
    std::fs::write(&json, serde_json::to_string_pretty(&rows)?)?;
    let svg = args.out.join("hitratio.svg");
    chart::render(&rows, &kinds, &svg)?;
    eprintln!("wrote {} and {}", json.display(), svg.display());
    Ok(ok)
}

/// Loads a trace by name from the traces dir, or by path / `zipf:` spec.
fn load(dir: &Path, spec: &str) -> Result<Trace> {
    if spec.starts_with("zipf:") || Path::new(spec).is_file() {
        return trace::load(spec);
    }
    trace::load_file(&trace::find_in(dir, spec)?).with_context(|| format!("trace {spec}"))
}

/// The given capacities plus powers of two from a quarter of the smallest to four times the
/// largest (never beyond the trace's distinct keys, where every policy ties), except those within
/// 1.4× of a given capacity.
fn sweep(caps: &[u64], t: &Trace) -> Vec<u64> {
    let unique = t.unique_keys() as u64;
    let lo = caps.iter().min().copied().unwrap_or(1).div_ceil(4).max(1);
    let hi = (caps.iter().max().copied().unwrap_or(1) * 4).min(unique.max(2));
    let mut all: BTreeSet<u64> = caps.iter().copied().collect();
    let mut c = lo.next_power_of_two();
    while c <= hi {
        // Skip points that would crowd a README capacity on the chart (1,024 next to 1,000).
        if caps.iter().all(|&k| k.max(c) as f64 / k.min(c) as f64 >= 1.4) {
            all.insert(c);
        }
        c *= 2;
    }
    all.into_iter().collect()
}
