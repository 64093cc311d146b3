//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP) against
//! a real `redis-server` 7.0, over several connections each.
//!
//! - `choreographies_*`: scripted scenes played on both servers, every reply of every connection
//!   recorded in the order the scene reads it and compared byte for byte, in RESP2 and RESP3: first
//!   blocked first served, several keys, timeouts (and their errors), wake by a push from another
//!   client, by MULTI/EXEC (and not by an EXEC that leaves the key empty), by a script, BLMOVE
//!   handing an element on to the next blocked client, a disconnect while blocked (nothing
//!   consumed), CLIENT UNBLOCK with TIMEOUT and ERROR, blocking forms inside MULTI, requests
//!   pipelined behind a blocked one, a key of another type, the idle `timeout` sparing a parked
//!   client, sorted sets and the *MPOP forms. A
//!   scene waits for clients to be parked by polling `INFO clients` `blocked_clients` (bounded).
//! - `producers_and_consumers_lose_nothing`: threads pushing and threads popping with BLPOP /
//!   BLMOVE on our server: every element is received exactly once (bounded in count and time).
//! - `thousands_of_parked_clients_cost_memory_not_cpu`: 2,000 clients parked on distinct keys use
//!   under 5% of a core while parked (CPU time from /proc over two seconds) and all are served by
//!   one pipelined batch of pushes.
//! - `shutdown_closes_parked_clients`: SHUTDOWN NOSAVE from another client closes a parked one.

use std::time::{Duration, Instant};

use cache_tests::diff::Protocol;
use cache_tests::parallel::in_parallel;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, encode_command, escape};
use cache_tests::scenes::{self, Step, WAIT_BOUND, call, parked, send};
use cache_tests::{ServerOpts, Subject};

