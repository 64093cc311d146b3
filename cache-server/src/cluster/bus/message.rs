//! The bus's messages and their wire form: our own framed protocol (not Redis's binary bus),
//! big-endian, one frame = `u32 length` + body. Every message starts with the sender's header
//! (name, epochs, addresses, role and the 2 KiB bitmap of the slots it claims); PING / PONG / MEET
//! then carry gossip about the other nodes the sender knows, FAIL names a failed node, UPDATE
//! carries a newer claim about a third node. Decoding never panics: a bad frame is `None`.

use crate::cluster::SLOTS;
use crate::cluster::state::{NodeId, SlotBitmap};
use bytes::{Buf, BufMut, BytesMut};

/// Frames longer than this are refused (a header plus gossip about ~10k nodes).
pub const MAX_FRAME: usize = 1 << 20;
const MAGIC: &[u8; 4] = b"CCB1";

/// The message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A heartbeat carrying gossip; answered with PONG.
    Ping,
    /// The answer to PING or MEET (also broadcast when the sender's claims change).
    Pong,
    /// A PING that asks the receiver to add the sender (CLUSTER MEET).
    Meet,
    /// "this node has failed", after a majority of primaries reported it.
    Fail,
    /// "your claim is stale: this node owns these slots at a newer epoch".
    Update,
}

impl Kind {
    /// The name CLUSTER INFO's counters use.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::Meet => "meet",
            Kind::Fail => "fail",
            Kind::Update => "update",
        }
    }
}

/// What every message says about its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Message type.
    pub kind: Kind,
    /// Sender's name.
    pub sender: NodeId,
    /// Sender's `currentEpoch`.
    pub current_epoch: u64,
    /// Sender's config epoch (the version of its slot claims).
    pub config_epoch: u64,
    /// Sender's primary, when it is a replica.
    pub replica_of: Option<NodeId>,
    /// Sender's announced IP (empty: the receiver uses the socket's peer address).
    pub ip: String,
    /// Sender's client port.
    pub port: u16,
    /// Sender's bus port.
    pub cport: u16,
    /// Slots the sender claims.
    pub slots: SlotBitmap,
}

/// One gossip entry: what the sender knows of a third node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gossip {
    /// Its name.
    pub id: NodeId,
    /// Its IP.
    pub ip: String,
    /// Client port.
    pub port: u16,
    /// Bus port.
    pub cport: u16,
    /// The sender suspects it (PFAIL) or knows it failed (FAIL).
    pub failing: bool,
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sender's header.
    pub header: Header,
    /// Gossip entries (PING, PONG, MEET).
    pub gossip: Vec<Gossip>,
    /// The node a FAIL or UPDATE is about.
    pub about: Option<NodeId>,
    /// UPDATE: that node's config epoch and slots.
    pub update: Option<(u64, SlotBitmap)>,
}

fn put_str(b: &mut BytesMut, s: &str) {
    let s = &s.as_bytes()[..s.len().min(255)];
    b.put_u8(s.len() as u8);
    b.put_slice(s);
}

fn get_str(b: &mut &[u8]) -> Option<String> {
    let n = usize::from(get_u8(b)?);
    if b.len() < n {
        return None;
    }
    let s = String::from_utf8(b[..n].to_vec()).ok()?;
    b.advance(n);
    Some(s)
}

fn get_u8(b: &mut &[u8]) -> Option<u8> {
    (!b.is_empty()).then(|| b.get_u8())
}

fn get_u16(b: &mut &[u8]) -> Option<u16> {
    (b.len() >= 2).then(|| b.get_u16())
}

fn get_u64(b: &mut &[u8]) -> Option<u64> {
    (b.len() >= 8).then(|| b.get_u64())
}

fn get_id(b: &mut &[u8]) -> Option<NodeId> {
    let id = NodeId::parse(b.get(..40)?)?;
    b.advance(40);
    Some(id)
}

fn get_bitmap(b: &mut &[u8]) -> Option<SlotBitmap> {
    let mut m = SlotBitmap::default();
    m.0.copy_from_slice(b.get(..SLOTS / 8)?);
    b.advance(SLOTS / 8);
    Some(m)
}

