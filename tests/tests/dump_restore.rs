//! DUMP / RESTORE against a real `redis-server` 7.0, both ways: each seeded case
//! ([`cache_tests::gen_dump`]) builds one key on both servers with the same commands; Redis's DUMP
//! is RESTOREd on ours and ours on Redis (with TTL, ABSTTL, REPLACE, IDLETIME, FREQ), and the
//! values read back (contents, TYPE, OBJECT ENCODING, PTTL range) must agree. Our DUMP bytes must
//! equal Redis's wherever the encoding has one byte form: everything but hashtable-encoded sets
//! and hashes, which Redis writes in its dict's order (compared by contents). RESP2 and RESP3.
//!
//! A second test mutates valid payloads (flipped, inserted, removed bytes with the checksum
//! recomputed) and sends them to both servers: ours must answer every one (OK or Redis's error)
//! and stay up, never load what Redis refuses, and where both accept, the values must agree. The
//! reference runs with `sanitize-dump-payload yes`, so that it validates deeply instead of
//! crashing. We refuse a little more than Redis: sorted-set listpack scores that are not numbers;
//! streams whose length disagrees with their entries, whose entry ids are out of order or above
//! the last id, or whose counters use an invalid length encoding (Redis's `rdbLoadLen` reads one
//! as `UINT64_MAX` there and loads on).
//!
//! Streams ([`DumpGenerator::stream_case`]: explicit ids, XDEL, XTRIM, groups, pending entries,
//! several nodes) run both ways too, with XRANGE, XLEN, XINFO STREAM FULL and XINFO GROUPS read
//! back (delivery and seen times masked where the two servers stamped them, `radix-tree-nodes`
//! masked: ours estimates Redis's radix-tree node count): our DUMP equals Redis's byte for byte
//! when no group stamped a time, and Redis's payload RESTOREd on ours DUMPs back to the same bytes.
//! The mutation test draws one case in three from streams.
//!
//! Also compared: RESTORE's error replies in Redis's order, RESTORE under lower encoding
//! thresholds than the payload was written with, and the old encodings Redis 7.0 still loads
//! (ziplists, quicklists of ziplists, zipmaps, plain lists, text scores: [`old_encodings`]).
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one).

use std::time::{Duration, Instant};

use cache_tests::gen_dump::{Case, DumpGenerator, with_key};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, escape};
use cache_tests::{ServerOpts, Subject, diff};

/// The reference's encoding thresholds: Redis 7.0's defaults, which are ours too, so that
/// encodings (and so DUMP bytes) can be compared. Stated so that a change of either default shows.
const SAME_THRESHOLDS: &[&str] = &["--hash-max-listpack-entries", "512", "--zset-max-listpack-entries", "128"];

/// One test at a time: the encoding thresholds are process-wide in our in-process server, and
/// one test changes them.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

const DEFAULT_SEED: u64 = 0xd0_0d;
/// Per-run bound on wall time: the loop stops there (reported, not failed).
const TIME_BOUND: Duration = Duration::from_secs(90);

fn bulk(f: &Frame) -> Vec<u8> {
    match f {
        Frame::Bulk(Some(b)) => b.clone(),
        other => panic!("expected a bulk reply, got {other:?}"),
    }
}

/// A reply in a comparable form: `sorted` sorts an array's elements (pairs, for HGETALL) and a
/// map's entries.
fn normal(f: Frame, sorted: bool, pairs: bool) -> Frame {
    if !sorted {
        return f;
    }
    match f {
        Frame::Array(Some(v)) | Frame::Set(v) if pairs => {
            let mut chunks: Vec<Vec<Frame>> = v.chunks(2).map(<[Frame]>::to_vec).collect();
            chunks.sort_by_key(|c| format!("{c:?}"));
            Frame::Array(Some(chunks.into_iter().flatten().collect()))
        }
        Frame::Array(Some(mut v)) => {
            v.sort_by_key(|e| format!("{e:?}"));
            Frame::Array(Some(v))
        }
        Frame::Set(mut v) => {
            v.sort_by_key(|e| format!("{e:?}"));
            Frame::Set(v)
        }
        Frame::Map(mut m) => {
            m.sort_by_key(|e| format!("{e:?}"));
            Frame::Map(m)
        }
        other => other,
    }
}

