//! List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM
//! LPOS LMOVE RPOPLPUSH LMPOP and the blocking BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP.
//!
//! Writes change the stored [`List`] in place under the key's lock (`collection::modify_current`),
//! after the checks Redis makes first (a write that Redis answers without changing anything — LREM
//! with no match, LINSERT without its pivot, LPOP with count 0 — leaves the key untouched, so WATCH
//! and client tracking see what they see in Redis). Pops write their replies straight from the
//! list's chunks into the reply buffer, without an allocation per element. Commands on several
//! keys (LMOVE, RPOPLPUSH, LMPOP, BLPOP of several keys) hold them with `Ctx::atomically`.
//! Blocking commands are their non-blocking form plus `Ctx::block` (see [`crate::blocking`]).

use super::collection::{self, Collection};
use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, WRONGTYPE, arg_i64, is, offload, spec};
use crate::blocking::{self, Nil};
use crate::frame::parse_i64;
use crate::notify::Class;
use crate::reply::Reply;
use crate::types::list::List;
use bytes::Bytes;
use std::time::Duration;

const G: &str = "list";
const WF: &[&str] = &["write", "denyoom", "fast"];
const BLOCKING: &[&str] = &["write", "noscript", "blocking"];
const BLOCKING_MOVE: &[&str] = &["write", "denyoom", "noscript", "blocking"];
const BLOCKING_SUMMARY: &str =
    "Pop an element from a list, push it to another list and return it; or block until one is available";

/// `LPOP key count` with a count that is not a non-negative integer.
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";

/// The list family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec("lpush", -3, WF, (1, 1, 1), G, "Prepend one or multiple elements to a list", "1.0.0", lpush),
    spec("rpush", -3, WF, (1, 1, 1), G, "Append one or multiple elements to a list", "1.0.0", rpush),
    spec("lpushx", -3, WF, (1, 1, 1), G, "Prepend an element to a list, only if the list exists", "2.2.0", lpushx),
    spec("rpushx", -3, WF, (1, 1, 1), G, "Append an element to a list, only if the list exists", "2.2.0", rpushx),
    spec("lpop", -2, &["write", "fast"], (1, 1, 1), G, "Remove and get the first elements in a list", "1.0.0", lpop),
    spec("rpop", -2, &["write", "fast"], (1, 1, 1), G, "Remove and get the last elements in a list", "1.0.0", rpop),
    spec("llen", 2, &["readonly", "fast"], (1, 1, 1), G, "Get the length of a list", "1.0.0", llen),
    spec("lrange", 4, &["readonly"], (1, 1, 1), G, "Get a range of elements from a list", "1.0.0", lrange),
    spec("lindex", 3, &["readonly"], (1, 1, 1), G, "Get an element from a list by its index", "1.0.0", lindex),
    spec(
        "lset",
        4,
        &["write", "denyoom"],
        (1, 1, 1),
        G,
        "Set the value of an element in a list by its index",
        "1.0.0",
        lset,
    ),
    spec(
        "linsert",
        5,
        &["write", "denyoom"],
        (1, 1, 1),
        G,
        "Insert an element before or after another element in a list",
        "2.2.0",
        linsert,
    ),
    spec("lrem", 4, &["write"], (1, 1, 1), G, "Remove elements from a list", "1.0.0", lrem),
    spec("ltrim", 4, &["write"], (1, 1, 1), G, "Trim a list to the specified range", "1.0.0", ltrim),
    spec("lpos", -3, &["readonly"], (1, 1, 1), G, "Return the index of matching elements on a list", "6.0.6", lpos),
    spec(
        "lmove",
        5,
        &["write", "denyoom"],
        (1, 2, 1),
        G,
        "Pop an element from a list, push it to another list and return it",
        "6.2.0",
        lmove,
    ),
    spec(
        "rpoplpush",
        3,
        &["write", "denyoom"],
        (1, 2, 1),
        G,
        "Remove the last element in a list, prepend it to another list and return it",
        "1.2.0",
        rpoplpush,
    ),
    spec("lmpop", -4, &["write", "movablekeys"], (0, 0, 0), G, "Pop elements from a list", "7.0.0", lmpop),
    spec(
        "blpop",
        -3,
        BLOCKING,
        (1, -2, 1),
        G,
        "Remove and get the first element in a list, or block until one is available",
        "2.0.0",
        blpop,
    ),
    spec(
        "brpop",
        -3,
        BLOCKING,
        (1, -2, 1),
        G,
        "Remove and get the last element in a list, or block until one is available",
        "2.0.0",
        brpop,
    ),
    spec("blmove", 6, BLOCKING_MOVE, (1, 2, 1), G, BLOCKING_SUMMARY, "6.2.0", blmove),
    spec("brpoplpush", 4, BLOCKING_MOVE, (1, 2, 1), G, BLOCKING_SUMMARY, "2.2.0", brpoplpush),
    spec(
        "blmpop",
        -5,
        &["write", "blocking", "movablekeys"],
        (0, 0, 0),
        G,
        "Pop elements from a list, or block until one is available",
        "7.0.0",
        blmpop,
    ),
];

