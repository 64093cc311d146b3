//! Client libraries of other languages against our server: redis-py (RESP2 and RESP3), ioredis and
//! node-redis (RESP2 and RESP3) over RESP, pymemcache over the Memcached protocol. Each script in
//! `tests/clients/` prints a transcript (one line per step: a command and what the library returned,
//! or the error it raised); the same script runs against our server and against a real
//! `redis-server` / `memcached`, and the transcripts must be equal line for line.
//!
//! The libraries come from `tests/clients/requirements.txt` (pip) and `tests/clients/package.json`
//! (`npm ci` in that folder); `.ci/run` installs both. Without them a test prints why and skips, and
//! under `CI=true` it fails.

use std::process::Command;

use cache_tests::memcached::{Memcached, OurMemcached};
use cache_tests::redis_server::RedisServer;
use cache_tests::transcript::{assert_same, clients_dir, require, transcript};

fn python_ready() -> bool {
    require(
        "python3 with redis-py and pymemcache",
        "pip install -r tests/clients/requirements.txt",
        Command::new("python3").args(["-c", "import redis, pymemcache"]),
    )
}

fn node_ready() -> bool {
    require(
        "node with ioredis and node-redis",
        "cd tests/clients && npm ci",
        Command::new("node")
            .current_dir(clients_dir())
            .args(["-e", "require.resolve('ioredis'); require.resolve('redis')"]),
    )
}

#[test]
fn redis_py_resp2_and_resp3_match_redis() {
    if !python_ready() {
        return;
    }
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurMemcached::start(cache_server::Config::default());
    let theirs = transcript("python3", "python_clients.py", &["redis"], reference.addr());
    let mine = transcript("python3", "python_clients.py", &["redis"], ours.resp_addr());
    assert_same("redis-py", &mine, &theirs, 40);
    assert!(mine.contains(&"resp3 get b'Ada'".to_owned()), "{mine:#?}");
}

#[test]
fn pymemcache_matches_memcached() {
    if !python_ready() {
        return;
    }
    let Some(reference) = Memcached::start() else { return };
    let ours = OurMemcached::start(cache_server::Config::default());
    let theirs = transcript("python3", "python_clients.py", &["memcached"], reference.addr());
    let mine = transcript("python3", "python_clients.py", &["memcached"], ours.addr());
    assert_same("pymemcache", &mine, &theirs, 14);
    assert!(mine.contains(&"mc get b'v'".to_owned()), "{mine:#?}");
}

#[test]
fn ioredis_and_node_redis_match_redis() {
    if !node_ready() {
        return;
    }
    let Some(reference) = RedisServer::start::<&str>(&[]) else { return };
    let ours = OurMemcached::start(cache_server::Config::default());
    let theirs = transcript("node", "node_clients.mjs", &[], reference.addr());
    let mine = transcript("node", "node_clients.mjs", &[], ours.resp_addr());
    assert_same("ioredis / node-redis", &mine, &theirs, 30);
    assert!(mine.contains(&"node-redis3 get \"Ada\"".to_owned()), "{mine:#?}");
}