/// The reads of `case` on `key` of `conn`.
fn view(conn: &mut RawConn, case: &Case, key: &[u8]) -> Vec<Frame> {
    let cmds: Vec<Vec<Vec<u8>>> = case.reads.iter().map(|(c, _)| with_key(c, key)).collect();
    let replies = conn.pipeline(&cmds).expect("reads");
    replies.into_iter().zip(&case.reads).map(|(f, (c, sorted))| normal(f, *sorted, c[0] == b"HGETALL")).collect()
}

fn connect(addr: std::net::SocketAddr, resp3: bool) -> RawConn {
    let mut c = RawConn::connect(addr).expect("connect");
    if resp3 {
        c.cmd(&["HELLO", "3"]).expect("HELLO 3");
    }
    c
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64
}

fn restore_cmd(case: &Case, key: &[u8], payload: &[u8]) -> Vec<Vec<u8>> {
    let ttl = if case.ttl > 1 && case.options.iter().any(|o| o == b"ABSTTL") { now_ms() + case.ttl } else { case.ttl };
    let mut cmd = vec![b"RESTORE".to_vec(), key.to_vec(), ttl.to_string().into_bytes(), payload.to_vec()];
    cmd.extend(case.options.iter().cloned());
    cmd
}

fn round_trips(cases: usize, resp3: bool, seed_offset: u64) {
    let _turn = turn();
    let Some(reference) = RedisServer::start(SAME_THRESHOLDS) else { return };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    let chosen = diff::seed_from_env(DEFAULT_SEED);
    let seed = chosen ^ seed_offset;
    eprintln!("dump/restore {} RESP{}: seed {seed}, {cases} cases", subject.name(), if resp3 { 3 } else { 2 });
    let (mut r, mut o) = (connect(reference.addr(), resp3), connect(subject.addr(), resp3));
    let mut generator = DumpGenerator::new(seed);
    let (started, mut same_bytes, mut done) = (Instant::now(), 0, 0);
    for i in 0..cases {
        if started.elapsed() > TIME_BOUND {
            eprintln!("time bound reached after {i} cases");
            break;
        }
        let case = generator.next_case();
        let ctx = |what: &str| format!("seed {chosen} (^{seed_offset}) case {i} [{}]: {what}", case.label);
        let src = format!("src:{i}").into_bytes();
        let build: Vec<Vec<Vec<u8>>> = case.build.iter().map(|c| with_key(c, &src)).collect();
        let (rb, ob) = (r.pipeline(&build).expect("build"), o.pipeline(&build).expect("build"));
        assert_eq!(ob, rb, "{}", ctx("building replies"));
        assert_eq!(view(&mut o, &case, &src), view(&mut r, &case, &src), "{}", ctx("built values"));

        let theirs = bulk(&r.cmd(&[&b"DUMP"[..], &src]).expect("dump"));
        let ours = bulk(&o.cmd(&[&b"DUMP"[..], &src]).expect("dump"));
        if case.same_bytes {
            assert_eq!(escape(&ours), escape(&theirs), "{}", ctx("DUMP bytes"));
            same_bytes += 1;
        }

        // Redis's payload into ours, ours into Redis, over an existing key when REPLACE is given.
        let (to_ours, to_redis) = (format!("r2o:{i}").into_bytes(), format!("o2r:{i}").into_bytes());
        if case.options.iter().any(|o| o == b"REPLACE") {
            o.cmd(&[&b"SET"[..], &to_ours, b"old"]).expect("set");
            r.cmd(&[&b"SET"[..], &to_redis, b"old"]).expect("set");
        }
        let got_ours = o.cmd(&restore_cmd(&case, &to_ours, &theirs)).expect("restore");
        let got_redis = r.cmd(&restore_cmd(&case, &to_redis, &ours)).expect("restore");
        assert_eq!(got_ours, got_redis, "{}", ctx("RESTORE replies"));
        assert_eq!(got_ours, Frame::Simple(b"OK".to_vec()), "{}", ctx("RESTORE reply"));

        let expired = case.ttl == 1;
        let want = if expired { view(&mut r, &case, b"no-such-key") } else { view(&mut r, &case, &src) };
        assert_eq!(view(&mut o, &case, &to_ours), want, "{}", ctx("Redis's value restored on ours"));
        assert_eq!(view(&mut r, &case, &to_redis), want, "{}", ctx("our value restored on Redis"));
        for (conn, key) in [(&mut o, &to_ours), (&mut r, &to_redis)] {
            let Frame::Integer(pttl) = conn.cmd(&[&b"PTTL"[..], key]).expect("pttl") else { panic!("PTTL") };
            match case.ttl {
                0 => assert_eq!(pttl, -1, "{}", ctx("PTTL")),
                1 => assert_eq!(pttl, -2, "{}", ctx("PTTL")),
                t => assert!(pttl > t as i64 - 10_000 && pttl <= t as i64, "{}: {pttl}", ctx("PTTL")),
            }
        }
        done += 1;
    }
    eprintln!("dump/restore: {done} cases, {same_bytes} byte-compared");
    assert!(done > 0 && same_bytes > 0);
}

