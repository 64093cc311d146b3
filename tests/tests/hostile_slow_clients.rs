//! Hostile input, part 2: clients that never read. A subscriber or a tracking client that never
//! reads its pushes, and a client that pipelines requests without reading replies, are closed by
//! `client-output-buffer-limit` (Redis's classes, defaults and rule), and the server's RSS stays
//! bounded; `timeout` spares subscribed clients; CONFIG GET/SET of the limits answer as Redis.
//!
//! Bounds: each flood stops at 400 MB sent or 30 s, whichever comes first (the server must close
//! the reader long before); RSS is sampled during the flood; every reply within 20 s.

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cache_tests::ServerOpts;
use cache_tests::ours::OurProcess;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, encode_command};
use cache_tests::subject::rss_bytes;

const FLOOD_BYTES: u64 = 400 << 20;
const FLOOD_TIME: Duration = Duration::from_secs(30);

fn info_field(c: &mut RawConn, section: &str, field: &str) -> u64 {
    let Frame::Bulk(Some(text)) = c.cmd(&["INFO", section]).unwrap() else { panic!("INFO reply") };
    let text = String::from_utf8(text).unwrap();
    let line =
        text.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("{field} in {text}"));
    line[field.len() + 1..].trim().parse().unwrap()
}

/// True once the server closed `c` (reads whatever is buffered, bounded by the reply timeout).
fn closed_by_server(c: &mut RawConn) -> bool {
    let mut sink = vec![0u8; 1 << 20];
    c.stream().set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut s = c.stream();
    loop {
        match s.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Publishes 16 KB messages through pipelined PUBLISHes until `stop()` or the flood bounds;
/// returns the peak RSS seen (when `pid` is given) and the bytes sent.
fn publish_flood(addr: SocketAddr, pid: Option<u32>, mut stop: impl FnMut() -> bool) -> (u64, u64) {
    let mut p = RawConn::connect(addr).unwrap();
    let msg = vec![b'm'; 16 << 10];
    let batch: Vec<u8> = (0..64).flat_map(|_| encode_command(&[&b"PUBLISH"[..], b"ch", &msg])).collect();
    let (mut sent, mut peak) = (0u64, 0u64);
    let start = Instant::now();
    while sent < FLOOD_BYTES && start.elapsed() < FLOOD_TIME && !stop() {
        p.send_raw(&batch).unwrap();
        for _ in 0..64 {
            assert!(matches!(p.read_frame().unwrap(), Frame::Integer(_)));
        }
        sent += batch.len() as u64;
        if let Some(pid) = pid {
            peak = peak.max(rss_bytes(pid).unwrap_or(0));
        }
    }
    (peak, sent)
}

fn subscribe_and_stall(addr: SocketAddr) -> RawConn {
    let mut s = RawConn::connect(addr).unwrap();
    s.cmd(&["SUBSCRIBE", "ch"]).unwrap();
    s
}

#[test]
fn a_subscriber_that_never_reads_is_closed_at_the_pubsub_limit_and_rss_stays_bounded() {
    let ours = OurProcess::start(&ServerOpts::default());
    let mut admin = RawConn::connect(ours.addr()).unwrap();
    let fresh = rss_bytes(ours.pid()).unwrap();
    let mut sub = subscribe_and_stall(ours.addr());
    let (peak, sent) = publish_flood(ours.addr(), Some(ours.pid()), || {
        info_field(&mut admin, "stats", "client_output_buffer_limit_disconnections") > 0
    });
    eprintln!("fresh RSS {} MB, peak {} MB after {} MB published", fresh >> 20, peak >> 20, sent >> 20);
    assert_eq!(info_field(&mut admin, "stats", "client_output_buffer_limit_disconnections"), 1);
    assert!(closed_by_server(&mut sub), "the stalled subscriber is still connected");
    // The bound: 64 MB + the 32 MB pubsub hard limit.
    assert!(peak < fresh + (96 << 20), "peak RSS {} MB (fresh {} MB)", peak >> 20, fresh >> 20);
    assert_eq!(admin.cmd(&["PING"]).unwrap(), Frame::Simple(b"PONG".to_vec()));

    // Redis does the same with the same defaults.
    if let Some(redis) = RedisServer::start::<&str>(&[]) {
        let mut admin = RawConn::connect(redis.addr()).unwrap();
        let mut sub = subscribe_and_stall(redis.addr());
        let clients = |a: &mut RawConn| info_field(a, "clients", "connected_clients");
        publish_flood(redis.addr(), None, || clients(&mut admin) < 3);
        assert!(closed_by_server(&mut sub), "redis-server kept the stalled subscriber");
    }
}

#[test]
fn a_tracking_client_that_never_reads_its_invalidations_is_closed() {
    let ours = OurProcess::start(&ServerOpts::default());
    let fresh = rss_bytes(ours.pid()).unwrap();
    let mut t = RawConn::connect(ours.addr()).unwrap();
    assert!(matches!(t.cmd(&["HELLO", "3"]).unwrap(), Frame::Map(_)));
    assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on", "BCAST"]).unwrap(), Frame::Simple(b"OK".to_vec()));
    let mut w = RawConn::connect(ours.addr()).unwrap();
    let mut admin = RawConn::connect(ours.addr()).unwrap();
    let key_tail = "k".repeat(200);
    let (mut sent, mut peak) = (0u64, 0u64);
    let start = Instant::now();
    while sent < FLOOD_BYTES && start.elapsed() < FLOOD_TIME {
        let batch: Vec<u8> =
            (0..256).flat_map(|i| encode_command(&["SET", &format!("{i}:{sent}:{key_tail}"), "v"])).collect();
        w.send_raw(&batch).unwrap();
        for _ in 0..256 {
            w.read_frame().unwrap();
        }
        sent += batch.len() as u64;
        peak = peak.max(rss_bytes(ours.pid()).unwrap_or(0));
        if sent % (8 << 20) < batch.len() as u64
            && info_field(&mut admin, "stats", "client_output_buffer_limit_disconnections") > 0
        {
            break;
        }
    }
    eprintln!("fresh RSS {} MB, peak {} MB after {} MB of SETs", fresh >> 20, peak >> 20, sent >> 20);
    assert_eq!(info_field(&mut admin, "stats", "client_output_buffer_limit_disconnections"), 1);
    assert!(closed_by_server(&mut t), "the stalled tracking client is still connected");
    // Keys written (their weight in the keyspace) are part of the peak as well as the backlog.
    assert!(peak < fresh + (160 << 20), "peak RSS {} MB (fresh {} MB)", peak >> 20, fresh >> 20);
}

#[test]
fn soft_limit_closes_after_its_seconds_and_client_list_shows_the_backlog() {
    let opts = ServerOpts {
        directives: vec![("client-output-buffer-limit".into(), "pubsub 0 2mb 1".into())],
        ..ServerOpts::default()
    };
    let ours = OurProcess::start(&opts);
    let mut admin = RawConn::connect(ours.addr()).unwrap();
    let mut sub = subscribe_and_stall(ours.addr());
    // Past the soft limit, then under the flood bounds for longer than its 1 s.
    let start = Instant::now();
    let mut omem_seen = 0u64;
    let (_, sent) = publish_flood(ours.addr(), None, || {
        let Frame::Bulk(Some(list)) = admin.cmd(&["CLIENT", "LIST"]).unwrap() else { panic!() };
        let list = String::from_utf8(list).unwrap();
        for line in list.lines().filter(|l| l.contains("flags=P")) {
            let omem: u64 = line.split(' ').find_map(|f| f.strip_prefix("omem=")).unwrap().parse().unwrap();
            omem_seen = omem_seen.max(omem);
        }
        info_field(&mut admin, "stats", "client_output_buffer_limit_disconnections") > 0
    });
    let took = start.elapsed();
    eprintln!("closed after {took:?}, {} MB published, largest omem {} KB", sent >> 20, omem_seen >> 10);
    assert!(closed_by_server(&mut sub));
    assert!(omem_seen >= 1 << 20, "CLIENT LIST omem never showed the backlog ({omem_seen})");
    assert!(took >= Duration::from_secs(1), "closed before the soft seconds passed ({took:?})");
}

/// CLIENT LIST's `omem` of the client whose line contains `needle`.
fn omem_of(admin: &mut RawConn, needle: &str) -> u64 {
    let Frame::Bulk(Some(list)) = admin.cmd(&["CLIENT", "LIST"]).unwrap() else { panic!("CLIENT LIST") };
    let list = String::from_utf8(list).unwrap();
    let line = list.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} in {list}"));
    line.split(' ').find_map(|f| f.strip_prefix("omem=")).unwrap().parse().unwrap()
}

#[test]
fn a_pipelining_client_that_never_reads_is_back_pressured_and_a_reply_over_the_normal_limit_closes_it() {
    let ours = OurProcess::start(&ServerOpts::default());
    let fresh = rss_bytes(ours.pid()).unwrap();
    let mut admin = RawConn::connect(ours.addr()).unwrap();
    assert_eq!(admin.cmd(&["SET", "big", &"x".repeat(256 << 10)]).unwrap(), Frame::Simple(b"OK".to_vec()));
    // 2,000 GETs of 256 KB (500 MB of replies) in 50 KB of requests, never read: the server stops
    // reading this client once its socket is full, so its backlog stays near one flush (256 KB).
    let mut greedy = RawConn::connect(ours.addr()).unwrap();
    greedy.cmd(&["CLIENT", "SETNAME", "greedy"]).unwrap();
    let batch: Vec<u8> = (0..2000).flat_map(|_| encode_command(&["GET", "big"])).collect();
    greedy.send_raw(&batch).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let omem = omem_of(&mut admin, "name=greedy");
    let rss = rss_bytes(ours.pid()).unwrap();
    eprintln!("stalled reader: omem {} KB, RSS {} MB (fresh {} MB)", omem >> 10, rss >> 20, fresh >> 20);
    assert!(omem <= 1 << 20, "backlog of a stalled normal client {omem}");
    assert!(rss < fresh + (64 << 20), "RSS {} MB", rss >> 20);
    assert_eq!(info_field(&mut admin, "stats", "client_output_buffer_limit_disconnections"), 0);

    // A normal limit below one reply closes the client that asks for it, as in Redis.
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-output-buffer-limit", "normal 128kb 0 0"]).unwrap(),
        Frame::Simple(b"OK".to_vec())
    );
    let mut asker = RawConn::connect(ours.addr()).unwrap();
    asker.send_raw(&encode_command(&["GET", "big"])).unwrap();
    assert!(closed_by_server(&mut asker), "a 256 KB reply passed a 128 KB normal hard limit");
    assert_eq!(info_field(&mut admin, "stats", "client_output_buffer_limit_disconnections"), 1);
    if let Some(redis) = RedisServer::start(&["--client-output-buffer-limit", "normal 128kb 0 0"]) {
        let mut c = RawConn::connect(redis.addr()).unwrap();
        c.cmd(&["SET", "big", &"x".repeat(256 << 10)]).unwrap();
        let mut asker = RawConn::connect(redis.addr()).unwrap();
        asker.send_raw(&encode_command(&["GET", "big"])).unwrap();
        assert!(closed_by_server(&mut asker), "redis-server kept the client");
    }
}

