//! Streams (without consumer groups) against a real `redis-server` 7.0.
//!
//! - `*_stream_matches_redis`: seeded command streams from
//!   [`cache_tests::gen_stream::StreamGenerator`] sent to both servers, every reply compared byte
//!   for byte (XADD `*` ids by shape: [`cache_tests::gen_stream::agree`]), in RESP2 one by one,
//!   RESP3, and RESP2 pipelined in random batches cut at random byte boundaries.
//! - `blocking_xread_*`: scripted scenes played on both servers over several connections, every
//!   reply recorded in the order the scene reads it and compared byte for byte, in RESP2 and RESP3:
//!   XREAD BLOCK with `$` served by an XADD from another client, with an explicit id, over several
//!   streams, with COUNT, timing out, served by MULTI/EXEC, and XREAD BLOCK inside MULTI. A scene
//!   waits for clients to be parked by polling `INFO clients` (bounded). Ids are explicit, so
//!   replies are deterministic.
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one); a mismatch prints the seed, the
//! command's index, the command and both replies.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cache_tests::diff::{Delivery, Plan, Protocol, Source};
use cache_tests::gen_stream::{StreamGenerator, agree};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, encode_command, escape};
use cache_tests::{ServerOpts, Subject};

const DEFAULT_SEED: u64 = 0x57e4_0001;
/// Per-run bound on wall time: the loop stops there (reported, not failed).
const TIME_BOUND: Duration = Duration::from_secs(90);
/// Bound on waiting for clients to be parked, and for one blocked reply.
const WAIT_BOUND: Duration = Duration::from_secs(10);

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else {
        return;
    };
    let Some(subject) = Subject::start(&ServerOpts::default()) else {
        return;
    };
    let time_bound = TIME_BOUND;
    let plan = Plan {
        label: "stream differential",
        default_seed: DEFAULT_SEED,
        seed_offset,
        count,
        protocol,
        delivery,
        time_bound,
    };
    let mut generator = StreamGenerator::new(plan.seed());
    let mut next = || generator.next_command();
    let by_property = |cmd: &_, ours: &(Frame, Vec<u8>), theirs: &(Frame, Vec<u8>)| agree(cmd, &ours.0, &theirs.0);
    plan.check(subject.addr(), reference.addr(), Source { next: &mut next, agree: &by_property });
}

#[test]
fn resp2_stream_matches_redis() {
    differential(8_000, Protocol::Resp2, Delivery::OneByOne, 0);
}

#[test]
fn resp3_stream_matches_redis() {
    differential(4_000, Protocol::Resp3, Delivery::OneByOne, 3);
}

#[test]
fn pipelined_stream_matches_redis() {
    differential(8_000, Protocol::Resp2, Delivery::Pipelined { max_batch: 64 }, 5);
}

/// One step of a scene.
#[derive(Clone, Debug)]
enum Step {
    /// Sends a command on connection `.0` and reads its reply.
    Call(usize, Vec<String>),
    /// Sends a command on connection `.0` without reading (it blocks).
    Send(usize, Vec<String>),
    /// Reads one reply on connection `.0`.
    Read(usize),
    /// Waits until the server reports this many parked clients.
    Parked(usize),
}

fn call(c: usize, words: &str) -> Step {
    Step::Call(c, words.split(' ').map(str::to_owned).collect())
}

fn send(c: usize, words: &str) -> Step {
    Step::Send(c, words.split(' ').map(str::to_owned).collect())
}

fn parked(admin: &mut RawConn) -> Result<usize, String> {
    let info = match admin.cmd(&["INFO", "clients"]).map_err(|e| e.to_string())? {
        Frame::Bulk(Some(b)) | Frame::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => return Err(format!("INFO answered {other:?}")),
    };
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no blocked_clients in {info}"))
}

