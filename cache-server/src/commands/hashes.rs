//! Hash commands: HSET HMSET HSETNX HGET HMGET HGETALL HDEL HEXISTS HLEN HSTRLEN HINCRBY
//! HINCRBYFLOAT HKEYS HVALS HSCAN HRANDFIELD. Writes change the stored `HashValue` in place inside `Db::update`
//! (`Current::modify`), copying it only while a reader (an HGETALL in progress) still shares it.

use super::collection;
use super::{CmdError, CmdResult, CommandSpec, Ctx, NOT_FLOAT, OVERFLOW, arg_i64, parse_f64, spec};
use crate::db::HashValue;
use crate::frame::parse_i64;
use crate::glob;
use crate::notify::Class;
use bytes::Bytes;
use std::sync::Arc;

const G: &str = "hash";
const WF: &[&str] = &["write", "denyoom", "fast"];
const RF: &[&str] = &["readonly", "fast"];

/// The hash family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec("hset", -4, WF, (1, 1, 1), G, "Creates or modifies the value of a field in a hash.", "2.0.0", hset),
    spec("hmset", -4, WF, (1, 1, 1), G, "Sets the values of multiple fields.", "2.0.0", hmset),
    spec(
        "hsetnx",
        4,
        WF,
        (1, 1, 1),
        G,
        "Sets the value of a field in a hash only when the field doesn't exist.",
        "2.0.0",
        hsetnx,
    ),
    spec("hget", 3, RF, (1, 1, 1), G, "Returns the value of a field in a hash.", "2.0.0", hget),
    spec("hmget", -3, RF, (1, 1, 1), G, "Returns the values of all fields in a hash.", "2.0.0", hmget),
    spec("hgetall", 2, &["readonly"], (1, 1, 1), G, "Returns all fields and values in a hash.", "2.0.0", hgetall),
    spec(
        "hdel",
        -3,
        &["write", "fast"],
        (1, 1, 1),
        G,
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        "2.0.0",
        hdel,
    ),
    spec("hexists", 3, RF, (1, 1, 1), G, "Determines whether a field exists in a hash.", "2.0.0", hexists),
    spec(
        "hrandfield",
        -2,
        &["readonly"],
        (1, 1, 1),
        G,
        "Returns one or more random fields from a hash.",
        "6.2.0",
        hrandfield,
    ),
    spec("hlen", 2, RF, (1, 1, 1), G, "Returns the number of fields in a hash.", "2.0.0", hlen),
    spec("hstrlen", 3, RF, (1, 1, 1), G, "Returns the length of the value of a field.", "3.2.0", hstrlen),
    spec(
        "hincrby",
        4,
        WF,
        (1, 1, 1),
        G,
        "Increments the integer value of a field in a hash by a number.",
        "2.0.0",
        hincrby,
    ),
    spec(
        "hincrbyfloat",
        4,
        WF,
        (1, 1, 1),
        G,
        "Increments the floating point value of a field by a number.",
        "2.6.0",
        hincrbyfloat,
    ),
    spec("hkeys", 2, &["readonly"], (1, 1, 1), G, "Returns all fields in a hash.", "2.0.0", hkeys),
    spec("hvals", 2, &["readonly"], (1, 1, 1), G, "Returns all values in a hash.", "2.0.0", hvals),
    spec("hscan", -3, &["readonly"], (1, 1, 1), G, "Iterates over fields and values of a hash.", "2.8.0", hscan),
];

