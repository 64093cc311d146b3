//! The Lua scripting engine: EVAL/EVALSHA scripts and FUNCTION libraries, behind one seam ([`Host`]).
//!
//! This module owns the Lua side of scripting — the sandboxed VMs, the `redis` object, the
//! conversions between RESP and Lua values, the libraries Redis loads (`cjson`, `bit`, `struct`,
//! `cmsgpack`), the script cache and the function registry. It does not parse commands, lock keys or
//! touch the keyspace: every `redis.call` goes through [`Host::call`], implemented by the command
//! layer, which also enforces read-only mode (`EVAL_RO`, `no-writes`), ACLs and OOM.
//!
//! ```text
//!  command layer (EVAL, EVALSHA, SCRIPT, FCALL, FUNCTION)
//!     │ run(ScriptRef, keys, argv, &mut dyn Host, &RunControl, &mut Reply) — out.resp3: caller's protocol
//!     ▼
//!  Scripts (shared cache: sha1 → body + flags)      Functions (shared registry: library → code)
//!     │ body                                           │ code + version
//!     ▼                                                ▼
//!  thread-local Vm (one per OS thread) ── compiled functions cached by sha / library version
//!     │ xpcall(script, error handler), count hook every HOOK_EVERY instructions → RunControl
//!     │ redis.call(args) ──► Host::call(args, resp3) ──► RESP bytes ──► convert::resp_to_lua
//!     ▼
//!  convert::lua_to_reply ──► Reply (the caller's protocol)   or   Err("ERR ... script: <sha>, on @user_script:1.")
//! ```
//!
//! # Why one VM per thread
//!
//! The server runs commands on several tokio worker threads at once, and a script holds only the
//! locks of its declared keys, so two scripts on distinct keys run in parallel. Since Redis 7 the
//! globals of a script VM are read-only (a script cannot leave state behind), and every run gets
//! fresh `KEYS`/`ARGV` tables, so a VM per thread behaves like Redis's single VM. The exception is
//! state a FUNCTION library keeps in its own locals: each thread loads the library into its VM, so
//! such state is per thread (see "Differences from Redis").
//!
//! # Files
//!
//! `cache.rs` script cache and shebang flags · `vm.rs` the per-thread VM, hook and caches ·
//! `prelude.lua` the sandbox and the Lua half of `redis` · `redis_api.rs` the raising `redis.*`
//! functions · `run.rs` one run, KEYS/ARGV, the host bridge, error texts · `convert.rs` RESP ⇄ Lua ·
//! `functions.rs` FUNCTION registry (its DUMP payload through [`crate::persistence::rdb`]) · `libs/` cjson, bit,
//! struct, cmsgpack · `numfmt.rs` C's `%.<p>g`.
//!
//! # Errors
//!
//! Every error is the reply text without its leading `-`, worded as redis-server 7.0.15 words it
//! (the tests say which strings were read from it): `ERR user_script:1: boom script: <sha>, on
//! @user_script:1.`; errors raised by `redis.call` carry the command's own error and code
//! (`ERR value is not an integer or out of range script: ...`), `redis.error_reply` codes pass
//! through, `pcall` sees the message string, a killed script reads `ERR Script killed by user with
//! SCRIPT KILL... script: ...`.
//!
//! # Differences from Redis 7.0.15 (known)
//!
//! - The globals table seen by scripts is a read-only proxy; `rawget`, `rawset`, `next`, `pairs`
//!   and `ipairs` are wrapped to see through it. Redis instead marks tables read-only inside its
//!   patched Lua. The string metatable is not protected (nor is it in Redis).
//! - `os` is absent, as in Redis 7.0 (7.2 added `os.clock`); `print`, `getfenv`, `setfenv`,
//!   `newproxy`, `loadfile`, `dofile`, `require`, `package`, `debug`, `io` are absent as in 7.0.15.
//!   `loadstring`/`load` refuse binary chunks. `redis.breakpoint`/`redis.debug` exist as no-ops
//!   (7.0.15 has them outside the debugger too); the Lua debugger (LDB) is not provided.
//! - `pcall`, `xpcall` and `coroutine.resume/create/wrap` are Lua/Rust wrappers (so the kill flag
//!   cannot be swallowed); an error inside `coroutine.wrap` is not prefixed a second time with the
//!   caller's position as Lua's C `wrap` does; `pcall` of a library function (`cjson.decode`, ...)
//!   called from a Lua closure loses the position prefix Redis would show.
//! - A self-referencing result table stops at 1000 levels with `reached lua stack limit`; Redis's
//!   limit is its Lua stack (a different depth).
//! - FUNCTION library locals are per thread; FUNCTION DUMP of several libraries orders them by name
//!   (Redis follows its hash-table order, which differs between servers anyway). A one-library dump
//!   equals redis-server's byte for byte (same LZF compression, RDB version 10, CRC-64).
//! - cjson's configuration functions (`encode_keep_buffer`, `encode_max_depth`, ...) are missing.
//! - Scripts cannot call `redis.call('eval', ...)`: the [`Host`] must refuse it as Redis does; a
//!   nested [`run`] on the same thread returns an error instead of re-entering the VM.
//! - Compiled scripts (per VM, at most 4096, dropped on SCRIPT FLUSH) are not counted in
//!   [`Scripts::memory`], which counts bodies as Redis's `used_memory_scripts_eval` roughly does.
#![warn(missing_docs)]

