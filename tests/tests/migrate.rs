//! MIGRATE without cluster mode, differential against a real `redis-server` 7.0: the same script
//! runs on three source → target pairs — Redis → Redis (the reference), ours → Redis and
//! Redis → ours — and every reply, on the source and on the target, must be the same bytes.
//! Covered: one key, `""` with `KEYS`, NOKEY, COPY, REPLACE, BUSYKEY from the target, a target
//! database other than 0, TTLs carried over, AUTH / AUTH2 refused by the target, Redis's argument
//! errors in its order, a closed port (`-IOERR`), and a list large enough to take several
//! 64 KB writes. Further tests: a MIGRATE waiting on a silent target stalls no other client
//! of ours; a key written while its RESTORE is in flight (a scripted fake target holds the reply)
//! is sent again with REPLACE and then deleted, not lost; the cached connection closes after 10
//! idle seconds. Bounded: a few hundred commands, each with a 5 s reply timeout; 15 s of waiting.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use cache_tests::ServerOpts;
use cache_tests::ours::OurServer;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{RawConn, escape};

/// One step: on the source (`S`) or the target (`T`); `{T}` is replaced by the target's port.
const SCRIPT: &[(char, &str)] = &[
    ('S', "set a 1"),
    ('S', "rpush l x y z"),
    ('S', "hset h f v g w"),
    ('S', "zadd z 1 m 2 n"),
    ('S', "set t v PX 100000"),
    ('S', "migrate 127.0.0.1 {T} a 0 1000"),
    ('S', "exists a"),
    ('T', "get a"),
    ('S', "migrate 127.0.0.1 {T} missing 0 1000"),
    ('S', "migrate 127.0.0.1 {T} \"\" 0 1000 KEYS l missing h"),
    ('S', "exists l h"),
    ('T', "lrange l 0 -1"),
    ('T', "hgetall h"),
    ('S', "migrate 127.0.0.1 {T} \"\" 0 1000 KEYS"),
    ('S', "migrate 127.0.0.1 {T} \"\" 0 1000 KEYS missing1 missing2"),
    ('S', "set a 2"),
    ('T', "set a 9"),
    ('S', "migrate 127.0.0.1 {T} a 0 1000"),
    ('S', "get a"),
    ('S', "migrate 127.0.0.1 {T} a 0 1000 COPY REPLACE"),
    ('S', "get a"),
    ('T', "get a"),
    ('S', "migrate 127.0.0.1 {T} a 0 1000 replace"),
    ('S', "exists a"),
    ('T', "get a"),
    ('S', "migrate 127.0.0.1 {T} t 3 1000"),
    ('T', "select 3"),
    ('T', "get t"),
    ('T', "eval \"return redis.call('pttl', KEYS[1]) > 90000\" 1 t"),
    ('T', "select 0"),
    ('S', "migrate 127.0.0.1 {T} z 0 1000 AUTH secret"),
    ('S', "migrate 127.0.0.1 {T} z 0 1000 AUTH2 user secret"),
    ('S', "exists z"),
    ('S', "migrate 127.0.0.1 {T} z 0 1000 KEYS"),
    ('S', "migrate 127.0.0.1 {T} z 0 1000 KEYS z"),
    ('S', "migrate 127.0.0.1 {T} \"\" 0 1000 bogus"),
    ('S', "migrate 127.0.0.1 {T} z 0 1000 AUTH"),
    ('S', "migrate 127.0.0.1 {T} z 0 1000 AUTH2 u"),
    ('S', "migrate 127.0.0.1 {T} z x 1000"),
    ('S', "migrate 127.0.0.1 {T} z 0 x"),
    ('S', "migrate 127.0.0.1 {T} z 0"),
    ('S', "migrate 127.0.0.1 1 z 0 200"),
    ('S', "migrate 127.0.0.1 {T} z 0 -5"),
    ('T', "zrange z 0 -1 withscores"),
    ('S', "eval \"for i=1,20000 do redis.call('rpush', 'big', string.rep('x', 20) .. i) end\" 1 big"),
    ('S', "migrate 127.0.0.1 {T} big 0 5000"),
    ('T', "llen big"),
    ('T', "lindex big 19999"),
    ('S', "dbsize"),
    ('T', "dbsize"),
];

