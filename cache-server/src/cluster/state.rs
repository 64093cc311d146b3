//! The membership truth of one node: who the nodes are ([`Node`]), who owns each slot, the
//! epochs, the migrations in flight, failure reports and `cluster_state`. It owns no socket and
//! no file: the bus feeds it messages (`gossip.rs`), the CLUSTER commands call its methods, the
//! epoch rules live in `epoch.rs`, and [`State::table`] derives what the data path reads.

use super::{Endpoint, Owner, SLOTS, Table};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A node's 40-hex-character name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 40]);

impl NodeId {
    /// Parses a 40-character name (any bytes other than 40 long are refused).
    pub fn parse(s: &[u8]) -> Option<Self> {
        <[u8; 40]>::try_from(s).ok().map(Self)
    }

    /// A fresh random name, as Redis's `getRandomHexChars`.
    pub fn random() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let salt = ahash::RandomState::new().hash_one((nanos, n, std::process::id()));
        let mut h = sha1_smol::Sha1::new();
        h.update(format!("{nanos}:{n}:{salt}:{}", std::process::id()).as_bytes());
        let hex = h.digest().to_string();
        Self::parse(hex.as_bytes()).unwrap_or(Self([b'0'; 40]))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of slots, one bit each (2 KiB), as the bus carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotBitmap(pub Box<[u8; SLOTS / 8]>);

impl Default for SlotBitmap {
    fn default() -> Self {
        Self(Box::new([0; SLOTS / 8]))
    }
}

impl fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlotBitmap({} slots)", self.count())
    }
}

impl SlotBitmap {
    /// True if `slot` is in the set.
    pub fn get(&self, slot: usize) -> bool {
        self.0[slot / 8] & (1 << (slot % 8)) != 0
    }

    /// Adds or removes `slot`.
    pub fn set(&mut self, slot: usize, on: bool) {
        if on {
            self.0[slot / 8] |= 1 << (slot % 8);
        } else {
            self.0[slot / 8] &= !(1 << (slot % 8));
        }
    }

    /// Number of slots in the set.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// The slots in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..SLOTS).filter(|&s| self.get(s))
    }
}

/// Contiguous runs `(first, last)` of the slots for which `pick` is true, ascending.
pub fn ranges(mut pick: impl FnMut(usize) -> bool) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for s in 0..SLOTS {
        if pick(s) {
            match out.last_mut() {
                Some(r) if r.1 + 1 == s => r.1 = s,
                _ => out.push((s, s)),
            }
        }
    }
    out
}

/// What this node knows of one node of the cluster (itself included).
#[derive(Debug, Clone)]
pub struct Node {
    /// Its name.
    pub id: NodeId,
    /// Announced IP (empty until known: Redis prints `:port@cport` then).
    pub ip: String,
    /// Client port.
    pub port: u16,
    /// Cluster bus port.
    pub cport: u16,
    /// The primary it replicates, if it is a replica (replicas are designed for, not run yet).
    pub replica_of: Option<NodeId>,
    /// Its last known config epoch (the version of its slot claims).
    pub config_epoch: u64,
    /// When our unanswered ping went out (unix ms; 0: none pending).
    pub ping_sent: u64,
    /// When it last answered us (unix ms), or when we learned of it.
    pub pong_received: u64,
    /// Possibly failing: no answer within `cluster-node-timeout`.
    pub pfail: bool,
    /// Failing: a majority of primaries agreed (unix ms of the verdict, 0 if not failing).
    pub fail_time: u64,
    /// Our outgoing link to it is up.
    pub link_up: bool,
    /// When our current outgoing link was created (unix ms), for CLUSTER LINKS.
    pub link_since: u64,
    /// Failure reports: reporting primary → when it last reported (unix ms).
    pub reports: HashMap<NodeId, u64>,
}

impl Node {
    /// A node known by name and address only.
    pub fn new(id: NodeId, ip: String, port: u16, cport: u16, now: u64) -> Self {
        Self {
            id,
            ip,
            port,
            cport,
            replica_of: None,
            config_epoch: 0,
            ping_sent: 0,
            pong_received: now,
            pfail: false,
            fail_time: 0,
            link_up: false,
            link_since: 0,
            reports: HashMap::new(),
        }
    }

