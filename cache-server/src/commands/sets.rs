//! Set commands: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SRANDMEMBER SPOP SMOVE SINTER
//! SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SSCAN, with Redis 7.0.15's replies,
//! errors and their order. Single-key writes change the stored [`Set`] in place
//! (`collection::modify`); commands over several keys hold them (`Ctx::atomically`) and read
//! them as shared snapshots. The layout and encodings live in `types/set.rs`.
//!
//! Replies: SMEMBERS, SINTER, SUNION, SDIFF and SPOP with a count are sets (`~` in RESP3);
//! SRANDMEMBER with a count is an array, as in Redis 7.0. Results built fresh (the `*STORE`
//! forms, SUNION, SDIFF, SPOP of the whole set) are intsets while they can be, so their integers
//! come back sorted as Redis returns them.

use super::collection;
use super::{CmdError, CmdResult, CommandSpec, Ctx, NOT_INT, SYNTAX, is, spec};
use crate::db::{Entry, Value};
use crate::frame::parse_i64;
use crate::glob;
use crate::notify::Class;
use crate::types::set::{Elem, Set};
use bytes::Bytes;
use std::sync::Arc;

const G: &str = "set";
const WF: &[&str] = &["write", "fast"];
const RF: &[&str] = &["readonly", "fast"];
const RO: &[&str] = &["readonly"];
const STORE: &[&str] = &["write", "denyoom"];

/// The set family's table rows (arity, flags, keys, summary and version as Redis 7.0.15's
/// COMMAND INFO and COMMAND DOCS give them).
pub const COMMANDS: &[CommandSpec] = &[
    spec("sadd", -3, &["write", "denyoom", "fast"], (1, 1, 1), G, "Add one or more members to a set", "1.0.0", sadd),
    spec("srem", -3, WF, (1, 1, 1), G, "Remove one or more members from a set", "1.0.0", srem),
    spec("scard", 2, RF, (1, 1, 1), G, "Get the number of members in a set", "1.0.0", scard),
    spec("sismember", 3, RF, (1, 1, 1), G, "Determine if a given value is a member of a set", "1.0.0", sismember),
    spec(
        "smismember",
        -3,
        RF,
        (1, 1, 1),
        G,
        "Returns the membership associated with the given elements for a set",
        "6.2.0",
        smismember,
    ),
    spec("smembers", 2, RO, (1, 1, 1), G, "Get all the members in a set", "1.0.0", smembers),
    spec("srandmember", -2, RO, (1, 1, 1), G, "Get one or multiple random members from a set", "1.0.0", srandmember),
    spec("spop", -2, WF, (1, 1, 1), G, "Remove and return one or multiple random members from a set", "1.0.0", spop),
    spec("smove", 4, WF, (1, 2, 1), G, "Move a member from one set to another", "1.0.0", smove),
    spec("sinter", -2, RO, (1, -1, 1), G, "Intersect multiple sets", "1.0.0", sinter),
    spec(
        "sintercard",
        -3,
        &["readonly", "movablekeys"],
        (0, 0, 0),
        G,
        "Intersect multiple sets and return the cardinality of the result",
        "7.0.0",
        sintercard,
    ),
    spec("sunion", -2, RO, (1, -1, 1), G, "Add multiple sets", "1.0.0", sunion),
    spec("sdiff", -2, RO, (1, -1, 1), G, "Subtract multiple sets", "1.0.0", sdiff),
    spec(
        "sinterstore",
        -3,
        STORE,
        (1, -1, 1),
        G,
        "Intersect multiple sets and store the resulting set in a key",
        "1.0.0",
        sinterstore,
    ),
    spec(
        "sunionstore",
        -3,
        STORE,
        (1, -1, 1),
        G,
        "Add multiple sets and store the resulting set in a key",
        "1.0.0",
        sunionstore,
    ),
    spec(
        "sdiffstore",
        -3,
        STORE,
        (1, -1, 1),
        G,
        "Subtract multiple sets and store the resulting set in a key",
        "1.0.0",
        sdiffstore,
    ),
    spec("sscan", -3, RO, (1, 1, 1), G, "Incrementally iterate Set elements", "2.8.0", sscan),
];

