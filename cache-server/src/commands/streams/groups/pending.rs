//! The pending entries list seen from outside: XPENDING (summary, and the extended form with
//! IDLE and a consumer filter), XCLAIM (IDLE TIME RETRYCOUNT FORCE JUSTID LASTID) and XAUTOCLAIM
//! (COUNT JUSTID, with 7.0's third reply element: the pending ids whose entries were deleted,
//! dropped from the PEL as it goes). Arguments are checked in Redis's order, and a command that
//! fails writes nothing.

use super::{entry_reply, id_reply, int, no_key_or_group, on_stream, parse_bound, parse_strict_id};
use crate::commands::collection;
use crate::commands::{CmdError, CmdResult, Ctx, SYNTAX, is};
use crate::notify::Class;
use crate::reply::Reply;
use crate::types::stream::{Group, Stream, StreamId};
use bytes::Bytes;

/// `XPENDING key group [[IDLE min-idle] start end count [consumer]]`.
pub fn xpending(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() != 3 && !(6..=9).contains(&a.len()) {
        return Err(SYNTAX.into());
    }
    let mut range = None;
    if a.len() >= 6 {
        let (mut at, mut min_idle) = (3, 0);
        if is(&a[3], "idle") {
            min_idle = int(&a[4])?;
            if a.len() < 8 {
                return Err(SYNTAX.into());
            }
            at += 2;
        }
        let count = int(&a[at + 2])?.max(0) as u64;
        let start = parse_bound(&a[at], 0, true)?;
        let end = parse_bound(&a[at + 1], u64::MAX, false)?;
        range = Some((min_idle, start, end, count, a.get(at + 3)));
    }
    let s = collection::read::<Stream>(ctx, &a[1])?;
    let Some(g) = s.as_ref().and_then(|s| s.groups.get(&a[2])) else {
        return Err(no_key_or_group(&a[1], &a[2]));
    };
    let now = ctx.now as i64;
    let work = range.map_or(g.consumers().len(), |(_, _, _, count, _)| g.pel_len().min(count as usize));
    ctx.long(work, |ctx| pending_reply(ctx.out, g, range, now));
    Ok(())
}

/// Where XPENDING's extended form looks: minimum idle time, first and last id, count, consumer.
type PendingRange<'a> = (i64, StreamId, StreamId, u64, Option<&'a Bytes>);

/// XPENDING's reply: the summary (no range), or the pending entries in the range.
fn pending_reply(out: &mut Reply, g: &Group, range: Option<PendingRange<'_>>, now: i64) {
    let Some((min_idle, start, end, count, consumer)) = range else {
        out.array(4);
        out.int(g.pel_len() as i64);
        let first = g.pel_range(StreamId::MIN, StreamId::MAX).next();
        let last = g.pel_range(StreamId::MIN, StreamId::MAX).next_back();
        match first.zip(last) {
            None => {
                out.null();
                out.null();
                out.null_array();
            }
            Some(((first, _), (last, _))) => {
                id_reply(out, first);
                id_reply(out, last);
                let owners: Vec<_> = g.consumers().filter(|(_, c)| !c.pending.is_empty()).collect();
                out.array(owners.len());
                for (name, c) in owners {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pending.len() as i64);
                }
            }
        }
        return;
    };
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        None => Box::new(g.pel_range(start, end).map(|(id, _)| id)),
        Some(name) => match g.consumer(name) {
            None => {
                out.array(0);
                return;
            }
            Some(_) if start > end => Box::new(std::iter::empty()),
            Some(c) => Box::new(c.pending.range(start..=end).copied()),
        },
    };
    let mut body = Reply { resp3: out.resp3, ..Reply::default() };
    let mut n = 0;
    for id in ids {
        if n == count {
            break;
        }
        let p = g.pending(id).expect("a consumer's id is pending");
        let idle = now - p.delivered as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        n += 1;
        body.array(4);
        id_reply(&mut body, id);
        body.bulk(&p.consumer);
        body.int(idle.max(0));
        body.int(p.count as i64);
    }
    out.array(n as usize);
    out.buf.extend_from_slice(&body.buf);
}

