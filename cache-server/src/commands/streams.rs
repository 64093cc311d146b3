//! Stream commands without consumer groups: XADD XLEN XDEL XTRIM XSETID here, the reads XRANGE
//! XREVRANGE XREAD (blocking too) in `read`; id arguments and entry replies in [`ids`] (shared
//! with the group commands). Consumer groups live in [`groups`], XINFO in [`info`]; the type in
//! [`crate::types::stream`]. Argument checks follow Redis 7.0.15's order and texts (t_stream.c).

pub mod groups;
pub mod ids;
pub mod info;
mod read;
#[cfg(test)]
mod tests;

pub use read::read_keys;

use super::{CmdError, CmdResult, CommandSpec, Ctx, NOT_INT, SYNTAX, collection, is, spec};
use crate::frame::parse_i64;
use crate::notify::Class;
use crate::types::stream::{Stream, StreamId, Trim};
use bytes::Bytes;
use ids::{AddId, parse_add_id, parse_strict_id};

const G: &str = "stream";

/// The family's table rows (arity, flags and key positions as Redis 7.0's COMMAND INFO).
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    spec("xadd", -5, &["write", "denyoom", "fast"], (1, 1, 1), G, "Appends a new entry to a stream", "5.0.0", xadd),
    spec("xlen", 2, &["readonly", "fast"], (1, 1, 1), G, "Return the number of entries in a stream", "5.0.0", xlen),
    spec("xrange", -4, &["readonly"], (1, 1, 1), G, "Return a range of elements in a stream, with IDs matching the specified IDs interval", "5.0.0", read::xrange),
    spec("xrevrange", -4, &["readonly"], (1, 1, 1), G, "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", "5.0.0", read::xrevrange),
    spec("xdel", -3, &["write", "fast"], (1, 1, 1), G, "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", "5.0.0", xdel),
    spec("xtrim", -4, &["write"], (1, 1, 1), G, "Trims the stream to (approximately if '~' is passed) a certain size", "5.0.0", xtrim),
    spec("xread", -4, &["readonly", "blocking", "movablekeys"], (0, 0, 0), G, "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", "5.0.0", read::xread),
    spec("xsetid", -3, &["write", "denyoom", "fast"], (1, 1, 1), G, "An internal command for replicating stream values", "5.0.0", xsetid),
];

/// The trimming options of XADD and XTRIM.
#[derive(Debug, Clone, Copy)]
struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    limit: u64,
}

/// What XADD parsed besides the trimming: the id, NOMKSTREAM, and where the fields start.
struct AddArgs {
    id: AddId,
    nomkstream: bool,
    fields_at: usize,
}

/// Parses XADD's options and id (`xadd`) or XTRIM's options, as Redis's
/// `streamParseAddOrTrimArgsOrReply`, with its errors in its order.
fn parse_add_or_trim(a: &[Bytes], xadd: bool) -> Result<(TrimArgs, Option<AddArgs>), CmdError> {
    let mut t = TrimArgs { how: None, approx: false, limit: 0 };
    let (mut limit, mut limit_given, mut nomkstream) = (0i64, false, false);
    let mut add = None;
    let mut i = 2;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = &a[i];
        if xadd && opt.as_ref() == b"*" {
            add = Some(AddArgs { id: AddId::Auto, nomkstream, fields_at: i + 1 });
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if t.how.is_some() {
                return Err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible".into());
            }
            t.approx = false;
            let next = a[i + 1].as_ref();
            if more >= 2 && (next == b"~" || next == b"=") {
                t.approx = next == b"~";
                i += 1;
            }
            let arg = &a[i + 1];
            t.how = Some(if is(opt, "maxlen") {
                let n = parse_i64(arg).ok_or(NOT_INT)?;
                Trim::MaxLen(u64::try_from(n).map_err(|_| CmdError::from("ERR The MAXLEN argument must be >= 0."))?)
            } else {
                Trim::MinId(parse_strict_id(arg, 0)?)
            });
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            limit = parse_i64(&a[i + 1]).ok_or(NOT_INT)?;
            if limit < 0 {
                return Err("ERR The LIMIT argument must be >= 0.".into());
            }
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            nomkstream = true;
        } else if xadd {
            add = Some(AddArgs { id: parse_add_id(opt)?, nomkstream, fields_at: i + 1 });
            break;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    if limit != 0 && t.how.is_none() {
        return Err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy".into());
    }
    if !xadd && t.how.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy".into());
    }
    if limit_given {
        if !t.approx {
            return Err("ERR syntax error, LIMIT cannot be used without the special ~ option".into());
        }
        t.limit = limit as u64;
    } else if t.approx {
        t.limit = 100 * u64::from(crate::types::stream::NODE_MAX_ENTRIES);
    }
    if let Some(add) = &mut add {
        add.nomkstream = nomkstream;
    }
    Ok((t, add))
}

