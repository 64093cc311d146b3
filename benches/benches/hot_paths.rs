//! Criterion benches of the single-thread hot paths, ours (both policies) against moka and
//! quick_cache: a Zipf get on a full cache, the 90/10 get/insert mix with eviction, an insert that
//! evicts, and a `get_with` that hits. The multi-thread cells and the side-by-side ratio table are
//! the `throughput` binary's job; this file only wires the shared workloads into criterion.

use std::hint::black_box;
use std::time::Duration;

use cache_bench::adapters::{BenchCache, Kind};
use cache_bench::with_cache;
use cache_bench::workload as wl;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

/// Operations per criterion iteration.
const BATCH: u64 = 1024;
const KEYS: u64 = 1_000_000;
const CAPACITY: u64 = 100_000;

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(BATCH))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g
}

/// Runs `op(cache, i)` `BATCH` times per iteration, `i` continuing across iterations.
fn bench_ops<C: BenchCache>(g: &mut BenchmarkGroup<'_, WallTime>, kind: Kind, c: &C, op: impl Fn(&C, u64) -> bool) {
    let mut i = 0u64;
    g.bench_function(kind.label(), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(op(c, i));
                i += 1;
            }
        })
    });
}

fn zipf_gets(c: &mut Criterion) {
    let keys = wl::zipf_gets(1.0, KEYS, 1 << 20, 1).expect("zipf");
    let mut g = group(c, "zipf_get_1t");
    for kind in Kind::ALL {
        with_cache!(kind, KEYS + KEYS / 4, None, |cache| {
            wl::all_keys(KEYS).for_each(|k| cache.insert(k, k));
            cache.settle();
            bench_ops(&mut g, kind, &cache, |c, i| BenchCache::get(c, wl::nth(&keys, 1, 0, i)).is_some());
        });
    }
    g.finish();
}

fn mixed(c: &mut Criterion) {
    let ops = wl::mixed(1.0, CAPACITY * 10, 1 << 20, 0.1, 2).expect("zipf");
    let mut g = group(c, "mixed_90_10_1t");
    for kind in Kind::ALL {
        with_cache!(kind, CAPACITY, None, |cache| {
            ops.iter().for_each(|&op| {
                wl::apply(&cache, op);
            });
            bench_ops(&mut g, kind, &cache, |c, i| wl::apply(c, wl::nth(&ops, 1, 0, i)));
        });
    }
    g.finish();
}

fn insert_evict(c: &mut Criterion) {
    let mut g = group(c, "insert_evict_1t");
    for kind in Kind::ALL {
        with_cache!(kind, CAPACITY, None, |cache| {
            (0..CAPACITY).for_each(|i| cache.insert(wl::fresh_key(1, i), i));
            bench_ops(&mut g, kind, &cache, |c, i| {
                BenchCache::insert(c, wl::fresh_key(0, i), i);
                false
            });
        });
    }
    g.finish();
}

fn get_with_hit(c: &mut Criterion) {
    let mut g = group(c, "get_with_hit_1t");
    for kind in Kind::ALL {
        with_cache!(kind, CAPACITY, None, |cache| {
            (0..1024).for_each(|k| cache.insert(k, k));
            cache.settle();
            bench_ops(&mut g, kind, &cache, |c, i| {
                let key = i % 1024;
                BenchCache::get_with(c, key, || wl::load(key)) == key
            });
        });
    }
    g.finish();
}

criterion_group!(benches, zipf_gets, mixed, insert_evict, get_with_hit);
criterion_main!(benches);
