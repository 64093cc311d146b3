//! HyperLogLog commands over strings in Redis's HLL layout: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.
//! The layout and the register math live in [`crate::types::hll`]; this file parses, checks types
//! in Redis's order and writes values back. A changed HLL is stored whole (at most 12 KB, an exact
//! allocation, weighed honestly); a PFADD that changes no register copies nothing.
//!
//! `hll-sparse-max-bytes` is Redis's default (3000, [`hll::SPARSE_MAX_BYTES`]): it is not a
//! configuration directive here yet.

use super::{CmdError, CmdResult, CommandSpec, Ctx, WRONGTYPE, is, spec};
use crate::db::{Entry, Str, Value};
use crate::notify::Class;
use crate::types::hll::{self, REGISTERS, SPARSE_MAX_BYTES};
use bytes::Bytes;

const G: &str = "hyperloglog";
/// A string that is no HLL.
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// A sparse HLL whose opcodes do not cover its registers.
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "pfadd",
        -2,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        G,
        "Adds the specified elements to the specified HyperLogLog.",
        "2.8.9",
        pfadd,
    ),
    spec(
        "pfcount",
        -2,
        &["readonly"],
        (1, -1, 1),
        G,
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
        "2.8.9",
        pfcount,
    ),
    spec(
        "pfmerge",
        -2,
        &["write", "denyoom"],
        (1, -1, 1),
        G,
        "Merge N different HyperLogLogs into a single one.",
        "2.8.9",
        pfmerge,
    ),
    spec(
        "pfdebug",
        3,
        &["write", "denyoom", "admin"],
        (2, 2, 1),
        G,
        "Internal commands for debugging HyperLogLog values",
        "2.8.9",
        pfdebug,
    ),
    spec(
        "pfselftest",
        1,
        &["admin"],
        (0, 0, 0),
        G,
        "An internal command for testing HyperLogLog values",
        "2.8.9",
        pfselftest,
    ),
];

impl From<hll::Corrupt> for CmdError {
    fn from(_: hll::Corrupt) -> Self {
        CORRUPT.into()
    }
}

/// The HLL stored in `e` (a clone of the string, cheap) and its expiry: WRONGTYPE for another
/// type, `NOT_HLL` for a string that is not an HLL.
fn hll_of(e: &Entry) -> Result<(Str, u64), CmdError> {
    match &e.value {
        Value::Str(s) if hll::is_valid(s) => Ok((s.clone(), e.expire_at)),
        Value::Str(_) => Err(NOT_HLL.into()),
        _ => Err(WRONGTYPE.into()),
    }
}

fn store(v: &[u8], expire_at: u64) -> Entry {
    Entry::expiring(Value::Str(Str::new(v)), expire_at)
}

fn pfadd(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let elements = &a[2..];
    let (changed, err) = ctx.update(&a[1], |cur| {
        let (mut v, expire_at, created) = match cur.get() {
            None => (hll::create(), 0, true),
            Some(e) => {
                let (s, at) = hll_of(e)?;
                // Most adds to a big HLL change nothing: find out before copying it.
                if !hll::is_sparse(&s) && !elements.iter().any(|el| hll::dense_would_change(&s, el)) {
                    return Ok((false, None));
                }
                (s.to_vec(), at, false)
            }
        };
        let mut changed = created;
        let mut err = None;
        for el in elements {
            match hll::add(&mut v, el, SPARSE_MAX_BYTES) {
                Ok(c) => changed |= c,
                Err(e) => {
                    // Redis keeps what the elements before the corrupt spot changed.
                    err = Some(CmdError::from(e));
                    break;
                }
            }
        }
        if err.is_none() && changed {
            hll::invalidate(&mut v);
        }
        if changed || err.is_some() {
            cur.put(store(&v, expire_at));
        }
        Ok::<_, CmdError>((changed && err.is_none(), err))
    })?;
    if let Some(e) = err {
        return Err(e);
    }
    if changed {
        ctx.notify(Class::String, "pfadd", &a[1]);
    }
    ctx.out.int(i64::from(changed));
    Ok(())
}