/// SRANDMEMBER with a negative count stops past this many reply bytes and the connection is
/// dropped: Redis stops at its output-buffer limit; a count near 2^63 must not exhaust memory.
const REPLY_CAP: usize = 1 << 30;

fn read(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<Set>>, CmdError> {
    collection::read(ctx, key)
}

/// Replies `items` as a set (`~` in RESP3) or an array.
fn reply<'a>(ctx: &mut Ctx<'_>, as_set: bool, items: impl ExactSizeIterator<Item = Elem<'a>>) {
    if as_set {
        ctx.out.set(items.len());
    } else {
        ctx.out.array(items.len());
    }
    for e in items {
        ctx.out.bulk(e.as_ref());
    }
}

/// Runs `f` over `keys` at one instant (holding them when there are several).
fn at_once<R>(ctx: &mut Ctx<'_>, keys: &[Bytes], f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    if keys.len() > 1 { ctx.atomically(keys, f) } else { f(ctx) }
}

fn sadd(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let m = &a[2..];
    let n = collection::modify_unless::<Set, _>(
        ctx,
        &a[1],
        true,
        |s| m.iter().all(|x| s.contains(x)),
        |s| Ok(m.iter().filter(|x| s.insert(x)).count() as i64),
        0,
    )?;
    if n > 0 {
        ctx.notify(Class::Set, "sadd", &a[1]);
    }
    ctx.out.int(n);
    Ok(())
}

