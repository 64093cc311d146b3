//! SORT and SORT_RO over lists, sets and sorted sets, with Redis 7.0's options and quirks:
//! numeric sort by default (ties broken by the elements' bytes, so the order is total), ALPHA,
//! ASC/DESC, LIMIT, BY a pattern (`weight_*`, `h_*->field`; a pattern without `*` means "do not
//! sort"), GET patterns (`#` is the element itself), STORE into a list.
//!
//! Keys: the sorted key and the STORE destination are named up front; BY and GET patterns read
//! keys that only the elements name, so SORT with either holds the whole keyspace (see
//! `commands::movable_keys`) — as KEYS does. A SORT over many elements is long work
//! ([`Ctx::long`]).

use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, WRONGTYPE, arg_i64, is, spec};
use crate::db::{Entry, Value};
use crate::types::list::List;
use bytes::Bytes;
use std::cmp::Ordering;
use std::sync::Arc;

const G: &str = "generic";

/// SORT and SORT_RO.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "sort",
        -2,
        &["write", "denyoom", "movablekeys"],
        (1, 1, 1),
        G,
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        "1.0.0",
        sort,
    ),
    spec(
        "sort_ro",
        -2,
        &["readonly", "movablekeys"],
        (1, 1, 1),
        G,
        "Returns the sorted elements of a list, a set, or a sorted set.",
        "7.0.0",
        sort_ro,
    ),
];

/// The parsed options.
#[derive(Debug, Default)]
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a Bytes>,
    by: Option<&'a Bytes>,
    dont_sort: bool,
    get: Vec<&'a Bytes>,
}

fn parse(a: &[Bytes], readonly: bool) -> Result<Options<'_>, CmdError> {
    let mut o = Options::default();
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        let opt = &a[j];
        if is(opt, "asc") {
            o.desc = false;
        } else if is(opt, "desc") {
            o.desc = true;
        } else if is(opt, "alpha") {
            o.alpha = true;
        } else if is(opt, "limit") && left >= 2 {
            o.limit = Some((arg_i64(&a[j + 1])?, arg_i64(&a[j + 2])?));
            j += 2;
        } else if !readonly && is(opt, "store") && left >= 1 {
            o.store = Some(&a[j + 1]);
            j += 1;
        } else if is(opt, "by") && left >= 1 {
            o.by = Some(&a[j + 1]);
            o.dont_sort = !a[j + 1].contains(&b'*');
            j += 1;
        } else if is(opt, "get") && left >= 1 {
            o.get.push(&a[j + 1]);
            j += 1;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

fn sort(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, true)
}

fn generic(ctx: &mut Ctx<'_>, a: &[Bytes], readonly: bool) -> CmdResult {
    let o = parse(a, readonly)?;
    if o.get.is_empty() && (o.by.is_none() || o.dont_sort) {
        let keys: Vec<&Bytes> = std::iter::once(&a[1]).chain(o.store).collect();
        ctx.atomically(keys, |ctx| run(ctx, &a[1], o))
    } else {
        ctx.everything(|ctx| run(ctx, &a[1], o))
    }
}

/// One element to sort with what it sorts by.
struct Item {
    element: Bytes,
    score: f64,
    by: Option<Bytes>,
}

