//! Client-side caching (`CLIENT TRACKING`) end to end: each scenario runs over raw RESP against
//! our server and against a real redis-server 7.0, and the transcripts — every reply and every push
//! frame, byte for byte, in arrival order, client ids masked — must be equal. Pushes are collected
//! by sending `PING` and reading until its answer (a push queued for a client is written before the
//! reply to its next command on both servers), so no test waits on a timer except the expiry one,
//! which polls in a bounded loop. Eviction runs against our server only (Redis's eviction order
//! under a tiny `maxmemory` is not ours).

use std::net::SocketAddr;
use std::time::Duration;

use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, escape};
use cache_tests::{ServerOpts, Subject};

/// One scenario's record: what each step produced, raw, with client ids replaced by `<id>`.
#[derive(Debug, Default)]
struct Transcript {
    lines: Vec<String>,
    ids: Vec<i64>,
}

impl Transcript {
    fn note(&mut self, who: &str, raw: &[u8]) {
        let mut text = escape(raw);
        let mut who = who.to_owned();
        for id in &self.ids {
            let form = format!(":{id}\\r\\n");
            text = text.replace(&form, ":<id>\\r\\n");
            let words: Vec<&str> = who.split(' ').map(|w| if w == id.to_string() { "<id>" } else { w }).collect();
            who = words.join(" ");
        }
        self.lines.push(format!("{who}: {text}"));
    }
}

/// A named connection that records into a transcript.
struct Client {
    name: &'static str,
    conn: RawConn,
}

impl Client {
    fn new(addr: SocketAddr, name: &'static str) -> Self {
        Self { name, conn: RawConn::connect(addr).expect("connect") }
    }

    /// Sends a command and records its reply.
    fn cmd(&mut self, t: &mut Transcript, args: &[&str]) -> Frame {
        let (f, raw) = self.conn.cmd_raw(args).expect("reply");
        t.note(&format!("{} {}", self.name, args.join(" ")), &raw);
        f
    }

    /// Sends a command, records nothing (HELLO's reply names the server).
    fn quiet(&mut self, args: &[&str]) -> Frame {
        self.conn.cmd(args).expect("reply")
    }

    /// The client id, remembered so the transcript masks it.
    fn id(&mut self, t: &mut Transcript) -> i64 {
        match self.quiet(&["CLIENT", "ID"]) {
            Frame::Integer(id) => {
                t.ids.push(id);
                id
            }
            other => panic!("CLIENT ID gave {other:?}"),
        }
    }

    /// Records the tracking and pub/sub fields of CLIENT INFO (the rest names the connection), or
    /// of client `of`'s CLIENT LIST line (a subscribed RESP2 client cannot ask itself).
    fn info_fields(&mut self, t: &mut Transcript, of: Option<i64>) {
        let id = of.map(|i| i.to_string()).unwrap_or_default();
        let args: &[&str] = if of.is_some() { &["CLIENT", "LIST", "ID", &id] } else { &["CLIENT", "INFO"] };
        let text = match self.quiet(args) {
            Frame::Bulk(Some(b)) | Frame::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("CLIENT INFO gave {other:?}"),
        };
        let keep = ["flags=", "sub=", "psub=", "redir="];
        let fields: Vec<&str> = text.split_whitespace().filter(|f| keep.iter().any(|k| f.starts_with(k))).collect();
        let mut line = fields.join(" ");
        for id in &t.ids {
            line = line.replace(&format!("redir={id}"), "redir=<id>");
        }
        t.lines.push(format!("{} CLIENT INFO {}: {line}", self.name, if of.is_some() { "of other" } else { "" }));
    }

    /// Sends PING and records every frame up to and including its answer; returns the pushes.
    fn pushes(&mut self, t: &mut Transcript) -> usize {
        self.conn.send_raw(b"*1\r\n$4\r\nPING\r\n").expect("send");
        for n in 0..1000 {
            let (f, raw) = self.conn.read_frame_raw().expect("frame");
            let pong = matches!(&f, Frame::Simple(s) if s == b"PONG")
                || matches!(&f, Frame::Array(Some(v)) if v.first() == Some(&Frame::Bulk(Some(b"pong".to_vec()))));
            t.note(&format!("{} <-", self.name), &raw);
            if pong {
                return n;
            }
        }
        panic!("no PONG after 1000 frames")
    }
}

