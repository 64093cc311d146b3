//! cache-client's typed commands against our server and a real redis-server, over RESP3 and
//! RESP2: every command's reply, SET options, multi-key commands split over three nodes, the raw
//! command escape hatch, AUTH and SELECT from the URL, and server error replies kept verbatim.

mod client_common;

use std::time::Duration;

use anyhow::{Result, ensure};
use bytes::Bytes;
use cache_client::{Client, Error, GetExExpiry, SetCondition, SetExpiry, SetOptions, Value};
use cache_tests::ServerOpts;
use client_common::{Target, groups, targets};

fn b(s: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(s.as_bytes()))
}

async fn suite(client: &Client, who: &str) -> Result<()> {
    client.cmd(&["FLUSHALL"]).await?;
    client.ping().await?;
    client.set("s", "hello").await?;
    ensure!(client.get("s").await? == b("hello"), "{who}: GET");
    ensure!(client.get("missing").await?.is_none());
    ensure!(client.append("s", " world").await? == 11);
    ensure!(client.strlen("s").await? == 11);
    ensure!(client.incr("n").await? == 1);
    ensure!(client.incr_by("n", 10).await? == 11);
    ensure!(client.decr("n").await? == 10);
    ensure!(client.decr_by("n", 4).await? == 6);
    ensure!(client.get("n").await? == b("6"));

    // SET options.
    ensure!(
        !client.set_with("s", "x", SetOptions::default().condition(SetCondition::Nx)).await?,
        "{who}: NX on existing"
    );
    ensure!(client.set_with("new", "x", SetOptions::default().condition(SetCondition::Nx)).await?);
    ensure!(!client.set_with("absent", "x", SetOptions::default().condition(SetCondition::Xx)).await?);
    ensure!(
        client
            .set_with("new", "y", SetOptions::default().condition(SetCondition::Xx).expiry(SetExpiry::Ex(100)))
            .await?
    );
    let ttl = client.ttl("new").await?.flatten().expect("a TTL");
    ensure!((Duration::from_secs(98)..=Duration::from_secs(100)).contains(&ttl), "{who}: TTL {ttl:?}");
    ensure!(client.set_with("px", "v", SetOptions::default().expiry(SetExpiry::Px(50_000))).await?);
    let pttl = client.pttl("px").await?.flatten().expect("a PTTL");
    ensure!(pttl > Duration::from_secs(40) && pttl <= Duration::from_secs(50));
    ensure!(client.set_with("px", "w", SetOptions::default().expiry(SetExpiry::KeepTtl)).await?);
    ensure!(client.pttl("px").await?.flatten().is_some(), "{who}: KEEPTTL kept the TTL");

    // TTL family.
    ensure!(client.ttl("s").await? == Some(None), "{who}: no expiry");
    ensure!(client.ttl("missing").await?.is_none());
    ensure!(client.expire("s", 1000).await?);
    ensure!(client.pexpire("s", 2_000_000).await?);
    ensure!(!client.expire("missing", 10).await?);
    ensure!(client.persist("s").await?);
    ensure!(!client.persist("s").await?);
    ensure!(client.pttl("s").await? == Some(None));

    // GETEX / GETDEL.
    ensure!(client.getex("s", Some(GetExExpiry::Px(300_000))).await? == b("hello world"));
    ensure!(client.pttl("s").await?.flatten().is_some());
    ensure!(client.getex("s", Some(GetExExpiry::Persist)).await? == b("hello world"));
    ensure!(client.ttl("s").await? == Some(None));
    ensure!(client.getex("s", Some(GetExExpiry::Ex(100))).await?.is_some());
    ensure!(client.getex("s", None).await? == b("hello world"));
    ensure!(client.getdel("s").await? == b("hello world"));
    ensure!(client.getdel("s").await?.is_none());

    // Multi-key, spread over the nodes.
    let pairs: Vec<(String, String)> = (0..40).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    client.mset(&pairs).await?;
    let mut keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
    keys.insert(7, "nope".into());
    let got = client.mget(&keys).await?;
    for (k, v) in keys.iter().zip(&got) {
        let want = pairs.iter().find(|(pk, _)| pk == k).map(|(_, v)| Bytes::from(v.clone()));
        ensure!(*v == want, "{who}: MGET {k}: {v:?}");
    }
    ensure!(client.exists(&["k1", "k2", "nope", "k1"]).await? == 3);
    ensure!(client.del(&["k1", "k2", "nope"]).await? == 2);
    ensure!(client.exists(&["k1", "k2"]).await? == 0);

    // Hashes.
    ensure!(client.hset("h", &[("a", "1"), ("b", "2")]).await? == 2);
    ensure!(client.hset("h", &[("a", "3")]).await? == 0);
    ensure!(client.hget("h", "a").await? == b("3"));
    ensure!(client.hget("h", "zz").await?.is_none());
    ensure!(client.hmget("h", &["a", "zz", "b"]).await? == vec![b("3"), None, b("2")]);
    let mut all = client.hgetall("h").await?;
    all.sort();
    ensure!(all == vec![(Bytes::from("a"), Bytes::from("3")), (Bytes::from("b"), Bytes::from("2"))], "{who}: {all:?}");
    ensure!(client.hexists("h", "a").await?);
    ensure!(!client.hexists("h", "zz").await?);
    ensure!(client.hlen("h").await? == 2);
    ensure!(client.hincr_by("h", "n", 5).await? == 5);
    ensure!(client.hdel("h", &["a", "zz"]).await? == 1);
    ensure!(client.hgetall("missing").await?.is_empty());

    // Binary-safe keys and values, and hash-tag co-location.
    let bin = [0u8, 255, b'\r', b'\n', 7];
    client.set(bin, bin).await?;
    ensure!(client.get(bin).await?.as_deref() == Some(&bin[..]));
    ensure!(client.node_of("user:{42}:a") == client.node_of("user:{42}:b"));

    // Errors: verbatim server replies, and the classifiers.
    let e = client.incr("h").await.expect_err("INCR on a hash");
    ensure!(
        matches!(&e, Error::Server(t) if t == "WRONGTYPE Operation against a key holding the wrong kind of value"),
        "{who}: {e:?}"
    );
    ensure!(!e.is_retryable() && !e.is_timeout() && !e.is_connection_dropped());
    client.set("str", "abc").await?;
    let e = client.incr("str").await.expect_err("INCR on text");
    ensure!(matches!(&e, Error::Server(t) if t == "ERR value is not an integer or out of range"), "{who}: {e:?}");

    // JSON helpers (feature `serde`).
    let doc = serde_json::json!({"name": "Ada", "langs": ["en", "fr"], "age": 36});
    client.set_json("doc", &doc, Some(Duration::from_secs(100))).await?;
    ensure!(client.get_json::<serde_json::Value>("doc").await? == Some(doc), "{who}: JSON round trip");
    ensure!(client.ttl("doc").await?.flatten().is_some());
    ensure!(client.get_json::<serde_json::Value>("nope").await?.is_none());
    let e = client.get_json::<u32>("doc").await.expect_err("not a number");
    ensure!(matches!(e, Error::Serde(_)), "{who}: {e:?}");

    // The raw escape hatch.
    ensure!(client.cmd(&["SET", "raw", "1"]).await? == Value::Status("OK".into()));
    ensure!(client.cmd(&["GET", "raw"]).await? == Value::Bulk(Bytes::from("1")));
    let e = client.cmd(&["NOSUCHCOMMAND"]).await.expect_err("unknown command");
    ensure!(e.server_code() == Some("ERR"), "{who}: {e:?}");
    Ok(())
}

