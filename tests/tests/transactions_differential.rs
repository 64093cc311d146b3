//! MULTI / EXEC / DISCARD / WATCH / UNWATCH / RESET against a real `redis-server` 7.0, over two
//! connections per server: A runs the transactions, B's writes, FLUSHDBs and short-lived keys land
//! on A's watched keys. Every reply is compared byte for byte (the exceptions of `cache_tests::diff`
//! apply), in RESP2 and in RESP3 (`HELLO 3`, renewed after each `RESET`).
//!
//! - `edge_cases_*`: fixed sequences for each rule (nested MULTI, EXEC/DISCARD without MULTI, WATCH
//!   inside MULTI, EXECABORT after a queueing error, runtime errors inside EXEC without rollback,
//!   SELECT / MSET / RENAME / KEYS / DBSIZE / FLUSHDB queued, WATCH of a missing key, FLUSHDB of
//!   an empty and a full db, an expired watched key, UNWATCH / DISCARD / RESET clearing watches);
//! - `random_*`: seeded streams of transactions mixed with the generator's commands (strings,
//!   hashes, keys, expiry, wrong types, wrong arity, unknown commands), bounded by a count and a
//!   time bound; `CACHE_TESTS_SEED=<u64>` replays one (`random` picks one);
//! - `oom_*`: a separate pair with `maxmemory-policy noeviction` and a 1-byte `maxmemory`: `-OOM`
//!   while queueing, then `EXECABORT` at EXEC, and EXECABORT because of OOM when memory fills after
//!   a write was queued.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cache_tests::diff::{self, Protocol};
use cache_tests::redis_server::RedisServer;
use cache_tests::tx_stream::{self, Step, TxGenerator, a, b, short_lived};
use cache_tests::{ServerOpts, Subject};

const DEFAULT_SEED: u64 = 0x7a5e_0001;
/// Per-run bound on wall time: a run stops there (reported, not failed) even if its count is not
/// reached.
const TIME_BOUND: Duration = Duration::from_secs(25);

fn servers(opts: &ServerOpts) -> Option<(RedisServer, Subject)> {
    let reference = RedisServer::start(&opts.flags())?;
    let subject = Subject::start(opts)?;
    Some((reference, subject))
}

fn run_table(label: &str, opts: &ServerOpts, steps: &[Step], protocol: Protocol) {
    let Some((reference, subject)) = servers(opts) else { return };
    match tx_stream::run(subject.addr(), reference.addr(), label, steps.to_vec(), protocol, TIME_BOUND) {
        Ok(o) => {
            assert!(!o.hit_time_bound, "{label}: a fixed table must finish within {TIME_BOUND:?}");
            eprintln!("{label} {protocol:?}: {o:?}");
        }
        Err(report) => panic!("{report}"),
    }
}