impl Message {
    /// The frame (length prefix included).
    pub fn encode(&self) -> BytesMut {
        let h = &self.header;
        let mut b = BytesMut::with_capacity(2200 + self.gossip.len() * 64);
        b.put_u32(0);
        b.put_slice(MAGIC);
        b.put_u8(match h.kind {
            Kind::Ping => 0,
            Kind::Pong => 1,
            Kind::Meet => 2,
            Kind::Fail => 3,
            Kind::Update => 4,
        });
        b.put_slice(&h.sender.0);
        b.put_u64(h.current_epoch);
        b.put_u64(h.config_epoch);
        match h.replica_of {
            Some(p) => {
                b.put_u8(1);
                b.put_slice(&p.0);
            }
            None => b.put_u8(0),
        }
        put_str(&mut b, &h.ip);
        b.put_u16(h.port);
        b.put_u16(h.cport);
        b.put_slice(&h.slots.0[..]);
        b.put_u16(self.gossip.len().min(usize::from(u16::MAX)) as u16);
        for g in self.gossip.iter().take(usize::from(u16::MAX)) {
            b.put_slice(&g.id.0);
            put_str(&mut b, &g.ip);
            b.put_u16(g.port);
            b.put_u16(g.cport);
            b.put_u8(u8::from(g.failing));
        }
        match self.about {
            Some(id) => {
                b.put_u8(1);
                b.put_slice(&id.0);
            }
            None => b.put_u8(0),
        }
        match &self.update {
            Some((epoch, slots)) => {
                b.put_u8(1);
                b.put_u64(*epoch);
                b.put_slice(&slots.0[..]);
            }
            None => b.put_u8(0),
        }
        let len = (b.len() - 4) as u32;
        b[..4].copy_from_slice(&len.to_be_bytes());
        b
    }

    /// Decodes a frame body (without its length prefix).
    pub fn decode(mut b: &[u8]) -> Option<Self> {
        let b = &mut b;
        if b.get(..4)? != MAGIC {
            return None;
        }
        b.advance(4);
        let kind = match get_u8(b)? {
            0 => Kind::Ping,
            1 => Kind::Pong,
            2 => Kind::Meet,
            3 => Kind::Fail,
            4 => Kind::Update,
            _ => return None,
        };
        let sender = get_id(b)?;
        let current_epoch = get_u64(b)?;
        let config_epoch = get_u64(b)?;
        let replica_of = match get_u8(b)? {
            0 => None,
            _ => Some(get_id(b)?),
        };
        let ip = get_str(b)?;
        let port = get_u16(b)?;
        let cport = get_u16(b)?;
        let slots = get_bitmap(b)?;
        let header = Header { kind, sender, current_epoch, config_epoch, replica_of, ip, port, cport, slots };
        let n = get_u16(b)?;
        let mut gossip = Vec::with_capacity(usize::from(n).min(1024));
        for _ in 0..n {
            let id = get_id(b)?;
            let ip = get_str(b)?;
            gossip.push(Gossip { id, ip, port: get_u16(b)?, cport: get_u16(b)?, failing: get_u8(b)? != 0 });
        }
        let about = match get_u8(b)? {
            0 => None,
            _ => Some(get_id(b)?),
        };
        let update = match get_u8(b)? {
            0 => None,
            _ => Some((get_u64(b)?, get_bitmap(b)?)),
        };
        b.is_empty().then_some(Self { header, gossip, about, update })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_truncations_are_refused() {
        let mut slots = SlotBitmap::default();
        slots.set(0, true);
        slots.set(16383, true);
        let m = Message {
            header: Header {
                kind: Kind::Update,
                sender: NodeId([b'a'; 40]),
                current_epoch: 7,
                config_epoch: 3,
                replica_of: Some(NodeId([b'c'; 40])),
                ip: "10.0.0.1".into(),
                port: 7000,
                cport: 17000,
                slots: slots.clone(),
            },
            gossip: vec![Gossip { id: NodeId([b'b'; 40]), ip: "::1".into(), port: 1, cport: 2, failing: true }],
            about: Some(NodeId([b'b'; 40])),
            update: Some((9, slots)),
        };
        let frame = m.encode();
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        assert_eq!(Message::decode(&frame[4..]), Some(m));
        for cut in [5, 100, 2100, frame.len() - 1] {
            assert_eq!(Message::decode(&frame[4..cut]), None, "cut at {cut}");
        }
        assert_eq!(Message::decode(b"XXXX"), None);
    }
}