/// The scenes: (name, connections, steps).
fn scenes() -> Vec<(&'static str, usize, Vec<Step>)> {
    vec![
        (
            "first blocked, first served",
            3,
            vec![
                send(0, "BLPOP q 0"),
                Step::Parked(1),
                send(1, "BLPOP q 0"),
                Step::Parked(2),
                call(2, "RPUSH q a b c"),
                Step::Read(0),
                Step::Read(1),
                call(2, "LRANGE q 0 -1"),
            ],
        ),
        (
            "several keys, the pushed one serves",
            2,
            vec![
                send(0, "BRPOP k1 k2 k3 0"),
                Step::Parked(1),
                call(1, "LPUSH k3 x"),
                Step::Read(0),
                call(1, "RPUSH k2 y"),
                call(1, "BLPOP k1 k2 0"),
                call(1, "EXISTS k2"),
            ],
        ),
        (
            "timeouts and their errors",
            1,
            vec![
                call(0, "BLPOP q 0.05"),
                call(0, "BRPOP q 0.01"),
                call(0, "BLMOVE q d LEFT RIGHT 0.02"),
                call(0, "BRPOPLPUSH q d 0.02"),
                call(0, "BLPOP q -1"),
                call(0, "BLPOP q abc"),
                call(0, "BLPOP q inf"),
                call(0, "BLPOP q nan"),
                call(0, "BZPOPMIN z 0.02"),
                call(0, "BZMPOP 0.02 1 z MIN"),
                call(0, "BLMPOP 0.02 1 q LEFT"),
                call(0, "BLMPOP 0.02 0 q LEFT"),
                call(0, "BLMPOP 0.02 2 q LEFT"),
            ],
        ),
        (
            "MULTI/EXEC wakes once it ends; an EXEC leaving the key empty does not",
            2,
            vec![
                send(0, "BLPOP q 0"),
                Step::Parked(1),
                call(1, "MULTI"),
                call(1, "RPUSH q x"),
                call(1, "DEL q"),
                call(1, "EXEC"),
                Step::Sleep(50),
                call(1, "MULTI"),
                call(1, "RPUSH q y"),
                call(1, "RPUSH q z"),
                call(1, "LLEN q"),
                call(1, "EXEC"),
                Step::Read(0),
                call(1, "LRANGE q 0 -1"),
            ],
        ),
        (
            "a script wakes once it ends",
            2,
            vec![
                send(0, "BLPOP q 0"),
                Step::Parked(1),
                Step::Call(
                    1,
                    vec![
                        "EVAL".into(),
                        "redis.call('rpush', KEYS[1], 's1', 's2'); return redis.call('llen', KEYS[1])".into(),
                        "1".into(),
                        "q".into(),
                    ],
                ),
                Step::Read(0),
                call(1, "LRANGE q 0 -1"),
            ],
        ),
        (
            "BLMOVE hands the element on",
            3,
            vec![
                send(0, "BLPOP dst 0"),
                Step::Parked(1),
                send(1, "BLMOVE src dst LEFT RIGHT 0"),
                Step::Parked(2),
                call(2, "RPUSH src e1"),
                Step::Read(1),
                Step::Read(0),
                call(2, "LLEN dst"),
                call(2, "LLEN src"),
                send(1, "BRPOPLPUSH src src 0"),
                Step::Parked(1),
                call(2, "RPUSH src r"),
                Step::Read(1),
                call(2, "LRANGE src 0 -1"),
            ],
        ),
        (
            "a disconnect while blocked consumes nothing",
            2,
            vec![
                send(0, "BLPOP q 0"),
                Step::Parked(1),
                Step::Close(0),
                Step::Parked(0),
                call(1, "RPUSH q v"),
                call(1, "LLEN q"),
            ],
        ),
        (
            "CLIENT UNBLOCK with TIMEOUT and ERROR",
            2,
            vec![
                send(0, "BLPOP q 0"),
                Step::Parked(1),
                Step::Unblock(1, 0, "TIMEOUT"),
                Step::Read(0),
                send(0, "BZPOPMAX z 0"),
                Step::Parked(1),
                Step::Unblock(1, 0, "ERROR"),
                Step::Read(0),
                Step::Unblock(1, 0, "ERROR"),
                Step::Unblock(1, 0, "BOGUS"),
                call(1, "CLIENT UNBLOCK abc"),
            ],
        ),
        (
            "blocking forms inside MULTI do not block",
            1,
            vec![
                call(0, "MULTI"),
                call(0, "BLPOP q 0"),
                call(0, "BRPOPLPUSH q d 0"),
                call(0, "BZPOPMIN z 0"),
                call(0, "BLMPOP 0 1 q RIGHT"),
                call(0, "EXEC"),
                call(0, "RPUSH q 1"),
                call(0, "MULTI"),
                call(0, "BLPOP q 0"),
                call(0, "EXEC"),
            ],
        ),
        (
            "requests pipelined behind a blocked one wait for it",
            2,
            vec![
                Step::Send(0, vec!["BLPOP".into(), "q".into(), "0".into()]),
                Step::Send(0, vec!["PING".into()]),
                Step::Send(0, vec!["LLEN".into(), "q".into()]),
                Step::Parked(1),
                call(1, "RPUSH q a b"),
                Step::Read(0),
                Step::Read(0),
                Step::Read(0),
            ],
        ),
        (
            "a key of another type neither serves nor errs",
            2,
            vec![
                call(1, "SET s str"),
                call(1, "BLPOP s 0"),
                send(0, "BLPOP q 0"),
                Step::Parked(1),
                call(1, "SET q str"),
                call(1, "DEL q"),
                call(1, "ZADD q 1 m"),
                Step::Sleep(50),
                call(1, "DEL q"),
                call(1, "RPUSH q ok"),
                Step::Read(0),
            ],
        ),
        (
            "the idle timeout spares a parked client",
            2,
            vec![
                call(1, "CONFIG SET timeout 1"),
                send(0, "BLPOP q 0"),
                Step::Parked(1),
                Step::Sleep(2_500),
                // The idle second connection was closed meanwhile; the parked one was not.
                Step::Close(1),
                call(1, "RPUSH q still-here"),
                Step::Read(0),
                call(1, "CONFIG SET timeout 0"),
            ],
        ),
        (
            "sorted sets and the MPOP forms",
            3,
            vec![
                send(0, "BZPOPMIN z1 z2 0"),
                Step::Parked(1),
                send(1, "BZMPOP 0 2 z1 z2 MAX COUNT 2"),
                Step::Parked(2),
                call(2, "ZADD z2 1 a 2 b 3 c 1.5 d"),
                Step::Read(0),
                Step::Read(1),
                call(2, "ZRANGE z2 0 -1 WITHSCORES"),
                send(0, "BLMPOP 0 2 l1 l2 RIGHT COUNT 5"),
                Step::Parked(1),
                call(2, "RPUSH l2 1 2 3"),
                Step::Read(0),
                send(0, "BZPOPMAX z3 0"),
                Step::Parked(1),
                call(2, "ZADD z3 INCR 5 m"),
                Step::Read(0),
            ],
        ),
    ]
}

fn choreographies(protocol: Protocol) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    scenes::compare(reference.addr(), subject.addr(), &scenes(), protocol);
}

#[test]
fn choreographies_resp2() {
    choreographies(Protocol::Resp2);
}

#[test]
fn choreographies_resp3() {
    choreographies(Protocol::Resp3);
}