/// Each rule as a short sequence; they run one after another on the same connections (each ends
/// outside MULTI with nothing watched, and the keys it uses reset).
fn edge_cases() -> Vec<Step> {
    let mut s = vec![
        // Nested MULTI is an error that does not abort the transaction.
        a(&["MULTI"]),
        a(&["MULTI"]),
        a(&["SET", "k0", "v"]),
        a(&["EXEC"]),
        // EXEC / DISCARD / UNWATCH without MULTI.
        a(&["EXEC"]),
        a(&["DISCARD"]),
        a(&["UNWATCH"]),
        // A refused EXEC aborts: outside MULTI, and inside it (the transaction is discarded).
        a(&["exec", "extra"]),
        a(&["multi", "extra"]),
        a(&["MULTI"]),
        a(&["SET", "k0", "queued"]),
        a(&["exec", "extra"]),
        a(&["EXEC"]),
        a(&["GET", "k0"]),
        a(&["MULTI"]),
        a(&["discard", "extra"]),
        a(&["unwatch", "extra"]),
        a(&["EXEC"]),
        // WATCH inside MULTI: refused, the transaction still runs.
        a(&["MULTI"]),
        a(&["WATCH", "k0"]),
        a(&["GET", "k0"]),
        a(&["EXEC"]),
        // WATCH with no key is an arity error outside MULTI.
        a(&["WATCH"]),
        // Arity and unknown-command errors while queueing: EXECABORT, nothing runs.
        a(&["MULTI"]),
        a(&["SET", "k1"]),
        a(&["SET", "k1", "queued"]),
        a(&["EXEC"]),
        a(&["GET", "k1"]),
        a(&["MULTI"]),
        a(&["NOSUCHCMD", "a", "b"]),
        a(&["SET", "k1", "queued"]),
        a(&["EXEC"]),
        a(&["EXISTS", "k1"]),
        // A queueing error, then DISCARD: the next transaction starts clean.
        a(&["MULTI"]),
        a(&["GET"]),
        a(&["DISCARD"]),
        a(&["MULTI"]),
        a(&["PING"]),
        a(&["EXEC"]),
        // Runtime errors inside EXEC are per command; no rollback.
        a(&["SET", "k0", "text"]),
        a(&["HSET", "h0", "f", "1"]),
        a(&["MULTI"]),
        a(&["INCR", "k0"]),
        a(&["SET", "k1", "after"]),
        a(&["HGET", "k0", "f"]),
        a(&["INCR", "h0"]),
        a(&["RENAME", "missing", "k2"]),
        a(&["APPEND", "k0", "!"]),
        a(&["EXEC"]),
        a(&["MGET", "k0", "k1"]),
        // SELECT inside MULTI, and the db it leaves selected after EXEC.
        a(&["MULTI"]),
        a(&["SELECT", "1"]),
        a(&["SET", "k0", "in-db1"]),
        a(&["SELECT", "99"]),
        a(&["GET", "k0"]),
        a(&["EXEC"]),
        a(&["GET", "k0"]),
        a(&["SELECT", "0"]),
        a(&["GET", "k0"]),
        // Multi-key and whole-keyspace commands queued.
        a(&["MULTI"]),
        a(&["MSET", "k0", "a", "k1", "b", "k2", "c"]),
        a(&["MSETNX", "k0", "x", "n0", "y"]),
        a(&["RENAME", "k0", "n1"]),
        a(&["KEYS", "*"]),
        a(&["DBSIZE"]),
        a(&["FLUSHDB"]),
        a(&["DBSIZE"]),
        a(&["MSETNX", "k0", "x", "n0", "y"]),
        a(&["MGET", "k0", "n0", "n1"]),
        a(&["EXEC"]),
        a(&["FLUSHALL"]),
        // An empty transaction.
        a(&["MULTI"]),
        a(&["EXEC"]),
        // WATCH of a missing key, created by the other client: EXEC answers null.
        a(&["WATCH", "w0"]),
        b(&["SET", "w0", "1"]),
        a(&["MULTI"]),
        a(&["GET", "w0"]),
        a(&["EXEC"]),
        // ... and a DEL of a key that does not exist touches nothing.
        a(&["WATCH", "w1"]),
        b(&["DEL", "w1"]),
        a(&["MULTI"]),
        a(&["SET", "w1", "mine"]),
        a(&["EXEC"]),
        // Reads, a no-op PERSIST and a failed MSETNX touch nothing; a same-value SET does.
        a(&["WATCH", "w0", "w1"]),
        b(&["GET", "w0"]),
        b(&["PERSIST", "w0"]),
        b(&["MSETNX", "w1", "x", "w0", "y"]),
        b(&["HDEL", "w1", "f"]),
        // Writes that change nothing touch no watcher.
        b(&["HSET", "wh", "f", "1"]),
        a(&["WATCH", "wh", "w0"]),
        b(&["HDEL", "wh", "nofield"]),
        b(&["HSETNX", "wh", "f", "2"]),
        b(&["SET", "w0", "v"]),
        a(&["WATCH", "w0"]),
        b(&["GETEX", "w0", "PERSIST"]),
        a(&["MULTI"]),
        a(&["GET", "w1"]),
        a(&["EXEC"]),
        a(&["WATCH", "w0"]),
        b(&["SET", "w0", "1"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        // EXPIRE, RENAME (as source and as destination), a hash write.
        a(&["HSET", "wh", "f", "1"]),
        a(&["WATCH", "w0"]),
        b(&["EXPIRE", "w0", "1000"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        a(&["WATCH", "w0"]),
        b(&["RENAME", "w0", "w9"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        a(&["WATCH", "w0"]),
        b(&["RENAME", "w9", "w0"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        a(&["WATCH", "wh"]),
        b(&["HSET", "wh", "g", "2"]),
        a(&["MULTI"]),
        a(&["HGETALL", "wh"]),
        a(&["EXEC"]),
        // The watching client's own write counts too.
        a(&["WATCH", "w0"]),
        a(&["SET", "w0", "own"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        // UNWATCH clears a touched watch; DISCARD and RESET forget watches.
        a(&["WATCH", "w0"]),
        b(&["SET", "w0", "2"]),
        a(&["UNWATCH"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        a(&["WATCH", "w0"]),
        a(&["MULTI"]),
        a(&["DISCARD"]),
        b(&["SET", "w0", "3"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        a(&["WATCH", "w0"]),
        a(&["MULTI"]),
        a(&["SET", "w0", "queued"]),
        a(&["RESET"]),
        b(&["SET", "w0", "4"]),
        a(&["EXEC"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        a(&["GET", "w0"]),
        // A touched watch and a queueing error: EXECABORT wins.
        a(&["WATCH", "w0"]),
        b(&["SET", "w0", "5"]),
        a(&["MULTI"]),
        a(&["NOSUCHCMD"]),
        a(&["EXEC"]),
        // A touched watch: EXEC answers null and the queue does not run.
        a(&["WATCH", "w0", "w1"]),
        b(&["APPEND", "w1", "!"]),
        a(&["MULTI"]),
        a(&["SET", "w0", "lost"]),
        a(&["EXEC"]),
        a(&["GET", "w0"]),
        // WATCH in db 1, a write of the same name in db 0: not touched.
        a(&["SELECT", "1"]),
        a(&["WATCH", "w0"]),
        b(&["SET", "w0", "db0"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        // ... and FLUSHALL empties db 1 too.
        a(&["SET", "w0", "db1"]),
        a(&["WATCH", "w0"]),
        b(&["FLUSHALL"]),
        a(&["MULTI"]),
        a(&["EXEC"]),
        a(&["SELECT", "0"]),
        // SWAPDB: a watched key that exists in either database is touched; one in neither is not.
        b(&["SET", "s0", "db0"]),
        b(&["SELECT", "1"]),
        b(&["SET", "s1", "db1"]),
        b(&["SELECT", "0"]),
        a(&["WATCH", "s1"]),
        b(&["SWAPDB", "0", "1"]),
        a(&["MULTI"]),
        a(&["GET", "s1"]),
        a(&["EXEC"]),
        a(&["WATCH", "s9"]),
        b(&["SWAPDB", "0", "1"]),
        a(&["MULTI"]),
        a(&["GET", "s0"]),
        a(&["EXEC"]),
        a(&["MULTI"]),
        a(&["SWAPDB", "0", "1"]),
        a(&["GET", "s0"]),
        a(&["SWAPDB", "x", "1"]),
        a(&["EXEC"]),
        b(&["SWAPDB", "0", "99"]),
        b(&["SWAPDB", "0", "y"]),
        // WATCH, then FLUSHDB of an empty db: nothing watched existed, EXEC runs.
        a(&["WATCH", "f0"]),
        b(&["FLUSHDB"]),
        a(&["MULTI"]),
        a(&["DBSIZE"]),
        a(&["EXEC"]),
        // FLUSHDB of a non-empty db without the watched key: EXEC runs.
        b(&["SET", "other", "1"]),
        a(&["WATCH", "f0"]),
        b(&["FLUSHDB"]),
        a(&["MULTI"]),
        a(&["DBSIZE"]),
        a(&["EXEC"]),
        // FLUSHDB removing the watched key: null.
        b(&["MSET", "other", "1", "f0", "2"]),
        a(&["WATCH", "f0"]),
        b(&["FLUSHDB"]),
        a(&["MULTI"]),
        a(&["DBSIZE"]),
        a(&["EXEC"]),
    ];
    // A watched key that expires before EXEC: null. (300 ms: the WATCH must come while it lives,
    // even on a loaded machine.)
    s.extend([b(&["SET", "e0", "v", "PX", "300"]), a(&["WATCH", "e0"]), Step::Pause(Duration::from_millis(450))]);
    s.extend([a(&["MULTI"]), a(&["GET", "e0"]), a(&["EXEC"])]);
    // A key already expired (and deleted) when watched: EXEC runs.
    s.extend(short_lived(b"e1"));
    s.extend([a(&["WATCH", "e1"]), a(&["MULTI"]), a(&["GET", "e1"]), a(&["EXEC"])]);
    // A key whose TTL has passed but that is not yet deleted when WATCHed: its deletion later is
    // no logical change, EXEC runs (with and without the other client's read in between).
    s.extend([b(&["SET", "e2", "v", "PX", "15"]), Step::Pause(tx_stream::SHORT_PAUSE), a(&["WATCH", "e2"])]);
    s.extend([b(&["EXISTS", "e2"]), a(&["MULTI"]), a(&["GET", "e2"]), a(&["EXEC"])]);
    s.extend([b(&["SET", "e4", "v", "PX", "15"]), Step::Pause(tx_stream::SHORT_PAUSE), a(&["WATCH", "e4"])]);
    s.extend([a(&["MULTI"]), a(&["GET", "e4"]), a(&["EXEC"])]);
    // A key with a long TTL, watched, then persisted by the other client: touched.
    s.extend([b(&["SET", "e3", "v", "EX", "1000"]), a(&["WATCH", "e3"]), b(&["PERSIST", "e3"])]);
    s.extend([a(&["MULTI"]), a(&["TTL", "e3"]), a(&["EXEC"]), a(&["DBSIZE"])]);
    s
}

#[test]
fn edge_cases_resp2() {
    run_table("edge cases", &ServerOpts::default(), &edge_cases(), Protocol::Resp2);
}

#[test]
fn edge_cases_resp3() {
    run_table("edge cases", &ServerOpts::default(), &edge_cases(), Protocol::Resp3);
}

fn random(blocks: usize, protocol: Protocol, seed_offset: u64) {
    let Some((reference, subject)) = servers(&ServerOpts::default()) else { return };
    let chosen = diff::seed_from_env(DEFAULT_SEED);
    let seed = chosen ^ seed_offset;
    let base_unix = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let mut generator = TxGenerator::new(seed, base_unix);
    let steps: Vec<Step> = (0..blocks).flat_map(|_| generator.next_block()).collect();
    eprintln!("transactions {protocol:?}: {} vs redis-server, seed {seed}, {} steps", subject.name(), steps.len());
    let label = format!("seed {seed}");
    match tx_stream::run(subject.addr(), reference.addr(), &label, steps, protocol, TIME_BOUND) {
        Ok(o) => {
            eprintln!("transactions {protocol:?}: {o:?}");
            if !o.hit_time_bound {
                // The stream exercised every outcome of EXEC, not only errors.
                assert!(o.exec_ran > 0 && o.exec_null > 0 && o.exec_abort > 0 && o.queued > 0, "{o:?}");
            }
        }
        Err(report) => {
            panic!("{report}\nreproduce with CACHE_TESTS_SEED={chosen} (this test uses it XOR {seed_offset})")
        }
    }
}

#[test]
fn random_transactions_resp2() {
    random(1_500, Protocol::Resp2, 0);
}

#[test]
fn random_transactions_resp3() {
    random(700, Protocol::Resp3, 3);
}

/// `maxmemory-policy noeviction` and a 1-byte `maxmemory`: both servers are over the limit at once.
fn tiny_memory() -> ServerOpts {
    ServerOpts { maxmemory: Some(1), maxmemory_policy: Some("noeviction".to_owned()), ..ServerOpts::default() }
}

fn oom_steps() -> Vec<Step> {
    vec![
        // Outside MULTI: writes refused, reads answered.
        a(&["SET", "k0", "v"]),
        a(&["GET", "k0"]),
        // While queueing every command is refused (the queue itself takes memory); EXEC aborts.
        a(&["MULTI"]),
        a(&["SET", "k0", "v"]),
        a(&["GET", "k0"]),
        a(&["EXEC"]),
        // DISCARD is never refused.
        a(&["MULTI"]),
        a(&["GET", "k0"]),
        a(&["DISCARD"]),
        // A write queued while memory was fine, then memory fills: EXEC aborts because of OOM.
        b(&["CONFIG", "SET", "maxmemory", "0"]),
        a(&["SET", "k0", "v"]),
        a(&["MULTI"]),
        a(&["SET", "k1", "v"]),
        a(&["GET", "k0"]),
        b(&["CONFIG", "SET", "maxmemory", "1"]),
        a(&["EXEC"]),
        a(&["EXISTS", "k1"]),
        // Lowering the budget under noeviction evicts nothing: the keys written before stay.
        a(&["GET", "k0"]),
        a(&["DBSIZE"]),
        // Only reads queued: EXEC runs them even when memory is full.
        b(&["CONFIG", "SET", "maxmemory", "0"]),
        a(&["MULTI"]),
        a(&["EXISTS", "k1"]),
        a(&["PING"]),
        b(&["CONFIG", "SET", "maxmemory", "1"]),
        a(&["EXEC"]),
        // A watch touched and memory full: the OOM abort comes first.
        b(&["CONFIG", "SET", "maxmemory", "0"]),
        a(&["WATCH", "k2"]),
        a(&["MULTI"]),
        a(&["SET", "k1", "v"]),
        b(&["SET", "k2", "touch"]),
        b(&["CONFIG", "SET", "maxmemory", "1"]),
        a(&["EXEC"]),
        // A watch touched, memory fine, nothing refused: null.
        b(&["CONFIG", "SET", "maxmemory", "0"]),
        a(&["WATCH", "k3"]),
        a(&["MULTI"]),
        a(&["GET", "k3"]),
        b(&["SET", "k3", "touch"]),
        a(&["EXEC"]),
    ]
}

#[test]
fn oom_while_queueing_and_at_exec_resp2() {
    run_table("oom", &tiny_memory(), &oom_steps(), Protocol::Resp2);
}

#[test]
fn oom_while_queueing_and_at_exec_resp3() {
    run_table("oom", &tiny_memory(), &oom_steps(), Protocol::Resp3);
}