    /// True when marked FAIL.
    pub fn failed(&self) -> bool {
        self.fail_time != 0
    }

    /// True for a primary (every node until replicas run).
    pub fn is_primary(&self) -> bool {
        self.replica_of.is_none()
    }
}

/// Settings read from the configuration at start (`cluster-*` directives).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `cluster-config-file`.
    pub config_file: String,
    /// `cluster-node-timeout`, ms.
    pub node_timeout: u64,
    /// `cluster-require-full-coverage`.
    pub require_full_coverage: bool,
    /// `cluster-allow-reads-when-down`.
    pub reads_when_down: bool,
    /// `cluster-announce-ip` (empty: learned from the first MEET).
    pub announce_ip: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config_file: String::new(),
            node_timeout: 15_000,
            require_full_coverage: true,
            reads_when_down: false,
            announce_ip: String::new(),
        }
    }
}

/// The whole membership state of this node.
#[derive(Debug)]
pub struct State {
    /// This node's name.
    pub myself: NodeId,
    /// Every known node, this one included, by name.
    pub nodes: BTreeMap<NodeId, Node>,
    /// Owner of each slot (change it with [`State::assign`], which keeps the two caches below).
    pub owners: Box<[Option<NodeId>]>,
    /// Slots owned, per node (only nodes owning some), kept by [`State::assign`].
    counts: HashMap<NodeId, usize>,
    /// This node's slots as the bus sends them, kept by [`State::assign`].
    mine: SlotBitmap,
    /// `currentEpoch`: the highest epoch seen in the cluster.
    pub current_epoch: u64,
    /// `lastVoteEpoch` (kept for nodes.conf; votes come with replicas).
    pub last_vote_epoch: u64,
    /// Slots this node is giving away: slot → target.
    pub migrating: BTreeMap<u16, NodeId>,
    /// Slots this node is receiving: slot → source.
    pub importing: BTreeMap<u16, NodeId>,
    /// Forgotten nodes: name → unix ms until which gossip may not re-add it (CLUSTER FORGET).
    pub forgotten: HashMap<NodeId, u64>,
    /// Incoming bus connections by sender, with when they were accepted (CLUSTER LINKS "from").
    pub inbound: HashMap<NodeId, u64>,
    /// Pending CLUSTER MEETs: ip, port, bus port.
    pub meets: Vec<(String, u16, u16)>,
    /// `cluster_state:ok`.
    pub ok: bool,
    /// nodes.conf must be rewritten.
    pub dirty: bool,
    /// The bus should tell every node now (slots or epochs changed).
    pub broadcast: bool,
    /// Failures to announce: the bus sends FAIL about these to every node.
    pub announce_fail: Vec<NodeId>,
    /// Message counters by type, sent and received (CLUSTER INFO).
    pub stats: Stats,
    /// Configuration.
    pub settings: Settings,
}

/// CLUSTER INFO's `cluster_stats_messages_*` counters.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Sent, by message type name.
    pub sent: BTreeMap<&'static str, u64>,
    /// Received, by message type name.
    pub received: BTreeMap<&'static str, u64>,
}