#[test]
fn producers_and_consumers_lose_nothing() {
    const PER_PRODUCER: usize = 2_000;
    const PRODUCERS: usize = 3;
    const CONSUMERS: usize = 4;
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    let addr = subject.addr();
    let started = Instant::now();
    let consumers = std::thread::spawn(move || {
        in_parallel(CONSUMERS, move |n| {
            let mut c = RawConn::connect(addr).expect("connect");
            let mut got = Vec::new();
            loop {
                // Half the consumers move through a staging list, so BLMOVE's handing on is raced too.
                let reply = if n % 2 == 0 {
                    c.cmd(&["BLPOP", "jobs", "1"]).expect("BLPOP")
                } else {
                    match c.cmd(&["BLMOVE", "jobs", "staging", "LEFT", "RIGHT", "1"]).expect("BLMOVE") {
                        Frame::Bulk(Some(v)) => {
                            let removed = c.cmd(&[b"LREM".as_slice(), b"staging", b"1", v.as_slice()]).expect("LREM");
                            assert_eq!(removed, Frame::Integer(1), "the moved element is in staging");
                            Frame::Array(Some(vec![Frame::Bulk(Some(b"jobs".to_vec())), Frame::Bulk(Some(v))]))
                        }
                        other => other,
                    }
                };
                match reply {
                    Frame::Array(Some(kv)) => match &kv[1] {
                        Frame::Bulk(Some(v)) if v == b"stop" => return got,
                        Frame::Bulk(Some(v)) => got.push(String::from_utf8_lossy(v).into_owned()),
                        other => panic!("unexpected element {other:?}"),
                    },
                    f if f.is_null() => {
                        assert!(started.elapsed() < Duration::from_secs(60), "consumers ran past their time bound");
                    }
                    other => panic!("unexpected reply {other:?}"),
                }
            }
        })
    });
    in_parallel(PRODUCERS, move |p| {
        let mut c = RawConn::connect(addr).expect("connect");
        for i in 0..PER_PRODUCER {
            let v = format!("{p}:{i}");
            assert!(matches!(c.cmd(&["RPUSH", "jobs", v.as_str()]).expect("RPUSH"), Frame::Integer(_)));
        }
    });
    let mut c = RawConn::connect(addr).expect("connect");
    let stops: Vec<Vec<&str>> = (0..CONSUMERS).map(|_| vec!["RPUSH", "jobs", "stop"]).collect();
    c.pipeline(&stops).expect("stops");
    let mut all: Vec<String> = consumers.join().expect("consumers").into_iter().flatten().collect();
    let received = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), received, "an element was received twice");
    assert_eq!(received, PRODUCERS * PER_PRODUCER, "every element is received");
    assert_eq!(c.cmd(&["LLEN", "staging"]).unwrap(), Frame::Integer(0));
    eprintln!("{received} elements through {CONSUMERS} blocked consumers in {:?}", started.elapsed());
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

#[test]
fn thousands_of_parked_clients_cost_memory_not_cpu() {
    const CLIENTS: usize = 2_000;
    let Some(subject) = Subject::start_process(&ServerOpts::default()) else { return };
    let (addr, pid) = (subject.addr(), subject.pid().expect("a process"));
    let rss_before = cache_tests::subject::rss_bytes(pid).unwrap_or(0);
    let mut conns: Vec<RawConn> = (0..CLIENTS)
        .map(|i| {
            let mut c = RawConn::connect(addr).expect("connect");
            c.send_raw(&encode_command(&["BLPOP", &format!("wait:{i}"), "0"])).expect("send");
            c
        })
        .collect();
    let mut admin = RawConn::connect(addr).expect("connect");
    let started = Instant::now();
    while parked(&mut admin).expect("INFO") < CLIENTS {
        assert!(started.elapsed() < WAIT_BOUND * 3, "clients did not park");
        std::thread::sleep(Duration::from_millis(20));
    }
    let rss_parked = cache_tests::subject::rss_bytes(pid).unwrap_or(0);
    let ticks = cpu_ticks(pid).expect("/proc stat");
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(pid).expect("/proc stat") - ticks;
    // 100 ticks per second: 2 s at 5% of a core is 10 ticks.
    assert!(spent <= 10, "{CLIENTS} parked clients used {spent} ticks of CPU in 2 s");
    let pushes: Vec<Vec<String>> =
        (0..CLIENTS).map(|i| vec!["RPUSH".into(), format!("wait:{i}"), format!("v{i}")]).collect();
    admin.pipeline(&pushes).expect("pushes");
    for (i, c) in conns.iter_mut().enumerate() {
        let got = c.read_frame().expect("served");
        let want = Frame::Array(Some(vec![
            Frame::Bulk(Some(format!("wait:{i}").into_bytes())),
            Frame::Bulk(Some(format!("v{i}").into_bytes())),
        ]));
        assert_eq!(got, want);
    }
    assert_eq!(parked(&mut admin).unwrap(), 0);
    eprintln!(
        "{CLIENTS} parked clients: {spent} CPU ticks in 2 s, RSS {} KiB -> {} KiB ({} B per parked client)",
        rss_before / 1024,
        rss_parked / 1024,
        rss_parked.saturating_sub(rss_before) / CLIENTS as u64
    );
}

#[test]
fn shutdown_closes_parked_clients() {
    let Some(subject) = Subject::start_process(&ServerOpts::default()) else { return };
    let mut blocked = RawConn::connect(subject.addr()).expect("connect");
    blocked.send_raw(&encode_command(&["BLPOP", "q", "0"])).unwrap();
    let mut admin = RawConn::connect(subject.addr()).expect("connect");
    let started = Instant::now();
    while parked(&mut admin).unwrap() < 1 {
        assert!(started.elapsed() < WAIT_BOUND);
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = admin.cmd(&["SHUTDOWN", "NOSAVE"]);
    let rest = blocked.read_to_close().expect("the parked client is closed, not left hanging");
    assert!(rest.is_empty(), "no reply for the parked command: {}", escape(&rest));
}
