//! Whole RDB files between our server and redis-server 7.0.15, both ways. The same seeded data
//! set ([`DumpGenerator`] cases: every type and encoding, streams with consumer groups and pending
//! entries, keys with absolute expiry times, keys in databases 0 and 2, a function library) is
//! built on both servers by the same commands; each then SAVEs.
//!
//! - Ours → Redis: `redis-check-rdb` accepts our file, and a fresh redis-server started on it
//!   answers DBSIZE (per database), TYPE, PEXPIRETIME, the values (GET, LRANGE, SMEMBERS, ZRANGE
//!   WITHSCORES, HGETALL, XRANGE, XINFO STREAM FULL, XINFO GROUPS), OBJECT ENCODING and FUNCTION
//!   LIST as our server does.
//! - Redis → ours: our server started on Redis's `dump.rdb` answers the same reads as the Redis
//!   that wrote it (under `allkeys-lfu`, so the file carries a `FREQ` opcode per key).
//!
//! Stream reads mask `radix-tree-nodes` (ours estimates Redis's internal node count). Times in
//! XINFO STREAM FULL are compared exactly: they travel in the file. Bounds: 160 keys, one SAVE per
//! server, about 10 s in a debug build. `CACHE_TESTS_SEED=<u64>` replays a run.

use cache_tests::gen_dump::{Case, DumpGenerator, with_key};
use cache_tests::ours::OurServer;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn};
use cache_tests::{ServerOpts, diff};
use std::path::{Path, PathBuf};

const DEFAULT_SEED: u64 = 0x0db_f11e;
/// Redis 7.0's encoding thresholds, stated so that both servers use the same ones.
const THRESHOLDS: &[&str] = &["--hash-max-listpack-entries", "512", "--zset-max-listpack-entries", "128"];
const LIBRARY: &str = "#!lua name=rdblib\nredis.register_function('rdbf', function(keys, args) return 1 end)";

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("rdb-diff-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Self(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One key of the data set: its database, name and case.
struct Key {
    db: u32,
    name: Vec<u8>,
    case: Case,
}

fn data_set(seed: u64) -> Vec<Key> {
    let mut g = DumpGenerator::new(seed);
    (0..160)
        .map(|i| {
            let case = if i % 5 == 4 { g.stream_case() } else { g.next_case() };
            Key { db: if i % 7 == 3 { 2 } else { 0 }, name: format!("k:{i}").into_bytes(), case }
        })
        .collect()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64
}

fn select(conn: &mut RawConn, db: u32) {
    assert_eq!(conn.cmd(&["SELECT", &db.to_string()]).expect("select"), Frame::Simple(b"OK".to_vec()));
}

/// Builds every key on `conn` (same commands on both servers), with absolute expiry times on some.
fn build(conn: &mut RawConn, keys: &[Key], expire_base: u64) {
    for (i, k) in keys.iter().enumerate() {
        select(conn, k.db);
        let cmds: Vec<Vec<Vec<u8>>> = k.case.build.iter().map(|c| with_key(c, &k.name)).collect();
        conn.pipeline(&cmds).expect("build");
        if i % 3 == 0 {
            let at = (expire_base + i as u64 * 1000).to_string();
            conn.cmd(&[&b"PEXPIREAT"[..], &k.name, at.as_bytes()]).expect("pexpireat");
        }
    }
    select(conn, 0);
    let loaded = conn.cmd(&["FUNCTION", "LOAD", LIBRARY]).expect("function load");
    assert_eq!(loaded, Frame::Bulk(Some(b"rdblib".to_vec())));
}

/// `radix-tree-nodes` set to 0 (ours estimates Redis's count of radix-tree nodes).
fn no_rax_nodes(f: Frame) -> Frame {
    let key = Frame::Bulk(Some(b"radix-tree-nodes".to_vec()));
    match f {
        Frame::Array(Some(mut v)) => {
            if let Some(at) = v.iter().position(|e| *e == key) {
                v[at + 1] = Frame::Integer(0);
            }
            Frame::Array(Some(v))
        }
        other => other,
    }
}

fn sorted(f: Frame, pairs: bool) -> Frame {
    match f {
        Frame::Array(Some(v)) if pairs => {
            let mut chunks: Vec<Vec<Frame>> = v.chunks(2).map(<[Frame]>::to_vec).collect();
            chunks.sort_by_key(|c| format!("{c:?}"));
            Frame::Array(Some(chunks.into_iter().flatten().collect()))
        }
        Frame::Array(Some(mut v)) => {
            v.sort_by_key(|e| format!("{e:?}"));
            Frame::Array(Some(v))
        }
        other => other,
    }
}

/// Everything a client can see of the data set on `conn`, one line per read.
fn view(conn: &mut RawConn, keys: &[Key]) -> Vec<(String, Frame)> {
    let mut out = Vec::new();
    for db in [0, 1, 2] {
        select(conn, db);
        out.push((format!("DBSIZE db{db}"), conn.cmd(&["DBSIZE"]).expect("dbsize")));
    }
    for k in keys {
        select(conn, k.db);
        let mut reads: Vec<(Vec<Vec<u8>>, bool)> = k.case.reads.clone();
        reads.push((vec![b"PEXPIRETIME".to_vec(), b"{key}".to_vec()], false));
        let cmds: Vec<Vec<Vec<u8>>> = reads.iter().map(|(c, _)| with_key(c, &k.name)).collect();
        let replies = conn.pipeline(&cmds).expect("reads");
        for ((cmd, is_sorted), reply) in reads.iter().zip(replies) {
            let reply = if *is_sorted { sorted(reply, cmd[0] == b"HGETALL") } else { no_rax_nodes(reply) };
            let label = format!(
                "db{} {} {}",
                k.db,
                String::from_utf8_lossy(&k.name),
                String::from_utf8_lossy(&cmd.join(&b' '))
            );
            out.push((label, reply));
        }
    }
    select(conn, 0);
    out.push(("FUNCTION LIST WITHCODE".into(), conn.cmd(&["FUNCTION", "LIST", "WITHCODE"]).expect("function list")));
    out
}

fn compare(what: &str, got: &[(String, Frame)], want: &[(String, Frame)]) {
    assert_eq!(got.len(), want.len(), "{what}: number of reads");
    for ((label, g), (_, w)) in got.iter().zip(want) {
        assert_eq!(g, w, "{what}: {label}");
    }
}

fn save(conn: &mut RawConn, dir: &Path) {
    assert_eq!(conn.cmd(&["SAVE"]).expect("save"), Frame::Simple(b"OK".to_vec()));
    assert!(dir.join("dump.rdb").exists(), "SAVE wrote no dump.rdb in {}", dir.display());
}

/// `redis-check-rdb` on `file`: must exit 0 and say the file looks OK.
fn check_rdb(file: &Path) {
    let Some(bin) = cache_tests::peer::require_peer("redis-check-rdb") else { return };
    let out = std::process::Command::new(bin).arg(file).output().expect("run redis-check-rdb");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb refused {}:\n{text}",
        file.display()
    );
}