impl Default for State {
    fn default() -> Self {
        Self::new(NodeId::random(), String::new(), 0, 0, Settings::default())
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl State {
    /// A node alone in its cluster: no slots, epoch 0.
    pub fn new(myself: NodeId, ip: String, port: u16, cport: u16, settings: Settings) -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(myself, Node::new(myself, ip, port, cport, now_ms()));
        Self {
            myself,
            nodes,
            owners: vec![None; SLOTS].into_boxed_slice(),
            counts: HashMap::new(),
            mine: SlotBitmap::default(),
            current_epoch: 0,
            last_vote_epoch: 0,
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            forgotten: HashMap::new(),
            inbound: HashMap::new(),
            meets: Vec::new(),
            ok: false,
            dirty: true,
            broadcast: false,
            announce_fail: Vec::new(),
            stats: Stats::default(),
            settings,
        }
    }

    /// This node's record.
    pub fn me(&self) -> &Node {
        &self.nodes[&self.myself]
    }

    /// This node's record, to change.
    pub fn me_mut(&mut self) -> &mut Node {
        self.nodes.get_mut(&self.myself).expect("myself is always known")
    }

    /// Finds a node by the name a command gave.
    pub fn lookup(&self, name: &[u8]) -> Option<NodeId> {
        NodeId::parse(name).filter(|id| self.nodes.contains_key(id))
    }

    /// The slots `id` owns, as a bitmap.
    pub fn slots_of(&self, id: &NodeId) -> SlotBitmap {
        if *id == self.myself {
            return self.mine.clone();
        }
        let mut b = SlotBitmap::default();
        for (s, o) in self.owners.iter().enumerate() {
            if o.as_ref() == Some(id) {
                b.set(s, true);
            }
        }
        b
    }

    /// Number of slots `id` owns.
    pub fn count_slots(&self, id: &NodeId) -> usize {
        self.counts.get(id).copied().unwrap_or(0)
    }

    /// Primaries serving at least one slot (`cluster_size`).
    pub fn size(&self) -> usize {
        self.counts.len()
    }

    /// Number of assigned slots.
    pub fn assigned(&self) -> usize {
        self.counts.values().sum()
    }

    /// Gives `slot` to `id` (or frees it), noting that the configuration changed.
    pub fn assign(&mut self, slot: usize, id: Option<NodeId>) {
        let old = self.owners[slot];
        if old == id {
            return;
        }
        if let Some(o) = old {
            if let Some(c) = self.counts.get_mut(&o) {
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(&o);
                }
            }
        }
        if let Some(n) = id {
            *self.counts.entry(n).or_default() += 1;
        }
        self.mine.set(slot, id == Some(self.myself));
        self.owners[slot] = id;
        self.dirty = true;
        self.broadcast = true;
    }

    /// Removes a node (FORGET, or a handshake that lost its name): its slots become unassigned
    /// and migrations to or from it are cancelled.
    pub fn remove_node(&mut self, id: &NodeId) {
        self.nodes.remove(id);
        for s in 0..SLOTS {
            if self.owners[s] == Some(*id) {
                self.assign(s, None);
            }
        }
        self.migrating.retain(|_, n| n != id);
        self.importing.retain(|_, n| n != id);
        for n in self.nodes.values_mut() {
            n.reports.remove(id);
        }
        self.dirty = true;
    }

    /// Failure reports about `id` younger than twice the node timeout.
    pub fn valid_reports(&self, id: &NodeId, now: u64) -> usize {
        let ttl = self.settings.node_timeout * 2;
        self.nodes.get(id).map_or(0, |n| n.reports.values().filter(|&&t| now.saturating_sub(t) <= ttl).count())
    }

    /// Recomputes `cluster_state`: every slot served by a node not failing (unless full coverage
    /// is not required), and this node sees a majority of the primaries that serve slots.
    /// Returns whether it changed.
    pub fn update_ok(&mut self) -> bool {
        let served_by_failed = self.counts.keys().any(|o| self.nodes.get(o).is_none_or(|n| n.failed()));
        let mut ok = !self.settings.require_full_coverage || (self.assigned() == SLOTS && !served_by_failed);
        let size = self.size();
        let reachable = self
            .counts
            .keys()
            .filter_map(|o| self.nodes.get(o))
            .filter(|n| n.id == self.myself || (!n.failed() && !n.pfail))
            .count();
        if size == 0 || reachable < size / 2 + 1 {
            ok = false;
        }
        let changed = ok != self.ok;
        if changed {
            tracing::info!(state = if ok { "ok" } else { "fail" }, "cluster state changed");
        }
        self.ok = ok;
        changed
    }

