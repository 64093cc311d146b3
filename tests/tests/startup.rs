//! Our server started as a process: its arguments reach it whole (a `dir` with a space in it,
//! through the test wrapper `cache-tests-server` and through [`ServerOpts`] flags), and the real
//! binary logs "ready to accept connections" only once the snapshot is loaded, after "DB loaded
//! from disk", as Redis does.
//!
//! Bounds: each server starts within the harness's start timeout; at most 1,000 keys written;
//! the log is read for at most 20 s.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cache_tests::ServerOpts;
use cache_tests::ours::{OurProcess, real_server_binary};
use cache_tests::port::{free_port, loopback, wait_for_port};
use cache_tests::resp::{Frame, RawConn};
use cache_tests::scratch::Scratch;

/// A child process killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Some(s.as_bytes().to_vec()))
}

/// The server at `addr` runs in `dir`: CONFIG GET shows it whole, and SAVE writes its snapshot there.
fn saves_in(addr: std::net::SocketAddr, dir: &Path) {
    let mut c = RawConn::connect(addr).expect("connect");
    let shown = dir.display().to_string();
    assert_eq!(c.call(&["CONFIG", "GET", "dir"]), Frame::Array(Some(vec![bulk("dir"), bulk(&shown)])));
    assert_eq!(c.call(&["SET", "k", "v"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(c.call(&["SAVE"]), Frame::Simple(b"OK".to_vec()));
    assert!(dir.join("dump.rdb").is_file(), "no dump.rdb in {shown}");
}

/// The wrapper gives each argument to the directive whole: `--dir "/tmp/cache tests …"`.
#[test]
fn the_test_wrapper_takes_a_dir_with_a_space_whole() {
    let dir = Scratch::new("wrapper with space");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_cache-tests-server"))
        .args(["--port", &port.to_string(), "--dir", &dir.arg(), "--save", ""])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn cache-tests-server");
    let mut child = Killed(child);
    let addr = loopback(port);
    assert!(wait_for_port(addr, || matches!(child.0.try_wait(), Ok(None))), "cache-tests-server did not start");
    saves_in(addr, dir.path());
}

/// A quoted directive value is one word to whichever binary [`OurProcess`] runs.
#[test]
fn server_opts_pass_a_quoted_dir_with_a_space_whole() {
    let dir = Scratch::new("opts with space");
    let opts = ServerOpts { directives: vec![("dir".into(), dir.conf_word())], ..ServerOpts::default() };
    let ours = OurProcess::start(&opts);
    saves_in(ours.addr(), dir.path());
}

/// Reads `child`'s stderr lines until one contains `until` (at most 20 s); returns them all.
fn log_until(child: &mut Child, until: &str) -> Vec<String> {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = rx.recv_timeout(left) else { break };
        let done = line.contains(until);
        lines.push(line);
        if done {
            return lines;
        }
    }
    panic!("no {until:?} logged within 20 s; the log:\n{}", lines.join("\n"));
}

/// Started on a snapshot, the real binary logs "DB loaded from disk" before "ready to accept
/// connections", and once ready it serves the loaded keys.
#[test]
fn ready_is_logged_after_the_snapshot_is_loaded() {
    let Some(bin) = real_server_binary() else { return };
    let dir = Scratch::new("ready with space");
    let keys = 1_000;
    {
        let opts = ServerOpts { directives: vec![("dir".into(), dir.conf_word())], ..ServerOpts::default() };
        let ours = OurProcess::start(&opts);
        let mut c = RawConn::connect(ours.addr()).expect("connect");
        for i in 0..keys {
            c.cmd(&["SET", &format!("key:{i}"), "value"]).expect("SET");
        }
        assert_eq!(c.call(&["SAVE"]), Frame::Simple(b"OK".to_vec()));
    }
    let port = free_port();
    let child = Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir", &dir.arg(), "--save", ""])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cache-server");
    let mut child = Killed(child);
    let log = log_until(&mut child.0, "ready to accept connections");
    let loaded = log.iter().position(|l| l.contains("DB loaded from disk"));
    assert!(loaded.is_some_and(|i| i + 1 < log.len()), "ready before the snapshot was loaded:\n{}", log.join("\n"));
    let mut c = RawConn::connect(loopback(port)).expect("connect once ready");
    assert_eq!(c.call(&["DBSIZE"]), Frame::Integer(keys));
}
