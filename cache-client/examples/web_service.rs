//! A small web-style service with a two-tier cache: a near-cache in the process (L1) in front
//! of the cache server (L2) in front of a slow "database" (a loader that sleeps).
//!
//! Run a server first (ours or redis-server), then:
//!
//! ```text
//! cargo run -p cache-client --example web_service -- redis://127.0.0.1:6379            # simulate 20k requests
//! cargo run -p cache-client --example web_service -- redis://127.0.0.1:6379 --serve    # HTTP on 127.0.0.1:8080
//! ```
//!
//! In `--serve` mode `GET /product/<id>` returns the product page and `POST /product/<id>`
//! updates it (writing through, which invalidates every instance's near-cache); it stops after
//! 10,000 requests. Without `--serve` a bounded loop simulates skewed traffic from 8 workers,
//! with an occasional update, and prints where reads were served from.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use cache_client::{Client, LeaseConfig, NearCacheConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The slow source of truth.
#[derive(Debug, Default)]
struct Database {
    queries: AtomicU64,
}

impl Database {
    async fn product_page(&self, id: u64) -> Result<Bytes, std::io::Error> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok(Bytes::from(format!("<h1>Product {id}</h1><p>price: {}.99</p>", id % 97)))
    }
}

#[derive(Debug, Clone)]
struct App {
    cache: Client,
    db: Arc<Database>,
}

impl App {
    async fn product(&self, id: u64) -> Result<Bytes> {
        let db = Arc::clone(&self.db);
        let page =
            self.cache
                .get_or_load(format!("product:{{{id}}}"), Duration::from_secs(300), || async move {
                    db.product_page(id).await
                })
                .await?;
        Ok(page)
    }

    async fn update(&self, id: u64, body: &str) -> Result<()> {
        self.cache.set(format!("product:{{{id}}}"), format!("<h1>Product {id}</h1><p>{body}</p>")).await?;
        Ok(())
    }
}

/// A skewed id: small ids are much more popular (roughly Zipf-like).
fn popular_id(r: u64) -> u64 {
    let u = (r % 10_000) as f64 / 10_000.0;
    (u.powi(4) * 1000.0) as u64
}

async fn simulate(app: App) -> Result<()> {
    let started = Instant::now();
    let workers: Vec<_> = (0..8u64)
        .map(|w| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut x = w.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                for i in 0..2500u64 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let id = popular_id(x);
                    if i % 500 == 499 {
                        app.update(id, "price changed").await?;
                    } else {
                        app.product(id).await?;
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    let elapsed = started.elapsed();
    let s = app.cache.near_cache_stats().unwrap_or_default();
    println!("20000 requests in {elapsed:?} ({:.0} req/s)", 20_000.0 / elapsed.as_secs_f64());
    println!(
        "near-cache hits {}, server hits {}, misses {}, invalidations {}, database queries {}",
        s.local_hits,
        s.remote_hits,
        s.misses,
        s.invalidations,
        app.db.queries.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn serve(app: App) -> Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.context("bind 127.0.0.1:8080")?;
    println!("listening on http://127.0.0.1:8080/product/<id> (stops after 10000 requests)");
    for _ in 0..10_000 {
        let (mut sock, _) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let mut words = req.split_whitespace();
            let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let id = path.strip_prefix("/product/").and_then(|s| s.parse::<u64>().ok());
            let (status, body) = match (method, id) {
                ("GET", Some(id)) => match app.product(id).await {
                    Ok(page) => ("200 OK", page),
                    Err(e) => ("503 Service Unavailable", Bytes::from(e.to_string())),
                },
                ("POST", Some(id)) => {
                    let body = req.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
                    match app.update(id, &body).await {
                        Ok(()) => ("204 No Content", Bytes::new()),
                        Err(e) => ("503 Service Unavailable", Bytes::from(e.to_string())),
                    }
                }
                _ => ("404 Not Found", Bytes::from_static(b"not found")),
            };
            let head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(&body).await;
        });
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let urls: Vec<&String> = args.iter().filter(|a| a.starts_with("redis://")).collect();
    let mut builder = Client::builder()
        .near_cache(NearCacheConfig::bytes(64 << 20, Duration::from_secs(60)))
        .lease(LeaseConfig::default())
        .miss_on_unavailable(true);
    if urls.is_empty() {
        builder = builder.node("redis://127.0.0.1:6379");
    }
    for u in urls {
        builder = builder.node(u.as_str());
    }
    let app = App { cache: builder.build()?, db: Arc::new(Database::default()) };
    app.cache.ping().await.context("the cache server does not answer")?;
    if args.iter().any(|a| a == "--serve") { serve(app).await } else { simulate(app).await }
}
