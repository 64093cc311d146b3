//! cache-client's transactions against a real server: `MULTI`/`EXEC` results per command, a
//! command refused while queueing (`EXECABORT`), `WATCH` conflicts caused by a second client,
//! `Client::transact` retrying after a conflict and giving up after its bound, the exclusive
//! connection (given back clean, closed when dropped mid-`WATCH`), keys checked against the ring
//! over three nodes, and a script queued inside a transaction. RESP3 and RESP2.
//!
//! Which server each test drives is said above it.

mod client_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Result, ensure};
use bytes::Bytes;
use cache_client::{Client, Error, Script, Value};
use cache_tests::ServerOpts;
use client_common::{Target, client_of, ours_group, redis_group};

fn ok() -> Value {
    Value::Status("OK".into())
}

fn bulk(s: &str) -> Value {
    Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// The server-side id of the transaction's connection.
async fn conn_id(tx: &mut cache_client::Transaction) -> Result<i64> {
    Ok(tx.cmd_unchecked(&["CLIENT", "ID"]).await?.into_int()?)
}

/// Clears every node of `client`.
async fn flush(client: &Client, nodes: usize) -> Result<()> {
    for i in 0..nodes {
        client.cmd_on(i, &["FLUSHALL"]).await?;
    }
    Ok(())
}

async fn exec_results(client: &Client, who: &str) -> Result<()> {
    // Queued commands run in order; each result is its own, errors included (no rollback).
    let mut tx = client.transaction(&["{t}:a", "{t}:s"]).await?;
    tx.queue(&["SET", "{t}:a", "1"])?.queue(&["INCR", "{t}:a"])?.queue(&["GET", "{t}:a"])?;
    tx.queue(&["SET", "{t}:s", "text"])?.queue(&["INCR", "{t}:s"])?.queue(&["APPEND", "{t}:s", "!"])?;
    ensure!(tx.len() == 6);
    let results = tx.exec().await?.committed().expect("no WATCH, no conflict");
    ensure!(matches!(&results[0], Ok(v) if *v == ok()), "{who}: {results:?}");
    ensure!(matches!(&results[1], Ok(Value::Int(2))), "{who}: {results:?}");
    ensure!(matches!(&results[2], Ok(v) if *v == bulk("2")), "{who}: {results:?}");
    ensure!(
        matches!(&results[4], Err(Error::Server(t)) if t == "ERR value is not an integer or out of range"),
        "{who}: the failing INCR is reported alone: {results:?}"
    );
    ensure!(matches!(&results[5], Ok(Value::Int(5))), "{who}: the command after it still ran: {results:?}");
    ensure!(tx.is_empty(), "{who}: exec clears the queue");

    // An empty transaction commits nothing.
    ensure!(tx.exec().await?.committed().is_some_and(|r| r.is_empty()), "{who}: empty EXEC");

    // A command refused while queueing aborts the whole transaction: nothing runs.
    tx.queue(&["SET", "{t}:a", "99"])?.queue(&["SET", "{t}:a"])?.queue(&["INCR", "{t}:a"])?;
    let e = tx.exec().await.expect_err("EXECABORT");
    match &e {
        Error::ExecAbort { reply, rejected } => {
            ensure!(reply == "EXECABORT Transaction discarded because of previous errors.", "{who}: {reply}");
            ensure!(
                rejected.as_slice() == [(1, "ERR wrong number of arguments for 'set' command".to_owned())],
                "{who}: {rejected:?}"
            );
        }
        other => anyhow::bail!("{who}: expected ExecAbort, got {other:?}"),
    }
    ensure!(e.server_code() == Some("EXECABORT"));
    ensure!(client.get("{t}:a").await? == Some(Bytes::from("2")), "{who}: the aborted SET did not run");

    // The connection is still usable after an abort.
    tx.queue(&["INCR", "{t}:a"])?;
    ensure!(matches!(tx.exec().await?.committed().as_deref(), Some([Ok(Value::Int(3))])), "{who}: after abort");
    Ok(())
}

async fn watch_conflicts(client: &Client, other: &Client, who: &str) -> Result<()> {
    client.set("{w}:balance", "100").await?;
    let mut tx = client.transaction(&["{w}:balance"]).await?;

    // A second client writes the watched key between WATCH and EXEC: nothing runs.
    tx.watch(&["{w}:balance"]).await?;
    ensure!(tx.get("{w}:balance").await? == Some(Bytes::from("100")));
    other.set("{w}:balance", "70").await?;
    tx.queue(&["DECRBY", "{w}:balance", "10"])?;
    ensure!(tx.exec().await?.is_conflict(), "{who}: EXEC after a watched write answers nil");
    ensure!(client.get("{w}:balance").await? == Some(Bytes::from("70")), "{who}: the DECRBY did not run");

    // The same transaction, another round: no conflict now (EXEC ended the old WATCH).
    tx.watch(&["{w}:balance"]).await?;
    tx.queue(&["DECRBY", "{w}:balance", "10"])?;
    ensure!(matches!(tx.exec().await?.committed().as_deref(), Some([Ok(Value::Int(60))])), "{who}: retry");

    // A write by this client's own pool (another connection) is a conflict too.
    tx.watch(&["{w}:balance"]).await?;
    client.set("{w}:balance", "1").await?;
    tx.queue(&["SET", "{w}:balance", "2"])?;
    ensure!(tx.exec().await?.is_conflict(), "{who}: a pooled write conflicts");

    // Unrelated writes through the pool while watching do not (the pool never sends on the
    // transaction's connection).
    tx.watch(&["{w}:balance"]).await?;
    for i in 0..50 {
        client.set(format!("{{w}}:noise{i}"), "x").await?;
    }
    tx.queue(&["SET", "{w}:balance", "3"])?;
    ensure!(!tx.exec().await?.is_conflict(), "{who}: pooled traffic does not touch the WATCH");

    // discard drops the queue and the WATCH.
    tx.watch(&["{w}:balance"]).await?;
    tx.queue(&["SET", "{w}:balance", "4"])?;
    tx.discard().await?;
    other.set("{w}:balance", "5").await?;
    tx.queue(&["GET", "{w}:balance"])?;
    let r = tx.exec().await?.committed();
    ensure!(matches!(r.as_deref(), Some([Ok(v)]) if *v == bulk("5")), "{who}: after discard: {r:?}");
    Ok(())
}

async fn exclusive_connections(client: &Client, who: &str) -> Result<()> {
    // A transaction left clean gives its connection back; the next one reuses it.
    let mut tx = client.transaction(&["{x}:k"]).await?;
    let first = conn_id(&mut tx).await?;
    tx.queue(&["SET", "{x}:k", "1"])?;
    ensure!(!tx.exec().await?.is_conflict());
    drop(tx);
    let mut tx = client.transaction(&["{x}:k"]).await?;
    ensure!(conn_id(&mut tx).await? == first, "{who}: a clean connection is reused");

    // Two transactions at once get two connections.
    let mut tx2 = client.transaction(&["{x}:k"]).await?;
    ensure!(conn_id(&mut tx2).await? != first, "{who}: one transaction per connection");
    drop(tx2);

    // Dropped while watching: the connection is closed (the server forgets the WATCH with it),
    // never handed to the next transaction.
    tx.watch(&["{x}:k"]).await?;
    drop(tx);
    let mut tx = client.transaction(&["{x}:k"]).await?;
    let second = conn_id(&mut tx).await?;
    ensure!(second != first, "{who}: a connection left watching is not reused");

    // The transaction sends MULTI/EXEC/DISCARD itself; a raw WATCH is tracked; a SELECT keeps the
    // connection out of the pool (it would hand the next transaction another database).
    let e = tx.cmd_unchecked(&["EXEC"]).await.expect_err("EXEC is the transaction's");
    ensure!(matches!(e, Error::Config(_)), "{who}: {e:?}");
    tx.cmd_unchecked(&["SELECT", "1"]).await?;
    drop(tx);
    let mut tx = client.transaction(&["{x}:k"]).await?;
    let third = conn_id(&mut tx).await?;
    ensure!(third != second, "{who}: a connection that changed database is not reused");
    ensure!(tx.get("{x}:k").await? == Some(Bytes::from("1")), "{who}: database 0");
    tx.cmd_unchecked(&["WATCH", "{x}:k"]).await?;
    drop(tx);
    let mut tx = client.transaction(&["{x}:k"]).await?;
    ensure!(conn_id(&mut tx).await? != third, "{who}: a raw WATCH counts as watching");
    Ok(())
}

async fn transact_retries(client: &Client, other: &Client, who: &str) -> Result<()> {
    client.set("{c}:n", "10").await?;
    // The closure reads, then (on the first attempt only) a second client writes the watched key
    // before EXEC: the first EXEC conflicts, the second commits.
    let calls = Arc::new(AtomicU32::new(0));
    let done = client
        .transact(&["{c}:n"], 5, |tx| {
            let (calls, other) = (Arc::clone(&calls), other.clone());
            Box::pin(async move {
                let n: i64 = std::str::from_utf8(&tx.get("{c}:n").await?.unwrap_or_default())
                    .map_err(|e| Error::Protocol(e.to_string()))?
                    .parse()
                    .map_err(|_| Error::Protocol("not a number".into()))?;
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    other.set("{c}:n", "20").await?;
                }
                tx.queue(&["SET", "{c}:n", &(n * 2).to_string()])?;
                Ok(n)
            })
        })
        .await?;
    ensure!(done.attempts == 2 && done.value == 20, "{who}: attempts {} value {}", done.attempts, done.value);
    ensure!(matches!(done.replies.as_slice(), [Ok(v)] if *v == ok()), "{who}: {:?}", done.replies);
    ensure!(client.get("{c}:n").await? == Some(Bytes::from("40")), "{who}: doubled the fresh value");

    // A writer on every attempt: the bound is reached.
    let e = client
        .transact(&["{c}:n"], 3, |tx| {
            let other = other.clone();
            Box::pin(async move {
                tx.get("{c}:n").await?;
                other.incr("{c}:n").await?;
                tx.queue(&["SET", "{c}:n", "0"])?;
                Ok(())
            })
        })
        .await
        .expect_err("always conflicting");
    ensure!(matches!(e, Error::WatchConflict { attempts: 3 }), "{who}: {e:?}");
    ensure!(client.get("{c}:n").await? == Some(Bytes::from("43")), "{who}: no SET ran");

    // The closure's error is returned at once, without retrying or committing.
    let calls = Arc::new(AtomicU32::new(0));
    let e = client
        .transact(&["{c}:n"], 5, |tx| {
            let calls = Arc::clone(&calls);
            Box::pin(async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tx.queue(&["SET", "{c}:n", "0"])?;
                Err::<(), _>(Error::Protocol("business rule says no".into()))
            })
        })
        .await
        .expect_err("the closure fails");
    ensure!(matches!(&e, Error::Protocol(t) if t == "business rule says no"), "{who}: {e:?}");
    ensure!(calls.load(Ordering::SeqCst) == 1 && client.get("{c}:n").await? == Some(Bytes::from("43")));
    Ok(())
}

