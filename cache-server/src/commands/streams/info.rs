//! XINFO (STREAM [FULL [COUNT n]], GROUPS, CONSUMERS, HELP): what a stream and its groups look
//! like, in Redis 7.0.15's field order (maps in RESP3, flat arrays in RESP2).
//!
//! `radix-tree-keys` and `radix-tree-nodes` describe Redis's own layout (listpacks in a radix
//! tree); ours are the stream's blocks of entries, and the blocks plus one.

use super::groups::{entry_reply, help_reply, id_reply, no_group, subcommand_syntax};
use crate::commands::collection;
use crate::commands::{CmdError, CmdResult, CommandSpec, Ctx, NOT_INT, container_row, is, spec};
use crate::frame::parse_i64;
use crate::reply::Reply;
use crate::types::stream::group::lag;
use crate::types::stream::{Group, Stream, StreamId};
use bytes::Bytes;
use std::sync::Arc;

const G: &str = "stream";

const XINFO: &[CommandSpec] = &[
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Show helpful text about the different subcommands",
        "5.0.0",
        xinfo_help,
    ),
    spec("stream", -3, &["readonly"], (2, 2, 1), G, "Get information about a stream", "5.0.0", xinfo_stream),
    spec("groups", 3, &["readonly"], (2, 2, 1), G, "List the consumer groups of a stream", "5.0.0", xinfo_groups),
    spec(
        "consumers",
        4,
        &["readonly"],
        (2, 2, 1),
        G,
        "List the consumers in a consumer group",
        "5.0.0",
        xinfo_consumers,
    ),
];

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] =
    &[container_row("xinfo", G, "A container for stream introspection commands", "5.0.0", XINFO)];

/// The stream at `a[2]`: `-ERR no such key` if absent, WRONGTYPE for another type.
fn stream(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Arc<Stream>, CmdError> {
    collection::read::<Stream>(ctx, &a[2])?.ok_or_else(|| "ERR no such key".into())
}

fn xinfo_help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        &[
            "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
            "HELP",
            "    Prints this help.",
        ],
    )
}

fn xinfo_consumers(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let s = stream(ctx, a)?;
    let g = s.groups.get(&a[3]).ok_or_else(|| no_group(&a[2], &a[3]))?;
    let (now, out) = (ctx.now as i64, &mut *ctx.out);
    out.array(g.consumers().len());
    for (name, c) in g.consumers() {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pending.len() as i64);
        out.bulk(b"idle");
        out.int((now - c.seen as i64).max(0));
    }
    Ok(())
}

fn xinfo_groups(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let s = stream(ctx, a)?;
    let out = &mut *ctx.out;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers().len() as i64);
        out.bulk(b"pending");
        out.int(g.pel_len() as i64);
        out.bulk(b"last-delivered-id");
        id_reply(out, g.last_id);
        read_and_lag(out, &s, g);
    }
    Ok(())
}

/// The `entries-read` and `lag` fields of a group (null when unknown).
fn read_and_lag(out: &mut Reply, s: &Stream, g: &Group) {
    out.bulk(b"entries-read");
    match g.entries_read {
        Some(n) => out.int(n as i64),
        None => out.null(),
    }
    out.bulk(b"lag");
    match lag(s, g) {
        Some(n) => out.int(n),
        None => out.null(),
    }
}

fn xinfo_stream(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    // Redis looks the key up before it reads the options.
    let s = stream(ctx, a)?;
    let opts = &a[3..];
    let full = match opts.len() {
        0 => None,
        1 | 3 if is(&opts[0], "full") => match opts.get(1) {
            None => Some(10),
            Some(w) if is(w, "count") => {
                let n = parse_i64(&opts[2]).ok_or(NOT_INT)?;
                Some(if n < 0 { 10 } else { n as u64 })
            }
            Some(_) => return Err(subcommand_syntax(a, "XINFO")),
        },
        _ => return Err(subcommand_syntax(a, "XINFO")),
    };
    let out = &mut *ctx.out;
    let len = s.len() as u64;
    let keys = s.blocks() as u64;
    out.map(if full.is_some() { 9 } else { 10 });
    out.bulk(b"length");
    out.int(len as i64);
    out.bulk(b"radix-tree-keys");
    out.int(keys as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(keys as i64 + 1);
    out.bulk(b"last-generated-id");
    id_reply(out, s.last_id());
    out.bulk(b"max-deleted-entry-id");
    id_reply(out, s.max_deleted_id());
    out.bulk(b"entries-added");
    out.int(s.entries_added() as i64);
    out.bulk(b"recorded-first-entry-id");
    id_reply(out, s.recorded_first_id());
    let Some(count) = full else {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, edge) in [(&b"first-entry"[..], s.first()), (b"last-entry", s.last())] {
            out.bulk(name);
            match edge {
                Some((id, fields)) => entry_reply(out, id, fields),
                None => out.null(),
            }
        }
        return Ok(());
    };
    let limit = if count == 0 { usize::MAX } else { usize::try_from(count).unwrap_or(usize::MAX) };
    ctx.long(s.len().min(limit).saturating_mul(1 + s.groups.len()), |ctx| {
        full_reply(ctx.out, &s, limit);
    });
    Ok(())
}

/// XINFO STREAM FULL's `entries` and `groups` (each group's PEL and consumers), `limit` items
/// of each list.
fn full_reply(out: &mut Reply, s: &Stream, limit: usize) {
    out.bulk(b"entries");
    let entries: Vec<_> = s.range(StreamId::MIN, StreamId::MAX).take(limit).collect();
    out.array(entries.len());
    for (id, fields) in entries {
        entry_reply(out, id, fields);
    }
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        id_reply(out, g.last_id);
        read_and_lag(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel_len() as i64);
        out.bulk(b"pending");
        let pel: Vec<_> = g.pel_range(StreamId::MIN, StreamId::MAX).take(limit).collect();
        out.array(pel.len());
        for (id, p) in pel {
            out.array(4);
            id_reply(out, id);
            out.bulk(&p.consumer);
            out.int(p.delivered as i64);
            out.int(p.count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers().len());
        for (cname, c) in g.consumers() {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen as i64);
            out.bulk(b"pel-count");
            out.int(c.pending.len() as i64);
            out.bulk(b"pending");
            let mine: Vec<_> = c.pending.iter().take(limit).collect();
            out.array(mine.len());
            for id in mine {
                let p = g.pending(*id).expect("a consumer's id is pending");
                out.array(3);
                id_reply(out, *id);
                out.int(p.delivered as i64);
                out.int(p.count as i64);
            }
        }
    }
}
