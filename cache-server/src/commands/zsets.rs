//! Sorted-set commands: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT ZSCAN
//! here; the ZRANGE family and ZREMRANGEBY* in `zsets/range.rs`; ZUNION/ZINTER/ZDIFF (+STORE) and
//! ZINTERCARD in `zsets/algebra.rs`; ZPOPMIN/MAX, ZMPOP, ZRANDMEMBER and the blocking BZPOPMIN, BZPOPMAX,
//! BZMPOP in `zsets/pop.rs`. The layout is [`crate::types::zset`]'s; this family owns argument parsing
//! (Redis 7.0.15's order of checks and error texts) and replies.
//!
//! Writes that change nothing (ZADD NX of existing members, ZREM of absent ones, an empty
//! ZREMRANGEBY*) leave the key untouched, as Redis does not signal them: WATCH and client tracking
//! see only real changes.

mod algebra;
mod pop;
mod range;
#[cfg(test)]
mod tests;

use super::{CmdError, CmdResult, CommandSpec, Ctx, NOT_FLOAT, SYNTAX, collection, is, parse_f64, spec};
use crate::glob;
use crate::notify::Class;
use crate::reply::Reply;
use crate::types::zset::{AddFlags, Added, LexBound, ScoreBound, ZSet};
use bytes::Bytes;
use std::sync::Arc;

const G: &str = "sorted-set";
const WF: &[&str] = &["write", "denyoom", "fast"];
const RF: &[&str] = &["readonly", "fast"];
const R: &[&str] = &["readonly"];
const W: &[&str] = &["write"];
const WD: &[&str] = &["write", "denyoom"];
const RM: &[&str] = &["readonly", "movablekeys"];
const WDM: &[&str] = &["write", "denyoom", "movablekeys"];
const BLOCKING: &[&str] = &["write", "noscript", "blocking", "fast"];

