//! The Rust half of the `redis` object: the functions that can raise errors (`call`, `pcall`,
//! `acl_check_cmd`, `log`, `setresp`, `set_repl`, `sha1hex`). They are C functions to Lua, as in
//! Redis, so `return redis.call(...)` keeps the script's frame for the error location. They reach
//! the host through `cur.host`, the bridge `run.rs` installs for the length of one run.

use mlua::{Function, Lua, Table, Value, Variadic};

use super::vm::{Raised, raise};

fn host(cur: &Table, what: &str) -> mlua::Result<Function> {
    cur.raw_get::<Option<Function>>("host")?.ok_or_else(|| raise(&format!("{what} is not allowed here")))
}

fn err_text(v: &Value) -> String {
    match v {
        Value::Table(t) => t.raw_get::<Option<mlua::String>>("err").ok().flatten().map(|s| s.to_string_lossy()),
        _ => None,
    }
    .unwrap_or_else(|| "ERR unknown error".to_string())
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// Sets the raising functions of `redis` (the table `R` of `prelude.lua`).
pub(crate) fn install(lua: &Lua, redis: &Table, cur: &Table) -> mlua::Result<()> {
    let c = cur.clone();
    redis.set(
        "call",
        lua.create_function(move |_, args: Variadic<Value>| {
            let (v, failed): (Value, bool) = host(&c, "redis.call")?.call((1, args))?;
            if failed { Err(mlua::Error::external(Raised(err_text(&v)))) } else { Ok(v) }
        })?,
    )?;
    let c = cur.clone();
    redis.set(
        "pcall",
        lua.create_function(move |_, args: Variadic<Value>| {
            let (v, _): (Value, bool) = host(&c, "redis.pcall")?.call((1, args))?;
            Ok(v)
        })?,
    )?;
    let c = cur.clone();
    redis.set(
        "acl_check_cmd",
        lua.create_function(move |_, args: Variadic<Value>| {
            let (v, failed): (Value, bool) = host(&c, "redis.acl_check_cmd")?.call((3, args))?;
            if failed { Err(mlua::Error::external(Raised(err_text(&v)))) } else { Ok(v) }
        })?,
    )?;
    let c = cur.clone();
    redis.set(
        "log",
        lua.create_function(move |lua, args: Variadic<Value>| {
            if args.len() < 2 {
                return Err(raise("redis.log() requires two arguments or more."));
            }
            let level = number(args.first()).ok_or_else(|| raise("First argument must be a number (log level)."))?;
            if !(0.0..=3.0).contains(&level) {
                return Err(raise("Invalid debug level."));
            }
            let mut msg = Vec::new();
            for v in &args[1..] {
                if matches!(v, Value::String(_) | Value::Integer(_) | Value::Number(_)) {
                    if let Some(s) = lua.coerce_string(v.clone())? {
                        if !msg.is_empty() {
                            msg.push(b' ');
                        }
                        msg.extend_from_slice(&s.as_bytes());
                    }
                }
            }
            match c.raw_get::<Option<Function>>("host")? {
                Some(h) => h.call::<()>((2, level as i64, lua.create_string(&msg)?))?,
                // FUNCTION LOAD runs without a host: the server's log gets it.
                None => tracing::info!(target: "script", "{}", String::from_utf8_lossy(&msg)),
            }
            Ok(())
        })?,
    )?;
    let c = cur.clone();
    redis.set(
        "setresp",
        lua.create_function(move |_, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(raise("redis.setresp() requires one argument."));
            }
            match number(args.first()) {
                Some(v) if v == 2.0 || v == 3.0 => c.raw_set("resp3", v == 3.0),
                _ => Err(raise("RESP version must be 2 or 3.")),
            }
        })?,
    )?;
    redis.set(
        "set_repl",
        lua.create_function(|_, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(raise("redis.set_repl() requires two arguments."));
            }
            match number(args.first()) {
                Some(v) if v == 0.0 || v == 1.0 || v == 2.0 || v == 3.0 => Ok(()),
                _ => Err(raise("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")),
            }
        })?,
    )?;
    redis.set(
        "sha1hex",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(raise("wrong number of arguments"));
            }
            let s = lua.coerce_string(args[0].clone())?.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
            Ok(super::sha1hex(&s))
        })?,
    )?;
    Ok(())
}