/// Plays `scene` on `addr` with `conns` connections and returns the transcript.
fn play(addr: SocketAddr, conns: usize, scene: &[Step], protocol: Protocol) -> Result<Vec<String>, String> {
    let io = |e: std::io::Error| e.to_string();
    let open = || -> Result<RawConn, String> {
        let mut c = RawConn::connect(addr).map_err(io)?;
        if protocol == Protocol::Resp3 {
            c.cmd(&["HELLO", "3"]).map_err(io)?;
        }
        Ok(c)
    };
    let mut admin = RawConn::connect(addr).map_err(io)?;
    admin.cmd(&["FLUSHALL"]).map_err(io)?;
    let mut c: Vec<RawConn> = (0..conns).map(|_| open()).collect::<Result<_, _>>()?;
    let mut transcript = Vec::new();
    for (i, step) in scene.iter().enumerate() {
        match step {
            Step::Call(n, args) => {
                let (_, raw) = c[*n].cmd_raw(args).map_err(|e| format!("step {i} {step:?}: {e}"))?;
                transcript.push(format!("#{i} c{n}: {}", escape(&raw)));
            }
            Step::Send(n, args) => c[*n].send_raw(&encode_command(args)).map_err(io)?,
            Step::Read(n) => {
                let (_, raw) = c[*n].read_frame_raw().map_err(|e| format!("step {i} {step:?}: {e}"))?;
                transcript.push(format!("#{i} c{n}: {}", escape(&raw)));
            }
            Step::Parked(want) => {
                let started = Instant::now();
                loop {
                    let got = parked(&mut admin)?;
                    if got == *want {
                        break;
                    }
                    if started.elapsed() > WAIT_BOUND {
                        return Err(format!("step {i}: {got} clients parked, want {want}"));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    Ok(transcript)
}

/// The scenes: (name, connections, steps).
fn scenes() -> Vec<(&'static str, usize, Vec<Step>)> {
    vec![
        (
            "$ waits for the next entry, added by another client",
            2,
            vec![
                call(1, "XADD s 1-1 f old"),
                send(0, "XREAD BLOCK 0 STREAMS s $"),
                Step::Parked(1),
                call(1, "XADD s 2-1 f new g w"),
                Step::Read(0),
                call(1, "XLEN s"),
            ],
        ),
        (
            "$ on a missing key, created by XADD; two readers served by one entry",
            3,
            vec![
                send(0, "XREAD BLOCK 0 STREAMS nokey $"),
                Step::Parked(1),
                send(1, "XREAD COUNT 5 BLOCK 0 STREAMS nokey 0"),
                Step::Parked(2),
                call(2, "XADD nokey 5-5 a b"),
                Step::Read(0),
                Step::Read(1),
            ],
        ),
        (
            "an explicit id past the end; an entry at or below it does not serve",
            2,
            vec![
                call(1, "XADD s 1-1 f v"),
                send(0, "XREAD BLOCK 0 STREAMS s 3-0"),
                Step::Parked(1),
                call(1, "XADD s 2-0 f v"),
                call(1, "XADD s 3-0 f v"),
                call(1, "XADD s 3-1 f v"),
                Step::Read(0),
            ],
        ),
        (
            "several streams: the one written replies alone, with COUNT",
            2,
            vec![
                call(1, "XADD a 1-0 f v"),
                call(1, "XADD b 1-0 f v"),
                send(0, "XREAD COUNT 1 BLOCK 0 STREAMS a b $ $"),
                Step::Parked(1),
                call(1, "MULTI"),
                call(1, "XADD b 2-0 x 1"),
                call(1, "XADD b 3-0 x 2"),
                call(1, "EXEC"),
                Step::Read(0),
            ],
        ),
        (
            "served by a script's XADD; an XADD trimmed to nothing serves an empty list",
            2,
            vec![
                call(1, "XADD s 1-0 f v"),
                send(0, "XREAD BLOCK 0 STREAMS s $"),
                Step::Parked(1),
                call(1, "EVAL redis.call('XADD','s','2-0','f','v') 0"),
                Step::Read(0),
                send(0, "XREAD BLOCK 0 STREAMS s $"),
                Step::Parked(1),
                call(1, "XADD s MAXLEN 0 3-0 f v"),
                Step::Read(0),
                call(1, "XLEN s"),
            ],
        ),
        (
            "ids below the last one with nothing newer alive: only a later XADD serves",
            2,
            vec![
                call(1, "XADD s 1-0 f v"),
                call(1, "XADD s 2-0 f v"),
                call(1, "XDEL s 2-0"),
                send(0, "XREAD BLOCK 0 STREAMS s 1-0"),
                Step::Parked(1),
                call(1, "XDEL s 1-0"),
                call(1, "XADD s 3-0 f v"),
                Step::Read(0),
            ],
        ),
        (
            "timeouts and their errors",
            1,
            vec![
                call(0, "XREAD BLOCK 20 STREAMS s $"),
                call(0, "XREAD BLOCK 10 COUNT 2 STREAMS s t 0 0"),
                call(0, "XREAD BLOCK -1 STREAMS s $"),
                call(0, "XREAD BLOCK 1.5 STREAMS s $"),
                call(0, "XREAD BLOCK 0 STREAMS s"),
            ],
        ),
        (
            "served by MULTI/EXEC once it ends; XREAD BLOCK inside MULTI does not wait",
            2,
            vec![
                call(1, "XADD s 1-0 f v"),
                send(0, "XREAD BLOCK 0 STREAMS s $"),
                Step::Parked(1),
                call(1, "MULTI"),
                call(1, "XREAD BLOCK 0 STREAMS s $"),
                call(1, "XADD s 2-0 f v"),
                call(1, "XREAD BLOCK 0 STREAMS s 1-0"),
                call(1, "EXEC"),
                Step::Read(0),
            ],
        ),
        (
            "data already there is served at once; a key of another type is an error",
            1,
            vec![
                call(0, "XADD s 1-0 f v"),
                call(0, "XREAD BLOCK 0 STREAMS s 0-0"),
                call(0, "SET str x"),
                call(0, "XREAD BLOCK 0 STREAMS s str $ $"),
            ],
        ),
    ]
}

fn blocking(protocol: Protocol) {
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let Some(subject) = Subject::start(&ServerOpts::default()) else { return };
    for (name, conns, steps) in scenes() {
        let theirs = play(reference.addr(), conns, &steps, protocol).unwrap_or_else(|e| panic!("redis, {name}: {e}"));
        let ours = play(subject.addr(), conns, &steps, protocol).unwrap_or_else(|e| panic!("ours, {name}: {e}"));
        assert_eq!(ours, theirs, "{name} ({protocol:?}): transcripts differ (left: ours, right: redis-server)");
        eprintln!("{name} ({protocol:?}): {} replies agree", ours.len());
    }
}

#[test]
fn blocking_xread_resp2() {
    blocking(Protocol::Resp2);
}

#[test]
fn blocking_xread_resp3() {
    blocking(Protocol::Resp3);
}
