//! One sandboxed Lua 5.1 VM per OS thread, and what it caches: compiled EVAL scripts by sha and
//! loaded FUNCTION libraries by version.
//!
//! Owns VM construction (standard libraries, Redis's libraries, the Lua half of the sandbox in
//! `prelude.lua`), the instruction-count hook and the thread-local slot. Running a script and
//! encoding its result live in `run.rs`; the shared caches in `cache.rs` and `functions.rs`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mlua::{ChunkMode, Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

use super::{HOOK_EVERY, RunControl, convert, libs, redis_api};

/// Chunk name of the VM's own Lua code; frames from it are skipped when locating an error.
const INTERNAL: &str = "=[redis]";

/// The message a killed script raises; the error handler prefixes `ERR `.
const KILLED_MSG: &str = "Script killed by user with SCRIPT KILL...";

/// Compiled scripts kept per VM before the cache is dropped wholesale.
const MAX_COMPILED: usize = 4096;

/// The time-limit state the hook reads; reset by every run.
#[derive(Default)]
pub(crate) struct HookState {
    start: Option<Instant>,
    busy_after: Duration,
    on_busy: Option<Arc<dyn Fn() + Send + Sync>>,
    fired: bool,
    kill: Option<Arc<AtomicBool>>,
    /// The hook aborted this run (so pcall must not swallow the error).
    pub(crate) killed: bool,
    /// FUNCTION LOAD's time limit ([`LOAD_TIMEOUT`]).
    pub(crate) deadline: Option<Instant>,
}

/// How long a library's code may run while it loads (Redis 7.0's 500 ms).
pub(crate) const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// A library loaded into this VM: its registry version and its callbacks by function name.
pub(crate) struct LoadedLib {
    pub(crate) version: u64,
    pub(crate) functions: HashMap<String, Function>,
}

/// One thread's VM.
pub(crate) struct Vm {
    pub(crate) lua: Lua,
    /// The real globals table (holds `KEYS`/`ARGV`); scripts see a read-only proxy of it.
    pub(crate) backing: Table,
    /// Per-run state shared with `prelude.lua`: `host`, `resp3`, `run`, `load_lib`.
    pub(crate) cur: Table,
    pub(crate) hook: Rc<RefCell<HookState>>,
    /// Compiled EVAL scripts by sha, valid for `generation` of the script cache.
    pub(crate) compiled: HashMap<String, Function>,
    pub(crate) generation: u64,
    pub(crate) libs: HashMap<String, LoadedLib>,
    /// The prelude's `run` (fixed for the VM's life).
    pub(crate) runner: Function,
    /// Interned once: the table keys every run sets and reads (`lua_pushlstring` hashes a string
    /// each time it is made).
    pub(crate) names: Names,
}

/// Lua strings for the keys of the per-run tables.
pub(crate) struct Names {
    pub(crate) resp3: mlua::String,
    pub(crate) host: mlua::String,
    pub(crate) keys: mlua::String,
    pub(crate) argv: mlua::String,
    pub(crate) err: mlua::String,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm").field("compiled", &self.compiled.len()).field("libs", &self.libs.len()).finish()
    }
}

thread_local! {
    static VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's VM, creating it on first use.
///
/// # Errors
/// When called from inside a running script on the same thread (re-entry), or when the VM cannot
/// be built.
pub(crate) fn with_vm<R>(f: impl FnOnce(&mut Vm) -> R) -> Result<R, String> {
    VM.with(|slot| {
        let mut slot = slot.try_borrow_mut().map_err(|_| "ERR scripts cannot run from inside a script".to_string())?;
        if slot.is_none() {
            *slot = Some(Vm::new().map_err(|e| format!("ERR cannot create the Lua VM: {e}"))?);
        }
        Ok(f(slot.as_mut().expect("VM just created")))
    })
}

/// The text of an error raised as Redis raises an error table (`{err=text}`), if `e` is one.
pub(crate) fn raised(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::CallbackError { cause, .. } => raised(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<Raised>().map(|r| r.0.clone()),
        _ => None,
    }
}

/// An error table raised from Rust: the script sees `{err = text}` (its location is added by the
/// error handler, and `pcall` returns `text`).
#[derive(Debug)]
pub(crate) struct Raised(pub(crate) String);

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Raised {}

/// Raises `ERR <msg>` as an error table.
pub(crate) fn raise(msg: &str) -> mlua::Error {
    mlua::Error::external(Raised(format!("ERR {msg}")))
}

/// The innermost message of an error raised by Rust code inside Lua.
pub(crate) fn root_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_message(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::ExternalError(e) => e.to_string(),
        other => other.to_string(),
    }
}

