//! String commands: GET SET (EX PX EXAT PXAT NX XX KEEPTTL GET) SETNX SETEX PSETEX GETSET GETDEL
//! GETEX MGET MSET MSETNX INCR DECR INCRBY DECRBY INCRBYFLOAT APPEND STRLEN GETRANGE SETRANGE.
//! Read-modify-write commands run inside `Db::update`, atomically under the core's shard lock.

use super::{
    CmdError, CmdResult, CommandSpec, Ctx, NOT_FLOAT, OVERFLOW, SYNTAX, WRONGTYPE, arg_i64, expire_at, is, parse_f64,
    spec,
};
use crate::db::{Entry, Str, Value};
use crate::frame::parse_i64;
use crate::notify::Class;
use bytes::Bytes;

const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "denyoom", "fast"];
const RF: &[&str] = &["readonly", "fast"];
const G: &str = "string";

/// The string family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec("get", 2, RF, (1, 1, 1), G, "Returns the string value of a key.", "1.0.0", get),
    spec("set", -3, W, (1, 1, 1), G, "Sets the string value of a key, ignoring its type.", "1.0.0", set),
    spec(
        "setnx",
        3,
        WF,
        (1, 1, 1),
        G,
        "Set the string value of a key only when the key doesn't exist.",
        "1.0.0",
        setnx,
    ),
    spec("setex", 4, W, (1, 1, 1), G, "Sets the string value and expiration time of a key.", "2.0.0", setex),
    spec(
        "psetex",
        4,
        W,
        (1, 1, 1),
        G,
        "Sets both string value and expiration time in milliseconds of a key.",
        "2.6.0",
        psetex,
    ),
    spec(
        "getset",
        3,
        WF,
        (1, 1, 1),
        G,
        "Returns the previous string value of a key after setting it to a new value.",
        "1.0.0",
        getset,
    ),
    spec(
        "getdel",
        2,
        &["write", "fast"],
        (1, 1, 1),
        G,
        "Returns the string value of a key after deleting the key.",
        "6.2.0",
        getdel,
    ),
    spec(
        "getex",
        -2,
        &["write", "fast"],
        (1, 1, 1),
        G,
        "Returns the string value of a key after setting its expiration time.",
        "6.2.0",
        getex,
    ),
    spec("mget", -2, RF, (1, -1, 1), G, "Atomically returns the string values of one or more keys.", "1.0.0", mget),
    spec(
        "mset",
        -3,
        W,
        (1, -1, 2),
        G,
        "Atomically creates or modifies the string values of one or more keys.",
        "1.0.1",
        mset,
    ),
    spec(
        "msetnx",
        -3,
        W,
        (1, -1, 2),
        G,
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        "1.0.1",
        msetnx,
    ),
    spec("incr", 2, WF, (1, 1, 1), G, "Increments the integer value of a key by one.", "1.0.0", incr),
    spec("decr", 2, WF, (1, 1, 1), G, "Decrements the integer value of a key by one.", "1.0.0", decr),
    spec("incrby", 3, WF, (1, 1, 1), G, "Increments the integer value of a key by a number.", "1.0.0", incrby),
    spec("decrby", 3, WF, (1, 1, 1), G, "Decrements a number from the integer value of a key.", "1.0.0", decrby),
    spec(
        "incrbyfloat",
        3,
        WF,
        (1, 1, 1),
        G,
        "Increment the floating point value of a key by a number.",
        "2.6.0",
        incrbyfloat,
    ),
    spec(
        "append",
        3,
        WF,
        (1, 1, 1),
        G,
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        "2.0.0",
        append,
    ),
    spec("strlen", 2, RF, (1, 1, 1), G, "Returns the length of a string value.", "2.2.0", strlen),
    spec(
        "getrange",
        4,
        &["readonly"],
        (1, 1, 1),
        G,
        "Returns a substring of the string stored at a key.",
        "2.4.0",
        getrange,
    ),
    spec("substr", 4, &["readonly"], (1, 1, 1), G, "Returns a substring from a string value.", "1.0.0", getrange),
    spec(
        "setrange",
        4,
        W,
        (1, 1, 1),
        G,
        "Overwrites a part of a string value with another by an offset.",
        "2.2.0",
        setrange,
    ),
];