/// XCLAIM's options after the ids.
#[derive(Default)]
struct ClaimOptions {
    force: bool,
    justid: bool,
    /// The delivery time to set, unix ms (`None`: now).
    at: Option<i64>,
    retry: Option<u64>,
    last_id: Option<StreamId>,
}

fn claim_options(a: &[Bytes], now: i64) -> Result<ClaimOptions, CmdError> {
    let mut o = ClaimOptions::default();
    let num = |arg: &[u8], what: &str| {
        crate::frame::parse_i64(arg)
            .ok_or_else(|| CmdError::from(format!("ERR Invalid {what} option argument for XCLAIM")))
    };
    let mut j = 0;
    while j < a.len() {
        let more = j + 1 < a.len();
        let opt = &a[j];
        if is(opt, "force") {
            o.force = true;
        } else if is(opt, "justid") {
            o.justid = true;
        } else if is(opt, "idle") && more {
            j += 1;
            o.at = Some(now.wrapping_sub(num(&a[j], "IDLE")?));
        } else if is(opt, "time") && more {
            j += 1;
            o.at = Some(num(&a[j], "TIME")?);
        } else if is(opt, "retrycount") && more {
            j += 1;
            // A negative count means "not given", as in Redis.
            o.retry = u64::try_from(num(&a[j], "RETRYCOUNT")?).ok();
        } else if is(opt, "lastid") && more {
            j += 1;
            o.last_id = Some(parse_strict_id(&a[j], 0)?);
        } else {
            return Err(format!("ERR Unrecognized XCLAIM option '{}'", String::from_utf8_lossy(opt)).into());
        }
        j += 1;
    }
    Ok(o)
}

/// Looks the claiming consumer up once, on the first claim (which refreshes its seen time, or
/// creates it: `created` says which).
fn claimant(g: &mut Group, consumer: &[u8], now: u64, created: &mut Option<bool>) {
    if created.is_none() {
        *created = Some(g.touch_consumer(consumer, now));
    }
}