mod cache;
mod convert;
pub mod functions;
mod libs;
pub(crate) mod numfmt;
mod redis_api;
mod run;
mod vm;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use cache::{SCRIPT_OVERHEAD, Script, ScriptFlags, Scripts, parse_shebang, sha1hex};
pub use functions::{FunctionInfo, Library};
pub use functions::{Functions, RestorePolicy};
pub use run::{ScriptRef, load_script, run, run_function};

/// `redis.log` levels, as Redis numbers them (`redis.LOG_DEBUG` = 0 ... `redis.LOG_WARNING` = 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogLevel {
    /// `redis.LOG_DEBUG`.
    Debug,
    /// `redis.LOG_VERBOSE`.
    Verbose,
    /// `redis.LOG_NOTICE`.
    Notice,
    /// `redis.LOG_WARNING`.
    Warning,
}

/// What a running script can do to the server. Implemented by the command layer.
pub trait Host {
    /// Runs one command as `redis.call`/`redis.pcall` asks and returns its raw RESP reply bytes,
    /// encoded in RESP3 if `resp3` (the script's `redis.setresp(3)`), else RESP2.
    ///
    /// Error replies come back as `-CODE message\r\n` frames; the engine turns them into Lua errors
    /// (`redis.call`) or `{err=...}` tables (`redis.pcall`). The host words Redis's script-specific
    /// refusals itself, e.g. `-ERR Unknown Redis command called from script`, `-ERR Wrong number of
    /// args calling Redis command from script`, `-ERR This Redis command is not allowed from script`,
    /// `-ERR Write commands are not allowed from read-only scripts.` (Redis 7.0.15 texts).
    fn call(&mut self, args: &[bytes::Bytes], resp3: bool) -> bytes::Bytes;

    /// `redis.log(level, msg)`.
    fn log(&mut self, level: LogLevel, msg: &str);

    /// `redis.acl_check_cmd(...)`: may the current user run this command? `None` when the command
    /// does not exist (the engine raises `Invalid command passed to redis.acl_check_cmd()`).
    fn acl_check(&mut self, args: &[bytes::Bytes]) -> Option<bool> {
        let _ = args;
        Some(true)
    }
}

/// Time limits of one run: the busy threshold and the kill switch.
///
/// Every [`HOOK_EVERY`] Lua instructions the engine checks the elapsed time and the kill flag.
/// After `busy_after` it calls `on_busy` once, so the server can answer `-BUSY` to other clients
/// (Redis's `busy-reply-threshold`, default 5 s); if `kill` is set it aborts the script with
/// `ERR Script killed by user with SCRIPT KILL... script: <sha>, on @user_script:<line>.`
#[derive(Clone)]
pub struct RunControl {
    /// Set by SCRIPT KILL / FUNCTION KILL (from another thread).
    pub kill: Arc<AtomicBool>,
    /// How long a script runs before `on_busy` fires.
    pub busy_after: Duration,
    /// Called once, on the script's thread, when the run passes `busy_after`.
    pub on_busy: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for RunControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunControl")
            .field("kill", &self.kill)
            .field("busy_after", &self.busy_after)
            .field("on_busy", &self.on_busy.is_some())
            .finish()
    }
}

impl Default for RunControl {
    fn default() -> Self {
        RunControl { kill: Arc::new(AtomicBool::new(false)), busy_after: Duration::from_secs(5), on_busy: None }
    }
}

/// Lua instructions between two checks of [`RunControl`] (Redis uses the same count).
pub const HOOK_EVERY: u32 = 100_000;

/// The error of a killed script, without its location suffix (Redis 7.0.15 text).
pub const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// The reply to EVALSHA of an unknown sha (Redis 7.0.15 text).
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
