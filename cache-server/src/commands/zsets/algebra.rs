//! ZUNION, ZINTER, ZDIFF, their *STORE forms and ZINTERCARD, as Redis 7.0's
//! `zunionInterDiffGenericCommand`: inputs looked up first (sorted sets, or sets with score 1;
//! WRONGTYPE for anything else), then WEIGHTS / AGGREGATE / WITHSCORES / LIMIT, then the inputs
//! ordered by size (stable, as glibc's qsort of a small array is) so that sums are accumulated in
//! Redis's order, to the last bit.

use super::{parse_score, reply_members, store};
use crate::commands::{CmdError, CmdResult, Ctx, SYNTAX, WRONGTYPE, arg_i64, is};
use crate::db::Value;
use crate::types::zset::ZSet;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis's `zunionInterAggregate` (a NaN sum counts as 0).
fn aggregate(target: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => *target = if v < *target { v } else { *target },
        Aggregate::Max => *target = if v > *target { v } else { *target },
    }
}

/// One input: a sorted set, or nothing (a missing key, or a set until sets land).
struct Input {
    zset: Option<Arc<ZSet>>,
    weight: f64,
}

impl Input {
    fn len(&self) -> usize {
        self.zset.as_ref().map_or(0, |z| z.len())
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        self.zset.as_ref().and_then(|z| z.score(m))
    }
}

/// Looks an input key up: a sorted set, a set (members with score 1), or WRONGTYPE.
fn input(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Input, CmdError> {
    let zset = match ctx.get(key).map(|e| e.value) {
        None => None,
        Some(Value::ZSet(z)) => Some(z),
        // A set is read as members of score 1 (one O(n log n) build; Redis walks it in O(n)).
        Some(Value::Set(s)) => {
            Some(Arc::new(ctx.long(s.len(), |_| ZSet::build(s.iter().map(|m| (1.0, m.to_bytes())).collect()))))
        }
        Some(_) => return Err(WRONGTYPE.into()),
    };
    Ok(Input { zset, weight: 1.0 })
}

fn generic(ctx: &mut Ctx<'_>, a: &[Bytes], dst: Option<&Bytes>, at: usize, op: Op, card: bool) -> CmdResult {
    let n = arg_i64(&a[at])?;
    if n < 1 {
        return Err(format!("ERR at least 1 input key is needed for '{}' command", ctx.name).into());
    }
    let first = at + 1;
    if n > (a.len() - first) as i64 {
        return Err(SYNTAX.into());
    }
    let keys = &a[first..first + n as usize];
    let held = dst.into_iter().chain(keys);
    ctx.atomically(held, |ctx| run(ctx, a, dst, first + keys.len(), keys, op, card))
}

#[allow(clippy::too_many_arguments)]
fn run(
    ctx: &mut Ctx<'_>,
    a: &[Bytes],
    dst: Option<&Bytes>,
    opts: usize,
    keys: &[Bytes],
    op: Op,
    card: bool,
) -> CmdResult {
    let mut src = keys.iter().map(|k| input(ctx, k)).collect::<Result<Vec<Input>, CmdError>>()?;
    let (mut how, mut withscores, mut limit) = (Aggregate::Sum, false, 0usize);
    let mut j = opts;
    while j < a.len() {
        let left = a.len() - j;
        let o = &a[j];
        if op != Op::Diff && !card && left > src.len() && is(o, "weights") {
            for (k, s) in src.iter_mut().enumerate() {
                s.weight = parse_score(&a[j + 1 + k]).ok_or(CmdError::from("ERR weight value is not a float"))?;
            }
            j += 1 + src.len();
        } else if op != Op::Diff && !card && left >= 2 && is(o, "aggregate") {
            let v = &a[j + 1];
            how = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(SYNTAX.into());
            };
            j += 2;
        } else if dst.is_none() && !card && is(o, "withscores") {
            withscores = true;
            j += 1;
        } else if card && left >= 2 && is(o, "limit") {
            limit = crate::frame::parse_i64(&a[j + 1])
                .and_then(|l| usize::try_from(l).ok())
                .ok_or(CmdError::from("ERR LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    if op != Op::Diff {
        src.sort_by_key(Input::len);
    }
    let work: usize = src.iter().map(Input::len).sum();
    let result = ctx.long(work, |_| compute(&src, op, how, card, limit));
    match (result, dst) {
        (Outcome::Card(n), _) => ctx.out.int(n as i64),
        (Outcome::Pairs(pairs), Some(dst)) => {
            let built = ctx.long(pairs.len(), |_| ZSet::build(pairs));
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            let n = store(ctx, dst, built, event);
            ctx.out.int(n as i64);
        }
        (Outcome::Pairs(mut pairs), None) => {
            let n = pairs.len();
            ctx.long(n, |ctx| {
                pairs.sort_by(|x, y| {
                    x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal).then_with(|| x.1.cmp(y.1))
                });
                reply_members(ctx.out, n, pairs.into_iter(), withscores);
            });
        }
    }
    Ok(())
}

enum Outcome<'a> {
    Card(usize),
    Pairs(Vec<(f64, &'a [u8])>),
}

fn compute(src: &[Input], op: Op, how: Aggregate, card: bool, limit: usize) -> Outcome<'_> {
    let mut out = Vec::new();
    let mut count = 0;
    match op {
        Op::Inter => {
            if let Some(z) = src[0].zset.as_ref().filter(|_| src[0].len() > 0) {
                'members: for (s, m) in z.iter() {
                    let mut score = src[0].weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for other in &src[1..] {
                        match other.score(m) {
                            Some(v) => aggregate(&mut score, v * other.weight, how),
                            None => continue 'members,
                        }
                    }
                    if card {
                        count += 1;
                        if limit > 0 && count >= limit {
                            break;
                        }
                    } else {
                        out.push((score, m));
                    }
                }
            }
        }
        Op::Union => {
            let mut acc: HashMap<&[u8], f64, ahash::RandomState> = HashMap::default();
            acc.reserve(src.last().map_or(0, Input::len));
            for input in src {
                for (s, m) in input.zset.iter().flat_map(|z| z.iter()) {
                    let mut score = input.weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    acc.entry(m).and_modify(|t| aggregate(t, score, how)).or_insert(score);
                }
            }
            out = acc.into_iter().map(|(m, s)| (s, m)).collect();
        }
        Op::Diff => {
            if let Some(z) = &src[0].zset {
                let same = |i: &Input| i.zset.as_ref().is_some_and(|o| Arc::ptr_eq(o, z));
                if !src[1..].iter().any(same) {
                    out = z.iter().filter(|(_, m)| src[1..].iter().all(|o| o.score(m).is_none())).collect();
                }
            }
        }
    }
    if card { Outcome::Card(count) } else { Outcome::Pairs(out) }
}

pub(super) fn zunion(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, None, 1, Op::Union, false)
}

pub(super) fn zinter(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, None, 1, Op::Inter, false)
}

pub(super) fn zdiff(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, None, 1, Op::Diff, false)
}

pub(super) fn zintercard(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, None, 1, Op::Inter, true)
}

pub(super) fn zunionstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, Some(&a[1]), 2, Op::Union, false)
}

pub(super) fn zinterstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, Some(&a[1]), 2, Op::Inter, false)
}

pub(super) fn zdiffstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, Some(&a[1]), 2, Op::Diff, false)
}
