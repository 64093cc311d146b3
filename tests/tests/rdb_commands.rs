//! The snapshot commands and directives, against redis-server 7.0.15 where replies can be
//! compared: COMMAND INFO of SAVE / BGSAVE / LASTSAVE, CONFIG SET of the protected `dir` and
//! `dbfilename` (refused, then allowed by `enable-protected-configs`), BGSAVE's argument errors;
//! then ours alone: INFO persistence counters, LASTSAVE, a `save` rule firing a BGSAVE, SHUTDOWN
//! with save rules and SIGTERM with save rules writing the file, SHUTDOWN NOSAVE not writing it.
//! Bounded: a few keys, each wait at most 10 s.

use cache_tests::ServerOpts;
use cache_tests::ours::{OurProcess, OurServer};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("rdb-cmds-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Self(p)
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

fn opts(dir: &Scratch, extra: &[(&str, &str)]) -> ServerOpts {
    let mut directives = vec![("dir".to_owned(), dir.arg())];
    directives.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
    ServerOpts { directives, ..ServerOpts::default() }
}

fn info(c: &mut RawConn) -> String {
    match c.cmd(&["INFO", "persistence"]).expect("info") {
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    }
}

fn field(c: &mut RawConn, name: &str) -> String {
    let i = info(c);
    i.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::to_owned)).unwrap_or_default()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn replies_match_redis() {
    let (a, b) = (Scratch::new("cmp-ours"), Scratch::new("cmp-redis"));
    let Some(redis) = RedisServer::start(&["--dir".to_owned(), b.arg()]) else { return };
    let ours = OurServer::start(&opts(&a, &[]));
    let (mut r, mut o) =
        (RawConn::connect(redis.addr()).expect("connect"), RawConn::connect(ours.addr()).expect("connect"));
    let c = b.arg();
    let cmds: Vec<Vec<&str>> = vec![
        vec!["COMMAND", "INFO", "save", "bgsave", "lastsave"],
        vec!["CONFIG", "SET", "dir", &c],
        vec!["CONFIG", "SET", "dbfilename", "x.rdb"],
        vec!["CONFIG", "SET", "save", "100 10 1000 10000"],
        vec!["CONFIG", "GET", "save"],
        vec!["CONFIG", "SET", "save", ""],
        vec!["CONFIG", "SET", "rdbchecksum", "no"],
        vec!["BGSAVE", "foo"],
        vec!["BGSAVE", "SCHEDULE", "x"],
        vec!["SAVE", "x"],
        vec!["LASTSAVE", "x"],
        vec!["SAVE"],
        vec!["MULTI"],
        vec!["SET", "in-multi", "1"],
        vec!["BGSAVE"],
        vec!["EXEC"],
    ];
    for cmd in &cmds {
        let (rr, or) = (r.cmd(cmd).expect("redis"), o.cmd(cmd).expect("ours"));
        assert_eq!(or, rr, "{cmd:?}");
    }
    // The BGSAVE queued in the transaction ran once EXEC released its keys.
    wait_until("the BGSAVE from EXEC", || {
        field(&mut o, "rdb_saves") == "2" && field(&mut o, "rdb_bgsave_in_progress") == "0"
    });
}

#[test]
fn protected_configs_can_be_allowed() {
    let (a, b) = (Scratch::new("prot-a"), Scratch::new("prot-b"));
    let ours = OurServer::start(&opts(&a, &[("enable-protected-configs", "yes")]));
    let mut o = RawConn::connect(ours.addr()).expect("connect");
    assert_eq!(
        o.cmd(&["CONFIG", "SET", "dir", &b.arg(), "dbfilename", "moved.rdb"]).expect("set"),
        Frame::Simple(b"OK".to_vec())
    );
    o.cmd(&["SET", "k", "v"]).expect("set");
    assert_eq!(o.cmd(&["SAVE"]).expect("save"), Frame::Simple(b"OK".to_vec()));
    assert!(b.0.join("moved.rdb").exists() && !a.0.join("dump.rdb").exists());
}

