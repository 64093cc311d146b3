//! The `redis` crate (redis-rs, v1) as a real client of our server: the sync connection and the async
//! multiplexed tokio connection, each over RESP2 and RESP3 (the crate's `protocol=` setting, which
//! sends `HELLO 3`), typed commands, raw `cmd`, pipelines, binary keys and values, and the error codes
//! a client branches on (`WRONGTYPE`, `ERR`). What the replies must be is Redis's behaviour; running
//! with `CACHE_TESTS_SUBJECT=redis` checks these expectations against a real redis-server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use cache_tests::{ServerOpts, Subject};
use redis::{AsyncTypedCommands, ExistenceCheck, Expiry, SetExpiry, SetOptions, TypedCommands, Value};

const TIMEOUT: Duration = Duration::from_secs(20);

fn url(addr: SocketAddr, resp3: bool) -> String {
    format!("redis://{addr}/?protocol={}", if resp3 { "resp3" } else { "resp2" })
}

fn sync_suite(addr: SocketAddr, resp3: bool) -> Result<()> {
    let client = redis::Client::open(url(addr, resp3))?;
    let mut con = client.get_connection_with_timeout(TIMEOUT)?;
    con.set_read_timeout(Some(TIMEOUT))?;
    con.set_write_timeout(Some(TIMEOUT))?;
    redis::cmd("FLUSHALL").exec(&mut con)?;

    // Strings, typed.
    con.set("greeting", "hello")?;
    ensure!(con.get("greeting")? == Some("hello".to_owned()));
    ensure!(con.get("missing")?.is_none());
    ensure!(con.append("greeting", " world")? == 11);
    ensure!(con.strlen("greeting")? == 11);
    ensure!(con.getrange("greeting", 0, 4)? == "hello");
    ensure!(con.setrange("greeting", 6, "WORLD")? == 11);
    ensure!(con.get("greeting")? == Some("hello WORLD".to_owned()));
    ensure!(con.incr("counter", 5)? == 5);
    ensure!(con.decr("counter", 2)? == 3);
    let f: f64 = redis::cmd("INCRBYFLOAT").arg("float").arg(1.5).query(&mut con)?;
    ensure!((f - 1.5).abs() < f64::EPSILON);
    con.mset(&[("a", "1"), ("b", "2")])?;
    ensure!(con.mget(&["a", "b", "nope"])? == vec![Some("1".to_owned()), Some("2".to_owned()), None]);

    // SET options.
    let opts = SetOptions::default().conditional_set(ExistenceCheck::NX).get(true);
    // NX on an existing key: not set, but GET still returns the old value.
    ensure!(con.set_options("a", "x", opts)? == Some("1".to_owned()));
    ensure!(con.get("a")? == Some("1".to_owned()));
    let opts = SetOptions::default().conditional_set(ExistenceCheck::XX).get(true).with_expiration(SetExpiry::EX(1000));
    ensure!(con.set_options("a", "y", opts)? == Some("1".to_owned()));
    let ttl: i64 = redis::cmd("TTL").arg("a").query(&mut con)?;
    ensure!((990..=1000).contains(&ttl), "TTL after SET EX 1000 was {ttl}");
    ensure!(con.persist("a")?);
    let ttl: i64 = redis::cmd("TTL").arg("a").query(&mut con)?;
    ensure!(ttl == -1);
    ensure!(con.get_ex("b", Expiry::PX(500_000))? == Some("2".to_owned()));
    let pttl: i64 = redis::cmd("PTTL").arg("b").query(&mut con)?;
    ensure!(pttl > 0 && pttl <= 500_000);
    con.set_ex("c", "3", 100)?;
    ensure!(con.expire("c", 5000)?);

    // Binary-safe keys and values.
    let key: &[u8] = b"bin\x00\xff\r\nkey";
    let value: Vec<u8> = (0u8..=255).collect();
    redis::cmd("SET").arg(key).arg(&value).exec(&mut con)?;
    let back: Vec<u8> = redis::cmd("GET").arg(key).query(&mut con)?;
    ensure!(back == value);

    // Keys.
    ensure!(con.exists("greeting")?);
    ensure!(con.del(&["greeting", "nope"])? == 1);
    ensure!(!con.exists("greeting")?);
    con.rename("counter", "counter2")?;
    ensure!(con.get("counter2")? == Some("3".to_owned()));
    ensure!(con.key_type("counter2")? == redis::ValueType::String);

    // Hashes.
    ensure!(con.hset("h", "f1", "v1")? == 1);
    con.hset_multiple("h", &[("f2", "v2"), ("n", "10")])?;
    ensure!(con.hget("h", "f2")? == Some("v2".to_owned()));
    let all: HashMap<String, String> = redis::cmd("HGETALL").arg("h").query(&mut con)?;
    ensure!(all.len() == 3 && all["f1"] == "v1" && all["n"] == "10");
    let n: i64 = redis::cmd("HINCRBY").arg("h").arg("n").arg(5).query(&mut con)?;
    ensure!(n == 15);
    ensure!(con.key_type("h")? == redis::ValueType::Hash);
    // The shape of HGETALL depends on the protocol: a map in RESP3, a flat array in RESP2.
    let raw: Value = redis::cmd("HGETALL").arg("h").query(&mut con)?;
    match (&raw, resp3) {
        (Value::Map(pairs), true) => ensure!(pairs.len() == 3),
        (Value::Array(items), false) => ensure!(items.len() == 6),
        _ => anyhow::bail!("HGETALL over {} came back as {raw:?}", if resp3 { "RESP3" } else { "RESP2" }),
    }

    // Errors a client branches on, and the connection stays usable after each.
    let err = con.hget("counter2", "f").expect_err("HGET on a string");
    ensure!(err.code() == Some("WRONGTYPE"), "got {err:?}");
    let err = redis::cmd("NOSUCHCOMMAND").arg("x").exec(&mut con).expect_err("unknown command");
    ensure!(err.code() == Some("ERR"), "got {err:?}");
    ensure!(err.detail().is_some_and(|d| d.starts_with("unknown command 'NOSUCHCOMMAND'")), "got {err:?}");
    let err = redis::cmd("GET").exec(&mut con).expect_err("wrong arity");
    ensure!(err.detail() == Some("wrong number of arguments for 'get' command"), "got {err:?}");
    ensure!(con.incr("h", 1).is_err());
    ensure!(con.ping()? == "PONG");

    // Pipelines: replies in order, ignored ones dropped, errors surfaced.
    let (a, n, missing): (String, i64, Option<String>) =
        redis::pipe().set("p1", "one").ignore().get("p1").incr("p2", 7).get("p3").query(&mut con)?;
    ensure!(a == "one" && n == 7 && missing.is_none());
    // A bounded, larger pipeline: one round trip for 2,000 commands.
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("bulk:{i}"), i).ignore();
    }
    for i in 0..1000 {
        pipe.get(format!("bulk:{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut con)?;
    ensure!(values == (0..1000).collect::<Vec<i64>>());
    let size: i64 = redis::cmd("DBSIZE").query(&mut con)?;
    // a b c float bin counter2 h p1 p2, plus the 1,000 bulk keys.
    ensure!(size == 1000 + 9, "DBSIZE {size}");
    Ok(())
}

async fn async_suite(addr: SocketAddr, resp3: bool) -> Result<()> {
    let client = redis::Client::open(url(addr, resp3))?;
    let config =
        redis::AsyncConnectionConfig::new().set_connection_timeout(Some(TIMEOUT)).set_response_timeout(Some(TIMEOUT));
    let mut con = client.get_multiplexed_async_connection_with_config(&config).await?;
    redis::cmd("FLUSHALL").exec_async(&mut con).await?;

    con.set("k", "v").await?;
    ensure!(con.get("k").await? == Some("v".to_owned()));
    ensure!(con.incr("n", 1).await? == 1);
    ensure!(con.hset("h", "f", "1").await? == 1);
    ensure!(con.hget("h", "f").await? == Some("1".to_owned()));
    let err = con.get("h").await.expect_err("GET on a hash");
    ensure!(err.code() == Some("WRONGTYPE"), "got {err:?}");

    // Many requests in flight on one multiplexed connection, from concurrent tasks.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let mut con = con.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..200 {
                let key = format!("task:{t}:{i}");
                con.set(&key, i).await?;
                let got: Option<String> = con.get(&key).await?;
                anyhow::ensure!(got == Some(i.to_string()), "task {t} key {i}: {got:?}");
                let n = con.incr("shared", 1).await?;
                anyhow::ensure!(n >= 1);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("task panicked")??;
    }
    ensure!(con.get("shared").await? == Some("1600".to_owned()));

    let (a, b): (Option<String>, i64) = redis::pipe().get("k").incr("n", 10).query_async(&mut con).await?;
    ensure!(a == Some("v".to_owned()) && b == 11);

    let raw: Value = redis::cmd("HGETALL").arg("h").query_async(&mut con).await?;
    match (&raw, resp3) {
        (Value::Map(pairs), true) => ensure!(pairs.len() == 1),
        (Value::Array(items), false) => ensure!(items.len() == 2),
        _ => anyhow::bail!("HGETALL came back as {raw:?}"),
    }
    let size: i64 = redis::cmd("DBSIZE").query_async(&mut con).await?;
    // k n h shared, plus 8 x 200 task keys.
    ensure!(size == 4 + 1600, "DBSIZE {size}");
    Ok(())
}

fn run_sync(resp3: bool) {
    let Some(server) = Subject::start(&ServerOpts::default()) else {
        return;
    };
    if let Err(e) = sync_suite(server.addr(), resp3) {
        panic!("redis crate, sync, resp3={resp3}, against {}: {e:#}", server.name());
    }
}

fn run_async(resp3: bool) {
    let Some(server) = Subject::start(&ServerOpts::default()) else {
        return;
    };
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("client runtime");
    if let Err(e) = rt.block_on(async_suite(server.addr(), resp3)) {
        panic!("redis crate, async, resp3={resp3}, against {}: {e:#}", server.name());
    }
}

#[test]
fn sync_resp2() {
    run_sync(false);
}

#[test]
fn sync_resp3() {
    run_sync(true);
}

#[test]
fn async_resp2() {
    run_async(false);
}

#[test]
fn async_resp3() {
    run_async(true);
}