/// Runs `scenario` against our server and redis-server and compares the transcripts.
fn same_as_redis(scenario: fn(SocketAddr) -> Transcript) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    let a = scenario(burn_ids(ours.addr()));
    let b = scenario(burn_ids(reference.addr()));
    if std::env::var_os("CACHE_TESTS_TRACE").is_some() {
        println!("ours:\n{}\nredis:\n{}", a.lines.join("\n"), b.lines.join("\n"));
    }
    let diff: Vec<String> = a
        .lines
        .iter()
        .zip(&b.lines)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| format!("  ours:  {x}\n  redis: {y}"))
        .collect();
    assert!(
        diff.is_empty() && a.lines.len() == b.lines.len(),
        "transcripts differ from redis-server ({} vs {} lines):\n{}\nfull ours:\n{}\nfull redis:\n{}",
        a.lines.len(),
        b.lines.len(),
        diff.join("\n"),
        a.lines.join("\n"),
        b.lines.join("\n")
    );
}

/// Opens and closes 40 connections so the scenario's client ids are large, and cannot be
/// confused with counts when the transcript masks them.
fn burn_ids(addr: SocketAddr) -> SocketAddr {
    for _ in 0..40 {
        RawConn::connect(addr).expect("connect").cmd(&["CLIENT", "ID"]).expect("CLIENT ID");
    }
    addr
}

fn resp3(addr: SocketAddr, name: &'static str) -> Client {
    let mut c = Client::new(addr, name);
    c.quiet(&["HELLO", "3"]);
    c
}

fn default_mode(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut r = resp3(addr, "r");
    let mut w = Client::new(addr, "w");
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on"]);
    r.cmd(&mut t, &["GET", "k"]);
    w.cmd(&mut t, &["SET", "k", "v"]);
    assert_eq!(r.pushes(&mut t), 1, "one invalidation for k");
    w.cmd(&mut t, &["SET", "k", "v2"]);
    assert_eq!(r.pushes(&mut t), 0, "forgotten after one invalidation");
    // Several writes and commands; each tracked key is invalidated once.
    r.cmd(&mut t, &["MGET", "k", "a", "n"]);
    r.cmd(&mut t, &["HGET", "h", "f"]);
    r.cmd(&mut t, &["STRLEN", "e"]);
    w.cmd(&mut t, &["SET", "e", "x"]);
    r.pushes(&mut t);
    r.cmd(&mut t, &["GET", "e"]);
    w.cmd(&mut t, &["SET", "e", "y", "NX"]); // no change: no invalidation
    w.cmd(&mut t, &["DEL", "missing"]);
    w.cmd(&mut t, &["MSET", "a", "1", "zz", "2"]);
    w.cmd(&mut t, &["INCR", "n"]);
    w.cmd(&mut t, &["HSET", "h", "f", "v"]);
    w.cmd(&mut t, &["EXPIRE", "e", "100"]);
    w.cmd(&mut t, &["RENAME", "k", "k2"]);
    r.pushes(&mut t);
    // A tracking client's own write: the push follows the reply.
    r.cmd(&mut t, &["GET", "own"]);
    r.cmd(&mut t, &["SET", "own", "1"]);
    r.pushes(&mut t);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "off"]);
    r.cmd(&mut t, &["GET", "k2"]);
    w.cmd(&mut t, &["DEL", "k2"]);
    r.pushes(&mut t);
    t
}

#[test]
fn default_mode_invalidates_read_keys_like_redis() {
    same_as_redis(default_mode);
}

