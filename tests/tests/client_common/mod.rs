//! Shared by the `client_*` tests: the two servers every cache-client test runs against — ours
//! (in-process) and a real redis-server (skipped with a reason locally, required under CI) — and
//! spawning a server process on a chosen port, for tests that kill and restart a node.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use cache_tests::ServerOpts;
use cache_tests::ours::{OurServer, server_binary};
use cache_tests::peer::require_peer;
use cache_tests::port::{free_port, loopback, wait_for_port};
use cache_tests::redis_server::RedisServer;

/// A server under test.
pub enum Target {
    /// Our server, in this process.
    Ours(OurServer),
    /// A real redis-server.
    Redis(RedisServer),
}

impl Target {
    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Self::Ours(s) => s.addr(),
            Self::Redis(s) => s.addr(),
        }
    }

    /// `redis://addr`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// "ours" or "redis".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ours(_) => "ours",
            Self::Redis(_) => "redis",
        }
    }
}

/// Starts `n` of our servers and `n` redis-servers (when redis-server exists), as two groups.
pub fn groups(n: usize, opts: &ServerOpts) -> Vec<Vec<Target>> {
    let mut out = vec![(0..n).map(|_| Target::Ours(OurServer::start(opts))).collect()];
    if require_peer("redis-server").is_some() {
        out.push((0..n).map(|_| Target::Redis(RedisServer::start(&opts.flags()).expect("redis-server"))).collect());
    }
    out
}

/// `n` redis-servers, or `None` (after printing why) when redis-server is missing outside CI.
pub fn redis_group(n: usize, opts: &ServerOpts) -> Option<Vec<Target>> {
    require_peer("redis-server")?;
    Some((0..n).map(|_| Target::Redis(RedisServer::start(&opts.flags()).expect("redis-server"))).collect())
}

/// `n` of our servers, in this process.
pub fn ours_group(n: usize, opts: &ServerOpts) -> Vec<Target> {
    (0..n).map(|_| Target::Ours(OurServer::start(opts))).collect()
}

/// A client over `group`, RESP3 first or RESP2 only.
pub fn client_of(group: &[Target], resp3: bool) -> cache_client::Client {
    let mut b = cache_client::Client::builder().resp3(resp3);
    for t in group {
        b = b.node(t.url());
    }
    b.build().expect("a client over the group")
}

/// One of each server.
pub fn targets() -> Vec<Target> {
    groups(1, &ServerOpts::default()).into_iter().flatten().collect()
}

/// Which server program a [`Proc`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Our binary.
    Ours,
    /// redis-server.
    Redis,
}

/// The kinds available here (ours always; redis when installed, always under CI).
pub fn kinds() -> Vec<Kind> {
    let mut k = vec![Kind::Ours];
    if require_peer("redis-server").is_some() {
        k.push(Kind::Redis);
    }
    k
}

/// A server process on a fixed port, killed on drop; can be stopped and restarted on that port.
pub struct Proc {
    kind: Kind,
    port: u16,
    child: Option<Child>,
}

impl Proc {
    /// Starts one on a free port.
    pub fn start(kind: Kind) -> Self {
        let mut p = Self { kind, port: free_port(), child: None };
        p.restart();
        p
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the process (SIGKILL), keeping the port for [`Proc::restart`].
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// (Re)starts the process on its port.
    ///
    /// # Panics
    ///
    /// When it does not listen within the harness's start timeout.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port.to_string();
        let mut cmd = match self.kind {
            Kind::Ours => {
                let mut c = Command::new(server_binary());
                c.args(["--bind", "127.0.0.1", "--port", &port]).env("RUST_LOG", "warn");
                c
            }
            Kind::Redis => {
                let mut c = Command::new(require_peer("redis-server").expect("redis-server"));
                c.args([
                    "--port",
                    &port,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--loglevel",
                    "warning",
                ]);
                c
            }
        };
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().expect("spawn server");
        let ok = wait_for_port(loopback(self.port), || matches!(child.try_wait(), Ok(None)));
        assert!(ok, "{:?} did not listen on {}", self.kind, self.port);
        self.child = Some(child);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
