//! cache-client's cluster mode against a real Redis Cluster (3 × redis-server 7.0, created with
//! `redis-cli --cluster create`, see `cache_tests::cluster`): keys routed to the primary of
//! their slot, `-MOVED` after a slot moved, `-ASK` and `-TRYAGAIN` during a migration, a
//! `redis-cli --cluster reshard` under read/write load with no error surfacing, the near-cache
//! kept coherent by every node's invalidations (and by slot moves and a lost node), a killed
//! node failing only its own slots until it restarts and rejoins, the map refreshed periodically
//! and (coalesced) after errors, and a failover (3 primaries + 3 replicas) followed to the
//! promoted replica.
//!
//! With `CLUSTER_OF_OURS` set, the nodes are our own server instead (`.ci/run` runs every test
//! but the failover, which needs replicas, and the 1000-slot reshard, which `cluster_reshard.rs`
//! covers on our nodes with redis-py).
//!
//! Skipped with a printed reason without redis-server / redis-cli; a failure under `CI=true`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use cache_client::{Client, ClusterConfig, Error, NearCacheConfig, Script, SlotMap, key_slot};
use cache_tests::cluster::{Cluster, ClusterSpec, NodeProgram};

fn start(extra: &[&str], node_timeout_ms: u64) -> Result<Option<Cluster>> {
    let extra = extra.iter().map(|s| (*s).to_owned()).collect();
    start_spec(ClusterSpec { nodes: 3, replicas: 0, node_timeout_ms, extra })
}

fn start_spec(spec: ClusterSpec) -> Result<Option<Cluster>> {
    let program = if std::env::var_os("CLUSTER_OF_OURS").is_some() {
        let Some(_) = cache_tests::peer::require_peer("redis-cli") else { return Ok(None) };
        NodeProgram::ours()
    } else {
        let Some(program) = NodeProgram::redis() else { return Ok(None) };
        program
    };
    Cluster::start(program, spec)
}

/// A cluster-mode client seeded with node 0 only; no periodic refresh during a test, so what
/// it learns, it learns from the cluster's answers.
fn cluster_client(c: &Cluster, near: bool) -> Result<Client> {
    let mut cfg = ClusterConfig::default();
    cfg.refresh_interval = Duration::from_secs(600);
    let mut b = Client::builder()
        .node(c.url(0))
        .cluster(cfg)
        .request_timeout(Duration::from_secs(2))
        .breaker(3, Duration::from_millis(300));
    if near {
        b = b.near_cache(NearCacheConfig::entries(10_000, Duration::from_secs(60)));
    }
    Ok(b.build()?)
}

fn port_of(client: &Client, node: usize) -> u16 {
    client.node_name(node).rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(0)
}

/// Polls `cond` every millisecond for at most `limit`.
async fn within(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    cond()
}