/// Reads of lists, sets and sorted sets (including the numkeys forms, whose keys the command
/// table cannot name) are tracked; every kind of write to them invalidates, a no-op write does not,
/// and a blocked client served by a push invalidates what it popped.
fn collections(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut r = resp3(addr, "r");
    let mut w = Client::new(addr, "w");
    w.cmd(&mut t, &["RPUSH", "l", "a", "b", "c"]);
    w.cmd(&mut t, &["SADD", "s", "1", "2"]);
    w.cmd(&mut t, &["ZADD", "z", "1", "a", "2", "b"]);
    w.cmd(&mut t, &["ZADD", "z2", "3", "c"]);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on"]);
    r.cmd(&mut t, &["LRANGE", "l", "0", "-1"]);
    r.cmd(&mut t, &["SISMEMBER", "s", "1"]);
    r.cmd(&mut t, &["ZUNION", "2", "z", "z2", "WITHSCORES"]);
    r.cmd(&mut t, &["SINTERCARD", "1", "s"]);
    w.cmd(&mut t, &["LREM", "l", "0", "missing"]); // no change: no invalidation
    w.cmd(&mut t, &["SREM", "s", "missing"]);
    r.pushes(&mut t);
    w.cmd(&mut t, &["LSET", "l", "0", "x"]);
    w.cmd(&mut t, &["SMOVE", "s", "s3", "1"]);
    w.cmd(&mut t, &["ZINCRBY", "z2", "1", "c"]);
    r.pushes(&mut t);
    r.cmd(&mut t, &["ZSCORE", "z", "a"]);
    w.cmd(&mut t, &["ZPOPMIN", "z"]);
    r.pushes(&mut t);
    r.cmd(&mut t, &["LLEN", "l"]);
    w.cmd(&mut t, &["SORT", "s", "STORE", "l"]);
    r.pushes(&mut t);
    r.cmd(&mut t, &["LLEN", "q"]);
    let mut b = Client::new(addr, "b");
    b.conn.send_raw(&cache_tests::resp::encode_command(&["BLPOP", "q", "0"])).expect("send");
    let parked = |w: &mut Client| match w.quiet(&["INFO", "clients"]) {
        Frame::Bulk(Some(text)) => String::from_utf8_lossy(&text).contains("blocked_clients:1\r\n"),
        other => panic!("INFO gave {other:?}"),
    };
    let started = std::time::Instant::now();
    while !parked(&mut w) {
        assert!(started.elapsed() < Duration::from_secs(10), "BLPOP never parked");
        std::thread::sleep(Duration::from_millis(5));
    }
    w.cmd(&mut t, &["RPUSH", "q", "job"]);
    let (_, raw) = b.conn.read_frame_raw().expect("served");
    t.note("b BLPOP q 0", &raw);
    r.pushes(&mut t);
    t
}

#[test]
fn collections_are_tracked_like_redis() {
    same_as_redis(collections);
}

#[test]
fn the_first_push_is_exactly_redis_bytes() {
    let Some(s) = Subject::start(&ServerOpts::default()) else { return };
    let mut t = Transcript::default();
    let mut r = resp3(s.addr(), "r");
    let mut w = Client::new(s.addr(), "w");
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on"]);
    r.cmd(&mut t, &["GET", "key"]);
    w.cmd(&mut t, &["SET", "key", "v"]);
    r.pushes(&mut t);
    assert_eq!(t.lines[3], "r <-: >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$3\\r\\nkey\\r\\n");
}

fn noloop_optin_optout(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut r = resp3(addr, "r");
    let mut w = Client::new(addr, "w");
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on", "NOLOOP"]);
    r.cmd(&mut t, &["GET", "s"]);
    r.cmd(&mut t, &["SET", "s", "1"]);
    r.pushes(&mut t);
    w.cmd(&mut t, &["SET", "s", "2"]);
    r.pushes(&mut t);
    r.cmd(&mut t, &["CLIENT", "TRACKINGINFO"]);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on", "OPTIN"]);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "off"]);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on", "OPTIN"]);
    r.cmd(&mut t, &["CLIENT", "CACHING", "no"]);
    r.cmd(&mut t, &["GET", "a"]);
    r.cmd(&mut t, &["CLIENT", "CACHING", "yes"]);
    r.cmd(&mut t, &["CLIENT", "TRACKINGINFO"]);
    r.cmd(&mut t, &["GET", "b"]);
    r.cmd(&mut t, &["CLIENT", "TRACKINGINFO"]);
    r.cmd(&mut t, &["GET", "c"]);
    w.cmd(&mut t, &["MSET", "a", "1", "b", "1", "c", "1"]);
    r.pushes(&mut t);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on", "OPTOUT"]);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "off"]);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on", "OPTOUT"]);
    r.cmd(&mut t, &["CLIENT", "CACHING", "yes"]);
    r.cmd(&mut t, &["CLIENT", "CACHING", "no"]);
    r.cmd(&mut t, &["GET", "a"]);
    r.cmd(&mut t, &["GET", "b"]);
    w.cmd(&mut t, &["MSET", "a", "2", "b", "2"]);
    r.pushes(&mut t);
    t
}

