//! Scripts under real concurrency on our server, and long scripts (BUSY, SCRIPT KILL, FUNCTION
//! KILL). Each test states its bounds (requests, and a wall-time bound after which its loops stop
//! early and say so); each runs in a few seconds on 2 cores.
//!
//! - transfers between declared keys: writer threads run an EVAL that moves an amount from one key
//!   of a pair to the other (KEYS in a random order), readers sum each pair with a script and with
//!   MGET: every sum is the pair's initial total;
//! - the same with an undeclared key: the transfer script declares one key and builds the other's
//!   name from ARGV; readers likewise; a PING thread checks the server keeps answering;
//! - busy / kill: with `busy-reply-threshold 200`, a looping EVAL makes others get `-BUSY`, SCRIPT
//!   KILL stops it, a script that wrote first is `-UNKILLABLE` until SHUTDOWN NOSAVE stops the
//!   server, and FUNCTION KILL stops a looping FCALL — the same sequence runs against redis-server
//!   and every reply is compared byte for byte.
//!
//! Not here: an EVALSHA rate limiter on 2 threads vs 1 is a benchmark (timings are not asserted in
//! tests), so it belongs in `benches/`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cache_tests::ours::OurProcess;
use cache_tests::parallel::in_parallel;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, encode_command, escape};
use cache_tests::{ServerOpts, Subject};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Every loop stops here even if its count is not reached (and prints that it did).
const TIME_BOUND: Duration = Duration::from_secs(15);

fn connect(addr: SocketAddr) -> RawConn {
    RawConn::connect(addr).expect("connect")
}

/// Sends `cmds` as one pipelined batch and returns the replies.
fn pipeline(c: &mut RawConn, cmds: &[Vec<String>]) -> Vec<Frame> {
    c.pipeline(cmds).expect("pipelined batch")
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(n) => *n,
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(b).parse().unwrap_or_else(|_| panic!("not a number: {f:?}")),
        other => panic!("expected a number, got {other:?}"),
    }
}

const PAIRS: usize = 8;
const INITIAL: i64 = 1_000;
const WRITERS: usize = 3;
const READERS: usize = 2;
/// Transfers per writer, in pipelined batches of [`BATCH`].
const TRANSFERS: usize = 3_000;
/// Reads per reader (each one a script sum and an MGET), in batches of [`BATCH`].
const READS: usize = 2_000;
const BATCH: usize = 20;

/// Moves ARGV[1] from KEYS[1] to KEYS[2]; the loop between the two writes widens the window a
/// non-atomic run would expose.
const TRANSFER: &str = "local amt = tonumber(ARGV[1]) \
    local a = tonumber(redis.call('GET', KEYS[1])) \
    redis.call('SET', KEYS[1], a - amt) \
    for i = 1, 200 do end \
    local b = tonumber(redis.call('GET', KEYS[2])) \
    redis.call('SET', KEYS[2], b + amt) return a - amt";

/// The same with one declared key: the other is `ARGV[2]` with `:b` or `:a` appended. It reads
/// both keys before writing.
const TRANSFER_UNDECLARED: &str = "local amt = tonumber(ARGV[1]) \
    local other = ARGV[2] .. ARGV[3] \
    local a = tonumber(redis.call('GET', KEYS[1])) \
    local b = tonumber(redis.call('GET', other)) \
    redis.call('SET', KEYS[1], a - amt) \
    for i = 1, 200 do end \
    redis.call('SET', other, b + amt) return a - amt";

/// As [`TRANSFER_UNDECLARED`], but it writes its declared key before it first touches the
/// undeclared one.
const TRANSFER_UNDECLARED_WRITE_FIRST: &str = "local amt = tonumber(ARGV[1]) \
    local other = ARGV[2] .. ARGV[3] \
    local a = tonumber(redis.call('GET', KEYS[1])) \
    redis.call('SET', KEYS[1], a - amt) \
    for i = 1, 200 do end \
    local b = tonumber(redis.call('GET', other)) \
    redis.call('SET', other, b + amt) return a - amt";