#[test]
fn timeout_spares_subscribed_clients_only() {
    let opts = ServerOpts { directives: vec![("timeout".into(), "1".into())], ..ServerOpts::default() };
    let ours = OurProcess::start(&opts);
    let mut sub = RawConn::connect(ours.addr()).unwrap();
    sub.cmd(&["SUBSCRIBE", "ch"]).unwrap();
    let mut idle = RawConn::connect(ours.addr()).unwrap();
    idle.cmd(&["PING"]).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(closed_by_server(&mut idle), "an idle normal client outlives `timeout 1`");
    let pong = sub.cmd(&["PING"]).expect("the subscriber must survive `timeout`");
    assert_eq!(pong, Frame::Array(Some(vec![Frame::Bulk(Some(b"pong".to_vec())), Frame::Bulk(Some(vec![]))])));
}

#[test]
fn config_of_the_output_limits_answers_like_redis() {
    let script: &[&[&str]] = &[
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 64mb 16mb 90 normal 1gb 512mb 30"],
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 1mb"],
        &["CONFIG", "SET", "client-output-buffer-limit", "nobody 1 1 1"],
        &["CONFIG", "SET", "client-output-buffer-limit", "replica 1mb x 1"],
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &["CONFIG", "GET", "tcp-backlog"],
    ];
    let run = |addr: SocketAddr| -> Vec<Frame> {
        let mut c = RawConn::connect(addr).unwrap();
        script.iter().map(|cmd| c.cmd(cmd).unwrap()).collect()
    };
    let ours = OurProcess::start(&ServerOpts::default());
    let got = run(ours.addr());
    let ok = Frame::Simple(b"OK".to_vec());
    assert_eq!(got[1], ok);
    for (i, f) in got.iter().enumerate().skip(3).take(3) {
        assert!(f.error_text().is_some(), "command {i} should fail: {f:?}");
    }
    if let Some(redis) = RedisServer::start::<&str>(&[]) {
        assert_eq!(got, run(redis.addr()));
    }
}