#[test]
fn resp2_round_trips_both_ways() {
    round_trips(300, false, 0);
}

#[test]
fn resp3_round_trips_both_ways() {
    round_trips(150, true, 7);
}

/// `f` with every Unix-ms time within a minute of now (delivery and seen times of XINFO STREAM
/// FULL) masked to 0: the two servers stamp them a few ms apart.
fn masked(f: Frame) -> Frame {
    match f {
        Frame::Integer(v) if v.abs_diff(now_ms() as i64) < 60_000 => Frame::Integer(0),
        Frame::Array(Some(v)) => Frame::Array(Some(v.into_iter().map(masked).collect())),
        Frame::Map(m) => Frame::Map(m.into_iter().map(|(k, v)| (masked(k), masked(v))).collect()),
        other => other,
    }
}

/// XINFO STREAM's `radix-tree-nodes` set to 0 in `views`: the count of Redis's radix-tree
/// internal nodes, which ours estimates (it differs on streams of several nodes).
fn no_rax_nodes(views: Vec<Frame>) -> Vec<Frame> {
    let key = Frame::Bulk(Some(b"radix-tree-nodes".to_vec()));
    views
        .into_iter()
        .map(|f| match f {
            Frame::Array(Some(mut v)) => {
                if let Some(at) = v.iter().position(|e| *e == key) {
                    v[at + 1] = Frame::Integer(0);
                }
                Frame::Array(Some(v))
            }
            Frame::Map(mut m) => {
                m.iter_mut().filter(|(k, _)| *k == key).for_each(|(_, v)| *v = Frame::Integer(0));
                Frame::Map(m)
            }
            other => other,
        })
        .collect()
}

/// Streams built by the same commands on both servers: built values agree (times masked); Redis's
/// DUMP RESTOREd on ours reads as Redis's value and DUMPs back to the same bytes; ours RESTOREd on
/// Redis reads as ours; and without groups (no times) our DUMP bytes equal Redis's.
fn stream_round_trips(cases: usize, resp3: bool, seed_offset: u64) {
    let _turn = turn();
    let Some(reference) = RedisServer::start(SAME_THRESHOLDS) else { return };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    let chosen = diff::seed_from_env(DEFAULT_SEED);
    let seed = chosen ^ seed_offset;
    eprintln!("stream dump/restore RESP{}: seed {seed}, {cases} cases", if resp3 { 3 } else { 2 });
    let (mut r, mut o) = (connect(reference.addr(), resp3), connect(subject.addr(), resp3));
    let mut generator = DumpGenerator::new(seed);
    let (started, mut direct, mut done) = (Instant::now(), 0, 0);
    let mask = |v: Vec<Frame>| v.into_iter().map(masked).collect::<Vec<_>>();
    for i in 0..cases {
        if started.elapsed() > TIME_BOUND {
            eprintln!("time bound reached after {i} cases");
            break;
        }
        let case = generator.stream_case();
        let ctx = |what: &str| format!("seed {chosen} (^{seed_offset}) case {i} [{}]: {what}", case.label);
        let src = format!("src:{i}").into_bytes();
        let build: Vec<Vec<Vec<u8>>> = case.build.iter().map(|c| with_key(c, &src)).collect();
        let (rb, ob) = (r.pipeline(&build).expect("build"), o.pipeline(&build).expect("build"));
        assert_eq!(mask(ob), mask(rb), "{}", ctx("building replies"));
        let view = |conn: &mut RawConn, key: &[u8]| no_rax_nodes(view(conn, &case, key));
        let (ours_view, theirs_view) = (view(&mut o, &src), view(&mut r, &src));
        assert_eq!(mask(ours_view.clone()), mask(theirs_view.clone()), "{}", ctx("built values"));

        let theirs = bulk(&r.cmd(&[&b"DUMP"[..], &src]).expect("dump"));
        let ours = bulk(&o.cmd(&[&b"DUMP"[..], &src]).expect("dump"));
        if !case.build.iter().any(|c| c[0].starts_with(b"XGROUP") || c[0] == b"XREADGROUP") {
            assert_eq!(escape(&ours), escape(&theirs), "{}", ctx("DUMP bytes"));
            direct += 1;
        }
        let (to_ours, to_redis) = (format!("r2o:{i}").into_bytes(), format!("o2r:{i}").into_bytes());
        if case.options.iter().any(|o| o == b"REPLACE") {
            o.cmd(&[&b"SET"[..], &to_ours, b"old"]).expect("set");
            r.cmd(&[&b"SET"[..], &to_redis, b"old"]).expect("set");
        }
        let got_ours = o.cmd(&restore_cmd(&case, &to_ours, &theirs)).expect("restore");
        let got_redis = r.cmd(&restore_cmd(&case, &to_redis, &ours)).expect("restore");
        assert_eq!(got_ours, Frame::Simple(b"OK".to_vec()), "{}", ctx("RESTORE on ours"));
        assert_eq!(got_redis, Frame::Simple(b"OK".to_vec()), "{}", ctx("RESTORE on Redis"));
        assert_eq!(view(&mut o, &to_ours), theirs_view, "{}", ctx("Redis's value restored on ours"));
        assert_eq!(view(&mut r, &to_redis), ours_view, "{}", ctx("our value restored on Redis"));
        let again = bulk(&o.cmd(&[&b"DUMP"[..], &to_ours]).expect("dump"));
        assert_eq!(escape(&again), escape(&theirs), "{}", ctx("Redis's payload, RESTOREd and DUMPed by ours"));
        done += 1;
    }
    eprintln!("stream dump/restore: {done} cases, {direct} compared byte for byte directly");
    assert!(done > 0);
}

