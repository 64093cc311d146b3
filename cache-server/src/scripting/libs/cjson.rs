//! `cjson`: lua-cjson 2.1.0 as Redis bundles it — `encode`, `decode` and `null`, with its number
//! format (`%.14g`), its escaping (`/` → `\/`), its sparse-array rule (ratio 2, safe 10), its
//! nesting limit (1000) and its error texts. The configuration functions (`encode_keep_buffer`,
//! `encode_max_depth`, ...) are not provided.

use mlua::{AnyUserData, Lua, Table, Value};

use crate::scripting::numfmt::fmt_g;

const MAX_DEPTH: usize = 1000;

fn fail(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(msg.into())
}

/// The `cjson` table; `null` is a unique userdata compared by identity.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let null = lua.create_any_userdata(())?;
    t.set("null", null.clone())?;
    let n = null.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, v: Value| {
            let mut out = Vec::new();
            encode(&v, &n, &mut out, 0)?;
            lua.create_string(&out)
        })?,
    )?;
    let n = null;
    t.set(
        "decode",
        lua.create_function(move |lua, s: mlua::String| {
            let b = s.as_bytes();
            let mut d = Decoder { lua, b: &b, i: 0, null: &n, depth: 0 };
            let tok = d.token();
            let v = d.value(tok)?;
            let end = d.token();
            if !matches!(end.kind, Tok::End) {
                return Err(d.expected("the end", &end));
            }
            Ok(v)
        })?,
    )?;
    Ok(t)
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn encode_number(n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        return Err(fail("Cannot serialise number: must not be NaN or Inf"));
    }
    out.extend_from_slice(fmt_g(n, 14).as_bytes());
    Ok(())
}

fn encode(v: &Value, null: &AnyUserData, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => encode_number(*i as f64, out)?,
        Value::Number(n) => encode_number(*n, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::UserData(u) if u == null => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            if depth + 1 > MAX_DEPTH {
                return Err(fail(format!("Cannot serialise, excessive nesting ({})", depth + 1)));
            }
            encode_table(t, null, out, depth + 1)?;
        }
        other => return Err(fail(format!("Cannot serialise {}: type not supported", other.type_name()))),
    }
    Ok(())
}

/// lua-cjson's `lua_array_length`: `Some(max)` when every key is a positive integer.
fn array_length(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0usize, 0usize);
    for kv in t.pairs::<Value, Value>() {
        let (k, _) = kv?;
        let idx = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(idx);
        items += 1;
    }
    if max > 10 && max > items * 2 {
        return Err(fail("Cannot serialise table: excessively sparse array"));
    }
    Ok(Some(max))
}

