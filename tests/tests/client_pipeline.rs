//! cache-client's multiplexing against our server and redis-server: thousands of requests in
//! flight on one connection (an explicit pipeline, and thousands of concurrent tasks sharing
//! one socket) with every reply matched to its request; and, against a fake server that
//! refuses `HELLO` and then never answers, the RESP2 fallback and the per-request timeout.

mod client_common;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use bytes::Bytes;
use cache_client::{Client, Value};
use client_common::targets;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn thousands_in_flight_on_one_connection() -> Result<()> {
    for t in targets() {
        let who = t.name();
        let client = Client::builder().node(t.url()).pool_size(1).build()?;
        client.cmd(&["FLUSHALL"]).await?;
        const N: usize = 5000;
        let sets: Vec<Vec<String>> = (0..N).map(|i| vec!["SET".into(), format!("p:{i}"), format!("v{i}")]).collect();
        let started = Instant::now();
        let replies = client.pipeline(0, &sets).await?;
        ensure!(replies.len() == N && replies.iter().all(|r| matches!(r, Ok(Value::Status(s)) if s == "OK")), "{who}");
        let gets: Vec<Vec<String>> = (0..N).map(|i| vec!["GET".into(), format!("p:{i}")]).collect();
        let replies = client.pipeline(0, &gets).await?;
        for (i, r) in replies.into_iter().enumerate() {
            ensure!(r? == Value::Bulk(Bytes::from(format!("v{i}"))), "{who}: reply {i} out of order");
        }
        println!("{who}: {} pipelined commands on one connection in {:?}", 2 * N, started.elapsed());

        // Thousands of independent callers multiplexed on the same single connection.
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..3000 {
            let c = client.clone();
            tasks.spawn(async move { (i, c.get(format!("p:{i}")).await) });
        }
        while let Some(r) = tasks.join_next().await {
            let (i, v) = r?;
            ensure!(v?.as_deref() == Some(format!("v{i}").as_bytes()), "{who}: task {i} got another's reply");
        }
        println!("{who}: 3000 concurrent GETs over one connection in {:?}", started.elapsed());
    }
    Ok(())
}

#[tokio::test]
async fn falls_back_to_resp2_and_times_out_a_silent_server() -> Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let mut buf = vec![0u8; 4096];
        // The HELLO 3: answer like a RESP2-only server, then go silent.
        let n = s.read(&mut buf).await?;
        anyhow::ensure!(buf[..n].windows(5).any(|w| w == b"HELLO"));
        s.write_all(b"-ERR unknown command 'HELLO'\r\n").await?;
        while s.read(&mut buf).await? > 0 {}
        anyhow::Ok(())
    });
    let client = Client::builder()
        .node(format!("redis://{addr}"))
        .request_timeout(Duration::from_millis(100))
        .max_retries(0)
        .pool_size(1)
        .build()?;
    let t = Instant::now();
    let e = client.get("k").await.expect_err("the fake server never answers");
    ensure!(e.is_timeout() && e.is_retryable() && !e.is_connection_dropped(), "{e:?}");
    ensure!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    drop(client);
    server.abort();
    Ok(())
}

#[tokio::test]
async fn a_handshake_that_never_completes_hits_the_connect_timeout() -> Result<()> {
    // Accepts (the kernel completes the TCP handshake) but never answers HELLO.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let client = Client::builder()
        .node(format!("redis://{addr}"))
        .connect_timeout(Duration::from_millis(100))
        .request_timeout(Duration::from_secs(5))
        .max_retries(0)
        .build()?;
    let t = Instant::now();
    let e = client.get("k").await.expect_err("no handshake");
    ensure!(
        e.is_timeout()
            && e.is_retryable()
            && matches!(e, cache_client::Error::Timeout(d) if d == Duration::from_millis(100)),
        "{e:?}"
    );
    ensure!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    server.abort();
    Ok(())
}
