//! Criterion benches of cache-client, each against its peer in the same run:
//! - `near_hit`: a near-cache hit through `Client::get` (the future completes on its first poll)
//!   vs a bare cache-core `Cache::get` of the same key and value — the overhead the client adds;
//! - `pipelined_get`: GETs over ONE connection, 1000 in flight per batch (`Client::pipeline`)
//!   vs one at a time — throughput to compare with the load generator.
//!
//! The servers are a `redis-server` child on a free loopback port (the client must not depend
//! on cache-server) and, in the same run, whatever `CACHE_CLIENT_BENCH_URL` names (point it at
//! our server). Without either, the server benches print why and only the local peer runs.

use std::future::Future;
use std::net::TcpListener;
use std::pin::pin;
use std::process::{Child, Command, Stdio};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cache_client::{Client, NearCacheConfig};
use cache_core::Cache;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

struct Server {
    url: String,
    child: Option<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The servers to bench against: a redis-server child (if installed) and `CACHE_CLIENT_BENCH_URL`
/// (if set), named for the report.
fn servers() -> Vec<(&'static str, Server)> {
    let mut out = Vec::new();
    if let Some(port) = TcpListener::bind("127.0.0.1:0").ok().and_then(|l| l.local_addr().ok()).map(|a| a.port()) {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => {
                let deadline = Instant::now() + Duration::from_secs(10);
                while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                out.push(("redis", Server { url: format!("redis://127.0.0.1:{port}"), child: Some(child) }));
            }
            Err(e) => eprintln!("SKIPPED redis-server benches: cannot run redis-server ({e})"),
        }
    }
    if let Ok(url) = std::env::var("CACHE_CLIENT_BENCH_URL") {
        out.push(("env", Server { url, child: None }));
    }
    if out.is_empty() {
        eprintln!("SKIPPED server benches: no redis-server on PATH and CACHE_CLIENT_BENCH_URL unset");
    }
    out
}

/// Polls a future once; it must be ready (a near-cache hit never awaits).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a near-cache hit awaited"),
    }
}

fn benches(c: &mut Criterion) {
    let key = Bytes::from_static(b"user:42:profile");
    let value = Bytes::from(vec![b'x'; 100]);
    let bare: Cache<Bytes, Bytes> =
        Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(600)).build();
    bare.insert(key.clone(), value.clone());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let servers = servers();

    let mut g = c.benchmark_group("near_hit");
    g.bench_function("cache_core_get", |b| b.iter(|| bare.get(std::hint::black_box(&key[..]))));
    for (name, srv) in &servers {
        let client = Client::builder()
            .node(&srv.url)
            .pool_size(1)
            .near_cache(NearCacheConfig::entries(10_000, Duration::from_secs(600)))
            .build()
            .expect("client");
        rt.block_on(async {
            client.set(&key, &value).await.expect("SET");
            client.get(&key).await.expect("GET fills the near-cache");
        });
        if client.near_cache().is_some_and(|n| n.contains(&key)) {
            g.bench_function(format!("client_get_near_hit_{name}"), |b| {
                b.iter(|| ready(client.get(std::hint::black_box(&key[..]))).expect("hit"));
            });
        } else {
            eprintln!("SKIPPED near_hit/client_get_near_hit_{name}: the server refused CLIENT TRACKING");
        }
    }
    g.finish();

    const BATCH: usize = 1000;
    let gets: Vec<Vec<Bytes>> =
        (0..BATCH).map(|i| vec![Bytes::from_static(b"GET"), Bytes::from(format!("k{i}"))]).collect();
    let mut g = c.benchmark_group("pipelined_get");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, srv) in &servers {
        let plain = Client::builder().node(&srv.url).pool_size(1).build().expect("client");
        rt.block_on(async {
            for i in 0..BATCH {
                plain.set(format!("k{i}"), &value).await.expect("SET");
            }
        });
        g.bench_function(format!("{name}_one_connection_1000_in_flight"), |b| {
            b.iter(|| rt.block_on(async { plain.pipeline(0, &gets).await.expect("pipeline").len() }));
        });
        g.bench_function(format!("{name}_one_connection_1_in_flight"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    for cmd in &gets {
                        plain.cmd(cmd).await.expect("GET");
                    }
                });
            });
        });
    }
    g.finish();
}

criterion_group! {
    name = client;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    targets = benches
}
criterion_main!(client);
