//! cache-client's near-cache against our server and a real redis-server: two clients play two
//! app instances; a write through one must drop the other's local copy when the server's
//! `invalidate` push arrives (the window is measured and printed); `FLUSHALL` drops everything
//! (null invalidation); and under concurrent writes and reads no stale value survives once the
//! writes stop. Our server needs `CLIENT TRACKING` for these to pass; a failure on ours with
//! redis passing points at the server.

mod client_common;

use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use bytes::Bytes;
use cache_client::{Client, NearCacheConfig};
use client_common::targets;

fn near_client(url: &str) -> Result<Client> {
    Ok(Client::builder().node(url).near_cache(NearCacheConfig::entries(10_000, Duration::from_secs(60))).build()?)
}

/// Polls `cond` every 100 µs for at most 2 s; returns how long it took.
async fn within(mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if cond() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
    None
}

#[tokio::test]
async fn a_write_through_one_instance_invalidates_the_others_near_cache() -> Result<()> {
    for t in targets() {
        let who = t.name();
        let (a, b) = (near_client(&t.url())?, near_client(&t.url())?);
        a.cmd(&["FLUSHALL"]).await?;
        let mut windows = Vec::new();
        for round in 0..20 {
            let key = format!("user:{round}");
            a.set(&key, "v1").await?;
            ensure!(b.get(&key).await?.as_deref() == Some(&b"v1"[..]), "{who}: first read");
            ensure!(b.near_cache().unwrap().contains(key.as_bytes()), "{who}: the read filled B's near-cache");
            ensure!(b.get(&key).await?.as_deref() == Some(&b"v1"[..]));
            let sent = Instant::now();
            a.set(&key, "v2").await?;
            let near = b.near_cache().unwrap();
            let Some(w) = within(|| !near.contains(key.as_bytes())).await else {
                bail!("{who}: B still holds {key} 2 s after A's write: no invalidation push arrived");
            };
            windows.push((w, sent.elapsed()));
            ensure!(b.get(&key).await?.as_deref() == Some(&b"v2"[..]), "{who}: B reads the new value");
        }
        let mut after_reply: Vec<Duration> = windows.iter().map(|w| w.0).collect();
        let mut from_send: Vec<Duration> = windows.iter().map(|w| w.1).collect();
        after_reply.sort();
        from_send.sort();
        let s = b.near_cache_stats().unwrap();
        println!(
            "{who}: B's copy gone {:?} median / {:?} max after A's SET returned; {:?} median / {:?} max after A sent it \
             (20 rounds); B stats {s:?}",
            after_reply[10], after_reply[19], from_send[10], from_send[19]
        );
        ensure!(s.local_hits >= 20 && s.remote_hits >= 40 && s.invalidations >= 20, "{who}: {s:?}");
        // A's own writes drop its own copy at once (no push needed).
        a.set("own", "1").await?;
        a.get("own").await?;
        a.set("own", "2").await?;
        ensure!(a.get("own").await?.as_deref() == Some(&b"2"[..]), "{who}: read-your-writes");
    }
    Ok(())
}

#[tokio::test]
async fn flushall_drops_the_whole_near_cache() -> Result<()> {
    for t in targets() {
        let who = t.name();
        let (a, b) = (near_client(&t.url())?, near_client(&t.url())?);
        a.cmd(&["FLUSHALL"]).await?;
        for i in 0..10 {
            a.set(format!("k{i}"), "v").await?;
            b.get(format!("k{i}")).await?;
        }
        let near = b.near_cache().unwrap();
        ensure!(near.len() == 10, "{who}: filled {}", near.len());
        a.cmd(&["FLUSHALL"]).await?;
        ensure!(within(|| near.is_empty()).await.is_some(), "{who}: B kept {} entries after FLUSHALL", near.len());
        ensure!(b.get("k1").await?.is_none(), "{who}");
    }
    Ok(())
}

#[tokio::test]
async fn no_stale_value_survives_concurrent_writes() -> Result<()> {
    for t in targets() {
        let who = t.name();
        let (a, b) = (near_client(&t.url())?, near_client(&t.url())?);
        a.cmd(&["FLUSHALL"]).await?;
        const KEYS: u64 = 16;
        let writer = {
            let a = a.clone();
            tokio::spawn(async move {
                for i in 0..2000u64 {
                    a.set(format!("race:{}", i % KEYS), i.to_string()).await?;
                }
                anyhow::Ok(())
            })
        };
        let readers: Vec<_> = (0..4)
            .map(|r| {
                let b = b.clone();
                tokio::spawn(async move {
                    for i in 0..2000u64 {
                        b.get(format!("race:{}", (i * 7 + r) % KEYS)).await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        writer.await??;
        for r in readers {
            r.await??;
        }
        // Once the last pushes are in, B (near-cache first) must read what the server holds.
        let mut stale = Vec::new();
        for k in 0..KEYS {
            let key = format!("race:{k}");
            let truth = a.cmd(&["GET", &key]).await?.into_opt_bytes()?;
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                let local: Option<Bytes> = b.get(&key).await?;
                if local == truth {
                    break;
                }
                if Instant::now() > deadline {
                    stale.push((key, local, truth));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        ensure!(stale.is_empty(), "{who}: stale near-cache values {stale:?}; stats {:?}", b.near_cache_stats());
        println!("{who}: concurrent writes/reads, B stats {:?}", b.near_cache_stats().unwrap());
    }
    Ok(())
}

#[tokio::test]
async fn a_near_cache_entry_dies_with_the_servers_ttl() -> Result<()> {
    for t in targets() {
        let who = t.name();
        let (a, b) = (near_client(&t.url())?, near_client(&t.url())?);
        a.set_with("short", "v", cache_client::SetOptions::default().expiry(cache_client::SetExpiry::Px(300))).await?;
        let filled = Instant::now();
        ensure!(b.get("short").await?.is_some(), "{who}");
        let near = b.near_cache().unwrap();
        ensure!(near.contains(b"short"), "{who}: filled");
        // The local TTL is 60 s; the server's 300 ms must bound the local copy.
        let deadline = Instant::now() + Duration::from_secs(2);
        while near.contains(b"short") {
            ensure!(Instant::now() < deadline, "{who}: the local copy outlived the server's TTL");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let lived = filled.elapsed();
        println!("{who}: local copy of a PX 300 key lived {lived:?}");
        ensure!(lived >= Duration::from_millis(200), "{who}: dropped too early ({lived:?})");
        // The local copy may drop up to a millisecond before the server's key does (PTTL is whole
        // milliseconds); past the server's deadline, B must read the miss from the server.
        tokio::time::sleep_until((filled + Duration::from_millis(305)).into()).await;
        ensure!(b.get("short").await?.is_none(), "{who}: expired");
    }
    Ok(())
}