#[test]
fn info_counters_and_save_rules() {
    let dir = Scratch::new("info");
    let ours = OurServer::start(&opts(&dir, &[]));
    let mut o = RawConn::connect(ours.addr()).expect("connect");
    assert_eq!(field(&mut o, "rdb_changes_since_last_save"), "0");
    for i in 0..5 {
        o.cmd(&["SET", &format!("k{i}"), "v"]).expect("set");
    }
    assert_eq!(field(&mut o, "rdb_changes_since_last_save"), "5");
    let Frame::Integer(before) = o.cmd(&["LASTSAVE"]).expect("lastsave") else { panic!("LASTSAVE") };
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(o.cmd(&["BGSAVE"]).expect("bgsave"), Frame::Simple(b"Background saving started".to_vec()));
    wait_until("BGSAVE", || field(&mut o, "rdb_bgsave_in_progress") == "0" && field(&mut o, "rdb_saves") == "1");
    assert_eq!(field(&mut o, "rdb_changes_since_last_save"), "0");
    assert_eq!(field(&mut o, "rdb_last_bgsave_status"), "ok");
    let Frame::Integer(after) = o.cmd(&["LASTSAVE"]).expect("lastsave") else { panic!("LASTSAVE") };
    assert!(after > before, "LASTSAVE moves on: {before} -> {after}");
    // A rule of 1 s / 2 changes fires a BGSAVE by itself.
    assert_eq!(o.cmd(&["CONFIG", "SET", "save", "1 2"]).expect("config"), Frame::Simple(b"OK".to_vec()));
    o.cmd(&["SET", "a", "1"]).expect("set");
    o.cmd(&["SET", "b", "2"]).expect("set");
    wait_until("the save rule", || field(&mut o, "rdb_saves") == "2");
    assert_eq!(field(&mut o, "rdb_changes_since_last_save"), "0");
}

fn dump_keys(dir: &Path) -> bool {
    std::fs::read(dir.join("dump.rdb")).is_ok_and(|b| b.windows(5).any(|w| w == b"\x04last"))
}

#[test]
fn shutdown_and_sigterm_save_when_rules_exist() {
    // SHUTDOWN NOSAVE: nothing written.
    let dir = Scratch::new("nosave");
    let mut p = OurProcess::start(&opts(&dir, &[("save", "3600 1")]));
    let mut c = RawConn::connect(p.addr()).expect("connect");
    c.cmd(&["SET", "last", "1"]).expect("set");
    let _ = c.cmd(&["SHUTDOWN", "NOSAVE"]);
    wait_until("exit", || !p.is_running());
    assert!(!dir.0.join("dump.rdb").exists(), "SHUTDOWN NOSAVE wrote a file");

    // Plain SHUTDOWN with a save rule: saved.
    let dir = Scratch::new("shutdown");
    let mut p = OurProcess::start(&opts(&dir, &[("save", "3600 1")]));
    let mut c = RawConn::connect(p.addr()).expect("connect");
    c.cmd(&["SET", "last", "1"]).expect("set");
    let _ = c.cmd(&["SHUTDOWN"]);
    wait_until("exit", || !p.is_running());
    assert!(dump_keys(&dir.0), "SHUTDOWN with save rules saved the key");

    // SIGTERM with a save rule: saved.
    let dir = Scratch::new("sigterm");
    let mut p = OurProcess::start(&opts(&dir, &[("save", "3600 1")]));
    let mut c = RawConn::connect(p.addr()).expect("connect");
    c.cmd(&["SET", "last", "1"]).expect("set");
    let status = std::process::Command::new("kill").args(["-TERM", &p.pid().to_string()]).status().expect("kill");
    assert!(status.success());
    wait_until("exit", || !p.is_running());
    assert!(dump_keys(&dir.0), "SIGTERM with save rules saved the key");
}

