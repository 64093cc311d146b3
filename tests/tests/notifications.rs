//! Keyspace notifications against redis-server 7.0: the same commands run on both servers with
//! `notify-keyspace-events` set to several class combinations, while a subscriber (RESP2 or RESP3)
//! listens with `PSUBSCRIBE __key*__:*`; the messages each command publishes must be the same,
//! byte for byte and in order. After each command the driver publishes a marker on a channel the
//! subscriber also listens to and reads up to it, so every message is attributed to its command
//! without waiting on a timer.
//!
//! Command streams: the seeded generators of the differential tests (strings, keys and expiry,
//! hashes, lists, sets, sorted sets, SORT, RENAME/COPY/MOVE across types and databases), plus
//! fixed scenarios for lazy and active expiry, MULTI/EXEC, scripts, and eviction under a small
//! `maxmemory` (which keys go is policy-dependent, so `evicted` messages are compared in kind and
//! not by key). Bounds: at most 1,500 generated commands per run and 60 s of wall time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cache_tests::generator::{Command, Generator};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, escape};
use cache_tests::{ServerOpts, Subject, diff, gen_list, gen_set, gen_zset};

const TIME_BOUND: Duration = Duration::from_secs(60);
const MARKER: &[u8] = b"notifications-test-sync";

/// One server's pair of connections: commands on `cmd`, messages on `sub`.
struct Side {
    cmd: RawConn,
    sub: RawConn,
    /// Inside MULTI the marker would be queued: messages are collected at EXEC.
    in_multi: bool,
}

impl Side {
    fn open(addr: SocketAddr, flags: &str, resp3: bool) -> Self {
        let mut cmd = RawConn::connect(addr).expect("connect");
        assert_eq!(cmd.cmd(&["FLUSHALL"]).expect("flushall"), Frame::Simple(b"OK".to_vec()));
        let set = cmd.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]).expect("config set");
        assert_eq!(set, Frame::Simple(b"OK".to_vec()), "CONFIG SET notify-keyspace-events {flags}");
        let mut sub = RawConn::connect(addr).expect("connect");
        if resp3 {
            sub.cmd(&["HELLO", "3"]).expect("hello");
        }
        sub.cmd(&["PSUBSCRIBE", "__key*__:*"]).expect("psubscribe");
        sub.cmd(&["SUBSCRIBE", std::str::from_utf8(MARKER).unwrap()]).expect("subscribe");
        Self { cmd, sub, in_multi: false }
    }

    /// Runs `args` and returns the messages it published, raw, in arrival order.
    fn step(&mut self, args: &[Vec<u8>]) -> Vec<String> {
        let reply = self.cmd.cmd(args).expect("reply");
        if std::env::var_os("CACHE_TESTS_TRACE").is_some() {
            eprintln!("{} -> {reply:?}", show(args));
        }
        let name = args[0].to_ascii_lowercase();
        if name == b"multi" && reply == Frame::Simple(b"OK".to_vec()) {
            self.in_multi = true;
        } else if self.in_multi && (name == b"exec" || name == b"discard") {
            self.in_multi = false;
        }
        if self.in_multi { Vec::new() } else { self.collect() }
    }

    /// Publishes the marker and returns every message before it.
    fn collect(&mut self) -> Vec<String> {
        self.cmd.cmd(&[b"PUBLISH".as_slice(), MARKER, b"x"]).expect("publish");
        let mut got = Vec::new();
        for _ in 0..10_000 {
            let (f, raw) = self.sub.read_frame_raw().expect("message");
            let items = match f {
                Frame::Push(items) | Frame::Array(Some(items)) => items,
                other => panic!("subscriber got {other:?}"),
            };
            if items.get(1) == Some(&Frame::Bulk(Some(MARKER.to_vec()))) {
                return got;
            }
            got.push(escape(&raw));
        }
        panic!("no marker after 10000 messages")
    }
}

fn show(cmd: &[Vec<u8>]) -> String {
    diff::show_command(&cmd.to_vec())
}