fn redis_with(dir: &Scratch) -> Option<RedisServer> {
    let mut args: Vec<String> = THRESHOLDS.iter().map(|s| (*s).to_owned()).collect();
    args.extend(["--dir".to_owned(), dir.arg()]);
    RedisServer::start(&args)
}

fn ours_with(dir: &Scratch) -> OurServer {
    OurServer::start(&ServerOpts { directives: vec![("dir".into(), dir.arg())], ..ServerOpts::default() })
}

/// A redis-server whose file carries per-key LFU counters (`FREQ` opcodes, as Redis writes under
/// an LFU policy), so that our loader meets them.
fn redis_lfu_with(dir: &Scratch) -> Option<RedisServer> {
    let mut args: Vec<String> = THRESHOLDS.iter().map(|s| (*s).to_owned()).collect();
    args.extend(["--dir".to_owned(), dir.arg(), "--maxmemory-policy".to_owned(), "allkeys-lfu".to_owned()]);
    RedisServer::start(&args)
}

#[test]
fn snapshots_load_both_ways() {
    let seed = diff::seed_from_env(DEFAULT_SEED);
    eprintln!("rdb differential: seed {seed}");
    let keys = data_set(seed);
    let expire_base = now_ms() + 3_600_000;
    let (ours_dir, redis_dir) = (Scratch::new("ours"), Scratch::new("redis"));
    let Some(reference) = redis_lfu_with(&redis_dir) else { return };
    let ours = ours_with(&ours_dir);
    let (mut r, mut o) =
        (RawConn::connect(reference.addr()).expect("connect"), RawConn::connect(ours.addr()).expect("connect"));
    build(&mut r, &keys, expire_base);
    build(&mut o, &keys, expire_base);
    let (ours_view, redis_view) = (view(&mut o, &keys), view(&mut r, &keys));
    assert!(ours_view.len() > 4 * keys.len(), "the views read every key");
    for db in [0, 2] {
        let size = &ours_view.iter().find(|(l, _)| *l == format!("DBSIZE db{db}")).expect("dbsize").1;
        assert!(matches!(size, Frame::Integer(n) if *n > 10), "db{db} holds keys: {size:?}");
    }
    save(&mut o, ours_dir.path());
    save(&mut r, redis_dir.path());

    // Ours → Redis.
    check_rdb(&ours_dir.path().join("dump.rdb"));
    let Some(loaded_by_redis) = redis_with(&ours_dir) else { return };
    let mut lr = RawConn::connect(loaded_by_redis.addr()).expect("connect");
    compare(&format!("seed {seed}: redis-server loading our snapshot"), &view(&mut lr, &keys), &ours_view);

    // Redis → ours.
    let loaded_by_ours = ours_with(&redis_dir);
    let mut lo = RawConn::connect(loaded_by_ours.addr()).expect("connect");
    compare(&format!("seed {seed}: our server loading redis-server's snapshot"), &view(&mut lo, &keys), &redis_view);
    let info = match lo.cmd(&["INFO", "persistence"]).expect("info") {
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    };
    assert!(info.contains(&format!("rdb_last_load_keys_loaded:{}\r\n", keys.len())), "INFO after the load:\n{info}");

    // And ours reloads its own file.
    let reloaded = ours_with(&ours_dir);
    let mut ro = RawConn::connect(reloaded.addr()).expect("connect");
    compare(&format!("seed {seed}: our server reloading its snapshot"), &view(&mut ro, &keys), &ours_view);
}