/// A BGSAVE that fails (a directory stands where its file goes) with save rules and `stop-writes-on-bgsave-error
/// yes` refuses writes, PING and an EXEC with a write with `-MISCONF`, but not reads; a SAVE that
/// succeeds lifts it. Played on both servers, replies compared.
#[test]
fn a_failed_bgsave_stops_writes_as_in_redis() {
    let (a, b) = (Scratch::new("misconf-ours"), Scratch::new("misconf-redis"));
    let Some(redis) = RedisServer::start(&["--dir".to_owned(), b.arg(), "--save".to_owned(), "3600 1".to_owned()])
    else {
        return;
    };
    let ours = OurServer::start(&opts(&a, &[("save", "3600 1")]));
    let mut refusals: Vec<Vec<Frame>> = Vec::new();
    for (c, dir) in [
        (&mut RawConn::connect(redis.addr()).expect("connect"), &b),
        (&mut RawConn::connect(ours.addr()).expect("connect"), &a),
    ] {
        assert_eq!(c.cmd(&["SET", "k", "v"]).expect("set"), Frame::Simple(b"OK".to_vec()));
        std::fs::create_dir(dir.0.join("dump.rdb")).expect("a directory in the file's place");
        c.cmd(&["BGSAVE"]).expect("bgsave");
        wait_until("the BGSAVE to fail", || field(c, "rdb_last_bgsave_status") == "err");
        let mut seen = Vec::new();
        let mut refused = |c: &mut RawConn, args: &[&str]| {
            let reply = c.cmd(args).expect("reply");
            let misconf = matches!(&reply, Frame::Error(e) if e.starts_with(b"MISCONF "));
            seen.push(reply);
            misconf
        };
        assert!(refused(c, &["SET", "k", "w"]), "a write is refused");
        assert!(refused(c, &["PING"]), "PING is refused");
        assert!(!refused(c, &["EVAL", "return redis.call('GET', 'k')", "0"]), "a script's reads go on");
        // A script's write fails inside it (a script error, compared below).
        refused(c, &["EVAL", "return redis.call('SET', 'k', 'x')", "0"]);
        assert_eq!(c.cmd(&["GET", "k"]).expect("get"), Frame::Bulk(Some(b"v".to_vec())), "reads go on");
        assert_eq!(c.cmd(&["MULTI"]).expect("multi"), Frame::Simple(b"OK".to_vec()));
        assert!(refused(c, &["INCR", "n"]), "a queued write is refused");
        assert!(matches!(c.cmd(&["EXEC"]).expect("exec"), Frame::Error(e) if e.starts_with(b"EXECABORT")));
        std::fs::remove_dir(dir.0.join("dump.rdb")).expect("clear the file's place");
        assert_eq!(c.cmd(&["SAVE"]).expect("save"), Frame::Simple(b"OK".to_vec()));
        assert_eq!(c.cmd(&["SET", "k", "w"]).expect("set"), Frame::Simple(b"OK".to_vec()), "writes again");
        refusals.push(seen);
    }
    assert_eq!(refusals[0], refusals[1], "Redis's refusals first, ours second");
}

/// With save rules, FLUSHALL writes the emptied dataset at once: a restart does not bring the
/// flushed keys back.
#[test]
fn flushall_with_save_rules_saves_the_empty_dataset() {
    let dir = Scratch::new("flushall");
    let ours = OurServer::start(&opts(&dir, &[("save", "3600 1")]));
    let mut c = RawConn::connect(ours.addr()).expect("connect");
    let holds_key = || std::fs::read(dir.0.join("dump.rdb")).is_ok_and(|b| b.windows(8).any(|w| w == b"\x07flushme"));
    c.cmd(&["SET", "flushme", "v"]).expect("set");
    assert_eq!(c.cmd(&["SAVE"]).expect("save"), Frame::Simple(b"OK".to_vec()));
    assert!(holds_key(), "the first save holds the key");
    assert_eq!(c.cmd(&["FLUSHALL"]).expect("flushall"), Frame::Simple(b"OK".to_vec()));
    assert!(!holds_key(), "FLUSHALL's save holds no key");
}
