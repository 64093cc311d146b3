//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FUNCTION, FCALL and FCALL_RO: the command side of
//! scripting. The Lua side (VMs, the `redis` object, conversions, libraries, the script cache and
//! the function registry) is [`crate::scripting`]; this module decides which keys a run holds,
//! bridges `redis.call` to the dispatcher, and keeps the BUSY / KILL state.
//!
//! # Keys and isolation
//!
//! A script runs as one atomic operation (see [`crate::db::Scope`]): the shards of its declared
//! keys (`KEYS`) are held for the whole run, so scripts on disjoint keys run in parallel on
//! different workers and nothing interleaves with a script. Every `redis.call` is checked before it
//! runs: the keys it names (following a SELECT inside the script) must be held, or are taken if
//! their shard is free — so a script that also touches keys it did not declare still runs
//! isolated, holding each such shard from its first touch to the end of the run.
//!
//! When an undeclared key's shard is busy (another script or transaction holds it), waiting could
//! deadlock. The run is abandoned instead: the keys it wrote are put back from the values noted
//! before its first write to each (still under its locks, so nobody saw the change), its reply is
//! discarded, and it is rerun holding the whole keyspace; its sha (a function: its name) is
//! remembered so that later runs start that way. Scripts that build key names at run time
//! (BullMQ's, "delete by pattern" loops) therefore work, isolated and serialised as in Redis.
//! Messages a run published before it was abandoned are not taken back (they go out again on the
//! rerun). Inside MULTI/EXEC a script runs within the transaction's keys and takes free shards
//! only (EXEC holds the KEYS of the scripts it queued); a busy undeclared one fails that call with
//! `-ERR script accessed undeclared key '<k>' held by another operation; declare every key in KEYS`.
//!
//! # Long scripts
//!
//! Past `busy-reply-threshold` a script is *busy*: every other command except those flagged
//! `allow_busy` (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE, …) gets `-BUSY`, and the worker
//! thread running it hands its other connections to a fresh thread, so SCRIPT KILL reaches the
//! server. SCRIPT KILL stops a busy script that has not written (`-UNKILLABLE` otherwise).

use super::transactions::Footprint;
use super::{CmdError, CmdResult, CommandSpec, Ctx, Registry, SYNTAX, arg_i64, container, is, spec};
use crate::connection::ClientState;
use crate::db::{Entry, Held};
use crate::reply::Reply;
use crate::scripting::{self, Functions, Host, LogLevel, RestorePolicy, RunControl, ScriptFlags, ScriptRef, Scripts};
use crate::server::Shared;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Duration;

const G: &str = "scripting";
const EVAL_FLAGS: &[&str] = &["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale", "movablekeys"];
const EVAL_RO_FLAGS: &[&str] = &["noscript", "skip_monitor", "no_mandatory_keys", "stale", "readonly", "movablekeys"];

