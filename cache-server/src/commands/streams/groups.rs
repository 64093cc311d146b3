//! Consumer-group commands: XGROUP (CREATE SETID DESTROY CREATECONSUMER DELCONSUMER HELP) and XACK
//! here; XREADGROUP in [`read`]; XPENDING, XCLAIM and XAUTOCLAIM in [`pending`]. The group
//! bookkeeping itself (PEL, consumers, read counter) is [`crate::types::stream::group`]'s; this
//! module parses arguments in Redis 7.0's order and writes its replies and errors.

pub mod pending;
pub mod read;

use super::ids::parse_interval_bound;
pub(crate) use super::ids::{parse_strict_id, write_entry as entry_reply, write_id as id_reply};
use crate::commands::collection::{self, Collection};
use crate::commands::{CmdError, CmdResult, CommandSpec, Ctx, NOT_INT, WRONGTYPE, container_row, is, spec};
use crate::frame::parse_i64;
use crate::notify::Class;
use crate::types::stream::{Group, Stream, StreamId};
use bytes::Bytes;

const G: &str = "stream";

const XGROUP: &[CommandSpec] = &[
    spec("create", -5, &["write", "denyoom"], (2, 2, 1), G, "Create a consumer group.", "5.0.0", xgroup_create),
    spec(
        "setid",
        -5,
        &["write"],
        (2, 2, 1),
        G,
        "Set a consumer group to an arbitrary last delivered ID value.",
        "5.0.0",
        xgroup_setid,
    ),
    spec("destroy", 4, &["write"], (2, 2, 1), G, "Destroy a consumer group.", "5.0.0", xgroup_destroy),
    spec(
        "createconsumer",
        5,
        &["write", "denyoom"],
        (2, 2, 1),
        G,
        "Create a consumer in a consumer group.",
        "6.2.0",
        xgroup_createconsumer,
    ),
    spec(
        "delconsumer",
        5,
        &["write"],
        (2, 2, 1),
        G,
        "Delete a consumer from a consumer group.",
        "5.0.0",
        xgroup_delconsumer,
    ),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Show helpful text about the different subcommands",
        "5.0.0",
        xgroup_help,
    ),
];

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    container_row("xgroup", G, "A container for consumer groups commands", "5.0.0", XGROUP),
    spec(
        "xreadgroup",
        -7,
        &["write", "blocking", "movablekeys"],
        (0, 0, 0),
        G,
        "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
        "5.0.0",
        read::xreadgroup,
    ),
    spec(
        "xack",
        -4,
        &["write", "fast"],
        (1, 1, 1),
        G,
        "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
        "5.0.0",
        xack,
    ),
    spec(
        "xpending",
        -3,
        &["readonly"],
        (1, 1, 1),
        G,
        "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
        "5.0.0",
        pending::xpending,
    ),
    spec(
        "xclaim",
        -6,
        &["write", "fast"],
        (1, 1, 1),
        G,
        "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
        "5.0.0",
        pending::xclaim,
    ),
    spec(
        "xautoclaim",
        -6,
        &["write", "fast"],
        (1, 1, 1),
        G,
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
        "6.2.0",
        pending::xautoclaim,
    ),
];

/// A range bound (XPENDING, XAUTOCLAIM): `-`, `+`, an id, or `(id` (exclusive: moved by one,
/// with Redis's errors when it cannot be).
pub(crate) fn parse_bound(a: &[u8], missing_seq: u64, start: bool) -> Result<StreamId, CmdError> {
    match parse_interval_bound(a, missing_seq)? {
        (id, false) => Ok(id),
        (id, true) if start => id.next().ok_or_else(|| "ERR invalid start ID for the interval".into()),
        (id, true) => id.prev().ok_or_else(|| "ERR invalid end ID for the interval".into()),
    }
}

/// A key or group name as Redis's `%s` shows it in error messages: up to its first NUL (bytes
/// that are not UTF-8 become U+FFFD: our error replies are text).
pub(crate) fn shown(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or_default())
}

/// `-NOGROUP No such key '<key>' or consumer group '<group>'` (XPENDING, XCLAIM, XAUTOCLAIM).
pub(crate) fn no_key_or_group(key: &[u8], group: &[u8]) -> CmdError {
    format!("NOGROUP No such key '{}' or consumer group '{}'", shown(key), shown(group)).into()
}

