//! Slot routing for the load generator (`loadgen --cluster`, what memtier's `--cluster-mode`
//! gives a Redis Cluster user): the slot map read with CLUSTER SLOTS, and a connection that holds
//! one socket per primary and sends every request to the owner of its key's slot.
//!
//! The slot of a key is the server's own function (`cache_server::cluster::slot::key_slot`: CRC16
//! of the `{hash tag}`), not a second CRC16. A batch of `pipeline` requests is split by node: each
//! node's share is written, then each node's replies are read in turn; a request's latency runs
//! from the batch's write to the read that completed its reply. A `-MOVED` reply counts as an
//! error and makes the connection read the map again (from the node that sent it) before its next
//! batch; requests are not retried, so a benchmark on a stable cluster sees none.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, Instant};

use cache_server::cluster::slot::key_slot;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::conn::{ConnError, Counts, MAX_LATENCY_NS, Plan, Tally};
use super::keys::write_key;
use super::proto::{Op, Outcome, ProtoError, find_crlf, parse_int};

/// Number of hash slots.
const SLOTS: usize = 16384;

/// Who serves each slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotMap {
    /// The primaries, in the order CLUSTER SLOTS first names them.
    pub nodes: Vec<SocketAddr>,
    /// Index into `nodes` of each slot's owner (`u16::MAX`: unassigned).
    pub owners: Vec<u16>,
}

impl SlotMap {
    /// Reads CLUSTER SLOTS from `addr` (a blocking request, 5 s at most).
    ///
    /// # Errors
    /// When the node does not answer, answers an error, or covers no slot.
    pub fn fetch(addr: SocketAddr) -> Result<Self, ProtoError> {
        let err = |e: std::io::Error| ProtoError(format!("CLUSTER SLOTS from {addr}: {e}"));
        let mut s = StdStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(err)?;
        s.set_read_timeout(Some(Duration::from_secs(5))).map_err(err)?;
        s.write_all(b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n").map_err(err)?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some((value, _)) = parse(&buf, 0)? {
                return Self::from_reply(&value, addr);
            }
            let n = s.read(&mut chunk).map_err(err)?;
            if n == 0 {
                return Err(ProtoError(format!("{addr} closed before answering CLUSTER SLOTS")));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn from_reply(reply: &Value, from: SocketAddr) -> Result<Self, ProtoError> {
        let bad = || ProtoError(format!("{from}: unexpected CLUSTER SLOTS reply {reply:?}"));
        let Value::Array(ranges) = reply else { return Err(bad()) };
        let mut map = Self { nodes: Vec::new(), owners: vec![u16::MAX; SLOTS] };
        for range in ranges {
            let Value::Array(items) = range else { return Err(bad()) };
            let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(node))) =
                (items.first(), items.get(1), items.get(2))
            else {
                return Err(bad());
            };
            let (Some(Value::Bulk(host)), Some(Value::Int(port))) = (node.first(), node.get(1)) else {
                return Err(bad());
            };
            // An empty host means "the address you reached me on".
            let host = if host.is_empty() { from.ip().to_string() } else { String::from_utf8_lossy(host).into_owned() };
            let addr = (host.as_str(), u16::try_from(*port).map_err(|_| bad())?)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(bad)?;
            let index = match map.nodes.iter().position(|n| *n == addr) {
                Some(i) => i,
                None => {
                    map.nodes.push(addr);
                    map.nodes.len() - 1
                }
            };
            let (first, last) =
                (usize::try_from(*first).map_err(|_| bad())?, usize::try_from(*last).map_err(|_| bad())?);
            for owner in map.owners.get_mut(first..=last).ok_or_else(bad)? {
                *owner = index as u16;
            }
        }
        if map.nodes.is_empty() {
            return Err(ProtoError(format!("{from} serves no slot: is it cluster-enabled with slots assigned?")));
        }
        Ok(map)
    }