/// The scripting commands.
pub static COMMANDS: &[CommandSpec] = &[
    spec("eval", -3, EVAL_FLAGS, (0, 0, 0), G, "Executes a server-side Lua script.", "2.6.0", eval),
    spec(
        "evalsha",
        -3,
        EVAL_FLAGS,
        (0, 0, 0),
        G,
        "Executes a server-side Lua script by SHA1 digest.",
        "2.6.0",
        evalsha,
    ),
    spec("eval_ro", -3, EVAL_RO_FLAGS, (0, 0, 0), G, "Executes a read-only server-side Lua script.", "7.0.0", eval_ro),
    spec(
        "evalsha_ro",
        -3,
        EVAL_RO_FLAGS,
        (0, 0, 0),
        G,
        "Executes a read-only server-side Lua script by SHA1 digest.",
        "7.0.0",
        evalsha_ro,
    ),
    spec("fcall", -3, EVAL_FLAGS, (0, 0, 0), G, "Invokes a function.", "7.0.0", fcall),
    spec("fcall_ro", -3, EVAL_RO_FLAGS, (0, 0, 0), G, "Invokes a read-only function.", "7.0.0", fcall_ro),
    CommandSpec {
        subcommands: &[
            spec(
                "load",
                3,
                &["noscript", "stale"],
                (0, 0, 0),
                G,
                "Loads a server-side Lua script to the script cache.",
                "2.6.0",
                script_load,
            ),
            spec(
                "exists",
                -3,
                &["noscript"],
                (0, 0, 0),
                G,
                "Determines whether server-side Lua scripts exist in the script cache.",
                "2.6.0",
                script_exists,
            ),
            spec(
                "flush",
                -2,
                &["noscript"],
                (0, 0, 0),
                G,
                "Removes all server-side Lua scripts from the script cache.",
                "2.6.0",
                script_flush,
            ),
            spec(
                "kill",
                2,
                &["noscript", "allow_busy"],
                (0, 0, 0),
                G,
                "Terminates a server-side Lua script during execution.",
                "2.6.0",
                script_kill,
            ),
            spec(
                "help",
                2,
                &["loading", "stale"],
                (0, 0, 0),
                G,
                "Returns helpful text about the different subcommands.",
                "5.0.0",
                script_help,
            ),
        ],
        ..spec("script", -2, &[], (0, 0, 0), G, "A container for Lua scripts management commands.", "2.6.0", container)
    },
    CommandSpec {
        subcommands: &[
            spec(
                "load",
                -3,
                &["write", "denyoom", "noscript"],
                (0, 0, 0),
                G,
                "Creates a library.",
                "7.0.0",
                function_load,
            ),
            spec(
                "delete",
                3,
                &["write", "noscript"],
                (0, 0, 0),
                G,
                "Deletes a library and its functions.",
                "7.0.0",
                function_delete,
            ),
            spec(
                "flush",
                -2,
                &["write", "noscript"],
                (0, 0, 0),
                G,
                "Deletes all libraries and functions.",
                "7.0.0",
                function_flush,
            ),
            spec(
                "list",
                -2,
                &["noscript"],
                (0, 0, 0),
                G,
                "Returns information about all libraries.",
                "7.0.0",
                function_list,
            ),
            spec(
                "dump",
                2,
                &["noscript"],
                (0, 0, 0),
                G,
                "Dumps all libraries into a serialized binary payload.",
                "7.0.0",
                function_dump,
            ),
            spec(
                "restore",
                -3,
                &["write", "denyoom", "noscript"],
                (0, 0, 0),
                G,
                "Restores all libraries from a payload.",
                "7.0.0",
                function_restore,
            ),
            spec(
                "stats",
                2,
                &["noscript", "allow_busy"],
                (0, 0, 0),
                G,
                "Returns information about a function during execution.",
                "7.0.0",
                function_stats,
            ),
            spec(
                "kill",
                2,
                &["noscript", "allow_busy"],
                (0, 0, 0),
                G,
                "Terminates a function during execution.",
                "7.0.0",
                function_kill,
            ),
            spec(
                "help",
                2,
                &["loading", "stale"],
                (0, 0, 0),
                G,
                "Returns helpful text about the different subcommands.",
                "7.0.0",
                function_help,
            ),
        ],
        ..spec("function", -2, &[], (0, 0, 0), G, "A container for function commands.", "7.0.0", container)
    },
];

/// Scripting state shared by every connection.
#[derive(Debug)]
pub struct ScriptState {
    /// EVAL / SCRIPT LOAD cache.
    pub scripts: Scripts,
    /// FUNCTION libraries.
    pub functions: Functions,
    /// Runs in progress that passed the busy threshold (SCRIPT KILL looks here).
    running: Mutex<Vec<Arc<Running>>>,
    /// How many runs are busy: non-zero means other clients get `-BUSY`.
    busy: AtomicUsize,
    /// Scripts (by sha, functions by name) that touched a key outside their declared ones while it
    /// was busy: they start holding the whole keyspace.
    undeclared: RwLock<HashSet<String>>,
    any_undeclared: AtomicBool,
    /// `busy-reply-threshold` in ms, mirrored from the config (read by every run without the
    /// config lock).
    pub busy_threshold: std::sync::atomic::AtomicU64,
}

impl ScriptState {
    /// Empty caches; the EVAL cache holds up to `budget` bytes.
    pub fn new(budget: usize, busy_threshold_ms: u64) -> Self {
        Self {
            busy_threshold: std::sync::atomic::AtomicU64::new(busy_threshold_ms),
            scripts: Scripts::new(budget),
            functions: Functions::new(),
            running: Mutex::new(Vec::new()),
            busy: AtomicUsize::new(0),
            undeclared: RwLock::new(HashSet::new()),
            any_undeclared: AtomicBool::new(false),
        }
    }