fn words(line: &str, port: u16) -> Vec<Vec<u8>> {
    let line = line.replace("{T}", &port.to_string());
    let mut out = Vec::new();
    let mut rest = line.as_str();
    while let Some(start) = rest.find(|c: char| c != ' ') {
        rest = &rest[start..];
        if let Some(body) = rest.strip_prefix('"') {
            let end = body.find('"').expect("closing quote");
            out.push(body.as_bytes()[..end].to_vec());
            rest = &body[end + 1..];
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest.as_bytes()[..end].to_vec());
            rest = &rest[end..];
        }
    }
    out
}

/// Runs the script on `source` → `target`, returning one line per step.
fn play(source: SocketAddr, target: SocketAddr) -> Vec<String> {
    let mut s = RawConn::connect(source).expect("connect to the source");
    let mut t = RawConn::connect(target).expect("connect to the target");
    SCRIPT
        .iter()
        .map(|(side, line)| {
            let conn = if *side == 'S' { &mut s } else { &mut t };
            let (_, raw) = conn.cmd_raw(&words(line, target.port())).expect("reply");
            format!("{side} {line} -> {}", escape(&raw))
        })
        .collect()
}

#[test]
fn migrate_between_ours_and_redis_matches_redis() {
    let Some(ref_src) = RedisServer::start::<&str>(&[]) else { return };
    let Some(ref_dst) = RedisServer::start::<&str>(&[]) else { return };
    let Some(redis_dst) = RedisServer::start::<&str>(&[]) else { return };
    let Some(redis_src) = RedisServer::start::<&str>(&[]) else { return };
    let our_src = OurServer::start(&ServerOpts::default());
    let our_dst = OurServer::start(&ServerOpts::default());
    let want = play(ref_src.addr(), ref_dst.addr());
    for (name, got) in [
        ("ours -> redis", play(our_src.addr(), redis_dst.addr())),
        ("redis -> ours", play(redis_src.addr(), our_dst.addr())),
    ] {
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(g, w, "{name}: differs from redis -> redis");
        }
    }
}