impl Vm {
    fn new() -> mlua::Result<Vm> {
        let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::new())?;
        let backing = lua.globals();
        libs::install(&lua, &backing)?;
        let hook = Rc::new(RefCell::new(HookState::default()));

        let api = lua.create_table()?;
        let h = hook.clone();
        api.set("killed", lua.create_function(move |_, ()| Ok(h.borrow().killed))?)?;
        // errmsg(e, from_handler): the error object of a failed Rust function as Lua sees it. Like
        // luaL_error, the message gets the position of the function's caller when that caller is
        // the user's Lua code (known only inside the error handler, where the stack is intact).
        api.set(
            "errmsg",
            lua.create_function(|lua, (v, from_handler): (Value, bool)| {
                Ok(match v {
                    Value::Error(e) => match raised(&e) {
                        Some(text) => {
                            let t = lua.create_table()?;
                            t.raw_set("err", lua.create_string(text)?)?;
                            Value::Table(t)
                        }
                        None => {
                            let msg = match from_handler.then(|| caller_of_failed(lua)).flatten() {
                                Some((src, line)) => {
                                    format!("{}:{line}: {}", src.trim_start_matches(['@', '=']), root_message(&e))
                                }
                                None => root_message(&e),
                            };
                            Value::String(lua.create_string(msg)?)
                        }
                    },
                    other => Value::String(
                        lua.create_string(lua.coerce_string(other)?.map(|s| s.to_string_lossy()).unwrap_or_default())?,
                    ),
                })
            })?,
        )?;
        api.set(
            "where",
            lua.create_function(|lua, ()| {
                Ok(match user_frame(lua) {
                    Some((src, line)) => (Some(src), line),
                    None => (None, None),
                })
            })?,
        )?;
        api.set("errtab", lua.create_function(|lua, s: mlua::String| convert::error_table(lua, &s.as_bytes()))?)?;
        api.set("KILLED", KILLED_MSG)?;
        let h = hook.clone();
        api.set(
            "newthread",
            lua.create_function(move |lua, f: Function| {
                let th = lua.create_thread(f)?;
                th.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), hook_fn(h.clone()))?;
                Ok(th)
            })?,
        )?;
        api.set("log", lua.create_function(|_, (_l, _m): (Value, Value)| Ok(()))?)?;

        let redis = lua.create_table()?;
        redis.set("REDIS_VERSION", crate::REDIS_VERSION)?;
        redis.set("REDIS_VERSION_NUM", version_num(crate::REDIS_VERSION))?;
        let cur = lua.create_table()?;
        redis_api::install(&lua, &redis, &cur)?;
        let prelude: Function =
            lua.load(include_str!("prelude.lua")).set_name(INTERNAL).set_mode(ChunkMode::Text).into_function()?;
        let proxy: Table = prelude.call((backing.clone(), api, redis, cur.clone()))?;
        lua.set_globals(proxy)?;

        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), hook_fn(hook.clone()))?;
        let runner: Function = cur.raw_get("run")?;
        let names = Names {
            resp3: lua.create_string("resp3")?,
            host: lua.create_string("host")?,
            keys: lua.create_string("KEYS")?,
            argv: lua.create_string("ARGV")?,
            err: lua.create_string("err")?,
        };
        Ok(Vm { lua, backing, cur, hook, compiled: HashMap::new(), generation: 0, libs: HashMap::new(), runner, names })
    }

    /// Resets the per-run state before a run.
    pub(crate) fn begin(&mut self, ctl: &RunControl) -> mlua::Result<()> {
        *self.hook.borrow_mut() = HookState {
            start: Some(Instant::now()),
            busy_after: ctl.busy_after,
            on_busy: ctl.on_busy.clone(),
            fired: false,
            kill: Some(ctl.kill.clone()),
            killed: false,
            deadline: None,
        };
        self.cur.raw_set(&self.names.resp3, false)
    }

    /// Clears the per-run state after a run.
    pub(crate) fn end(&mut self) -> mlua::Result<()> {
        *self.hook.borrow_mut() = HookState::default();
        self.cur.raw_set(&self.names.host, Value::Nil)?;
        self.backing.raw_set(&self.names.keys, Value::Nil)?;
        self.backing.raw_set(&self.names.argv, Value::Nil)
    }

    /// Compiles an EVAL body (shebang line blanked, so line numbers stay), cached by sha.
    pub(crate) fn compile_script(&mut self, sha: &str, body: &[u8], generation: u64) -> Result<Function, String> {
        if self.generation != generation || self.compiled.len() >= MAX_COMPILED {
            self.compiled.clear();
            self.generation = generation;
        }
        if let Some(f) = self.compiled.get(sha) {
            return Ok(f.clone());
        }
        let f = self
            .compile(body, "@user_script")
            .map_err(|m| format!("ERR Error compiling script (new function): {m}"))?;
        self.compiled.insert(sha.to_string(), f.clone());
        Ok(f)
    }

    /// Compiles a text chunk; the error is Lua's message (`user_script:1: ...`).
    pub(crate) fn compile(&self, body: &[u8], name: &str) -> Result<Function, String> {
        let skip =
            if body.starts_with(b"#!") { body.iter().position(|&b| b == b'\n').unwrap_or(body.len()) } else { 0 };
        self.lua
            .load(&body[skip..])
            .set_name(name)
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| root_message(&e))
    }
}