    /// True while a busy script or function runs: other commands get `-BUSY`.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Relaxed) != 0
    }

    /// The `-BUSY` reply for the current busy run.
    pub fn busy_error(&self) -> &'static str {
        busy_text(self.running.lock().iter().any(|r| r.function))
    }

    fn starts_global(&self, id: &str) -> bool {
        self.any_undeclared.load(Relaxed) && self.undeclared.read().contains(id)
    }

    /// Forgets which scripts needed the whole keyspace (SCRIPT FLUSH empties the cache they ran
    /// from; a function keeps its name, so FUNCTION FLUSH does the same).
    fn forget_learned(&self) {
        self.undeclared.write().clear();
        self.any_undeclared.store(false, Relaxed);
    }

    fn learn_global(&self, id: &str) {
        self.undeclared.write().insert(id.to_string());
        self.any_undeclared.store(true, Relaxed);
    }
}

/// Redis's `-BUSY` text while a script (or a function) is busy.
fn busy_text(function: bool) -> &'static str {
    if function {
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    } else {
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    }
}

/// One run, as SCRIPT KILL and FUNCTION STATS see it.
#[derive(Debug)]
struct Running {
    kill: Arc<AtomicBool>,
    wrote: AtomicBool,
    function: bool,
    /// FUNCTION STATS: name, command and arguments, start.
    name: String,
    args: Vec<Bytes>,
    started: std::time::Instant,
}

/// What one run may do, from its command and flags.
#[derive(Debug, Clone, Copy)]
struct Mode {
    read_only: bool,
    allow_oom: bool,
    /// In cluster mode, the keys it touches may be in several slots (`allow-cross-slot-keys`, or
    /// no shebang).
    cross_slot: bool,
}

fn numkeys(a: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), CmdError> {
    let n = arg_i64(&a[2])?;
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    if n as usize > a.len() - 3 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    Ok(a[3..].split_at(n as usize))
}

fn eval(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, true, true)
}

fn eval_generic(ctx: &mut Ctx<'_>, a: &[Bytes], by_sha: bool, ro: bool) -> CmdResult {
    let (keys, argv) = numkeys(a)?;
    let state = &ctx.shared.scripting;
    // EVAL of a cached body runs the cached script: its sha is computed once, its shebang not
    // parsed again.
    let (sha, cached) = if by_sha {
        let sha = std::str::from_utf8(&a[1]).unwrap_or("");
        let script = state.scripts.get(sha).ok_or_else(|| CmdError::from(scripting::NOSCRIPT))?;
        (script.sha.clone(), Some(script))
    } else {
        let sha = scripting::sha1hex(&a[1]);
        let script = state.scripts.get(&sha);
        (sha, script)
    };
    let (flags, script) = match &cached {
        Some(script) => (script.flags, ScriptRef::Cached(script)),
        None => (scripting::parse_shebang(&a[1]).map_err(CmdError::from)?.0, ScriptRef::Body(&a[1])),
    };
    let scripts = &ctx.shared.scripting.scripts;
    let mode = check_flags(ctx, flags, ro)?;
    run_atomically(ctx, &sha, false, a, keys, mode, |host, ctl, out| {
        scripting::run(scripts, script, keys, argv, host, ctl, out)
    })
}

fn fcall(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, a, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, a, true)
}

fn fcall_generic(ctx: &mut Ctx<'_>, a: &[Bytes], ro: bool) -> CmdResult {
    let name = String::from_utf8_lossy(&a[1]).into_owned();
    let functions = &ctx.shared.scripting.functions;
    // Redis looks the function up first, then reads numkeys with its own error text.
    let (_, info) = functions.get(&name).ok_or_else(|| CmdError::from("ERR Function not found"))?;
    if crate::frame::parse_i64(&a[2]).is_none() {
        return Err("ERR Bad number of keys provided".into());
    }
    let (keys, argv) = numkeys(a)?;
    if ro && !info.flags.no_writes {
        return Err("ERR Can not execute a script with write flag using *_ro command.".into());
    }
    let mode = check_flags(ctx, info.flags, ro)?;
    run_atomically(ctx, &name, true, a, keys, mode, |host, ctl, out| {
        scripting::run_function(functions, &name, keys, argv, host, ctl, out)
    })
}