/// The list at `key`, counting a hit or miss (Redis's `lookupKeyRead`).
fn read(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<std::sync::Arc<List>>, CmdError> {
    collection::read(ctx, key)
}

/// Under `key`'s lock: `check` sees the list (`None` if absent; WRONGTYPE if another type) and
/// decides whether to write (`Ok(Some(c))`); then `f` changes the list in place with `c` (an
/// absent key is created, and deleted again if `f` leaves it empty). `Ok(None)`: nothing written.
fn with_list<C, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    check: impl FnOnce(Option<&List>) -> Result<Option<C>, CmdError>,
    f: impl FnOnce(&mut List, C) -> R,
) -> Result<Option<R>, CmdError> {
    ctx.update(key, |cur| {
        let list = match cur.get() {
            None => None,
            Some(e) => Some(&**List::of(&e.value).ok_or_else(|| CmdError::from(WRONGTYPE))?),
        };
        let Some(c) = check(list)? else { return Ok(None) };
        collection::modify_current::<List, _>(cur, true, |_| false, |l| Ok(Some(f(l, c))), None)
    })
}

/// Runs `f` with the reply buffer lent out of `ctx`, so that a pop can write its elements into
/// it while the list is open inside `Ctx::update`. `f` must not write to `ctx.out`.
fn with_out<R>(ctx: &mut Ctx<'_>, f: impl FnOnce(&mut Ctx<'_>, &mut Reply) -> R) -> R {
    let mut out = Reply { buf: std::mem::take(&mut ctx.out.buf), resp3: ctx.out.resp3 };
    let r = f(ctx, &mut out);
    ctx.out.buf = out.buf;
    r
}

/// Pops one element from the head (`left`) or tail into the reply.
fn pop_one(l: &mut List, left: bool, out: &mut Reply) {
    if left {
        l.pop_front_with(|e| out.bulk(&e));
    } else {
        l.pop_back_with(|e| out.bulk(&e));
    }
}

/// Pops up to `n` elements into the reply as an array.
fn pop_many(l: &mut List, left: bool, n: usize, out: &mut Reply) {
    let n = n.min(l.len());
    out.array(n);
    offload(n, || {
        for _ in 0..n {
            pop_one(l, left, out);
        }
    });
}

fn push_one(l: &mut List, left: bool, v: &[u8]) {
    if left { l.push_front(v) } else { l.push_back(v) }
}

/// `LEFT` (true) or `RIGHT`.
fn direction(a: &[u8]) -> Result<bool, CmdError> {
    if is(a, "left") {
        Ok(true)
    } else if is(a, "right") {
        Ok(false)
    } else {
        Err(SYNTAX.into())
    }
}

/// An index counted from the tail if negative, if it names an element of a list of `len`.
fn resolve(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// The inclusive range LRANGE and LTRIM mean by `start` and `end` (Redis's conversion), as a
/// half-open range; empty if it selects nothing.
fn span(start: i64, end: i64, len: usize) -> std::ops::Range<usize> {
    let llen = len as i64;
    let start = if start < 0 { (llen + start).max(0) } else { start };
    let end = if end < 0 { llen + end } else { end };
    if start > end || start >= llen {
        return 0..0;
    }
    start as usize..(end.min(llen - 1) + 1) as usize
}

fn push(ctx: &mut Ctx<'_>, a: &[Bytes], left: bool, create: bool) -> CmdResult {
    let n = with_list(
        ctx,
        &a[1],
        |l| Ok((create || l.is_some()).then_some(())),
        |l, ()| {
            for v in &a[2..] {
                push_one(l, left, v);
            }
            l.len() as i64
        },
    )?;
    if n.is_some() {
        ctx.notify(Class::List, if left { "lpush" } else { "rpush" }, &a[1]);
    }
    ctx.out.int(n.unwrap_or(0));
    Ok(())
}

fn lpush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    push(ctx, a, true, true)
}

