//! cache-client with one of three nodes killed (SIGKILL), for our server and for redis-server:
//! reads of the dead node's keys fail fast (bounded time, asserted) or read as misses when so
//! configured, the other nodes keep serving, the near-cache is dropped when its tracking
//! connection dies, and after a restart on the same port the breaker closes again.

mod client_common;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use cache_client::{BreakerState, Client, Error, NearCacheConfig};
use client_common::{Proc, kinds};

fn client(procs: &[Proc], miss: bool) -> Result<Client> {
    let mut b = Client::builder()
        .breaker(3, Duration::from_millis(300))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(200))
        .request_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_millis(500))
        .miss_on_unavailable(miss)
        .near_cache(NearCacheConfig::entries(10_000, Duration::from_secs(60)));
    for p in procs {
        b = b.node(p.url());
    }
    Ok(b.build()?)
}

#[tokio::test]
async fn a_dead_node_fails_fast_the_others_serve_and_the_breaker_closes_after_restart() -> Result<()> {
    for kind in kinds() {
        let mut procs: Vec<Proc> = (0..3).map(|_| Proc::start(kind)).collect();
        let c = client(&procs, false)?;
        let lenient = client(&procs, true)?;
        let keys: Vec<String> = (0..300).map(|i| format!("key:{i}")).collect();
        for k in &keys {
            c.set(k, k).await?;
        }
        let dead = 1;
        let (on_dead, alive): (Vec<&String>, Vec<&String>) = keys.iter().partition(|k| c.node_of(k) == dead);
        ensure!(!on_dead.is_empty() && alive.len() > on_dead.len());
        // Fill the near-caches with a key of the dead node (through its tracking connection).
        for cl in [&c, &lenient] {
            ensure!(cl.get(on_dead[0]).await?.is_some());
            ensure!(cl.near_cache().unwrap().contains(on_dead[0].as_bytes()));
        }

        procs[dead].kill();
        let started = Instant::now();
        let mut slowest = Duration::ZERO;
        for k in &on_dead {
            let t = Instant::now();
            let r = c.get(k).await;
            slowest = slowest.max(t.elapsed());
            match r {
                Err(e) => ensure!(
                    e.is_connection_dropped() || matches!(e, Error::NodeUnavailable(_)),
                    "{kind:?}: unexpected error {e:?}"
                ),
                // Only the near-cache copy may still answer, and only until the loss is noticed.
                Ok(v) => ensure!(*k == on_dead[0] && v.is_some(), "{kind:?}: {k} read {v:?} from a dead node"),
            }
        }
        let all_dead = started.elapsed();
        println!(
            "{kind:?}: {} reads of the dead node's keys took {all_dead:?} in all, slowest {slowest:?}; breaker {:?}",
            on_dead.len(),
            c.breaker_state(dead)
        );
        ensure!(slowest < Duration::from_millis(600), "{kind:?}: a read of a dead node took {slowest:?}");
        ensure!(all_dead < Duration::from_secs(2), "{kind:?}: {all_dead:?}");
        ensure!(c.breaker_state(dead) == BreakerState::Open, "{kind:?}: {:?}", c.breaker_state(dead));
        // The near-cache was dropped when the tracking connection died.
        let near = c.near_cache().unwrap();
        ensure!(!near.contains(on_dead[0].as_bytes()) && near.stats().flushes >= 1, "{kind:?}: {:?}", near.stats());
        // Lenient reads: misses, fast.
        let t = Instant::now();
        for k in &on_dead {
            ensure!(lenient.get(k).await?.is_none(), "{kind:?}: lenient read of {k}");
        }
        ensure!(t.elapsed() < Duration::from_secs(2));
        let got = lenient.mget(&keys).await?;
        for (k, v) in keys.iter().zip(&got) {
            ensure!(v.is_some() == (c.node_of(k) != dead), "{kind:?}: lenient MGET {k} {v:?}");
        }
        // The other nodes keep serving.
        for k in &alive {
            ensure!(c.get(k).await?.as_deref() == Some(k.as_bytes()), "{kind:?}: {k}");
        }
        c.set(alive[0], "still").await?;

        // Restart on the same port: within a bounded time the probe succeeds and the breaker closes.
        procs[dead].restart();
        let t = Instant::now();
        loop {
            if c.get(on_dead[0]).await.is_ok() && c.breaker_state(dead) == (BreakerState::Closed { failures: 0 }) {
                break;
            }
            ensure!(t.elapsed() < Duration::from_secs(10), "{kind:?}: breaker still {:?}", c.breaker_state(dead));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("{kind:?}: breaker closed {:?} after the restart", t.elapsed());
        c.set(on_dead[1], "back").await?;
        ensure!(c.get(on_dead[1]).await?.as_deref() == Some(&b"back"[..]));
    }
    Ok(())
}

#[tokio::test]
async fn idempotent_reads_survive_killed_connections_by_retrying() -> Result<()> {
    for t in client_common::targets() {
        let who = t.name();
        // Each kill is one breaker failure (however many requests were in flight); a high threshold
        // keeps this test about retries even if kills land back to back on a loaded machine. A
        // kill that lands on a reconnect's handshake starts the pool's reconnect backoff (20 ms,
        // then 40 ms, ...), during which a retry fails fast: enough retries (their jittered delays
        // grow to 200 ms) outlast the five kills, against redis-server and ours alike.
        let c = Client::builder()
            .node(t.url())
            .pool_size(1)
            .max_retries(6)
            .breaker(50, Duration::from_millis(100))
            .build()?;
        let admin = Client::builder().node(t.url()).pool_size(1).build()?;
        c.cmd(&["FLUSHALL"]).await?;
        c.set("r", "v").await?;
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move {
                    let mut dropped_incrs = 0;
                    for _ in 0..500 {
                        anyhow::ensure!(c.get("r").await?.as_deref() == Some(&b"v"[..]));
                        // Not idempotent: never retried, so a kill may surface as an error.
                        if let Err(e) = c.incr("n").await {
                            anyhow::ensure!(e.is_connection_dropped(), "{e:?}");
                            dropped_incrs += 1;
                        }
                    }
                    anyhow::Ok(dropped_incrs)
                })
            })
            .collect();
        let mut kills = 0;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            kills += admin.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]).await?.into_int()?;
        }
        let mut dropped = 0;
        for r in readers {
            dropped += r.await??;
        }
        println!(
            "{who}: {kills} connections killed under load; every GET succeeded, {dropped} INCRs reported the drop"
        );
        ensure!(kills >= 1, "{who}: the kills must hit the client's connection");
    }
    Ok(())
}