/// Redis's checks of a script's flags before it runs.
fn check_flags(ctx: &Ctx<'_>, flags: ScriptFlags, ro: bool) -> Result<Mode, CmdError> {
    let read_only = ro || flags.no_writes;
    if flags.shebang && flags.no_cluster && ctx.shared.cluster.is_some() {
        return Err("ERR Can not run script on cluster, 'no-cluster' flag is set.".into());
    }
    if flags.shebang && !read_only && !flags.allow_oom && ctx.shared.db.would_oom(0) {
        return Err(super::OOM.into());
    }
    // A script without a shebang runs in compatibility mode: each write it makes is checked.
    let cross_slot = !flags.shebang || flags.allow_cross_slot_keys;
    Ok(Mode { read_only, allow_oom: flags.shebang && flags.allow_oom, cross_slot })
}

/// Runs a script (`id`: its sha, or the function's name) holding its declared keys, rerunning it
/// over the whole keyspace if it touched a busy undeclared key before writing (see the module
/// docs).
#[allow(clippy::too_many_arguments)]
fn run_atomically(
    ctx: &mut Ctx<'_>,
    id: &str,
    function: bool,
    a: &[Bytes],
    keys: &[Bytes],
    mode: Mode,
    mut body: impl FnMut(&mut dyn Host, &RunControl, &mut Reply) -> Result<(), String>,
) -> CmdResult {
    let state = &ctx.shared.scripting;
    let mut global = state.starts_global(id);
    loop {
        let db = ctx.client.db;
        let shared = ctx.shared;
        let mut out = Reply { resp3: ctx.out.resp3, ..Reply::default() };
        let running = Arc::new(Running {
            kill: Arc::new(AtomicBool::new(false)),
            wrote: AtomicBool::new(false),
            function,
            name: id.to_string(),
            // Only FUNCTION STATS shows them, for a running function.
            args: if function { a.to_vec() } else { Vec::new() },
            started: std::time::Instant::now(),
        });
        let threshold = state.busy_threshold.load(Relaxed);
        let nested = ctx.scope.is_some();
        let ctl = busy_control(shared, &running, threshold);
        let outcome = {
            let mut run = |scope: &mut dyn Held, client: &mut ClientState| {
                let mut host = ScriptHost {
                    shared,
                    client,
                    scope,
                    db,
                    mode,
                    running: &running,
                    escalate: None,
                    may_rerun: !global && !nested,
                    undo: Vec::new(),
                    slot: keys.first().map(|k| crate::cluster::slot::key_slot(k)),
                };
                let r = body(&mut host, &ctl, &mut out);
                if host.escalate == Some(Escalate::Rerun) {
                    host.roll_back();
                }
                (r, host.escalate)
            };
            match ctx.scope.as_deref_mut() {
                Some(scope) => {
                    let (r, _) = run(scope, ctx.client);
                    (r, None)
                }
                None => {
                    let mut scope = if global {
                        shared.db.lock_all()
                    } else {
                        shared.db.lock(keys.iter().map(|k| (db, k.as_ref())))
                    };
                    let outcome = run(&mut scope, ctx.client);
                    drop(scope);
                    outcome
                }
            }
        };
        finish(shared, &running);
        match outcome {
            (_, Some(Escalate::Rerun)) if ctx.scope.is_none() && !global => {
                state.learn_global(id);
                global = true;
            }
            (r, escalated) => {
                if escalated.is_some() {
                    state.learn_global(id);
                }
                r.map_err(CmdError::from)?;
                ctx.out.buf.extend_from_slice(&out.buf);
                return Ok(());
            }
        }
    }
}

/// The run's time limits: past the threshold it is registered as busy, and its worker hands its
/// other connections to a fresh thread.
fn busy_control(shared: &Shared, running: &Arc<Running>, threshold_ms: u64) -> RunControl {
    let busy_after = if threshold_ms == 0 { Duration::MAX } else { Duration::from_millis(threshold_ms) };
    let registry = shared.scripting.clone();
    let me = running.clone();
    RunControl {
        kill: running.kill.clone(),
        busy_after,
        on_busy: Some(Arc::new(move || {
            registry.running.lock().push(me.clone());
            registry.busy.fetch_add(1, Relaxed);
            tracing::warn!(script = %me.name, "script past busy-reply-threshold: other clients get -BUSY");
            hand_off_worker();
        })),
    }
}

