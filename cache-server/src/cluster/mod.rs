//! Redis Cluster: 16384 hash slots spread over nodes that learn about each other on the cluster
//! port, with `-MOVED` / `-ASK` redirections for clients and slot migration with `MIGRATE`.
//!
//! The module is split along one seam, the [`Table`]:
//! - the membership side (nodes, epochs, the cluster bus, `nodes.conf`, the CLUSTER commands that
//!   change the map) owns the truth and publishes what the data path needs into the table with
//!   [`Cluster::update`];
//! - the data path (the dispatcher's redirect check, ASKING / READONLY, MIGRATE, the per-slot key
//!   index behind COUNTKEYSINSLOT / GETKEYSINSLOT) only reads it with [`Cluster::table`].
//!
//! A server started without `cluster-enabled yes` has no [`Cluster`] at all
//! (`Shared::cluster` is `None`) and pays nothing on its command path.
//!
//! # Membership
//!
//! ```text
//!  CLUSTER commands ──┐                         ┌──► Table (data path reads it)
//!                     ├─► state::State ─commit──┼──► nodes.conf (nodes_conf.rs)
//!  bus (bus/, gossip) ┘   (one Mutex)           └──► wake the bus: broadcast, MEET, FAIL
//!         ▲   cron every 100 ms: failure.rs, pings, dials
//!         └── cluster port (port + 10000): our framed protocol (bus/message.rs)
//! ```
//!
//! Every node has a 40-hex name ([`state::NodeId`]), chosen once and kept in `nodes.conf` (Redis's
//! format: a restarted node comes back with its name, epochs and slots, and redials the nodes the
//! file names). CLUSTER MEET makes the bus connect to the given address and send MEET; the PONG
//! that answers introduces the node, and from then on every PING / PONG carries the sender's
//! header (name, addresses, epochs, the bitmap of the slots it claims) and gossip about every
//! other node it knows, so a node met by one member is known by all within a ping round.
//! The bus is our own protocol, not Redis's binary one: the two cannot be mixed in one cluster,
//! and the CLUSTER commands and `redis-cli --cluster` see exactly what they see with Redis.
//!
//! # Epochs
//!
//! `currentEpoch` is the highest epoch a node has seen (every message raises it); each primary has
//! a config epoch, the version of its slot claims. A claim moves a slot to the claimer only when
//! the slot is free or its owner's config epoch is older; a claimer whose claim is older than one
//! we know gets an UPDATE carrying the newer owner and its slots. Two primaries never own one slot
//! at the same epoch: an equal-epoch claim does not move a slot, and when two primaries find they
//! share a config epoch the one with the smaller name takes `currentEpoch + 1` (Redis's collision
//! rule), so epochs become unique and the next claim decides. `redis-cli --cluster create` gives
//! every node a distinct epoch with SET-CONFIG-EPOCH; SETSLOT NODE on the importing node and
//! BUMPEPOCH take a new epoch without agreement, as Redis does. Like Redis, a node that drops a
//! slot (DELSLOTS, FLUSHSLOTS) does not tell the others: only claims travel, and SETSLOT NODE
//! gives a slot we serve to another node only once no key of it is left here (Redis's refusal),
//! so a reshard cannot strand keys on a node that no longer serves them. Every change is in
//! nodes.conf (written, fsynced, renamed, directory fsynced) before the command replies, as
//! Redis saves before it replies: an acknowledged move survives a crash.
//!
//! # Failure detection
//!
//! A node pings every other node when its link comes up and then every `min(timeout / 4, 1 s)`.
//! One that has not answered for `cluster-node-timeout` is PFAIL for us (`fail?`); our gossip says
//! so, and a PFAIL node reported by a majority of the slot-serving primaries (reports live twice
//! the timeout) becomes FAIL, which we broadcast. A node that answers again loses FAIL at once if
//! it serves no slots, else after twice the timeout. `cluster_state` is `ok` when every slot is
//! served by a node not failing (or `cluster-require-full-coverage no`) and this node reaches a
//! majority of the slot-serving primaries; without full coverage the surviving slots keep serving.
//!
//! # Replicas and failover (designed, not built)
//!
//! Nothing replicates today: every node is a primary, CLUSTER REPLICATE stops with an error
//! after Redis's own checks, and a dead primary's slots stay down (`cluster_slots_fail`) until it
//! comes back. What is already in place for replicas:
//! - the bus header and nodes.conf carry `replica_of` (the master field of CLUSTER NODES), so a
//!   replica would be known to every node through the usual gossip; CLUSTER NODES / SLOTS / SHARDS
//!   / REPLICAS already list nodes under their primary;
//! - failure reports and the FAIL majority count only slot-serving primaries, as Redis's do;
//! - nodes.conf keeps `lastVoteEpoch`, the one piece of vote state that must survive a restart.
//!
//! What they would need, in order:
//! 1. **Replication** (REPLICAOF, and CLUSTER REPLICATE which is REPLICAOF of a node named by id):
//!    the replica connects to its primary's client port and asks for a full sync; the primary
//!    sends a snapshot (the RDB writer of `persistence` already produces one) and then streams every
//!    write it executes, in execution order, with a replication offset. The replica applies the
//!    stream read-only (READONLY clients may read it: the routing check already lets a replica
//!    serve reads of its primary's slots), acknowledges offsets (REPLCONF ACK, for WAIT), and after
//!    a short disconnect resumes from its offset out of a bounded backlog instead of a new snapshot.
//!    CLUSTER REPLICATE sets `replica_of`, drops the node's own slots (it must have none and no
//!    keys, Redis's check) and broadcasts the new role.
//! 2. **Election** when a primary is FAIL: each of its replicas waits 500 ms, plus up to 500 ms at
//!    random, plus 1 s per rank (rank by replication offset, the most up to date first), then takes
//!    `currentEpoch + 1` and asks every primary for a vote (a new bus message, FAILOVER_AUTH_REQUEST,
//!    carrying its claimed slots and config epoch). A primary votes once per epoch
//!    (`lastVoteEpoch`, saved before answering), only for a replica of a FAIL primary, and not twice
//!    for the same primary's slots within `2 × node-timeout`. With votes from a majority of the
//!    slot-serving primaries the replica sets its config epoch to the election's epoch, claims the
//!    slots and broadcasts: the epoch rule of [`epoch`] makes the claim win everywhere, and the old
//!    primary, when it returns, sees a newer claim on its slots and becomes a replica of the winner.
//!    CLUSTER FAILOVER (manual: the primary pauses writes until the replica caught up, then the
//!    replica claims without a vote, or with FORCE / TAKEOVER as Redis's) rides on the same claim.
//! 3. **Replica migration** (a replica moves to an orphaned primary) is optional on top.
//!
//! Without replicas, the cache contract still holds: a dead primary's keys may be lost (they
//! come back empty when an operator reassigns its slots with `redis-cli --cluster fix`, or when
//! the node restarts from its nodes.conf without a snapshot to load), and with
//! `cluster-require-full-coverage no` every other slot keeps serving meanwhile (tested in
//! `cluster_membership.rs`: the survivors stay `cluster_state:ok` and serve their slots).