fn rpush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    push(ctx, a, false, true)
}

fn lpushx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    push(ctx, a, true, false)
}

fn rpushx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    push(ctx, a, false, false)
}

fn pop(ctx: &mut Ctx<'_>, a: &[Bytes], left: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(format!("ERR wrong number of arguments for '{}' command", ctx.name).into());
    }
    let count = match a.get(2) {
        None => None,
        Some(c) => Some(parse_i64(c).filter(|n| *n >= 0).ok_or(CmdError::from(NOT_POSITIVE))? as usize),
    };
    let mut exists = false;
    with_out(ctx, |ctx, out| {
        let popped = with_list(
            ctx,
            &a[1],
            |l| {
                exists = l.is_some();
                Ok(l.filter(|_| count != Some(0)).map(|_| ()))
            },
            |l, ()| match count {
                None => pop_one(l, left, out),
                Some(n) => pop_many(l, left, n, out),
            },
        )?;
        match (popped, count) {
            (Some(()), _) => {}
            (None, None) => out.null(),
            (None, Some(_)) if exists => out.array(0),
            (None, Some(_)) => out.null_array(),
        }
        if popped.is_some() {
            ctx.notify_then_del(Class::List, if left { "lpop" } else { "rpop" }, &a[1]);
        }
        Ok(())
    })
}

fn lpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    pop(ctx, a, true)
}

fn rpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    pop(ctx, a, false)
}

fn llen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = read(ctx, &a[1])?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (start, end) = (arg_i64(&a[2])?, arg_i64(&a[3])?);
    let Some(l) = read(ctx, &a[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    let r = span(start, end, l.len());
    ctx.long(r.len(), |ctx| ctx.out.bulks(l.iter_from(r.start).take(r.len())));
    Ok(())
}

fn lindex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let Some(l) = read(ctx, &a[1])? else {
        ctx.out.null();
        return Ok(());
    };
    let i = arg_i64(&a[2])?;
    match resolve(i, l.len()).and_then(|i| l.get(i)) {
        Some(e) => ctx.out.bulk(&e),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    with_list(
        ctx,
        &a[1],
        |l| {
            let l = l.ok_or(CmdError::from("ERR no such key"))?;
            let i = resolve(arg_i64(&a[2])?, l.len()).ok_or(CmdError::from("ERR index out of range"))?;
            Ok(Some(i))
        },
        |l, i| l.set(i, &a[3]),
    )?;
    ctx.notify(Class::List, "lset", &a[1]);
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let before = if is(&a[2], "before") {
        true
    } else if is(&a[2], "after") {
        false
    } else {
        return Err(SYNTAX.into());
    };
    let mut missing = 0;
    let n = with_list(
        ctx,
        &a[1],
        |l| {
            let Some(l) = l else { return Ok(None) };
            let at = offload(l.len(), || l.iter().position(|e| *e == *a[3]));
            missing = -1;
            Ok(at)
        },
        |l, at| {
            l.insert(if before { at } else { at + 1 }, &a[4]);
            l.len() as i64
        },
    )?;
    if n.is_some() {
        ctx.notify(Class::List, "linsert", &a[1]);
    }
    ctx.out.int(n.unwrap_or(missing));
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let count = arg_i64(&a[2])?;
    let v = &a[3];
    let removed = with_list(
        ctx,
        &a[1],
        |l| Ok(l.filter(|l| offload(l.len(), || l.iter().any(|e| *e == **v))).map(|_| ())),
        |l, ()| offload(l.len(), || l.remove_matching(v, count.unsigned_abs() as usize, count < 0)),
    )?;
    if removed.is_some_and(|n| n > 0) {
        ctx.notify_then_del(Class::List, "lrem", &a[1]);
    }
    ctx.out.int(removed.unwrap_or(0) as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (start, end) = (arg_i64(&a[2])?, arg_i64(&a[3])?);
    let trimmed = with_list(
        ctx,
        &a[1],
        |l| Ok(l.map(|_| ())),
        |l, ()| {
            let r = span(start, end, l.len());
            offload(l.len() - r.len(), || l.trim(r));
        },
    )?;
    if trimmed.is_some() {
        ctx.notify_then_del(Class::List, "ltrim", &a[1]);
    }
    ctx.out.ok();
    Ok(())
}

/// LPOS options: `RANK` (0 refused; negative = from the tail), `COUNT` (0 = all), `MAXLEN`.
fn lpos(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        let non_negative = |msg: &'static str| parse_i64(&a[j + 1]).filter(|v| *v >= 0).ok_or(CmdError::from(msg));
        if is(&a[j], "rank") && more {
            rank = arg_i64(&a[j + 1])?;
            if rank == 0 {
                return Err(RANK_ZERO.into());
            }
        } else if is(&a[j], "count") && more {
            count = Some(non_negative("ERR COUNT can't be negative")?);
        } else if is(&a[j], "maxlen") && more {
            maxlen = non_negative("ERR MAXLEN can't be negative")?;
        } else {
            return Err(SYNTAX.into());
        }
        j += 2;
    }
    let Some(l) = read(ctx, &a[1])? else {
        if count.is_some() {
            ctx.out.array(0)
        } else {
            ctx.out.null()
        }
        return Ok(());
    };
    // A negative rank searches from the tail; as in Redis, RANK -9223372036854775808 stays
    // negative once negated, so it takes the first match from the tail and ignores COUNT.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let found = ctx.long(l.len(), |_| {
        if from_tail {
            find(l.iter().rev(), &a[2], rank, count, maxlen)
        } else {
            find(l.iter(), &a[2], rank, count, maxlen)
        }
    });
    let last = l.len() as i64 - 1;
    let index = |i: i64| if from_tail { last - i } else { i };
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(index(i));
            }
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(index(i)),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

