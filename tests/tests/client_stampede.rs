//! `get_or_load` stampede against our server and redis-server: 64 tasks in each of two client
//! instances ask for the same missing key at once; in-process coalescing plus the
//! cross-instance lease must run the loader about once (asserted ≤ 2), and every caller gets
//! the loaded value. Without the lease each instance still loads at most once.

mod client_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Result, ensure};
use bytes::Bytes;
use cache_client::{Client, LeaseConfig, NearCacheConfig};
use client_common::targets;

async fn stampede(a: &Client, b: &Client, key: &str) -> Result<usize> {
    let loads = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..128 {
        let c = if i % 2 == 0 { a.clone() } else { b.clone() };
        let loads = Arc::clone(&loads);
        let key = key.to_owned();
        tasks.spawn(async move {
            c.get_or_load(&key, Duration::from_secs(60), || async move {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, std::io::Error>(Bytes::from_static(b"expensive"))
            })
            .await
        });
    }
    while let Some(r) = tasks.join_next().await {
        ensure!(r??.as_ref() == b"expensive");
    }
    Ok(loads.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_stampede_of_two_instances_runs_the_loader_about_once() -> Result<()> {
    for t in targets() {
        let who = t.name();
        let make = |lease: bool| {
            let mut b =
                Client::builder().node(t.url()).near_cache(NearCacheConfig::entries(1000, Duration::from_secs(10)));
            if lease {
                b = b.lease(LeaseConfig::default());
            }
            b.build()
        };
        let (a, b) = (make(true)?, make(true)?);
        a.cmd(&["FLUSHALL"]).await?;
        let n = stampede(&a, &b, "page:/home").await?;
        println!("{who}: 128 callers over 2 instances with a lease ran the loader {n} time(s)");
        ensure!((1..=2).contains(&n), "{who}: loader ran {n} times");
        ensure!(a.get("lock:{page:/home}").await?.is_none(), "{who}: the lease was released");
        // Served from the server (and then the near-cache) from now on.
        ensure!(stampede(&a, &b, "page:/home").await? == 0);

        let (a, b) = (make(false)?, make(false)?);
        let n = stampede(&a, &b, "page:/other").await?;
        println!("{who}: without the lease the loader ran {n} time(s)");
        ensure!((1..=2).contains(&n), "{who}: loader ran {n} times without a lease");

        // A failing loader reaches every waiter and caches nothing.
        let e = a
            .get_or_load("page:/broken", Duration::from_secs(1), || async {
                Err::<Bytes, _>(std::io::Error::other("db down"))
            })
            .await
            .expect_err("the loader failed");
        ensure!(e.to_string().contains("db down"), "{e}");
        ensure!(a.get("page:/broken").await?.is_none());
    }
    Ok(())
}
