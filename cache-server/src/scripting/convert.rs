//! Conversions between RESP and Lua values, both directions, as Redis 7.0 does them.
//!
//! Owns two functions and nothing else: [`resp_to_lua`] turns the RESP bytes a [`super::Host`]
//! returns into what `redis.call` gives the script (RESP2: nil bulk → `false`, status → `{ok=}`,
//! error → `{err=}`; RESP3 adds map/set/null/boolean/double/big number/verbatim), and
//! [`lua_to_reply`] encodes the script's result for the caller in its protocol.

use mlua::{Lua, Table, Value};

use super::numfmt::lua_to_int;
use crate::reply::Reply;

/// Deepest nesting converted before `reached lua stack limit` (Redis bounds it by the Lua stack).
const MAX_DEPTH: usize = 1000;

/// Builds Redis's error table from an error text, as `luaPushErrorBuff` does: `-CODE msg` keeps its
/// code (the dash dropped), a text without a leading dash or without a space gets `ERR`, trailing
/// CR/LF are trimmed.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(sp) => (&rest[..sp], &rest[sp + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let mut end = msg.len();
    while end > 0 && (msg[end - 1] == b'\r' || msg[end - 1] == b'\n') {
        end -= 1;
    }
    let mut s = Vec::with_capacity(code.len() + 1 + end);
    s.extend_from_slice(code);
    s.push(b' ');
    s.extend_from_slice(&msg[..end]);
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("err", lua.create_string(&s)?)?;
    Ok(t)
}

