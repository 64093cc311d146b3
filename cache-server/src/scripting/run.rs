//! Running a script or a function once: KEYS/ARGV, the `redis.call` bridge to the [`Host`], the
//! error text of a failed run, and the result encoded for the caller.
//!
//! Owns the per-run flow only; the VM and its caches are in `vm.rs`, conversions in `convert.rs`.

use std::cell::RefCell;

use bytes::Bytes;
use mlua::{Function, Lua, Table, Value, Variadic};

use super::cache::{Script, Scripts, parse_shebang, sha1hex};
use super::functions::Functions;
use super::numfmt::fmt_g;
use super::vm::{Vm, root_message, with_vm};
use super::{Host, LogLevel, NOSCRIPT, RunControl, convert};
use crate::reply::Reply;

/// Which script EVAL or EVALSHA runs.
#[derive(Debug, Clone, Copy)]
pub enum ScriptRef<'a> {
    /// EVAL: the body (cached by its sha once it compiles).
    Body(&'a [u8]),
    /// EVALSHA: a sha1 hex, any case.
    Sha(&'a str),
    /// EVALSHA of a script the caller already looked up ([`Scripts::get`]): no second lookup.
    Cached(&'a Script),
}

/// Runs an EVAL/EVALSHA script with `keys` and `argv`, appending its result to `out` in the
/// caller's protocol (`out.resp3`). Read-only mode (EVAL_RO, `no-writes`) is the host's to
/// enforce; the script's flags are in [`Scripts::get`] / [`parse_shebang`].
///
/// # Errors
/// The error reply text (without the leading `-`), worded as Redis 7.0.15 does:
/// `NOSCRIPT No matching script. Please use EVAL.`, `ERR Error compiling script (new function):
/// user_script:1: ...`, shebang errors, and script errors such as `ERR user_script:1: boom script:
/// <sha>, on @user_script:1.`; a script that returns an error table (`redis.error_reply`,
/// `{err=...}`, a `redis.pcall` error) also comes back as `Err` with that text. Nothing is
/// appended to `out` on error.
pub fn run(
    scripts: &Scripts,
    script: ScriptRef<'_>,
    keys: &[Bytes],
    argv: &[Bytes],
    host: &mut dyn Host,
    ctl: &RunControl,
    out: &mut Reply,
) -> Result<(), String> {
    with_vm(|vm| {
        let (sha, f) = match script {
            ScriptRef::Body(body) => {
                parse_shebang(body)?;
                let sha = sha1hex(body);
                let f = vm.compile_script(&sha, body, scripts.generation())?;
                scripts.load(body, true)?;
                (sha, f)
            }
            ScriptRef::Sha(sha) => {
                let s = scripts.get(sha).ok_or_else(|| NOSCRIPT.to_string())?;
                let f = vm.compile_script(&s.sha, &s.body, scripts.generation())?;
                (s.sha.clone(), f)
            }
            ScriptRef::Cached(s) => {
                let f = vm.compile_script(&s.sha, &s.body, scripts.generation())?;
                (s.sha.clone(), f)
            }
        };
        let lua = vm.lua.clone();
        let set = |name: &mlua::String, items: &[Bytes]| -> mlua::Result<()> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, k) in items.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(k)?)?;
            }
            vm.backing.raw_set(name, t)
        };
        set(&vm.names.keys, keys).and_then(|()| set(&vm.names.argv, argv)).map_err(|e| format!("ERR {e}"))?;
        execute(vm, &f, None, &sha, host, ctl, out)
    })?
}

/// SCRIPT LOAD: compiles `body` in this thread's VM (so a bad body is refused as Redis refuses
/// it) and caches it as a SCRIPT LOAD-ed script (never evicted). Returns its sha.
///
/// # Errors
/// Shebang errors, `ERR Error compiling script (new function): user_script:1: ...`, or
/// `ERR script cache is full`.
pub fn load_script(scripts: &Scripts, body: &[u8]) -> Result<String, String> {
    parse_shebang(body)?;
    let sha = sha1hex(body);
    with_vm(|vm| vm.compile_script(&sha, body, scripts.generation()).map(|_| ()))??;
    Ok(scripts.load(body, false)?.sha.clone())
}

/// Runs FCALL/FCALL_RO `name` with `keys` and `args` (the callback's two arguments).
///
/// # Errors
/// `ERR Function not found`, or the run's error as for [`run`] with the function's name in place
/// of the sha (`ERR user_function:3: boom script: f2, on @user_function:3.`).
pub fn run_function(
    functions: &Functions,
    name: &str,
    keys: &[Bytes],
    args: &[Bytes],
    host: &mut dyn Host,
    ctl: &RunControl,
    out: &mut Reply,
) -> Result<(), String> {
    let (lib, _) = functions.get(name).ok_or_else(|| "ERR Function not found".to_string())?;
    with_vm(|vm| {
        let f = super::functions::loaded_function(vm, &lib, name)?;
        let lua = vm.lua.clone();
        let table = |items: &[Bytes]| -> mlua::Result<Table> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, k) in items.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(k)?)?;
            }
            Ok(t)
        };
        let kt = table(keys).map_err(|e| format!("ERR {e}"))?;
        let at = table(args).map_err(|e| format!("ERR {e}"))?;
        execute(vm, &f, Some((kt, at)), name, host, ctl, out)
    })?
}