/// Runs `count` commands of `next` on both servers and compares the messages of each.
fn compare(flags: &str, resp3: bool, count: usize, next: &mut dyn FnMut() -> Command) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    let mut a = Side::open(ours.addr(), flags, resp3);
    let mut b = Side::open(reference.addr(), flags, resp3);
    let started = Instant::now();
    let mut published = 0;
    for i in 0..count {
        if started.elapsed() > TIME_BOUND {
            eprintln!("stopped at the time bound after {i} commands");
            break;
        }
        let cmd = next();
        let (x, y) = (a.step(&cmd), b.step(&cmd));
        assert_eq!(
            x,
            y,
            "flags {flags:?} resp3 {resp3}: command #{i} {} published differently\n  ours:  {x:?}\n  redis: {y:?}",
            show(&cmd)
        );
        published += x.len();
    }
    eprintln!("flags {flags:?} resp3 {resp3}: {published} messages agreed");
    assert!(published > 0 || flags == "K" || flags == "E", "nothing was published: the comparison saw nothing");
}

fn base_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn generic_strings_hashes_and_cross_type_commands_like_redis() {
    let seed = diff::seed_from_env(0x0071_f1e5);
    for (i, (flags, resp3)) in
        [("KEA", false), ("KEA", true), ("Eg$hn", false), ("Kgx", true), ("KEAm", false)].into_iter().enumerate()
    {
        let mut g = Generator::new(seed ^ i as u64, base_unix());
        compare(flags, resp3, 1_500, &mut || g.next_command());
    }
}

#[test]
fn lists_like_redis() {
    let seed = diff::seed_from_env(0x0071_f1e6);
    for (flags, resp3) in [("KEA", false), ("Elgn", true), ("Elm", false)] {
        let mut g = gen_list::ListGenerator::new(seed);
        compare(flags, resp3, 1_000, &mut || g.next_command());
    }
}

#[test]
fn sets_like_redis() {
    let seed = diff::seed_from_env(0x0071_f1e7);
    for (flags, resp3) in [("KEA", true), ("Ksgn", false), ("Km", false)] {
        let mut g = gen_set::SetGenerator::new(seed, false);
        compare(flags, resp3, 1_000, &mut || g.next_command());
    }
}

#[test]
fn sorted_sets_like_redis() {
    let seed = diff::seed_from_env(0x0071_f1e8);
    for (flags, resp3) in [("KEA", false), ("Ezgn", true), ("Ezm", true)] {
        let opts = gen_zset::Options { sets: true, object: false, thresholds: false };
        let mut g = gen_zset::ZsetGenerator::new(seed, opts);
        compare(flags, resp3, 1_000, &mut || g.next_command());
    }
}

