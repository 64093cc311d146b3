//! A Redis Cluster on loopback for tests, the one launcher of every cluster test: N node
//! processes started from one command (a binary and its base arguments, to which the cluster
//! flags of redis.conf are appended), either joined with the real `redis-cli --cluster create`
//! and waited on until every node reports `cluster_state:ok` and agrees on all 16384 slots
//! ([`Cluster::start`]), or left alone for the test to join ([`Cluster::launch`]).
//!
//! The launcher is server-agnostic: [`NodeProgram::redis`] starts `redis-server`,
//! [`NodeProgram::ours`] our server; the flags it appends are redis.conf's (`--port`, `--bind`,
//! `--cluster-enabled yes`, `--cluster-config-file`, `--cluster-node-timeout`, plus any `extra`
//! such as `--cluster-require-full-coverage no`). Each node's port `p` and bus port `p + 10000`
//! are both checked free (and kept below 55000 so the bus port is valid). The config files live
//! on tmpfs (`/dev/shm`) when there is one: Redis fsyncs nodes.conf on every slot change, and a
//! disk's fsync would dominate a rebalance. Node processes are killed on drop; a killed node
//! can be restarted on its port with its config file, so it rejoins with its identity, and
//! more nodes can be started ([`Cluster::add_node`]) for `--cluster add-node`.
//!
//! Slot surgery for tests (a stuck migration for `-ASK`, a finished one for `-MOVED`) goes
//! through plain commands (`CLUSTER SETSLOT`, `MIGRATE`) on a `redis` crate connection, and a
//! whole reshard through `redis-cli --cluster reshard`.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rand::Rng;

use crate::ours::server_binary;
use crate::peer::require_peer;
use crate::port::{loopback, wait_for_port};

/// The default `cluster-node-timeout` of test nodes, in milliseconds.
pub const NODE_TIMEOUT_MS: u64 = 2000;

/// The program a node runs: a binary and the arguments every node gets before the cluster flags.
#[derive(Debug, Clone)]
pub struct NodeProgram {
    /// The server executable.
    pub bin: PathBuf,
    /// Arguments before the per-node ones.
    pub args: Vec<String>,
}

impl NodeProgram {
    /// `bin` with `args`.
    #[must_use]
    pub fn new(bin: impl Into<PathBuf>, args: &[&str]) -> Self {
        Self { bin: bin.into(), args: args.iter().map(|s| (*s).to_owned()).collect() }
    }

    /// `redis-server` without persistence, or `None` (after printing why; a panic under CI)
    /// when it or `redis-cli` is missing.
    #[must_use]
    pub fn redis() -> Option<Self> {
        let bin = require_peer("redis-server")?;
        require_peer("redis-cli")?;
        Some(Self::new(bin, &["--save", "", "--appendonly", "no", "--loglevel", "warning", "--protected-mode", "no"]))
    }

    /// Our server ([`server_binary`]) without persistence.
    #[must_use]
    pub fn ours() -> Self {
        Self::new(server_binary(), &["--save", ""])
    }
}

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Nodes in all (for [`Cluster::start`], at least 3 primaries, as `redis-cli --cluster create`
    /// demands; [`Cluster::launch`] takes any number).
    pub nodes: usize,
    /// Replicas per primary (`--cluster-replicas`): `nodes / (1 + replicas)` primaries.
    pub replicas: usize,
    /// `cluster-node-timeout` in milliseconds.
    pub node_timeout_ms: u64,
    /// More flags for every node (`--cluster-require-full-coverage no`, ...).
    pub extra: Vec<String>,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self { nodes: 3, replicas: 0, node_timeout_ms: NODE_TIMEOUT_MS, extra: Vec::new() }
    }
}

/// One node.
#[derive(Debug)]
pub struct ClusterNode {
    /// Client port (the bus is `port + 10000`).
    pub port: u16,
    /// Its cluster node id.
    pub id: String,
    child: Option<Child>,
}