/// The zset family's table rows (arity, flags and key positions as Redis 7.0's COMMAND INFO).
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    spec("zadd", -4, WF, (1, 1, 1), G, "Add one or more members to a sorted set, or update its score if it already exists", "1.2.0", zadd),
    spec("zincrby", 4, WF, (1, 1, 1), G, "Increment the score of a member in a sorted set", "1.2.0", zincrby),
    spec("zrem", -3, &["write", "fast"], (1, 1, 1), G, "Remove one or more members from a sorted set", "1.2.0", zrem),
    spec("zcard", 2, RF, (1, 1, 1), G, "Get the number of members in a sorted set", "1.2.0", zcard),
    spec("zscore", 3, RF, (1, 1, 1), G, "Get the score associated with the given member in a sorted set", "1.2.0", zscore),
    spec("zmscore", -3, RF, (1, 1, 1), G, "Get the score associated with the given members in a sorted set", "6.2.0", zmscore),
    spec("zrank", 3, RF, (1, 1, 1), G, "Determine the index of a member in a sorted set", "2.0.0", zrank),
    spec("zrevrank", 3, RF, (1, 1, 1), G, "Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0", zrevrank),
    spec("zcount", 4, RF, (1, 1, 1), G, "Count the members in a sorted set with scores within the given values", "2.0.0", zcount),
    spec("zlexcount", 4, RF, (1, 1, 1), G, "Count the number of members in a sorted set between a given lexicographical range", "2.8.9", zlexcount),
    spec("zrange", -4, R, (1, 1, 1), G, "Return a range of members in a sorted set", "1.2.0", range::zrange),
    spec("zrangestore", -5, WD, (1, 2, 1), G, "Store a range of members from sorted set into another key", "6.2.0", range::zrangestore),
    spec("zrevrange", -4, R, (1, 1, 1), G, "Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0", range::zrevrange),
    spec("zrangebyscore", -4, R, (1, 1, 1), G, "Return a range of members in a sorted set, by score", "1.0.5", range::zrangebyscore),
    spec("zrevrangebyscore", -4, R, (1, 1, 1), G, "Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0", range::zrevrangebyscore),
    spec("zrangebylex", -4, R, (1, 1, 1), G, "Return a range of members in a sorted set, by lexicographical range", "2.8.9", range::zrangebylex),
    spec("zrevrangebylex", -4, R, (1, 1, 1), G, "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "2.8.9", range::zrevrangebylex),
    spec("zremrangebyrank", 4, W, (1, 1, 1), G, "Remove all members in a sorted set within the given indexes", "2.0.0", range::zremrangebyrank),
    spec("zremrangebyscore", 4, W, (1, 1, 1), G, "Remove all members in a sorted set within the given scores", "1.2.0", range::zremrangebyscore),
    spec("zremrangebylex", 4, W, (1, 1, 1), G, "Remove all members in a sorted set between the given lexicographical range", "2.8.9", range::zremrangebylex),
    spec("zpopmin", -2, &["write", "fast"], (1, 1, 1), G, "Remove and return members with the lowest scores in a sorted set", "5.0.0", pop::zpopmin),
    spec("zpopmax", -2, &["write", "fast"], (1, 1, 1), G, "Remove and return members with the highest scores in a sorted set", "5.0.0", pop::zpopmax),
    spec("zmpop", -4, &["write", "movablekeys"], (0, 0, 0), G, "Remove and return members with scores in a sorted set", "7.0.0", pop::zmpop),
    spec("zrandmember", -2, R, (1, 1, 1), G, "Get one or multiple random elements from a sorted set", "6.2.0", pop::zrandmember),
    spec("zinter", -3, RM, (0, 0, 0), G, "Intersect multiple sorted sets", "6.2.0", algebra::zinter),
    spec("zunion", -3, RM, (0, 0, 0), G, "Add multiple sorted sets", "6.2.0", algebra::zunion),
    spec("zdiff", -3, RM, (0, 0, 0), G, "Subtract multiple sorted sets", "6.2.0", algebra::zdiff),
    spec("zinterstore", -4, WDM, (1, 1, 1), G, "Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", algebra::zinterstore),
    spec("zunionstore", -4, WDM, (1, 1, 1), G, "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", algebra::zunionstore),
    spec("zdiffstore", -4, WDM, (1, 1, 1), G, "Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0", algebra::zdiffstore),
    spec("zintercard", -3, RM, (0, 0, 0), G, "Intersect multiple sorted sets and return the cardinality of the result", "7.0.0", algebra::zintercard),
    spec("zscan", -3, R, (1, 1, 1), G, "Incrementally iterate sorted sets elements and associated scores", "2.8.0", zscan),
    spec("bzpopmin", -3, BLOCKING, (1, -2, 1), G, "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0", pop::bzpopmin),
    spec("bzpopmax", -3, BLOCKING, (1, -2, 1), G, "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0", pop::bzpopmax),
    spec("bzmpop", -5, &["write", "blocking", "movablekeys"], (0, 0, 0), G, "Remove and return members with scores in a sorted set or block until one is available", "7.0.0", pop::bzmpop),
];

/// Parses a score as Redis's `getDoubleFromObject` does (ZADD, ZINCRBY, WEIGHTS, GEO coordinates): the whole argument must be
/// a number (decimal, hexadecimal, `inf`); NaN, overflow to infinity and underflow to zero are refused.
pub(crate) fn parse_score(a: &[u8]) -> Option<f64> {
    let v = parse_f64(a)?;
    let s = std::str::from_utf8(a).ok()?;
    let digits = s.trim_start_matches(['+', '-']);
    if v.is_infinite() && !digits.eq_ignore_ascii_case("inf") && !digits.eq_ignore_ascii_case("infinity") {
        return None;
    }
    if v == 0.0 {
        let (hex, body) = match digits.get(..2) {
            Some(p) if p.eq_ignore_ascii_case("0x") => (true, &digits[2..]),
            _ => (false, digits),
        };
        let mantissa = body.split(if hex { ['p', 'P'] } else { ['e', 'E'] }).next().unwrap_or("");
        if mantissa.bytes().any(|b| if hex { b.is_ascii_hexdigit() && b != b'0' } else { (b'1'..=b'9').contains(&b) }) {
            return None;
        }
    }
    Some(v)
}