async fn queued_script(client: &Client, who: &str) -> Result<()> {
    // The node has no script cached: exec loads it before MULTI, so EVALSHA cannot fail.
    let node = client.node_of("{s}:n");
    client.cmd_on(node, &["SCRIPT", "FLUSH"]).await?;
    let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let mut tx = client.transaction(&["{s}:n"]).await?;
    tx.queue_script(&script, &["{s}:n"], &["5"])?.queue_script(&script, &["{s}:n"], &["2"])?;
    let r = tx.exec().await?.committed();
    ensure!(matches!(r.as_deref(), Some([Ok(Value::Int(5)), Ok(Value::Int(7))])), "{who}: {r:?}");
    Ok(())
}

async fn keys_must_share_a_node(client: &Client, who: &str) -> Result<()> {
    // Two plain keys on different nodes (the ring spreads them), and hash-tagged ones together.
    let a = "plain:0".to_owned();
    let b = (1..1000).map(|i| format!("plain:{i}")).find(|k| client.node_of(k) != client.node_of(&a)).expect("2 nodes");
    let e = client.transaction(&[&a, &b]).await.expect_err("keys on two nodes");
    ensure!(matches!(&e, Error::CrossNode { first, other, .. } if *first == a && *other == b), "{who}: {e:?}");
    ensure!(e.to_string().contains("hash tag"), "{who}: the error says how to fix it: {e}");

    let mut tx = client.transaction(&[&a]).await?;
    ensure!(tx.node() == client.node_of(&a));
    ensure!(matches!(tx.queue(&["SET", b.as_str(), "1"]), Err(Error::CrossNode { .. })), "{who}: queue checks");
    ensure!(matches!(tx.watch(&[&b]).await, Err(Error::CrossNode { .. })), "{who}: watch checks");
    ensure!(tx.is_empty(), "{who}: nothing was queued");

    // Every tagged key of one transaction lands on the tag's node, whichever it is.
    for tag in ["alpha", "beta", "gamma", "delta"] {
        let (k1, k2) = (format!("{{{tag}}}:1"), format!("user:{{{tag}}}:2"));
        let mut tx = client.transaction(&[&k1, &k2]).await?;
        tx.queue(&["SET", k1.as_str(), "x"])?.queue(&["SET", k2.as_str(), "y"])?;
        ensure!(!tx.exec().await?.is_conflict());
        let node = client.node_of(&k1);
        ensure!(client.cmd_on(node, &["GET", k2.as_str()]).await? == bulk("y"), "{who}: {k2} on node {node}");
    }
    Ok(())
}

async fn suite(group: &[Target]) -> Result<()> {
    let who = group[0].name();
    for resp3 in [true, false] {
        let who = format!("{who} resp3={resp3}");
        let client = client_of(group, resp3);
        let other = client_of(group, resp3);
        flush(&client, group.len()).await?;
        exec_results(&client, &who).await?;
        watch_conflicts(&client, &other, &who).await?;
        exclusive_connections(&client, &who).await?;
        transact_retries(&client, &other, &who).await?;
        queued_script(&client, &who).await?;
        keys_must_share_a_node(&client, &who).await?;
    }
    Ok(())
}

/// Drives: redis-server 7 (three instances). Skips with a reason when it is missing; fails under CI.
#[tokio::test]
async fn transactions_on_redis() -> Result<()> {
    let Some(group) = redis_group(3, &ServerOpts::default()) else { return Ok(()) };
    suite(&group).await
}

/// Drives: our server (three in-process instances).
#[tokio::test]
async fn transactions_on_ours() -> Result<()> {
    suite(&ours_group(3, &ServerOpts::default())).await
}