pub mod bus;
pub mod epoch;
pub mod failure;
pub mod gossip;
pub mod index;
pub mod migrate;
pub mod nodes_conf;
pub mod route;
pub mod setup;
pub mod slot;
pub mod state;

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use std::collections::HashMap;
use std::fmt;

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// A node's client endpoint, as redirections name it (`-MOVED 3999 127.0.0.1:6381`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The announced IP (or host name).
    pub host: String,
    /// The announced client port.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Who serves a slot, as far as this node knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Owner {
    /// No node serves it.
    #[default]
    Unassigned,
    /// This node.
    Me,
    /// Another primary: an index into [`Table::nodes`].
    Node(u16),
}

/// What the data path needs of the cluster: the slot map and the migrations in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Owner of each slot.
    pub owners: Box<[Owner]>,
    /// Endpoints of the other nodes, indexed by [`Owner::Node`].
    pub nodes: Vec<Endpoint>,
    /// Slots this node is moving away (`CLUSTER SETSLOT <slot> MIGRATING <node>`): target index.
    pub migrating: HashMap<u16, u16>,
    /// Slots this node is receiving (`CLUSTER SETSLOT <slot> IMPORTING <node>`): source index.
    pub importing: HashMap<u16, u16>,
    /// `cluster_state:ok`: every slot is served (or full coverage is not required) and this node
    /// sees a majority of primaries.
    pub ok: bool,
    /// `cluster-allow-reads-when-down`.
    pub reads_when_down: bool,
}

