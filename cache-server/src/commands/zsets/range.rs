//! The ZRANGE family (ZRANGE with BYSCORE / BYLEX / REV / LIMIT / WITHSCORES, ZRANGESTORE and the
//! older ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX) and ZREMRANGEBYRANK / SCORE / LEX, as
//! Redis 7.0's `zrangeGenericCommand` and `zremrangeGenericCommand` parse and answer them.

use super::{parse_lex_range, parse_score_range, read, reply_members, store};
use crate::commands::{CmdError, CmdResult, Ctx, NOT_INT, SYNTAX, arg_i64, collection, is};
use crate::types::zset::{LexBound, ScoreBound, ZSet};
use bytes::Bytes;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed range of one of the three kinds.
enum Spec<'a> {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

/// Everything a ZRANGE-like command asked for.
struct Request<'a> {
    spec: Spec<'a>,
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

/// Parses `<src> <min> <max> [options]` starting at `a[at]` (the source key).
fn parse<'a>(
    a: &'a [Bytes],
    at: usize,
    store: bool,
    mut kind: Kind,
    dir: Option<bool>,
) -> Result<Request<'a>, CmdError> {
    let (mut rev, mut withscores, mut offset, mut limit) = (dir, false, 0, -1);
    let mut j = at + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        let o = &a[j];
        if !store && is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") && left >= 2 {
            offset = arg_i64(&a[j + 1])?;
            limit = arg_i64(&a[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(o, "rev") {
            rev = Some(true);
        } else if kind == Kind::Auto && is(o, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && is(o, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX".into());
    }
    if withscores && kind == Kind::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    let (mut min, mut max) = (&a[at + 1], &a[at + 2]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let spec = match kind {
        Kind::Score => {
            let (a, b) = parse_score_range(min, max)?;
            Spec::Score(a, b)
        }
        Kind::Lex => {
            let (a, b) = parse_lex_range(min, max)?;
            Spec::Lex(a, b)
        }
        _ => Spec::Rank(
            crate::frame::parse_i64(min).ok_or(CmdError::from(NOT_INT))?,
            crate::frame::parse_i64(max).ok_or(CmdError::from(NOT_INT))?,
        ),
    };
    Ok(Request { spec, rev, withscores, offset, limit })
}

/// `start..=end` of a rank range, negative indexes counting from the end, clipped; `None` if empty.
pub(super) fn clip(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let n = len as i64;
    let start = if start < 0 { (n + start).max(0) } else { start };
    let end = if end < 0 { n + end } else { end };
    if start > end || start >= n {
        return None;
    }
    Some((start as usize, end.min(n - 1) as usize))
}

/// The ranks `lo..hi` a request selects and whether to walk them backwards.
fn select(z: &ZSet, r: &Request<'_>) -> (usize, usize) {
    let n = z.len();
    let (lo, hi) = match r.spec {
        Spec::Rank(start, end) => {
            let Some((s, e)) = clip(start, end, n) else { return (0, 0) };
            // REV counts ranks from the top.
            return if r.rev { (n - 1 - e, n - s) } else { (s, e + 1) };
        }
        Spec::Score(min, max) => z.score_range(min, max),
        Spec::Lex(min, max) => z.lex_range(min, max, r.rev),
    };
    // LIMIT: a negative offset selects nothing, a negative count everything after the offset.
    if r.offset < 0 || lo >= hi {
        return (0, 0);
    }
    let skip = usize::try_from(r.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(r.limit).unwrap_or(usize::MAX);
    if r.rev {
        let top = hi.saturating_sub(skip);
        if top <= lo {
            return (0, 0);
        }
        (top.saturating_sub(take).max(lo), top)
    } else {
        let start = lo.saturating_add(skip);
        if start >= hi {
            return (0, 0);
        }
        (start, start.saturating_add(take).min(hi))
    }
}

fn range_generic(ctx: &mut Ctx<'_>, a: &[Bytes], kind: Kind, dir: Option<bool>) -> CmdResult {
    let r = parse(a, 1, false, kind, dir)?;
    let Some(z) = read(ctx, &a[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    let (lo, hi) = select(&z, &r);
    ctx.long(hi - lo, |ctx| reply_members(ctx.out, hi - lo, z.range(lo, hi, r.rev), r.withscores));
    Ok(())
}

pub(super) fn zrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    range_generic(ctx, a, Kind::Auto, None)
}

pub(super) fn zrevrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    range_generic(ctx, a, Kind::Rank, Some(true))
}

pub(super) fn zrangebyscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    range_generic(ctx, a, Kind::Score, Some(false))
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    range_generic(ctx, a, Kind::Score, Some(true))
}

pub(super) fn zrangebylex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    range_generic(ctx, a, Kind::Lex, Some(false))
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    range_generic(ctx, a, Kind::Lex, Some(true))
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
pub(super) fn zrangestore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let r = parse(a, 2, true, Kind::Auto, None)?;
    let n = ctx.atomically(&a[1..3], |ctx| -> Result<usize, CmdError> {
        let built = match read(ctx, &a[2])? {
            None => ZSet::default(),
            Some(z) => {
                // Built as Redis builds it: created for the rank range's size (score and lex ranges
                // start small), then filled in reply order, converting as it grows, so that the
                // encoding and listpack's `-0` → `0` match member by member.
                let (lo, hi) = select(&z, &r);
                let hint = if matches!(r.spec, Spec::Rank(..)) { hi - lo } else { 0 };
                ctx.long(hi - lo, |_| {
                    let mut out = ZSet::with_hint(hint);
                    for (s, m) in z.range(lo, hi, r.rev) {
                        out.insert(m, s);
                    }
                    out
                })
            }
        };
        Ok(store(ctx, &a[1], built, "zrangestore"))
    })?;
    ctx.out.int(n as i64);
    Ok(())
}

/// The ranks `lo..hi` a ZREMRANGEBY* removes.
fn rem_select(z: &ZSet, spec: &Spec<'_>) -> (usize, usize) {
    match *spec {
        Spec::Rank(start, end) => clip(start, end, z.len()).map_or((0, 0), |(s, e)| (s, e + 1)),
        Spec::Score(min, max) => z.score_range(min, max),
        Spec::Lex(min, max) => z.lex_range(min, max, false),
    }
}

fn remrange(ctx: &mut Ctx<'_>, a: &[Bytes], spec: Spec<'_>) -> CmdResult {
    let event = match spec {
        Spec::Rank(..) => "zremrangebyrank",
        Spec::Score(..) => "zremrangebyscore",
        Spec::Lex(..) => "zremrangebylex",
    };
    let n = collection::modify_unless::<ZSet, _>(
        ctx,
        &a[1],
        false,
        |z| {
            let (lo, hi) = rem_select(z, &spec);
            lo >= hi
        },
        |z| {
            let (lo, hi) = rem_select(z, &spec);
            z.remove_range(lo, hi);
            Ok(hi - lo)
        },
        0,
    )?;
    if n > 0 {
        ctx.notify_then_del(crate::notify::Class::ZSet, event, &a[1]);
    }
    ctx.out.int(n as i64);
    Ok(())
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let spec = Spec::Rank(arg_i64(&a[2])?, arg_i64(&a[3])?);
    remrange(ctx, a, spec)
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (min, max) = parse_score_range(&a[2], &a[3])?;
    remrange(ctx, a, Spec::Score(min, max))
}

pub(super) fn zremrangebylex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (min, max) = parse_lex_range(&a[2], &a[3])?;
    remrange(ctx, a, Spec::Lex(min, max))
}