fn read(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<HashValue>>, CmdError> {
    collection::read(ctx, key)
}

fn set_pairs(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<i64, CmdError> {
    if a.len() % 2 != 0 {
        return Err(format!("ERR wrong number of arguments for '{}' command", ctx.name).into());
    }
    let n = collection::modify::<HashValue, _>(
        ctx,
        &a[1],
        true,
        |h| Ok(a[2..].chunks(2).filter(|fv| h.insert(&fv[0], Bytes::copy_from_slice(&fv[1]))).count() as i64),
        0,
    )?;
    ctx.notify(Class::Hash, "hset", &a[1]);
    Ok(n)
}

fn hset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = set_pairs(ctx, a)?;
    ctx.out.int(n);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    set_pairs(ctx, a)?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = collection::modify_unless::<HashValue, _>(
        ctx,
        &a[1],
        true,
        |h| h.get(&a[2]).is_some(),
        |h| Ok(i64::from(h.insert(&a[2], Bytes::copy_from_slice(&a[3])))),
        0,
    )?;
    if n > 0 {
        ctx.notify(Class::Hash, "hset", &a[1]);
    }
    ctx.out.int(n);
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    match read(ctx, &a[1])?.as_ref().and_then(|h| h.get(&a[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let h = read(ctx, &a[1])?;
    ctx.out.array(a.len() - 2);
    for f in &a[2..] {
        match h.as_ref().and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let h = read(ctx, &a[1])?.unwrap_or_default();
    ctx.long(h.len(), |ctx| {
        ctx.out.map(h.len());
        for (f, v) in h.iter() {
            ctx.out.bulk(f);
            ctx.out.bulk(v);
        }
    });
    Ok(())
}

fn hkeys(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let h = read(ctx, &a[1])?.unwrap_or_default();
    ctx.long(h.len(), |ctx| ctx.out.bulks(h.iter().map(|(f, _)| f)));
    Ok(())
}

fn hvals(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let h = read(ctx, &a[1])?.unwrap_or_default();
    ctx.long(h.len(), |ctx| ctx.out.bulks(h.iter().map(|(_, v)| v)));
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]: like ZRANDMEMBER, fields with their values.
fn hrandfield(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() < 3 {
        match read(ctx, &a[1])? {
            Some(h) if !h.is_empty() => ctx.out.bulk(&h.nth(collection::random_below(h.len())).0),
            _ => ctx.out.null(),
        }
        return Ok(());
    }
    let (l, withvalues) = collection::random_count(a, "withvalues")?;
    let h = match read(ctx, &a[1])? {
        Some(h) if l != 0 => h,
        _ => {
            ctx.out.array(0);
            return Ok(());
        }
    };
    let (n, count) = (h.len(), l.unsigned_abs() as usize);
    let pairs = withvalues && ctx.out.resp3;
    let write = |out: &mut crate::reply::Reply, (f, v): &(Bytes, Bytes)| {
        if pairs {
            out.array(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    };
    let header = |out: &mut crate::reply::Reply, k: usize| out.array(if withvalues && !pairs { 2 * k } else { k });
    if l < 0 {
        // Repetitions allowed: `count` independent picks.
        ctx.long(count, |ctx| {
            header(ctx.out, count);
            for _ in 0..count {
                write(ctx.out, h.nth(collection::random_below(n)));
                if ctx.out.buf.len() > collection::RANDOM_REPLY_CAP {
                    ctx.client.close = true;
                    ctx.client.discard = true;
                    break;
                }
            }
        });
    } else if count >= n {
        ctx.long(n, |ctx| {
            header(ctx.out, n);
            h.iter().for_each(|e| write(ctx.out, e));
        });
    } else {
        let ranks = ctx.long(n, |_| collection::distinct_ranks(n, count));
        ctx.long(count, |ctx| {
            header(ctx.out, count);
            ranks.iter().for_each(|&r| write(ctx.out, h.nth(r)));
        });
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = collection::modify_unless::<HashValue, _>(
        ctx,
        &a[1],
        false,
        |h| a[2..].iter().all(|f| h.get(f).is_none()),
        |h| Ok(a[2..].iter().filter(|f| h.remove(f)).count() as i64),
        0,
    )?;
    if n > 0 {
        ctx.notify_then_del(Class::Hash, "hdel", &a[1]);
    }
    ctx.out.int(n);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = read(ctx, &a[1])?.is_some_and(|h| h.get(&a[2]).is_some());
    ctx.out.int(i64::from(n));
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = read(ctx, &a[1])?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = read(ctx, &a[1])?.and_then(|h| h.get(&a[2]).map(|v| v.len())).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn hincrby(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let d = arg_i64(&a[3])?;
    let n = collection::modify::<HashValue, _>(
        ctx,
        &a[1],
        true,
        |h| {
            let old = match h.get(&a[2]) {
                None => 0,
                Some(v) => parse_i64(v).ok_or_else(|| CmdError::from("ERR hash value is not an integer"))?,
            };
            let n = old.checked_add(d).ok_or_else(|| CmdError::from(OVERFLOW))?;
            h.insert(&a[2], Bytes::from(n.to_string()));
            Ok(n)
        },
        0,
    )?;
    ctx.notify(Class::Hash, "hincrby", &a[1]);
    ctx.out.int(n);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let d = parse_f64(&a[3]).ok_or_else(|| CmdError::from(NOT_FLOAT))?;
    if !d.is_finite() {
        return Err("ERR value is NaN or Infinity".into());
    }
    let s = collection::modify::<HashValue, _>(
        ctx,
        &a[1],
        true,
        |h| {
            let s =
                super::strings::add_float(h.get(&a[2]).map(|b| b.as_ref()), Some(d), "ERR hash value is not a float")?;
            h.insert(&a[2], Bytes::from(s.clone()));
            Ok(s)
        },
        String::new(),
    )?;
    ctx.notify(Class::Hash, "hincrbyfloat", &a[1]);
    ctx.out.bulk(s.as_bytes());
    Ok(())
}

fn hscan(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let Some((cursor, h, o)) = collection::scan_start::<HashValue>(ctx, a)? else { return Ok(()) };
    // Small hashes come back whole (like Redis's listpack encoding); large ones by position.
    let (start, end) =
        if h.len() <= 128 { (0, h.len()) } else { (cursor as usize, (cursor as usize + o.count).min(h.len())) };
    let next = if end >= h.len() { 0 } else { end as u64 };
    let items: Vec<&(Bytes, Bytes)> = ctx.long(end, |_| {
        h.iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .filter(|(f, _)| o.pattern.is_none_or(|p| glob::matches(p, f, false)))
            .collect()
    });
    collection::scan_header(ctx, next);
    ctx.out.array(items.len() * 2);
    for (f, v) in items {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    #[tokio::test]
    async fn hash_commands() {
        run_table(&[
            ("HSET h a 1 b 2", ":2\r\n"),
            ("HSET h a 3", ":0\r\n"),
            ("HSET h a", "-ERR wrong number of arguments for 'hset' command\r\n"),
            ("HGET h a", "$1\r\n3\r\n"),
            ("HGET h z", "$-1\r\n"),
            ("HMGET h a z", "*2\r\n$1\r\n3\r\n$-1\r\n"),
            ("HGETALL h", "*4\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n"),
            ("HKEYS h", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ("HVALS h", "*2\r\n$1\r\n3\r\n$1\r\n2\r\n"),
            ("HLEN h", ":2\r\n"),
            ("HSTRLEN h a", ":1\r\n"),
            ("HEXISTS h a", ":1\r\n"),
            ("HSETNX h a 9", ":0\r\n"),
            ("HSETNX h c 9", ":1\r\n"),
            ("HINCRBY h a 10", ":13\r\n"),
            ("HINCRBY h a x", "-ERR value is not an integer or out of range\r\n"),
            ("HSET h s abc", ":1\r\n"),
            ("HINCRBY h s 1", "-ERR hash value is not an integer\r\n"),
            ("HINCRBYFLOAT h s 1", "-ERR hash value is not a float\r\n"),
            ("HINCRBYFLOAT h f 1.5", "$3\r\n1.5\r\n"),
            ("HSCAN h 0 MATCH f", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$3\r\n1.5\r\n"),
            ("HDEL h a b c s f z", ":5\r\n"),
            ("EXISTS h", ":0\r\n"),
            ("HGETALL h", "*0\r\n"),
            ("SET str x", "+OK\r\n"),
            ("HGET str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("HSET str a b", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("HELLO 3", "%7\r\n..."),
            ("HSET h2 a 1", ":1\r\n"),
            ("HGETALL h2", "%1\r\n$1\r\na\r\n$1\r\n1\r\n"),
            ("HGET h2 z", "_\r\n"),
        ])
        .await;
    }

    /// The deterministic shapes of HRANDFIELD: the whole hash when the count covers it, repeats of
    /// the only field for a negative count, RESP3 pairs, and the argument errors in Redis's order.
    #[tokio::test]
    async fn hrandfield_shapes_and_errors() {
        run_table(&[
            ("HSET h a 1", ":1\r\n"),
            ("HRANDFIELD h", "$1\r\na\r\n"),
            ("HRANDFIELD h 5 WITHVALUES", "*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
            ("HRANDFIELD h -2", "*2\r\n$1\r\na\r\n$1\r\na\r\n"),
            ("HRANDFIELD h 0", "*0\r\n"),
            ("HRANDFIELD nokey 3", "*0\r\n"),
            ("HRANDFIELD nokey", "$-1\r\n"),
            ("HRANDFIELD h x", "-ERR value is not an integer or out of range\r\n"),
            ("HRANDFIELD h 1 WITHSCORES", "-ERR syntax error\r\n"),
            ("HRANDFIELD h 9223372036854775807 WITHVALUES", "-ERR value is out of range\r\n"),
            ("SET s x", "+OK\r\n"),
            ("HRANDFIELD s 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("HELLO 3", "%7\r\n..."),
            ("HRANDFIELD h -1 WITHVALUES", "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
        ])
        .await;
    }
}