/// Parses one RESP reply into a Lua value. Returns the value and whether it is an error reply.
/// A malformed reply becomes an error table (the host is trusted, so this is a bug guard).
pub fn resp_to_lua(lua: &Lua, buf: &[u8]) -> mlua::Result<(Value, bool)> {
    let mut p = Parser { b: buf, i: 0 };
    let is_err = buf.first() == Some(&b'-') || buf.first() == Some(&b'!');
    match p.value(lua, 0) {
        Ok(Some(v)) => Ok((v, is_err)),
        _ => Ok((Value::Table(error_table(lua, b"ERR protocol error in the reply to a script")?), true)),
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn line(&mut self) -> Option<&'a [u8]> {
        let rest = self.b.get(self.i..)?;
        let n = rest.windows(2).position(|w| w == b"\r\n")?;
        self.i += n + 2;
        Some(&rest[..n])
    }

    fn int(&mut self) -> Option<i64> {
        std::str::from_utf8(self.line()?).ok()?.parse().ok()
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.i..self.i + n)?;
        self.i += n + 2;
        Some(s)
    }

    /// `Ok(None)` on malformed input.
    fn value(&mut self, lua: &Lua, depth: usize) -> mlua::Result<Option<Value>> {
        if depth > MAX_DEPTH {
            return Ok(None);
        }
        let Some(&kind) = self.b.get(self.i) else { return Ok(None) };
        self.i += 1;
        let v = match kind {
            b'+' => {
                let Some(l) = self.line() else { return Ok(None) };
                let t = lua.create_table_with_capacity(0, 1)?;
                t.raw_set("ok", lua.create_string(l)?)?;
                Value::Table(t)
            }
            b'-' => {
                let Some(l) = self.line() else { return Ok(None) };
                let mut s = Vec::with_capacity(l.len() + 1);
                s.push(b'-');
                s.extend_from_slice(l);
                Value::Table(error_table(lua, &s)?)
            }
            b'!' => {
                let Some(n) = self.int() else { return Ok(None) };
                let Some(l) = self.bytes(n.max(0) as usize) else { return Ok(None) };
                let mut s = vec![b'-'];
                s.extend_from_slice(l);
                Value::Table(error_table(lua, &s)?)
            }
            b':' => match self.int() {
                Some(n) => Value::Number(n as f64),
                None => return Ok(None),
            },
            b'$' | b'=' => {
                let Some(n) = self.int() else { return Ok(None) };
                if n < 0 {
                    return Ok(Some(Value::Boolean(false)));
                }
                let Some(s) = self.bytes(n as usize) else { return Ok(None) };
                if kind == b'$' {
                    Value::String(lua.create_string(s)?)
                } else {
                    let (format, text) =
                        if s.len() >= 4 && s[3] == b':' { (&s[..3], &s[4..]) } else { (&b"txt"[..], s) };
                    let inner = lua.create_table_with_capacity(0, 2)?;
                    inner.raw_set("format", lua.create_string(format)?)?;
                    inner.raw_set("string", lua.create_string(text)?)?;
                    let t = lua.create_table_with_capacity(0, 1)?;
                    t.raw_set("verbatim_string", inner)?;
                    Value::Table(t)
                }
            }
            b'*' | b'~' | b'>' => {
                let Some(n) = self.int() else { return Ok(None) };
                if n < 0 {
                    return Ok(Some(Value::Boolean(false)));
                }
                let t = lua.create_table_with_capacity(n.min(1024) as usize, 0)?;
                for i in 1..=n {
                    let Some(v) = self.value(lua, depth + 1)? else { return Ok(None) };
                    if kind == b'~' {
                        t.raw_set(v, true)?;
                    } else {
                        t.raw_set(i, v)?;
                    }
                }
                if kind == b'~' {
                    let w = lua.create_table_with_capacity(0, 1)?;
                    w.raw_set("set", t)?;
                    Value::Table(w)
                } else {
                    Value::Table(t)
                }
            }
            b'%' | b'|' => {
                let Some(n) = self.int() else { return Ok(None) };
                let t = lua.create_table()?;
                for _ in 0..n.max(0) {
                    let Some(k) = self.value(lua, depth + 1)? else { return Ok(None) };
                    let Some(v) = self.value(lua, depth + 1)? else { return Ok(None) };
                    t.raw_set(k, v)?;
                }
                if kind == b'|' {
                    // An attribute annotates the next value, which is the reply (Redis skips it too).
                    return self.value(lua, depth);
                }
                let w = lua.create_table_with_capacity(0, 1)?;
                w.raw_set("map", t)?;
                Value::Table(w)
            }
            b'_' => {
                self.line();
                Value::Nil
            }
            b'#' => match self.line() {
                Some(b"t") => Value::Boolean(true),
                Some(b"f") => Value::Boolean(false),
                _ => return Ok(None),
            },
            b',' => {
                let Some(l) = self.line() else { return Ok(None) };
                let s = std::str::from_utf8(l).unwrap_or("nan");
                let d = match s {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    _ => s.parse().unwrap_or(f64::NAN),
                };
                let t = lua.create_table_with_capacity(0, 1)?;
                t.raw_set("double", d)?;
                Value::Table(t)
            }
            b'(' => {
                let Some(l) = self.line() else { return Ok(None) };
                let t = lua.create_table_with_capacity(0, 1)?;
                t.raw_set("big_number", lua.create_string(l)?)?;
                Value::Table(t)
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }
}

/// Encodes a script's result for the caller (`out.resp3` is the caller's protocol), as Redis's
/// `luaReplyToRedisReply`. `script_resp3` is the script's `redis.setresp` protocol, which decides
/// how booleans are sent (RESP2 scripts: `true` → `:1`, `false` → null).
pub fn lua_to_reply(v: &Value, out: &mut Reply, script_resp3: bool) -> mlua::Result<()> {
    encode(v, out, script_resp3, 0)
}

fn sanitize(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}

fn encode(v: &Value, out: &mut Reply, script_resp3: bool, depth: usize) -> mlua::Result<()> {
    if depth > MAX_DEPTH {
        out.error("reached lua stack limit");
        return Ok(());
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(lua_to_int(*n)),
        Value::Table(t) => encode_table(t, out, script_resp3, depth)?,
        _ => out.null(),
    }
    Ok(())
}

fn encode_table(t: &Table, out: &mut Reply, script_resp3: bool, depth: usize) -> mlua::Result<()> {
    if let Value::String(e) = t.raw_get::<Value>("err")? {
        out.error(&String::from_utf8_lossy(&e.as_bytes()));
        return Ok(());
    }
    if let Value::String(s) = t.raw_get::<Value>("ok")? {
        out.simple(&sanitize(&s.as_bytes()));
        return Ok(());
    }
    match t.raw_get::<Value>("double")? {
        Value::Number(d) => {
            out.double(d);
            return Ok(());
        }
        Value::Integer(i) => {
            out.double(i as f64);
            return Ok(());
        }
        _ => {}
    }
    if let Value::String(s) = t.raw_get::<Value>("big_number")? {
        let s = sanitize(&s.as_bytes());
        if out.resp3 {
            out.buf.extend_from_slice(format!("({s}\r\n").as_bytes());
        } else {
            out.bulk(s.as_bytes());
        }
        return Ok(());
    }
    if let Value::Table(m) = t.raw_get::<Value>("map")? {
        let mut pairs = Vec::new();
        for kv in m.pairs::<Value, Value>() {
            pairs.push(kv?);
        }
        out.map(pairs.len());
        for (k, v) in &pairs {
            encode(k, out, script_resp3, depth + 1)?;
            encode(v, out, script_resp3, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(s) = t.raw_get::<Value>("set")? {
        let mut keys = Vec::new();
        for kv in s.pairs::<Value, Value>() {
            keys.push(kv?.0);
        }
        out.set(keys.len());
        for k in &keys {
            encode(k, out, script_resp3, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(vs) = t.raw_get::<Value>("verbatim_string")? {
        if let (Value::String(f), Value::String(s)) = (vs.raw_get::<Value>("format")?, vs.raw_get::<Value>("string")?) {
            let (f, s) = (f.as_bytes(), s.as_bytes());
            if out.resp3 {
                out.buf.extend_from_slice(format!("={}\r\n", s.len() + f.len() + 1).as_bytes());
                out.buf.extend_from_slice(&f);
                out.buf.extend_from_slice(b":");
                out.buf.extend_from_slice(&s);
                out.buf.extend_from_slice(b"\r\n");
            } else {
                out.bulk(&s);
            }
            return Ok(());
        }
    }
    let mut items = Vec::new();
    loop {
        let v: Value = t.raw_get(items.len() + 1)?;
        if v.is_nil() {
            break;
        }
        items.push(v);
    }
    out.array(items.len());
    for v in &items {
        encode(v, out, script_resp3, depth + 1)?;
    }
    Ok(())
}