/// Lets the tokio worker running a long script give its queue of other connections to a fresh
/// thread ([`tokio::task::block_in_place`]), pausing long enough for that thread to take over.
fn hand_off_worker() {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread) {
        tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(5)));
    }
}

fn finish(shared: &Shared, running: &Arc<Running>) {
    let state = &shared.scripting;
    let mut list = state.running.lock();
    if let Some(i) = list.iter().position(|r| Arc::ptr_eq(r, running)) {
        list.swap_remove(i);
        state.busy.fetch_sub(1, Relaxed);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escalate {
    /// Nothing written yet: rerun over the whole keyspace.
    Rerun,
    /// Written already: the call failed.
    Failed,
}

/// `redis.call` for one run: the dispatcher, within the run's held keys.
struct ScriptHost<'r> {
    shared: &'r Shared,
    client: &'r mut ClientState,
    scope: &'r mut dyn Held,
    /// The script's database (a SELECT inside the script changes it, not the client's).
    db: u32,
    mode: Mode,
    running: &'r Running,
    escalate: Option<Escalate>,
    may_rerun: bool,
    /// Each key's value before the run first wrote it, to restore if the run is abandoned.
    undo: Vec<(u32, Bytes, Option<Entry>)>,
    /// Cluster mode: the slot of the keys the script may touch (its first declared key's, else
    /// the first it touched).
    slot: Option<u16>,
}

impl ScriptHost<'_> {
    /// Holds every key `fp` names; `Err(key)` for one whose shard stays busy.
    fn hold(&mut self, fp: &Footprint) -> Result<(), String> {
        if fp.everything {
            return if self.scope.holds_all() || self.scope.try_extend_all() { Ok(()) } else { Err("*".into()) };
        }
        for (db, key) in &fp.keys {
            // A single-key command holds a shard for well under a microsecond: try a few times.
            let held = (0..64).any(|i| {
                if i > 0 {
                    std::thread::yield_now();
                }
                self.scope.try_extend(*db, key)
            });
            if !held {
                return Err(String::from_utf8_lossy(key).into_owned());
            }
        }
        Ok(())
    }

    /// Notes the values of the keys a write is about to change, the first time each is written.
    fn remember(&mut self, fp: &Footprint) {
        let now = self.shared.db.clock.now_ms();
        for (db, key) in &fp.keys {
            if !self.undo.iter().any(|(d, k, _)| d == db && k == key) {
                let before = self.scope.peek(*db, key, now);
                self.undo.push((*db, key.clone(), before));
            }
        }
    }

    /// Puts back every key the run wrote (still holding them: nobody saw the changes).
    fn roll_back(&mut self) {
        let now = self.shared.db.clock.now_ms();
        for (db, key, before) in self.undo.drain(..).rev() {
            self.scope.update_dyn(db, &key, now, &mut |cur| match &before {
                Some(e) => cur.put_keep_cas(e.clone()),
                None => {
                    cur.delete();
                }
            });
        }
    }

    fn check(&self, args: &[Bytes]) -> Result<(usize, &'static CommandSpec), String> {
        let reg = super::registry();
        let Ok((idx, spec)) = super::lookup(reg, args, usize::MAX) else {
            return Err("ERR Unknown Redis command called from script".into());
        };
        if !super::arity_ok(spec.arity, args.len()) {
            return Err("ERR Wrong number of args calling Redis command from script".into());
        }
        if spec.has("noscript") {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        let name = reg.entries[idx].0.as_str();
        if matches!(name, "xread" | "xreadgroup") && blocks(args) {
            return Err(format!("ERR {name} command is not allowed with BLOCK option from scripts"));
        }
        if spec.has("write") && self.mode.read_only {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
        // A failed BGSAVE refuses a script's writes too (`stop-writes-on-bgsave-error`).
        if spec.has("write") && self.shared.persistence.refuses_writes() {
            return Err(crate::persistence::save::MISCONF.into());
        }
        if spec.has("denyoom") && !self.mode.allow_oom && self.shared.db.would_oom(0) {
            return Err(super::OOM.into());
        }
        Ok((idx, spec))
    }
}

/// True if an XREAD / XREADGROUP names the BLOCK option (before STREAMS), which Redis refuses
/// from scripts where other blocking commands just do not block.
fn blocks(args: &[Bytes]) -> bool {
    let options = args.iter().take_while(|a| !super::is(a, "streams"));
    options.collect::<Vec<_>>().windows(2).any(|w| super::is(w[0], "block"))
}

impl Host for ScriptHost<'_> {
    fn call(&mut self, args: &[Bytes], resp3: bool) -> Bytes {
        let mut out = Reply { resp3, ..Reply::default() };
        if self.escalate.is_some() {
            out.error("ERR script run abandoned: it touched a key outside its declared keys");
            return out.buf.freeze();
        }
        let (idx, spec) = match self.check(args) {
            Ok(found) => found,
            Err(msg) => {
                out.error(&msg);
                return out.buf.freeze();
            }
        };
        let reg: &'static Registry = super::registry();
        let mut fp = Footprint::default();
        let mut db = self.db;
        fp.add(&reg.entries[idx].0, spec, args, &mut db);
        if let Err(key) = self.hold(&fp) {
            self.escalate = Some(if self.may_rerun { Escalate::Rerun } else { Escalate::Failed });
            out.error(&format!(
                "ERR script accessed undeclared key '{key}' held by another operation; declare every key in KEYS"
            ));
            return out.buf.freeze();
        }
        if let Some(cluster) = &self.shared.cluster {
            let (flags, name, db, now) =
                (self.client.cluster, reg.entries[idx].0.as_str(), self.db, self.shared.db.clock.now_ms());
            let scope = &mut *self.scope;
            let checked = crate::cluster::route::script_check(
                &cluster.table(),
                flags,
                (name, spec, args),
                &mut self.slot,
                self.mode.cross_slot,
                |key| scope.peek(db, key, now).is_some(),
            );
            if let Err(msg) = checked {
                out.error(msg);
                return out.buf.freeze();
            }
        }
        if spec.has("write") {
            self.running.wrote.store(true, Relaxed);
            if self.may_rerun {
                self.remember(&fp);
            }
        }
        let saved = std::mem::replace(&mut self.client.db, self.db);
        super::run(self.shared, self.client, &mut out, reg, idx, args, Some(&mut *self.scope));
        self.db = std::mem::replace(&mut self.client.db, saved);
        out.buf.freeze()
    }

    fn log(&mut self, level: LogLevel, msg: &str) {
        match level {
            LogLevel::Debug => tracing::debug!(target: "script", "{msg}"),
            LogLevel::Verbose => tracing::trace!(target: "script", "{msg}"),
            LogLevel::Notice => tracing::info!(target: "script", "{msg}"),
            _ => tracing::warn!(target: "script", "{msg}"),
        }
    }
}

fn script_load(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let sha = scripting::load_script(&ctx.shared.scripting.scripts, &a[2]).map_err(CmdError::from)?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let scripts = &ctx.shared.scripting.scripts;
    let found: Vec<bool> =
        a[2..].iter().map(|s| scripts.exists(&String::from_utf8_lossy(s).to_ascii_lowercase())).collect();
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(i64::from(f));
    }
    Ok(())
}

