//! The command path without the network: request arguments → dispatcher → handler → reply bytes,
//! through [`cache_server::server::Session`]. Single-key GET/SET/INCR (what every client pays),
//! against MSET of three keys and MULTI + three SETs + EXEC (the atomic paths, which hold the shards
//! of their keys). Run with `cargo bench -p cache-server --bench dispatch`.

use bytes::Bytes;
use cache_server::Config;
use cache_server::server::Session;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn args(line: &str) -> Vec<Bytes> {
    line.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
}

fn dispatch(c: &mut Criterion) {
    let mut config = Config::default();
    config.set("maxmemory", &["256mb"]).expect("a valid directive");
    let mut s = Session::new(config);
    let keys: Vec<String> = (0..10_000).map(|i| format!("key:{i:012}")).collect();
    for k in &keys {
        s.run(&args(&format!("SET {k} {}", "v".repeat(32))));
    }
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(1));
    let gets: Vec<Vec<Bytes>> = keys.iter().map(|k| args(&format!("GET {k}"))).collect();
    let sets: Vec<Vec<Bytes>> = keys.iter().map(|k| args(&format!("SET {k} {}", "w".repeat(32)))).collect();
    let incrs: Vec<Vec<Bytes>> = keys.iter().map(|k| args(&format!("INCR n:{k}"))).collect();
    let msets: Vec<Vec<Bytes>> =
        keys.chunks(3).map(|c| args(&format!("MSET {} a {} b {} c", c[0], c[c.len() / 2], c[c.len() - 1]))).collect();
    let mut i = 0usize;
    let mut next = |n: usize| {
        i = (i + 1) % n;
        i
    };
    g.bench_function("GET hit", |b| b.iter(|| black_box(s.run(&gets[next(gets.len())]).len())));
    g.bench_function("SET", |b| b.iter(|| black_box(s.run(&sets[next(sets.len())]).len())));
    g.bench_function("INCR", |b| b.iter(|| black_box(s.run(&incrs[next(incrs.len())]).len())));
    g.bench_function("MSET 3 keys", |b| b.iter(|| black_box(s.run(&msets[next(msets.len())]).len())));
    let (multi, exec) = (args("MULTI"), args("EXEC"));
    g.bench_function("MULTI, 3 SETs, EXEC", |b| {
        b.iter(|| {
            s.run(&multi);
            for _ in 0..3 {
                s.run(&sets[next(sets.len())]);
            }
            black_box(s.run(&exec).len())
        })
    });
    g.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
