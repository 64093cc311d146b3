//! The stream reads: XRANGE and XREVRANGE (inclusive or `(`-exclusive bounds, COUNT), and XREAD
//! over several streams (COUNT, `$`, BLOCK). A blocked XREAD parks like BLPOP (see
//! [`crate::blocking`]): its re-run arguments carry the ids it waits after, `$` replaced by the
//! stream's last id when it blocked, and any XADD to one of its keys (from a client, EXEC or a
//! script) re-runs it for that key alone, which replies that one stream as Redis does.

use super::ids::{self, parse_interval, parse_strict_id};
use crate::blocking::{BlockMode, Nil};
use crate::commands::{CmdError, CmdResult, Ctx, NOT_INT, SYNTAX, collection, is};
use crate::frame::parse_i64;
use crate::types::stream::{Stream, StreamId};
use bytes::Bytes;
use std::time::Duration;

pub(super) fn xrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    range(ctx, a, false)
}

pub(super) fn xrevrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    range(ctx, a, true)
}

/// XRANGE key start end / XREVRANGE key end start, then `COUNT n` (repeatable, the last wins).
fn range(ctx: &mut Ctx<'_>, a: &[Bytes], rev: bool) -> CmdResult {
    let (start, end) = if rev { (&a[3], &a[2]) } else { (&a[2], &a[3]) };
    let (lo, hi) = parse_interval(start, end)?;
    let mut count: Option<usize> = None;
    let mut j = 4;
    while j < a.len() {
        if is(&a[j], "count") && j + 1 < a.len() {
            let n = parse_i64(&a[j + 1]).ok_or(NOT_INT)?;
            count = Some(usize::try_from(n.max(0)).unwrap_or(usize::MAX));
            j += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    let Some(s) = collection::read::<Stream>(ctx, &a[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.null_array();
        return Ok(());
    }
    let count = count.unwrap_or(usize::MAX);
    let n = count.min(s.len());
    // Counted first, then written: no copy of the entries is held while the reply is built.
    ctx.long(n, |ctx| {
        let found = s.range(lo, hi).take(count).count();
        ctx.out.array(found);
        if rev {
            s.range(lo, hi).rev().take(count).for_each(|(id, f)| ids::write_entry(ctx.out, id, f));
        } else {
            s.range(lo, hi).take(count).for_each(|(id, f)| ids::write_entry(ctx.out, id, f));
        }
    });
    Ok(())
}

/// The keys of an XREAD or XREADGROUP request (Redis's `xreadGetKeys`): the first half of the
/// arguments after `STREAMS`; none if the request is malformed.
pub fn read_keys(a: &[Bytes]) -> Vec<&Bytes> {
    let mut i = 1;
    while i < a.len() {
        let arg = &a[i];
        if is(arg, "block") || is(arg, "count") {
            i += 2;
        } else if is(arg, "group") {
            i += 3;
        } else if is(arg, "noack") {
            i += 1;
        } else if is(arg, "streams") {
            let rest = &a[i + 1..];
            if rest.is_empty() || rest.len() % 2 != 0 {
                return Vec::new();
            }
            return rest[..rest.len() / 2].iter().collect();
        } else {
            break;
        }
    }
    Vec::new()
}

/// XREAD's BLOCK milliseconds (`getTimeoutFromObjectOrReply` in milliseconds): 0 waits for ever.
fn parse_block_ms(arg: &[u8], now: u64) -> Result<Option<Duration>, CmdError> {
    let ms = parse_i64(arg).ok_or("ERR timeout is not an integer or out of range")?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    if ms > 0 && ms > i64::MAX - now as i64 {
        return Err("ERR timeout is out of range".into());
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

pub(super) fn xread(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (mut block, mut count) = (None, 0usize);
    let mut streams_at = 0;
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - i - 1;
        if is(&a[i], "block") && more > 0 {
            i += 1;
            block = Some(parse_block_ms(&a[i], ctx.now)?);
        } else if is(&a[i], "count") && more > 0 {
            i += 1;
            let n = parse_i64(&a[i]).ok_or(NOT_INT)?;
            count = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
        } else if is(&a[i], "streams") && more > 0 {
            streams_at = i + 1;
            if (a.len() - streams_at) % 2 != 0 {
                return Err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into(),
                );
            }
            break;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(SYNTAX.into());
    }
    let n = (a.len() - streams_at) / 2;
    let keys = &a[streams_at..streams_at + n];
    let run = |ctx: &mut Ctx<'_>| read_streams(ctx, a, keys, count, block, streams_at + n);
    if keys.len() > 1 { ctx.atomically(keys, run) } else { run(ctx) }
}

/// XREAD past the option parsing: resolves the ids (WRONGTYPE and id errors interleaved per
/// stream, as Redis checks them), replies the streams with newer entries, or blocks.
fn read_streams(
    ctx: &mut Ctx<'_>,
    a: &[Bytes],
    keys: &[Bytes],
    count: usize,
    block: Option<Option<Duration>>,
    ids_at: usize,
) -> CmdResult {
    let mut streams = Vec::with_capacity(keys.len());
    let mut after = Vec::with_capacity(keys.len());
    for (k, key) in keys.iter().enumerate() {
        let s = collection::read::<Stream>(ctx, key)?;
        let arg = &a[ids_at + k];
        let id = if arg.as_ref() == b"$" {
            s.as_ref().map_or(StreamId::MIN, |s| s.last_id())
        } else if arg.as_ref() == b">" {
            return Err(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
                    .into(),
            );
        } else {
            parse_strict_id(arg, 0)?
        };
        streams.push(s);
        after.push(id);
    }
    // Serving a parked client: only the key that became ready (once, if named twice), and as in
    // Redis as soon as its last id moved past the one waited after, even if trimming left nothing
    // newer to read (an empty list of entries is then the reply). Otherwise: a newer entry.
    let serving = match &ctx.block {
        BlockMode::Serving { key, .. } => Some(key.clone()),
        _ => None,
    };
    let mut ready: Vec<(usize, &Bytes)> = Vec::new();
    for (k, key) in keys.iter().enumerate() {
        let Some(s) = &streams[k] else { continue };
        let serve = match &serving {
            Some(r) => r == key && !ready.iter().any(|&(_, rk)| rk == key) && s.last_id() > after[k],
            None => s.last().is_some_and(|(top, _)| top > after[k]),
        };
        if serve {
            ready.push((k, key));
        }
    }
    if !ready.is_empty() {
        let take = if count == 0 { usize::MAX } else { count };
        let total: usize = ready.iter().map(|&(k, _)| streams[k].as_ref().map_or(0, |s| s.len()).min(take)).sum();
        ctx.long(total, |ctx| {
            let resp3 = ctx.out.resp3;
            // RESP3: a map of stream → entries; RESP2: an array of [stream, entries] pairs.
            if resp3 {
                ctx.out.map(ready.len());
            } else {
                ctx.out.array(ready.len());
            }
            for &(k, key) in &ready {
                let s = streams[k].as_ref().expect("served streams exist");
                if !resp3 {
                    ctx.out.array(2);
                }
                ctx.out.bulk(key);
                // Nothing comes after the greatest id.
                let (start, take) = match after[k].next() {
                    Some(start) => (start, take),
                    None => (StreamId::MAX, 0),
                };
                ctx.out.array(s.range(start, StreamId::MAX).take(take).count());
                s.range(start, StreamId::MAX).take(take).for_each(|(id, f)| ids::write_entry(ctx.out, id, f));
            }
        });
        return Ok(());
    }
    match block {
        None => {
            ctx.out.null_array();
            Ok(())
        }
        Some(timeout) => {
            // Re-run with the ids resolved now: `$` is the last id at block time, and so is an id
            // below it (nothing newer is live, or it would have been served: entries after the
            // one waited after are entries after the last id), so that only a later XADD serves.
            let mut rerun = a.to_vec();
            for (k, id) in after.iter().enumerate() {
                let id = streams[k].as_ref().map_or(*id, |s| s.last_id().max(*id));
                rerun[ids_at + k] = Bytes::from(id.to_string());
            }
            ctx.block_rerun(keys, timeout, Nil::Array, Some(rerun))
        }
    }
}
