//! Generic key commands: DEL UNLINK EXISTS TYPE EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT) TTL
//! PTTL EXPIRETIME PEXPIRETIME PERSIST KEYS SCAN RANDOMKEY RENAME RENAMENX TOUCH DBSIZE FLUSHDB
//! FLUSHALL. They work on any value type and never look inside values.

use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, arg_i64, is, spec};
use crate::db::Entry;
use crate::glob;
use crate::notify::Class;
use bytes::Bytes;

const G: &str = "generic";
const WF: &[&str] = &["write", "fast"];
const RF: &[&str] = &["readonly", "fast"];

/// The generic family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec("del", -2, &["write"], (1, -1, 1), G, "Deletes one or more keys.", "1.0.0", del),
    spec("unlink", -2, WF, (1, -1, 1), G, "Asynchronously deletes one or more keys.", "4.0.0", del),
    spec("exists", -2, RF, (1, -1, 1), G, "Determines whether one or more keys exist.", "1.0.0", exists),
    spec("type", 2, RF, (1, 1, 1), G, "Determines the type of value stored at a key.", "1.0.0", type_),
    spec("expire", -3, WF, (1, 1, 1), G, "Sets the expiration time of a key in seconds.", "1.0.0", expire),
    spec("pexpire", -3, WF, (1, 1, 1), G, "Sets the expiration time of a key in milliseconds.", "2.6.0", pexpire),
    spec("expireat", -3, WF, (1, 1, 1), G, "Sets the expiration time of a key to a Unix timestamp.", "1.2.0", expireat),
    spec(
        "pexpireat",
        -3,
        WF,
        (1, 1, 1),
        G,
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        "2.6.0",
        pexpireat,
    ),
    spec("ttl", 2, RF, (1, 1, 1), G, "Returns the expiration time in seconds of a key.", "1.0.0", ttl),
    spec("pttl", 2, RF, (1, 1, 1), G, "Returns the expiration time in milliseconds of a key.", "2.6.0", pttl),
    spec(
        "expiretime",
        2,
        RF,
        (1, 1, 1),
        G,
        "Returns the expiration time of a key as a Unix timestamp.",
        "7.0.0",
        expiretime,
    ),
    spec(
        "pexpiretime",
        2,
        RF,
        (1, 1, 1),
        G,
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        "7.0.0",
        pexpiretime,
    ),
    spec("persist", 2, WF, (1, 1, 1), G, "Removes the expiration time of a key.", "2.2.0", persist),
    spec("keys", 2, &["readonly"], (0, 0, 0), G, "Returns all key names that match a pattern.", "1.0.0", keys),
    spec("scan", -2, &["readonly"], (0, 0, 0), G, "Iterates over the key names in the database.", "2.8.0", scan),
    spec(
        "randomkey",
        1,
        &["readonly"],
        (0, 0, 0),
        G,
        "Returns a random key name from the database.",
        "1.0.0",
        randomkey,
    ),
    spec("rename", 3, &["write"], (1, 2, 1), G, "Renames a key and overwrites the destination.", "1.0.0", rename),
    spec("copy", -3, &["write", "denyoom"], (1, 2, 1), G, "Copies the value of a key to a new key.", "6.2.0", copy),
    spec("move", 3, WF, (1, 1, 1), G, "Moves a key to another database.", "1.0.0", move_),
    spec(
        "renamenx",
        3,
        WF,
        (1, 2, 1),
        G,
        "Renames a key only when the target key name doesn't exist.",
        "1.0.0",
        renamenx,
    ),
    spec(
        "touch",
        -2,
        RF,
        (1, -1, 1),
        G,
        "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
        "3.2.1",
        touch,
    ),
    spec("dbsize", 1, RF, (0, 0, 0), "server", "Returns the number of keys in the database.", "1.0.0", dbsize),
    spec(
        "flushdb",
        -1,
        &["write"],
        (0, 0, 0),
        "server",
        "Remove all keys from the current database.",
        "1.0.0",
        flushdb,
    ),
    spec("flushall", -1, &["write"], (0, 0, 0), "server", "Removes all keys from all databases.", "1.0.0", flushall),
    spec("swapdb", 3, &["write", "fast"], (0, 0, 0), "server", "Swaps two Redis databases.", "4.0.0", swapdb),
];