/// Changes the stream at `key` once `check` accepts it as it stands (creating an empty one first
/// if `create`): an error from `check` leaves the key untouched (nothing written, no watcher
/// touched), as Redis checks before it writes. `Ok(None)` if the key is absent and not created.
fn change<C, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    check: impl FnOnce(&Stream) -> Result<C, CmdError>,
    f: impl FnOnce(&mut Stream, C) -> R,
) -> Result<Option<R>, CmdError> {
    use collection::Collection;
    ctx.update(key, |cur| {
        let checked = match cur.get() {
            None if !create => return Ok(None),
            None => check(&Stream::default())?,
            Some(e) => check(Stream::of(&e.value).ok_or(super::WRONGTYPE)?)?,
        };
        collection::modify_current(cur, create, |_| false, |s| Ok(Some(f(s, checked))), None)
    })
}

fn xadd(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (trim, add) = parse_add_or_trim(a, true)?;
    // Options only (no id, no fields): a field count of zero is an arity error.
    let add = add.unwrap_or(AddArgs { id: AddId::Auto, nomkstream: false, fields_at: a.len() + 1 });
    let fields = a.get(add.fields_at..).unwrap_or_default();
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Err("ERR wrong number of arguments for 'xadd' command".into());
    }
    if add.id == AddId::Explicit(StreamId::MIN) {
        return Err(ids::ID_ZERO.into());
    }
    let now = ctx.now;
    let added = change(
        ctx,
        &a[1],
        !add.nomkstream,
        |s| {
            if s.last_id() == StreamId::MAX {
                return Err(ids::EXHAUSTED.into());
            }
            let id = ids::next_add_id(add.id, s.last_id(), now)?;
            ids::check_entry_size(fields)?;
            Ok(id)
        },
        |s, id| {
            s.append(id, fields);
            let trimmed = trim.how.is_some_and(|how| s.trim(how, trim.approx, trim.limit) > 0);
            (id, trimmed)
        },
    )?;
    let Some((id, trimmed)) = added else {
        ctx.out.null();
        return Ok(());
    };
    ids::write_id(ctx.out, id);
    ctx.notify(Class::Stream, "xadd", &a[1]);
    if trimmed {
        ctx.notify(Class::Stream, "xtrim", &a[1]);
    }
    Ok(())
}

fn xlen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = collection::read::<Stream>(ctx, &a[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn xdel(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if collection::peek::<Stream>(ctx, &a[1])?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = a[2..].iter().map(|id| parse_strict_id(id, 0)).collect::<Result<Vec<_>, _>>()?;
    // Nothing to delete: the key is left untouched (no write to signal).
    let absent = |s: &Stream| ids.iter().all(|id| s.get(*id).is_none());
    let deleted = collection::modify_unless::<Stream, _>(
        ctx,
        &a[1],
        false,
        absent,
        |s| Ok(ids.iter().filter(|id| s.delete(**id)).count()),
        0,
    )?;
    if deleted > 0 {
        ctx.notify(Class::Stream, "xdel", &a[1]);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xtrim(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (trim, _) = parse_add_or_trim(a, false)?;
    let how = trim.how.expect("XTRIM's parser requires a strategy");
    let nothing = |s: &Stream| match how {
        Trim::MaxLen(max) => s.len() as u64 <= max,
        Trim::MinId(min) => s.first().is_none_or(|(id, _)| id >= min),
    };
    let deleted = collection::modify_unless::<Stream, _>(
        ctx,
        &a[1],
        false,
        nothing,
        |s| Ok(s.trim(how, trim.approx, trim.limit)),
        0,
    )?;
    if deleted > 0 {
        ctx.notify(Class::Stream, "xtrim", &a[1]);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let id = parse_strict_id(&a[2], 0)?;
    let (mut entries_added, mut max_deleted) = (None, None);
    let mut i = 3;
    while i < a.len() {
        let more = a.len() - 1 - i > 0;
        if is(&a[i], "entriesadded") && more {
            let n = parse_i64(&a[i + 1]).ok_or(NOT_INT)?;
            entries_added = Some(u64::try_from(n).map_err(|_| CmdError::from("ERR entries_added must be positive"))?);
        } else if is(&a[i], "maxdeletedid") && more {
            let m = parse_strict_id(&a[i + 1], 0)?;
            if id < m {
                return Err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id".into());
            }
            max_deleted = Some(m);
        } else {
            return Err(SYNTAX.into());
        }
        i += 2;
    }
    let max_deleted = max_deleted.filter(|m| *m != StreamId::MIN);
    let check = |s: &Stream| -> Result<(), CmdError> {
        if let Some((top, _)) = s.last() {
            if id < top {
                return Err("ERR The ID specified in XSETID is smaller than the target stream top item".into());
            }
            if entries_added.is_some_and(|n| n < s.len() as u64) {
                return Err("ERR The entries_added specified in XSETID is smaller than the target stream length".into());
            }
        }
        Ok(())
    };
    // Like Redis, XSETID wakes no parked reader: the next XADD serves what follows the raised id.
    let found = crate::blocking::quietly(|| {
        change(ctx, &a[1], false, check, |s, ()| s.set_last_id(id, entries_added, max_deleted))
    })?;
    if found.is_none() {
        return Err("ERR no such key".into());
    }
    ctx.notify(Class::Stream, "xsetid", &a[1]);
    ctx.out.ok();
    Ok(())
}
