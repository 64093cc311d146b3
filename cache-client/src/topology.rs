//! The pure half of cluster mode: the [`SlotMap`] (which node index owns each of the 16384 hash
//! slots), reading a `CLUSTER SLOTS` (or `CLUSTER SHARDS`) reply into [`SlotRange`]s, and
//! reading `-MOVED` / `-ASK` error replies into a [`Redirect`]. No I/O and no client state: `cluster.rs` fetches the
//! replies, owns the nodes and applies what these functions compute.
//!
//! A node is named by `host:port`; an empty host (or `?`) in a reply means "the address you
//! reached me on", as Redis 7 sends for a node that does not know its own address, so the parsers
//! take the host that answered as a fallback.

use crate::error::{Error, Result};
use crate::slot::SLOTS;
use crate::value::Value;

/// One node as a reply names it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoint {
    /// Host (an IP address or a host name).
    pub host: String,
    /// Client port.
    pub port: u16,
    /// The node's id, when the reply gives it.
    pub id: Option<String>,
}

impl Endpoint {
    /// `host:port`, as [`NodeAddr::name`](crate::NodeAddr::name) spells it.
    #[must_use]
    pub fn name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A range of slots and who serves it, from `CLUSTER SLOTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlotRange {
    /// First slot (inclusive).
    pub start: u16,
    /// Last slot (inclusive).
    pub end: u16,
    /// The primary, which the client sends to.
    pub primary: Endpoint,
    /// Its replicas (not used for routing yet).
    pub replicas: Vec<Endpoint>,
}

fn endpoint(v: Value, answered_by: &str) -> Result<Endpoint> {
    let bad = || Error::Protocol("CLUSTER SLOTS: a node entry is not [host, port, id, ...]".into());
    let Value::Array(items) = v else { return Err(bad()) };
    let mut it = items.into_iter();
    let host = it.next().ok_or_else(bad)?.into_opt_bytes()?.unwrap_or_default();
    let host = String::from_utf8_lossy(&host).into_owned();
    let host = if host.is_empty() || host == "?" { answered_by.to_owned() } else { host };
    let port = it.next().ok_or_else(bad)?.into_int()?;
    let port = u16::try_from(port).map_err(|_| bad())?;
    let id = match it.next() {
        Some(v) => v.into_opt_bytes()?.map(|b| String::from_utf8_lossy(&b).into_owned()),
        None => None,
    };
    Ok(Endpoint { host, port, id })
}

/// Reads a `CLUSTER SLOTS` reply (`[[start, end, [host, port, id, ...], replicas...], ...]`),
/// RESP2 or RESP3. `answered_by` is the host of the node that answered, used for entries whose
/// host is empty or `?`.
///
/// # Errors
///
/// [`Error::Protocol`] on any other shape or a slot out of range.
pub fn parse_cluster_slots(reply: Value, answered_by: &str) -> Result<Vec<SlotRange>> {
    let bad = |why: &str| Error::Protocol(format!("CLUSTER SLOTS: {why}"));
    let Value::Array(ranges) = reply else { return Err(bad("not an array")) };
    let mut out = Vec::with_capacity(ranges.len());
    for r in ranges {
        let Value::Array(items) = r else { return Err(bad("a range is not an array")) };
        let mut it = items.into_iter();
        let slot = |v: Option<Value>| -> Result<u16> {
            let n = v.ok_or_else(|| bad("a range is too short"))?.into_int()?;
            u16::try_from(n).ok().filter(|&s| s < SLOTS).ok_or_else(|| bad("slot out of range"))
        };
        let (start, end) = (slot(it.next())?, slot(it.next())?);
        if start > end {
            return Err(bad("a range ends before it starts"));
        }
        let primary = endpoint(it.next().ok_or_else(|| bad("a range has no primary"))?, answered_by)?;
        let replicas = it.map(|v| endpoint(v, answered_by)).collect::<Result<Vec<_>>>()?;
        out.push(SlotRange { start, end, primary, replicas });
    }
    Ok(out)
}

/// A RESP3 map or a RESP2 flat array of alternating names and values, as `(name, value)`.
fn fields(v: Value) -> Result<Vec<(String, Value)>> {
    let name = |k: Value| -> Result<String> {
        Ok(String::from_utf8_lossy(&k.into_opt_bytes()?.unwrap_or_default()).into_owned())
    };
    match v {
        Value::Map(pairs) => pairs.into_iter().map(|(k, v)| Ok((name(k)?, v))).collect(),
        Value::Array(items) if items.len() % 2 == 0 => {
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((name(k)?, v));
            }
            Ok(out)
        }
        _ => Err(Error::Protocol("CLUSTER SHARDS: expected a map".into())),
    }
}

/// Reads a `CLUSTER SHARDS` reply (Redis 7: per shard, its `slots` as start/end pairs and its
/// `nodes` with `id`, `port`, `ip`, `endpoint`, `role`, `health`), RESP2 or RESP3, into the same
/// ranges as [`parse_cluster_slots`]. The primary is the node whose role is `master`; a shard
/// without one, or without slots, contributes nothing. Failed nodes are skipped as replicas.
///
/// # Errors
///
/// [`Error::Protocol`] on another shape or a slot out of range.
pub fn parse_cluster_shards(reply: Value, answered_by: &str) -> Result<Vec<SlotRange>> {
    let bad = |why: &str| Error::Protocol(format!("CLUSTER SHARDS: {why}"));
    let Value::Array(shards) = reply else { return Err(bad("not an array")) };
    let mut out = Vec::new();
    for shard in shards {
        let (mut slots, mut nodes) = (Vec::new(), Vec::new());
        for (k, v) in fields(shard)? {
            match (k.as_str(), v) {
                ("slots", Value::Array(s)) => slots = s,
                ("nodes", Value::Array(n)) => nodes = n,
                _ => {}
            }
        }
        let (mut primary, mut replicas) = (None, Vec::new());
        for node in nodes {
            let (mut host, mut ip, mut port, mut id, mut role, mut health) =
                (String::new(), String::new(), None, None, String::new(), String::new());
            for (k, v) in fields(node)? {
                let text = || -> Result<String> {
                    Ok(String::from_utf8_lossy(&v.clone().into_opt_bytes()?.unwrap_or_default()).into_owned())
                };
                match k.as_str() {
                    "endpoint" => host = text()?,
                    "ip" => ip = text()?,
                    "port" => port = u16::try_from(v.into_int()?).ok(),
                    "id" => id = Some(text()?),
                    "role" => role = text()?,
                    "health" => health = text()?,
                    _ => {}
                }
            }
            let host =
                [host, ip].into_iter().find(|h| !h.is_empty() && h != "?").unwrap_or_else(|| answered_by.to_owned());
            let Some(port) = port else { return Err(bad("a node without a port")) };
            let e = Endpoint { host, port, id };
            match role.as_str() {
                "master" | "primary" => primary = Some(e),
                _ if health != "fail" => replicas.push(e),
                _ => {}
            }
        }
        let Some(primary) = primary else { continue };
        for pair in slots.chunks(2) {
            let slot = |v: &Value| -> Result<u16> {
                let n = v.clone().into_int()?;
                u16::try_from(n).ok().filter(|&s| s < SLOTS).ok_or_else(|| bad("slot out of range"))
            };
            let [start, end] = pair else { return Err(bad("an odd slot list")) };
            let (start, end) = (slot(start)?, slot(end)?);
            if start > end {
                return Err(bad("a range ends before it starts"));
            }
            out.push(SlotRange { start, end, primary: primary.clone(), replicas: replicas.clone() });
        }
    }
    Ok(out)
}

/// Which kind of redirection a node answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `-MOVED`: the slot belongs to another node now; update the map and go there.
    Moved,
    /// `-ASK`: the slot is being migrated and this key is already on the target; send `ASKING`
    /// and the command there once, without touching the map.
    Ask,
}

/// A `-MOVED slot host:port` or `-ASK slot host:port` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redirect {
    /// MOVED or ASK.
    pub kind: RedirectKind,
    /// The slot.
    pub slot: u16,
    /// Where to go.
    pub to: Endpoint,
}

/// Reads an error reply as a redirection, if it is one. `answered_by` stands in for an empty host
/// (`MOVED 12 :7001`).
#[must_use]
pub fn parse_redirect(text: &str, answered_by: &str) -> Option<Redirect> {
    let mut words = text.split(' ');
    let kind = match words.next()? {
        "MOVED" => RedirectKind::Moved,
        "ASK" => RedirectKind::Ask,
        _ => return None,
    };
    let slot = words.next()?.parse::<u16>().ok().filter(|&s| s < SLOTS)?;
    let (host, port) = words.next()?.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() || host == "?" { answered_by } else { host };
    Some(Redirect { kind, slot, to: Endpoint { host: host.to_owned(), port, id: None } })
}

/// Slot → node index, for all 16384 slots. Node indexes are the client's (stable: the client
/// never reuses one).
#[derive(Debug, Clone)]
pub struct SlotMap {
    owners: Box<[u32]>,
}

const NONE: u32 = u32::MAX;

impl Default for SlotMap {
    fn default() -> Self {
        Self { owners: vec![NONE; usize::from(SLOTS)].into_boxed_slice() }
    }
}

impl SlotMap {
    /// A map from `ranges`, naming each primary's node index with `index_of`.
    pub fn from_ranges(ranges: &[SlotRange], mut index_of: impl FnMut(&Endpoint) -> usize) -> Self {
        let mut map = Self::default();
        for r in ranges {
            let node = index_of(&r.primary);
            for slot in r.start..=r.end {
                map.set(slot, node);
            }
        }
        map
    }

    /// The node that owns `slot`, if any does.
    #[must_use]
    pub fn owner(&self, slot: u16) -> Option<usize> {
        match self.owners[usize::from(slot)] {
            NONE => None,
            n => Some(n as usize),
        }
    }

    /// Gives `slot` to `node`.
    pub fn set(&mut self, slot: u16, node: usize) {
        self.owners[usize::from(slot)] = u32::try_from(node).unwrap_or(NONE - 1);
    }

    /// Slots whose owner differs between `self` and `newer`, with their old owner (if any).
    #[must_use]
    pub fn moved(&self, newer: &Self) -> Vec<(u16, Option<usize>)> {
        (0..SLOTS).filter(|&s| self.owner(s) != newer.owner(s)).map(|s| (s, self.owner(s))).collect()
    }

    /// How many slots have an owner.
    #[must_use]
    pub fn covered(&self) -> usize {
        self.owners.iter().filter(|&&o| o != NONE).count()
    }

    /// The distinct owners, in slot order.
    #[must_use]
    pub fn nodes(&self) -> Vec<usize> {
        let mut seen: Vec<usize> = Vec::new();
        for s in 0..SLOTS {
            if let Some(n) = self.owner(s) {
                if !seen.contains(&n) {
                    seen.push(n);
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        /// Any redirect Redis can send reads back as sent; the map's diff is exactly the slots
        /// whose owner a model (a plain vector) says changed.
        #[test]
        fn redirects_round_trip_and_moved_matches_a_model(
            slot in 0u16..SLOTS,
            port in 1u16..,
            ask in any::<bool>(),
            host in prop::sample::select(vec!["127.0.0.1", "cache-7.local", "::1", ""]),
            changes in prop::collection::vec((0u16..SLOTS, 0usize..6), 0..40),
        ) {
            let word = if ask { "ASK" } else { "MOVED" };
            let shown = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
            let r = parse_redirect(&format!("{word} {slot} {shown}:{port}"), "fallback").unwrap();
            prop_assert_eq!(r.kind, if ask { RedirectKind::Ask } else { RedirectKind::Moved });
            prop_assert_eq!(r.slot, slot);
            prop_assert_eq!(r.to.host.as_str(), if host.is_empty() { "fallback" } else { host });
            prop_assert_eq!(r.to.port, port);

            let mut map = SlotMap::default();
            let mut model: Vec<Option<usize>> = vec![None; usize::from(SLOTS)];
            for s in (0..SLOTS).step_by(3) {
                map.set(s, 0);
                model[usize::from(s)] = Some(0);
            }
            let mut newer = map.clone();
            let mut changed = model.clone();
            for &(s, n) in &changes {
                newer.set(s, n);
                changed[usize::from(s)] = Some(n);
            }
            let want: Vec<(u16, Option<usize>)> = (0..SLOTS)
                .filter(|&s| model[usize::from(s)] != changed[usize::from(s)])
                .map(|s| (s, model[usize::from(s)]))
                .collect();
            prop_assert_eq!(map.moved(&newer), want);
            prop_assert_eq!(newer.covered(), changed.iter().filter(|o| o.is_some()).count());
        }
    }

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn node(host: &str, port: i64, id: &str) -> Value {
        Value::Array(vec![bulk(host), Value::Int(port), bulk(id), Value::Array(vec![])])
    }

    #[test]
    fn reads_cluster_slots() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node("127.0.0.1", 7000, "a"),
                node("127.0.0.1", 7003, "d"),
            ]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node("", 7001, "b")]),
        ]);
        let ranges = parse_cluster_slots(reply, "10.0.0.9").unwrap();
        assert_eq!(ranges.len(), 2);
        assert_eq!((ranges[0].start, ranges[0].end, ranges[0].primary.name()), (0, 5460, "127.0.0.1:7000".into()));
        assert_eq!(ranges[0].replicas[0].port, 7003);
        assert_eq!(ranges[1].primary.name(), "10.0.0.9:7001", "an empty host is the one that answered");
        assert_eq!(ranges[1].primary.id.as_deref(), Some("b"));
        let mut names = Vec::new();
        let map = SlotMap::from_ranges(&ranges, |e| {
            names.push(e.name());
            names.len() - 1
        });
        assert_eq!(
            (map.owner(0), map.owner(5460), map.owner(5461), map.owner(16383)),
            (Some(0), Some(0), Some(1), Some(1))
        );
        assert_eq!(map.covered(), 16384);
        assert_eq!(map.nodes(), vec![0, 1]);
        let bad = Value::Array(vec![Value::Array(vec![Value::Int(0), Value::Int(16384), node("h", 1, "x")])]);
        assert!(parse_cluster_slots(bad, "h").is_err());
        assert!(parse_cluster_slots(Value::Int(1), "h").is_err());
    }

    #[test]
    fn reads_cluster_shards_in_both_protocols() {
        let node = |port: i64, role: &str, health: &str| {
            vec![
                bulk("id"),
                bulk(&format!("id{port}")),
                bulk("port"),
                Value::Int(port),
                bulk("ip"),
                bulk("127.0.0.1"),
                bulk("endpoint"),
                bulk(""),
                bulk("role"),
                bulk(role),
                bulk("health"),
                bulk(health),
            ]
        };
        let resp2 = Value::Array(vec![
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![Value::Int(0), Value::Int(99), Value::Int(200), Value::Int(300)]),
                bulk("nodes"),
                Value::Array(vec![
                    Value::Array(node(7001, "replica", "online")),
                    Value::Array(node(7000, "master", "online")),
                    Value::Array(node(7002, "replica", "fail")),
                ]),
            ]),
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![]),
                bulk("nodes"),
                Value::Array(vec![Value::Array(node(7003, "master", "online"))]),
            ]),
        ]);
        let ranges = parse_cluster_shards(resp2, "h").unwrap();
        assert_eq!(ranges.len(), 2);
        assert_eq!((ranges[0].start, ranges[0].end, ranges[1].start, ranges[1].end), (0, 99, 200, 300));
        assert_eq!(ranges[0].primary.name(), "127.0.0.1:7000", "an empty endpoint falls back to the ip");
        assert_eq!(ranges[0].primary.id.as_deref(), Some("id7000"));
        assert_eq!(
            ranges[0].replicas.iter().map(|e| e.port).collect::<Vec<_>>(),
            [7001],
            "failed replicas are left out"
        );
        let to_map = |v: Value| match v {
            Value::Array(items) => {
                let mut it = items.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Value::Map(pairs)
            }
            other => other,
        };
        let resp3 = Value::Array(vec![to_map(Value::Array(vec![
            bulk("slots"),
            Value::Array(vec![Value::Int(5), Value::Int(6)]),
            bulk("nodes"),
            Value::Array(vec![to_map(Value::Array(node(7000, "master", "online")))]),
        ]))]);
        let ranges = parse_cluster_shards(resp3, "h").unwrap();
        assert_eq!((ranges[0].start, ranges[0].end, ranges[0].primary.port), (5, 6, 7000));
        assert!(parse_cluster_shards(Value::Int(3), "h").is_err());
    }

    #[test]
    fn reads_redirects() {
        let r = parse_redirect("MOVED 3999 127.0.0.1:6381", "x").unwrap();
        assert_eq!((r.kind, r.slot, r.to.name()), (RedirectKind::Moved, 3999, "127.0.0.1:6381".into()));
        let r = parse_redirect("ASK 12 :7002", "10.1.1.1").unwrap();
        assert_eq!((r.kind, r.slot, r.to.name()), (RedirectKind::Ask, 12, "10.1.1.1:7002".into()));
        assert_eq!(parse_redirect("MOVED 1 [::1]:7000", "x").unwrap().to.host, "::1");
        for bad in ["ERR x", "MOVED", "MOVED 99999 h:1", "MOVED 1 h", "ASK x h:1", "TRYAGAIN Multiple keys"] {
            assert!(parse_redirect(bad, "h").is_none(), "{bad}");
        }
    }

    #[test]
    fn moved_lists_changed_slots_with_their_old_owner() {
        let mut a = SlotMap::default();
        for s in 0..SLOTS {
            a.set(s, usize::from(s >= 8192));
        }
        let mut b = a.clone();
        b.set(10, 2);
        b.set(9000, 0);
        assert_eq!(a.moved(&b), vec![(10, Some(0)), (9000, Some(1))]);
        assert!(a.moved(&a).is_empty());
    }
}