/// The sum of both declared keys.
const SUM: &str = "return tonumber(redis.call('GET', KEYS[1])) + tonumber(redis.call('GET', KEYS[2]))";

/// The sum of two keys named by ARGV, none declared.
const SUM_UNDECLARED: &str =
    "return tonumber(redis.call('GET', ARGV[1] .. ':a')) + tonumber(redis.call('GET', ARGV[1] .. ':b'))";

fn pair(p: usize) -> (String, String) {
    (format!("acct:{p}:a"), format!("acct:{p}:b"))
}

/// One writer command: a transfer on pair `p` in a random direction.
type TransferCmd = fn(&mut StdRng, usize) -> Vec<String>;
/// One reader batch: commands whose replies are each the sum of a pair.
type SumCmds = fn(usize) -> Vec<Vec<String>>;

fn declared_transfer(rng: &mut StdRng, p: usize) -> Vec<String> {
    let (x, y) = pair(p);
    let (from, to) = if rng.random_bool(0.5) { (x, y) } else { (y, x) };
    let amt = rng.random_range(-50..=50).to_string();
    vec!["EVAL".into(), TRANSFER.into(), "2".into(), from, to, amt]
}

fn undeclared(script: &str, rng: &mut StdRng, p: usize) -> Vec<String> {
    let (x, y) = pair(p);
    let (from, to_suffix) = if rng.random_bool(0.5) { (x, ":b") } else { (y, ":a") };
    let amt = rng.random_range(-50..=50).to_string();
    vec!["EVAL".into(), script.into(), "1".into(), from, amt, format!("acct:{p}"), to_suffix.into()]
}

fn undeclared_transfer(rng: &mut StdRng, p: usize) -> Vec<String> {
    undeclared(TRANSFER_UNDECLARED, rng, p)
}

fn undeclared_write_first_transfer(rng: &mut StdRng, p: usize) -> Vec<String> {
    undeclared(TRANSFER_UNDECLARED_WRITE_FIRST, rng, p)
}

fn declared_sums(p: usize) -> Vec<Vec<String>> {
    let (x, y) = pair(p);
    vec![vec!["EVAL".into(), SUM.into(), "2".into(), x.clone(), y.clone()], vec!["MGET".into(), x, y]]
}

fn undeclared_sums(p: usize) -> Vec<Vec<String>> {
    let (x, y) = pair(p);
    vec![
        vec!["EVAL".into(), SUM_UNDECLARED.into(), "0".into(), format!("acct:{p}")],
        vec!["EVAL".into(), SUM.into(), "2".into(), y.clone(), x.clone()],
        vec!["MGET".into(), y, x],
    ]
}

fn sum_of(reply: &Frame) -> i64 {
    match reply {
        Frame::Array(Some(items)) => items.iter().map(int).sum(),
        other => int(other),
    }
}

