//! What a node does with a bus message, and what it puts in its own: the sender's header
//! refreshes what we know of it (address, epochs, its slot claims — applied by config epoch,
//! with an UPDATE back when its claim is older than one we know), gossip entries introduce the
//! nodes we have not met and carry the failure reports that `failure.rs` counts, FAIL marks a
//! node failed, UPDATE replaces a stale claim. PING and MEET are answered with PONG.
//!
//! A message from a node we do not know is ignored (a PING still gets its PONG), except MEET,
//! which is how a node joins, and the PONG answering our own MEET.

use super::bus::message::{Gossip, Header, Kind, Message};
use super::state::{Node, NodeId, State, now_ms};

/// Where a message came from (socket addresses, as text IPs).
#[derive(Debug, Clone)]
pub struct Origin {
    /// The peer's IP, used when the sender announces none.
    pub peer_ip: String,
    /// Our side's IP: a node that does not know its own address learns it from a MEET.
    pub local_ip: String,
    /// The message answers a MEET we sent: an unknown sender is added.
    pub meet_reply: bool,
}

/// Builds a message from this node (header with its claims, gossip about every node but the
/// recipient).
pub fn message(st: &State, kind: Kind, to: Option<NodeId>) -> Message {
    let me = st.me();
    let header = Header {
        kind,
        sender: st.myself,
        current_epoch: st.current_epoch,
        config_epoch: me.config_epoch,
        replica_of: me.replica_of,
        ip: st.settings.announce_ip.clone(),
        port: me.port,
        cport: me.cport,
        slots: st.slots_of(&st.myself),
    };
    let gossip = if matches!(kind, Kind::Ping | Kind::Pong | Kind::Meet) {
        st.nodes
            .values()
            .filter(|n| n.id != st.myself && Some(n.id) != to && !n.ip.is_empty())
            .map(|n| Gossip {
                id: n.id,
                ip: n.ip.clone(),
                port: n.port,
                cport: n.cport,
                failing: n.pfail || n.failed(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Message { header, gossip, about: None, update: None }
}

/// Applies `msg` to the state; returns the messages to send back on the same connection.
pub fn receive(st: &mut State, msg: &Message, from: &Origin) -> Vec<Message> {
    let h = &msg.header;
    let now = now_ms();
    st.count(h.kind.name(), false);
    if h.sender == st.myself {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let std::collections::btree_map::Entry::Vacant(e) = st.nodes.entry(h.sender) {
        if h.kind == Kind::Meet || (h.kind == Kind::Pong && from.meet_reply) {
            let ip = if h.ip.is_empty() { from.peer_ip.clone() } else { h.ip.clone() };
            e.insert(Node::new(h.sender, ip, h.port, h.cport, now));
            st.forgotten.remove(&h.sender);
            st.dirty = true;
            st.broadcast = true;
            tracing::info!("cluster: met node {} at {}:{}", h.sender, from.peer_ip, h.port);
        } else {
            if h.kind == Kind::Ping {
                out.push(message(st, Kind::Pong, Some(h.sender)));
            }
            return out;
        }
    }
    // Redis's rule: a node without an announced address takes the one its peers reach it on.
    if (h.kind == Kind::Meet || st.me().ip.is_empty())
        && st.settings.announce_ip.is_empty()
        && st.me().ip != from.local_ip
    {
        st.me_mut().ip = from.local_ip.clone();
        st.dirty = true;
    }
    st.observe_epoch(h.current_epoch);
    refresh_sender(st, h, from, now);
    if h.replica_of.is_none() {
        if h.config_epoch > st.nodes[&h.sender].config_epoch {
            if let Some(n) = st.nodes.get_mut(&h.sender) {
                n.config_epoch = h.config_epoch;
            }
            st.dirty = true;
        }
        for owner in st.apply_claims(h.sender, h.config_epoch, &h.slots) {
            out.push(update_about(st, owner));
        }
        st.resolve_collision(&h.sender);
    }
    match h.kind {
        Kind::Ping | Kind::Pong | Kind::Meet => absorb_gossip(st, h, &msg.gossip, now),
        Kind::Fail => {
            if let Some(n) = msg.about.and_then(|id| st.nodes.get_mut(&id)).filter(|n| !n.failed()) {
                if n.id != st.myself {
                    n.fail_time = now;
                    n.pfail = false;
                    st.dirty = true;
                }
            }
        }
        Kind::Update => {
            if let (Some(id), Some((epoch, slots))) = (msg.about, &msg.update) {
                if st.nodes.get(&id).is_some_and(|n| n.config_epoch < *epoch) {
                    if let Some(n) = st.nodes.get_mut(&id) {
                        n.config_epoch = *epoch;
                    }
                    st.dirty = true;
                    st.apply_claims(id, *epoch, slots);
                }
            }
        }
    }
    if matches!(h.kind, Kind::Ping | Kind::Meet) {
        out.push(message(st, Kind::Pong, Some(h.sender)));
    }
    for m in &out {
        st.count(m.header.kind.name(), true);
    }
    out
}

/// An UPDATE telling the sender that `owner` holds its slots at a newer config epoch.
fn update_about(st: &State, owner: NodeId) -> Message {
    let mut m = message(st, Kind::Update, None);
    let epoch = st.nodes.get(&owner).map_or(0, |n| n.config_epoch);
    m.about = Some(owner);
    m.update = Some((epoch, st.slots_of(&owner)));
    m
}

/// The sender's address and role, and — for a PONG — proof that it is alive.
fn refresh_sender(st: &mut State, h: &Header, from: &Origin, now: u64) {
    let timeout = st.settings.node_timeout;
    let slots = st.count_slots(&h.sender);
    let Some(n) = st.nodes.get_mut(&h.sender) else { return };
    let ip = if h.ip.is_empty() { &from.peer_ip } else { &h.ip };
    if n.ip != *ip || n.port != h.port || n.cport != h.cport || n.replica_of != h.replica_of {
        n.ip.clone_from(ip);
        n.port = h.port;
        n.cport = h.cport;
        n.replica_of = h.replica_of;
        st.dirty = true;
    }
    if h.kind == Kind::Pong {
        n.pong_received = now;
        n.ping_sent = 0;
        n.pfail = false;
        // Redis's rule: a failed node that answers is forgiven at once unless it serves slots,
        // then only after twice the node timeout (so the failure is seen by everyone first).
        if n.failed() && (!n.is_primary() || slots == 0 || now.saturating_sub(n.fail_time) > timeout * 2) {
            n.fail_time = 0;
            tracing::info!("cluster: node {} is reachable again, FAIL cleared", n.id);
            st.dirty = true;
        }
    }
}

/// Gossip entries: new nodes are added (unless recently forgotten), failure reports from a
/// primary sender are recorded or withdrawn.
fn absorb_gossip(st: &mut State, h: &Header, gossip: &[Gossip], now: u64) {
    let sender_primary = h.replica_of.is_none();
    for g in gossip {
        if g.id == st.myself {
            continue;
        }
        if let Some(n) = st.nodes.get_mut(&g.id) {
            if sender_primary {
                if g.failing {
                    n.reports.insert(h.sender, now);
                } else {
                    n.reports.remove(&h.sender);
                }
            }
            continue;
        }
        if st.forgotten.get(&g.id).is_some_and(|&until| until > now) || g.ip.is_empty() || g.failing {
            continue;
        }
        st.nodes.insert(g.id, Node::new(g.id, g.ip.clone(), g.port, g.cport, now));
        st.dirty = true;
        tracing::info!("cluster: learned of node {} at {}:{} from {}", g.id, g.ip, g.port, h.sender);
    }
}