#[tokio::test]
async fn keys_are_routed_by_slot_and_multi_key_commands_split_by_slot() -> Result<()> {
    let Some(c) = start(&[], 2000)? else { return Ok(()) };
    let client = cluster_client(&c, false)?;
    client.refresh_slots().await?;
    let owners = c.slot_owners(0)?;
    ensure!(client.primaries().len() == 3, "{:?}", client.primaries());
    for slot in 0..16384u16 {
        let mine = client.slot_owner(slot).context("an uncovered slot")?;
        let theirs = owners[usize::from(slot)].context("an uncovered slot")?;
        ensure!(port_of(&client, mine) == c.nodes[theirs].port, "slot {slot}");
    }

    // CLUSTER SHARDS (read over RESP3 here) names the same owners as CLUSTER SLOTS.
    let shards = cache_client::parse_cluster_shards(client.cmd_on(0, &["CLUSTER", "SHARDS"]).await?, "127.0.0.1")?;
    let slots = cache_client::parse_cluster_slots(client.cmd_on(0, &["CLUSTER", "SLOTS"]).await?, "127.0.0.1")?;
    let (by_shards, by_slots) =
        (SlotMap::from_ranges(&shards, |e| e.port.into()), SlotMap::from_ranges(&slots, |e| e.port.into()));
    ensure!(by_shards.covered() == 16384 && by_shards.moved(&by_slots).is_empty(), "SHARDS and SLOTS agree");

    let keys: Vec<String> = (0..2000).map(|i| format!("key:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        client.set(k, format!("v{i}")).await?;
    }
    let mut want = vec![0i64; 3];
    for k in &keys {
        want[owners[usize::from(key_slot(k.as_bytes()))].unwrap()] += 1;
    }
    for (i, &n) in want.iter().enumerate() {
        let size: i64 = redis::cmd("DBSIZE").query(&mut c.conn(i)?)?;
        ensure!(size == n, "node {i} holds {size} keys, its slots hold {n} of ours");
    }
    let stats = client.cluster_stats().unwrap();
    ensure!(stats.moved == 0 && stats.asked == 0, "a fresh map needs no redirection: {stats:?}");

    // Multi-key commands split by slot (the server would answer -CROSSSLOT otherwise).
    let got = client.mget(&keys).await?;
    for (i, v) in got.iter().enumerate() {
        ensure!(v.as_deref() == Some(format!("v{i}").as_bytes()), "mget {i}: {v:?}");
    }
    let pairs: Vec<(String, String)> = (0..500).map(|i| (format!("m:{i}"), i.to_string())).collect();
    client.mset(&pairs).await?;
    ensure!(client.exists(&pairs.iter().map(|p| &p.0).collect::<Vec<_>>()).await? == 500);
    ensure!(client.del(&keys[..1000]).await? == 1000);
    ensure!(client.exists(&keys).await? == 1000);
    ensure!(client.cmd(&["GET", "m:7"]).await?.into_opt_bytes()?.as_deref() == Some(&b"7"[..]));

    // Transactions and scripts need one slot.
    let mut tx = client.transaction(&["{user:1}:a", "{user:1}:b"]).await?;
    tx.queue(&["SET", "{user:1}:a", "1"])?;
    tx.queue(&["INCR", "{user:1}:b"])?;
    ensure!(tx.exec().await?.committed().map(|r| r.len()) == Some(2));
    drop(tx);
    let e = client.transaction(&["a", "b"]).await.err().context("a cross-slot transaction")?;
    ensure!(matches!(e, Error::CrossSlot { .. }), "{e}");
    let mut tx = client.transaction(&["{user:1}:a"]).await?;
    ensure!(matches!(tx.queue(&["SET", "{user:2}:a", "x"]), Err(Error::CrossSlot { .. })));
    drop(tx);
    let get = Script::new("return redis.call('GET', KEYS[1])");
    ensure!(matches!(get.invoke(&client, &["a", "b"], &[] as &[&str]).await, Err(Error::CrossSlot { .. })));
    let v = get.invoke(&client, &["{user:1}:a", "{user:1}:b"], &[] as &[&str]).await?;
    ensure!(v.into_opt_bytes()?.as_deref() == Some(&b"1"[..]));
    println!("client_cluster: 2000 keys over 3 primaries {want:?}; {:?}", client.cluster_stats().unwrap());
    Ok(())
}

#[tokio::test]
async fn a_moved_slot_is_followed_and_learnt() -> Result<()> {
    let Some(c) = start(&[], 2000)? else { return Ok(()) };
    let client = cluster_client(&c, false)?;
    for i in 0..50 {
        client.set(format!("k:{i}"), "before").await?;
    }
    let slot = key_slot(b"k:7");
    let from = c.owner(0, slot)?;
    let to = (from + 1) % 3;
    c.move_slot(slot, from, to)?;
    ensure!(port_of(&client, client.slot_owner(slot).unwrap()) == c.nodes[from].port, "the map is stale");
    ensure!(client.get("k:7").await?.as_deref() == Some(&b"before"[..]));
    let stats = client.cluster_stats().unwrap();
    ensure!(stats.moved >= 1, "{stats:?}");
    ensure!(port_of(&client, client.slot_owner(slot).unwrap()) == c.nodes[to].port, "MOVED updated the map");
    client.set("k:7", "after").await?;
    let direct: Option<String> = redis::cmd("GET").arg("k:7").query(&mut c.conn(to)?)?;
    ensure!(direct.as_deref() == Some("after"), "the write reached the new owner: {direct:?}");
    for i in 0..50 {
        let want: &[u8] = if i == 7 { b"after" } else { b"before" };
        ensure!(client.get(format!("k:{i}")).await?.as_deref() == Some(want), "k:{i}");
    }
    // A transaction under a stale map: WATCH answers -MOVED, `transact` starts over on the owner.
    let stale = cluster_client(&c, false)?;
    stale.refresh_slots().await?;
    let tslot = key_slot(b"{tx}n");
    let tfrom = c.owner(0, tslot)?;
    c.move_slot(tslot, tfrom, (tfrom + 1) % 3)?;
    let done = stale
        .transact(&["{tx}n"], 3, |tx| {
            Box::pin(async move {
                tx.queue(&["INCR", "{tx}n"])?;
                Ok(())
            })
        })
        .await?;
    ensure!(done.replies.len() == 1 && done.attempts == 1, "{done:?}");
    ensure!(stale.get("{tx}n").await?.as_deref() == Some(&b"1"[..]));

    // A whole range moved by redis-cli: the client follows, then learns the map.
    c.reshard(to, from, 200)?;
    for i in 0..50 {
        client.set(format!("k:{i}"), "resharded").await?;
    }
    client.refresh_slots().await?;
    let owners = c.slot_owners(0)?;
    for s in 0..16384u16 {
        let mine = port_of(&client, client.slot_owner(s).unwrap());
        ensure!(mine == c.nodes[owners[usize::from(s)].unwrap()].port, "slot {s} after the refresh");
    }
    println!("client_cluster: moved: {:?}", client.cluster_stats().unwrap());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_during_a_migration_and_tryagain_for_multi_key_reads() -> Result<()> {
    let Some(c) = start(&[], 2000)? else { return Ok(()) };
    let c = Arc::new(c);
    let client = cluster_client(&c, false)?;
    client.set("{ask}a", "1").await?;
    client.set("{ask}b", "2").await?;
    let slot = key_slot(b"{ask}a");
    let from = c.owner(0, slot)?;
    let to = (from + 1) % 3;
    c.begin_migration(slot, from, to, &["{ask}a"])?;

    ensure!(client.get("{ask}a").await?.as_deref() == Some(&b"1"[..]), "a migrated key, via ASK");
    let stats = client.cluster_stats().unwrap();
    ensure!(stats.asked >= 1 && stats.moved == 0, "{stats:?}");
    ensure!(port_of(&client, client.slot_owner(slot).unwrap()) == c.nodes[from].port, "ASK leaves the map alone");
    ensure!(client.get("{ask}b").await?.as_deref() == Some(&b"2"[..]), "a key not yet migrated");
    client.set("{ask}c", "3").await?;
    ensure!(client.get("{ask}c").await?.as_deref() == Some(&b"3"[..]), "a new key lands on the target");
    let on_target: i64 = redis::cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(slot).query(&mut c.conn(to)?)?;
    ensure!(on_target == 2, "{on_target} keys on the importing node");

    // Keys split between source and target: -TRYAGAIN until the migration ends.
    let finisher = {
        let c = Arc::clone(&c);
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(100));
            c.finish_migration(slot, from, to)
        })
    };
    let got = client.mget(&["{ask}a", "{ask}b", "{ask}c"]).await?;
    finisher.await??;
    let got: Vec<Option<&[u8]>> = got.iter().map(Option::as_deref).collect();
    ensure!(got == [Some(&b"1"[..]), Some(b"2"), Some(b"3")], "{got:?}");
    let stats = client.cluster_stats().unwrap();
    ensure!(stats.busy_retries >= 1, "{stats:?}");
    ensure!(client.get("{ask}b").await?.as_deref() == Some(&b"2"[..]));
    ensure!(port_of(&client, client.slot_owner(slot).unwrap()) == c.nodes[to].port, "MOVED after the migration");
    println!("client_cluster: ask: {stats:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshard_under_load_surfaces_no_error() -> Result<()> {
    let Some(c) = start(&[], 2000)? else { return Ok(()) };
    let c = Arc::new(c);
    let client = cluster_client(&c, false)?;
    // `--cluster reshard` moves the source's lowest slots first: put the keys there, so that
    // reads and writes meet slots in the middle of their migration.
    let slots = 1000;
    let first = c.slot_owners(0)?.iter().position(|o| *o == Some(0)).context("node 0 owns slots")?;
    let keys: Vec<String> = (0..)
        .map(|i| format!("load:{i}"))
        .filter(|k| (first..first + slots).contains(&usize::from(key_slot(k.as_bytes()))))
        .take(400)
        .collect();
    for k in &keys {
        client.set(k, "0").await?;
    }
    let reshard = {
        let c = Arc::clone(&c);
        tokio::task::spawn_blocking(move || c.reshard(0, 1, slots))
    };
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = keys
        .chunks(100)
        .map(|chunk| {
            let (client, chunk, done) = (client.clone(), chunk.to_vec(), Arc::clone(&done));
            tokio::spawn(async move {
                let (mut ops, mut round) = (0u64, 0u64);
                while !done.load(std::sync::atomic::Ordering::Acquire) || round < 2 {
                    round += 1;
                    for k in &chunk {
                        client.set(k, round.to_string()).await.with_context(|| format!("SET {k} in round {round}"))?;
                        let v = client.get(k).await.with_context(|| format!("GET {k} in round {round}"))?;
                        ensure!(v.as_deref() == Some(round.to_string().as_bytes()), "{k}: {v:?} in round {round}");
                        ops += 2;
                    }
                    ensure!(started.elapsed() < Duration::from_secs(120), "the reshard did not end");
                }
                Ok::<_, anyhow::Error>((chunk, round, ops))
            })
        })
        .collect();
    let resharded = reshard.await?;
    done.store(true, std::sync::atomic::Ordering::Release);
    resharded?;
    let mut ops = 0;
    for w in workers {
        let (chunk, round, n) = w.await??;
        ops += n;
        for k in &chunk {
            ensure!(client.get(k).await?.as_deref() == Some(round.to_string().as_bytes()), "{k} lost");
        }
    }
    c.check(0)?;
    let stats = client.cluster_stats().unwrap();
    ensure!(stats.moved > 0, "the reshard was seen: {stats:?}");
    println!(
        "client_cluster: reshard of {slots} slots under load (4 tasks): {ops} ops in {:?}, 0 errors, {stats:?}",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn the_near_cache_stays_coherent_across_nodes() -> Result<()> {
    let Some(mut c) = start(&[], 2000)? else { return Ok(()) };
    let reader = cluster_client(&c, true)?;
    let writer = cluster_client(&c, false)?;
    reader.refresh_slots().await?;
    let keys: Vec<String> = (0..60).map(|i| format!("nc:{i}")).collect();
    let mut by_node: HashMap<usize, Vec<&String>> = HashMap::new();
    for k in &keys {
        by_node.entry(reader.node_of(k)).or_default().push(k);
    }
    ensure!(by_node.len() == 3, "keys on every primary");
    for k in &keys {
        writer.set(k, "v1").await?;
        ensure!(reader.get(k).await?.as_deref() == Some(&b"v1"[..]));
    }
    let near = reader.near_cache().unwrap();
    ensure!(keys.iter().all(|k| near.contains(k.as_bytes())), "every read filled the near-cache");

    // A write through another client, on each node, reaches the reader's near-cache.
    for k in &keys {
        writer.set(k, "v2").await?;
    }
    ensure!(
        within(Duration::from_secs(2), || keys.iter().all(|k| !near.contains(k.as_bytes()))).await,
        "invalidations from every node"
    );
    for k in &keys {
        ensure!(reader.get(k).await?.as_deref() == Some(&b"v2"[..]));
    }

    // A slot moves: the entry goes, the next read fills from the new owner, whose
    // invalidations then reach the reader.
    let k = keys[0].as_str();
    let slot = key_slot(k.as_bytes());
    let from = c.owner(0, slot)?;
    let to = (from + 1) % 3;
    ensure!(near.contains(k.as_bytes()));
    c.move_slot(slot, from, to)?;
    reader.refresh_slots().await?;
    ensure!(!near.contains(k.as_bytes()), "a moved slot's entries are dropped");
    ensure!(reader.cluster_stats().unwrap().slots_moved >= 1);
    ensure!(reader.get(k).await?.as_deref() == Some(&b"v2"[..]));
    ensure!(near.contains(k.as_bytes()), "filled from the new owner");
    writer.set(k, "v3").await?;
    ensure!(within(Duration::from_secs(2), || !near.contains(k.as_bytes())).await, "the new owner's invalidation");
    ensure!(reader.get(k).await?.as_deref() == Some(&b"v3"[..]));

    // A node dies: its entries go (no one would invalidate them), the others' stay.
    for k in &keys {
        reader.get(k).await?;
    }
    let victim = (0..3).find(|&i| i != 0 && i != to).unwrap_or(2);
    let victim_node = (0..reader.node_count())
        .find(|&n| port_of(&reader, n) == c.nodes[victim].port)
        .context("the client knows the victim")?;
    c.kill(victim);
    let gone = |k: &String| reader.node_of(k) == victim_node;
    ensure!(
        within(Duration::from_secs(2), || keys.iter().filter(|k| gone(k)).all(|k| !near.contains(k.as_bytes()))).await,
        "the dead node's entries are dropped"
    );
    ensure!(keys.iter().filter(|k| !gone(k)).all(|k| near.contains(k.as_bytes())), "the other nodes' entries stay");
    println!("client_cluster: near-cache {:?}", reader.near_cache_stats().unwrap());
    Ok(())
}

#[tokio::test]
async fn a_killed_node_fails_only_its_slots_and_rejoins() -> Result<()> {
    let Some(mut c) = start(&["--cluster-require-full-coverage", "no"], 1000)? else { return Ok(()) };
    let client = cluster_client(&c, false)?;
    let keys: Vec<String> = (0..300).map(|i| format!("kill:{i}")).collect();
    for k in &keys {
        client.set(k, "v").await?;
    }
    let dead = 2;
    let owners = c.slot_owners(0)?;
    let on_dead = |k: &String| owners[usize::from(key_slot(k.as_bytes()))] == Some(dead);
    ensure!(keys.iter().any(on_dead));
    c.kill(dead);
    // Before and after the others mark it failed (node timeout 1 s).
    for phase in ["at once", "after the node timeout"] {
        for k in &keys {
            let r = client.get(k).await;
            if on_dead(k) {
                ensure!(r.is_err(), "{phase}: {k} on the dead node answered {r:?}");
            } else {
                ensure!(r?.as_deref() == Some(&b"v"[..]), "{phase}: {k}");
                client.set(k, "w").await.with_context(|| format!("{phase}: SET {k}"))?;
                client.set(k, "v").await?;
            }
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    c.restart(dead)?;
    c.wait_ready(Duration::from_secs(30))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    for k in keys.iter().filter(|k| on_dead(k)) {
        loop {
            match client.set(k, "back").await {
                Ok(()) => break,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => bail!("{k} after the restart: {e}"),
            }
        }
        ensure!(client.get(k).await?.as_deref() == Some(&b"back"[..]));
    }
    c.check(0)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_is_refreshed_periodically_and_error_refreshes_coalesce() -> Result<()> {
    let Some(c) = start(&[], 2000)? else { return Ok(()) };
    let mut cfg = ClusterConfig::default();
    cfg.refresh_interval = Duration::from_millis(200);
    let client = Client::builder().node(c.url(0)).cluster(cfg).build()?;
    client.refresh_slots().await?;
    let slot = key_slot(b"p:1");
    let from = c.owner(0, slot)?;
    c.move_slot(slot, from, (from + 1) % 3)?;
    let to_port = c.nodes[(from + 1) % 3].port;
    ensure!(
        within(Duration::from_secs(3), || client.slot_owner(slot).is_some_and(|n| port_of(&client, n) == to_port))
            .await,
        "the periodic refresh saw the move"
    );
    ensure!(client.cluster_stats().unwrap().moved == 0, "learnt without a redirection");

    // A stale map meets 2000 concurrent requests: every one is redirected at most a few times,
    // but the refreshes they trigger coalesce and are rate-limited.
    let stale = cluster_client(&c, false)?;
    stale.refresh_slots().await?;
    c.reshard(0, 1, 300)?;
    let before = stale.cluster_stats().unwrap();
    let started = Instant::now();
    let keys: Vec<String> = (0..2000).map(|i| format!("burst:{i}")).collect();
    let futs: Vec<_> = keys.iter().map(|k| stale.set(k, "x")).collect();
    for r in futures_join(futs).await {
        r?;
    }
    let elapsed = started.elapsed();
    let after = stale.cluster_stats().unwrap();
    let refreshes = after.refreshes - before.refreshes;
    let bound = 2 + elapsed.as_millis() / 100;
    ensure!(after.moved > before.moved, "{after:?}");
    ensure!(refreshes <= u64::try_from(bound)?, "{refreshes} refreshes in {elapsed:?} (bound {bound})");
    println!("client_cluster: 2000 SETs on a stale map: {elapsed:?}, {refreshes} refreshes, {after:?}");
    Ok(())
}

/// Runs the futures concurrently on this task.
async fn futures_join<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut left = false;
        for (f, r) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(fut) = f {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *r = Some(v);
                        *f = None;
                    }
                    std::task::Poll::Pending => left = true,
                }
            }
        }
        if left { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.extend(results.into_iter().map(|r| r.expect("done")));
    out
}

#[tokio::test]
async fn after_a_failover_the_client_follows_the_promoted_replica() -> Result<()> {
    let spec = ClusterSpec { nodes: 6, replicas: 1, node_timeout_ms: 1000, extra: Vec::new() };
    let Some(mut c) = start_spec(spec)? else { return Ok(()) };
    let client = cluster_client(&c, true)?;
    let keys: Vec<String> = (0..200).map(|i| format!("fo:{i}")).collect();
    for k in &keys {
        client.set(k, "v").await?;
    }
    let owners = c.slot_owners(0)?;
    let dead = owners[usize::from(key_slot(b"fo:0"))].context("owned")?;
    // The replica has every write before the primary dies. WAIT counts acknowledgements of its
    // own connection's last write, so write once more on that connection: the replication stream
    // is ordered, so its acknowledgement covers every earlier write.
    let mut primary = c.conn(dead)?;
    let () = redis::cmd("SET").arg("fo:0").arg("v").query(&mut primary)?;
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut primary)?;
    ensure!(acked == 1, "the replica acknowledged the writes");
    let alive = (0..6).find(|&i| i != dead).unwrap_or(0);
    c.kill(dead);
    let started = Instant::now();
    let mut errors = 0;
    for k in &keys {
        loop {
            match client.get(k).await {
                Ok(v) => {
                    if v.as_deref() != Some(&b"v"[..]) {
                        let mut seen = Vec::new();
                        for i in (0..6).filter(|&i| i != dead) {
                            let mut conn = c.conn(i)?;
                            let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut conn)?;
                            let got: redis::RedisResult<Option<String>> = redis::cmd("GET").arg(k).query(&mut conn);
                            seen.push(format!("{}: {:?} {got:?}", c.nodes[i].port, role.first()));
                        }
                        bail!(
                            "{k}: {v:?} after the failover, {:?} after the kill; the client routes to {:?}; dead {}; {seen:?}; {:?}",
                            started.elapsed(),
                            client.slot_owner(key_slot(k.as_bytes())).map(|n| client.node_name(n)),
                            c.nodes[dead].port,
                            client.cluster_stats()
                        );
                    }
                    break;
                }
                Err(_) if started.elapsed() < Duration::from_secs(30) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    let owner = c.slot_owners(alive)?[usize::from(key_slot(k.as_bytes()))];
                    bail!(
                        "{k} still failing 30 s after the kill: {e}; the cluster says {owner:?} (ports {:?}), the client {:?}",
                        c.nodes.iter().map(|n| n.port).collect::<Vec<_>>(),
                        client.slot_owner(key_slot(k.as_bytes())).map(|n| client.node_name(n))
                    )
                }
            }
        }
    }
    let promoted = c.owner(alive, key_slot(b"fo:0"))?;
    ensure!(promoted != dead);
    ensure!(port_of(&client, client.slot_owner(key_slot(b"fo:0")).unwrap()) == c.nodes[promoted].port);
    println!(
        "client_cluster: failover: all keys served again {:?} after the kill ({errors} failed reads meanwhile); {:?}",
        started.elapsed(),
        client.cluster_stats().unwrap()
    );
    Ok(())
}
