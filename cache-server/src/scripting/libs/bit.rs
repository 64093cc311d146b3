//! `bit`: LuaBitOp 1.0.2 as Redis bundles it (32-bit operations on Lua numbers).
//!
//! Numbers are normalised as LuaBitOp does: the double is reduced modulo 2^32 (via the 2^52+2^51
//! trick, i.e. round-to-nearest) and read as a signed 32-bit integer; results are signed.

use mlua::{Lua, Table, Value, Variadic};

/// LuaBitOp's `barg`: any number → i32 (round to nearest, wrap modulo 2^32).
fn tobit(lua: &Lua, v: &Value, pos: usize) -> mlua::Result<i32> {
    let n = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(_) => match lua.coerce_number(v.clone())? {
            Some(n) => n,
            None => return Err(bad_arg(pos, v)),
        },
        _ => return Err(bad_arg(pos, v)),
    };
    // b = n + 6755399441055744.0 (2^52 + 2^51), then the low 32 bits of its mantissa.
    let b = n + 6_755_399_441_055_744.0;
    Ok(b.to_bits() as u32 as i32)
}

fn bad_arg(pos: usize, v: &Value) -> mlua::Error {
    let got = if v.is_nil() { "no value".to_string() } else { v.type_name().to_string() };
    mlua::Error::runtime(format!("bad argument #{pos} to '?' (number expected, got {got})"))
}

fn arg(lua: &Lua, a: &Variadic<Value>, i: usize) -> mlua::Result<i32> {
    tobit(lua, a.get(i).unwrap_or(&Value::Nil), i + 1)
}

/// The `bit` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("tobit", lua.create_function(|lua, a: Variadic<Value>| arg(lua, &a, 0))?)?;
    t.set("bnot", lua.create_function(|lua, a: Variadic<Value>| Ok(!arg(lua, &a, 0)?))?)?;
    t.set("bswap", lua.create_function(|lua, a: Variadic<Value>| Ok(arg(lua, &a, 0)?.swap_bytes()))?)?;
    t.set(
        "tohex",
        lua.create_function(|lua, a: Variadic<Value>| {
            let b = arg(lua, &a, 0)? as u32;
            let mut n = if a.get(1).is_some_and(|v| !v.is_nil()) { arg(lua, &a, 1)? } else { 8 };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(1, 8) as usize;
            let s = if upper { format!("{b:08X}") } else { format!("{b:08x}") };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    for (name, op) in [("band", 0u8), ("bor", 1), ("bxor", 2)] {
        t.set(
            name,
            lua.create_function(move |lua, a: Variadic<Value>| {
                let mut acc = arg(lua, &a, 0)?;
                for i in 1..a.len() {
                    let v = arg(lua, &a, i)?;
                    acc = match op {
                        0 => acc & v,
                        1 => acc | v,
                        _ => acc ^ v,
                    };
                }
                Ok(acc)
            })?,
        )?;
    }
    for (name, op) in [("lshift", 0u8), ("rshift", 1), ("arshift", 2), ("rol", 3), ("ror", 4)] {
        t.set(
            name,
            lua.create_function(move |lua, a: Variadic<Value>| {
                let b = arg(lua, &a, 0)?;
                let n = (arg(lua, &a, 1)? & 31) as u32;
                Ok(match op {
                    0 => ((b as u32) << n) as i32,
                    1 => ((b as u32) >> n) as i32,
                    2 => b >> n,
                    3 => (b as u32).rotate_left(n) as i32,
                    _ => (b as u32).rotate_right(n) as i32,
                })
            })?,
        )?;
    }
    Ok(t)
}