#[test]
fn noloop_optin_optout_caching_like_redis() {
    same_as_redis(noloop_optin_optout);
}

fn option_errors(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut c = Client::new(addr, "c");
    let mut other = Client::new(addr, "o");
    let oid = other.id(&mut t).to_string();
    for args in [
        &["CLIENT", "GETREDIR"][..],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "CACHING", "yes"],
        &["CLIENT", "TRACKING", "on", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"],
        &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "999999"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "abc"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", &oid, "REDIRECT", &oid],
        &["CLIENT", "TRACKING", "on", "BOGUS"],
        &["CLIENT", "TRACKING", "on", "PREFIX"],
        &["CLIENT", "TRACKING", "maybe"],
        &["CLIENT", "TRACKING"],
        &["CLIENT", "CACHING"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", &oid],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "CACHING", "yes"],
        &["CLIENT", "CACHING", "maybe"],
        &["CLIENT", "TRACKING", "on", "BCAST"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "off"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x", "PREFIX", "b"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "bc"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "on"],
        &["CLIENT", "GETREDIR"],
    ] {
        c.cmd(&mut t, args);
    }
    t
}

#[test]
fn option_errors_and_info_replies_like_redis() {
    same_as_redis(option_errors);
}

fn broadcast(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut r = resp3(addr, "r");
    let mut w = Client::new(addr, "w");
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b", "PREFIX", "a", "NOLOOP"]);
    w.cmd(&mut t, &["SET", "a1", "x"]);
    w.cmd(&mut t, &["MSET", "b1", "x", "a2", "y", "a1", "z", "zz", "q"]);
    w.cmd(&mut t, &["SET", "zz", "x"]);
    r.pushes(&mut t);
    r.cmd(&mut t, &["SET", "a3", "own"]);
    r.cmd(&mut t, &["GET", "zz"]);
    w.cmd(&mut t, &["SET", "zz", "y"]);
    r.pushes(&mut t);
    r.cmd(&mut t, &["CLIENT", "TRACKINGINFO"]);
    r.info_fields(&mut t, None);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c"]);
    r.cmd(&mut t, &["CLIENT", "TRACKINGINFO"]);
    t
}

#[test]
fn broadcast_prefixes_like_redis() {
    same_as_redis(broadcast);
}

fn redirect_resp2(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut sub = Client::new(addr, "sub");
    let sid = sub.id(&mut t).to_string();
    sub.cmd(&mut t, &["SUBSCRIBE", "__redis__:invalidate"]);
    sub.cmd(&mut t, &["GET", "x"]);
    let mut r = Client::new(addr, "r");
    let mut w = Client::new(addr, "w");
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on", "REDIRECT", &sid]);
    r.cmd(&mut t, &["CLIENT", "GETREDIR"]);
    r.info_fields(&mut t, None);
    w.info_fields(&mut t, Some(sid.parse().expect("id")));
    r.cmd(&mut t, &["GET", "k"]);
    w.cmd(&mut t, &["SET", "k", "1"]);
    sub.pushes(&mut t);
    w.cmd(&mut t, &["FLUSHALL"]);
    sub.pushes(&mut t);
    w.cmd(&mut t, &["PUBLISH", "__redis__:invalidate", "hello"]);
    sub.pushes(&mut t);
    // A RESP3 tracking client whose redirect target left gets tracking-redir-broken.
    let mut r3 = resp3(addr, "r3");
    r3.cmd(&mut t, &["CLIENT", "TRACKING", "on", "REDIRECT", &sid]);
    r3.cmd(&mut t, &["GET", "k"]);
    sub.quiet(&["QUIT"]);
    let mut probe = Client::new(addr, "probe");
    for _ in 0..200 {
        // QUIT is processed asynchronously; wait (bounded) until the id is gone.
        if let Frame::Error(_) = probe.quiet(&["CLIENT", "TRACKING", "on", "REDIRECT", &sid]) {
            break;
        }
        probe.quiet(&["CLIENT", "TRACKING", "off"]);
        std::thread::sleep(Duration::from_millis(10));
    }
    w.cmd(&mut t, &["SET", "k", "2"]);
    r3.pushes(&mut t);
    r3.cmd(&mut t, &["CLIENT", "TRACKINGINFO"]);
    r3.info_fields(&mut t, None);
    t
}

#[test]
fn redirect_to_a_resp2_subscriber_like_redis() {
    same_as_redis(redirect_resp2);
}

fn flush_nulls(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut r = resp3(addr, "r");
    let mut b = resp3(addr, "b");
    let mut w = Client::new(addr, "w");
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on"]);
    b.cmd(&mut t, &["CLIENT", "TRACKING", "on", "BCAST"]);
    r.cmd(&mut t, &["GET", "k"]);
    w.cmd(&mut t, &["FLUSHDB"]);
    r.pushes(&mut t);
    b.pushes(&mut t);
    w.cmd(&mut t, &["SET", "k", "v"]);
    r.pushes(&mut t);
    b.pushes(&mut t);
    w.cmd(&mut t, &["FLUSHALL"]);
    r.pushes(&mut t);
    b.pushes(&mut t);
    t
}

#[test]
fn flush_sends_null_invalidations_like_redis() {
    same_as_redis(flush_nulls);
}

fn expiry(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut r = resp3(addr, "r");
    let mut w = Client::new(addr, "w");
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on"]);
    w.cmd(&mut t, &["SET", "e", "v", "PX", "50"]);
    r.cmd(&mut t, &["GET", "e"]);
    // Nobody touches `e`: the server's own expiry must notice it. Poll, bounded (5 s).
    let mut probe = Transcript::default();
    let mut got = 0;
    for _ in 0..250 {
        got = r.pushes(&mut probe);
        if got > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(got, 1, "no invalidation for the expired key within 5 s");
    t.lines.push(probe.lines[probe.lines.len() - 2].clone());
    t
}

#[test]
fn expiry_of_a_tracked_key_is_pushed_like_redis() {
    same_as_redis(expiry);
}

fn table_limit(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut r = resp3(addr, "r");
    let mut c = Client::new(addr, "c");
    c.cmd(&mut t, &["CONFIG", "GET", "tracking-table-max-keys"]);
    c.cmd(&mut t, &["CONFIG", "SET", "tracking-table-max-keys", "2"]);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on"]);
    r.cmd(&mut t, &["MGET", "a", "b", "c", "d"]);
    // Which keys go is random in Redis: count them.
    let mut probe = Transcript::default();
    let n = r.pushes(&mut probe);
    t.lines.push(format!("evicted {n}"));
    let info = match c.quiet(&["INFO", "stats"]) {
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO gave {other:?}"),
    };
    t.lines.extend(info.lines().filter(|l| l.starts_with("tracking_")).map(str::to_owned));
    c.cmd(&mut t, &["CONFIG", "SET", "tracking-table-max-keys", "1000000"]);
    t
}

#[test]
fn tracking_table_bound_like_redis() {
    same_as_redis(table_limit);
}

#[test]
fn eviction_of_a_tracked_key_is_pushed() {
    let opts = ServerOpts {
        maxmemory: Some(64 * 1024),
        maxmemory_policy: Some("allkeys-lru".into()),
        ..ServerOpts::default()
    };
    let Some(s) = Subject::start(&opts) else { return };
    let mut t = Transcript::default();
    let mut r = resp3(s.addr(), "r");
    let mut w = Client::new(s.addr(), "w");
    w.cmd(&mut t, &["SET", "victim", "v"]);
    r.cmd(&mut t, &["CLIENT", "TRACKING", "on"]);
    r.cmd(&mut t, &["GET", "victim"]);
    let value = "x".repeat(1000);
    for i in 0..200 {
        w.quiet(&["SET", &format!("filler:{i}"), &value]);
    }
    assert!(matches!(w.quiet(&["EXISTS", "victim"]), Frame::Integer(0)), "victim was not evicted");
    r.pushes(&mut t);
    let pushes: Vec<&String> = t.lines.iter().filter(|l| l.starts_with("r <-") && l.contains("invalidate")).collect();
    assert_eq!(pushes, ["r <-: >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$6\\r\\nvictim\\r\\n"]);
}

/// The `redis` crate's RESP3 push channel receives our invalidations as it does Redis's.
async fn redis_crate_receives_invalidations(addr: SocketAddr) -> anyhow::Result<()> {
    use anyhow::{Context, ensure};
    let timeout = Duration::from_secs(20);
    let client = redis::Client::open(format!("redis://{addr}/?protocol=resp3"))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = redis::AsyncConnectionConfig::new().set_push_sender(tx);
    let mut reader = client.get_multiplexed_async_connection_with_config(&config).await?;
    let mut writer = client.get_multiplexed_async_connection().await?;
    redis::cmd("CLIENT").arg("TRACKING").arg("on").exec_async(&mut reader).await?;
    let _: Option<String> = redis::cmd("GET").arg("crate:k").query_async(&mut reader).await?;
    redis::cmd("SET").arg("crate:k").arg("v").exec_async(&mut writer).await?;
    let push = tokio::time::timeout(timeout, rx.recv()).await?.context("push channel closed")?;
    ensure!(push.kind == redis::PushKind::Invalidate, "kind {:?}", push.kind);
    ensure!(
        push.data == vec![redis::Value::Array(vec![redis::Value::BulkString(b"crate:k".to_vec())])],
        "data {:?}",
        push.data
    );
    redis::cmd("FLUSHALL").exec_async(&mut writer).await?;
    let push = tokio::time::timeout(timeout, rx.recv()).await?.context("push channel closed")?;
    ensure!(push.kind == redis::PushKind::Invalidate && push.data == vec![redis::Value::Nil], "flush {push:?}");
    Ok(())
}

#[test]
fn redis_crate_push_channel_gets_invalidations() {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    for (name, addr) in [("ours", ours.addr()), ("redis-server", reference.addr())] {
        rt.block_on(redis_crate_receives_invalidations(addr)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    }
}

fn pubsub(addr: SocketAddr) -> Transcript {
    let mut t = Transcript::default();
    let mut sub = Client::new(addr, "sub");
    let sid = sub.id(&mut t);
    let mut publisher = Client::new(addr, "pub");
    sub.cmd(&mut t, &["SUBSCRIBE", "a", "b"]);
    sub.pushes(&mut t);
    sub.cmd(&mut t, &["PSUBSCRIBE", "n*"]);
    publisher.info_fields(&mut t, Some(sid));
    sub.cmd(&mut t, &["SET", "k", "v"]);
    publisher.cmd(&mut t, &["PUBLISH", "a", "x"]);
    publisher.cmd(&mut t, &["PUBLISH", "news", "y"]);
    publisher.cmd(&mut t, &["PUBLISH", "none", "z"]);
    sub.pushes(&mut t);
    sub.cmd(&mut t, &["UNSUBSCRIBE", "b", "a"]);
    sub.pushes(&mut t);
    sub.cmd(&mut t, &["PUNSUBSCRIBE"]);
    sub.pushes(&mut t);
    // RESP3: replies are pushes and every command stays allowed.
    let mut s3 = resp3(addr, "s3");
    s3.cmd(&mut t, &["SUBSCRIBE", "c"]);
    s3.cmd(&mut t, &["GET", "k"]);
    publisher.cmd(&mut t, &["PUBLISH", "c", "hi"]);
    s3.pushes(&mut t);
    s3.cmd(&mut t, &["RESET"]);
    s3.info_fields(&mut t, None);
    publisher.cmd(&mut t, &["PUBLISH", "c", "gone"]);
    t
}

#[test]
fn pubsub_like_redis() {
    same_as_redis(pubsub);
}