#[test]
fn a_migrate_to_a_silent_target_stalls_no_other_client() {
    // A target that accepts and never answers: MIGRATE waits its full timeout.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let ours = OurServer::start(&ServerOpts::default());
    let mut setup = RawConn::connect(ours.addr()).expect("connect");
    setup.cmd(&["set", "k", "v"]).expect("set");
    let addr = ours.addr();
    let migrating = std::thread::spawn(move || {
        let mut c = RawConn::connect(addr).expect("connect");
        let started = Instant::now();
        let (_, raw) = c.cmd_raw(&["migrate", "127.0.0.1", &port.to_string(), "k", "0", "1500"]).expect("reply");
        (escape(&raw), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    // Other clients are served meanwhile, fast.
    for i in 0..50 {
        let mut c = RawConn::connect(ours.addr()).expect("connect");
        let started = Instant::now();
        c.cmd(&["set", &format!("o{i}"), "v"]).expect("set");
        assert!(started.elapsed() < Duration::from_millis(500), "a client waited for MIGRATE");
    }
    let (reply, took) = migrating.join().expect("migrating thread");
    assert_eq!(reply, "-IOERR error or timeout reading to target instance\\r\\n");
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    let (_, exists) = setup.cmd_raw(&["exists", "k"]).expect("exists");
    assert_eq!(escape(&exists), ":1\\r\\n", "a key whose transfer failed stays");
    drop(silent);
}

#[test]
fn the_cached_connection_closes_after_ten_idle_seconds() {
    let Some(target) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurServer::start(&ServerOpts::default());
    let mut s = RawConn::connect(ours.addr()).expect("connect");
    let mut t = RawConn::connect(target.addr()).expect("connect");
    let port = target.addr().port().to_string();
    let clients = |t: &mut RawConn| {
        let (_, raw) = t.cmd_raw(&["client", "list"]).expect("client list");
        String::from_utf8_lossy(&raw).matches("id=").count()
    };
    for k in ["a", "b"] {
        s.cmd(&["set", k, "v"]).expect("set");
        let (_, raw) = s.cmd_raw(&["migrate", "127.0.0.1", &port, k, "0", "1000"]).expect("migrate");
        assert_eq!(escape(&raw), "+OK\\r\\n");
    }
    // Both MIGRATEs used one connection, kept open for the next one.
    assert_eq!(clients(&mut t), 2);
    let started = Instant::now();
    while clients(&mut t) > 1 {
        assert!(started.elapsed() < Duration::from_secs(15), "the cached connection stayed open");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(started.elapsed() >= Duration::from_secs(8), "closed too early: {:?}", started.elapsed());
}

/// Reads one request (an array of bulks) from a client of a fake server.
fn read_request(r: &mut impl std::io::BufRead) -> Option<Vec<Vec<u8>>> {
    let mut line = String::new();
    let mut header = |r: &mut dyn std::io::BufRead, want: char| -> Option<usize> {
        line.clear();
        r.read_line(&mut line).ok().filter(|&n| n > 0)?;
        line.trim_end().strip_prefix(want)?.parse().ok()
    };
    let n = header(r, '*')?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        let len = header(r, '$')?;
        let mut buf = vec![0; len + 2];
        r.read_exact(&mut buf).ok()?;
        buf.truncate(len);
        args.push(buf);
    }
    Some(args)
}

#[test]
fn a_key_written_while_in_flight_is_sent_again_and_not_lost() {
    use std::io::{BufReader, Write};
    use std::sync::mpsc;
    let fake = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = fake.local_addr().expect("addr").port();
    let (in_flight, wrote) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    let (tell, go) = (in_flight.0, wrote.1);
    // The target: SELECT is fine; the first RESTORE waits until the test rewrote the key.
    let target = std::thread::spawn(move || {
        let (sock, _) = fake.accept().expect("accept");
        sock.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut w = sock.try_clone().expect("clone");
        let mut r = BufReader::new(sock);
        let mut restores = Vec::new();
        while restores.len() < 2 {
            let Some(args) = read_request(&mut r) else { break };
            if args[0].eq_ignore_ascii_case(b"restore") {
                if restores.is_empty() {
                    tell.send(()).expect("tell");
                    go.recv_timeout(Duration::from_secs(10)).expect("the test rewrote the key");
                }
                restores.push(args);
            }
            w.write_all(b"+OK\r\n").expect("reply");
        }
        restores
    });
    let ours = OurServer::start(&ServerOpts::default());
    let mut c = RawConn::connect(ours.addr()).expect("connect");
    c.cmd(&["set", "k", "first"]).expect("set");
    let addr = ours.addr();
    let migrating = std::thread::spawn(move || {
        let mut m = RawConn::connect(addr).expect("connect");
        let (_, raw) = m.cmd_raw(&["migrate", "127.0.0.1", &port.to_string(), "k", "0", "5000"]).expect("reply");
        escape(&raw)
    });
    in_flight.1.recv_timeout(Duration::from_secs(10)).expect("the first RESTORE arrived");
    c.cmd(&["set", "k", "second"]).expect("set while in flight");
    wrote.0.send(()).expect("go");
    assert_eq!(migrating.join().expect("migrate"), "+OK\\r\\n");
    let restores = target.join().expect("target");
    assert_eq!(restores.len(), 2, "the changed key was sent again");
    assert_eq!(restores[0].len(), 4, "the first RESTORE has no REPLACE");
    assert!(
        restores[1].last().is_some_and(|a| a.eq_ignore_ascii_case(b"replace")),
        "the second replaces our older copy"
    );
    assert!(restores[1][3].windows(6).any(|w| w == b"second"), "the second carries the new value");
    let (_, raw) = c.cmd_raw(&["exists", "k"]).expect("exists");
    assert_eq!(escape(&raw), ":0\\r\\n");
}
