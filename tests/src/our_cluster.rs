//! A cluster of our server binaries as child processes, for the membership tests: each node runs
//! with `--cluster-enabled yes`, its own `nodes-<port>.conf` in a temporary directory and a short
//! `cluster-node-timeout`, on a port below 55000 whose bus port (+10000) is free too. Nodes can be
//! killed and restarted on the same port and file (a restart must rejoin). Everything is killed and
//! the directory removed on drop. It knows nothing of what the tests check.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ours::server_binary;
use crate::port::{loopback, wait_for_port};

/// `cluster-node-timeout` of the nodes, in milliseconds.
pub const NODE_TIMEOUT_MS: u64 = 2000;

/// A port below 55000 free for the client listener, with port + 10000 free for the bus.
///
/// # Panics
///
/// When no such pair turns up in many tries.
#[must_use]
pub fn cluster_port() -> u16 {
    for _ in 0..10_000 {
        let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) else { continue };
        let Ok(port) = l.local_addr().map(|a| a.port()) else { continue };
        if !(1024..55_000).contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair (p, p + 10000) below 55000");
}

/// One node: its port, its config file, and its process while it runs.
#[derive(Debug)]
pub struct Node {
    /// Client port (the bus is on port + 10000).
    pub port: u16,
    conf: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Node {
    fn spawn(&mut self) {
        let port = self.port.to_string();
        let conf = self.conf.display().to_string();
        let timeout = NODE_TIMEOUT_MS.to_string();
        let mut child = Command::new(server_binary())
            .args(["--bind", "127.0.0.1", "--port", &port, "--save", ""])
            .args(["--cluster-enabled", "yes", "--cluster-config-file", &conf, "--cluster-node-timeout", &timeout])
            .args(&self.extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn our server");
        assert!(
            wait_for_port(loopback(self.port), || matches!(child.try_wait(), Ok(None))),
            "node {port} did not listen"
        );
        self.child = Some(child);
    }

    /// Kills the process (as a crash would: no shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again on the same port and nodes.conf.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// `host:port` as redis-cli takes it.
    #[must_use]
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its nodes.conf path.
    #[must_use]
    pub fn conf(&self) -> &Path {
        &self.conf
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The nodes and their directory.
#[derive(Debug)]
pub struct OurCluster {
    /// The nodes, in start order.
    pub nodes: Vec<Node>,
    dir: PathBuf,
}

impl OurCluster {
    /// Starts `n` nodes that know nothing of each other yet (`redis-cli --cluster create` joins
    /// them); `extra` flags go to every node.
    #[must_use]
    pub fn start(n: usize, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("our-cluster-{}-{}", std::process::id(), cluster_port()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        let mut c = Self { nodes: Vec::new(), dir };
        for _ in 0..n {
            c.add(extra);
        }
        c
    }

    /// Starts one more node; returns its index.
    pub fn add(&mut self, extra: &[&str]) -> usize {
        let port = cluster_port();
        let conf = self.dir.join(format!("nodes-{port}.conf"));
        let mut node = Node { port, conf, extra: extra.iter().map(|s| (*s).to_string()).collect(), child: None };
        node.spawn();
        self.nodes.push(node);
        self.nodes.len() - 1
    }
}

impl Drop for OurCluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `check` every 100 ms until it returns true or `limit` passes; returns whether it did.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