#[test]
fn resp2_stream_round_trips_both_ways() {
    stream_round_trips(120, false, 0x5);
}

#[test]
fn resp3_stream_round_trips_both_ways() {
    stream_round_trips(60, true, 0x55);
}

/// A key's type and contents, whatever its type (unordered collections sorted).
fn contents(conn: &mut RawConn, key: &[u8]) -> (Frame, Frame) {
    let ty = conn.cmd(&[&b"TYPE"[..], key]).expect("type");
    let Frame::Simple(name) = &ty else { panic!("TYPE: {ty:?}") };
    let (cmd, sorted, pairs): (&[&[u8]], bool, bool) = match &name[..] {
        b"string" => (&[b"GET"], false, false),
        b"list" => (&[b"LRANGE", b"0", b"-1"], false, false),
        b"set" => (&[b"SMEMBERS"], true, false),
        // Redis keeps a listpack whose members are out of order as it came; we sort it.
        b"zset" => (&[b"ZRANGE", b"0", b"-1", b"WITHSCORES"], true, true),
        b"stream" => (&[b"XRANGE", b"-", b"+"], false, false),
        _ => (&[b"HGETALL"], true, true),
    };
    let mut args = vec![cmd[0], key];
    args.extend_from_slice(&cmd[1..]);
    let reply = conn.cmd(&args).expect("read");
    (ty, normal(reply, sorted, pairs))
}

/// Recomputes a payload's CRC-64 after its body was changed.
fn reseal(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&10u16.to_le_bytes());
    let crc = cache_server::persistence::rdb::crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