impl ClusterNode {
    /// `127.0.0.1:<port>`, as redis-cli takes it.
    #[must_use]
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether its process runs (not killed).
    #[must_use]
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

/// A running cluster; its processes are killed on drop and its directory removed.
#[derive(Debug)]
pub struct Cluster {
    program: NodeProgram,
    spec: ClusterSpec,
    dir: PathBuf,
    /// The nodes, in creation order.
    pub nodes: Vec<ClusterNode>,
}

/// Whether `port` and its bus port are both free now.
fn pair_free(port: u16) -> bool {
    let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
    free(port) && free(port + 10000)
}

/// A port in [20000, 45000) free now, whose bus port (+10000) is free too.
#[must_use]
pub fn cluster_port() -> u16 {
    let mut rng = rand::rng();
    loop {
        let p = rng.random_range(20000..45000);
        if pair_free(p) {
            return p;
        }
    }
}

impl Cluster {
    /// Starts `spec.nodes` nodes of `program`, creates the cluster with `redis-cli --cluster
    /// create` and waits until it is ready. `None` when `redis-cli` is missing (see
    /// [`require_peer`]).
    ///
    /// # Errors
    ///
    /// When a node does not start, the creation fails, or the cluster is not ready in 30 s.
    pub fn start(program: NodeProgram, spec: ClusterSpec) -> Result<Option<Self>> {
        let Some(cli) = require_peer("redis-cli") else { return Ok(None) };
        let mut cluster = Self::launch(program, spec)?;
        let mut create = Command::new(&cli);
        create.arg("--cluster").arg("create");
        for n in &cluster.nodes {
            create.arg(n.address());
        }
        let replicas = cluster.spec.replicas.to_string();
        let out = create.args(["--cluster-replicas", &replicas, "--cluster-yes"]).stdin(Stdio::null()).output()?;
        ensure!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for i in 0..cluster.nodes.len() {
            let id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut cluster.conn(i)?)?;
            cluster.nodes[i].id = id;
        }
        cluster.wait_ready(Duration::from_secs(30))?;
        Ok(Some(cluster))
    }