fn execute(
    vm: &mut Vm,
    f: &Function,
    args: Option<(Table, Table)>,
    name: &str,
    host: &mut dyn Host,
    ctl: &RunControl,
    out: &mut Reply,
) -> Result<(), String> {
    vm.begin(ctl).map_err(|e| format!("ERR {e}"))?;
    let host = RefCell::new(host);
    let cur = vm.cur.clone();
    let (k_resp3, k_host, k_err) = (&vm.names.resp3, &vm.names.host, &vm.names.err);
    let runner = &vm.runner;
    let result = vm.lua.scope(|scope| {
        let c = cur.clone();
        let host = &host;
        let bridge = scope.create_function_mut(move |lua, (op, rest): (i64, Variadic<Value>)| {
            let resp3: bool = c.raw_get(k_resp3).unwrap_or(false);
            host_op(lua, host, resp3, op, &rest)
        })?;
        cur.raw_set(k_host, bridge)?;
        let (ok, v): (bool, Value) = match args {
            Some((k, a)) => runner.call((f.clone(), k, a))?,
            None => runner.call((f.clone(), Value::Nil, Value::Nil))?,
        };
        if ok {
            if let Value::Table(t) = &v {
                if let Value::String(e) = t.raw_get::<Value>(k_err)? {
                    return Ok(Err(e.to_string_lossy()));
                }
            }
            let mut tmp = Reply { resp3: out.resp3, ..Reply::default() };
            convert::lua_to_reply(&v, &mut tmp, cur.raw_get(k_resp3).unwrap_or(false))?;
            out.buf.extend_from_slice(&tmp.buf);
            Ok(Ok(()))
        } else {
            Ok(Err(error_text(&v, name)))
        }
    });
    let _ = vm.end();
    result.unwrap_or_else(|e| Err(format!("ERR Error running script {name}, {:.100}", root_message(&e))))
}

/// The error reply of a failed run, from the error handler's `{err=, source=, line=}` table.
pub(crate) fn error_text(v: &Value, name: &str) -> String {
    let Value::Table(t) = v else {
        return format!("ERR Error running script {name}, execution failure");
    };
    let err = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => return format!("ERR Error running script {name}, execution failure"),
    };
    match (t.raw_get::<Value>("source"), t.raw_get::<Value>("line")) {
        (Ok(Value::String(src)), Ok(Value::Integer(line))) => {
            format!("{err} script: {name}, on {}:{line}.", src.to_string_lossy())
        }
        (Ok(Value::String(src)), Ok(Value::Number(line))) => {
            format!("{err} script: {name}, on {}:{}.", src.to_string_lossy(), line as i64)
        }
        _ => err,
    }
}

/// `redis.call` arguments as Redis converts them: strings as they are, numbers as `%.17g`.
fn command_args(args: &[Value]) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    args.iter()
        .map(|v| match v {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(i) if i.unsigned_abs() < 100_000_000_000_000_000 => Ok(Bytes::from(i.to_string())),
            Value::Integer(i) => Ok(Bytes::from(fmt_g(*i as f64, 17))),
            Value::Number(n) => Ok(Bytes::from(fmt_g(*n, 17))),
            _ => Err("Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

/// The host half of the `redis` object: op 1 = call, 2 = log, 3 = acl_check_cmd. Returns the
/// value for the script and whether it is an error (raised by `redis.call`).
fn host_op(
    lua: &Lua,
    host: &RefCell<&mut dyn Host>,
    resp3: bool,
    op: i64,
    rest: &[Value],
) -> mlua::Result<(Value, bool)> {
    let err = |msg: &str| -> mlua::Result<(Value, bool)> {
        Ok((Value::Table(convert::error_table(lua, msg.as_bytes())?), true))
    };
    match op {
        2 => {
            let level = match rest.first() {
                Some(Value::Integer(0)) => LogLevel::Debug,
                Some(Value::Integer(1)) => LogLevel::Verbose,
                Some(Value::Integer(2)) => LogLevel::Notice,
                _ => LogLevel::Warning,
            };
            let msg = match rest.get(1) {
                Some(Value::String(s)) => s.to_string_lossy(),
                _ => String::new(),
            };
            host.borrow_mut().log(level, &msg);
            Ok((Value::Nil, false))
        }
        1 | 3 => {
            let argv = match command_args(rest) {
                Ok(a) => a,
                Err(m) => return err(m),
            };
            if op == 3 {
                return match host.borrow_mut().acl_check(&argv) {
                    Some(b) => Ok((Value::Boolean(b), false)),
                    None => err("Invalid command passed to redis.acl_check_cmd()"),
                };
            }
            let reply = host.borrow_mut().call(&argv, resp3);
            convert::resp_to_lua(lua, &reply)
        }
        _ => err("unknown host operation"),
    }
}
