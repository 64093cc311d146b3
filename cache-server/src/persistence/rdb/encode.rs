//! Writing a value's RDB body as Redis 7.0's `rdbSaveObject` does, in the encoding Redis would
//! hold the value in (the one OBJECT ENCODING reports): see the table in the parent module.

use super::io::{Options, put_binary_double, put_len, put_string};
use super::types::*;
use super::{Error, intset, listpack};
use crate::entry::{HashValue, Value};
use crate::types::list::List;
use crate::types::set::{Elem, Set};
use crate::types::zset::ZSet;

/// The type byte Redis 7.0 writes for `v` (always `Ok`: every type is written).
pub fn object_type(v: &Value) -> Result<u8, Error> {
    Ok(match v {
        Value::Str(_) => STRING,
        Value::List(_) => LIST_QUICKLIST_2,
        Value::Set(s) if s.is_intset() => SET_INTSET,
        Value::Set(_) => SET,
        Value::ZSet(z) if z.is_packed() => ZSET_LISTPACK,
        Value::ZSet(_) => ZSET_2,
        Value::Hash(_) if v.encoding() == "listpack" => HASH_LISTPACK,
        Value::Hash(_) => HASH,
        Value::Stream(_) => STREAM_LISTPACKS_2,
    })
}

/// Appends the body of `v` in the encoding [`object_type`] names.
pub fn encode_value(v: &Value, opts: Options, out: &mut Vec<u8>) -> Result<(), Error> {
    match v {
        Value::Str(s) => put_string(out, s, opts),
        Value::List(l) => list(l, opts, out),
        Value::Set(s) => set(s, opts, out),
        Value::ZSet(z) => zset(z, opts, out),
        Value::Hash(h) if v.encoding() == "listpack" => hash_listpack(h, opts, out),
        Value::Hash(h) => {
            put_len(out, h.len() as u64);
            for (f, v) in h.iter() {
                put_string(out, f, opts);
                put_string(out, v, opts);
            }
        }
        Value::Stream(st) => super::stream::encode(st, opts, out),
    }
    Ok(())
}

/// `quicklist` optimization levels: the byte budget of a node for `list-max-listpack-size` -1..-5.
const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A node never grows past this many bytes unless the budget is a size (`SIZE_SAFETY_LIMIT`).
const SAFETY_LIMIT: usize = 8192;
/// `QUICKLIST_NODE_CONTAINER_PACKED`.
const PACKED: u64 = 2;

/// What `_quicklistNodeAllowInsert` adds to an element's length to estimate its listpack entry
/// (`SIZE_ESTIMATE_OVERHEAD`: an overestimate).
const SIZE_ESTIMATE_OVERHEAD: usize = 8;

/// Whether Redis 7.0's `_quicklistNodeAllowInsert` lets an element of `sz` bytes join a node of
/// `node_sz` bytes and `count` entries under `list-max-listpack-size` `fill`.
fn node_takes(node_sz: usize, count: usize, sz: usize, fill: i64) -> bool {
    let new_sz = node_sz + sz + SIZE_ESTIMATE_OVERHEAD;
    if fill < 0 {
        return new_sz <= LEVELS[((-fill - 1) as usize).min(LEVELS.len() - 1)];
    }
    new_sz <= SAFETY_LIMIT && (count as i64) < fill.max(1)
}

/// A list as quicklist 2: listpack nodes filled as RPUSH fills them under the configured
/// `list-max-listpack-size`.
fn list(l: &List, opts: Options, out: &mut Vec<u8>) {
    let fill = crate::types::list_max_listpack_size();
    let mut nodes: Vec<Vec<u8>> = Vec::new();
    let mut node = listpack::Writer::default();
    for e in l.iter() {
        if node.count() > 0 && !node_takes(node.size(), node.count(), e.len(), fill) {
            nodes.push(std::mem::take(&mut node).finish());
        }
        node.push(&e);
    }
    if node.count() > 0 {
        nodes.push(node.finish());
    }
    put_len(out, nodes.len() as u64);
    for n in nodes {
        put_len(out, PACKED);
        put_string(out, &n, opts);
    }
}

fn set(s: &Set, opts: Options, out: &mut Vec<u8>) {
    if s.is_intset() {
        let mut ints: Vec<i64> = s
            .iter()
            .map(|e| match e {
                Elem::Int(v, _) => v,
                Elem::Bytes(b) => crate::frame::parse_i64(b).unwrap_or_default(),
            })
            .collect();
        ints.sort_unstable();
        put_string(out, &intset::encode(&ints), opts);
    } else {
        put_len(out, s.len() as u64);
        for m in s.iter() {
            put_string(out, m.as_ref(), opts);
        }
    }
}

/// Appends a listpack score as `zzlInsertAt` writes it: an integer when the double is one
/// (`double2ll`), else its `%.17g` text (`inf`, `-inf`).
fn push_score(lp: &mut listpack::Writer, score: f64) {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if (-HALF..=HALF).contains(&score) && score == (score as i64) as f64 {
        lp.push_int(score as i64);
    } else {
        lp.push_str(crate::reply::format_double(score).as_bytes());
    }
}

fn zset(z: &ZSet, opts: Options, out: &mut Vec<u8>) {
    if z.is_packed() {
        let mut lp = listpack::Writer::default();
        for (score, m) in z.iter() {
            lp.push(m);
            push_score(&mut lp, score);
        }
        put_string(out, &lp.finish(), opts);
    } else {
        // From the greatest member down, as Redis walks its skiplist from the tail.
        put_len(out, z.len() as u64);
        for (score, m) in z.range(0, z.len(), true) {
            put_string(out, m, opts);
            put_binary_double(out, score);
        }
    }
}

fn hash_listpack(h: &HashValue, opts: Options, out: &mut Vec<u8>) {
    let mut lp = listpack::Writer::default();
    for (f, v) in h.iter() {
        lp.push(f);
        lp.push(v);
    }
    put_string(out, &lp.finish(), opts);
}