/// Runs `f` on the keys `a[1..]` at one instant (holding them when there are several).
fn all_at_once<R>(ctx: &mut Ctx<'_>, a: &[Bytes], f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    if a.len() > 2 { ctx.atomically(&a[1..], f) } else { f(ctx) }
}

fn del(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = all_at_once(ctx, a, |ctx| {
        a[1..]
            .iter()
            .filter(|k| {
                let gone = ctx.remove(k);
                if gone {
                    ctx.notify(Class::Generic, "del", k);
                }
                gone
            })
            .count()
    });
    ctx.out.int(n as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = all_at_once(ctx, a, |ctx| a[1..].iter().filter(|k| ctx.get_untouched(k).is_some()).count());
    ctx.out.int(n as i64);
    Ok(())
}

fn touch(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = all_at_once(ctx, a, |ctx| a[1..].iter().filter(|k| ctx.get(k).is_some()).count());
    ctx.out.int(n as i64);
    Ok(())
}

fn type_(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let t = ctx.get_untouched(&a[1]).map_or("none", |e| e.value.type_name());
    ctx.out.simple(t);
    Ok(())
}

fn expire_generic(ctx: &mut Ctx<'_>, a: &[Bytes], seconds: bool, relative: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &a[3..] {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return Err(format!("ERR Unsupported option {}", String::from_utf8_lossy(opt)).into());
        }
    }
    if nx && (xx || gt || lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if gt && lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    let bad = || CmdError::from(format!("ERR invalid expire time in '{}' command", ctx.name));
    let mut when = arg_i64(&a[2])?;
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(bad());
        }
        when *= 1000;
    }
    let base = if relative { ctx.now as i64 } else { 0 };
    if when > i64::MAX - base {
        return Err(bad());
    }
    when += base;
    let now = ctx.now as i64;
    let r = ctx.update(&a[1], |cur| {
        let Some(e) = cur.get() else { return 0 };
        let current = if e.expire_at == 0 { None } else { Some(e.expire_at as i64) };
        let skip = (nx && current.is_some())
            || (xx && current.is_none())
            || (gt && current.is_none_or(|c| when <= c))
            || (lt && current.is_some_and(|c| when >= c));
        if skip {
            return 0;
        }
        if when <= now {
            cur.delete();
            2
        } else {
            let mut e = e.clone();
            e.expire_at = when as u64;
            cur.put(e);
            1
        }
    });
    if r > 0 {
        ctx.notify(Class::Generic, if r == 2 { "del" } else { "expire" }, &a[1]);
    }
    let r = r.min(1);
    ctx.out.int(r);
    Ok(())
}

fn expire(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, true, true)
}

fn pexpire(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, false, true)
}

fn expireat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, true, false)
}

fn pexpireat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, false, false)
}

fn ttl_generic(ctx: &mut Ctx<'_>, a: &[Bytes], ms: bool, absolute: bool) -> CmdResult {
    let n = match ctx.get_untouched(&a[1]) {
        None => -2,
        Some(Entry { expire_at: 0, .. }) => -1,
        Some(Entry { expire_at, .. }) if absolute => (if ms { expire_at } else { expire_at / 1000 }) as i64,
        Some(Entry { expire_at, .. }) => {
            let left = expire_at.saturating_sub(ctx.now) as i64;
            if ms { left } else { (left + 500) / 1000 }
        }
    };
    ctx.out.int(n);
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, a, false, false)
}

fn pttl(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, a, true, false)
}

fn expiretime(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, a, false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, a, true, true)
}

fn persist(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let r = ctx.update(&a[1], |cur| match cur.get() {
        Some(e) if e.expire_at != 0 => {
            let mut e = e.clone();
            e.expire_at = 0;
            cur.put(e);
            1
        }
        _ => 0,
    });
    if r == 1 {
        ctx.notify(Class::Generic, "persist", &a[1]);
    }
    ctx.out.int(r);
    Ok(())
}

fn keys(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let all = a[1].as_ref() == b"*";
    let found = ctx.keys_where(|k| all || glob::matches(&a[1], k, false));
    ctx.long(found.len(), |ctx| ctx.out.bulks(found));
    Ok(())
}

/// Parsed `[MATCH p] [COUNT n] [TYPE t]` of SCAN / HSCAN.
#[derive(Debug)]
pub struct ScanOpts<'a> {
    /// Pattern, `None` for `*`.
    pub pattern: Option<&'a [u8]>,
    /// Hint of elements per call.
    pub count: usize,
    /// Type filter (SCAN only).
    pub type_: Option<&'a [u8]>,
}

