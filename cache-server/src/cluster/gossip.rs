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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::state::Settings;

    fn id(c: u8) -> NodeId {
        NodeId([c; 40])
    }

    fn node(me: u8, port: u16) -> State {
        State::new(id(me), String::new(), port, port + 10_000, Settings::default())
    }

    fn from(peer: &str) -> Origin {
        Origin { peer_ip: peer.into(), local_ip: "127.0.0.9".into(), meet_reply: false }
    }

    #[test]
    fn meet_introduces_and_strangers_only_get_a_pong() {
        let (mut a, mut b) = (node(b'a', 7000), node(b'b', 7001));
        let ping = message(&a, Kind::Ping, None);
        let out = receive(&mut b, &ping, &from("127.0.0.1"));
        assert_eq!(out.iter().map(|m| m.header.kind).collect::<Vec<_>>(), vec![Kind::Pong]);
        assert_eq!(b.nodes.len(), 1, "a PING does not introduce");
        let out = receive(&mut b, &message(&a, Kind::Meet, None), &from("127.0.0.1"));
        assert_eq!(b.nodes[&id(b'a')].ip, "127.0.0.1");
        assert_eq!(b.me().ip, "127.0.0.9", "a node learns its address from a MEET");
        // a learns b from the PONG that answers its MEET.
        let o = Origin { meet_reply: true, ..from("127.0.0.2") };
        receive(&mut a, &out[0], &o);
        assert_eq!((a.nodes[&id(b'b')].ip.as_str(), a.nodes[&id(b'b')].port), ("127.0.0.2", 7001));
    }

    #[test]
    fn gossip_spreads_nodes_and_stale_claims_get_an_update() {
        let (mut a, mut b, mut c) = (node(b'a', 7000), node(b'b', 7001), node(b'c', 7002));
        b.me_mut().config_epoch = 5;
        b.current_epoch = 5;
        b.assign(1, Some(id(b'b')));
        c.me_mut().config_epoch = 3;
        c.assign(1, Some(id(b'c')));
        // a meets b, then c: c hears of b through a's gossip.
        receive(&mut a, &message(&b, Kind::Meet, None), &from("127.0.0.1"));
        receive(&mut a, &message(&c, Kind::Meet, None), &from("127.0.0.1"));
        assert_eq!(a.owners[1], Some(id(b'b')), "epoch 5 beats epoch 3");
        receive(&mut c, &message(&a, Kind::Meet, None), &from("127.0.0.1"));
        assert!(c.nodes.contains_key(&id(b'b')), "c learned of b from a's gossip");
        // c still claims slot 1 at epoch 3: a answers with an UPDATE naming b.
        let out = receive(&mut a, &message(&c, Kind::Ping, None), &from("127.0.0.1"));
        let update = out.iter().find(|m| m.header.kind == Kind::Update).expect("an UPDATE");
        assert_eq!(update.about, Some(id(b'b')));
        receive(&mut c, update, &from("127.0.0.1"));
        assert_eq!((c.owners[1], c.count_slots(&id(b'c'))), (Some(id(b'b')), 0), "c gave the slot up");
        assert_eq!(c.nodes[&id(b'b')].config_epoch, 5);
        assert_eq!(c.current_epoch, 5);
    }

    #[test]
    fn fail_reports_come_from_primaries_and_fail_messages_mark_at_once() {
        let (mut a, mut b) = (node(b'a', 7000), node(b'b', 7001));
        let c = node(b'c', 7002);
        for y in [&b, &c] {
            receive(&mut a, &message(y, Kind::Meet, None), &from("127.0.0.1"));
        }
        receive(&mut b, &message(&c, Kind::Meet, None), &from("127.0.0.1"));
        b.nodes.get_mut(&id(b'c')).unwrap().pfail = true;
        receive(&mut a, &message(&b, Kind::Ping, None), &from("127.0.0.1"));
        assert_eq!(a.valid_reports(&id(b'c'), now_ms()), 1);
        let mut fail = message(&b, Kind::Fail, None);
        fail.about = Some(id(b'c'));
        receive(&mut a, &fail, &from("127.0.0.1"));
        assert!(a.nodes[&id(b'c')].failed());
    }
}