/// C's `isspace`.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// One end of a score range as `zslParseRange` reads it (`strtod` to the string's end, so leading
/// spaces, an empty string (0) and out-of-range values (±inf, 0) pass; a NUL byte ends the string).
pub(crate) fn parse_score_bound(a: &[u8]) -> Option<ScoreBound> {
    let (exclusive, rest) = match a.first() {
        Some(b'(') => (true, &a[1..]),
        _ => (false, a),
    };
    let rest = &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())];
    if rest.is_empty() {
        return Some(ScoreBound { value: 0.0, exclusive });
    }
    let start = rest.iter().position(|&b| !c_space(b)).unwrap_or(rest.len());
    Some(ScoreBound { value: parse_f64(&rest[start..])?, exclusive })
}

/// Both ends of a score range (`ERR min or max is not a float`).
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<(ScoreBound, ScoreBound), CmdError> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err("ERR min or max is not a float".into()),
    }
}

/// One end of a lexicographic range: `-`, `+`, `[member`, `(member`.
pub(crate) fn parse_lex_bound(a: &[u8]) -> Option<LexBound<'_>> {
    let alone = a.len() == 1 || a.get(1) == Some(&0);
    match a.first()? {
        b'+' if alone => Some(LexBound::Max),
        b'-' if alone => Some(LexBound::Min),
        b'(' => Some(LexBound::Excl(&a[1..])),
        b'[' => Some(LexBound::Incl(&a[1..])),
        _ => None,
    }
}

/// Both ends of a lexicographic range (`ERR min or max not valid string range item`).
fn parse_lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<(LexBound<'a>, LexBound<'a>), CmdError> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err("ERR min or max not valid string range item".into()),
    }
}