/// Parses a SCAN cursor (`-ERR invalid cursor`) as Redis's `strtoul` does: an optional sign (a
/// negative cursor wraps around), digits to the end of the C string (a NUL ends it; an empty
/// cursor is 0), no leading space, no overflow.
pub fn parse_cursor(a: &[u8]) -> Result<u64, CmdError> {
    let bad = || CmdError::from("ERR invalid cursor");
    let a = &a[..a.iter().position(|&b| b == 0).unwrap_or(a.len())];
    if a.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match a[0] {
        b'-' => (true, &a[1..]),
        b'+' => (false, &a[1..]),
        _ => (false, a),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let v = std::str::from_utf8(digits).ok().and_then(|s| s.parse::<u64>().ok()).ok_or_else(bad)?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Parses SCAN options from `a` (after the cursor).
pub fn parse_scan_opts(a: &[Bytes], allow_type: bool) -> Result<ScanOpts<'_>, CmdError> {
    let mut o = ScanOpts { pattern: None, count: 10, type_: None };
    let mut i = 0;
    while i < a.len() {
        let more = a.len() - i >= 2;
        if is(&a[i], "count") && more {
            let n = arg_i64(&a[i + 1])?;
            if n < 1 {
                return Err(SYNTAX.into());
            }
            o.count = n as usize;
        } else if is(&a[i], "match") && more {
            o.pattern = (a[i + 1].as_ref() != b"*").then_some(a[i + 1].as_ref());
        } else if is(&a[i], "type") && allow_type && more {
            o.type_ = Some(&a[i + 1]);
        } else {
            return Err(SYNTAX.into());
        }
        i += 2;
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[1])?;
    let o = parse_scan_opts(&a[2..], true)?;
    let (next, items) = ctx.scan(cursor, o.count);
    let keys: Vec<Bytes> = items
        .into_iter()
        .filter(|(k, e)| {
            o.pattern.is_none_or(|p| glob::matches(p, k, false))
                && o.type_.is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()))
        })
        .map(|(k, _)| k)
        .collect();
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.bulks(keys);
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let mut cursor = 0;
    let seed = ctx.shared.db.clock.now_us();
    loop {
        let (next, items) = ctx.scan(cursor, 64);
        if !items.is_empty() {
            let pick = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) as usize % items.len();
            ctx.out.bulk(&items[pick].0);
            return Ok(());
        }
        if next == 0 {
            ctx.out.null();
            return Ok(());
        }
        cursor = next;
    }
}

fn rename_generic(ctx: &mut Ctx<'_>, a: &[Bytes], nx: bool) -> CmdResult {
    ctx.atomically(&a[1..3], |ctx| rename_held(ctx, a, nx))
}

fn rename_held(ctx: &mut Ctx<'_>, a: &[Bytes], nx: bool) -> CmdResult {
    let Some(e) = ctx.peek(&a[1]) else {
        return Err("ERR no such key".into());
    };
    if a[1] == a[2] {
        if nx {
            ctx.out.int(0)
        } else {
            ctx.out.ok()
        }
        return Ok(());
    }
    let (placed, replaced) = ctx.update(&a[2], |cur| {
        let found = cur.get().is_some();
        if nx && found {
            return (false, false);
        }
        cur.put(e);
        (true, found)
    });
    if placed {
        ctx.remove(&a[1]);
        // Redis deletes a destination it replaces and adds the key anew.
        if replaced {
            ctx.notify(Class::New, "new", &a[2]);
        }
        ctx.notify(Class::Generic, "rename_from", &a[1]);
        ctx.notify(Class::Generic, "rename_to", &a[2]);
    }
    if nx {
        ctx.out.int(i64::from(placed))
    } else {
        ctx.out.ok()
    }
    Ok(())
}

/// The database `a` names, with Redis's checks.
fn db_index(ctx: &Ctx<'_>, a: &[u8]) -> Result<u32, CmdError> {
    let n = arg_i64(a)?;
    u32::try_from(n)
        .ok()
        .filter(|&d| (d as usize) < ctx.db().databases())
        .ok_or_else(|| "ERR DB index is out of range".into())
}