fn encode_table(t: &Table, null: &AnyUserData, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match array_length(t)? {
        Some(len) if len > 0 => {
            out.push(b'[');
            for i in 1..=len {
                if i > 1 {
                    out.push(b',');
                }
                encode(&t.raw_get::<Value>(i)?, null, out, depth)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            for kv in t.pairs::<Value, Value>() {
                let (k, v) = kv?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &k {
                    Value::String(s) => encode_string(&s.as_bytes(), out),
                    Value::Integer(i) => encode_string(fmt_g(*i as f64, 14).as_bytes(), out),
                    Value::Number(n) => encode_string(fmt_g(*n, 14).as_bytes(), out),
                    other => {
                        return Err(fail(format!(
                            "Cannot serialise {}: table key must be a number or string",
                            other.type_name()
                        )));
                    }
                }
                out.push(b':');
                encode(&v, null, out, depth)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

#[derive(Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

struct Token {
    kind: Tok,
    /// 0-based offset of the token's first byte.
    at: usize,
}

struct Decoder<'a> {
    lua: &'a Lua,
    b: &'a [u8],
    i: usize,
    null: &'a AnyUserData,
    depth: usize,
}

impl Decoder<'_> {
    fn expected(&self, what: &str, t: &Token) -> mlua::Error {
        let found = match &t.kind {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        };
        fail(format!("Expected {what} but found {found} at character {}", t.at + 1))
    }

    fn token(&mut self) -> Token {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
        let at = self.i;
        let Some(&c) = self.b.get(self.i) else { return Token { kind: Tok::End, at } };
        let simple = |k| Some(k);
        let kind = match c {
            b'{' => simple(Tok::ObjBegin),
            b'}' => simple(Tok::ObjEnd),
            b'[' => simple(Tok::ArrBegin),
            b']' => simple(Tok::ArrEnd),
            b':' => simple(Tok::Colon),
            b',' => simple(Tok::Comma),
            _ => None,
        };
        if let Some(kind) = kind {
            self.i += 1;
            return Token { kind, at };
        }
        let kind = match c {
            b'"' => match self.string() {
                // lua-cjson reports string errors where scanning stopped.
                Tok::Error(e) => return Token { kind: Tok::Error(e), at: self.i },
                other => other,
            },
            b'-' | b'0'..=b'9' => self.number(),
            _ => {
                let rest = &self.b[self.i..];
                let word = |w: &[u8]| rest.starts_with(w);
                if word(b"true") {
                    self.i += 4;
                    Tok::Bool(true)
                } else if word(b"false") {
                    self.i += 5;
                    Tok::Bool(false)
                } else if word(b"null") {
                    self.i += 4;
                    Tok::Null
                } else {
                    Tok::Error("invalid token")
                }
            }
        };
        Token { kind, at }
    }

    fn number(&mut self) -> Tok {
        let start = self.i;
        while self.i < self.b.len() && matches!(self.b[self.i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            self.i += 1;
        }
        match std::str::from_utf8(&self.b[start..self.i]).ok().and_then(|s| s.parse::<f64>().ok()) {
            Some(n) => Tok::Num(n),
            None => Tok::Error("invalid number"),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.i += 4;
        Some(v)
    }

    fn string(&mut self) -> Tok {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else { return Tok::Error("unexpected end of string") };
            self.i += 1;
            match c {
                b'"' => return Tok::Str(out),
                b'\\' => {
                    let Some(&e) = self.b.get(self.i) else { return Tok::Error("unexpected end of string") };
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let Some(mut cp) = self.hex4() else { return Tok::Error("invalid unicode escape code") };
                            if (0xd800..0xdc00).contains(&cp) {
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Tok::Error("invalid unicode escape code");
                                }
                                self.i += 2;
                                match self.hex4() {
                                    Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                    }
                                    _ => return Tok::Error("invalid unicode escape code"),
                                }
                            } else if (0xdc00..0xe000).contains(&cp) {
                                return Tok::Error("invalid unicode escape code");
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        _ => return Tok::Error("invalid escape code"),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn value(&mut self, t: Token) -> mlua::Result<Value> {
        Ok(match t.kind {
            Tok::Str(s) => Value::String(self.lua.create_string(&s)?),
            Tok::Num(n) => Value::Number(n),
            Tok::Bool(b) => Value::Boolean(b),
            Tok::Null => Value::UserData(self.null.clone()),
            Tok::ArrBegin | Tok::ObjBegin => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(fail(format!(
                        "Found too many nested data structures ({}) at character {}",
                        self.depth,
                        t.at + 1
                    )));
                }
                let v = if matches!(t.kind, Tok::ArrBegin) { self.array()? } else { self.object()? };
                self.depth -= 1;
                Value::Table(v)
            }
            _ => return Err(self.expected("value", &t)),
        })
    }

    fn array(&mut self) -> mlua::Result<Table> {
        let t = self.lua.create_table()?;
        let mut tok = self.token();
        if matches!(tok.kind, Tok::ArrEnd) {
            return Ok(t);
        }
        let mut i = 1;
        loop {
            let v = self.value(tok)?;
            t.raw_set(i, v)?;
            i += 1;
            let sep = self.token();
            match sep.kind {
                Tok::ArrEnd => return Ok(t),
                Tok::Comma => tok = self.token(),
                _ => return Err(self.expected("comma or array end", &sep)),
            }
        }
    }

    fn object(&mut self) -> mlua::Result<Table> {
        let t = self.lua.create_table()?;
        let mut tok = self.token();
        if matches!(tok.kind, Tok::ObjEnd) {
            return Ok(t);
        }
        loop {
            let Tok::Str(key) = &tok.kind else { return Err(self.expected("object key string", &tok)) };
            let key = self.lua.create_string(key)?;
            let colon = self.token();
            if !matches!(colon.kind, Tok::Colon) {
                return Err(self.expected("colon", &colon));
            }
            let vt = self.token();
            let v = self.value(vt)?;
            t.raw_set(key, v)?;
            let sep = self.token();
            match sep.kind {
                Tok::ObjEnd => return Ok(t),
                Tok::Comma => tok = self.token(),
                _ => return Err(self.expected("comma or object end", &sep)),
            }
        }
    }
}