fn words(s: &str) -> Vec<Vec<u8>> {
    s.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

/// A fixed script: key creation, misses, MULTI/EXEC, a script, lazy and active expiry.
fn scripted(side: &mut Side) -> Vec<String> {
    let mut out = Vec::new();
    let run = |side: &mut Side, out: &mut Vec<String>, line: &str| {
        let got = side.step(&words(line));
        out.push(format!("{line} -> {got:?}"));
    };
    for line in [
        "SET a 1",
        "GET missing",
        "INCR a",
        "SET b x PX 100000",
        "GETEX b PERSIST",
        "EXPIRE b 0",
        "HSET h f v",
        "HDEL h f",
        "RPUSH l x y",
        "LMOVE l l2 LEFT RIGHT",
        "RPOPLPUSH l l2",
        "SADD s1 m",
        "SMOVE s1 s2 m",
        "ZADD z 1 m",
        "ZINCRBY z 2 m",
        "ZPOPMIN z",
        "RENAME a c",
        "SET d 1",
        "RENAME c d",
        "COPY d e",
        "COPY d e REPLACE",
        "MOVE e 1",
        "LPUSH src 3 1 2",
        "SORT src STORE dst",
        "SORT nothing STORE dst",
        "EXISTS nk",
        "TOUCH nk",
        "TTL nk",
        "PTTL nk",
        "EXPIRETIME nk",
        "TYPE nk",
        "OBJECT ENCODING nk",
        "STRLEN nk",
        "GETRANGE nk 0 1",
        "GETEX nk",
        "MGET nk a nk2",
        "HEXISTS nk f",
        "HGET nk f",
        "HMGET nk f g",
        "HGETALL nk",
        "HLEN nk",
        "LLEN nk",
        "LRANGE nk 0 1",
        "LINDEX nk 0",
        "LPOS nk x",
        "SCARD nk",
        "SISMEMBER nk m",
        "SMEMBERS nk",
        "SRANDMEMBER nk",
        "SINTER nk s2",
        "SUNION nk s2",
        "ZSCORE nk m",
        "ZCARD nk",
        "ZRANK nk m",
        "ZRANGE nk 0 1",
        "ZRANDMEMBER nk",
        "ZUNION 2 nk z",
        "SORT nk",
        "RANDOMKEY",
        "MULTI",
        "SET m 1",
        "INCRBY m 2",
        "DEL m",
        "EXEC",
    ] {
        run(side, &mut out, line);
    }
    let script = vec![
        b"EVAL".to_vec(),
        b"redis.call('set', KEYS[1], 'v'); redis.call('lpush', KEYS[2], 'x'); return redis.call('get', 'nope')"
            .to_vec(),
        b"2".to_vec(),
        b"sk".to_vec(),
        b"sl".to_vec(),
    ];
    out.push(format!("EVAL -> {:?}", side.step(&script)));
    // Lazy expiry: the key is read right after it expired (or the active cycle got there first;
    // either way `expired` comes before the read's own messages).
    run(side, &mut out, "SET lazy v PX 30");
    std::thread::sleep(Duration::from_millis(60));
    run(side, &mut out, "GET lazy");
    run(side, &mut out, "SET active v PX 30");
    // Active expiry: nothing touches the key; the server finds it within about a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline && !seen.iter().any(|m: &String| m.contains("active")) {
        std::thread::sleep(Duration::from_millis(50));
        seen.extend(side.collect());
    }
    out.push(format!("active expiry -> {seen:?}"));
    out
}

#[test]
fn creation_misses_transactions_scripts_and_expiry_like_redis() {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    for (flags, resp3) in [("KEAnm", false), ("KEAnm", true), ("Egx", false)] {
        let x = scripted(&mut Side::open(ours.addr(), flags, resp3));
        let y = scripted(&mut Side::open(reference.addr(), flags, resp3));
        let diff: Vec<String> =
            x.iter().zip(&y).filter(|(p, q)| p != q).map(|(p, q)| format!("  ours:  {p}\n  redis: {q}")).collect();
        assert!(diff.is_empty() && x.len() == y.len(), "flags {flags:?} resp3 {resp3}:\n{}", diff.join("\n"));
    }
}

/// The messages that are not `evicted` ones, and how many `evicted` ones came (both channels).
fn split_evicted(messages: Vec<String>) -> (Vec<String>, usize) {
    let (evicted, rest): (Vec<String>, Vec<String>) = messages.into_iter().partition(|m| m.contains("evicted"));
    (rest, evicted.len())
}

#[test]
fn eviction_publishes_evicted_like_redis() {
    let Some(reference) = RedisServer::start(&["--maxmemory-policy", "allkeys-lru"]) else { return };
    let opts = ServerOpts {
        maxmemory: Some(64 * 1024),
        maxmemory_policy: Some("allkeys-lru".into()),
        ..ServerOpts::default()
    };
    let Some(ours) = Subject::start(&opts) else { return };
    let mut sides = [Side::open(ours.addr(), "KEA", false), Side::open(reference.addr(), "KEA", false)];
    // Redis counts its own baseline memory: give it a budget a little above what it uses now.
    let used = match sides[1].cmd.cmd(&["MEMORY", "STATS"]).expect("memory stats") {
        Frame::Array(Some(items)) => items
            .chunks(2)
            .find(|p| p[0] == Frame::Bulk(Some(b"total.allocated".to_vec())))
            .and_then(|p| match &p[1] {
                Frame::Integer(n) => Some(*n),
                _ => None,
            })
            .expect("total.allocated"),
        other => panic!("MEMORY STATS gave {other:?}"),
    };
    let budget = (used + 256 * 1024).to_string();
    sides[1].cmd.cmd(&["CONFIG", "SET", "maxmemory", &budget]).expect("config set");
    let value = "v".repeat(1000);
    let mut evicted = [0, 0];
    for i in 0..1_500 {
        let cmd = vec![b"SET".to_vec(), format!("key:{i}").into_bytes(), value.clone().into_bytes()];
        let [x, y] = [0, 1].map(|s| split_evicted(sides[s].step(&cmd)));
        assert_eq!(x.0, y.0, "SET key:{i}: messages other than `evicted` differ");
        evicted[0] += x.1;
        evicted[1] += y.1;
    }
    eprintln!("evicted messages: ours {}, redis {}", evicted[0], evicted[1]);
    assert!(evicted[0] > 0 && evicted[1] > 0, "both servers evict and say so: {evicted:?}");
    assert!(evicted.iter().all(|n| n % 2 == 0), "each eviction is published on both channels: {evicted:?}");
}