#[test]
fn mutated_payloads_are_refused_or_agree() {
    let _turn = turn();
    let Some(reference) = RedisServer::start(&[SAME_THRESHOLDS, &["--sanitize-dump-payload", "yes"]].concat()) else {
        return;
    };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    let seed = diff::seed_from_env(DEFAULT_SEED) ^ 0x77;
    let (mut r, mut o) = (connect(reference.addr(), false), connect(subject.addr(), false));
    let mut generator = DumpGenerator::new(seed);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let (started, mut tried, mut both, mut disagree) = (Instant::now(), 0, 0, 0);
    for i in 0..60 {
        // One case in three a stream.
        let case = if i % 3 == 2 { generator.stream_case() } else { generator.next_case() };
        let src = format!("src:{i}").into_bytes();
        let build: Vec<Vec<Vec<u8>>> = case.build.iter().map(|c| with_key(c, &src)).collect();
        r.pipeline(&build).expect("build");
        let payload = bulk(&r.cmd(&[&b"DUMP"[..], &src]).expect("dump"));
        for m in 0..30 {
            if started.elapsed() > TIME_BOUND {
                break;
            }
            let mut body = payload[..payload.len() - 10].to_vec();
            for _ in 0..rand::Rng::random_range(&mut rng, 1..4) {
                let at = rand::Rng::random_range(&mut rng, 0..body.len());
                match rand::Rng::random_range(&mut rng, 0..3) {
                    0 => body[at] = rand::Rng::random(&mut rng),
                    1 => body.insert(at, rand::Rng::random(&mut rng)),
                    _ if body.len() > 1 => {
                        body.remove(at);
                    }
                    _ => {}
                }
            }
            let bad = reseal(body);
            let key = format!("m:{i}:{m}").into_bytes();
            let cmd: Vec<&[u8]> = vec![b"RESTORE", &key, b"0", &bad];
            let ours = o.cmd(&cmd).expect("our server answers every mutated payload");
            let theirs = r.cmd(&cmd).expect("redis answers");
            tried += 1;
            let ok = Frame::Simple(b"OK".to_vec());
            if ours != ok {
                assert_eq!(
                    ours,
                    Frame::Error(b"ERR Bad data format".to_vec()),
                    "case {i} mutation {m}: {}",
                    escape(&bad)
                );
            }
            if ours == ok && theirs == ok {
                both += 1;
                // Both loaded it: ours, DUMPed and RESTOREd on Redis, reads as Redis's does.
                let ours_dump = bulk(&o.cmd(&[&b"DUMP"[..], &key]).expect("dump"));
                let back = format!("back:{i}:{m}").into_bytes();
                let restored = r.cmd(&[&b"RESTORE"[..], &back, b"0", &ours_dump]).expect("restore");
                assert_eq!(restored, ok, "case {i} mutation {m}");
                assert_eq!(contents(&mut r, &back), contents(&mut r, &key), "case {i} mutation {m}: {}", escape(&bad));
            } else if (ours == ok) != (theirs == ok) {
                // Only ever the stricter side: a sorted-set listpack whose score text is not a
                // number, which Redis reads with strtod (a prefix, or 0) and we refuse.
                assert_ne!(ours, ok, "we loaded what Redis (sanitizing) refused: {theirs:?} {}", escape(&bad));
                disagree += 1;
                if std::env::var("DUMP_TRACE").is_ok() {
                    eprintln!("DISAGREE ours={ours:?} theirs={theirs:?} {}", escape(&bad));
                }
            }
        }
    }
    assert_eq!(o.cmd(&["PING"]).expect("alive"), Frame::Simple(b"PONG".to_vec()));
    eprintln!("mutated payloads: {tried} tried, {both} loaded by both, {disagree} accepted by one server only");
}

/// RESTORE's checks in Redis's order, and DUMP of a missing key, in RESP2 and RESP3.
#[test]
fn error_replies_match_redis() {
    let _turn = turn();
    let Some(reference) = RedisServer::start(SAME_THRESHOLDS) else { return };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    let table: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["RESTORE", "k", "0", "x"],
        &["RESTORE", "k", "-1", "x", "REPLACE"],
        &["RESTORE", "k", "x", "x", "REPLACE"],
        &["RESTORE", "k", "0", "x", "REPLACE"],
        &["RESTORE", "k", "0", "x", "REPLACE", "IDLETIME"],
        &["RESTORE", "k", "0", "x", "IDLETIME", "-1"],
        &["RESTORE", "k", "0", "x", "FREQ", "256"],
        &["RESTORE", "k", "0", "x", "FREQ", "1", "IDLETIME", "1"],
        &["RESTORE", "k", "0", "x", "IDLETIME", "1", "FREQ", "1"],
        &["RESTORE", "k", "0", "x", "IDLETIME", "y"],
        &["RESTORE", "k", "0", "x", "BOGUS"],
        &["RESTORE", "n", "-5", "x"],
        &["RESTORE", "n", "0"],
        &["RESTORE", "n", "0", "\x00\x01a\x0a\x00"],
        &["DUMP", "nokey"],
        &["DUMP"],
    ];
    for resp3 in [false, true] {
        let (mut r, mut o) = (connect(reference.addr(), resp3), connect(subject.addr(), resp3));
        for cmd in table {
            let (ours, theirs) = (o.cmd_raw(cmd).expect("ours"), r.cmd_raw(cmd).expect("redis"));
            assert_eq!(escape(&ours.1), escape(&theirs.1), "{cmd:?} (RESP3: {resp3})");
        }
        // A payload Redis wrote for a string, then the same one with a byte of its body changed.
        let good = bulk(&r.cmd(&["DUMP", "k"]).expect("dump"));
        let mut bad = good.clone();
        bad[1] ^= 1;
        for payload in [&good, &bad] {
            let cmd: [&[u8]; 5] = [b"RESTORE", b"k", b"0", payload, b"REPLACE"];
            assert_eq!(o.cmd(&cmd).expect("ours"), r.cmd(&cmd).expect("redis"));
        }
    }
}