    /// The node index serving `key` (`None`: its slot is unassigned).
    #[must_use]
    pub fn route(&self, key: &[u8]) -> Option<usize> {
        let owner = self.owners[usize::from(key_slot(key))];
        (owner != u16::MAX).then_some(usize::from(owner))
    }
}

/// A CLUSTER SLOTS reply value (only what it contains).
#[derive(Debug)]
enum Value {
    Int(i64),
    Bulk(Vec<u8>),
    Array(Vec<Value>),
    Other,
}

/// Parses one RESP value at `buf[at..]`: the value and the offset past it, `None` if incomplete.
fn parse(buf: &[u8], at: usize) -> Result<Option<(Value, usize)>, ProtoError> {
    if at >= buf.len() {
        return Ok(None);
    }
    let Some(end) = find_crlf(&buf[at..]).map(|e| at + e) else { return Ok(None) };
    let bad = || ProtoError(format!("bad RESP line {:?}", String::from_utf8_lossy(&buf[at..end])));
    let int = || parse_int(&buf[at + 1..end]).ok_or_else(bad);
    let next = end + 2;
    match buf.get(at) {
        Some(b':') => Ok(Some((Value::Int(int()?), next))),
        Some(b'$') => {
            let len = usize::try_from(int()?).map_err(|_| bad())?;
            if buf.len() < next + len + 2 {
                return Ok(None);
            }
            Ok(Some((Value::Bulk(buf[next..next + len].to_vec()), next + len + 2)))
        }
        Some(b'*') => {
            let n = int()?;
            let mut items = Vec::new();
            let mut pos = next;
            for _ in 0..n.max(0) {
                let Some((v, p)) = parse(buf, pos)? else { return Ok(None) };
                items.push(v);
                pos = p;
            }
            Ok(Some((Value::Array(items), pos)))
        }
        Some(b'+') => Ok(Some((Value::Other, next))),
        Some(b'-') => Err(ProtoError(String::from_utf8_lossy(&buf[at..end]).into_owned())),
        _ => Err(ProtoError("not a RESP value".into())),
    }
}

/// One node's socket and its share of the current batch.
struct Link {
    stream: TcpStream,
    addr: SocketAddr,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
    /// Indexes into the batch's `ops` of the requests sent on this link, in order.
    sent: Vec<usize>,
}

async fn connect(addr: SocketAddr) -> Result<Link, ConnError> {
    let io = |source| ConnError::Io { addr, source };
    let stream = TcpStream::connect(addr).await.map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    Ok(Link { stream, addr, wbuf: Vec::with_capacity(4096), rbuf: Vec::with_capacity(16 * 1024), sent: Vec::new() })
}