/// The target database of a COPY (`DB n`), a MOVE, or none: for the keys an atomic operation holds.
pub fn cross_db_target(name: &str, a: &[Bytes]) -> Option<(u32, Bytes)> {
    let parse = |d: &Bytes| crate::frame::parse_i64(d).and_then(|n| u32::try_from(n).ok());
    match name {
        "move" => Some((parse(a.get(2)?)?, a[1].clone())),
        "copy" => {
            let i = a.iter().position(|x| is(x, "db"))?;
            Some((parse(a.get(i + 1)?)?, a.get(2)?.clone()))
        }
        _ => None,
    }
}

fn copy(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (mut db, mut replace) = (ctx.dbi(), false);
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "replace") {
            replace = true;
        } else if is(&a[i], "db") && i + 1 < a.len() {
            db = db_index(ctx, &a[i + 1])?;
            i += 1;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    if ctx.shared.cluster.is_some() && (db != 0 || ctx.dbi() != 0) {
        return Err("ERR Copying to another database is not allowed in cluster mode".into());
    }
    if db == ctx.dbi() && a[1] == a[2] {
        return Err("ERR source and destination objects are the same".into());
    }
    let src = ctx.dbi();
    let copied = ctx.atomically_at([(src, &a[1]), (db, &a[2])], |ctx| {
        let Some(e) = ctx.get(&a[1]) else { return false };
        let (copied, replaced) = ctx.update_in(db, &a[2], |cur| {
            let found = cur.get().is_some();
            if found && !replace {
                return (false, false);
            }
            cur.put(e);
            (true, found)
        });
        let tracking = &ctx.shared.db.tracking;
        if replaced {
            crate::notify::emit(tracking, db, Class::New, "new", &a[2]);
        }
        if copied {
            crate::notify::emit(tracking, db, Class::Generic, "copy_to", &a[2]);
        }
        copied
    });
    ctx.out.int(i64::from(copied));
    Ok(())
}

fn move_(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if ctx.shared.cluster.is_some() {
        return Err("ERR MOVE is not allowed in cluster mode".into());
    }
    let db = db_index(ctx, &a[2])?;
    let src = ctx.dbi();
    if db == src {
        return Err("ERR source and destination objects are the same".into());
    }
    let moved = ctx.atomically_at([(src, &a[1]), (db, &a[1])], |ctx| {
        let Some(e) = ctx.peek(&a[1]) else { return false };
        let placed = ctx.update_in(db, &a[1], |cur| {
            if cur.get().is_some() {
                return false;
            }
            cur.put(e);
            true
        });
        if placed {
            ctx.remove(&a[1]);
            ctx.notify(Class::Generic, "move_from", &a[1]);
            crate::notify::emit(&ctx.shared.db.tracking, db, Class::Generic, "move_to", &a[1]);
        }
        placed
    });
    ctx.out.int(i64::from(moved));
    Ok(())
}

/// SWAPDB. The databases share one keyspace (a key carries its database), so this moves every key
/// of the two databases, holding the whole keyspace: O(keys in both), where Redis swaps two
/// pointers. Clients watching a key of either database that exists in either are marked, as in
/// Redis (each key moved is a write at its old and its new place).
fn swapdb(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if ctx.shared.cluster.is_some() {
        return Err("ERR SWAPDB is not allowed in cluster mode".into());
    }
    let index = |arg: &Bytes, which: &str| -> Result<u32, CmdError> {
        let n = crate::frame::parse_i64(arg).ok_or_else(|| CmdError::from(format!("ERR invalid {which} DB index")))?;
        u32::try_from(n)
            .ok()
            .filter(|&d| (d as usize) < ctx.db().databases())
            .ok_or_else(|| "ERR DB index is out of range".into())
    };
    let (x, y) = (index(&a[1], "first")?, index(&a[2], "second")?);
    if x != y {
        // Redis swaps two tables: no key is created, no event is published.
        let _quiet = crate::notify::Quiet::new();
        ctx.everything(|ctx| {
            let (from_x, from_y) = (ctx.held_entries(x), ctx.held_entries(y));
            ctx.long(from_x.len() + from_y.len(), |ctx| {
                for (k, _) in from_x.iter() {
                    ctx.update_in(x, k, |c| c.delete());
                }
                for (k, _) in from_y.iter() {
                    ctx.update_in(y, k, |c| c.delete());
                }
                for (db, moved) in [(y, from_x), (x, from_y)] {
                    for (k, e) in moved {
                        ctx.update_in(db, &k, |c| c.put_keep_cas(e));
                    }
                }
            });
        });
    }
    ctx.out.ok();
    Ok(())
}