/// The innermost frame of the user's code on the stack: its source (`@user_script`) and line.
fn user_frame(lua: &Lua) -> Option<(String, Option<usize>)> {
    for level in 1..256 {
        let (what, src, line) = lua.inspect_stack(level, |d| {
            let s = d.source();
            (s.what, s.source.map(|c| c.into_owned()), d.current_line())
        })?;
        if what != "C" && what != "tail" && src.as_deref() != Some(INTERNAL) {
            return Some((src?, line));
        }
    }
    None
}

/// Seen from the error handler's `errmsg` call (level 0 errmsg, 1 the handler, 2 the failed Rust
/// function): the caller of the failed function, if it is the user's Lua code.
fn caller_of_failed(lua: &Lua) -> Option<(String, usize)> {
    let (what, src, line) = lua.inspect_stack(3, |d| {
        let s = d.source();
        (s.what, s.source.map(|c| c.into_owned()), d.current_line())
    })?;
    if what == "C" || what == "tail" || src.as_deref() == Some(INTERNAL) {
        return None;
    }
    Some((src?, line?))
}

/// The instruction-count hook of the VM and of every coroutine: busy callback, then kill flag.
fn hook_fn(h: Rc<RefCell<HookState>>) -> impl Fn(&Lua, &mlua::Debug<'_>) -> mlua::Result<VmState> {
    move |_, _| {
        let mut st = h.borrow_mut();
        if st.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(mlua::Error::external(Raised("ERR FUNCTION LOAD timeout".into())));
        }
        if st.kill.as_ref().is_some_and(|k| k.load(Ordering::Relaxed)) {
            st.killed = true;
            return Err(mlua::Error::external(Raised(format!("ERR {KILLED_MSG}"))));
        }
        if !st.fired && st.start.is_some_and(|s| s.elapsed() >= st.busy_after) {
            st.fired = true;
            if let Some(cb) = st.on_busy.clone() {
                drop(st);
                cb();
            }
        }
        Ok(VmState::Continue)
    }
}

/// `7.0.15` → `0x07000f`, as `redis.REDIS_VERSION_NUM`.
fn version_num(v: &str) -> i64 {
    v.split('.').take(3).fold(0, |acc, p| (acc << 8) | p.parse::<i64>().unwrap_or(0))
}
