//! `struct`: Roberto Ierusalimschy's struct library (0.2) as Redis bundles it — `pack`, `unpack`,
//! `size` over format strings of `<` `>` `=` `!n` `x` `b` `B` `h` `H` `l` `L` `T` `i[n]` `I[n]`
//! `f` `d` `s` `c[n]`, with its error texts (`bad argument #1 to 'pack' (invalid format option
//! 'z')`, `data string too short`, ...).

use mlua::{Lua, Table, Value, Variadic};

fn argerr(n: usize, fname: &str, msg: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{fname}' ({msg})"))
}

/// One parsed format item.
#[derive(Clone, Copy)]
enum Item {
    Pad,
    Int { size: usize, signed: bool },
    Float,
    Double,
    Zstr,
    Chars(usize),
}

struct Format<'a> {
    f: &'a [u8],
    i: usize,
    little: bool,
    maxalign: usize,
}

impl Format<'_> {
    fn new(f: &[u8]) -> Format<'_> {
        Format { f, i: 0, little: cfg!(target_endian = "little"), maxalign: 1 }
    }

    fn num(&mut self, default: usize) -> usize {
        let start = self.i;
        let mut n = 0usize;
        while let Some(d @ b'0'..=b'9') = self.f.get(self.i) {
            n = n.saturating_mul(10).saturating_add(usize::from(d - b'0'));
            self.i += 1;
        }
        if self.i == start { default } else { n }
    }

    /// The next item and its size, or `None` at the end.
    fn next(&mut self, fname: &str) -> mlua::Result<Option<(Item, usize)>> {
        loop {
            let Some(&c) = self.f.get(self.i) else { return Ok(None) };
            self.i += 1;
            let item = match c {
                b' ' => continue,
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'=' => {
                    self.little = cfg!(target_endian = "little");
                    continue;
                }
                b'!' => {
                    let a = self.num(8);
                    if !a.is_power_of_two() {
                        return Err(mlua::Error::runtime(format!("alignment {a} is not a power of 2")));
                    }
                    self.maxalign = a;
                    continue;
                }
                b'x' => (Item::Pad, 1),
                b'b' => (Item::Int { size: 1, signed: true }, 1),
                b'B' => (Item::Int { size: 1, signed: false }, 1),
                b'h' => (Item::Int { size: 2, signed: true }, 2),
                b'H' => (Item::Int { size: 2, signed: false }, 2),
                b'l' => (Item::Int { size: 8, signed: true }, 8),
                b'L' | b'T' => (Item::Int { size: 8, signed: false }, 8),
                b'i' | b'I' => {
                    let n = self.num(4);
                    if n > 8 {
                        return Err(mlua::Error::runtime(format!("integral size {n} is larger than limit of 8")));
                    }
                    (Item::Int { size: n, signed: c == b'i' }, n)
                }
                b'f' => (Item::Float, 4),
                b'd' => (Item::Double, 8),
                b's' => (Item::Zstr, 0),
                b'c' => {
                    let n = self.num(1);
                    (Item::Chars(n), n)
                }
                other => {
                    return Err(argerr(1, fname, &format!("invalid format option '{}'", other as char)));
                }
            };
            return Ok(Some(item));
        }
    }

    fn pad(&self, len: usize, item: Item, size: usize) -> usize {
        if matches!(item, Item::Chars(_) | Item::Zstr) || size <= 1 {
            return 0;
        }
        let align = size.min(self.maxalign);
        (align - (len & (align - 1))) & (align - 1)
    }
}

fn put_int(out: &mut Vec<u8>, v: u64, size: usize, little: bool) {
    let bytes = v.to_le_bytes();
    let mut b: Vec<u8> = bytes[..size.min(8)].to_vec();
    if !little {
        b.reverse();
    }
    out.extend_from_slice(&b);
}

