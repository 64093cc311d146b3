//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis bundles it — `pack(...)`, `unpack(data)`,
//! `unpack_one(data [, offset])`, `unpack_limit(data, limit [, offset])`. Lua numbers that are
//! integers pack as the smallest MessagePack integer, others as float32 when exact, else float64;
//! tables whose keys are exactly 1..n pack as arrays, others as maps; nesting deeper than 16
//! packs as nil; functions and userdata pack as nil.

use mlua::{Lua, Table, Value, Variadic};

const MAX_NESTING: usize = 16;

fn bad_data() -> mlua::Error {
    mlua::Error::runtime("Bad data format in input.")
}

fn missing() -> mlua::Error {
    mlua::Error::runtime("Missing bytes in input.")
}

fn pack_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        let u = n as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u < 256 {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u < 65536 {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u < (1 << 32) {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -(1 << 31) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_number(out: &mut Vec<u8>, n: f64) {
    if n.is_finite() && n == (n as i64) as f64 {
        pack_int(out, n as i64);
    } else if f64::from(n as f32) == n || n.is_nan() && (n as f32).is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, m16: u8, m32: u8) {
    if n < fix_max {
        out.push(fix | n as u8);
    } else if n < 65536 {
        out.push(m16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack_string(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n < 256 {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n < 65536 {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// lua-cmsgpack's `table_is_an_array`: every key a positive integer and the count equals the max.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut count) = (0usize, 0usize);
    for kv in t.pairs::<Value, Value>() {
        let (k, _) = kv?;
        let i = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(i);
        count += 1;
    }
    Ok((max == count).then_some(max))
}

fn pack_value(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_int(out, *i),
        Value::Number(n) => pack_number(out, *n),
        Value::String(s) => pack_string(out, &s.as_bytes()),
        Value::Table(t) if level < MAX_NESTING => match array_len(t)? {
            Some(n) => {
                pack_len(out, n, 0x90, 16, 0xdc, 0xdd);
                for i in 1..=n {
                    pack_value(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            }
            None => {
                let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                pack_len(out, pairs.len(), 0x80, 16, 0xde, 0xdf);
                for (k, v) in &pairs {
                    pack_value(out, k, level + 1)?;
                    pack_value(out, v, level + 1)?;
                }
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

struct Dec<'a> {
    b: &'a [u8],
    i: usize,
}

impl Dec<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let s = self.b.get(self.i..self.i + n).ok_or_else(missing)?;
        self.i += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let c = self.take(1)?[0];
        Ok(match c {
            0x00..=0x7f => Value::Number(f64::from(c)),
            0xe0..=0xff => Value::Number(f64::from(c as i8)),
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xcc => Value::Number(self.be(1)? as f64),
            0xcd => Value::Number(self.be(2)? as f64),
            0xce => Value::Number(self.be(4)? as f64),
            0xcf => Value::Number(self.be(8)? as f64),
            0xd0 => Value::Number(f64::from(self.be(1)? as u8 as i8)),
            0xd1 => Value::Number(f64::from(self.be(2)? as u16 as i16)),
            0xd2 => Value::Number(f64::from(self.be(4)? as u32 as i32)),
            0xd3 => Value::Number(self.be(8)? as i64 as f64),
            0xca => Value::Number(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Value::Number(f64::from_bits(self.be(8)?)),
            0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
                let n = match c {
                    0xa0..=0xbf => usize::from(c & 0x1f),
                    0xd9 | 0xc4 => self.be(1)? as usize,
                    0xda | 0xc5 => self.be(2)? as usize,
                    _ => self.be(4)? as usize,
                };
                let s = self.take(n)?;
                Value::String(lua.create_string(s)?)
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = match c {
                    0x90..=0x9f => usize::from(c & 0x0f),
                    0xdc => self.be(2)? as usize,
                    _ => self.be(4)? as usize,
                };
                let t = lua.create_table_with_capacity(n.min(1024), 0)?;
                for i in 1..=n {
                    t.raw_set(i, self.value(lua)?)?;
                }
                Value::Table(t)
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let n = match c {
                    0x80..=0x8f => usize::from(c & 0x0f),
                    0xde => self.be(2)? as usize,
                    _ => self.be(4)? as usize,
                };
                let t = lua.create_table()?;
                for _ in 0..n {
                    let k = self.value(lua)?;
                    let v = self.value(lua)?;
                    if !k.is_nil() {
                        t.raw_set(k, v)?;
                    }
                }
                Value::Table(t)
            }
            _ => return Err(bad_data()),
        })
    }
}

/// Decodes up to `limit` objects (0 = all) from byte `offset`; returns the next offset (-1 when
/// the input is consumed) and the objects.
fn unpack_full(lua: &Lua, data: &[u8], limit: usize, offset: usize) -> mlua::Result<(i64, Vec<Value>)> {
    let mut d = Dec { b: data, i: offset };
    let mut out = Vec::new();
    while d.i < data.len() && (limit == 0 || out.len() < limit) {
        out.push(d.value(lua)?);
    }
    let next = if d.i >= data.len() { -1 } else { d.i as i64 };
    Ok((next, out))
}

fn offset_arg(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Integer(i)) if *i > 0 => *i as usize,
        Some(Value::Number(n)) if *n > 0.0 => *n as usize,
        _ => 0,
    }
}

/// The `cmsgpack` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("bad argument #0 to 'pack' (MessagePack pack needs input.)"));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack_value(&mut out, v, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, data: mlua::String| {
            let (_, vals) = unpack_full(lua, &data.as_bytes(), 0, 0)?;
            Ok(Variadic::from_iter(vals))
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, (data, rest): (mlua::String, Variadic<Value>)| {
            let (next, mut vals) = unpack_full(lua, &data.as_bytes(), 1, offset_arg(rest.first()))?;
            vals.insert(0, Value::Integer(next));
            Ok(Variadic::from_iter(vals))
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, (data, limit, rest): (mlua::String, i64, Variadic<Value>)| {
            let (next, mut vals) = unpack_full(lua, &data.as_bytes(), limit.max(0) as usize, offset_arg(rest.first()))?;
            vals.insert(0, Value::Integer(next));
            Ok(Variadic::from_iter(vals))
        })?,
    )?;
    Ok(t)
}
