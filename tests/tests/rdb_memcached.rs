//! Memcached items across a snapshot: an item's value, client flags, expiry and CAS unique come
//! back after a restart (ours carries them in an aux field before the key record), new CAS
//! uniques stay above the loaded ones, and the file remains a plain Redis RDB: `redis-check-rdb`
//! accepts it and redis-server 7.0.15 loads it (the items as strings, flags and CAS ignored).
//! Bounds: a handful of items, two in-process starts.

use cache_tests::memcached::{McConn, OurMemcached};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn};
use std::path::PathBuf;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(dir: &Scratch) -> OurMemcached {
    let mut c = cache_server::Config::default();
    c.set("dir", &[&dir.0.display().to_string()]).expect("dir");
    OurMemcached::start(c)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `VALUE key flags bytes cas` line of `gets key`.
fn gets(mc: &mut McConn, key: &str) -> String {
    let reply = text(&mc.request(format!("gets {key}\r\n").as_bytes()).expect("gets"));
    reply.lines().next().unwrap_or_default().to_owned()
}

fn cas_of(line: &str) -> u64 {
    line.split(' ').nth(4).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no CAS in {line:?}"))
}

#[test]
fn items_keep_flags_cas_and_expiry() {
    let dir = Scratch(std::env::temp_dir().join(format!("rdb-mc-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("scratch dir");

    let before = {
        let server = start(&dir);
        let mut mc = McConn::connect(server.addr()).expect("connect");
        for (key, flags, exptime, value) in [
            ("plain", 0, 0, "v0"),
            ("flagged", 4242, 0, "hello"),
            ("expiring", 7, 3600, "soon"),
            ("max", u32::MAX, 0, "m"),
        ] {
            let req = format!("set {key} {flags} {exptime} {}\r\n{value}\r\n", value.len());
            assert_eq!(text(&mc.request(req.as_bytes()).expect("set")), "STORED\r\n");
        }
        let lines: Vec<String> = ["plain", "flagged", "expiring", "max"].iter().map(|k| gets(&mut mc, k)).collect();
        let mut resp = RawConn::connect(server.resp_addr()).expect("connect");
        let ttl = resp.cmd(&["PEXPIRETIME", "expiring"]).expect("pexpiretime");
        assert_eq!(resp.cmd(&["SAVE"]).expect("save"), Frame::Simple(b"OK".to_vec()));
        (lines, ttl)
    };

    let file = dir.0.join("dump.rdb");
    if let Some(check) = cache_tests::peer::require_peer("redis-check-rdb") {
        let out = std::process::Command::new(check).arg(&file).output().expect("redis-check-rdb");
        assert!(out.status.success() && text(&out.stdout).contains("RDB looks OK"), "{}", text(&out.stdout));
    }

    let server = start(&dir);
    let mut mc = McConn::connect(server.addr()).expect("connect");
    let after: Vec<String> = ["plain", "flagged", "expiring", "max"].iter().map(|k| gets(&mut mc, k)).collect();
    assert_eq!(after, before.0, "gets after the restart (value, flags, CAS)");
    let mut resp = RawConn::connect(server.resp_addr()).expect("connect");
    assert_eq!(resp.cmd(&["PEXPIRETIME", "expiring"]).expect("pexpiretime"), before.1);
    assert_eq!(text(&mc.request(b"set fresh 1 0 1\r\nx\r\n").expect("set")), "STORED\r\n");
    let highest = before.0.iter().map(|l| cas_of(l)).max().expect("items");
    assert!(cas_of(&gets(&mut mc, "fresh")) > highest, "a new CAS unique is above every loaded one");
    // A CAS taken before the restart still matches.
    let cas = cas_of(&before.0[1]);
    let req = format!("cas flagged 4242 0 3 {cas}\r\nnew\r\n");
    assert_eq!(text(&mc.request(req.as_bytes()).expect("cas")), "STORED\r\n");
    drop(server);

    // Redis loads the same file: the items are strings there.
    let mut args = vec!["--dir".to_owned(), dir.0.display().to_string()];
    args.extend(["--dbfilename".to_owned(), "dump.rdb".to_owned()]);
    let Some(redis) = RedisServer::start(&args) else { return };
    let mut r = RawConn::connect(redis.addr()).expect("connect");
    assert_eq!(r.cmd(&["GET", "flagged"]).expect("get"), Frame::Bulk(Some(b"hello".to_vec())));
    assert_eq!(r.cmd(&["DBSIZE"]).expect("dbsize"), Frame::Integer(4));
}
