//! `XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key… id…`: new entries
//! (`>`) delivered to a consumer and recorded in the group's PEL, or the consumer's own history
//! (an id). With BLOCK and nothing new, the client parks on the keys ([`crate::blocking`]); a
//! write to one of them re-runs the command for that key alone. A parked client whose group is
//! destroyed, or whose key is deleted or replaced, is unblocked with Redis 7.0's errors.

use super::{entry_reply, no_group_or_key_read, parse_strict_id};
use crate::blocking::Nil;
use crate::commands::collection::{self, Collection};
use crate::commands::{CmdError, CmdResult, Ctx, NOT_INT, SYNTAX, is};
use crate::frame::parse_i64;
use crate::notify::Class;
use crate::reply::Reply;
use crate::types::stream::group::advance;
use crate::types::stream::{Stream, StreamId};
use bytes::Bytes;
use std::time::Duration;

/// What XREADGROUP was asked, once parsed.
struct Request<'a> {
    group: &'a Bytes,
    consumer: &'a Bytes,
    count: usize,
    block: Option<Option<Duration>>,
    noack: bool,
    keys: &'a [Bytes],
    ids: &'a [Bytes],
}

/// The BLOCK argument: milliseconds, 0 = for ever, with Redis's errors.
fn parse_block(a: &[u8]) -> Result<Option<Duration>, CmdError> {
    let ms = parse_i64(a).ok_or("ERR timeout is not an integer or out of range")?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    if ms > i64::MAX - now {
        return Err("ERR timeout is out of range".into());
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

fn parse(a: &[Bytes]) -> Result<Request<'_>, CmdError> {
    let (mut group, mut count, mut block, mut noack, mut streams) = (None, 0usize, None, false, None);
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - i - 1;
        let o = &a[i];
        if is(o, "block") && more > 0 {
            i += 1;
            block = Some(parse_block(&a[i])?);
        } else if is(o, "count") && more > 0 {
            i += 1;
            count = usize::try_from(parse_i64(&a[i]).ok_or(NOT_INT)?).unwrap_or(0);
        } else if is(o, "streams") && more > 0 {
            let rest = &a[i + 1..];
            if rest.len() % 2 != 0 {
                return Err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into(),
                );
            }
            streams = Some(rest.split_at(rest.len() / 2));
            break;
        } else if is(o, "group") && more >= 2 {
            group = Some((&a[i + 1], &a[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            noack = true;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    let (keys, ids) = streams.ok_or(SYNTAX)?;
    let (group, consumer) = group.ok_or("ERR Missing GROUP option for XREADGROUP")?;
    Ok(Request { group, consumer, count, block, noack, keys, ids })
}

/// Where to read from one stream: new entries, or the consumer's history after an id.
#[derive(Clone, Copy)]
enum From {
    New,
    History(StreamId),
}

/// Redis's checks for each stream in order: type, key and group, then the id. Also returns how
/// many entries the read may visit at most (long work runs off the async worker).
fn check(ctx: &mut Ctx<'_>, r: &Request<'_>) -> Result<(Vec<From>, usize), CmdError> {
    let mut from = Vec::with_capacity(r.keys.len());
    let mut work = 0usize;
    let limit = if r.count == 0 { usize::MAX } else { r.count };
    for (key, id) in r.keys.iter().zip(r.ids) {
        let s = collection::read::<Stream>(ctx, key)?;
        let Some(g) = s.as_ref().and_then(|s| s.groups.get(r.group)) else {
            return Err(no_group_or_key_read(key, r.group));
        };
        work = work.saturating_add(limit.min(s.as_ref().map_or(0, |s| s.len()) + g.pel_len()));
        from.push(match &id[..] {
            b"$" => return Err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.".into()),
            b">" => From::New,
            _ => match parse_strict_id(id, 0)? {
                // Redis marks `>` with the greatest id: that id reads new entries too.
                StreamId::MAX => From::New,
                id => From::History(id),
            },
        });
    }
    Ok((from, work))
}

/// True if a `>` read of `s` finds nothing new for the group: then nothing is written (the
/// consumer is neither created nor seen until a write serves it), so that a parked client's
/// re-run that finds nothing does not make its key ready again.
fn nothing_new(s: &Stream, r: &Request<'_>, from: From) -> bool {
    matches!(from, From::New) && s.last().is_none_or(|(last, _)| last <= s.groups[r.group].last_id)
}

/// Serves one stream that has something for the consumer: writes `[key, entries]` into `out`.
/// Creates the consumer if needed (`created` is set).
fn serve(s: &mut Stream, r: &Request<'_>, from: From, now: u64, out: &mut Reply, created: &mut bool) -> bool {
    let mut g = s.groups.remove(r.group).expect("checked");
    *created = g.touch_consumer(r.consumer, now);
    let limit = if r.count == 0 { usize::MAX } else { r.count };
    match from {
        From::New => {
            let start = g.last_id.next().unwrap_or(StreamId::MAX);
            let mut body = Reply { resp3: out.resp3, ..Reply::default() };
            let mut ids = Vec::new();
            for (id, fields) in s.range(start, StreamId::MAX).take(limit) {
                entry_reply(&mut body, id, fields);
                ids.push(id);
            }
            for &id in &ids {
                advance(s, &mut g, id);
                if !r.noack {
                    g.deliver(id, r.consumer, now);
                }
            }
            out.array(ids.len());
            out.buf.extend_from_slice(&body.buf);
        }
        From::History(after) => {
            let ids: Vec<StreamId> = match (after.next(), g.consumer(r.consumer)) {
                (Some(start), Some(c)) => c.pending.range(start..).take(limit).copied().collect(),
                _ => Vec::new(),
            };
            out.array(ids.len());
            for id in ids {
                match s.get(id) {
                    Some(fields) => {
                        entry_reply(out, id, fields);
                        g.redeliver(id, now);
                    }
                    None => {
                        // Pending, but deleted from the stream since: the id with a null entry.
                        out.array(2);
                        super::id_reply(out, id);
                        out.null_array();
                    }
                }
            }
        }
    }
    s.groups.insert(r.group.clone(), g);
    true
}

/// XREADGROUP.
pub fn xreadgroup(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let r = parse(a)?;
    let serving = matches!(ctx.block, crate::blocking::BlockMode::Serving { .. });
    let wanted: Vec<Bytes> = ctx.candidates(r.keys).into_iter().cloned().collect();
    let keys = r.keys.to_vec();
    ctx.atomically(&keys, |ctx| {
        if serving {
            if let Some(err) = parked_gone(ctx, &wanted, r.group) {
                // Redis unblocks the client with an error reply.
                ctx.out.error(err);
                return Ok(());
            }
        }
        let (from, work) = check(ctx, &r)?;
        ctx.long(work, |ctx| serve_all(ctx, &r, from, &wanted))
    })
}

/// Serves the streams of `wanted` (all of them, or the one a parked client's re-run is for), or
/// blocks, or replies nil.
fn serve_all(ctx: &mut Ctx<'_>, r: &Request<'_>, from: Vec<From>, wanted: &[Bytes]) -> CmdResult {
    let (now, resp3) = (ctx.now, ctx.out.resp3);
    let mut body = Reply { resp3, ..Reply::default() };
    let mut served = 0;
    for (key, from) in r.keys.iter().zip(from) {
        if !wanted.contains(key) {
            continue;
        }
        let mut created = false;
        let mut part = Reply { resp3, ..Reply::default() };
        if !resp3 {
            part.array(2);
        }
        part.bulk(key);
        let hit = collection::modify_unless::<Stream, _>(
            ctx,
            key,
            false,
            |s| nothing_new(s, r, from),
            |s| Ok(serve(s, r, from, now, &mut part, &mut created)),
            false,
        )?;
        if created {
            ctx.notify(Class::Stream, "xgroup-createconsumer", key);
        }
        if hit {
            served += 1;
            body.buf.extend_from_slice(&part.buf);
        }
    }
    if served > 0 {
        if resp3 {
            ctx.out.map(served)
        } else {
            ctx.out.array(served)
        }
        ctx.out.buf.extend_from_slice(&body.buf);
        return Ok(());
    }
    match r.block {
        Some(timeout) => ctx.block(r.keys, timeout, Nil::Array),
        None => {
            ctx.out.null_array();
            Ok(())
        }
    }
}

/// For a parked client re-run because its key changed: the error that unblocks it if the key is
/// gone or holds another type, or its group was destroyed.
fn parked_gone(ctx: &mut Ctx<'_>, keys: &[Bytes], group: &[u8]) -> Option<&'static str> {
    let key = keys.first()?;
    match ctx.peek(key) {
        Some(e) => match Stream::of(&e.value) {
            None => Some("UNBLOCKED the stream key no longer exists"),
            Some(s) if !s.groups.contains_key(group) => {
                Some("NOGROUP the consumer group this client was blocked on no longer exists")
            }
            Some(_) => None,
        },
        None => Some("UNBLOCKED the stream key no longer exists"),
    }
}
