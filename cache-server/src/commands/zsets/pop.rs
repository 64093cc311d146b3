//! ZPOPMIN, ZPOPMAX, ZMPOP, the blocking BZPOPMIN / BZPOPMAX / BZMPOP (written against
//! [`crate::blocking`]: try the candidate keys in order, else `Ctx::block`) and ZRANDMEMBER.

use super::{read, reply_members};
use crate::blocking::{Nil, parse_timeout};
use crate::commands::{CmdError, CmdResult, Ctx, SYNTAX, collection};
use crate::frame::parse_i64;
use crate::notify::Class;
use crate::types::zset::ZSet;
use bytes::Bytes;

/// The event a pop publishes (ZMPOP and the blocking forms too).
fn event(max: bool) -> &'static str {
    if max { "zpopmax" } else { "zpopmin" }
}

/// ZPOPMIN / ZPOPMAX key [count].
fn zpop(ctx: &mut Ctx<'_>, a: &[Bytes], max: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(SYNTAX.into());
    }
    let count = match a.get(2) {
        None => None,
        Some(c) => Some(
            parse_i64(c)
                .and_then(|c| usize::try_from(c).ok())
                .ok_or(CmdError::from("ERR value is out of range, must be positive"))?,
        ),
    };
    let k = count.unwrap_or(1);
    let popped =
        collection::modify_unless::<ZSet, _>(ctx, &a[1], false, |_| k == 0, |z| Ok(z.pop(k, max)), Vec::new())?;
    if !popped.is_empty() {
        ctx.notify_then_del(Class::ZSet, event(max), &a[1]);
    }
    // RESP3 nests [member, score] pairs when a count was given; flat otherwise.
    let nested = count.is_some() && ctx.out.resp3;
    ctx.out.array(if nested { popped.len() } else { 2 * popped.len() });
    for (s, m) in &popped {
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
    Ok(())
}

pub(super) fn zpopmin(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    zpop(ctx, a, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    zpop(ctx, a, true)
}

/// A key and the members popped from it, with their scores.
type Popped = (Bytes, Vec<(f64, Bytes)>);

/// Pops from the first non-empty sorted set among `keys` (WRONGTYPE stops at the first other
/// value), holding all of them while it looks.
fn pop_first(ctx: &mut Ctx<'_>, keys: &[&Bytes], count: usize, max: bool) -> Result<Option<Popped>, CmdError> {
    ctx.atomically(keys.iter().copied(), |ctx| {
        for &k in keys {
            match collection::peek::<ZSet>(ctx, k)? {
                Some(z) if !z.is_empty() => {
                    drop(z);
                    let popped = collection::modify::<ZSet, _>(ctx, k, false, |z| Ok(z.pop(count, max)), Vec::new())?;
                    if !popped.is_empty() {
                        ctx.notify_then_del(Class::ZSet, event(max), k);
                    }
                    return Ok(Some((k.clone(), popped)));
                }
                _ => {}
            }
        }
        Ok(None)
    })
}

/// `[key, [[member, score], ...]]`, the shape of ZMPOP and BZMPOP in both protocols.
fn reply_mpop(ctx: &mut Ctx<'_>, key: &[u8], popped: &[(f64, Bytes)]) {
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.array(popped.len());
    for (s, m) in popped {
        ctx.out.array(2);
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
}

pub(super) fn zmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (keys, max, count) = super::collection::mpop_args(a, 1, ["min", "max"])?;
    let keys: Vec<&Bytes> = keys.iter().collect();
    match pop_first(ctx, &keys, count, max)? {
        Some((k, popped)) => reply_mpop(ctx, &k, &popped),
        None => ctx.out.null_array(),
    }
    Ok(())
}

fn bzpop(ctx: &mut Ctx<'_>, a: &[Bytes], max: bool) -> CmdResult {
    let timeout = parse_timeout(&a[a.len() - 1])?;
    let keys = &a[1..a.len() - 1];
    let candidates = ctx.candidates(keys);
    match pop_first(ctx, &candidates, 1, max)? {
        Some((k, popped)) => {
            ctx.out.array(3);
            ctx.out.bulk(&k);
            ctx.out.bulk(&popped[0].1);
            ctx.out.double(popped[0].0);
            Ok(())
        }
        None => ctx.block(keys, timeout, Nil::Array),
    }
}

pub(super) fn bzpopmin(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    bzpop(ctx, a, false)
}

pub(super) fn bzpopmax(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    bzpop(ctx, a, true)
}

/// BZMPOP timeout numkeys key... MIN|MAX [COUNT count] (the timeout is checked last).
pub(super) fn bzmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (keys, max, count) = super::collection::mpop_args(a, 2, ["min", "max"])?;
    let timeout = parse_timeout(&a[1])?;
    let candidates = ctx.candidates(keys);
    match pop_first(ctx, &candidates, count, max)? {
        Some((k, popped)) => {
            reply_mpop(ctx, &k, &popped);
            Ok(())
        }
        None => ctx.block(keys, timeout, Nil::Array),
    }
}

/// ZRANDMEMBER key [count [WITHSCORES]].
pub(super) fn zrandmember(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() < 3 {
        match read(ctx, &a[1])? {
            Some(z) if !z.is_empty() => ctx.out.bulk(z.nth(collection::random_below(z.len())).1),
            _ => ctx.out.null(),
        }
        return Ok(());
    }
    let (l, withscores) = collection::random_count(a, "withscores")?;
    let z = match read(ctx, &a[1])? {
        Some(z) if l != 0 => z,
        _ => {
            ctx.out.array(0);
            return Ok(());
        }
    };
    let n = z.len();
    let count = l.unsigned_abs() as usize;
    if l < 0 {
        // Repetitions allowed: `count` independent picks.
        let entries: Vec<(f64, &[u8])> = if z.is_packed() { z.iter().collect() } else { Vec::new() };
        let pick = |i: usize| if entries.is_empty() { z.nth(i) } else { entries[i] };
        let pairs = withscores && ctx.out.resp3;
        ctx.long(count, |ctx| {
            ctx.out.array(if withscores && !pairs { 2 * count } else { count });
            for _ in 0..count {
                let (s, m) = pick(collection::random_below(n));
                if pairs {
                    ctx.out.array(2);
                }
                ctx.out.bulk(m);
                if withscores {
                    ctx.out.double(s);
                }
                if ctx.out.buf.len() > collection::RANDOM_REPLY_CAP {
                    ctx.client.close = true;
                    break;
                }
            }
        });
        return Ok(());
    }
    if count >= n {
        ctx.long(n, |ctx| reply_members(ctx.out, n, z.iter(), withscores));
        return Ok(());
    }
    let ranks = ctx.long(n, |_| collection::distinct_ranks(n, count));
    let entries: Vec<(f64, &[u8])> = if z.is_packed() { z.iter().collect() } else { Vec::new() };
    let pick = |i: usize| if entries.is_empty() { z.nth(i) } else { entries[i] };
    ctx.long(count, |ctx| reply_members(ctx.out, count, ranks.iter().map(|&r| pick(r)), withscores));
    Ok(())
}