/// The positions (in walking order) of the matches LPOS reports, as Redis's loop finds them.
fn find<'a>(
    it: impl Iterator<Item = crate::types::list::Elem<'a>>,
    v: &[u8],
    rank: i64,
    count: Option<i64>,
    maxlen: i64,
) -> Vec<i64> {
    let mut found = Vec::new();
    let mut matches = 0i64;
    for (i, e) in it.enumerate() {
        let i = i as i64;
        if maxlen != 0 && i >= maxlen {
            break;
        }
        if *e != *v {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(i);
            match count {
                None => break,
                Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
                Some(_) => {}
            }
        }
    }
    found
}

/// LMOVE's work: pops from `src`'s `from_left` end and pushes onto `dst`'s `to_left` end,
/// holding both keys. `None` if `src` is absent; WRONGTYPE for `src`, then for `dst`, before
/// anything is popped (Redis's order).
fn move_one(
    ctx: &mut Ctx<'_>,
    src: &Bytes,
    dst: &Bytes,
    from_left: bool,
    to_left: bool,
) -> Result<Option<Bytes>, CmdError> {
    let moved = move_held(ctx, src, dst, from_left, to_left)?;
    if moved.is_some() {
        // Redis's order: the push on the destination, then the pop (and `del`) of the source.
        ctx.notify(Class::List, if to_left { "lpush" } else { "rpush" }, dst);
        ctx.notify_then_del(Class::List, if from_left { "lpop" } else { "rpop" }, src);
    }
    Ok(moved)
}

fn move_held(
    ctx: &mut Ctx<'_>,
    src: &Bytes,
    dst: &Bytes,
    from_left: bool,
    to_left: bool,
) -> Result<Option<Bytes>, CmdError> {
    let take = |l: &mut List| -> Bytes {
        let v = if from_left { l.pop_front() } else { l.pop_back() };
        v.expect("checked to be non-empty")
    };
    if src == dst {
        // A rotation: one write to one key, which keeps its TTL even when it holds one element.
        return with_list(
            ctx,
            src,
            |l| Ok(l.map(|_| ())),
            |l, ()| {
                let v = take(l);
                push_one(l, to_left, &v);
                v
            },
        );
    }
    ctx.atomically([src, dst], |ctx| {
        if collection::peek::<List>(ctx, src)?.is_none() {
            return Ok(None);
        }
        if ctx.peek(dst).is_some_and(|e| List::of(&e.value).is_none()) {
            return Err(WRONGTYPE.into());
        }
        let v = with_list(ctx, src, |l| Ok(l.map(|_| ())), |l, ()| take(l))?;
        if let Some(v) = &v {
            with_list(ctx, dst, |_| Ok(Some(())), |l, ()| push_one(l, to_left, v))?;
        }
        Ok(v)
    })
}