/// XREADGROUP's `-NOGROUP` for a missing key or group.
pub(crate) fn no_group_or_key_read(key: &[u8], group: &[u8]) -> CmdError {
    format!("NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option", shown(key), shown(group))
        .into()
}

/// `-NOGROUP No such consumer group '<group>' for key name '<key>'` (XGROUP, XINFO CONSUMERS).
pub(crate) fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    format!("NOGROUP No such consumer group '{}' for key name '{}'", shown(group), shown(key)).into()
}

/// Redis's `addReplySubcommandSyntaxError`.
pub(crate) fn subcommand_syntax(a: &[Bytes], container: &str) -> CmdError {
    let sub: String = String::from_utf8_lossy(&a[1]).chars().take(128).collect();
    format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {container} HELP.").into()
}

/// Runs `check` on the stream at `key` (`None` if absent; WRONGTYPE for another type) and, if
/// it returns a plan, `f` on the stream with it — creating an empty stream first if absent and
/// `create` — all under the key's lock. `Ok(None)` (nothing written) when the check returns no
/// plan; an error from the check writes nothing either.
pub(crate) fn on_stream<P, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    check: impl FnOnce(Option<&Stream>) -> Result<Option<P>, CmdError>,
    f: impl FnOnce(&mut Stream, P) -> Result<R, CmdError>,
) -> Result<Option<R>, CmdError> {
    ctx.update(key, |cur| {
        let s = match cur.get() {
            None => None,
            Some(e) => Some(Stream::of(&e.value).ok_or(CmdError::from(WRONGTYPE))?),
        };
        let Some(plan) = check(s.map(|s| &**s))? else { return Ok(None) };
        collection::modify_current(cur, create, |_| false, |s: &mut Stream| f(s, plan).map(Some), None)
    })
}

/// Parses an integer argument with Redis's default error.
fn int(a: &[u8]) -> Result<i64, CmdError> {
    parse_i64(a).ok_or_else(|| NOT_INT.into())
}

const KEY_MUST_EXIST: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