#[tokio::test]
async fn typed_commands_over_three_nodes_both_protocols() -> Result<()> {
    for group in groups(3, &ServerOpts::default()) {
        let who = group[0].name();
        for resp3 in [true, false] {
            let mut b = Client::builder().resp3(resp3);
            for t in &group {
                b = b.node(t.url());
            }
            let client = b.build()?;
            // FLUSHALL reaches one node; clear them all.
            for i in 0..group.len() {
                client.cmd_on(i, &["FLUSHALL"]).await?;
            }
            suite(&client, &format!("{who} resp3={resp3}")).await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn auth_and_select_from_the_url() -> Result<()> {
    let opts = ServerOpts { requirepass: Some("s3cret".into()), ..ServerOpts::default() };
    for group in groups(1, &opts) {
        let t: &Target = &group[0];
        let who = t.name();
        let addr = t.addr();
        let wrong = Client::open(&format!("redis://:nope@{addr}"))?;
        let e = wrong.get("k").await.expect_err("wrong password");
        ensure!(e.to_string().contains("WRONGPASS") || e.to_string().contains("invalid"), "{who}: {e}");
        let none = Client::builder().node(format!("redis://{addr}")).max_retries(0).build()?;
        let e = none.get("k").await.expect_err("no password");
        ensure!(matches!(&e, Error::Server(t) if t.starts_with("NOAUTH")), "{who}: {e:?}");
        for resp3 in [true, false] {
            let db1 = Client::builder().node(format!("redis://:s3cret@{addr}/1")).resp3(resp3).build()?;
            let db0 = Client::builder().node(format!("redis://default:s3cret@{addr}/0")).resp3(resp3).build()?;
            db1.set("where", "one").await?;
            db0.set("where", "zero").await?;
            ensure!(db1.get("where").await? == b("one"), "{who}: SELECT 1");
            ensure!(db0.get("where").await? == b("zero"));
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_target_answers_ping() -> Result<()> {
    for t in targets() {
        Client::open(&t.url())?.ping().await?;
    }
    Ok(())
}
