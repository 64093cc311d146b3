//! cache-client's [`Script`] against a real server: the first call meets `NOSCRIPT` and falls back
//! to `EVAL` (which loads the script), later calls are `EVALSHA`; a `SCRIPT FLUSH` is survived;
//! over three nodes each node loads the script on its own first call, keys route to their node,
//! and keys on two nodes are refused before anything is sent; script errors come back verbatim.
//! RESP3 and RESP2.
//!
//! Which server each test drives is said above it.

mod client_common;

use anyhow::{Result, ensure};
use bytes::Bytes;
use cache_client::{Client, Error, Script, Value};
use cache_tests::ServerOpts;
use client_common::{Target, client_of, ours_group, redis_group};

/// A fixed-window rate limiter, as rate-limiting libraries write it: strings only.
const HIT: &str = "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) \
                   if n == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end \
                   return n";

/// Whether node `node` has `script` cached.
async fn cached(client: &Client, node: usize, script: &Script) -> Result<bool> {
    let v = client.cmd_on(node, &["SCRIPT", "EXISTS", script.sha()]).await?;
    Ok(v == Value::Array(vec![Value::Int(1)]))
}

async fn suite(group: &[Target]) -> Result<()> {
    for resp3 in [true, false] {
        let who = format!("{} resp3={resp3}", group[0].name());
        let client = client_of(group, resp3);
        for i in 0..group.len() {
            client.cmd_on(i, &["FLUSHALL"]).await?;
            client.cmd_on(i, &["SCRIPT", "FLUSH"]).await?;
        }
        let hit = Script::new(HIT);
        let sha = client.cmd_on(0, &["SCRIPT", "LOAD", HIT]).await?;
        ensure!(sha == Value::Bulk(Bytes::copy_from_slice(hit.sha().as_bytes())), "{who}: our SHA-1 is the server's");
        client.cmd_on(0, &["SCRIPT", "FLUSH"]).await?;

        // Each node loads the script on its first call there (NOSCRIPT → EVAL), then EVALSHA.
        let keys: Vec<String> = (0..60).map(|i| format!("rate:{i}")).collect();
        for k in &keys {
            let node = client.node_of(k);
            let first = hit.invoke(&client, &[k], &["1", "100"]).await?;
            ensure!(first == Value::Int(1), "{who}: {k}: {first:?}");
            ensure!(cached(&client, node, &hit).await?, "{who}: node {node} loaded it");
            ensure!(hit.invoke(&client, &[k], &["2", "100"]).await? == Value::Int(3));
            let ttl = client.cmd_on(node, &["TTL", k.as_str()]).await?.into_int()?;
            ensure!((1..=100).contains(&ttl), "{who}: {k} on node {node} has its window: {ttl}");
        }
        for node in 0..group.len() {
            ensure!(cached(&client, node, &hit).await?, "{who}: every node got keys, so every node loaded it");
        }

        // A flushed script cache is survived: the next call loads it again.
        client.cmd_on(client.node_of("rate:0"), &["SCRIPT", "FLUSH"]).await?;
        ensure!(hit.invoke(&client, &["rate:0"], &["1", "100"]).await? == Value::Int(4), "{who}: after FLUSH");

        // Explicit load, and keyless scripts on a chosen node.
        let hello = Script::new("return {1, 'two', ARGV[1]}");
        hello.load(&client, 1).await?;
        ensure!(cached(&client, 1, &hello).await?);
        let v = hello.invoke_on(&client, 1, &[] as &[&str], &["three"]).await?;
        ensure!(v == Value::Array(vec![Value::Int(1), Value::Bulk("two".into()), Value::Bulk("three".into())]));

        // Keys of one script must share a node.
        let other = keys.iter().find(|k| client.node_of(k) != client.node_of("rate:0")).expect("two nodes");
        let e = hit.invoke(&client, &["rate:0", other.as_str()], &["1", "1"]).await.expect_err("cross-node");
        ensure!(matches!(e, Error::CrossNode { .. }), "{who}: {e:?}");
        ensure!(hit.invoke(&client, &["{r}:a", "{r}:b"], &["1", "10"]).await? == Value::Int(1), "{who}: tagged");

        // Errors come back verbatim: a runtime error inside the script, and a script that does
        // not compile (EVAL's error, after the NOSCRIPT fallback).
        client.hset("h", &[("f", "v")]).await?;
        let e = hit.invoke(&client, &["h"], &["1", "10"]).await.expect_err("INCRBY on a hash");
        ensure!(e.server_code() == Some("WRONGTYPE"), "{who}: {e:?}");
        let bad = Script::new("return (");
        let e = bad.invoke(&client, &["x"], &[] as &[&str]).await.expect_err("syntax error");
        ensure!(matches!(&e, Error::Server(t) if t.starts_with("ERR Error compiling script")), "{who}: {e:?}");
    }
    Ok(())
}

/// Drives: redis-server 7 (three instances). Skips with a reason when it is missing; fails under CI.
#[tokio::test]
async fn scripts_on_redis() -> Result<()> {
    let Some(group) = redis_group(3, &ServerOpts::default()) else { return Ok(()) };
    suite(&group).await
}

/// Drives: our server (three in-process instances).
#[tokio::test]
async fn scripts_on_ours() -> Result<()> {
    suite(&ours_group(3, &ServerOpts::default())).await
}