/// Payloads written under Redis's default thresholds, restored under much lower ones: both servers
/// convert (or keep) the same encodings. Not compared: a hash listpack with a value longer than
/// `hash-max-listpack-value`, which Redis keeps as a listpack and we convert (our hash decides its
/// encoding as fields are inserted).
#[test]
fn restore_converts_under_the_thresholds_in_force() {
    let _turn = turn();
    let Some(reference) = RedisServer::start(SAME_THRESHOLDS) else { return };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    let (mut r, mut o) = (connect(reference.addr(), false), connect(subject.addr(), false));
    let long = "x".repeat(40);
    let build: Vec<Vec<&str>> = vec![
        vec!["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        vec!["ZADD", "zlong", "1", &long],
        vec!["HSET", "h", "a", "1", "b", "2", "c", "3"],
        vec!["SADD", "s", "1", "2", "3"],
        vec!["SADD", "sx", "a", "b"],
        vec!["RPUSH", "l", "a", "b", "c", "d", "e"],
    ];
    r.pipeline(&build).expect("build");
    let keys = ["z", "zlong", "h", "s", "sx", "l"];
    let payloads: Vec<Vec<u8>> = keys.iter().map(|k| bulk(&r.cmd(&["DUMP", k]).expect("dump"))).collect();
    let low: &[(&str, &str)] = &[
        ("zset-max-listpack-entries", "2"),
        ("zset-max-listpack-value", "10"),
        ("hash-max-listpack-entries", "2"),
        ("set-max-intset-entries", "2"),
        ("list-max-listpack-size", "2"),
    ];
    for conn in [&mut r, &mut o] {
        for (name, value) in low {
            assert_eq!(conn.cmd(&["CONFIG", "SET", name, value]).expect("config"), Frame::Simple(b"OK".to_vec()));
        }
    }
    for (k, p) in keys.iter().zip(&payloads) {
        let to = format!("r:{k}");
        let cmd: [&[u8]; 4] = [b"RESTORE", to.as_bytes(), b"0", p];
        assert_eq!(o.cmd(&cmd).expect("ours"), r.cmd(&cmd).expect("redis"), "{k}");
        let enc = ["OBJECT", "ENCODING", &to];
        assert_eq!(o.cmd(&enc).expect("ours"), r.cmd(&enc).expect("redis"), "{k}");
        // And what each server DUMPs now is the same, but for hashtables (Redis writes them in its
        // dict order) and the list: Redis keeps the quicklist nodes it loaded, we split nodes as
        // RPUSH would under the fill in force.
        let dump = ["DUMP", &to];
        if !["h", "s", "sx", "l"].contains(k) {
            assert_eq!(
                escape(&bulk(&o.cmd(&dump).expect("ours"))),
                escape(&bulk(&r.cmd(&dump).expect("redis"))),
                "{k}"
            );
        }
    }
    for (name, _) in low {
        let default = cache_server::types::DIRECTIVES.iter().find(|d| d.0 == *name).expect("directive").2;
        o.cmd(&["CONFIG", "SET", name, &default.to_string()]).expect("config");
    }
}

/// Old encodings Redis 7.0 still loads but no longer writes (as Redis 6 DUMPs them, RDB version
/// 9): ziplist lists, hashes and sorted sets, quicklists of ziplists, zipmaps, plain lists and
/// sorted sets with text scores. Built here, RESTOREd on both servers: the replies, the encodings
/// and the contents must agree.
mod old_encodings {
    use super::*;
    use cache_tests::gen_dump_old::{payload, put_len, put_str, ziplist, zipmap};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn element(rng: &mut StdRng) -> Vec<u8> {
        match rng.random_range(0..9) {
            0 => rng.random_range(-1i64..14).to_string().into_bytes(),
            1 => rng.random_range(-200i64..200).to_string().into_bytes(),
            2 => rng.random_range(-40_000i64..40_000).to_string().into_bytes(),
            3 => rng.random_range(-(1i64 << 24)..(1 << 24)).to_string().into_bytes(),
            4 => rng.random::<i64>().to_string().into_bytes(),
            5 => vec![b'w'; rng.random_range(60..400)],
            6 => Vec::new(),
            7 if rng.random_ratio(1, 20) => vec![b'B'; 17_000],
            _ => format!("m:{}", rng.random_range(0..100_000)).into_bytes(),
        }
    }

    fn distinct(rng: &mut StdRng, n: usize) -> Vec<Vec<u8>> {
        let mut seen = std::collections::HashSet::new();
        (0..n).map(|_| element(rng)).filter(|e| seen.insert(e.clone())).collect()
    }

    #[test]
    fn old_encodings_load_as_on_redis() {
        let _turn = turn();
        let Some(reference) = RedisServer::start(&[SAME_THRESHOLDS, &["--sanitize-dump-payload", "yes"]].concat())
        else {
            return;
        };
        let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
        let (mut r, mut o) = (connect(reference.addr(), false), connect(subject.addr(), false));
        let mut rng = StdRng::seed_from_u64(diff::seed_from_env(DEFAULT_SEED) ^ 0x01d);
        let (mut kinds, mut loaded) = ([0usize; 7], 0);
        for i in 0..150 {
            let n = if rng.random_bool(0.2) { rng.random_range(129..600) } else { rng.random_range(1..30) };
            let items = distinct(&mut rng, n);
            let kind = rng.random_range(0..7);
            kinds[kind] += 1;
            let (ty, body) = match kind {
                0 => {
                    let mut b = Vec::new();
                    put_str(&mut b, &ziplist(&items));
                    (10, b)
                }
                1 => {
                    let mut b = Vec::new();
                    let chunks: Vec<&[Vec<u8>]> = items.chunks(rng.random_range(1..50)).collect();
                    put_len(&mut b, chunks.len());
                    chunks.iter().for_each(|c| put_str(&mut b, &ziplist(c)));
                    (14, b)
                }
                2 | 3 => {
                    let mut flat = Vec::new();
                    for it in &items {
                        flat.push(it.clone());
                        flat.push(if kind == 2 {
                            element(&mut rng)
                        } else {
                            format!("{}", rng.random_range(-1e6..1e6)).into_bytes()
                        });
                    }
                    let mut b = Vec::new();
                    put_str(&mut b, &ziplist(&flat));
                    (if kind == 2 { 13 } else { 12 }, b)
                }
                4 => {
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                        items.iter().take(200).map(|f| (f.clone(), element(&mut rng))).collect();
                    let mut b = Vec::new();
                    put_str(&mut b, &zipmap(&pairs));
                    (9, b)
                }
                5 => {
                    let mut b = Vec::new();
                    put_len(&mut b, items.len());
                    items.iter().for_each(|it| put_str(&mut b, it));
                    (1, b)
                }
                _ => {
                    let mut b = Vec::new();
                    put_len(&mut b, items.len());
                    for it in &items {
                        put_str(&mut b, it);
                        match rng.random_range(0..4) {
                            0 => b.push(254),
                            1 => b.push(255),
                            _ => {
                                let s = format!("{}", rng.random_range(-1e9..1e9));
                                b.push(s.len() as u8);
                                b.extend_from_slice(s.as_bytes());
                            }
                        }
                    }
                    (3, b)
                }
            };
            // A hash ziplist holding a value past hash-max-listpack-value: Redis keeps it packed,
            // we convert it (see persistence::rdb's docs); contents still compared.
            let long_hash = ty == 13 && body.windows(65).any(|w| w.iter().all(|&b| b == b'w' || b == b'B'));
            let p = payload(ty, &body);
            let key = format!("old:{i}");
            let cmd: [&[u8]; 4] = [b"RESTORE", key.as_bytes(), b"0", &p];
            let (ours, theirs) = (o.cmd(&cmd).expect("ours"), r.cmd(&cmd).expect("redis"));
            assert_eq!(ours, theirs, "case {i}, type {ty}: {}", escape(&p));
            if ours == Frame::Simple(b"OK".to_vec()) {
                loaded += 1;
                assert_eq!(contents(&mut o, key.as_bytes()), contents(&mut r, key.as_bytes()), "case {i}, type {ty}");
                if long_hash {
                    continue;
                }
                let enc = ["OBJECT", "ENCODING", &key];
                assert_eq!(o.cmd(&enc).expect("ours"), r.cmd(&enc).expect("redis"), "case {i}, type {ty}");
            }
        }
        eprintln!(
            "old encodings: {loaded} loaded; cases per kind (list ziplist, quicklist, hash ziplist, zset ziplist, zipmap, list, zset text): {kinds:?}"
        );
        assert!(loaded > 140, "the payloads built here are valid: {loaded} of 150 loaded");
    }
}

/// The keyspace events of RESTORE (`new`, `restore`; `del` when a REPLACE expires at once),
/// captured from both servers in order. Skipped (with a note; a failure under CI) on a build
/// whose server does not deliver notifications yet.
#[test]
fn restore_notifies_as_redis() {
    let _turn = turn();
    let Some(reference) = RedisServer::start(SAME_THRESHOLDS) else { return };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    let events = |addr: std::net::SocketAddr, payload: Option<Vec<u8>>| -> (Vec<Frame>, Vec<u8>) {
        let mut c = connect(addr, false);
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAn"]).expect("config");
        c.cmd(&["SET", "k", "v"]).expect("set");
        let payload = payload.unwrap_or_else(|| bulk(&c.cmd(&["DUMP", "k"]).expect("dump")));
        let mut sub = connect(addr, false);
        sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]).expect("psubscribe");
        let past = b"1".as_slice();
        for cmd in [
            vec![&b"SET"[..], b"probe", b"x"],
            vec![b"RESTORE", b"n1", b"0", &payload],
            vec![b"RESTORE", b"k", b"0", &payload, b"REPLACE"],
            vec![b"RESTORE", b"k", past, &payload, b"REPLACE", b"ABSTTL"],
            vec![b"RESTORE", b"n2", past, &payload, b"ABSTTL"],
            vec![b"RESTORE", b"n1", b"5000", &payload, b"REPLACE", b"IDLETIME", b"3"],
        ] {
            assert_eq!(c.cmd(&cmd).expect("command"), Frame::Simple(b"OK".to_vec()), "{cmd:?}");
        }
        sub.stream().set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
        let mut got = Vec::new();
        while let Ok(f) = sub.read_frame() {
            got.push(f);
        }
        (got, payload)
    };
    let (theirs, payload) = events(reference.addr(), None);
    let (ours, _) = events(subject.addr(), Some(payload));
    if !cache_tests::peer::skip_unless(!ours.is_empty(), || {
        "this build's server delivers no keyspace notifications".into()
    }) {
        return;
    }
    assert!(theirs.len() >= 8, "{theirs:?}");
    assert_eq!(ours, theirs);
}