/// Writers run `transfer` on random pairs until every reader has done [`READS`] reads with `sums`
/// (or [`TRANSFERS`] each, or the time bound); every sum must be `2 * INITIAL`. With `pinger`, a
/// thread PINGs throughout and the slowest PING must stay under 5 s (the server keeps answering).
fn transfers(transfer: TransferCmd, sums: SumCmds, pinger: bool) {
    let Some(s) = Subject::start(&ServerOpts::default()) else { return };
    let addr = s.addr();
    let mut c = connect(addr);
    for p in 0..PAIRS {
        let (x, y) = pair(p);
        let r = c.cmd(&["MSET", &x, &INITIAL.to_string(), &y, &INITIAL.to_string()]).expect("MSET");
        assert_eq!(r, Frame::Simple(b"OK".to_vec()));
    }
    let readers_left = Arc::new(AtomicU64::new(READERS as u64));
    let done = Arc::new(AtomicBool::new(false));
    let moved = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (left, done2, moved2) = (Arc::clone(&readers_left), Arc::clone(&done), Arc::clone(&moved));
    let extra = usize::from(pinger);
    let pings = in_parallel(WRITERS + READERS + extra, move |t| {
        let mut c = connect(addr);
        let mut rng = StdRng::seed_from_u64(0x7a_0000 + t as u64);
        let mut slowest = Duration::ZERO;
        if t < WRITERS {
            let mut i = 0;
            while left.load(Ordering::SeqCst) > 0 && i < TRANSFERS && started.elapsed() < TIME_BOUND {
                let cmds: Vec<Vec<String>> = (0..BATCH)
                    .map(|_| {
                        let p = rng.random_range(0..PAIRS);
                        transfer(&mut rng, p)
                    })
                    .collect();
                for r in pipeline(&mut c, &cmds) {
                    assert!(matches!(r, Frame::Integer(_)), "a transfer answered {r:?}");
                }
                i += BATCH;
            }
            moved2.fetch_add(i as u64, Ordering::Relaxed);
        } else if t < WRITERS + READERS {
            let _done = ReaderDone(Arc::clone(&left));
            for start in (0..READS).step_by(BATCH) {
                if started.elapsed() > TIME_BOUND {
                    eprintln!("reader {t}: stopped at the time bound after {start} reads");
                    break;
                }
                let cmds: Vec<Vec<String>> = (0..BATCH).flat_map(|_| sums(rng.random_range(0..PAIRS))).collect();
                for (cmd, r) in cmds.iter().zip(pipeline(&mut c, &cmds)) {
                    assert_eq!(sum_of(&r), 2 * INITIAL, "{}: {r:?}: a transfer was seen half done", cmd[0]);
                }
            }
            if left.load(Ordering::SeqCst) == 1 {
                done2.store(true, Ordering::SeqCst);
            }
        } else {
            while left.load(Ordering::SeqCst) > 0 && started.elapsed() < TIME_BOUND {
                let t0 = Instant::now();
                assert_eq!(c.cmd(&["PING"]).expect("PING"), Frame::Simple(b"PONG".to_vec()));
                slowest = slowest.max(t0.elapsed());
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        slowest
    });
    let slowest = pings.into_iter().max().unwrap_or_default();
    let moved = moved.load(Ordering::Relaxed);
    eprintln!(
        "transfers: {moved} transfers, {} reads, slowest PING {slowest:?}, {:?}",
        READERS * READS,
        started.elapsed()
    );
    assert!(moved >= 1_000, "the writers ran too little to prove anything: {moved}");
    assert!(slowest < Duration::from_secs(5), "the server stopped answering PING for {slowest:?}");
    let mut c = connect(addr);
    for p in 0..PAIRS {
        let (x, y) = pair(p);
        assert_eq!(sum_of(&c.cmd(&["MGET", &x, &y]).expect("MGET")), 2 * INITIAL, "pair {p} at the end");
    }
}

/// Counts a reader out when it ends, by returning or by panicking (so the writers stop at once).
struct ReaderDone(Arc<AtomicU64>);

impl Drop for ReaderDone {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// 3 writers × up to 3,000 transfers over 8 pairs; 2 readers × 2,000 reads (script sum + MGET).
#[test]
fn transfers_between_declared_keys_keep_every_sum() {
    transfers(declared_transfer, declared_sums, false);
}

/// As above, with the second key of each transfer undeclared (and readers that declare none), plus
/// a PING thread.
#[test]
fn transfers_touching_an_undeclared_key_keep_every_sum() {
    transfers(undeclared_transfer, undeclared_sums, true);
}

/// A script that writes its declared key and then touches an undeclared key whose shard another
/// script holds is abandoned (its write put back) and rerun over the whole keyspace: it completes,
/// as in Redis, and no reader sees half a transfer.
#[test]
fn transfers_writing_before_an_undeclared_key_keep_every_sum() {
    transfers(undeclared_write_first_transfer, undeclared_sums, true);
}

/// How long a script loops before the others are checked: past `busy-reply-threshold` (200 ms).
const PAST_THRESHOLD: Duration = Duration::from_millis(300);

const BUSY_OPTS: &[(&str, &str)] = &[("busy-reply-threshold", "200")];

const LOOP_LIB: &str = "#!lua name=looplib\n\
    redis.register_function('spin', function(keys, args) while true do end end)\n\
    redis.register_function('spinw', function(keys, args) redis.call('SET', 'fw', '1') while true do end end)\n";

/// One server's transcript of the busy/kill sequence: (step, raw reply) in order.
type Transcript = Vec<(String, Vec<u8>)>;

struct Busy {
    addr: SocketAddr,
    log: Transcript,
}

impl Busy {
    fn record(&mut self, step: &str, raw: Vec<u8>) {
        self.log.push((step.to_owned(), raw));
    }

    /// `cmd` on a fresh connection, reply recorded.
    fn on_other(&mut self, step: &str, cmd: &[&str]) -> Frame {
        let (f, raw) = connect(self.addr).cmd_raw(cmd).expect(step);
        self.record(step, raw);
        f
    }

    /// Sends `cmd` on a new connection without reading, waits past the threshold, and returns
    /// the connection (its reply is read later).
    fn start_looping(&mut self, cmd: &[&str]) -> RawConn {
        let mut c = connect(self.addr);
        c.send_raw(&encode_command(cmd)).expect("send the looping script");
        std::thread::sleep(PAST_THRESHOLD);
        c
    }

    /// Reads the looping connection's reply.
    fn finish(&mut self, step: &str, c: &mut RawConn) {
        let (_, raw) = c.read_frame_raw().expect(step);
        self.record(step, raw);
    }
}

/// The busy/kill sequence on `addr`; `pid`, if given, is the server's, checked to exit after
/// SHUTDOWN NOSAVE.
fn busy_sequence(addr: SocketAddr, pid: Option<u32>) -> Transcript {
    let mut s = Busy { addr, log: Vec::new() };
    s.on_other("SCRIPT KILL when idle", &["SCRIPT", "KILL"]);
    s.on_other("FUNCTION KILL when idle", &["FUNCTION", "KILL"]);
    s.on_other("FUNCTION LOAD", &["FUNCTION", "LOAD", LOOP_LIB]);
    // A looping read-only script: BUSY for others, SCRIPT KILL stops it.
    let mut looping = s.start_looping(&["EVAL", "while true do end", "0"]);
    s.on_other("GET while busy", &["GET", "x"]);
    s.on_other("SET while busy", &["SET", "x", "1"]);
    s.on_other("FUNCTION KILL of a script", &["FUNCTION", "KILL"]);
    s.on_other("SCRIPT KILL", &["SCRIPT", "KILL"]);
    s.finish("the killed EVAL", &mut looping);
    s.on_other("GET after the kill", &["GET", "x"]);
    s.on_other("EVAL after the kill", &["EVAL", "return redis.call('SET', 'x', 'after')", "0"]);
    looping.cmd_raw(&["PING"]).expect("the killed script's connection still works");
    // A looping function: FUNCTION KILL stops it.
    let mut looping = s.start_looping(&["FCALL", "spin", "0"]);
    s.on_other("GET while a function is busy", &["GET", "x"]);
    s.on_other("SCRIPT KILL of a function", &["SCRIPT", "KILL"]);
    s.on_other("FUNCTION KILL", &["FUNCTION", "KILL"]);
    s.finish("the killed FCALL", &mut looping);
    // A function that wrote first: unkillable.
    let looping = s.start_looping(&["FCALL", "spinw", "0"]);
    s.on_other("FUNCTION KILL after a write", &["FUNCTION", "KILL"]);
    drop(looping);
    // ... and only SHUTDOWN NOSAVE ends it; the server then exits.
    let mut shut = connect(addr);
    shut.send_raw(&encode_command(&["SHUTDOWN", "NOSAVE"])).expect("SHUTDOWN NOSAVE");
    let said = shut.read_to_close().expect("SHUTDOWN NOSAVE closes the connection");
    s.record("SHUTDOWN NOSAVE (function)", said);
    if let Some(pid) = pid {
        wait_exit(pid);
    }
    s.log
}

/// The same with an EVAL that wrote first (on a second server instance).
fn unkillable_eval_sequence(addr: SocketAddr, pid: Option<u32>) -> Transcript {
    let mut s = Busy { addr, log: Vec::new() };
    let mut looping = s.start_looping(&["EVAL", "redis.call('SET', 'w', '1') while true do end", "0"]);
    s.on_other("GET while a writer loops", &["GET", "w"]);
    s.on_other("SCRIPT KILL after a write", &["SCRIPT", "KILL"]);
    s.on_other("SCRIPT KILL again", &["SCRIPT", "KILL"]);
    s.on_other("SHUTDOWN (saving) while busy", &["SHUTDOWN"]);
    let mut shut = connect(addr);
    shut.send_raw(&encode_command(&["SHUTDOWN", "NOSAVE"])).expect("SHUTDOWN NOSAVE");
    let said = shut.read_to_close().expect("SHUTDOWN NOSAVE closes the connection");
    s.record("SHUTDOWN NOSAVE (eval)", said);
    if let Some(pid) = pid {
        let _ = looping.read_to_close();
        wait_exit(pid);
    }
    s.log
}

/// Waits up to 10 s for process `pid` to exit (gone, or a zombie awaiting its parent's wait).
fn wait_exit(pid: u32) {
    let started = Instant::now();
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let exited =
            state.as_deref().is_none_or(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')));
        if exited {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "process {pid} did not exit after SHUTDOWN NOSAVE");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn compare(what: &str, ours: &Transcript, theirs: &Transcript) {
    let mut report = Vec::new();
    for ((step, x), (_, y)) in ours.iter().zip(theirs) {
        if x != y {
            report.push(format!("{step}:\n  ours:  {}\n  redis: {}", escape(x), escape(y)));
        }
    }
    assert_eq!(ours.len(), theirs.len(), "{what}: transcripts differ in length");
    assert!(report.is_empty(), "{what}: replies differ:\n{}", report.join("\n"));
    for (step, raw) in ours {
        eprintln!("{what}: {step}: {}", escape(raw));
    }
}

/// After SHUTDOWN NOSAVE while an unkillable script (or function) loops, the process exits (within
/// its drain timeout and the runtime's shutdown timeout), as redis-server does at once.
const OURS_EXITS: bool = true;

fn busy_opts() -> ServerOpts {
    ServerOpts {
        directives: BUSY_OPTS.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        ..ServerOpts::default()
    }
}

/// Bounds: 3 looping scripts of ~300 ms each per server, 15 short commands; each server exits.
#[test]
fn busy_and_kill_match_redis() {
    let opts = busy_opts();
    let Some(redis) = RedisServer::start(&opts.flags()) else { return };
    let theirs = busy_sequence(redis.addr(), Some(redis.pid()));
    let ours_server = OurProcess::start(&opts);
    let ours = busy_sequence(ours_server.addr(), OURS_EXITS.then(|| ours_server.pid()));
    compare("busy/kill", &ours, &theirs);
    // The BUSY text itself, stated once so a change on both sides is noticed too.
    let busy = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    assert_eq!(ours.iter().find(|(s, _)| s == "GET while busy").map(|(_, r)| r.as_slice()), Some(&busy[..]));
}

/// Bounds: one looping script per server, 5 short commands; each server exits.
#[test]
fn unkillable_eval_matches_redis_and_shutdown_nosave_ends_it() {
    let opts = busy_opts();
    let Some(redis) = RedisServer::start(&opts.flags()) else { return };
    let theirs = unkillable_eval_sequence(redis.addr(), Some(redis.pid()));
    let ours_server = OurProcess::start(&opts);
    let ours = unkillable_eval_sequence(ours_server.addr(), OURS_EXITS.then(|| ours_server.pid()));
    compare("unkillable", &ours, &theirs);
}