fn str_of(e: Option<&Entry>) -> Result<Option<&Str>, CmdError> {
    match e.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(WRONGTYPE.into()),
    }
}

/// Applies `f` to a string entry's value and returns the new length (0 for a non-string, which
/// the callers have ruled out).
fn in_place(e: &mut Entry, f: impl FnOnce(&mut Str)) -> usize {
    match &mut e.value {
        Value::Str(s) => {
            f(s);
            s.len()
        }
        _ => 0,
    }
}

fn max_len_err() -> CmdError {
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)".into()
}

fn get(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    match ctx.get_str(&a[1])? {
        Some(s) => ctx.out.bulk(&s),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Parsed SET / GETEX options.
#[derive(Default)]
struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(&'static str, usize)>,
}

/// Redis's `parseExtendedStringArgumentsOrReply`, for SET (`is_set`) or GETEX.
fn parse_opts(a: &[Bytes], from: usize, is_set: bool) -> Result<SetOpts, CmdError> {
    let mut o = SetOpts::default();
    let mut j = from;
    while j < a.len() {
        let opt = &a[j];
        let next = j + 1 < a.len();
        let exp_unit = ["ex", "px", "exat", "pxat"].into_iter().find(|u| is(opt, u));
        if is(opt, "nx") && !o.xx && is_set {
            o.nx = true;
        } else if is(opt, "xx") && !o.nx && is_set {
            o.xx = true;
        } else if is(opt, "get") && is_set {
            o.get = true;
        } else if is(opt, "keepttl") && !o.persist && o.expire.is_none() && is_set {
            o.keepttl = true;
        } else if is(opt, "persist") && !is_set && o.expire.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some(u), true) = (exp_unit, next) {
            // The same unit may repeat (the last value wins, and only it is parsed); mixing units may not.
            if o.keepttl || o.persist || o.expire.is_some_and(|(prev, _)| prev != u) {
                return Err(SYNTAX.into());
            }
            o.expire = Some((u, j + 1));
            j += 1;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

fn set(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let o = parse_opts(a, 3, true)?;
    let when = match o.expire {
        Some((u, i)) => Some(expire_at(ctx, u, &a[i])?),
        None => None,
    };
    set_generic(ctx, &a[1], &a[2], when, &o)
}

fn set_generic(ctx: &mut Ctx<'_>, key: &Bytes, val: &[u8], when: Option<u64>, o: &SetOpts) -> CmdResult {
    let value = Str::new(val);
    let (written, old) = ctx.update(key, |cur| {
        let old = cur.get();
        let old_str = if o.get { str_of(old)?.cloned() } else { None };
        let found = old.is_some();
        if (o.nx && found) || (o.xx && !found) {
            return Ok::<_, CmdError>((false, old_str));
        }
        let expire_at = match when {
            Some(t) => t,
            None if o.keepttl => old.map_or(0, |e| e.expire_at),
            None => 0,
        };
        cur.put(Entry::expiring(Value::Str(value), expire_at));
        Ok((true, old_str))
    })?;
    if o.get && old.is_none() {
        // Redis reads the old value first (GET option, GETSET): a miss for a missing key.
        ctx.notify(Class::KeyMiss, "keymiss", key);
    }
    if written {
        ctx.notify(Class::String, "set", key);
        if when.is_some() {
            ctx.notify(Class::Generic, "expire", key);
        }
    }
    match (o.get, old) {
        (true, Some(s)) => ctx.out.bulk(&s),
        (true, None) => ctx.out.null(),
        (false, _) if written => ctx.out.ok(),
        (false, _) => ctx.out.null(),
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let value = Str::new(&a[2]);
    let done = ctx.update(&a[1], |cur| {
        if cur.get().is_some() {
            return false;
        }
        cur.put(Entry::new(Value::Str(value)));
        true
    });
    if done {
        ctx.notify(Class::String, "set", &a[1]);
    }
    ctx.out.int(i64::from(done));
    Ok(())
}

fn setex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let when = expire_at(ctx, "ex", &a[2])?;
    set_generic(ctx, &a[1], &a[3], Some(when), &SetOpts::default())
}

fn psetex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let when = expire_at(ctx, "px", &a[2])?;
    set_generic(ctx, &a[1], &a[3], Some(when), &SetOpts::default())
}

fn getset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    set_generic(ctx, &a[1], &a[2], None, &SetOpts { get: true, ..SetOpts::default() })
}

fn getdel(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let old = ctx.update(&a[1], |cur| {
        let s = str_of(cur.get())?.cloned();
        if s.is_some() {
            cur.delete();
        }
        Ok::<_, CmdError>(s)
    })?;
    match old {
        Some(_) => ctx.notify(Class::Generic, "del", &a[1]),
        // Redis reads the key first (a miss for a missing key).
        None => ctx.notify(Class::KeyMiss, "keymiss", &a[1]),
    }
    match old {
        Some(s) => ctx.out.bulk(&s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn getex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let o = parse_opts(a, 2, false)?;
    if o.expire.is_none() && !o.persist {
        return get(ctx, a);
    }
    // The read, the checks and the change of expiry as one operation on the key.
    ctx.atomically(&a[1..2], |ctx| {
        let Some(s) = ctx.get_str(&a[1])? else {
            ctx.out.null();
            return Ok(());
        };
        let when = match o.expire {
            Some((u, i)) => Some(expire_at(ctx, u, &a[i])?),
            None => None,
        };
        ctx.out.bulk(&s);
        let now = ctx.now;
        let event = ctx.update(&a[1], |cur| {
            let e = cur.get()?;
            if when.is_some_and(|t| t <= now) {
                cur.delete();
                Some("del")
            } else if e.expire_at != when.unwrap_or(0) {
                // PERSIST of a key without a TTL changes nothing (and touches no watcher).
                let mut e = e.clone();
                e.expire_at = when.unwrap_or(0);
                cur.put(e);
                Some(if when.is_some() { "expire" } else { "persist" })
            } else {
                when.is_some().then_some("expire")
            }
        });
        if let Some(event) = event {
            ctx.notify(Class::Generic, event, &a[1]);
        }
        Ok(())
    })
}

fn mget(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() > 2 {
        // Several keys are read at one instant, as Redis reads them.
        return ctx.atomically(&a[1..], |ctx| mget_held(ctx, a));
    }
    mget_held(ctx, a)
}

fn mget_held(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ctx.out.array(a.len() - 1);
    for k in &a[1..] {
        match ctx.get(k) {
            Some(Entry { value: Value::Str(s), .. }) => ctx.out.bulk(&s),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

fn check_pairs(ctx: &Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() % 2 == 0 {
        return Err(format!("ERR wrong number of arguments for '{}' command", ctx.name).into());
    }
    Ok(())
}

fn mset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    check_pairs(ctx, a)?;
    ctx.atomically(a[1..].iter().step_by(2), |ctx| {
        for kv in a[1..].chunks(2) {
            ctx.set(&kv[0], Entry::new(Value::str(&kv[1])));
            ctx.notify(Class::String, "set", &kv[0]);
        }
    });
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    check_pairs(ctx, a)?;
    let any = ctx.atomically(a[1..].iter().step_by(2), |ctx| {
        let any = a[1..].chunks(2).any(|kv| ctx.peek(&kv[0]).is_some());
        if !any {
            for kv in a[1..].chunks(2) {
                ctx.set(&kv[0], Entry::new(Value::str(&kv[1])));
                ctx.notify(Class::String, "set", &kv[0]);
            }
        }
        any
    });
    ctx.out.int(i64::from(!any));
    Ok(())
}

fn incr_by(ctx: &mut Ctx<'_>, key: &Bytes, delta: i64) -> CmdResult {
    let n = ctx.update(key, |cur| {
        let (old, expire_at) = match cur.get() {
            None => (0, 0),
            Some(Entry { value: Value::Str(s), expire_at, .. }) => {
                (parse_i64(s).ok_or_else(|| CmdError::from(super::NOT_INT))?, *expire_at)
            }
            Some(_) => return Err(CmdError::from(WRONGTYPE)),
        };
        let n = old.checked_add(delta).ok_or_else(|| CmdError::from(OVERFLOW))?;
        let mut buf = [0u8; 20];
        let s = crate::reply::fmt_i64(n, &mut buf);
        cur.put(Entry::expiring(Value::str(s), expire_at));
        Ok(n)
    })?;
    ctx.notify(Class::String, "incrby", key);
    ctx.out.int(n);
    Ok(())
}

fn incr(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    incr_by(ctx, &a[1], 1)
}

fn decr(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    incr_by(ctx, &a[1], -1)
}

fn incrby(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let d = arg_i64(&a[2])?;
    incr_by(ctx, &a[1], d)
}

fn decrby(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let d = arg_i64(&a[2])?;
    if d == i64::MIN {
        return Err("ERR decrement would overflow".into());
    }
    incr_by(ctx, &a[1], -d)
}

/// Formats an INCRBYFLOAT result the way Redis's `%.17Lf` + trimming shows typical decimals:
/// fixed notation, 15 significant digits (the precision an f64 holds exactly), no trailing zeros.
pub fn format_float(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let int_digits = (x.abs().log10().floor() as i32 + 1).max(1);
    let prec = (15 - int_digits).clamp(0, 17) as usize;
    let mut s = format!("{x:.prec$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" { "0".into() } else { s }
}

/// Adds `incr` to a float stored as text, with Redis's errors (the stored value is checked
/// before the increment, as Redis does).
pub fn add_float(old: Option<&[u8]>, incr: Option<f64>, not_float: &'static str) -> Result<String, CmdError> {
    let base = match old {
        None => 0.0,
        Some(s) => parse_f64(s).ok_or_else(|| CmdError::from(not_float))?,
    };
    let n = base + incr.ok_or_else(|| CmdError::from(NOT_FLOAT))?;
    if !n.is_finite() {
        return Err("ERR increment would produce NaN or Infinity".into());
    }
    Ok(format_float(n))
}

fn incrbyfloat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let incr = parse_f64(&a[2]);
    let s = ctx.update(&a[1], |cur| {
        let (old, expire_at) = match cur.get() {
            None => (None, 0),
            Some(Entry { value: Value::Str(s), expire_at, .. }) => (Some(s.clone()), *expire_at),
            Some(_) => return Err(WRONGTYPE.into()),
        };
        let s = add_float(old.as_deref(), incr, NOT_FLOAT)?;
        cur.put(Entry::expiring(Value::str(s.as_bytes()), expire_at));
        Ok::<_, CmdError>(s)
    })?;
    ctx.notify(Class::String, "incrbyfloat", &a[1]);
    ctx.out.bulk(s.as_bytes());
    Ok(())
}

fn append(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let max = ctx.shared.config.read().proto_max_bulk_len;
    let n = ctx.update(&a[1], |cur| {
        match cur.get() {
            None => {
                cur.put(Entry::new(Value::str(&a[2])));
                return Ok(a[2].len());
            }
            Some(Entry { value: Value::Str(s), .. }) if (s.len() + a[2].len()) as u64 > max => {
                return Err(max_len_err());
            }
            Some(Entry { value: Value::Str(_), .. }) => {}
            Some(_) => return Err(WRONGTYPE.into()),
        }
        // In place: amortised O(len(tail)), not a copy of the whole string.
        Ok(cur.modify(|e| in_place(e, |s| s.append(&a[2]))).unwrap_or(0))
    })?;
    ctx.notify(Class::String, "append", &a[1]);
    ctx.out.int(n as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = ctx.get_str(&a[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn getrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let mut start = arg_i64(&a[2])?;
    let mut end = arg_i64(&a[3])?;
    let s = ctx.get_str(&a[1])?.unwrap_or_default();
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&s[start as usize..=end as usize]);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let offset = arg_i64(&a[2])?;
    if offset < 0 {
        return Err("ERR offset is out of range".into());
    }
    let max = ctx.shared.config.read().proto_max_bulk_len;
    let val = &a[3];
    let too_big = (offset as u64).saturating_add(val.len() as u64) > max;
    let (n, wrote) = ctx.update(&a[1], |cur| {
        match cur.get() {
            None if val.is_empty() => return Ok((0, false)),
            Some(Entry { value: Value::Str(s), .. }) if val.is_empty() => return Ok((s.len(), false)),
            None | Some(Entry { value: Value::Str(_), .. }) => {}
            Some(_) => return Err(WRONGTYPE.into()),
        }
        if too_big {
            return Err(max_len_err());
        }
        let off = offset as usize;
        if cur.get().is_none() {
            let mut s = Str::empty();
            s.set_range(off, val);
            let n = s.len();
            cur.put(Entry::new(Value::Str(s)));
            return Ok((n, true));
        }
        Ok::<_, CmdError>((cur.modify(|e| in_place(e, |s| s.set_range(off, val))).unwrap_or(0), true))
    })?;
    if wrote {
        ctx.notify(Class::String, "setrange", &a[1]);
    }
    ctx.out.int(n as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    #[tokio::test]
    async fn string_commands() {
        run_table(&[
            ("SET k v", "+OK\r\n"),
            ("GET k", "$1\r\nv\r\n"),
            ("GET nokey", "$-1\r\n"),
            ("SET k v2 NX", "$-1\r\n"),
            ("SET k v2 XX GET", "$1\r\nv\r\n"),
            ("SET k v NX XX", "-ERR syntax error\r\n"),
            ("SET k v EX 0", "-ERR invalid expire time in 'set' command\r\n"),
            ("SET k v EX x", "-ERR value is not an integer or out of range\r\n"),
            ("SET k v KEEPTTL EX 10", "-ERR syntax error\r\n"),
            ("SET k v EX 10 PX 10", "-ERR syntax error\r\n"),
            ("SET k v PX 10 PX x", "-ERR value is not an integer or out of range\r\n"),
            ("SET k v EX 100 EX 2000", "+OK\r\n"),
            ("TTL k", ":2000\r\n"),
            ("SET", "-ERR wrong number of arguments for 'set' command\r\n"),
            ("SETEX k 0 v", "-ERR invalid expire time in 'setex' command\r\n"),
            ("SETNX k x", ":0\r\n"),
            ("SETNX k2 x", ":1\r\n"),
            ("GETSET k2 y", "$1\r\nx\r\n"),
            ("GETDEL k2", "$1\r\ny\r\n"),
            ("GETDEL k2", "$-1\r\n"),
            ("MSET a 1 b 2", "+OK\r\n"),
            ("MSET a 1 b", "-ERR wrong number of arguments for 'mset' command\r\n"),
            ("MGET a b nokey", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"),
            ("MSETNX a 1 c 3", ":0\r\n"),
            ("INCR a", ":2\r\n"),
            ("INCRBY a -5", ":-3\r\n"),
            ("DECRBY a 9223372036854775807", "-ERR increment or decrement would overflow\r\n"),
            ("INCR k", "-ERR value is not an integer or out of range\r\n"),
            ("SET big 9223372036854775807", "+OK\r\n"),
            ("INCR big", "-ERR increment or decrement would overflow\r\n"),
            ("DECRBY a -9223372036854775808", "-ERR decrement would overflow\r\n"),
            ("SET f 10.5", "+OK\r\n"),
            ("INCRBYFLOAT f 0.1", "$4\r\n10.6\r\n"),
            ("INCRBYFLOAT f abc", "-ERR value is not a valid float\r\n"),
            ("INCRBYFLOAT hx 0x10", "$2\r\n16\r\n"),
            ("INCRBYFLOAT hx -0X1.8p-1", "$5\r\n15.25\r\n"),
            ("INCRBYFLOAT hx 0x.1P4", "$5\r\n16.25\r\n"),
            ("INCRBYFLOAT hx 0x", "-ERR value is not a valid float\r\n"),
            ("INCRBYFLOAT hx 0x1p", "-ERR value is not a valid float\r\n"),
            ("INCRBYFLOAT k 1", "-ERR value is not a valid float\r\n"),
            ("APPEND s hello", ":5\r\n"),
            ("APPEND s \" world\"", ":11\r\n"),
            ("STRLEN s", ":11\r\n"),
            ("GETRANGE s 0 4", "$5\r\nhello\r\n"),
            ("GETRANGE s -5 -1", "$5\r\nworld\r\n"),
            ("GETRANGE s 5 1", "$0\r\n\r\n"),
            ("SETRANGE s 6 W", ":11\r\n"),
            ("GET s", "$11\r\nhello World\r\n"),
            ("SETRANGE s -1 x", "-ERR offset is out of range\r\n"),
            ("SETRANGE new 2 x", ":3\r\n"),
            ("GET new", "$3\r\n\0\0x\r\n"),
            ("SETRANGE s 536870912 x", "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"),
            ("GETEX s PERSIST", "$11\r\nhello World\r\n"),
            ("GETEX s NX", "-ERR syntax error\r\n"),
            ("HSET h f v", ":1\r\n"),
            ("GET h", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("SET h v GET", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("APPEND h x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ])
        .await;
    }
}