/// Writes `n` members (with their scores when `withscores`: flat in RESP2, `[member, score]`
/// pairs in RESP3).
fn reply_members<'a>(out: &mut Reply, n: usize, items: impl Iterator<Item = (f64, &'a [u8])>, withscores: bool) {
    let pairs = withscores && out.resp3;
    out.array(if withscores && !pairs { 2 * n } else { n });
    for (s, m) in items {
        if pairs {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    }
}

pub(super) fn read(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<ZSet>>, CmdError> {
    collection::read(ctx, key)
}

/// Stores a freshly built result at `dst` (or deletes `dst` when it is empty) and publishes
/// `event` (or `del`, if an empty result removed a key); its size.
pub(super) fn store(ctx: &mut Ctx<'_>, dst: &[u8], z: ZSet, event: &'static str) -> usize {
    let n = z.len();
    if n == 0 {
        if ctx.remove(dst) {
            ctx.notify(Class::Generic, "del", dst);
        }
    } else {
        ctx.set(dst, crate::db::Entry::new(crate::db::Value::ZSet(Arc::new(z))));
        ctx.notify(Class::ZSet, event, dst);
    }
    n
}

/// A dry run of a ZADD batch under the key's lock.
enum Dry {
    /// Something would change: run it.
    Change,
    /// Nothing would change; the last pair's reported score (ZADD INCR, ZINCRBY).
    Noop(Option<f64>),
    /// INCR would make the score NaN.
    Nan,
}

fn zadd_dry(z: &ZSet, pairs: &[(f64, &Bytes)], f: AddFlags) -> Dry {
    let mut last = None;
    for &(score, m) in pairs {
        match z.score(m) {
            None if f.xx => last = None,
            None => return Dry::Change,
            Some(_) if f.nx => last = None,
            Some(cur) => {
                let new = if f.incr { cur + score } else { score };
                if new.is_nan() {
                    return Dry::Nan;
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    last = None;
                } else if new != cur {
                    return Dry::Change;
                } else {
                    last = Some(new);
                }
            }
        }
    }
    Dry::Noop(last)
}

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

fn zadd_generic(ctx: &mut Ctx<'_>, a: &[Bytes], incr: bool) -> CmdResult {
    let mut f = AddFlags { incr, ..AddFlags::default() };
    let mut ch = false;
    let mut i = 2;
    while i < a.len() {
        let o = &a[i];
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "ch") {
            ch = true;
        } else if is(o, "incr") {
            f.incr = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let n = a.len() - i;
    if n % 2 != 0 || n == 0 {
        return Err(SYNTAX.into());
    }
    if f.nx && f.xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if f.incr && n > 2 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    let pairs = a[i..]
        .chunks(2)
        .map(|p| parse_score(&p[0]).map(|s| (s, &p[1])).ok_or_else(|| CmdError::from(NOT_FLOAT)))
        .collect::<Result<Vec<(f64, &Bytes)>, CmdError>>()?;
    // (added, updated, last reported score), unless the dry run found nothing to change.
    let mut dry = Dry::Change;
    let done = collection::modify_unless::<ZSet, _>(
        ctx,
        &a[1],
        !f.xx,
        |z| {
            dry = zadd_dry(z, &pairs, f);
            !matches!(dry, Dry::Change)
        },
        |z| {
            let (mut added, mut updated, mut last) = (0, 0, None);
            for &(score, m) in &pairs {
                match z.add(m, score, f) {
                    Ok(Added::New(s)) => (added, last) = (added + 1, Some(s)),
                    Ok(Added::Updated(s)) => (updated, last) = (updated + 1, Some(s)),
                    Ok(Added::Same(s)) => last = Some(s),
                    Ok(Added::Skipped) => last = None,
                    Err(_) => return Err(CmdError::from(NAN_SCORE)),
                }
            }
            Ok(Some((added, updated, last)))
        },
        None,
    )?;
    let (added, updated, last) = match (done, dry) {
        (Some(done), _) => done,
        (None, Dry::Nan) => return Err(NAN_SCORE.into()),
        (None, Dry::Noop(last)) => (0, 0, last),
        (None, Dry::Change) => (0, 0, None),
    };
    if added + updated > 0 {
        ctx.notify(Class::ZSet, if f.incr { "zincr" } else { "zadd" }, &a[1]);
    }
    if f.incr {
        match last {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

pub(super) fn zadd(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, a, false)
}

fn zincrby(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, a, true)
}

fn zrem(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = collection::modify_unless::<ZSet, _>(
        ctx,
        &a[1],
        false,
        |z| a[2..].iter().all(|m| z.score(m).is_none()),
        |z| Ok(a[2..].iter().filter(|m| z.remove(m)).count() as i64),
        0,
    )?;
    if n > 0 {
        ctx.notify_then_del(Class::ZSet, "zrem", &a[1]);
    }
    ctx.out.int(n);
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = read(ctx, &a[1])?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    match read(ctx, &a[1])?.and_then(|z| z.score(&a[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let z = read(ctx, &a[1])?;
    ctx.out.array(a.len() - 2);
    for m in &a[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank(ctx: &mut Ctx<'_>, a: &[Bytes], rev: bool) -> CmdResult {
    let z = read(ctx, &a[1])?;
    match z.as_ref().and_then(|z| z.rank(&a[2]).map(|r| if rev { z.len() - 1 - r } else { r })) {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    rank(ctx, a, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    rank(ctx, a, true)
}

fn zcount(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (min, max) = parse_score_range(&a[2], &a[3])?;
    let n = read(ctx, &a[1])?.map_or(0, |z| {
        let (lo, hi) = z.score_range(min, max);
        hi - lo
    });
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (min, max) = parse_lex_range(&a[2], &a[3])?;
    let n = read(ctx, &a[1])?.map_or(0, |z| {
        let (lo, hi) = z.lex_range(min, max, false);
        hi - lo
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// ZSCAN: a packed set comes back whole (as Redis's listpack does); a large one by rank, `COUNT`
/// members per call from the cursor's rank, in score order. Known gap: a member removed (or moved)
/// below the cursor between two calls shifts the ranks, so a member present for the whole scan
/// can be skipped, which Redis's hash-order cursor never does.
fn zscan(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let Some((cursor, z, o)) = collection::scan_start::<ZSet>(ctx, a)? else { return Ok(()) };
    let n = z.len();
    let (lo, hi) = if z.is_packed() {
        (0, n)
    } else {
        let lo = usize::try_from(cursor).unwrap_or(usize::MAX).min(n);
        (lo, lo.saturating_add(o.count).min(n))
    };
    let next = if hi >= n { 0 } else { hi as u64 };
    let items: Vec<(f64, &[u8])> = ctx.long(hi - lo, |_| {
        z.range(lo, hi, false).filter(|(_, m)| o.pattern.is_none_or(|p| glob::matches(p, m, false))).collect()
    });
    collection::scan_header(ctx, next);
    ctx.out.array(items.len() * 2);
    for (s, m) in items {
        ctx.out.bulk(m);
        ctx.out.bulk(crate::reply::format_double(s).as_bytes());
    }
    Ok(())
}