    /// The data path's view of this state.
    pub fn table(&self) -> Table {
        let mut index: HashMap<NodeId, u16> = HashMap::new();
        let mut nodes = Vec::new();
        for n in self.nodes.values().filter(|n| n.id != self.myself) {
            index.insert(n.id, nodes.len() as u16);
            nodes.push(Endpoint { host: n.ip.clone(), port: n.port });
        }
        let owner = |o: &Option<NodeId>| match o {
            None => Owner::Unassigned,
            Some(id) if *id == self.myself => Owner::Me,
            Some(id) => index.get(id).map_or(Owner::Unassigned, |&i| Owner::Node(i)),
        };
        // Slots come in runs of one owner: look a name up once per run, not once per slot (a
        // rebalance commits once per slot moved, and every commit rebuilds the table).
        let mut last: Option<(Option<NodeId>, Owner)> = None;
        let owners = self
            .owners
            .iter()
            .map(|o| match last {
                Some((id, found)) if id == *o => found,
                _ => {
                    let found = owner(o);
                    last = Some((*o, found));
                    found
                }
            })
            .collect();
        Table {
            owners,
            nodes,
            migrating: self.migrating.iter().filter_map(|(s, n)| Some((*s, *index.get(n)?))).collect(),
            importing: self.importing.iter().filter_map(|(s, n)| Some((*s, *index.get(n)?))).collect(),
            ok: self.ok,
            reads_when_down: self.settings.reads_when_down,
        }
    }

    /// Counts a message sent (`sent = true`) or received, by type name.
    pub fn count(&mut self, kind: &'static str, sent: bool) {
        let m = if sent { &mut self.stats.sent } else { &mut self.stats.received };
        *m.entry(kind).or_default() += 1;
    }
}

/// States and bitmaps for the unit tests of the cluster's modules.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Node, NodeId, Settings, SlotBitmap, State};

    /// A node id of 40 times `c`.
    pub fn id(c: u8) -> NodeId {
        NodeId([c; 40])
    }

    /// A state for node `me` knowing `others` (id letter, config epoch).
    pub fn with(me: u8, others: &[(u8, u64)]) -> State {
        let mut st = State::new(id(me), "127.0.0.1".into(), 1, 2, Settings::default());
        for &(c, epoch) in others {
            let mut n = Node::new(id(c), "127.0.0.1".into(), 3, 4, 0);
            n.config_epoch = epoch;
            st.nodes.insert(n.id, n);
            st.observe_epoch(epoch);
        }
        st
    }

    /// A bitmap with `slots` set.
    pub fn bitmap(slots: &[usize]) -> SlotBitmap {
        let mut b = SlotBitmap::default();
        for &s in slots {
            b.set(s, true);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{bitmap, id, with};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cluster_state_needs_coverage_and_a_majority() {
        let mut st = with(b'a', &[(b'b', 1)]);
        for s in 0..SLOTS {
            st.assign(s, Some(if s < 8000 { id(b'a') } else { id(b'b') }));
        }
        st.update_ok();
        assert!(st.ok);
        st.assign(5, None);
        st.update_ok();
        assert!(!st.ok, "an uncovered slot");
        st.settings.require_full_coverage = false;
        st.update_ok();
        assert!(st.ok);
        st.nodes.get_mut(&id(b'b')).unwrap().pfail = true;
        st.update_ok();
        assert!(!st.ok, "1 of 2 primaries is no majority");
    }

    proptest! {
        #[test]
        fn bitmap_matches_a_set(slots in proptest::collection::btree_set(0..SLOTS, 0..200)) {
            let b = bitmap(&slots.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(b.count(), slots.len());
            prop_assert_eq!(b.iter().collect::<Vec<_>>(), slots.iter().copied().collect::<Vec<_>>());
            let runs = ranges(|s| slots.contains(&s));
            prop_assert_eq!(runs.iter().map(|(a, z)| z - a + 1).sum::<usize>(), slots.len());
            prop_assert!(runs.windows(2).all(|w| w[0].1 + 1 < w[1].0));
        }

        #[test]
        fn counts_follow_assignments(ops in proptest::collection::vec((0..SLOTS, 0u8..4), 0..300)) {
            let mut st = with(b'a', &[(b'b', 1), (b'c', 2)]);
            for (slot, who) in ops {
                st.assign(slot, [None, Some(id(b'a')), Some(id(b'b')), Some(id(b'c'))][usize::from(who)]);
            }
            for n in [b'a', b'b', b'c'] {
                prop_assert_eq!(st.count_slots(&id(n)), st.owners.iter().filter(|o| **o == Some(id(n))).count());
            }
            let mine: Vec<usize> = (0..SLOTS).filter(|&s| st.owners[s] == Some(id(b'a'))).collect();
            prop_assert_eq!(st.slots_of(&id(b'a')).iter().collect::<Vec<_>>(), mine);
        }
    }
}