/// The `[ASYNC|SYNC]` of SCRIPT FLUSH / FUNCTION FLUSH (`error`: Redis's text for anything else).
fn flush_mode(a: &[Bytes], error: &'static str) -> CmdResult {
    match a.len() {
        2 => Ok(()),
        3 if is(&a[2], "async") || is(&a[2], "sync") => Ok(()),
        _ => Err(error.into()),
    }
}

fn script_flush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    flush_mode(a, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")?;
    ctx.shared.scripting.scripts.flush();
    ctx.shared.scripting.forget_learned();
    ctx.out.ok();
    Ok(())
}

fn kill(ctx: &mut Ctx<'_>, function: bool) -> CmdResult {
    let state = &ctx.shared.scripting;
    let list = state.running.lock();
    let Some(r) = list.first() else {
        return Err("NOTBUSY No scripts in execution right now.".into());
    };
    if r.function != function {
        // The other kind is running: Redis answers with the BUSY text that names the right KILL.
        return Err(busy_text(r.function).into());
    }
    if r.wrote.load(Relaxed) {
        return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into());
    }
    for r in list.iter() {
        r.kill.store(true, Relaxed);
    }
    ctx.out.ok();
    Ok(())
}

fn script_kill(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    kill(ctx, false)
}

fn function_kill(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    kill(ctx, true)
}

