//! Reading a value's RDB body in any encoding Redis 7.0 loads (`rdbLoadObject`) and rebuilding it
//! through the types' public constructors, so its encoding and weight follow the thresholds in
//! force. Refuses what Redis refuses (empty collections, duplicates, NaN scores) and everything
//! malformed, without panicking and without allocating beyond what the body can hold.

use super::io::Reader;
use super::listpack::Item;
use super::types::*;
use super::{Error, intset, listpack, ziplist};
use crate::entry::{HashValue, Value};
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::zset::ZSet;
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::Arc;

/// Reads the body of an object of type `ty` from `r`.
pub fn decode_value(ty: u8, r: &mut Reader<'_>) -> Result<Value, Error> {
    Ok(match ty {
        STRING => Value::str(&r.string()?),
        LIST => {
            let n = r.count(1)?;
            let mut l = List::new();
            for _ in 0..n {
                l.push_back(&r.string()?);
            }
            list(l)?
        }
        LIST_ZIPLIST => list(list_of(ziplist::entries(&r.string()?)?, List::new()))?,
        LIST_QUICKLIST | LIST_QUICKLIST_2 => {
            let nodes = r.count(1)?;
            let mut l = List::new();
            for _ in 0..nodes {
                let container = if ty == LIST_QUICKLIST_2 { r.read_len()? } else { 2 };
                let blob = r.string()?;
                l = match (container, ty) {
                    (1, _) => {
                        l.push_back(&blob);
                        l
                    }
                    (2, LIST_QUICKLIST) => list_of(ziplist::entries(&blob)?, l),
                    (2, _) => list_of(listpack::entries(&blob)?, l),
                    _ => return Err(Error::Corrupt("quicklist container")),
                };
            }
            list(l)?
        }
        SET => {
            let n = r.count(1)?;
            let mut s = Set::new();
            for _ in 0..n {
                if !s.insert(&r.string()?) {
                    return Err(Error::Corrupt("duplicate set member"));
                }
            }
            Value::Set(Arc::new(s))
        }
        SET_INTSET => {
            let ints = intset::decode(&r.string()?)?;
            if ints.is_empty() {
                return Err(Error::Corrupt("empty collection"));
            }
            let mut s = Set::new();
            for v in ints {
                s.insert(v.to_string().as_bytes());
            }
            Value::Set(Arc::new(s))
        }
        ZSET | ZSET_2 => {
            let n = r.count(if ty == ZSET { 2 } else { 9 })?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let m = Bytes::from(r.string()?.into_owned());
                let score = if ty == ZSET { r.text_double()? } else { r.binary_double()? };
                pairs.push((score, m));
            }
            zset(pairs, false)?
        }
        ZSET_ZIPLIST | ZSET_LISTPACK => {
            let blob = r.string()?;
            let items = if ty == ZSET_ZIPLIST { ziplist::entries(&blob)? } else { listpack::entries(&blob)? };
            let mut pairs = Vec::with_capacity(items.len() / 2);
            for pair in pairs_of(&items)? {
                let score = match pair[1] {
                    Item::Int(v) => v as f64,
                    Item::Str(s) => crate::commands::parse_f64(s).ok_or(Error::Corrupt("bad score"))?,
                };
                pairs.push((score, Bytes::from(pair[0].bytes().into_owned())));
            }
            zset(pairs, true)?
        }
        HASH => {
            let n = r.count(2)?;
            let mut h = HashValue::default();
            for _ in 0..n {
                let f = r.string()?;
                let v = Bytes::from(r.string()?.into_owned());
                if !h.insert(&f, v) {
                    return Err(Error::Corrupt("duplicate hash field"));
                }
            }
            Value::Hash(Arc::new(h))
        }
        HASH_ZIPMAP | HASH_ZIPLIST | HASH_LISTPACK => {
            let blob = r.string()?;
            let items = match ty {
                HASH_ZIPMAP => ziplist::zipmap(&blob)?,
                HASH_ZIPLIST => ziplist::entries(&blob)?,
                _ => listpack::entries(&blob)?,
            };
            let mut h = HashValue::default();
            for pair in pairs_of(&items)? {
                if !h.insert(&pair[0].bytes(), Bytes::from(pair[1].bytes().into_owned())) {
                    return Err(Error::Corrupt("duplicate hash field"));
                }
            }
            Value::Hash(Arc::new(h))
        }
        STREAM_LISTPACKS | STREAM_LISTPACKS_2 => Value::Stream(Arc::new(super::stream::decode(ty, r)?)),
        other => return Err(Error::UnknownType(other)),
    })
}

/// `l` with `items` pushed at its tail.
fn list_of(items: Vec<Item<'_>>, mut l: List) -> List {
    for i in items {
        l.push_back(&i.bytes());
    }
    l
}

/// A loaded list, refused when empty (Redis skips empty nodes, then refuses an empty key).
fn list(l: List) -> Result<Value, Error> {
    if l.is_empty() {
        return Err(Error::Corrupt("empty collection"));
    }
    Ok(Value::List(Arc::new(l)))
}

/// The entries of a blob as (field, value) or (member, score) pairs; refused when empty or odd.
fn pairs_of<'a, 'b>(items: &'b [Item<'a>]) -> Result<std::slice::ChunksExact<'b, Item<'a>>, Error> {
    if items.is_empty() || items.len() % 2 != 0 {
        return Err(Error::Corrupt("empty collection or odd number of entries"));
    }
    Ok(items.chunks_exact(2))
}

/// A loaded sorted set: no NaN score, no member twice, in the encoding Redis 7.0 gives it after
/// loading: a plain one becomes a listpack when it fits both thresholds, a packed one (`packed`)
/// stays packed unless it has more members than `zset-max-listpack-entries` (Redis does not look
/// at member lengths there).
fn zset(pairs: Vec<(f64, Bytes)>, packed: bool) -> Result<Value, Error> {
    if pairs.iter().any(|(s, _)| s.is_nan()) {
        return Err(Error::Corrupt("NaN score"));
    }
    let mut seen = HashSet::with_capacity(pairs.len());
    if !pairs.iter().all(|(_, m)| seen.insert(m.clone())) {
        return Err(Error::Corrupt("duplicate sorted set member"));
    }
    let (entries, value) = crate::types::zset_listpack_limits();
    let value = if packed { usize::MAX } else { value };
    Ok(Value::ZSet(Arc::new(ZSet::build_with(pairs, (entries, value)))))
}