fn srem(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let m = &a[2..];
    let n = collection::modify_unless::<Set, _>(
        ctx,
        &a[1],
        false,
        |s| !m.iter().any(|x| s.contains(x)),
        |s| Ok(m.iter().filter(|x| s.remove(x)).count() as i64),
        0,
    )?;
    if n > 0 {
        ctx.notify_then_del(Class::Set, "srem", &a[1]);
    }
    ctx.out.int(n);
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = read(ctx, &a[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let yes = read(ctx, &a[1])?.is_some_and(|s| s.contains(&a[2]));
    ctx.out.int(i64::from(yes));
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let s = read(ctx, &a[1])?;
    ctx.out.array(a.len() - 2);
    for m in &a[2..] {
        ctx.out.int(i64::from(s.as_ref().is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

fn smembers(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let s = read(ctx, &a[1])?.unwrap_or_default();
    ctx.long(s.len(), |ctx| reply(ctx, true, s.iter()));
    Ok(())
}

fn srandmember(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    match a.len() {
        2 => {}
        3 => return srandmember_count(ctx, a),
        _ => return Err(SYNTAX.into()),
    }
    match read(ctx, &a[1])?.as_ref().and_then(|s| s.random().map(|e| e.to_bytes())) {
        Some(m) => ctx.out.bulk(&m),
        None => ctx.out.null(),
    }
    Ok(())
}

fn srandmember_count(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let l = parse_i64(&a[2]).ok_or(NOT_INT)?;
    if l == i64::MIN {
        return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
    }
    let s = match read(ctx, &a[1])? {
        Some(s) if l != 0 => s,
        _ => {
            ctx.out.array(0);
            return Ok(());
        }
    };
    if l > 0 {
        // Distinct members: the whole set when it has no more than asked.
        let picks = ctx.long(s.len().min(l as usize), |_| s.sample(l as usize));
        ctx.long(picks.len(), |ctx| reply(ctx, false, picks.into_iter()));
        return Ok(());
    }
    let n = l.unsigned_abs() as usize;
    ctx.long(n, |ctx| {
        ctx.out.array(n);
        for i in 0..n {
            if i % 1024 == 0 && ctx.out.buf.len() > REPLY_CAP {
                // Closed without the rest of its output, as Redis frees a client past its limit.
                ctx.client.close = true;
                ctx.client.discard = true;
                return;
            }
            let e = s.random().expect("not empty");
            ctx.out.bulk(e.as_ref());
        }
    });
    Ok(())
}

/// What SPOP with a count took out.
enum Popped {
    /// The whole set (the key is gone).
    All(Set),
    /// Some members.
    Some(Vec<Bytes>),
}

fn spop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    match a.len() {
        2 => {}
        3 => return spop_count(ctx, a),
        _ => return Err(SYNTAX.into()),
    }
    match collection::modify::<Set, _>(ctx, &a[1], false, |s| Ok(s.pop_random()), None)? {
        Some(m) => {
            ctx.notify_then_del(Class::Set, "spop", &a[1]);
            ctx.out.bulk(&m)
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn spop_count(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let count = parse_i64(&a[2])
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| CmdError::from("ERR value is out of range, must be positive"))?;
    let popped = collection::modify_unless::<Set, _>(
        ctx,
        &a[1],
        false,
        |_| count == 0,
        |s| {
            let size = s.len();
            if count >= size {
                return Ok(Some(Popped::All(std::mem::take(s))));
            }
            let out: Vec<Bytes> = (0..count).filter_map(|_| s.pop_random()).collect();
            // Redis builds the remaining few into a new set when it pops most of one (its
            // SPOP_MOVE_STRATEGY_MUL): the rest is then encoded afresh.
            if (size - count) * 5 <= count {
                *s = s.iter().collect();
            }
            Ok(Some(Popped::Some(out)))
        },
        None,
    )?;
    if popped.is_some() {
        ctx.notify_then_del(Class::Set, "spop", &a[1]);
    }
    match popped {
        None => ctx.out.set(0),
        Some(Popped::Some(out)) => {
            ctx.out.set(out.len());
            for m in out {
                ctx.out.bulk(&m);
            }
        }
        Some(Popped::All(s)) => ctx.long(s.len(), |ctx| {
            // Redis replies the whole set as SUNION builds it: an intset again if it can be.
            match as_fresh(&s) {
                Some(fresh) => reply(ctx, true, fresh.iter()),
                None => reply(ctx, true, s.iter()),
            }
        }),
    }
    Ok(())
}

/// `s` rebuilt fresh, if that changes its encoding (a hashtable whose members would fit an intset).
fn as_fresh(s: &Set) -> Option<Set> {
    let fits = !s.is_intset()
        && s.len() <= crate::types::set_max_intset_entries()
        && s.iter().all(|e| parse_i64(e.as_ref()).is_some());
    fits.then(|| s.iter().collect())
}

fn smove(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (src, dst, m) = (&a[1], &a[2], &a[3]);
    let moved = ctx.atomically(&a[1..3], |ctx| -> Result<bool, CmdError> {
        // Redis's order: a missing source answers 0 before either type is checked.
        let Some(s) = collection::peek::<Set>(ctx, src)? else { return Ok(false) };
        collection::peek::<Set>(ctx, dst)?;
        let present = s.contains(m);
        // Let go of the snapshot, or the write below would copy the set.
        drop(s);
        if src == dst || !present {
            return Ok(present);
        }
        collection::modify::<Set, _>(ctx, src, false, |s| Ok(s.remove(m)), false)?;
        // Redis's order: the source's events, then the destination's (`new` included).
        ctx.notify_then_del(Class::Set, "srem", src);
        if collection::modify_unless::<Set, _>(ctx, dst, true, |d| d.contains(m), |d| Ok(d.insert(m)), false)? {
            ctx.notify(Class::Set, "sadd", dst);
        }
        Ok(true)
    })?;
    ctx.out.int(i64::from(moved));
    Ok(())
}

/// The sets at `keys` (`None` for a missing key); WRONGTYPE for the first key of another type.
fn load(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Vec<Option<Arc<Set>>>, CmdError> {
    keys.iter().map(|k| read(ctx, k)).collect()
}

/// Replaces `dst` with `result` (deleting it when empty, whatever it held) and publishes `event`
/// (or `del`, if an empty result removed a key); returns its size.
fn store(ctx: &mut Ctx<'_>, dst: &[u8], result: Set, event: &'static str) -> i64 {
    let n = result.len();
    let removed = ctx.update(dst, |cur| {
        if n == 0 {
            cur.delete()
        } else {
            cur.put(Entry::new(Value::Set(Arc::new(result))));
            false
        }
    });
    if n > 0 {
        ctx.notify(Class::Set, event, dst);
    } else if removed {
        ctx.notify(Class::Generic, "del", dst);
    }
    n as i64
}

/// What an intersection produces.
enum Inter<'a> {
    /// The members, as a set reply.
    Reply,
    /// Their number, stopping at a limit (0: none).
    Card(u64),
    /// A new set stored at this key.
    Store(&'a [u8]),
}

fn sinter_generic(ctx: &mut Ctx<'_>, keys: &[Bytes], how: Inter<'_>) -> CmdResult {
    let loaded = load(ctx, keys)?;
    let mut sets: Vec<Arc<Set>> = loaded.into_iter().flatten().collect();
    if sets.len() < keys.len() {
        // A missing key is an empty set: so is the intersection.
        match how {
            Inter::Reply => ctx.out.set(0),
            Inter::Card(_) => ctx.out.int(0),
            Inter::Store(dst) => {
                let n = store(ctx, dst, Set::new(), "sinterstore");
                ctx.out.int(n);
            }
        }
        return Ok(());
    }
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().expect("at least one key");
    let in_all = |e: &Elem<'_>| rest.iter().all(|s| Arc::ptr_eq(s, first) || s.contains_elem(e));
    let work = first.len() * sets.len();
    match how {
        Inter::Card(limit) => {
            let n = ctx.long(work, |_| {
                let mut n = 0u64;
                for e in first.iter() {
                    if in_all(&e) {
                        n += 1;
                        if n == limit {
                            break;
                        }
                    }
                }
                n
            });
            ctx.out.int(n as i64);
        }
        Inter::Reply => {
            let found: Vec<Elem<'_>> = ctx.long(work, |_| first.iter().filter(in_all).collect());
            ctx.long(found.len(), |ctx| reply(ctx, true, found.into_iter()));
        }
        Inter::Store(dst) => {
            let result: Set = ctx.long(work, |_| first.iter().filter(in_all).collect());
            let n = store(ctx, dst, result, "sinterstore");
            ctx.out.int(n);
        }
    }
    Ok(())
}

fn sinter(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    at_once(ctx, &a[1..], |ctx| sinter_generic(ctx, &a[1..], Inter::Reply))
}

fn sinterstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ctx.atomically(&a[1..], |ctx| sinter_generic(ctx, &a[2..], Inter::Store(&a[1])))
}

fn sintercard(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n =
        parse_i64(&a[1]).filter(|&n| n >= 1).ok_or_else(|| CmdError::from("ERR numkeys should be greater than 0"))?;
    if n as u64 > (a.len() - 2) as u64 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    let keys = &a[2..2 + n as usize];
    let mut limit = 0;
    let mut i = 2 + keys.len();
    while i < a.len() {
        if is(&a[i], "limit") && i + 1 < a.len() {
            i += 1;
            limit = parse_i64(&a[i])
                .and_then(|l| u64::try_from(l).ok())
                .ok_or_else(|| CmdError::from("ERR LIMIT can't be negative"))?;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    at_once(ctx, keys, |ctx| sinter_generic(ctx, keys, Inter::Card(limit)))
}

/// SUNION or SDIFF of the sets at `keys`, built fresh as Redis builds it.
fn union_or_diff(ctx: &mut Ctx<'_>, keys: &[Bytes], diff: bool) -> Result<Set, CmdError> {
    let sets = load(ctx, keys)?;
    let work = sets.iter().flatten().map(|s| s.len()).sum();
    Ok(ctx
        .long(work, |_| if diff { difference(&sets) } else { sets.iter().flatten().flat_map(|s| s.iter()).collect() }))
}

/// Redis 7.0's SDIFF, including its choice of algorithm (which decides the result's encoding:
/// the second one starts from a copy of the first set and removes from it).
fn difference(sets: &[Option<Arc<Set>>]) -> Set {
    let Some(first) = &sets[0] else { return Set::new() };
    let others: Vec<&Arc<Set>> = sets[1..].iter().flatten().collect();
    if others.iter().any(|s| Arc::ptr_eq(s, first)) {
        return Set::new();
    }
    let one = first.len() * (others.len() + 1) / 2;
    let two = first.len() + others.iter().map(|s| s.len()).sum::<usize>();
    if one <= two {
        return first.iter().filter(|e| !others.iter().any(|s| s.contains_elem(e))).collect();
    }
    let mut out: Set = first.iter().collect();
    for s in others {
        for e in s.iter() {
            out.remove(e.as_ref());
        }
        if out.is_empty() {
            break;
        }
    }
    out
}

fn sunion(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let s = at_once(ctx, &a[1..], |ctx| union_or_diff(ctx, &a[1..], false))?;
    ctx.long(s.len(), |ctx| reply(ctx, true, s.iter()));
    Ok(())
}

fn sdiff(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let s = at_once(ctx, &a[1..], |ctx| union_or_diff(ctx, &a[1..], true))?;
    ctx.long(s.len(), |ctx| reply(ctx, true, s.iter()));
    Ok(())
}

fn store_of(ctx: &mut Ctx<'_>, a: &[Bytes], diff: bool) -> CmdResult {
    let n = ctx.atomically(&a[1..], |ctx| -> Result<i64, CmdError> {
        let s = union_or_diff(ctx, &a[2..], diff)?;
        Ok(store(ctx, &a[1], s, if diff { "sdiffstore" } else { "sunionstore" }))
    })?;
    ctx.out.int(n);
    Ok(())
}

fn sunionstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    store_of(ctx, a, false)
}

fn sdiffstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    store_of(ctx, a, true)
}

fn sscan(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let Some((cursor, s, o)) = collection::scan_start::<Set>(ctx, a)? else { return Ok(()) };
    let (next, items) = ctx.long(o.count.min(s.len()), |_| s.scan(cursor, o.count));
    let items: Vec<Elem<'_>> =
        items.into_iter().filter(|e| o.pattern.is_none_or(|p| glob::matches(p, e.as_ref(), false))).collect();
    collection::scan_header(ctx, next);
    reply(ctx, false, items.into_iter());
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::{encode, read_reply, run_table, start};
    use tokio::io::AsyncWriteExt;

    const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

    /// Replies recorded from redis-server 7.0.15 (the same requests in the same order).
    #[tokio::test]
    async fn set_commands_reply_as_redis() {
        run_table(&[
            ("SADD s 3 1 2", ":3\r\n"),
            ("SADD s 2 4", ":1\r\n"),
            ("SCARD s", ":4\r\n"),
            ("SISMEMBER s 2", ":1\r\n"),
            ("SISMEMBER s 02", ":0\r\n"),
            ("SMISMEMBER s 1 9 3", "*3\r\n:1\r\n:0\r\n:1\r\n"),
            ("SMEMBERS s", "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
            ("OBJECT ENCODING s", "$6\r\nintset\r\n"),
            ("SADD s x", ":1\r\n"),
            ("OBJECT ENCODING s", "$9\r\nhashtable\r\n"),
            ("SREM s x 3 nope", ":2\r\n"),
            ("SREM nokey a", ":0\r\n"),
            ("OBJECT ENCODING s", "$9\r\nhashtable\r\n"),
            ("SCARD nokey", ":0\r\n"),
            ("SMEMBERS nokey", "*0\r\n"),
            ("SADD t 2 4 6", ":3\r\n"),
            ("SINTER s t", "*2\r\n$1\r\n2\r\n$1\r\n4\r\n"),
            ("SINTER s t nokey", "*0\r\n"),
            ("SINTERCARD 2 s t", ":2\r\n"),
            ("SINTERCARD 2 s t LIMIT 1", ":1\r\n"),
            ("SINTERCARD 0 s", "-ERR numkeys should be greater than 0\r\n"),
            ("SINTERCARD 3 s t", "-ERR Number of keys can't be greater than number of args\r\n"),
            ("SINTERCARD 1 s LIMIT -1", "-ERR LIMIT can't be negative\r\n"),
            ("SINTERCARD 1 s LIMIT", "-ERR syntax error\r\n"),
            ("SINTERCARD 1 s BAR 1", "-ERR syntax error\r\n"),
            ("SUNION s t nokey", "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n4\r\n$1\r\n6\r\n"),
            ("SDIFF s t", "*1\r\n$1\r\n1\r\n"),
            ("SDIFF t s nokey", "*1\r\n$1\r\n6\r\n"),
            ("SDIFF nokey s", "*0\r\n"),
            ("SET str v", "+OK\r\n"),
            ("SINTER s str", WRONGTYPE),
            ("SINTER nokey str", WRONGTYPE),
            ("SUNION str", WRONGTYPE),
            ("SDIFFSTORE str t s", ":1\r\n"),
            ("TYPE str", "+set\r\n"),
            ("SMEMBERS str", "*1\r\n$1\r\n6\r\n"),
            ("SINTERSTORE str s nokey", ":0\r\n"),
            ("EXISTS str", ":0\r\n"),
            ("SUNIONSTORE u s t", ":4\r\n"),
            ("SMEMBERS u", "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n4\r\n$1\r\n6\r\n"),
            ("SMOVE s t 1", ":1\r\n"),
            ("SMOVE s t 1", ":0\r\n"),
            ("SMOVE s s 2", ":1\r\n"),
            ("SMOVE s s 9", ":0\r\n"),
            ("SMOVE nokey t 1", ":0\r\n"),
            ("SET str v", "+OK\r\n"),
            ("SMOVE s str 2", WRONGTYPE),
            ("SMOVE str s 2", WRONGTYPE),
            ("SMOVE s d 2", ":1\r\n"),
            ("SMEMBERS d", "*1\r\n$1\r\n2\r\n"),
            ("EXISTS s", ":1\r\n"),
            ("SPOP nokey", "$-1\r\n"),
            ("SPOP nokey 3", "*0\r\n"),
            ("SPOP t -1", "-ERR value is out of range, must be positive\r\n"),
            ("SPOP t x", "-ERR value is out of range, must be positive\r\n"),
            ("SPOP t 0", "*0\r\n"),
            ("SPOP t 1 2", "-ERR syntax error\r\n"),
            ("SPOP str", WRONGTYPE),
            ("SPOP t 10", "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n4\r\n$1\r\n6\r\n"),
            ("EXISTS t", ":0\r\n"),
            ("SRANDMEMBER nokey", "$-1\r\n"),
            ("SRANDMEMBER nokey 5", "*0\r\n"),
            ("SRANDMEMBER d 0", "*0\r\n"),
            ("SRANDMEMBER d 5", "*1\r\n$1\r\n2\r\n"),
            ("SRANDMEMBER d -3", "*3\r\n$1\r\n2\r\n$1\r\n2\r\n$1\r\n2\r\n"),
            ("SRANDMEMBER d x", "-ERR value is not an integer or out of range\r\n"),
            (
                "SRANDMEMBER d -9223372036854775808",
                "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
            ),
            ("SRANDMEMBER d 1 2", "-ERR syntax error\r\n"),
            ("SRANDMEMBER str 1", WRONGTYPE),
            ("SADD n 1 2 3", ":3\r\n"),
            ("SSCAN n 0", "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
            ("SSCAN n 0 MATCH 2", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n2\r\n"),
            ("SSCAN n x", "-ERR invalid cursor\r\n"),
            ("SSCAN nokey 0 COUNT 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
            ("SSCAN str 0", WRONGTYPE),
            ("SSCAN n 0 COUNT 0", "-ERR syntax error\r\n"),
            ("SSCAN n 0 TYPE set", "-ERR syntax error\r\n"),
            ("SSCAN n -1", "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
            ("SADD e 9223372036854775808 01 +1 -0", ":4\r\n"),
            ("OBJECT ENCODING e", "$9\r\nhashtable\r\n"),
            ("SADD f", "-ERR wrong number of arguments for 'sadd' command\r\n"),
            ("SINTERSTORE", "-ERR wrong number of arguments for 'sinterstore' command\r\n"),
            ("HELLO 3", "%7\r\n..."),
            ("SMEMBERS n", "~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
            ("SPOP nokey 2", "~0\r\n"),
            ("SRANDMEMBER n 5", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
            ("SRANDMEMBER nokey", "_\r\n"),
            ("SINTER n nokey", "~0\r\n"),
            ("SPOP n 5", "~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ])
        .await;
    }

    /// Conversions at the default threshold (tests in this process share the thresholds in
    /// force, so CONFIG SET of `set-max-intset-entries` is tested against redis-server in
    /// `tests/tests/set_differential.rs`, on a server of its own).
    #[tokio::test]
    async fn encodings_convert_past_512_and_stay() {
        let ints: Vec<String> = (0..512).map(|i| i.to_string()).collect();
        let sadd = format!("SADD s {}", ints.join(" "));
        run_table(&[
            (&sadd, ":512\r\n"),
            ("OBJECT ENCODING s", "$6\r\nintset\r\n"),
            ("SADD s 512", ":1\r\n"),
            ("OBJECT ENCODING s", "$9\r\nhashtable\r\n"),
            ("SREM s 512 511", ":2\r\n"),
            ("OBJECT ENCODING s", "$9\r\nhashtable\r\n"),
            // Results built fresh are intsets again, whatever their sources.
            ("SUNIONSTORE d s", ":511\r\n"),
            ("OBJECT ENCODING d", "$6\r\nintset\r\n"),
            ("SMOVE s fresh 7", ":1\r\n"),
            ("OBJECT ENCODING fresh", "$6\r\nintset\r\n"),
            ("SPOP s 500", "*500\r\n..."),
            ("OBJECT ENCODING s", "$6\r\nintset\r\n"),
            ("SADD t a", ":1\r\n"),
            ("SMOVE t fresh2 a", ":1\r\n"),
            ("OBJECT ENCODING fresh2", "$9\r\nhashtable\r\n"),
        ])
        .await;
    }

    /// SSCAN over a big table: every member comes back (cursor to 0), each call about COUNT.
    #[tokio::test]
    async fn sscan_visits_a_large_set_whole() {
        let addr = start(|_| {}).await;
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
        s.write_all(&encode(&format!("SADD big {}", members.join(" ")))).await.unwrap();
        assert_eq!(read_reply(&mut s, &mut buf).await, b":1000\r\n");
        let (mut cursor, mut seen, mut calls) = ("0".to_string(), std::collections::BTreeSet::new(), 0);
        loop {
            s.write_all(&encode(&format!("SSCAN big {cursor} COUNT 100"))).await.unwrap();
            let r = String::from_utf8(read_reply(&mut s, &mut buf).await).unwrap();
            let lines: Vec<&str> = r.split("\r\n").collect();
            cursor = lines[2].to_string();
            seen.extend(lines[4..].iter().filter(|l| l.starts_with('m')).map(|l| l.to_string()));
            calls += 1;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!((seen.len(), calls), (1000, 10));
    }
}