/// Runs `plan` against the cluster `map` (one socket per node), adding measured requests to
/// `tally`.
///
/// # Errors
/// On a socket error, an early close, a protocol violation, or a key whose slot no node serves.
pub async fn drive(mut plan: Plan, mut map: SlotMap, tally: Rc<RefCell<Tally>>) -> Result<(), ConnError> {
    let mut links = Vec::with_capacity(map.nodes.len());
    for &addr in &map.nodes {
        links.push(connect(addr).await?);
    }
    let (mut ops, mut lat, mut key) = (Vec::with_capacity(plan.pipeline), Vec::new(), Vec::new());
    let mut next_send = plan.pacing.map(|(_, first)| first);
    loop {
        let Some((t0, measured)) = plan.next_batch(next_send).await else { return Ok(()) };
        let room = match plan.budget {
            Some(left) if measured => plan.pipeline.min(usize::try_from(left).unwrap_or(usize::MAX)),
            _ => plan.pipeline,
        };
        ops.clear();
        for l in &mut links {
            l.wbuf.clear();
            l.sent.clear();
        }
        for _ in 0..room {
            let Some(id) = plan.picker.next_key() else { break };
            let op = if plan.picker.chance(plan.set_share) { Op::Set } else { Op::Get };
            key.clear();
            write_key(&mut key, id);
            let node = map.route(&key).ok_or_else(|| ConnError::Protocol {
                addr: map.nodes[0],
                source: ProtoError(format!("no node serves slot {}", key_slot(&key))),
            })?;
            plan.protocol.encode(op, &key, &plan.value, &mut links[node].wbuf);
            links[node].sent.push(ops.len());
            ops.push(op);
        }
        if ops.is_empty() {
            return Ok(());
        }
        if let (true, Some(left)) = (measured, &mut plan.budget) {
            *left -= ops.len() as u64;
        }
        if let (Some(at), Some((interval, _))) = (&mut next_send, plan.pacing) {
            *at += interval;
        }
        for l in links.iter_mut().filter(|l| !l.sent.is_empty()) {
            let addr = l.addr;
            l.stream.write_all(&l.wbuf).await.map_err(|source| ConnError::Io { addr, source })?;
        }
        let mut batch = Counts::default();
        lat.clear();
        let mut moved_by = None;
        for l in links.iter_mut().filter(|l| !l.sent.is_empty()) {
            let addr = l.addr;
            let (mut pos, mut done, mut now) = (0, 0, Instant::now());
            while done < l.sent.len() {
                let op = ops[l.sent[done]];
                match plan.protocol.decode(op, &l.rbuf[pos..]).map_err(|source| ConnError::Protocol { addr, source })? {
                    Some((outcome, used)) => {
                        if outcome == Outcome::Error && l.rbuf[pos..].starts_with(b"-MOVED") {
                            moved_by = Some(addr);
                        }
                        pos += used;
                        done += 1;
                        lat.push(now.duration_since(t0).as_nanos() as u64);
                        batch.count(op, outcome);
                    }
                    None => {
                        l.rbuf.drain(..pos);
                        pos = 0;
                        l.rbuf.reserve(16 * 1024);
                        let n =
                            l.stream.read_buf(&mut l.rbuf).await.map_err(|source| ConnError::Io { addr, source })?;
                        if n == 0 {
                            return Err(ConnError::Closed { addr, outstanding: l.sent.len() - done });
                        }
                        now = Instant::now();
                    }
                }
            }
            l.rbuf.drain(..pos);
        }
        if measured {
            let mut t = tally.borrow_mut();
            for &ns in &lat {
                t.latency_ns.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
            }
            t.counts.add(batch);
            t.last_reply = t.last_reply.max(Some(Instant::now()));
        }
        if let Some(addr) = moved_by {
            // The map changed: read it again and open sockets to nodes not seen before.
            map = SlotMap::fetch(addr).map_err(|source| ConnError::Protocol { addr, source })?;
            let mut fresh = Vec::with_capacity(map.nodes.len());
            for &a in &map.nodes {
                match links.iter().position(|l| l.addr == a) {
                    Some(i) => fresh.push(links.swap_remove(i)),
                    None => fresh.push(connect(a).await?),
                }
            }
            links = fresh;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_slots_reply_becomes_a_map() {
        let reply = b"*2\r\n*3\r\n:0\r\n:8191\r\n*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$2\r\nid\r\n\
                      *3\r\n:8192\r\n:16383\r\n*3\r\n$0\r\n\r\n:7002\r\n$2\r\nid\r\n";
        let (value, used) = parse(reply, 0).unwrap().unwrap();
        assert_eq!(used, reply.len());
        let from: SocketAddr = "127.0.0.1:7002".parse().unwrap();
        let map = SlotMap::from_reply(&value, from).unwrap();
        assert_eq!(map.nodes, vec!["127.0.0.1:7001".parse().unwrap(), from]);
        // `foo` is slot 12182, `bar` 5061, and `{bar}x` follows its tag.
        assert_eq!(map.route(b"foo"), Some(1));
        assert_eq!(map.route(b"bar"), Some(0));
        assert_eq!(map.route(b"{bar}x"), Some(0));
        assert!(parse(&reply[..reply.len() - 3], 0).unwrap().is_none(), "incomplete");
    }
}