fn reply_moved(ctx: &mut Ctx<'_>, v: Option<Bytes>) {
    match v {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
}

fn lmove(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (from, to) = (direction(&a[3])?, direction(&a[4])?);
    let v = move_one(ctx, &a[1], &a[2], from, to)?;
    reply_moved(ctx, v);
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let v = move_one(ctx, &a[1], &a[2], false, true)?;
    reply_moved(ctx, v);
    Ok(())
}

/// The blocking move (BLMOVE, BRPOPLPUSH): served at once if `src` has elements, else it blocks.
fn block_move(ctx: &mut Ctx<'_>, a: &[Bytes], from: bool, to: bool, timeout: Option<Duration>) -> CmdResult {
    let keys = std::slice::from_ref(&a[1]);
    let moved = if ctx.candidates(keys).is_empty() { None } else { move_one(ctx, &a[1], &a[2], from, to)? };
    // Redis 7.0 answers a null bulk where it cannot block (MULTI), but a timed-out BLMOVE gets
    // the null array of every blocked list client.
    let nil = if ctx.block == blocking::BlockMode::Never { Nil::Bulk } else { Nil::Array };
    match moved {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.block(keys, timeout, nil)?,
    }
    Ok(())
}

fn blmove(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (from, to) = (direction(&a[3])?, direction(&a[4])?);
    let timeout = blocking::parse_timeout(&a[5])?;
    block_move(ctx, a, from, to, timeout)
}

fn brpoplpush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let timeout = blocking::parse_timeout(&a[3])?;
    block_move(ctx, a, false, true, timeout)
}

/// Pops from the first of `keys` (those `Ctx::candidates` offers) that holds a non-empty list,
/// replying `[key, element]` (`count` = None: BLPOP, BRPOP) or `[key, [elements…]]` (LMPOP,
/// BLMPOP). WRONGTYPE if a key before it holds another type. False if none could serve.
fn pop_first(ctx: &mut Ctx<'_>, keys: &[Bytes], left: bool, count: Option<usize>) -> Result<bool, CmdError> {
    let serve = |ctx: &mut Ctx<'_>| -> Result<bool, CmdError> {
        for key in ctx.candidates(keys) {
            let served = with_out(ctx, |ctx, out| {
                with_list(
                    ctx,
                    key,
                    |l| Ok(l.filter(|l| !l.is_empty()).map(|_| ())),
                    |l, ()| {
                        out.array(2);
                        out.bulk(key);
                        match count {
                            None => pop_one(l, left, out),
                            Some(n) => pop_many(l, left, n, out),
                        }
                    },
                )
            })?;
            if served.is_some() {
                ctx.notify_then_del(Class::List, if left { "lpop" } else { "rpop" }, key);
                return Ok(true);
            }
        }
        Ok(false)
    };
    if keys.len() > 1 { ctx.atomically(keys, serve) } else { serve(ctx) }
}

fn block_pop(ctx: &mut Ctx<'_>, a: &[Bytes], left: bool) -> CmdResult {
    let timeout = blocking::parse_timeout(&a[a.len() - 1])?;
    let keys = &a[1..a.len() - 1];
    if !pop_first(ctx, keys, left, None)? {
        ctx.block(keys, timeout, Nil::Array)?;
    }
    Ok(())
}

fn blpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    block_pop(ctx, a, true)
}

fn brpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    block_pop(ctx, a, false)
}