fn rename(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    rename_generic(ctx, a, false)
}

fn renamenx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    rename_generic(ctx, a, true)
}

fn dbsize(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let n = ctx.dbsize();
    ctx.out.int(n as i64);
    Ok(())
}

fn flush_args(a: &[Bytes]) -> CmdResult {
    match a.len() {
        1 => Ok(()),
        2 if is(&a[1], "async") || is(&a[1], "sync") => Ok(()),
        _ => Err(SYNTAX.into()),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    flush_args(a)?;
    ctx.flush(false);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    flush_args(a)?;
    ctx.flush(true);
    // With save rules, Redis writes the emptied dataset at once, so a restart does not bring the
    // flushed keys back. Inside EXEC or a script the save is scheduled after it (the copy needs
    // the shard locks they hold), as BGSAVE there is.
    let shared = ctx.shared;
    if !crate::persistence::save::rules(shared).is_empty() {
        if ctx.scope.is_some() {
            crate::persistence::save::schedule(shared);
        } else if let Err(e) = ctx.long(usize::MAX, |_| crate::persistence::save::save_waiting(shared)) {
            tracing::warn!(error = %e, "FLUSHALL's save failed");
        }
    }
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    #[tokio::test]
    async fn key_commands() {
        run_table(&[
            ("SET a 1", "+OK\r\n"),
            ("SET b 2", "+OK\r\n"),
            ("EXISTS a b a nokey", ":3\r\n"),
            ("TYPE a", "+string\r\n"),
            ("TYPE nokey", "+none\r\n"),
            ("TTL a", ":-1\r\n"),
            ("TTL nokey", ":-2\r\n"),
            ("EXPIRE a 100", ":1\r\n"),
            ("TTL a", ":100\r\n"),
            ("EXPIRE a 50 GT", ":0\r\n"),
            ("EXPIRE a 50 LT", ":1\r\n"),
            ("EXPIRE a 50 NX", ":0\r\n"),
            ("EXPIRE b 50 XX", ":0\r\n"),
            ("EXPIRE a 50 NX XX", "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"),
            ("EXPIRE a 50 GT LT", "-ERR GT and LT options at the same time are not compatible\r\n"),
            ("EXPIRE a 50 foo", "-ERR Unsupported option foo\r\n"),
            ("EXPIRE a 9223372036854775807", "-ERR invalid expire time in 'expire' command\r\n"),
            ("PEXPIREAT b 4102444800000", ":1\r\n"),
            ("PEXPIRETIME b", ":4102444800000\r\n"),
            ("EXPIRETIME b", ":4102444800\r\n"),
            ("PERSIST b", ":1\r\n"),
            ("PERSIST b", ":0\r\n"),
            ("EXPIRETIME b", ":-1\r\n"),
            ("EXPIRE b -1", ":1\r\n"),
            ("EXISTS b", ":0\r\n"),
            ("RENAME nokey x", "-ERR no such key\r\n"),
            ("SET c 3", "+OK\r\n"),
            ("RENAMENX a c", ":0\r\n"),
            ("RENAME a d", "+OK\r\n"),
            ("TTL d", ":50\r\n"),
            ("KEYS d", "*1\r\n$1\r\nd\r\n"),
            ("DBSIZE", ":2\r\n"),
            ("SCAN 0 COUNT 100 MATCH c", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nc\r\n"),
            ("SCAN x", "-ERR invalid cursor\r\n"),
            ("SCAN 0 COUNT 0", "-ERR syntax error\r\n"),
            ("DEL c d nokey", ":2\r\n"),
            ("RANDOMKEY", "$-1\r\n"),
            ("FLUSHDB FOO", "-ERR syntax error\r\n"),
            ("SET e 1", "+OK\r\n"),
            ("SELECT 1", "+OK\r\n"),
            ("DBSIZE", ":0\r\n"),
            ("SET e 2", "+OK\r\n"),
            ("FLUSHDB ASYNC", "+OK\r\n"),
            ("SELECT 0", "+OK\r\n"),
            ("GET e", "$1\r\n1\r\n"),
            ("FLUSHALL SYNC", "+OK\r\n"),
            ("DBSIZE", ":0\r\n"),
        ])
        .await;
    }
}
