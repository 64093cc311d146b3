//! `redis-cli` (Debian's `redis-tools`) as a real client of our server: single commands in its raw
//! and formatted (`--no-raw`) output modes, error replies, commands read from stdin, RESP3 (`-3`,
//! which sends `HELLO 3` and prints maps), and `--pipe` mass insertion of 10,000 SETs checked with
//! DBSIZE. Each invocation runs against our server and against a real redis-server and must print the
//! same bytes; a few outputs are also checked against literal expectations. Every child process is
//! bounded by `timeout(1)`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cache_tests::peer::require_peer;
use cache_tests::redis_server::RedisServer;
use cache_tests::{ServerOpts, Subject};

/// Wall-time bound for one redis-cli run, in seconds (passed to `timeout`).
const CHILD_TIMEOUT_SECS: &str = "60";

struct Setup {
    cli: PathBuf,
    ours: Subject,
    reference: RedisServer,
}

fn setup() -> Option<Setup> {
    let cli = require_peer("redis-cli")?;
    let reference = RedisServer::start::<&str>(&[])?;
    let ours = Subject::start(&ServerOpts::default())?;
    Some(Setup { cli, ours, reference })
}

fn cli(cli: &Path, addr: SocketAddr, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("timeout")
        .arg(CHILD_TIMEOUT_SECS)
        .arg(cli)
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli under timeout");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for redis-cli");
    writer.join().expect("stdin writer");
    assert_ne!(out.status.code(), Some(124), "redis-cli {args:?} hit the {CHILD_TIMEOUT_SECS} s bound");
    out
}

/// Runs the same invocation against both servers; returns our stdout after checking it equals Redis's.
fn same(s: &Setup, args: &[&str], stdin: &[u8]) -> String {
    let ours = cli(&s.cli, s.ours.addr(), args, stdin);
    let theirs = cli(&s.cli, s.reference.addr(), args, stdin);
    let (o, t) = (String::from_utf8_lossy(&ours.stdout), String::from_utf8_lossy(&theirs.stdout));
    assert_eq!(o, t, "redis-cli {args:?}: stdout differs (left: {}, right: redis-server)", s.ours.name());
    assert_eq!(ours.status.code(), theirs.status.code(), "redis-cli {args:?}: exit status differs");
    o.into_owned()
}

#[test]
fn commands_and_errors_print_like_redis() {
    let Some(s) = setup() else { return };
    for addr in [s.ours.addr(), s.reference.addr()] {
        cli(&s.cli, addr, &["FLUSHALL"], b"");
    }
    assert_eq!(same(&s, &["SET", "k", "v"], b""), "OK\n");
    assert_eq!(same(&s, &["GET", "k"], b""), "v\n");
    assert_eq!(same(&s, &["GET", "missing"], b""), "\n");
    assert_eq!(same(&s, &["--no-raw", "GET", "missing"], b""), "(nil)\n");
    assert_eq!(same(&s, &["--no-raw", "INCR", "n"], b""), "(integer) 1\n");
    assert_eq!(same(&s, &["HSET", "h", "f", "v"], b""), "1\n");
    assert_eq!(same(&s, &["HGETALL", "h"], b""), "f\nv\n");
    same(&s, &["--no-raw", "MGET", "k", "missing", "n"], b"");
    same(&s, &["--no-raw", "SET", "k", "v", "EX", "100"], b"");
    same(&s, &["--no-raw", "EXISTS", "k", "h", "nope"], b"");
    same(&s, &["--no-raw", "TYPE", "h"], b"");
    same(&s, &["--no-raw", "DBSIZE"], b"");
    same(&s, &["--no-raw", "PING"], b"");
    same(&s, &["--no-raw", "ECHO", "hello world"], b"");
    // Error replies, raw and formatted.
    assert_eq!(same(&s, &["FOO", "bar"], b""), "ERR unknown command 'FOO', with args beginning with: 'bar' \n\n");
    assert_eq!(same(&s, &["--no-raw", "GET"], b""), "(error) ERR wrong number of arguments for 'get' command\n");
    assert_eq!(
        same(&s, &["--no-raw", "INCR", "h"], b""),
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n"
    );
    same(&s, &["--no-raw", "INCR", "k"], b"");
    same(&s, &["--no-raw", "SET", "k", "v", "NX", "XX"], b"");
    // Commands read from stdin, one per line.
    same(&s, &[], b"SET x y\nGET x\nINCR x\nAPPEND x z\nGET x\nDEL x\n");
}

#[test]
fn resp3_flag_prints_maps_like_redis() {
    let Some(s) = setup() else { return };
    for addr in [s.ours.addr(), s.reference.addr()] {
        cli(&s.cli, addr, &["FLUSHALL"], b"");
    }
    same(&s, &["HSET", "h", "f", "v"], b"");
    assert_eq!(same(&s, &["-3", "--no-raw", "HGETALL", "h"], b""), "1# \"f\" => \"v\"\n");
    assert_eq!(same(&s, &["-3", "HGETALL", "h"], b""), "f v\n");
    assert_eq!(same(&s, &["-3", "--no-raw", "GET", "missing"], b""), "(nil)\n");
    assert_eq!(same(&s, &["-3", "PING"], b""), "PONG\n");
    same(&s, &["-3", "--no-raw", "HGET", "h", "f"], b"");
    same(&s, &["-3", "--no-raw", "INCRBYFLOAT", "fl", "1.5"], b"");
    same(&s, &["-3", "--no-raw", "EXISTS", "h"], b"");
    same(&s, &["-3", "--no-raw", "DEL"], b"");
    // HELLO's own reply names the server and its connection id: compare only its protocol line.
    let ours = cli(&s.cli, s.ours.addr(), &["-3", "--no-raw", "HELLO", "3"], b"");
    let out = String::from_utf8_lossy(&ours.stdout);
    assert!(out.contains("\"proto\" => (integer) 3"), "HELLO 3 via redis-cli -3 printed:\n{out}");
}

#[test]
fn pipe_mass_insertion_of_10k_sets() {
    let Some(s) = setup() else { return };
    const N: usize = 10_000;
    let mut input = Vec::with_capacity(N * 48);
    for i in 0..N {
        let (k, v) = (format!("key:{i}"), format!("value:{i}"));
        input
            .extend_from_slice(format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n", k.len(), v.len()).as_bytes());
    }
    // Three commands that fail, so the error count is checked too.
    for _ in 0..3 {
        input.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$5\r\nkey:1\r\n");
    }
    for (name, addr) in [(s.ours.name(), s.ours.addr()), ("redis-server", s.reference.addr())] {
        cli(&s.cli, addr, &["FLUSHALL"], b"");
        let out = cli(&s.cli, addr, &["--pipe", "--pipe-timeout", "30"], &input);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("errors: 3, replies: {}", N + 3)),
            "redis-cli --pipe against {name} printed:\n{text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let size = cli(&s.cli, addr, &["DBSIZE"], b"");
        assert_eq!(String::from_utf8_lossy(&size.stdout), format!("{N}\n"), "DBSIZE on {name}");
        let last = cli(&s.cli, addr, &["GET", "key:9999"], b"");
        assert_eq!(String::from_utf8_lossy(&last.stdout), "value:9999\n", "GET on {name}");
    }
}