    /// Starts `spec.nodes` nodes of `program` that know nothing of each other (the test joins
    /// them: `redis-cli --cluster create`, CLUSTER MEET, ...). Their ids are filled in.
    ///
    /// # Errors
    ///
    /// When a node does not start.
    pub fn launch(program: NodeProgram, spec: ClusterSpec) -> Result<Self> {
        let tag: u64 = rand::rng().random();
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let dir = base.join(format!("cache-cluster-{}-{tag:016x}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = Self { program, spec, dir, nodes: Vec::new() };
        for _ in 0..cluster.spec.nodes {
            cluster.add_node()?;
        }
        Ok(cluster)
    }

    /// Starts one more node (alone, not in the cluster yet); returns its index.
    ///
    /// # Errors
    ///
    /// When it does not start on 5 ports in a row.
    pub fn add_node(&mut self) -> Result<usize> {
        for _attempt in 0..5 {
            let port = cluster_port();
            let mut child = self.spawn(port)?;
            if wait_for_port(loopback(port), || matches!(child.try_wait(), Ok(None))) {
                let mut node = ClusterNode { port, id: String::new(), child: Some(child) };
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
                let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
                node.id = redis::cmd("CLUSTER").arg("MYID").query(&mut conn)?;
                self.nodes.push(node);
                return Ok(self.nodes.len() - 1);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("a cluster node did not start on 5 ports")
    }

    fn spawn(&self, port: u16) -> Result<Child> {
        let conf = self.dir.join(format!("nodes-{port}.conf"));
        let mut cmd = Command::new(&self.program.bin);
        cmd.args(&self.program.args)
            .arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file"])
            .arg(&conf)
            .arg("--cluster-node-timeout")
            .arg(self.spec.node_timeout_ms.to_string())
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.spec.extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        Ok(cmd.spawn()?)
    }

    /// Node `i`'s config file (nodes.conf).
    #[must_use]
    pub fn conf(&self, i: usize) -> PathBuf {
        self.dir.join(format!("nodes-{}.conf", self.nodes[i].port))
    }

    /// The directory of the nodes' config files.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `redis://127.0.0.1:<port>` of node `i`.
    #[must_use]
    pub fn url(&self, i: usize) -> String {
        format!("redis://127.0.0.1:{}", self.nodes[i].port)
    }

    /// A plain (non-cluster) connection to node `i`.
    ///
    /// # Errors
    ///
    /// When it cannot connect.
    pub fn conn(&self, i: usize) -> Result<redis::Connection> {
        let client = redis::Client::open(self.url(i))?;
        Ok(client.get_connection_with_timeout(Duration::from_secs(2))?)
    }

    /// Waits until every running node reports `cluster_state:ok` and 16384 slots assigned, and
    /// every replica's link to its primary is up (a replica that never synced cannot fail over).
    ///
    /// # Errors
    ///
    /// When that does not happen within `limit`.
    pub fn wait_ready(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let mut last = String::new();
            let ok = (0..self.nodes.len()).filter(|&i| self.nodes[i].child.is_some()).all(|i| {
                let info: Result<(String, String)> = self.conn(i).and_then(|mut c| {
                    let cluster: String = redis::cmd("CLUSTER").arg("INFO").query(&mut c)?;
                    let replication: String = redis::cmd("INFO").arg("replication").query(&mut c)?;
                    Ok((cluster, replication))
                });
                match info {
                    Ok((info, repl))
                        if info.contains("cluster_state:ok")
                            && info.contains("cluster_slots_assigned:16384")
                            && (!repl.contains("role:slave") || repl.contains("master_link_status:up")) =>
                    {
                        true
                    }
                    other => {
                        last = format!("node {i}: {other:?}");
                        false
                    }
                }
            });
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("cluster not ready after {limit:?}: {last}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The index of the node that owns each slot (`None`: unassigned or an unknown node), as
    /// node `ask` sees it.
    ///
    /// # Errors
    ///
    /// When node `ask` does not answer.
    pub fn slot_owners(&self, ask: usize) -> Result<Vec<Option<usize>>> {
        let raw: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut self.conn(ask)?)?;
        let mut owners = vec![None; 16384];
        for r in raw {
            let redis::Value::Array(items) = r else { bail!("CLUSTER SLOTS: a range is not an array") };
            let start: usize = redis::from_redis_value_ref(&items[0])?;
            let end: usize = redis::from_redis_value_ref(&items[1])?;
            let redis::Value::Array(node) = &items[2] else { bail!("CLUSTER SLOTS: a node is not an array") };
            let port: u16 = redis::from_redis_value_ref(&node[1])?;
            let owner = self.nodes.iter().position(|n| n.port == port);
            for o in &mut owners[start..=end] {
                *o = owner;
            }
        }
        Ok(owners)
    }

    /// The index of the node that owns `slot`, as node `ask` sees it.
    ///
    /// # Errors
    ///
    /// When node `ask` does not answer, or the slot has no known owner.
    pub fn owner(&self, ask: usize, slot: u16) -> Result<usize> {
        self.slot_owners(ask)?[usize::from(slot)].with_context(|| format!("slot {slot} has no owner"))
    }

    /// Starts moving `slot` from node `from` to node `to` (IMPORTING on the target, MIGRATING on
    /// the source) and migrates the given keys, leaving the migration open: the source then
    /// answers `-ASK` for those keys (and for keys it does not have).
    ///
    /// # Errors
    ///
    /// When a command fails.
    pub fn begin_migration(&self, slot: u16, from: usize, to: usize, keys: &[&str]) -> Result<()> {
        let (src, dst) = (&self.nodes[from], &self.nodes[to]);
        let () =
            redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("IMPORTING").arg(&src.id).query(&mut self.conn(to)?)?;
        let () = redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg("MIGRATING")
            .arg(&dst.id)
            .query(&mut self.conn(from)?)?;
        if !keys.is_empty() {
            self.migrate_keys(from, to, keys)?;
        }
        Ok(())
    }

    /// `MIGRATE … KEYS` of `keys` from node `from` to node `to` (db 0, 5 s timeout).
    fn migrate_keys<K: redis::ToRedisArgs>(&self, from: usize, to: usize, keys: &[K]) -> Result<()> {
        let () = redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(self.nodes[to].port)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(keys)
            .query(&mut self.conn(from)?)?;
        Ok(())
    }

    /// Finishes moving `slot` from `from` to `to`: migrates every key left on the source, then
    /// `CLUSTER SETSLOT slot NODE` on the target, the source and the others.
    ///
    /// # Errors
    ///
    /// When a command fails.
    pub fn finish_migration(&self, slot: u16, from: usize, to: usize) -> Result<()> {
        let dst = &self.nodes[to];
        loop {
            let keys: Vec<String> =
                redis::cmd("CLUSTER").arg("GETKEYSINSLOT").arg(slot).arg(100).query(&mut self.conn(from)?)?;
            if keys.is_empty() {
                break;
            }
            self.migrate_keys(from, to, &keys)?;
        }
        let order = std::iter::once(to)
            .chain(std::iter::once(from))
            .chain((0..self.nodes.len()).filter(|&i| i != to && i != from));
        for i in order {
            if self.nodes[i].child.is_none() {
                continue;
            }
            let () =
                redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("NODE").arg(&dst.id).query(&mut self.conn(i)?)?;
        }
        Ok(())
    }

    /// Moves `slot` from `from` to `to` with all its keys.
    ///
    /// # Errors
    ///
    /// When a command fails.
    pub fn move_slot(&self, slot: u16, from: usize, to: usize) -> Result<()> {
        self.begin_migration(slot, from, to, &[])?;
        self.finish_migration(slot, from, to)
    }

    /// `redis-cli --cluster reshard` of `slots` slots from node `from` to node `to`,
    /// non-interactively.
    ///
    /// # Errors
    ///
    /// When redis-cli fails.
    pub fn reshard(&self, from: usize, to: usize, slots: usize) -> Result<()> {
        let cli = require_peer("redis-cli").context("redis-cli")?;
        let out = Command::new(cli)
            .args(["--cluster", "reshard", &format!("127.0.0.1:{}", self.nodes[from].port)])
            .args(["--cluster-from", &self.nodes[from].id, "--cluster-to", &self.nodes[to].id])
            .args(["--cluster-slots", &slots.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()?;
        ensure!(
            out.status.success(),
            "redis-cli --cluster reshard failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// `redis-cli --cluster check` through node `i`; its output. The cluster gets 15 s to
    /// pass it: after a node's restart, the others clear its FAIL flag only once they hear from
    /// it and (for a primary with slots) twice the node timeout has passed, as in Redis.
    ///
    /// # Errors
    ///
    /// When redis-cli still reports a problem after 15 s.
    pub fn check(&self, i: usize) -> Result<String> {
        let cli = require_peer("redis-cli").context("redis-cli")?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = Command::new(&cli)
                .args(["--cluster", "check", &format!("127.0.0.1:{}", self.nodes[i].port)])
                .stdin(Stdio::null())
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() {
                return Ok(text);
            }
            ensure!(Instant::now() < deadline, "redis-cli --cluster check failed: {text}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Kills node `i` (SIGKILL: no goodbye to the others).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts node `i` (killing it first if it runs) on its port with its config file, and
    /// waits for it to listen.
    ///
    /// # Errors
    ///
    /// When it does not come back.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.kill(i);
        let port = self.nodes[i].port;
        let mut child = self.spawn(port)?;
        let up = wait_for_port(loopback(port), || matches!(child.try_wait(), Ok(None)));
        if !up {
            let _ = child.kill();
            bail!("node {i} did not restart on port {port}");
        }
        self.nodes[i].child = Some(child);
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
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