fn pfcount(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() > 2 {
        let keys = &a[1..];
        let card = ctx.atomically(keys, |ctx| {
            ctx.long(keys.len() * 1024, |ctx| {
                let mut max = Box::new([0u8; REGISTERS]);
                for k in keys {
                    if let Some(e) = ctx.get(k) {
                        hll::merge_into(&mut max, &hll_of(&e)?.0)?;
                    }
                }
                Ok::<_, CmdError>(hll::count_raw(&max))
            })
        })?;
        ctx.out.int(card as i64);
        return Ok(());
    }
    // The cached cardinality is written back when it was stale, as Redis does.
    let card = ctx.update(&a[1], |cur| {
        let Some(e) = cur.get() else { return Ok::<_, CmdError>(0) };
        let (s, expire_at) = hll_of(e)?;
        if let Some(c) = hll::cached(&s) {
            return Ok(c);
        }
        let c = hll::count(&s)?;
        let mut v = s.to_vec();
        hll::store_card(&mut v, c);
        cur.put(store(&v, expire_at));
        Ok(c)
    })?;
    ctx.out.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let keys = &a[1..];
    ctx.atomically(keys, |ctx| {
        ctx.long(keys.len() * 1024, |ctx| {
            let mut max = Box::new([0u8; REGISTERS]);
            let mut dense = false;
            for k in keys {
                if let Some(e) = ctx.get(k) {
                    let (s, _) = hll_of(&e)?;
                    dense |= !hll::is_sparse(&s);
                    hll::merge_into(&mut max, &s)?;
                }
            }
            ctx.update(&a[1], |cur| {
                let (mut v, expire_at) = match cur.get() {
                    None => (hll::create(), 0),
                    Some(e) => {
                        let (s, at) = hll_of(e)?;
                        (s.to_vec(), at)
                    }
                };
                if dense {
                    hll::to_dense(&mut v)?;
                }
                for (i, &m) in max.iter().enumerate() {
                    if m > 0 {
                        // Registers are only raised, and the value was checked whole above.
                        let _ = hll::set(&mut v, i, m, SPARSE_MAX_BYTES);
                    }
                }
                hll::invalidate(&mut v);
                cur.put(store(&v, expire_at));
                Ok::<_, CmdError>(())
            })
        })
    })?;
    // Redis announces a merge as a PFADD.
    ctx.notify(Class::String, "pfadd", &a[1]);
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    enum Out {
        Regs(Vec<u8>),
        Text(String),
        Status(&'static str),
        Int(i64),
    }
    let out = ctx.update(&a[2], |cur| {
        let Some(e) = cur.get() else { return Err(CmdError::from("ERR The specified key does not exist")) };
        let (s, expire_at) = hll_of(e)?;
        let densify = |cur: &mut crate::db::Current<'_, '_>| {
            let mut v = s.to_vec();
            let converted = hll::to_dense(&mut v)?;
            if converted {
                cur.put(store(&v, expire_at));
            }
            Ok::<_, CmdError>((v, converted))
        };
        if is(sub, "getreg") {
            let (v, _) = densify(cur)?;
            Ok(Out::Regs((0..REGISTERS).map(|i| hll::dense_get(&v[hll::HDR..], i)).collect()))
        } else if is(sub, "decode") {
            if !hll::is_sparse(&s) {
                return Err("ERR HLL encoding is not sparse".into());
            }
            Ok(Out::Text(hll::decode(&s)))
        } else if is(sub, "encoding") {
            Ok(Out::Status(if hll::is_sparse(&s) { "sparse" } else { "dense" }))
        } else if is(sub, "todense") {
            Ok(Out::Int(i64::from(densify(cur)?.1)))
        } else {
            Err(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(sub)).into())
        }
    })?;
    match out {
        Out::Regs(regs) => {
            ctx.out.array(regs.len());
            for r in regs {
                ctx.out.int(i64::from(r));
            }
        }
        Out::Text(t) => ctx.out.bulk(t.as_bytes()),
        Out::Status(s) => ctx.out.simple(s),
        Out::Int(n) => ctx.out.int(n),
    }
    Ok(())
}