fn run(ctx: &mut Ctx<'_>, key: &Bytes, mut o: Options<'_>) -> CmdResult {
    let value = ctx.get(key).map(|e| e.value);
    let kind = match &value {
        None => Kind::List,
        Some(Value::List(_)) => Kind::List,
        Some(Value::Set(_)) => Kind::Set,
        Some(Value::ZSet(_)) => Kind::ZSet,
        Some(_) => return Err(WRONGTYPE.into()),
    };
    // A set has no order of its own: when the result is stored (or computed in a script), sort
    // it so it does not depend on the set's layout.
    if o.dont_sort && kind == Kind::Set && (o.store.is_some() || ctx.scope.is_some()) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = value.as_ref().map_or(0, collection_len) as i64;
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 { len - 1 } else { start.saturating_add(limit_count).saturating_sub(1) };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    let elements: Vec<Bytes> = ctx.long(len as usize, |_| match &value {
        None => Vec::new(),
        // Lists and sorted sets keep their own order when nothing is sorted: take the range.
        Some(_) if o.dont_sort && kind != Kind::Set && end < start => Vec::new(),
        Some(v) if o.dont_sort && kind != Kind::Set => window(v, start as usize, (end - start + 1) as usize, o.desc),
        Some(v) => ordered(v),
    });
    if o.dont_sort && kind != Kind::Set && end >= start {
        end -= start;
        start = 0;
    }
    let mut items: Vec<Item> = elements.into_iter().map(|element| Item { element, score: 0.0, by: None }).collect();
    if !o.dont_sort {
        let mut bad_number = false;
        for it in &mut items {
            let by = match o.by {
                Some(pattern) => match lookup(ctx, pattern, &it.element) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.element.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.by = Some(by);
                }
            } else {
                match strtod(&by) {
                    Some(s) => it.score = s,
                    None => bad_number = true,
                }
            }
        }
        if bad_number {
            return Err("ERR One or more scores can't be converted into double".into());
        }
        let (alpha, by_pattern, desc) = (o.alpha, o.by.is_some(), o.desc);
        let cmp = |x: &Item, y: &Item| {
            let c = if !alpha {
                x.score.partial_cmp(&y.score).unwrap_or(Ordering::Equal).then_with(|| x.element.cmp(&y.element))
            } else if by_pattern {
                match (&x.by, &y.by) {
                    (Some(p), Some(q)) => p.cmp(q),
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                }
            } else {
                x.element.cmp(&y.element)
            };
            if desc { c.reverse() } else { c }
        };
        ctx.long(items.len(), |_| items.sort_by(cmp));
    }
    let picked: &[Item] = if end >= start { &items[start as usize..=end as usize] } else { &[] };
    let output_len = picked.len() * o.get.len().max(1);
    match o.store {
        None => {
            ctx.out.array(output_len);
            for it in picked {
                if o.get.is_empty() {
                    ctx.out.bulk(&it.element);
                }
                for pattern in &o.get {
                    match lookup(ctx, pattern, &it.element) {
                        Some(v) => ctx.out.bulk(&v),
                        None => ctx.out.null(),
                    }
                }
            }
        }
        Some(dest) => {
            let mut values = Vec::with_capacity(output_len);
            for it in picked {
                if o.get.is_empty() {
                    values.push(it.element.clone());
                }
                for pattern in &o.get {
                    values.push(lookup(ctx, pattern, &it.element).unwrap_or_default());
                }
            }
            if values.is_empty() {
                if ctx.remove(dest) {
                    ctx.notify(crate::notify::Class::Generic, "del", dest);
                }
            } else {
                let list = new_list(values);
                ctx.set(dest, Entry::new(Value::List(Arc::new(list))));
                ctx.notify(crate::notify::Class::List, "sortstore", dest);
            }
            ctx.out.int(output_len as i64);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// What a BY or GET pattern names for `element`: `#` is the element; otherwise the first `*` is
/// replaced by the element, and `key->field` reads a hash field. Missing keys, wrong types and
/// patterns without `*` give `None`.
fn lookup(ctx: &mut Ctx<'_>, pattern: &[u8], element: &Bytes) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(element.clone());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let rest = &pattern[star + 1..];
    let arrow = rest.windows(2).position(|w| w == b"->").filter(|&i| i + 2 < rest.len());
    let (postfix, field) = match arrow {
        Some(i) => (&rest[..i], Some(&rest[i + 2..])),
        None => (rest, None),
    };
    let mut key = Vec::with_capacity(star + element.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    match (ctx.get(&key)?.value, field) {
        (Value::Str(s), None) => Some(s.to_bytes()),
        (Value::Hash(h), Some(f)) => h.get(f).cloned(),
        _ => None,
    }
}

/// `strtod` as SORT uses it: the whole text must parse (leading spaces allowed), the empty string
/// is 0, NaN and out-of-range values fail.
fn strtod(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return Some(0.0);
    }
    let s = std::str::from_utf8(b).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let v = super::parse_f64(t.as_bytes())?;
    let spelled_inf = t.to_ascii_lowercase().contains("inf");
    (!v.is_infinite() || spelled_inf).then_some(v)
}

/// Elements of a list, set or sorted set.
fn collection_len(v: &Value) -> usize {
    match v {
        Value::List(l) => l.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        _ => 0,
    }
}

/// The elements in the collection's own order (a set's is its layout's).
fn ordered(v: &Value) -> Vec<Bytes> {
    match v {
        Value::List(l) => l.iter().map(|e| e.to_bytes()).collect(),
        Value::Set(s) => s.iter().map(|e| e.to_bytes()).collect(),
        Value::ZSet(z) => z.iter().map(|(_, m)| Bytes::copy_from_slice(m)).collect(),
        _ => Vec::new(),
    }
}

/// `n` elements of a list or sorted set from position `start` of its own order (counted from the
/// end when `desc`), without copying the rest.
fn window(v: &Value, start: usize, n: usize, desc: bool) -> Vec<Bytes> {
    match v {
        Value::List(l) if desc => l.iter().rev().skip(start).take(n).map(|e| e.to_bytes()).collect(),
        Value::List(l) => l.iter_from(start).take(n).map(|e| e.to_bytes()).collect(),
        Value::ZSet(z) => {
            let (lo, hi) = if desc { (z.len() - start - n, z.len() - start) } else { (start, start + n) };
            z.range(lo, hi, desc).map(|(_, m)| Bytes::copy_from_slice(m)).collect()
        }
        _ => Vec::new(),
    }
}

fn new_list(values: Vec<Bytes>) -> List {
    values.into_iter().collect()
}