/// `rdbcompression no` turns LZF off in DUMP on both servers (and `yes` back on).
#[test]
fn rdbcompression_applies_to_dump() {
    let _turn = turn();
    let Some(reference) = RedisServer::start(SAME_THRESHOLDS) else { return };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    let (mut r, mut o) = (connect(reference.addr(), false), connect(subject.addr(), false));
    let long = "abc".repeat(100);
    let items: Vec<String> = (0..200).map(|i| format!("item:{i}")).collect();
    let mut rpush = vec!["RPUSH", "l"];
    rpush.extend(items.iter().map(String::as_str));
    for conn in [&mut r, &mut o] {
        conn.cmd(&["SET", "s", &long]).expect("set");
        conn.cmd(&rpush).expect("rpush");
    }
    for setting in ["no", "yes", "no"] {
        for conn in [&mut r, &mut o] {
            assert_eq!(
                conn.cmd(&["CONFIG", "SET", "rdbcompression", setting]).expect("config"),
                Frame::Simple(b"OK".to_vec())
            );
        }
        for key in ["s", "l"] {
            let (ours, theirs) =
                (bulk(&o.cmd(&["DUMP", key]).expect("ours")), bulk(&r.cmd(&["DUMP", key]).expect("redis")));
            assert_eq!(escape(&ours), escape(&theirs), "{key} with rdbcompression {setting}");
        }
    }
    o.cmd(&["CONFIG", "SET", "rdbcompression", "yes"]).expect("config");
}