/// Checks the layout against itself: register access, sparse and dense estimates that agree, and
/// an error within bounds over growing cardinalities (Redis's PFSELFTEST in spirit).
fn pfselftest(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let result = ctx.long(REGISTERS * 8, |_| {
        let mut sparse = hll::create();
        let mut dense = hll::create();
        hll::to_dense(&mut dense).map_err(|_| "TESTFAILED corrupt empty HLL".to_string())?;
        for n in 1..=10_000u32 {
            let el = n.to_le_bytes();
            hll::add(&mut sparse, &el, SPARSE_MAX_BYTES).map_err(|_| "TESTFAILED corrupt sparse HLL")?;
            hll::add(&mut dense, &el, SPARSE_MAX_BYTES).map_err(|_| "TESTFAILED corrupt dense HLL")?;
            if n.is_power_of_two() || n % 1000 == 0 {
                let (s, d) = (hll::count(&sparse), hll::count(&dense));
                if s != d {
                    return Err(format!("TESTFAILED sparse and dense differ at {n}: {s:?} vs {d:?}"));
                }
                let c = d.unwrap_or(0) as f64;
                let tolerance = (f64::from(n) * 0.05).max(5.0);
                if (c - f64::from(n)).abs() > tolerance {
                    return Err(format!("TESTFAILED cardinality {n} estimated as {c}"));
                }
            }
        }
        Ok(())
    });
    result.map_err(CmdError::from)?;
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    #[tokio::test]
    async fn hyperloglog_commands() {
        run_table(&[
            ("PFADD h a", ":1\r\n"),
            ("PFADD h a", ":0\r\n"),
            ("PFDEBUG DECODE h", "$20\r\nZ:12711 v:2,1 Z:3672\r\n"),
            ("PFCOUNT h", ":1\r\n"),
            ("PFADD h2", ":1\r\n"),
            ("PFADD h2", ":0\r\n"),
            ("PFCOUNT h h2 nokey", ":1\r\n"),
            ("PFADD h2 b c d", ":1\r\n"),
            ("PFMERGE h3 h h2", "+OK\r\n"),
            ("PFCOUNT h3", ":4\r\n"),
            ("PFDEBUG ENCODING h3", "+sparse\r\n"),
            ("PFDEBUG TODENSE h3", ":1\r\n"),
            ("PFDEBUG TODENSE h3", ":0\r\n"),
            ("PFDEBUG ENCODING h3", "+dense\r\n"),
            ("PFDEBUG DECODE h3", "-ERR HLL encoding is not sparse\r\n"),
            ("PFCOUNT h3", ":4\r\n"),
            ("PFDEBUG FOO h3", "-ERR Unknown PFDEBUG subcommand 'FOO'\r\n"),
            ("PFDEBUG ENCODING nokey", "-ERR The specified key does not exist\r\n"),
            ("SET s hello", "+OK\r\n"),
            ("PFADD s a", "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"),
            ("PFCOUNT s", "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"),
            ("PFCOUNT h s", "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"),
            ("PFMERGE h s", "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"),
            ("LPUSH l a", ":1\r\n"),
            ("PFADD l a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("SET bad \"HYLL\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x80\\x00\"", "+OK\r\n"),
            ("PFCOUNT bad", "-INVALIDOBJ Corrupted HLL object detected\r\n"),
            ("PFADD bad x", "-INVALIDOBJ Corrupted HLL object detected\r\n"),
            ("PFSELFTEST", "+OK\r\n"),
        ])
        .await;
    }
}
