//! Streams in Redis 7.0's RDB format (`RDB_TYPE_STREAM_LISTPACKS_2`, type 19, which Redis 7.0
//! writes; type 15, `STREAM_LISTPACKS` of Redis 5-6, is read too).
//!
//! ```text
//!   nodes: count, then per node: key (master id: ms ‖ seq, 16 bytes big-endian, as a string),
//!          listpack (as a string):
//!            master entry: live count, deleted count, n, field×n, 0
//!            entries:      flags (1 deleted, 2 same fields as the master), ms − master ms,
//!                          seq − master seq, [m, (field, value)×m | value×n], lp-count
//!   length, last id (ms, seq), [19: first id, max deleted id, entries added]
//!   groups: count, then name, last id, [19: entries read (u64::MAX = unknown)],
//!           PEL: count, (id 16 bytes BE, delivery time u64 LE ms, delivery count)×count,
//!           consumers: count, (name, seen time u64 LE ms, count, id×count)×count
//! ```
//!
//! The writer walks our blocks, whose boundaries are Redis's (100 entries or 4 KB of listpack),
//! so a stream built by the same commands gives the same bytes. The reader rebuilds the stream
//! through its public API (entries appended in order, deleted ones then deleted, the counters
//! set, groups claimed entry by entry), so block boundaries follow our rule rather than the
//! payload's, and the recorded first id is re-derived from the entries. Everything inconsistent
//! (ids out of order, counts that do not add up, a PEL entry without its consumer) is refused.

use super::Error;
use super::io::{Options, Reader, put_len, put_string};
use super::listpack::{self, Item};
use super::types::{STREAM_LISTPACKS, STREAM_LISTPACKS_2};
use crate::types::stream::group::estimate_entries_read;
use crate::types::stream::{Group, Stream, StreamId};
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::BTreeMap;

const DELETED: i64 = 1;
const SAME_FIELDS: i64 = 2;

/// `id` as Redis's radix-tree key and raw PEL id: ms then seq, big-endian.
fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut b = [0; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

fn id_of(b: &[u8]) -> Result<StreamId, Error> {
    let b: &[u8; 16] = b.try_into().map_err(|_| Error::Corrupt("stream id is not 16 bytes"))?;
    let (ms, seq) = b.split_at(8);
    Ok(StreamId {
        ms: u64::from_be_bytes(ms.try_into().expect("8 bytes")),
        seq: u64::from_be_bytes(seq.try_into().expect("8 bytes")),
    })
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

/// Appends the body of `s` as Redis 7.0's `rdbSaveObject` writes a stream (type 19).
pub fn encode(s: &Stream, opts: Options, out: &mut Vec<u8>) {
    put_len(out, s.blocks() as u64);
    for (key, entries) in s.nodes() {
        let entries: Vec<_> = entries.collect();
        let master: Vec<&[u8]> = entries.first().map(|e| e.2.pairs().map(|(f, _)| f).collect()).unwrap_or_default();
        let deleted = entries.iter().filter(|e| e.1).count();
        let mut lp = listpack::Writer::default();
        lp.push_int((entries.len() - deleted) as i64);
        lp.push_int(deleted as i64);
        lp.push_int(master.len() as i64);
        for f in &master {
            lp.push(f);
        }
        lp.push_int(0);
        for (id, del, fields) in &entries {
            let same = fields.len() == master.len() && fields.pairs().zip(&master).all(|((f, _), m)| f == *m);
            lp.push_int(if *del { DELETED } else { 0 } | if same { SAME_FIELDS } else { 0 });
            lp.push_int(id.ms.wrapping_sub(key.ms) as i64);
            lp.push_int(id.seq.wrapping_sub(key.seq) as i64);
            let n = fields.len() as i64;
            if same {
                for (_, v) in fields.pairs() {
                    lp.push(v);
                }
                lp.push_int(n + 3);
            } else {
                lp.push_int(n);
                for (f, v) in fields.pairs() {
                    lp.push(f);
                    lp.push(v);
                }
                lp.push_int(2 * n + 4);
            }
        }
        put_string(out, &id_bytes(key), opts);
        put_string(out, &lp.finish(), opts);
    }
    put_len(out, s.len() as u64);
    put_id(out, s.last_id());
    put_id(out, s.recorded_first_id());
    put_id(out, s.max_deleted_id());
    put_len(out, s.entries_added());
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_string(out, name, opts);
        put_id(out, g.last_id);
        put_len(out, g.entries_read.unwrap_or(u64::MAX));
        put_len(out, g.pel_len() as u64);
        for (id, p) in g.pel_range(StreamId::MIN, StreamId::MAX) {
            out.extend_from_slice(&id_bytes(id));
            out.extend_from_slice(&p.delivered.to_le_bytes());
            put_len(out, p.count);
        }
        put_len(out, g.consumers().len() as u64);
        for (name, c) in g.consumers() {
            put_string(out, name, opts);
            out.extend_from_slice(&c.seen.to_le_bytes());
            put_len(out, c.pending.len() as u64);
            for id in &c.pending {
                out.extend_from_slice(&id_bytes(*id));
            }
        }
    }
}

/// A cursor over a node's listpack items.
struct Items<'a> {
    items: Vec<Item<'a>>,
    at: usize,
}