fn number(v: Option<&Value>, n: usize) -> mlua::Result<f64> {
    match v {
        Some(Value::Integer(i)) => Ok(*i as f64),
        Some(Value::Number(x)) => Ok(*x),
        other => Err(argerr(n, "pack", &format!("number expected, got {}", type_name(other)))),
    }
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None | Some(Value::Nil) => "nil",
        Some(v) => v.type_name(),
    }
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::String> {
    let fmt = match args.first() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        other => return Err(argerr(1, "pack", &format!("string expected, got {}", type_name(other)))),
    };
    let mut f = Format::new(&fmt);
    let mut out = Vec::new();
    let mut arg = 1;
    while let Some((item, size)) = f.next("pack")? {
        let pad = f.pad(out.len(), item, size);
        out.resize(out.len() + pad, 0);
        match item {
            Item::Pad => out.push(0),
            Item::Int { size, .. } => {
                let n = number(args.get(arg), arg + 1)?;
                let v = if n < 0.0 { (n as i64) as u64 } else { n as u64 };
                put_int(&mut out, v, size, f.little);
                arg += 1;
            }
            Item::Float | Item::Double => {
                let n = number(args.get(arg), arg + 1)?;
                let mut b = if matches!(item, Item::Float) {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if !f.little {
                    b.reverse();
                }
                out.extend_from_slice(&b);
                arg += 1;
            }
            Item::Zstr | Item::Chars(_) => {
                let s = match args.get(arg) {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(Value::Integer(i)) => i.to_string().into_bytes(),
                    other => {
                        return Err(argerr(arg + 1, "pack", &format!("string expected, got {}", type_name(other))));
                    }
                };
                match item {
                    Item::Zstr => {
                        out.extend_from_slice(&s);
                        out.push(0);
                    }
                    Item::Chars(0) => out.extend_from_slice(&s),
                    Item::Chars(n) => {
                        if s.len() < n {
                            // struct.c reports the argument after the string (its counter has moved on).
                            return Err(argerr(arg + 2, "pack", "string too short"));
                        }
                        out.extend_from_slice(&s[..n]);
                    }
                    _ => unreachable!("string items only"),
                }
                arg += 1;
            }
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<Variadic<Value>> {
    let (fmt, data) = match (args.first(), args.get(1)) {
        (Some(Value::String(f)), Some(Value::String(d))) => (f.as_bytes().to_vec(), d.as_bytes().to_vec()),
        (Some(Value::String(_)), other) => {
            return Err(argerr(2, "unpack", &format!("string expected, got {}", type_name(other))));
        }
        (other, _) => return Err(argerr(1, "unpack", &format!("string expected, got {}", type_name(other)))),
    };
    let mut pos = match args.get(2) {
        Some(Value::Integer(i)) if *i >= 1 => (*i - 1) as usize,
        Some(Value::Number(n)) if *n >= 1.0 => (*n - 1.0) as usize,
        None | Some(Value::Nil) => 0,
        _ => return Err(argerr(3, "unpack", "offset must be 1 or greater")),
    };
    let mut f = Format::new(&fmt);
    let mut out: Vec<Value> = Vec::new();
    while let Some((item, size)) = f.next("unpack")? {
        pos += f.pad(pos, item, size);
        let need = |n: usize| -> mlua::Result<&[u8]> {
            data.get(pos..pos + n).ok_or_else(|| argerr(2, "unpack", "data string too short"))
        };
        match item {
            Item::Pad => {
                need(1)?;
                pos += 1;
            }
            Item::Int { size, signed } => {
                let mut b = need(size)?.to_vec();
                if !f.little {
                    b.reverse();
                }
                let mut v: u64 = 0;
                for (k, byte) in b.iter().enumerate() {
                    v |= u64::from(*byte) << (8 * k);
                }
                let n = if signed && size < 8 && size > 0 && v & (1 << (8 * size - 1)) != 0 {
                    (v | (!0u64 << (8 * size))) as i64 as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                out.push(Value::Number(n));
                pos += size;
            }
            Item::Float | Item::Double => {
                let n = if matches!(item, Item::Float) { 4 } else { 8 };
                let mut b = need(n)?.to_vec();
                if !f.little {
                    b.reverse();
                }
                let v = if n == 4 {
                    f64::from(f32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
                } else {
                    f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
                };
                out.push(Value::Number(v));
                pos += n;
            }
            Item::Zstr => {
                let rest = data.get(pos..).unwrap_or(&[]);
                let end = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| mlua::Error::runtime("unfinished string in data"))?;
                out.push(Value::String(lua.create_string(&rest[..end])?));
                pos += end + 1;
            }
            Item::Chars(n) => {
                let n = if n == 0 {
                    match out.pop() {
                        Some(Value::Number(x)) => x as usize,
                        Some(Value::Integer(x)) => x as usize,
                        _ => return Err(mlua::Error::runtime("format 'c0' needs a previous size")),
                    }
                } else {
                    n
                };
                let s = need(n)?;
                out.push(Value::String(lua.create_string(s)?));
                pos += n;
            }
        }
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(Variadic::from_iter(out))
}

fn size(_: &Lua, fmt: mlua::String) -> mlua::Result<usize> {
    let fmt = fmt.as_bytes().to_vec();
    let mut f = Format::new(&fmt);
    let mut total = 0;
    while let Some((item, size)) = f.next("size")? {
        if matches!(item, Item::Zstr) || matches!(item, Item::Chars(0)) {
            let name = if matches!(item, Item::Zstr) { "s" } else { "c0" };
            return Err(argerr(1, "size", &format!("option '{name}' has no fixed size")));
        }
        total += f.pad(total, item, size) + size;
    }
    Ok(total)
}

/// The `struct` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}