/// The options after `XGROUP CREATE|SETID key group id`: MKSTREAM (CREATE only) and ENTRIESREAD.
fn group_options(a: &[Bytes], create: bool) -> Result<(bool, Option<u64>), CmdError> {
    let (mut mkstream, mut entries_read) = (false, None);
    let mut i = 5;
    while i < a.len() {
        if create && is(&a[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if is(&a[i], "entriesread") && i + 1 < a.len() {
            let n = int(&a[i + 1])?;
            if n < -1 {
                return Err("ERR value for ENTRIESREAD must be positive or -1".into());
            }
            entries_read = u64::try_from(n).ok();
            i += 2;
        } else {
            return Err(subcommand_syntax(a, "XGROUP"));
        }
    }
    Ok((mkstream, entries_read))
}

/// The id argument of CREATE and SETID: `$` is the stream's last id (0-0 for a stream about to
/// be created).
/// CREATE refuses `-` and `+`; SETID takes them (Redis parses its id leniently).
fn group_start(a: &[u8], s: Option<&Stream>, strict: bool) -> Result<StreamId, CmdError> {
    match a {
        b"$" => Ok(s.map_or(StreamId::MIN, Stream::last_id)),
        _ if strict => parse_strict_id(a, 0),
        _ => super::ids::parse_id(a, 0),
    }
}

/// Checks shared by the XGROUP subcommands: the key must exist (unless MKSTREAM) and, for
/// `needs_group`, the group too.
fn xgroup_check(a: &[Bytes], s: Option<&Stream>, mkstream: bool, needs_group: bool) -> Result<(), CmdError> {
    if mkstream {
        return Ok(());
    }
    let s = s.ok_or(KEY_MUST_EXIST)?;
    if needs_group && !s.groups.contains_key(&a[3]) {
        return Err(no_group(&a[2], &a[3]));
    }
    Ok(())
}

fn xgroup_create(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (mkstream, entries_read) = group_options(a, true)?;
    if a.len() > 8 {
        // Redis reads the options before it looks at the argument count.
        return Err(subcommand_syntax(a, "XGROUP"));
    }
    let created = on_stream(
        ctx,
        &a[2],
        mkstream,
        |s| {
            xgroup_check(a, s, mkstream, false)?;
            group_start(&a[4], s, true).map(Some)
        },
        |s, start| {
            if s.groups.contains_key(&a[3]) {
                return Ok(false);
            }
            s.groups.insert(a[3].clone(), Group::new(start, entries_read));
            Ok(true)
        },
    )?;
    if created != Some(true) {
        return Err("BUSYGROUP Consumer Group name already exists".into());
    }
    ctx.out.ok();
    ctx.notify(Class::Stream, "xgroup-create", &a[2]);
    Ok(())
}

fn xgroup_setid(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (_, entries_read) = group_options(a, false)?;
    if a.len() != 5 && a.len() != 7 {
        return Err(subcommand_syntax(a, "XGROUP"));
    }
    on_stream(
        ctx,
        &a[2],
        false,
        |s| {
            xgroup_check(a, s, false, true)?;
            group_start(&a[4], s, false).map(Some)
        },
        |s, id| {
            let g = s.groups.get_mut(&a[3]).expect("checked");
            g.last_id = id;
            g.entries_read = entries_read;
            Ok(())
        },
    )?;
    ctx.out.ok();
    ctx.notify(Class::Stream, "xgroup-setid", &a[2]);
    Ok(())
}

fn xgroup_destroy(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let exists = on_stream(
        ctx,
        &a[2],
        false,
        |s| {
            xgroup_check(a, s, false, false)?;
            Ok(s.is_some_and(|s| s.groups.contains_key(&a[3])).then_some(()))
        },
        |s, ()| Ok(s.groups.remove(&a[3])),
    )?
    .is_some();
    ctx.out.int(i64::from(exists));
    if exists {
        ctx.notify(Class::Stream, "xgroup-destroy", &a[2]);
    }
    Ok(())
}

fn xgroup_createconsumer(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let created = on_stream(
        ctx,
        &a[2],
        false,
        |s| {
            xgroup_check(a, s, false, true)?;
            Ok(s.and_then(|s| s.groups.get(&a[3])).is_some_and(|g| g.consumer(&a[4]).is_none()).then_some(()))
        },
        |s, ()| Ok(s.groups.get_mut(&a[3]).expect("checked").create_consumer(&a[4], now)),
    )?
    .unwrap_or(false);
    ctx.out.int(i64::from(created));
    if created {
        ctx.notify(Class::Stream, "xgroup-createconsumer", &a[2]);
    }
    Ok(())
}

fn xgroup_delconsumer(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let deleted = on_stream(
        ctx,
        &a[2],
        false,
        |s| {
            xgroup_check(a, s, false, true)?;
            Ok(s.and_then(|s| s.groups.get(&a[3])).is_some_and(|g| g.consumer(&a[4]).is_some()).then_some(()))
        },
        |s, ()| Ok(s.groups.get_mut(&a[3]).expect("checked").delete_consumer(&a[4])),
    )?
    .flatten();
    ctx.out.int(deleted.unwrap_or(0) as i64);
    if deleted.is_some() {
        ctx.notify(Class::Stream, "xgroup-delconsumer", &a[2]);
    }
    Ok(())
}

/// Writes a HELP text as Redis does: one simple string per line.
pub(crate) fn help_reply(ctx: &mut Ctx<'_>, lines: &[&str]) -> CmdResult {
    ctx.out.simple_lines(lines);
    Ok(())
}

fn xgroup_help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        &[
            "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
            "HELP",
            "    Prints this help.",
        ],
    )
}

/// XACK key group id [id ...]: all ids are parsed before any is acknowledged.
fn xack(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let acked = on_stream(
        ctx,
        &a[1],
        false,
        |s| {
            // No key or group: nothing to acknowledge (and the ids are not even parsed).
            let Some(g) = s.and_then(|s| s.groups.get(&a[2])) else { return Ok(None) };
            let ids: Vec<StreamId> = a[3..].iter().map(|id| parse_strict_id(id, 0)).collect::<Result<_, _>>()?;
            Ok(ids.iter().any(|id| g.pending(*id).is_some()).then_some(ids))
        },
        |s, ids| {
            let g = s.groups.get_mut(&a[2]).expect("checked");
            Ok(ids.iter().filter(|id| g.ack(**id)).count())
        },
    )?
    .unwrap_or(0);
    ctx.out.int(acked as i64);
    Ok(())
}

#[cfg(test)]
mod tests;