fn lmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (keys, right, count) = collection::mpop_args(a, 1, ["left", "right"])?;
    let left = !right;
    if !pop_first(ctx, keys, left, Some(count))? {
        ctx.out.null_array();
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    // Redis parses the timeout after the other arguments here.
    let (keys, right, count) = collection::mpop_args(a, 2, ["left", "right"])?;
    let left = !right;
    let timeout = blocking::parse_timeout(&a[1])?;
    if !pop_first(ctx, keys, left, Some(count))? {
        ctx.block(keys, timeout, Nil::Array)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    const WRONG: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

    #[tokio::test]
    async fn push_pop_and_ranges() {
        run_table(&[
            ("RPUSH l a b c 1 -2 300", ":6\r\n"),
            ("LPUSH l z", ":7\r\n"),
            ("LPUSHX nokey a", ":0\r\n"),
            ("RPUSHX l end", ":8\r\n"),
            ("EXISTS nokey", ":0\r\n"),
            ("LLEN l", ":8\r\n"),
            (
                "LRANGE l 0 -1",
                "*8\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\n1\r\n$2\r\n-2\r\n$3\r\n300\r\n$3\r\nend\r\n",
            ),
            ("LRANGE l -3 -2", "*2\r\n$2\r\n-2\r\n$3\r\n300\r\n"),
            ("LRANGE l 5 1", "*0\r\n"),
            ("LRANGE l x 1", "-ERR value is not an integer or out of range\r\n"),
            ("LINDEX l -1", "$3\r\nend\r\n"),
            ("LINDEX l 100", "$-1\r\n"),
            ("LINDEX nokey x", "$-1\r\n"),
            ("LINDEX l x", "-ERR value is not an integer or out of range\r\n"),
            ("LPOP l", "$1\r\nz\r\n"),
            ("RPOP l 2", "*2\r\n$3\r\nend\r\n$3\r\n300\r\n"),
            ("LPOP l 0", "*0\r\n"),
            ("LPOP nokey 0", "*-1\r\n"),
            ("LPOP nokey", "$-1\r\n"),
            ("LPOP l -1", "-ERR value is out of range, must be positive\r\n"),
            ("LPOP l x", "-ERR value is out of range, must be positive\r\n"),
            ("LPOP l 1 2", "-ERR wrong number of arguments for 'lpop' command\r\n"),
            ("RPOP l 100", "*5\r\n$2\r\n-2\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"),
            ("LPOP l", "$-1\r\n"),
            ("EXISTS l", ":0\r\n"),
            ("SET s x", "+OK\r\n"),
            ("LPUSH s a", WRONG),
            ("LPOP s 0", WRONG),
            ("LPOP s -1", "-ERR value is out of range, must be positive\r\n"),
            ("LLEN s", WRONG),
            ("LRANGE s 0 1", WRONG),
            ("HELLO 3", "%7\r\n..."),
            ("LPOP nokey", "_\r\n"),
            ("LPOP nokey 2", "_\r\n"),
            ("RPUSH r a", ":1\r\n"),
            ("LPOP r 5", "*1\r\n$1\r\na\r\n"),
        ])
        .await;
    }

    #[tokio::test]
    async fn edits_in_place() {
        run_table(&[
            ("RPUSH l a b c a d a", ":6\r\n"),
            ("LSET l 1 B", "+OK\r\n"),
            ("LSET l -1 Z", "+OK\r\n"),
            ("LSET l 6 x", "-ERR index out of range\r\n"),
            ("LSET l x x", "-ERR value is not an integer or out of range\r\n"),
            ("LSET nokey 0 x", "-ERR no such key\r\n"),
            ("LINSERT l BEFORE c C", ":7\r\n"),
            ("LINSERT l after c 9", ":8\r\n"),
            ("LINSERT l after nothere 9", ":-1\r\n"),
            ("LINSERT nokey after a 9", ":0\r\n"),
            ("LINSERT l middle a 9", "-ERR syntax error\r\n"),
            ("LRANGE l 0 -1", "*8\r\n$1\r\na\r\n$1\r\nB\r\n$1\r\nC\r\n$1\r\nc\r\n$1\r\n9\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nZ\r\n"),
            ("LREM l -1 a", ":1\r\n"),
            ("LREM l 0 nothere", ":0\r\n"),
            ("LREM l x a", "-ERR value is not an integer or out of range\r\n"),
            ("LPOS l a", ":0\r\n"),
            ("LPOS l 9", ":4\r\n"),
            ("LPOS l 09", "$-1\r\n"),
            ("LPOS l c RANK -1 COUNT 0", "*1\r\n:3\r\n"),
            ("LPOS l a RANK 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"),
            ("LPOS l a COUNT -1", "-ERR COUNT can't be negative\r\n"),
            ("LPOS l a MAXLEN x", "-ERR MAXLEN can't be negative\r\n"),
            ("LPOS l a RANK", "-ERR syntax error\r\n"),
            ("LPOS nokey a COUNT 1", "*0\r\n"),
            ("LTRIM l 1 -2", "+OK\r\n"),
            ("LRANGE l 0 -1", "*5\r\n$1\r\nB\r\n$1\r\nC\r\n$1\r\nc\r\n$1\r\n9\r\n$1\r\nd\r\n"),
            ("LTRIM l 5 1", "+OK\r\n"),
            ("EXISTS l", ":0\r\n"),
            ("LTRIM nokey x 1", "-ERR value is not an integer or out of range\r\n"),
        ])
        .await;
    }

    #[tokio::test]
    async fn moves_and_multi_pops() {
        run_table(&[
            ("RPUSH l a b c", ":3\r\n"),
            ("SET s x", "+OK\r\n"),
            ("LMOVE l l LEFT RIGHT", "$1\r\na\r\n"),
            ("LMOVE l s LEFT RIGHT", WRONG),
            ("LMOVE s l LEFT RIGHT", WRONG),
            ("LMOVE nokey s LEFT RIGHT", "$-1\r\n"),
            ("LMOVE l d LEFT UP", "-ERR syntax error\r\n"),
            ("LLEN l", ":3\r\n"),
            ("RPOPLPUSH l d", "$1\r\na\r\n"),
            ("LMOVE l d RIGHT RIGHT", "$1\r\nc\r\n"),
            ("LRANGE d 0 -1", "*2\r\n$1\r\na\r\n$1\r\nc\r\n"),
            ("RPUSH one x", ":1\r\n"),
            ("EXPIRE one 100", ":1\r\n"),
            ("RPOPLPUSH one one", "$1\r\nx\r\n"),
            ("TTL one", ":100\r\n"),
            ("LMPOP 0 l LEFT", "-ERR numkeys should be greater than 0\r\n"),
            ("LMPOP 2 l LEFT", "-ERR syntax error\r\n"),
            ("LMPOP 9223372036854775807 l LEFT", "-ERR syntax error\r\n"),
            ("LMPOP 1 l LEFT COUNT 0", "-ERR count should be greater than 0\r\n"),
            ("LMPOP 1 l LEFT COUNT 1 COUNT 1", "-ERR syntax error\r\n"),
            ("LMPOP 2 nokey s LEFT", WRONG),
            ("LMPOP 2 nokey d RIGHT COUNT 5", "*2\r\n$1\r\nd\r\n*2\r\n$1\r\nc\r\n$1\r\na\r\n"),
            ("LMPOP 1 nokey LEFT", "*-1\r\n"),
            ("BLPOP l s 0", "*2\r\n$1\r\nl\r\n$1\r\nb\r\n"),
            ("BLPOP nokey s 0", WRONG),
            ("BLPOP l x", "-ERR timeout is not a float or out of range\r\n"),
            ("BLPOP l -1", "-ERR timeout is negative\r\n"),
            ("BRPOPLPUSH s l 0", WRONG),
            ("BLMOVE l l UP RIGHT x", "-ERR syntax error\r\n"),
            ("BLMPOP 0 0 l LEFT", "-ERR numkeys should be greater than 0\r\n"),
            ("BLMPOP x 1 l LEFT", "-ERR timeout is not a float or out of range\r\n"),
            ("MULTI", "+OK\r\n"),
            ("BLPOP nokey 0", "+QUEUED\r\n"),
            ("BLMOVE nokey d LEFT RIGHT 0", "+QUEUED\r\n"),
            ("BRPOPLPUSH nokey d 0", "+QUEUED\r\n"),
            ("BLMPOP 0 1 nokey LEFT", "+QUEUED\r\n"),
            ("BRPOP one 0", "+QUEUED\r\n"),
            ("EXEC", "*5\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n*2\r\n$3\r\none\r\n$1\r\nx\r\n"),
        ])
        .await;
    }
}