/// `XCLAIM key group consumer min-idle-time id [id ...] [options]`.
pub fn xclaim(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let mut body = Reply { resp3: ctx.out.resp3, ..Reply::default() };
    let mut created = None;
    let n = on_stream(
        ctx,
        &a[1],
        false,
        |s| {
            if !s.is_some_and(|s| s.groups.contains_key(&a[2])) {
                return Err(no_key_or_group(&a[1], &a[2]));
            }
            let min_idle =
                crate::frame::parse_i64(&a[4]).ok_or("ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
            // The ids run until the first argument that is not one: the options follow.
            let ids: Vec<StreamId> = a[5..].iter().map_while(|id| parse_strict_id(id, 0).ok()).collect();
            let opts = claim_options(&a[5 + ids.len()..], now as i64)?;
            Ok(Some((min_idle, ids, opts)))
        },
        |s, (min_idle, ids, opts)| {
            let mut g = s.groups.remove(&a[2]).expect("checked");
            if let Some(last) = opts.last_id
                && last > g.last_id
            {
                g.last_id = last;
            }
            let at = match opts.at {
                Some(t) if (0..=now as i64).contains(&t) => t as u64,
                _ => now,
            };
            let mut n = 0;
            for &id in &ids {
                let pending = g.pending(id).map(|p| p.delivered);
                let Some(fields) = s.get(id) else {
                    // The entry is gone: so is its pending record.
                    g.ack(id);
                    continue;
                };
                match pending {
                    None if !opts.force => continue,
                    Some(t) if min_idle != 0 && (now as i64 - t as i64) < min_idle => continue,
                    _ => {}
                }
                claimant(&mut g, &a[3], now, &mut created);
                g.claim(id, &a[3], at, opts.retry, !opts.justid);
                if opts.justid {
                    id_reply(&mut body, id);
                } else {
                    entry_reply(&mut body, id, fields);
                }
                n += 1;
            }
            s.groups.insert(a[2].clone(), g);
            Ok(n)
        },
    )?
    .unwrap_or(0);
    ctx.out.array(n);
    ctx.out.buf.extend_from_slice(&body.buf);
    if created == Some(true) {
        ctx.notify(Class::Stream, "xgroup-createconsumer", &a[1]);
    }
    Ok(())
}

/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]`.
pub fn xautoclaim(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let min_idle = crate::frame::parse_i64(&a[4]).ok_or("ERR Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = parse_bound(&a[5], 0, true)?;
    let (mut count, mut justid) = (100u64, false);
    let mut j = 6;
    while j < a.len() {
        if is(&a[j], "count") && j + 1 < a.len() {
            // Redis caps the count so that count × 10 attempts cannot overflow.
            count = crate::frame::parse_i64(&a[j + 1])
                .filter(|n| (1..=i64::MAX / 16).contains(n))
                .ok_or("ERR COUNT must be > 0")? as u64;
            j += 1;
        } else if is(&a[j], "justid") {
            justid = true;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let now = ctx.now;
    let mut body = Reply { resp3: ctx.out.resp3, ..Reply::default() };
    let mut created = None;
    let asked = count;
    let attempts = usize::try_from(count.saturating_mul(10)).unwrap_or(usize::MAX);
    let done = ctx.long(attempts, |ctx| {
        on_stream(
            ctx,
            &a[1],
            false,
            |s| {
                if !s.is_some_and(|s| s.groups.contains_key(&a[2])) {
                    return Err(no_key_or_group(&a[1], &a[2]));
                }
                // Redis allocates room for `count` deleted ids up front and fails when it cannot
                // (past the machine's memory, which varies: here, past 1 TiB).
                if asked > (1 << 40) / 16 {
                    return Err("ERR Insufficient memory, failed allocating transient memory, COUNT too high.".into());
                }
                Ok(Some(()))
            },
            |s, ()| {
                let mut g = s.groups.remove(&a[2]).expect("checked");
                let mut attempts = count.saturating_mul(10);
                let ids: Vec<StreamId> = g
                    .pel_range(start, StreamId::MAX)
                    .map(|(id, _)| id)
                    .take(usize::try_from(attempts).unwrap_or(usize::MAX).saturating_add(1))
                    .collect();
                let (mut next, mut n, mut deleted) = (0, 0, Vec::new());
                while attempts > 0 && count > 0 && next < ids.len() {
                    attempts -= 1;
                    let id = ids[next];
                    next += 1;
                    let Some(fields) = s.get(id) else {
                        g.ack(id);
                        deleted.push(id);
                        count -= 1;
                        continue;
                    };
                    let delivered = g.pending(id).expect("listed").delivered;
                    if min_idle != 0 && (now as i64 - delivered as i64) < min_idle {
                        continue;
                    }
                    claimant(&mut g, &a[3], now, &mut created);
                    g.claim(id, &a[3], now, None, !justid);
                    if justid {
                        id_reply(&mut body, id);
                    } else {
                        entry_reply(&mut body, id, fields);
                    }
                    n += 1;
                    count -= 1;
                }
                s.groups.insert(a[2].clone(), g);
                Ok((ids.get(next).copied().unwrap_or(StreamId::MIN), n, deleted))
            },
        )
    })?;
    let (cursor, n, deleted) = done.expect("the check fails otherwise");
    let out = &mut *ctx.out;
    out.array(3);
    id_reply(out, cursor);
    out.array(n);
    out.buf.extend_from_slice(&body.buf);
    out.array(deleted.len());
    for id in deleted {
        id_reply(out, id);
    }
    if created == Some(true) {
        ctx.notify(Class::Stream, "xgroup-createconsumer", &a[1]);
    }
    Ok(())
}