fn help(ctx: &mut Ctx<'_>, lines: &[&str]) -> CmdResult {
    ctx.out.simple_lines(lines);
    Ok(())
}

fn script_help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    help(
        ctx,
        &[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ],
    )
}

fn function_help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    help(
        ctx,
        &[
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "DELETE <LIBRARY NAME>",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "FLUSH [ASYNC|SYNC]",
            "DUMP",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "STATS",
            "KILL",
            "HELP",
        ],
    )
}

fn function_load(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (replace, code) = match a.len() {
        3 => (false, &a[2]),
        4 if is(&a[2], "replace") => (true, &a[3]),
        4 => return Err(format!("ERR Unknown option given: {}", String::from_utf8_lossy(&a[2])).into()),
        _ => return Err(SYNTAX.into()),
    };
    let name = ctx.shared.scripting.functions.load(code, replace).map_err(CmdError::from)?;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ctx.shared.scripting.functions.delete(&String::from_utf8_lossy(&a[2])).map_err(CmdError::from)?;
    ctx.out.ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    flush_mode(a, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")?;
    ctx.shared.scripting.functions.flush();
    ctx.shared.scripting.forget_learned();
    ctx.out.ok();
    Ok(())
}

fn function_list(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let (mut pattern, mut with_code) = (None, false);
    let mut i = 2;
    while i < a.len() {
        if is(&a[i], "withcode") && !with_code {
            with_code = true;
        } else if is(&a[i], "libraryname") && pattern.is_none() {
            let p = a.get(i + 1).ok_or_else(|| CmdError::from("ERR library name argument was not given"))?;
            pattern = Some(p.as_ref());
            i += 1;
        } else {
            return Err(format!("ERR Unknown argument {}", String::from_utf8_lossy(&a[i])).into());
        }
        i += 1;
    }
    ctx.shared.scripting.functions.list(pattern, with_code, ctx.out);
    Ok(())
}

fn function_dump(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let payload = ctx.shared.scripting.functions.dump();
    ctx.out.bulk(&payload);
    Ok(())
}

fn function_restore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let policy = match a.get(3) {
        None => RestorePolicy::Append,
        Some(p) if is(p, "append") => RestorePolicy::Append,
        Some(p) if is(p, "replace") => RestorePolicy::Replace,
        Some(p) if is(p, "flush") => RestorePolicy::Flush,
        Some(_) => {
            return Err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.".into());
        }
    };
    if a.len() > 4 {
        return Err(SYNTAX.into());
    }
    ctx.shared.scripting.functions.restore(&a[2], policy).map_err(CmdError::from)?;
    ctx.out.ok();
    Ok(())
}

fn function_stats(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let state = &ctx.shared.scripting;
    let list = state.running.lock();
    let running = list.iter().find(|r| r.function);
    let info = running.map(|r| (r.name.as_str(), &r.args[..], r.started.elapsed().as_millis() as u64));
    state.functions.stats(info, ctx.out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    /// XREAD and XREADGROUP refuse BLOCK from a script (other blocking commands just do not
    /// block there); without BLOCK they run.
    #[tokio::test]
    async fn stream_reads_refuse_block_from_scripts() {
        run_table(&[
            ("XADD s 1-1 f v", "$3\r\n1-1\r\n"),
            (
                "EVAL \"return redis.pcall('xread','BLOCK','100','streams','s','$')\" 0",
                "-ERR xread command is not allowed with BLOCK option from scripts\r\n",
            ),
            (
                "EVAL \"return redis.pcall('xreadgroup','group','g','c','block','0','streams','s','>')\" 0",
                "-ERR xreadgroup command is not allowed with BLOCK option from scripts\r\n",
            ),
            (
                "EVAL \"return redis.call('xread','count','1','streams','s','0')\" 0",
                "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
            ),
        ])
        .await;
    }
}