impl<'a> Items<'a> {
    fn next(&mut self) -> Result<Item<'a>, Error> {
        let it = *self.items.get(self.at).ok_or(Error::Corrupt("stream listpack ends early"))?;
        self.at += 1;
        Ok(it)
    }

    fn int(&mut self) -> Result<i64, Error> {
        match self.next()? {
            Item::Int(v) => Ok(v),
            Item::Str(s) => crate::frame::parse_i64(s).ok_or(Error::Corrupt("stream listpack integer")),
        }
    }

    /// A count of items that must still be there (`per` items each).
    fn count(&mut self, per: usize) -> Result<usize, Error> {
        let n = self.int()?;
        let left = (self.items.len() - self.at) as u64;
        if n < 0 || (n as u64).saturating_mul(per as u64) > left {
            return Err(Error::Corrupt("stream listpack count"));
        }
        Ok(n as usize)
    }

    fn bytes(&mut self) -> Result<Bytes, Error> {
        Ok(match self.next()?.bytes() {
            Cow::Borrowed(b) => Bytes::copy_from_slice(b),
            Cow::Owned(v) => Bytes::from(v),
        })
    }

    fn done(&self) -> bool {
        self.at >= self.items.len()
    }
}

fn read_id(r: &mut Reader<'_>) -> Result<StreamId, Error> {
    Ok(StreamId { ms: r.read_len()?, seq: r.read_len()? })
}