impl Default for Table {
    fn default() -> Self {
        Self {
            owners: vec![Owner::Unassigned; SLOTS].into_boxed_slice(),
            nodes: Vec::new(),
            migrating: HashMap::new(),
            importing: HashMap::new(),
            ok: false,
            reads_when_down: false,
        }
    }
}

impl Table {
    /// The endpoint behind an [`Owner::Node`] index.
    pub fn endpoint(&self, node: u16) -> Option<&Endpoint> {
        self.nodes.get(usize::from(node))
    }
}

/// The cluster state of a server started with `cluster-enabled yes`.
#[derive(Debug, Default)]
pub struct Cluster {
    table: RwLock<Table>,
    /// The membership truth behind the table (see [`state`]); the bus and the CLUSTER commands
    /// change it under this lock and then [`Cluster::commit`].
    pub state: Mutex<state::State>,
    /// Wakes the bus at once (a change to broadcast, a MEET to start).
    pub wake: tokio::sync::Notify,
}

impl Cluster {
    /// The table, for reading (hold the guard briefly: writers wait for it).
    pub fn table(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read()
    }

    /// Changes the table (the membership side calls this whenever its view changes).
    pub fn update<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        f(&mut self.table.write())
    }

    /// The cluster of a node starting with `settings`: its nodes.conf when the file exists (a
    /// restart keeps its name, epochs and slots), else a new node alone with a fresh name (and
    /// the file written at once, as Redis does).
    ///
    /// # Errors
    /// A message when the file exists but cannot be read or parsed, or cannot be written.
    pub fn open(settings: state::Settings, port: u16, cport: u16) -> Result<Self, String> {
        let path = settings.config_file.clone();
        let mut st = match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => {
                let mut st = nodes_conf::parse(&text, settings)?;
                tracing::info!("cluster: node configuration loaded, I'm {}", st.myself);
                let me = st.me_mut();
                (me.port, me.cport) = (port, cport);
                st.dirty = true;
                st
            }
            Ok(_) => state::State::new(state::NodeId::random(), settings.announce_ip.clone(), port, cport, settings),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let st =
                    state::State::new(state::NodeId::random(), settings.announce_ip.clone(), port, cport, settings);
                tracing::info!("cluster: no cluster configuration found, I'm {}", st.myself);
                st
            }
            Err(e) => return Err(format!("can't read the cluster config file {path}: {e}")),
        };
        nodes_conf::save(&mut st).map_err(|e| format!("can't write the cluster config file {path}: {e}"))?;
        st.update_ok();
        let cluster = Self { table: RwLock::new(st.table()), state: Mutex::new(st), wake: Default::default() };
        Ok(cluster)
    }

    /// After a change to the state: recomputes `cluster_state`, publishes the table when the
    /// data path's view changed, rewrites nodes.conf when persistent fields changed, and wakes
    /// the bus when the change must be told to every node.
    pub fn commit(&self, st: &mut state::State) {
        // Rebuilding the table walks every slot: only when something persistent (slots, nodes,
        // addresses, migrations) or the cluster state changed.
        if st.update_ok() || st.dirty || self.table.read().ok != st.ok {
            let table = st.table();
            if *self.table.read() != table {
                *self.table.write() = table;
            }
        }
        if st.dirty && !st.settings.config_file.is_empty() {
            if let Err(e) = nodes_conf::save(st) {
                tracing::warn!("cluster: could not save {}: {e}", st.settings.config_file);
            }
        }
        if st.broadcast || !st.meets.is_empty() || !st.announce_fail.is_empty() {
            self.wake.notify_one();
        }
    }
}