/// A RESP3 client that listens and writes on one connection: its own command's messages come
/// before the command's reply.
fn own_messages(addr: SocketAddr) -> Vec<String> {
    let mut admin = RawConn::connect(addr).expect("connect");
    admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]).expect("config set");
    let mut c = RawConn::connect(addr).expect("connect");
    c.cmd(&["HELLO", "3"]).expect("hello");
    c.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]).expect("psubscribe");
    let mut out = Vec::new();
    for line in ["SET own 1", "DEL own", "PUBLISH __keyevent@0__:x y"] {
        c.send_raw(&cache_tests::resp::encode_command(&words(line))).expect("send");
        for _ in 0..10 {
            let (f, raw) = c.read_frame_raw().expect("frame");
            out.push(format!("{line}: {}", escape(&raw)));
            if !matches!(f, Frame::Push(_)) {
                break;
            }
        }
    }
    out
}

#[test]
fn a_resp3_client_gets_its_own_messages_before_the_reply_like_redis() {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    assert_eq!(own_messages(ours.addr()), own_messages(reference.addr()));
}

fn config_transcript(addr: SocketAddr) -> Vec<String> {
    let mut c = RawConn::connect(addr).expect("connect");
    let mut out = Vec::new();
    for value in
        ["", "A", "K", "E", "KA", "AKEmn", "ng", "$lshzxetdmn", "g$lshzxetdKE", "gzxKEA", "x", "Q", "KEA ", "KEAm"]
    {
        let (_, set) = c.cmd_raw(&["CONFIG", "SET", "notify-keyspace-events", value]).expect("set");
        let (_, get) = c.cmd_raw(&["CONFIG", "GET", "notify-keyspace-events"]).expect("get");
        out.push(format!("{value:?}: {} {}", escape(&set), escape(&get)));
    }
    out
}

#[test]
fn config_set_and_get_of_the_classes_like_redis() {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    assert_eq!(config_transcript(ours.addr()), config_transcript(reference.addr()));
}

/// A blocked BLPOP served by another client's push: the push's message, then the pop's (and the
/// `del` of the emptied list), as Redis serves blocked clients after the pushing command.
fn served_later(addr: SocketAddr) -> Vec<String> {
    let mut side = Side::open(addr, "KEA", false);
    let mut waiter = RawConn::connect(addr).expect("connect");
    waiter.send_raw(&cache_tests::resp::encode_command(&["BLPOP", "q", "5"])).expect("send");
    // Wait until the server has parked it.
    for _ in 0..200 {
        let listed = side.cmd.cmd(&["CLIENT", "LIST"]).expect("client list");
        if matches!(&listed, Frame::Bulk(Some(b)) | Frame::Verbatim(_, b) if String::from_utf8_lossy(b).contains("cmd=blpop"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let got = side.step(&words("RPUSH q x"));
    let (served, _) = waiter.read_frame_raw().expect("served");
    let mut out = got;
    out.push(format!("{served:?}"));
    out
}

#[test]
fn a_blocked_pop_served_by_a_push_publishes_like_redis() {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ours) = Subject::start(&ServerOpts::default()) else { return };
    let x = served_later(ours.addr());
    assert!(x.iter().any(|m| m.contains("lpop")) && x.iter().any(|m| m.contains("del")), "{x:?}");
    assert_eq!(x, served_later(reference.addr()));
}
