//! The server under test, chosen once for the whole run.
//!
//! By default it is our server. `CACHE_TESTS_SUBJECT=redis` puts a real `redis-server` in its place:
//! every test must then pass unchanged, which is how the harness itself is validated (redis against
//! redis must agree) before any failure is blamed on our server. It owns that switch and nothing else.

use std::net::SocketAddr;

use crate::ours::{OurProcess, OurServer, ServerOpts};
use crate::redis_server::RedisServer;

/// Which implementation plays the server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// Our cache-server (the default).
    Ours,
    /// A real redis-server, to validate the harness.
    Redis,
}

/// The kind selected by `CACHE_TESTS_SUBJECT` (`ours`, the default, or `redis`).
///
/// # Panics
///
/// On any other value.
#[must_use]
pub fn subject_kind() -> SubjectKind {
    match std::env::var("CACHE_TESTS_SUBJECT").as_deref() {
        Err(_) | Ok("ours" | "") => SubjectKind::Ours,
        Ok("redis") => SubjectKind::Redis,
        Ok(other) => panic!("CACHE_TESTS_SUBJECT={other:?}: expected `ours` or `redis`"),
    }
}

#[derive(Debug)]
enum Running {
    InProcess(OurServer),
    Process(OurProcess),
    Redis(RedisServer),
}

/// A running server under test; stopped on drop.
#[derive(Debug)]
pub struct Subject {
    running: Running,
}

impl Subject {
    /// Starts the server under test in the cheapest way: ours in this process, or a redis-server.
    /// `None` only when the subject is redis and redis-server is missing outside CI.
    #[must_use]
    pub fn start(opts: &ServerOpts) -> Option<Self> {
        let running = match subject_kind() {
            SubjectKind::Ours => Running::InProcess(OurServer::start(opts)),
            SubjectKind::Redis => Running::Redis(RedisServer::start(&redis_flags(opts))?),
        };
        Some(Self { running })
    }

    /// Starts the server under test as its own process (for tests that read its RSS).
    #[must_use]
    pub fn start_process(opts: &ServerOpts) -> Option<Self> {
        let running = match subject_kind() {
            SubjectKind::Ours => Running::Process(OurProcess::start(opts)),
            SubjectKind::Redis => Running::Redis(RedisServer::start(&redis_flags(opts))?),
        };
        Some(Self { running })
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        match &self.running {
            Running::InProcess(s) => s.addr(),
            Running::Process(p) => p.addr(),
            Running::Redis(r) => r.addr(),
        }
    }

    /// Its process id when it runs as a separate process.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        match &self.running {
            Running::InProcess(_) => None,
            Running::Process(p) => Some(p.pid()),
            Running::Redis(r) => Some(r.pid()),
        }
    }

    /// A short name for messages.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match &self.running {
            Running::InProcess(_) => "cache-server (in-process)",
            Running::Process(_) => "cache-server (process)",
            Running::Redis(_) => "redis-server (as subject)",
        }
    }
}

/// redis-server takes the same Redis-style flags as our binary.
fn redis_flags(opts: &ServerOpts) -> Vec<String> {
    opts.flags()
}

/// Reads `VmRSS` of process `pid` from `/proc/<pid>/status`, in bytes.
#[must_use]
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