fn read_u64_le(r: &mut Reader<'_>) -> Result<u64, Error> {
    Ok(u64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes")))
}

/// Reads the nodes of a stream into `s`; the ids of deleted entries come back (still present).
fn nodes(r: &mut Reader<'_>, s: &mut Stream) -> Result<Vec<StreamId>, Error> {
    let mut deleted = Vec::new();
    let mut prev: Option<StreamId> = None;
    for _ in 0..r.read_len()? {
        let key = id_of(&r.string()?)?;
        let blob = r.string()?;
        let mut it = Items { items: listpack::entries(&blob)?, at: 0 };
        if it.done() {
            return Err(Error::Corrupt("empty listpack inside stream"));
        }
        let live = it.int()?;
        let dead = it.int()?;
        let nf = it.count(1)?;
        let master: Vec<Bytes> = (0..nf).map(|_| it.bytes()).collect::<Result<_, _>>()?;
        if it.int()? != 0 {
            return Err(Error::Corrupt("stream master entry terminator"));
        }
        let (mut seen_live, mut seen_dead) = (0i64, 0i64);
        while !it.done() {
            let flags = it.int()?;
            let id =
                StreamId { ms: key.ms.wrapping_add(it.int()? as u64), seq: key.seq.wrapping_add(it.int()? as u64) };
            if prev.is_some_and(|p| id <= p) || id == StreamId::MIN {
                return Err(Error::Corrupt("stream ids out of order"));
            }
            prev = Some(id);
            let same = flags & SAME_FIELDS != 0;
            let mut pairs = Vec::new();
            let n = if same {
                for f in &master {
                    pairs.push(f.clone());
                    pairs.push(it.bytes()?);
                }
                master.len()
            } else {
                let n = it.count(2)?;
                for _ in 0..2 * n {
                    pairs.push(it.bytes()?);
                }
                n
            };
            let expect = if same { n + 3 } else { 2 * n + 4 };
            if it.int()? != expect as i64 {
                return Err(Error::Corrupt("stream entry lp-count"));
            }
            s.append(id, &pairs);
            if flags & DELETED != 0 {
                deleted.push(id);
                seen_dead += 1;
            } else {
                seen_live += 1;
            }
        }
        if (seen_live, seen_dead) != (live, dead) {
            return Err(Error::Corrupt("stream node counts"));
        }
    }
    Ok(deleted)
}

/// Reads a stream body of type `ty` (15 or 19).
pub fn decode(ty: u8, r: &mut Reader<'_>) -> Result<Stream, Error> {
    debug_assert!(ty == STREAM_LISTPACKS || ty == STREAM_LISTPACKS_2);
    let mut s = Stream::default();
    let deleted = nodes(r, &mut s)?;
    let appended_last = s.last_id();
    for id in deleted {
        s.delete(id);
    }
    let len = r.read_len()?;
    if len != s.len() as u64 {
        return Err(Error::Corrupt("stream length mismatch"));
    }
    let last = read_id(r)?;
    if last < appended_last {
        return Err(Error::Corrupt("stream last id below its entries"));
    }
    if ty == STREAM_LISTPACKS_2 {
        let _first = read_id(r)?;
        let max_deleted = read_id(r)?;
        let added = r.read_len()?;
        s.set_last_id(last, Some(added), Some(max_deleted));
    } else {
        s.set_last_id(last, Some(len), Some(StreamId::MIN));
    }
    for _ in 0..r.read_len()? {
        let name = Bytes::from(r.string()?.into_owned());
        let last_id = read_id(r)?;
        let entries_read = if ty == STREAM_LISTPACKS_2 {
            let v = r.read_len()?;
            (v <= i64::MAX as u64).then_some(v)
        } else {
            estimate_entries_read(&s, last_id)
        };
        let mut g = Group::new(last_id, entries_read);
        let mut pel: BTreeMap<StreamId, (u64, u64)> = BTreeMap::new();
        for _ in 0..r.read_len()? {
            let id = id_of(r.take(16)?)?;
            let at = read_u64_le(r)?;
            if pel.insert(id, (at, r.read_len()?)).is_some() {
                return Err(Error::Corrupt("duplicate PEL entry"));
            }
        }
        let total = pel.len();
        let mut claimed = 0;
        for _ in 0..r.read_len()? {
            let consumer = r.string()?;
            if !g.create_consumer(&consumer, read_u64_le(r)?) {
                return Err(Error::Corrupt("duplicate consumer"));
            }
            for _ in 0..r.read_len()? {
                let id = id_of(r.take(16)?)?;
                let (at, count) = pel.remove(&id).ok_or(Error::Corrupt("consumer PEL entry not in the group PEL"))?;
                g.claim(id, &consumer, at, Some(count), false);
                claimed += 1;
            }
        }
        if claimed != total {
            return Err(Error::Corrupt("PEL entry without a consumer"));
        }
        if s.groups.insert(name, g).is_some() {
            return Err(Error::Corrupt("duplicate consumer group"));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests;
