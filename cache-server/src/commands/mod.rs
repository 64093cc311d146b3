//! The command table and dispatcher: name → arity, flags, handler (plus docs for COMMAND), and the
//! checks Redis makes before running a command, in Redis's order: unknown command, arity, auth,
//! OOM. It also keeps per-command statistics and feeds the SLOWLOG. Handlers live one family per
//! file beside this one; adding a command is a `CommandSpec` row plus a handler.
//!
//! Client-side caching touches the dispatcher in one place each way: a read-only command run by
//! a tracking client remembers its key arguments (from the row's key positions) *before* it runs,
//! so a concurrent write cannot slip between the read and the remembering; writes report their
//! keys from `db.rs` as they change them (RESP and Memcached alike), and the broadcast messages
//! batched during a command go out when it ends.

pub mod acl;
pub mod bitmaps;
pub mod cluster;
pub mod collection;
pub mod command;
pub mod connection;
pub mod debug;
pub mod dump;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod latency;
pub mod lcs;
pub mod lists;
pub mod migrate;
pub mod object;
pub mod persistence;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod tracking;
pub mod transactions;
pub mod zsets;

use crate::connection::ClientState;
use crate::db::{Current, Db, Entry, Held, Scope, Str, Value};
use crate::frame::parse_i64;
use crate::metrics::CommandStats;
use crate::reply::Reply;
use crate::server::Shared;
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::Ordering::Relaxed;

/// `-ERR syntax error`.
pub const SYNTAX: &str = "ERR syntax error";
/// Integer argument that does not parse.
pub const NOT_INT: &str = "ERR value is not an integer or out of range";
/// Float argument that does not parse.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// Type mismatch.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// Integer overflow on INCR and friends.
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// Budget exceeded with nothing left to evict (noeviction, or volatile-* without TTL keys).
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// An error reply (the text includes its code, e.g. `ERR ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        Self(Cow::Borrowed(s))
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        Self(Cow::Owned(s))
    }
}

/// What a handler returns: its reply is already in `ctx.out` on success.
pub type CmdResult = Result<(), CmdError>;

/// A command handler.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

/// One row of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lowercase name (subcommands: just the subcommand, e.g. `setname`).
    pub name: &'static str,
    /// Redis arity: exact count if positive, minimum count if negative (name included).
    pub arity: i32,
    /// Redis command flags (`write`, `readonly`, `denyoom`, `fast`, `admin`, `no-auth`, ...).
    pub flags: &'static [&'static str],
    /// First key, last key, key step (COMMAND INFO).
    pub keys: (i32, i32, i32),
    /// Redis command group for COMMAND DOCS, e.g. `string`.
    pub group: &'static str,
    /// One-line summary for COMMAND DOCS.
    pub summary: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// The handler (containers with subcommands never reach theirs).
    pub handler: Handler,
    /// Subcommands (CLIENT, CONFIG, COMMAND, ...).
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// True if the command carries `flag`.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// Handler for container commands: never called (dispatch goes to the subcommand).
pub fn container(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err("ERR unknown subcommand".into())
}

/// The flattened table with statistics.
#[derive(Debug)]
pub struct Registry {
    /// Every command and subcommand with its full name (`get`, `client|id`).
    pub entries: Vec<(String, &'static CommandSpec)>,
    /// Statistics, parallel to `entries`.
    pub stats: Vec<CommandStats>,
    by_name: HashMap<String, usize, ahash::RandomState>,
    /// Top-level commands in table order.
    pub top: Vec<&'static CommandSpec>,
    /// The flags the dispatcher checks on every request, as bits (parallel to `entries`).
    hot: Vec<u8>,
}

/// Bits of [`Registry`]'s per-command flags that the dispatcher reads on every request (the
/// string flags stay the table's truth; these are computed from them once).
mod hot {
    pub const DENYOOM: u8 = 1;
    pub const SKIP_SLOWLOG: u8 = 2;
    pub const READONLY: u8 = 4;
    pub const NO_AUTH: u8 = 8;
    pub const ALLOW_BUSY: u8 = 16;
    pub const NO_MULTI: u8 = 32;
    pub const WRITE: u8 = 64;
    pub const ALL: [(u8, &str); 7] = [
        (DENYOOM, "denyoom"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (READONLY, "readonly"),
        (NO_AUTH, "no-auth"),
        (ALLOW_BUSY, "allow_busy"),
        (NO_MULTI, "no_multi"),
        (WRITE, "write"),
    ];
}

/// The command table, built once.
pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let mut r = Registry {
            entries: Vec::new(),
            stats: Vec::new(),
            by_name: HashMap::default(),
            top: Vec::new(),
            hot: Vec::new(),
        };
        for family in [
            strings::COMMANDS,
            lcs::COMMANDS,
            keys::COMMANDS,
            hashes::COMMANDS,
            lists::COMMANDS,
            sets::COMMANDS,
            zsets::COMMANDS,
            geo::COMMANDS,
            streams::COMMANDS,
            streams::groups::COMMANDS,
            streams::info::COMMANDS,
            bitmaps::COMMANDS,
            hyperloglog::COMMANDS,
            dump::COMMANDS,
            object::COMMANDS,
            sort::COMMANDS,
            connection::COMMANDS,
            pubsub::COMMANDS,
            server::COMMANDS,
            persistence::COMMANDS,
            command::COMMANDS,
            acl::COMMANDS,
            latency::COMMANDS,
            debug::COMMANDS,
            transactions::COMMANDS,
            scripting::COMMANDS,
            migrate::COMMANDS,
            cluster::COMMANDS,
            cluster::keys::COMMANDS,
        ] {
            for spec in family {
                r.top.push(spec);
                r.by_name.insert(spec.name.to_string(), r.entries.len());
                r.entries.push((spec.name.to_string(), spec));
                for sub in spec.subcommands {
                    let full = format!("{}|{}", spec.name, sub.name);
                    r.by_name.insert(full.clone(), r.entries.len());
                    r.entries.push((full, sub));
                }
            }
        }
        r.stats = r.entries.iter().map(|_| CommandStats::default()).collect();
        r.hot = r
            .entries
            .iter()
            .map(|(_, spec)| hot::ALL.iter().filter(|(_, name)| spec.has(name)).fold(0, |bits, (bit, _)| bits | bit))
            .collect();
        r
    })
}

impl Registry {
    /// Index of a command by lowercase full name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
}

/// Everything a handler may use.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Server-wide state.
    pub shared: &'a Shared,
    /// This connection's state.
    pub client: &'a mut ClientState,
    /// Where replies go.
    pub out: &'a mut Reply,
    /// Command time, unix milliseconds (one snapshot per command, like Redis).
    pub now: u64,
    /// The full name of the running command (`set`, `client|kill`), for error texts.
    pub name: &'a str,
    /// The keys held by the atomic operation this command runs in (EXEC, a script), if any:
    /// every keyspace access below goes through it (see [`crate::db::Scope`]).
    pub scope: Option<&'a mut dyn Held>,
    /// What a blocking command does when nothing can serve it (see [`crate::blocking`]).
    pub block: crate::blocking::BlockMode,
}

impl Ctx<'_> {
    /// The keyspaces.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// The selected database.
    pub fn dbi(&self) -> u32 {
        self.client.db
    }

    /// Reads a key (counts a hit or miss).
    #[inline]
    pub fn get(&mut self, key: &[u8]) -> Option<Entry> {
        match self.scope.as_deref_mut() {
            None => self.shared.db.get(self.client.db, key, self.now),
            Some(s) => s.get(self.client.db, key, self.now),
        }
    }

    /// Reads a key without counting a hit or miss.
    pub fn peek(&mut self, key: &[u8]) -> Option<Entry> {
        match self.scope.as_deref_mut() {
            None => self.shared.db.peek(self.client.db, key, self.now),
            Some(s) => s.peek(self.client.db, key, self.now),
        }
    }

    /// Atomic read-modify-write of one key of the selected database ([`Db::update`]).
    #[inline]
    pub fn update<R>(&mut self, key: &[u8], f: impl FnOnce(&mut Current<'_, '_>) -> R) -> R {
        self.update_in(self.client.db, key, f)
    }

    /// [`Ctx::update`] in database `db`.
    #[inline]
    pub fn update_in<R>(&mut self, db: u32, key: &[u8], f: impl FnOnce(&mut Current<'_, '_>) -> R) -> R {
        match self.scope.as_deref_mut() {
            None => self.shared.db.update(db, key, self.now, f),
            Some(s) => {
                let (mut f, mut r) = (Some(f), None);
                s.update_dyn(db, key, self.now, &mut |cur| r = f.take().map(|f| f(cur)));
                r.expect("update_dyn runs its closure once")
            }
        }
    }

    /// Runs `f` with `keys` (of the selected database) held, so that nothing interleaves with
    /// it (see [`crate::db::Scope`]); inside a transaction or script, whose keys are held
    /// already, it just runs `f`.
    pub fn atomically<'k, R>(
        &mut self,
        keys: impl IntoIterator<Item = &'k Bytes>,
        f: impl FnOnce(&mut Ctx<'_>) -> R,
    ) -> R {
        let db = self.client.db;
        self.atomically_at(keys.into_iter().map(|k| (db, k)), f)
    }

    /// [`Ctx::atomically`] for keys of any database.
    pub fn atomically_at<'k, R>(
        &mut self,
        keys: impl IntoIterator<Item = (u32, &'k Bytes)>,
        f: impl FnOnce(&mut Ctx<'_>) -> R,
    ) -> R {
        self.holding(|db| db.lock(keys.into_iter().map(|(db, k)| (db, k.as_ref()))), f)
    }

    /// Runs `f` holding the whole keyspace (inside a transaction or script, which then holds it
    /// already: see `transactions::WHOLE_KEYSPACE`).
    pub fn everything<R>(&mut self, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        self.holding(Db::lock_all, f)
    }

    /// Runs `f` in the scope `lock` takes, or in the one this command already runs in.
    fn holding<R>(&mut self, lock: impl FnOnce(&Db) -> Scope<'_>, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        if self.scope.is_some() {
            return f(self);
        }
        let mut scope = lock(&self.shared.db);
        let mut sub = Ctx {
            shared: self.shared,
            client: &mut *self.client,
            out: &mut *self.out,
            now: self.now,
            name: self.name,
            scope: Some(&mut scope),
            block: std::mem::take(&mut self.block),
        };
        let r = f(&mut sub);
        self.block = sub.block;
        r
    }

    /// The live keys of database `db` with their entries; the whole keyspace must be held
    /// ([`Ctx::everything`]).
    pub fn held_entries(&mut self, db: u32) -> Vec<(Bytes, Entry)> {
        let now = self.now;
        self.scope.as_deref().map(|s| s.entries(db, now)).unwrap_or_default()
    }

    /// [`Ctx::peek`] in database `db`.
    pub fn peek_in(&mut self, db: u32, key: &[u8]) -> Option<Entry> {
        match self.scope.as_deref_mut() {
            None => self.shared.db.peek(db, key, self.now),
            Some(s) => s.peek(db, key, self.now),
        }
    }

    /// Stores `e` at `key`.
    pub fn set(&mut self, key: &[u8], e: Entry) {
        self.update(key, |c| c.put(e));
    }

    /// Deletes `key`; true if a live one existed.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        self.update(key, |c| c.delete())
    }

    /// Keys in the selected database.
    pub fn dbsize(&mut self) -> u64 {
        match self.scope.as_deref() {
            None => {
                let all = self.shared.db.len() as usize;
                let (db, dbi) = (&self.shared.db, self.client.db);
                offload(all, || db.dbsize(dbi))
            }
            Some(s) => s.dbsize(self.client.db),
        }
    }

    /// Empties the selected database (`all`: every database).
    pub fn flush(&mut self, all: bool) {
        let db = (!all).then_some(self.client.db);
        match self.scope.as_deref_mut() {
            None => {
                let keys = self.shared.db.len() as usize;
                let shared = self.shared;
                offload(keys, || shared.db.flush(db));
            }
            Some(s) => s.flush(db),
        }
    }

    /// One SCAN step over the selected database.
    pub fn scan(&mut self, cursor: u64, count: usize) -> (u64, Vec<(Bytes, Entry)>) {
        let (db, now) = (self.client.db, self.now);
        match self.scope.as_deref() {
            None => {
                let shared = self.shared;
                offload(count, || shared.db.scan(db, cursor, count, now))
            }
            Some(s) => s.scan(db, cursor, count, now),
        }
    }

    /// The live keys of the selected database that `keep` accepts.
    pub fn keys_where(&mut self, keep: impl Fn(&[u8]) -> bool) -> Vec<Bytes> {
        let (db, now) = (self.client.db, self.now);
        match self.scope.as_deref() {
            None => {
                let shared = self.shared;
                offload(shared.db.len() as usize, || {
                    shared.db.entries(db, now).map(|(k, _)| k).filter(|k| keep(k)).collect()
                })
            }
            Some(s) => s.entries(db, now).into_iter().map(|(k, _)| k).filter(|k| keep(k)).collect(),
        }
    }

    /// Reads a string key: `Ok(None)` if absent, WRONGTYPE if not a string.
    pub fn get_str(&mut self, key: &[u8]) -> Result<Option<Str>, CmdError> {
        match self.get(key) {
            None => Ok(None),
            Some(Entry { value: Value::Str(s), .. }) => Ok(Some(s)),
            Some(_) => Err(WRONGTYPE.into()),
        }
    }
}

/// Work of at least this many elements (keys visited, fields replied, arguments) is long: it runs
/// off the async worker (see [`offload`]). About a millisecond of work; handing the worker over
/// costs a few microseconds.
pub const LONG_WORK: usize = 16 * 1024;

impl Ctx<'_> {
    /// Runs `f`, a step that visits about `elements` elements, so that a long one cannot stall
    /// other clients (see [`offload`]).
    #[inline]
    pub fn long<R>(&mut self, elements: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        offload(elements, || f(self))
    }
}

/// Runs `f`, which visits about `elements` elements. Long work (`elements >= LONG_WORK`) on the
/// multi-threaded runtime runs under [`tokio::task::block_in_place`]: the worker hands its queue
/// of other connections (and the accept loop's wake-ups) to a fresh thread before `f` starts, so
/// a `KEYS *` over millions of keys delays its caller only. Short work runs in place, paying
/// nothing; so does everything on a current-thread runtime (unit tests), where there is no other
/// worker to hand over to.
#[inline]
pub fn offload<R>(elements: usize, f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi = || Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if elements >= LONG_WORK && multi() { tokio::task::block_in_place(f) } else { f() }
}

/// Parses an integer argument (`-ERR value is not an integer or out of range`).
pub fn arg_i64(a: &[u8]) -> Result<i64, CmdError> {
    parse_i64(a).ok_or_else(|| NOT_INT.into())
}

/// Parses a float argument like Redis's `strtold`-based checks (no spaces, no NaN).
pub fn parse_f64(a: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(a).ok()?;
    if s.is_empty() || s.len() > 5000 || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = s.parse().ok().or_else(|| parse_hex_f64(s))?;
    if v.is_nan() { None } else { Some(v) }
}

/// C99 hexadecimal floats as `strtold` reads them: `[+-]0x<hex>[.<hex>][p[+-]<dec>]`.
fn parse_hex_f64(s: &str) -> Option<f64> {
    let (neg, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    let (digits, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    // Up to 15 significant hex digits are exact in the u64 mantissa; later ones only scale it.
    let (mut mantissa, mut scale, mut significant) = (0u64, exp, 0);
    for (i, c) in int.chars().chain(frac.chars()).enumerate() {
        let d = u64::from(c.to_digit(16)?);
        if significant < 15 {
            mantissa = mantissa * 16 + d;
            significant += u32::from(mantissa != 0);
            scale -= if i >= int.len() { 4 } else { 0 };
        } else if i < int.len() {
            scale += 4;
        }
    }
    let v = mantissa as f64 * 2f64.powi(scale);
    Some(if neg { -v } else { v })
}

/// True if `a` equals `lit` ignoring ASCII case.
pub fn is(a: &[u8], lit: &str) -> bool {
    a.eq_ignore_ascii_case(lit.as_bytes())
}

fn lower(name: &[u8]) -> String {
    String::from_utf8_lossy(name).to_ascii_lowercase()
}

/// `name` lowercased into `buf` without allocating, when it is short ASCII (every command name is).
fn lower_ascii<'a>(name: &[u8], buf: &'a mut [u8; 32]) -> Option<&'a str> {
    let out = buf.get_mut(..name.len())?;
    for (o, c) in out.iter_mut().zip(name) {
        *o = c.to_ascii_lowercase();
    }
    std::str::from_utf8(out).ok()
}

/// Formats Redis's unknown-command error.
fn unknown_command(args: &[Bytes]) -> String {
    let mut rest = String::new();
    for a in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let s = String::from_utf8_lossy(a);
        let take: String = s.chars().take(128 - rest.len().min(128)).collect();
        rest.push_str(&format!("'{take}' "));
    }
    let name: String = String::from_utf8_lossy(&args[0]).chars().take(128).collect();
    format!("ERR unknown command '{name}', with args beginning with: {rest}")
}

fn arity_ok(arity: i32, n: usize) -> bool {
    if arity >= 0 { n == arity as usize } else { n >= (-arity) as usize }
}

/// Runs one request: lookup, checks, queueing in MULTI, handler, statistics. Never fails: errors
/// become replies.
pub fn execute(shared: &Shared, client: &mut ClientState, out: &mut Reply, args: &[Bytes]) {
    let reg = registry();
    let (idx, spec) = match lookup(reg, args, client.last_cmd) {
        Ok(found) => found,
        Err(Some(msg)) => {
            client.tx.fail();
            shared.metrics.error(&msg);
            out.error(&msg);
            return;
        }
        Err(None) => {
            tracing::warn!(client = %client.handle.addr, "possible cross-protocol (HTTP) attack; closing the connection");
            client.close = true;
            client.discard = true;
            return;
        }
    };
    let full = reg.entries[idx].0.as_str();
    let stats = &reg.stats[idx];
    let reject = |msg: &str, client: &mut ClientState, out: &mut Reply| {
        stats.rejected.fetch_add(1, Relaxed);
        // A refused command ends ASKING too (outside MULTI), as Redis's resetClient does.
        if !client.tx.in_multi() {
            client.cluster &= !crate::cluster::route::ASKING;
        }
        // A refused EXEC discards its transaction (Redis's execCommandAbort), in MULTI or not.
        let abort;
        let msg = if full == "exec" {
            client.tx.reset();
            abort = format!("EXECABORT Transaction discarded because of: {}", msg.strip_prefix("ERR ").unwrap_or(msg));
            abort.as_str()
        } else {
            client.tx.fail();
            msg
        };
        shared.metrics.error(msg);
        out.error(msg);
    };
    if !arity_ok(spec.arity, args.len()) {
        reject(&format!("ERR wrong number of arguments for '{full}' command"), client, out);
        return;
    }
    let bits = reg.hot[idx];
    if client.needs_auth(shared) && bits & hot::NO_AUTH == 0 {
        reject("NOAUTH Authentication required.", client, out);
        return;
    }
    if let Some(cluster) = &shared.cluster
        && let Err(redirect) = crate::cluster::route::check(shared, &cluster.table(), client, reg, idx, args)
    {
        // Like Redis: a redirected EXEC discards its transaction (no EXECABORT); a redirected
        // command in MULTI makes EXEC fail.
        if full == "exec" {
            client.tx.reset();
        } else {
            client.tx.fail();
        }
        stats.rejected.fetch_add(1, Relaxed);
        let msg = redirect.message();
        shared.metrics.error(&msg);
        out.error(&msg);
        return;
    }
    if shared.scripting.is_busy() && bits & hot::ALLOW_BUSY == 0 {
        reject(shared.scripting.busy_error(), client, out);
        return;
    }
    let in_multi = client.tx.in_multi();
    let queues = in_multi && !transactions::RUN_IN_MULTI.contains(&full);
    // In MULTI every queued command is refused when memory is full (the queue itself takes memory).
    if bits & hot::DENYOOM != 0 || queues {
        let extra: u64 = args.iter().map(|a| a.len() as u64).sum();
        if shared.db.would_oom(extra) {
            reject(OOM, client, out);
            return;
        }
    }
    // A failed BGSAVE with `stop-writes-on-bgsave-error` refuses writes (and PING), as Redis's.
    if shared.persistence.refuses_writes() && misconf_refuses(reg, client, full, bits) {
        reject(crate::persistence::save::MISCONF, client, out);
        return;
    }
    if client.subscriptions > 0 && !out.resp3 && !SUBSCRIBE_MODE.contains(&full) {
        let msg = format!(
            "Can't execute '{full}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        );
        reject(&format!("ERR {msg}"), client, out);
        return;
    }
    if shared.pause.maybe_on() && paused(shared, client, reg, idx, spec) {
        return;
    }
    if queues {
        if bits & hot::NO_MULTI != 0 {
            reject("ERR Command not allowed inside a transaction", client, out);
        } else if client.tx.queue(idx, args, shared.config.read().client_query_buffer_limit) {
            // CLIENT LIST's `cmd=` names a queued command too, as in Redis.
            client.last_cmd = idx;
            out.simple("QUEUED");
        } else {
            tracing::warn!(client = %client.handle.addr, "MULTI queue over client-query-buffer-limit; closing the connection");
            client.tx.reset();
            client.close = true;
        }
        return;
    }
    run(shared, client, out, reg, idx, args, None);
}

/// Whether `-MISCONF` refuses this command: a write, an EXEC of a transaction with one, or PING
/// (Redis's `writeCommandsDeniedByDiskError` check).
#[cold]
fn misconf_refuses(reg: &Registry, client: &ClientState, full: &str, bits: u8) -> bool {
    bits & hot::WRITE != 0
        || full == "ping"
        || (full == "exec" && client.tx.queued_any(|i| reg.entries[i].1.has("write")))
}

/// CLIENT PAUSE holds this command (Redis checks it after the other refusals, before MULTI
/// queueing): the connection task waits for the pause to end and runs it then.
#[cold]
fn paused(shared: &Shared, client: &mut ClientState, reg: &Registry, idx: usize, spec: &CommandSpec) -> bool {
    let full = reg.entries[idx].0.as_str();
    let exec_writes = full == "exec"
        && client.tx.queued_any(|i| {
            let (name, s) = (&reg.entries[i].0, reg.entries[i].1);
            s.has("write") || crate::pause::MAY_REPLICATE.contains(&name.as_str())
        });
    let held = full != "quit" && shared.pause.holds(full, spec.has("write"), exec_writes);
    if held {
        client.hooks |= crate::connection::hook::POSTPONED;
        // CLIENT LIST names the held command (`cmd=`), as Redis does.
        client.last_cmd = idx;
    }
    held
}

/// Finds the table row of a request: `Err(Some(reply))` for an unknown command or subcommand,
/// `Err(None)` for an HTTP request line (the connection is closed). `last` is the row of the
/// connection's previous command: a pipeline mostly repeats one command, and comparing its name
/// costs a few instructions where hashing it costs dozens.
#[inline(always)]
fn lookup(
    reg: &'static Registry,
    args: &[Bytes],
    last: usize,
) -> Result<(usize, &'static CommandSpec), Option<String>> {
    if let Some((name, spec)) = reg.entries.get(last)
        && spec.subcommands.is_empty()
        && args[0].eq_ignore_ascii_case(name.as_bytes())
    {
        return Ok((last, spec));
    }
    let mut name_buf = [0u8; 32];
    let long_name;
    let name = match lower_ascii(&args[0], &mut name_buf) {
        Some(n) => n,
        None => {
            long_name = lower(&args[0]);
            long_name.as_str()
        }
    };
    let Some(idx) = reg.find(name) else {
        if name == "post" || name == "host:" {
            return Err(None);
        }
        return Err(Some(unknown_command(args)));
    };
    let spec = reg.entries[idx].1;
    if spec.subcommands.is_empty() || args.len() < 2 {
        return Ok((idx, spec));
    }
    let sub = lower(&args[1]);
    match reg.find(&format!("{name}|{sub}")) {
        Some(i) => Ok((i, reg.entries[i].1)),
        None => {
            let sub_shown: String = String::from_utf8_lossy(&args[1]).chars().take(128).collect();
            Err(Some(format!("ERR unknown subcommand '{sub_shown}'. Try {} HELP.", name.to_ascii_uppercase())))
        }
    }
}

/// Runs a command that passed the checks (now, or when EXEC runs its queue with the
/// transaction's `scope`): tracking, handler, OOM refusal, statistics, SLOWLOG.
#[inline(always)]
pub(crate) fn run(
    shared: &Shared,
    client: &mut ClientState,
    out: &mut Reply,
    reg: &'static Registry,
    idx: usize,
    args: &[Bytes],
    scope: Option<&mut dyn Held>,
) {
    let (full, spec) = (reg.entries[idx].0.as_str(), reg.entries[idx].1);
    let stats = &reg.stats[idx];
    if let Some(mode) = &client.tracking
        && reg.hot[idx] & hot::READONLY != 0
        && !mode.bcast
        && (!mode.optin || client.caching)
        && (!mode.optout || !client.caching)
    {
        let max_keys = shared.config.read().tracking_table_max_keys as usize;
        match movable_keys(full, args) {
            None => shared.db.tracking.remember(client.handle.id, key_args(spec, args), max_keys),
            Some(keys) => shared.db.tracking.remember(client.handle.id, keys.unwrap_or_default().into_iter(), max_keys),
        }
    }
    // One clock read serves the command's time and its duration.
    let start = tokio::time::Instant::now();
    let now = shared.db.clock.ms_at(start);
    // A command run inside EXEC or a script belongs to the same client as the outer one, which
    // ends the client's turn (and flushes broadcasts) itself.
    let nested = scope.is_some();
    crate::tracking::set_current_client(client.handle.id);
    let mark = out.buf.len();
    let monitor = crate::monitor::feed_start(shared, client, spec, args);
    crate::db::take_refused();
    let result = {
        // Re-wrapped so that the trait object's lifetime shortens to the context's.
        let scope = scope.map(|s| s as &mut dyn Held);
        let block = if nested { crate::blocking::BlockMode::Never } else { crate::blocking::BlockMode::Allowed };
        let mut ctx = Ctx { shared, client, out, now, name: full, scope, block };
        // Many arguments (MGET, DEL, HSET of 100k) are long work whatever the command.
        ctx.long(args.len(), |ctx| (spec.handler)(ctx, args))
    };
    // A write the core refused (volatile-*: no key left to evict) stored nothing: the command
    // replies -OOM instead of whatever the handler wrote.
    let result = if crate::db::take_refused() {
        out.buf.truncate(mark);
        Err(CmdError::from(OOM))
    } else {
        result
    };
    // Like Redis, a RESP3 subscriber receives the messages its own command published (PUBLISH,
    // keyspace notifications) before that command's reply.
    if !nested && out.resp3 && client.subscriptions > 0 && client.mailbox.has_pending() {
        let reply = out.buf.split_off(mark);
        crate::connection::deliver(client, out);
        out.buf.unsplit(reply);
    }
    if !nested {
        crate::tracking::set_current_client(0);
        shared.db.tracking.flush_broadcast();
        if let Some(b) = &mut client.blocked
            && b.command.is_none()
        {
            b.command = Some((idx, args.to_vec()));
        }
        if crate::blocking::anyone_parked() {
            let ready = crate::blocking::take_ready();
            if !ready.is_empty() {
                shared.blocked.serve(ready, &mut |w, key| serve_parked(shared, w, key));
            }
        }
    }
    // Like Redis, CLIENT CACHING applies to the next command that is not itself a CLIENT one.
    if !full.starts_with("client|") {
        client.caching = false;
    }
    let took = start.elapsed();
    let micros = took.as_secs() * 1_000_000 + u64::from(took.subsec_micros());
    stats.record(micros);
    shared.metrics.commands.fetch_add(1, Relaxed);
    if let Err(CmdError(msg)) = result {
        stats.failed.fetch_add(1, Relaxed);
        shared.metrics.error(&msg);
        out.error(&msg);
    }
    if let Some(feed) = monitor {
        feed.finish(shared, client, args);
    }
    client.last_cmd = idx;
    if reg.hot[idx] & hot::SKIP_SLOWLOG == 0 {
        shared.maybe_slowlog(client, args, micros);
        shared.metrics.latency.command(micros, now / 1000, || spec.flags.contains(&"fast"));
    }
}

/// Re-runs a parked client's blocking command because `key` became ready (see
/// [`crate::blocking`]): its reply in the client's protocol, or `None` if it found nothing (or the
/// key now holds another type, which leaves a Redis 7.0 client blocked too).
pub(crate) fn serve_parked(shared: &Shared, w: &crate::blocking::Waiter, key: &Bytes) -> Option<Vec<u8>> {
    use crate::blocking::BlockMode;
    let (idx, args) = w.request.command.as_ref()?;
    let reg = registry();
    let (full, spec) = (reg.entries[*idx].0.as_str(), reg.entries[*idx].1);
    let mut client = ClientState::new(shared, w.handle.clone());
    client.db = w.request.db;
    let mut out = Reply { resp3: w.resp3, ..Reply::default() };
    crate::tracking::set_current_client(w.handle.id);
    let start = tokio::time::Instant::now();
    let now = shared.db.clock.ms_at(start);
    let block = BlockMode::Serving { key: key.clone(), still_blocked: false };
    let mut ctx = Ctx { shared, client: &mut client, out: &mut out, now, name: full, scope: None, block };
    let result = (spec.handler)(&mut ctx, args);
    let served = !matches!(ctx.block, BlockMode::Serving { still_blocked: true, .. });
    crate::tracking::set_current_client(0);
    shared.db.tracking.flush_broadcast();
    let stats = &reg.stats[*idx];
    stats.record(start.elapsed().as_micros() as u64);
    (served && result.is_ok()).then(|| out.buf.to_vec())
}

/// Commands a RESP2 client may run while subscribed (Redis's list).
const SUBSCRIBE_MODE: &[&str] =
    &["ping", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "quit", "reset"];

/// The key arguments of a command, from its row's (first, last, step) positions.
pub(crate) fn key_args<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> impl Iterator<Item = &'a Bytes> {
    let (first, last, step) = spec.keys;
    let last = if last < 0 { args.len() as i32 + last } else { last };
    let last = if first > 0 && step > 0 { last.min(args.len() as i32 - 1) } else { first - 1 };
    (first..=last).step_by(step.max(1) as usize).map(move |i| &args[i as usize])
}

/// The keys of a command whose table row cannot name them (Redis's `movablekeys` commands):
/// `None` for every other command (use [`key_args`]); `Some(None)` when it may touch keys it
/// cannot name before running (SORT with BY or GET patterns: the whole keyspace).
pub(crate) fn movable_keys<'a>(name: &str, args: &'a [Bytes]) -> Option<Option<Vec<&'a Bytes>>> {
    let counted = |at: usize| -> Vec<&'a Bytes> {
        let n = args.get(at).and_then(|a| parse_i64(a)).and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
        args.iter().skip(at + 1).take(n).collect()
    };
    Some(Some(match name {
        "sintercard" | "zinter" | "zunion" | "zdiff" | "zintercard" | "lmpop" | "zmpop" => counted(1),
        "blmpop" | "bzmpop" => counted(2),
        "xread" | "xreadgroup" => streams::read_keys(args),
        "zunionstore" | "zinterstore" | "zdiffstore" => {
            let mut keys = counted(2);
            keys.extend(args.get(1));
            keys
        }
        "georadius" | "georadiusbymember" => {
            let opts = args.get(if name == "georadius" { 6.. } else { 5.. }).unwrap_or_default();
            let store = opts.windows(2).filter(|w| is(&w[0], "store") || is(&w[0], "storedist")).map(|w| &w[1]);
            args.get(1).into_iter().chain(store).collect()
        }
        "sort" | "sort_ro" => {
            let opts = args.get(2..).unwrap_or_default();
            if opts.iter().any(|a| is(a, "by") || is(a, "get")) {
                return Some(None);
            }
            let store = opts.iter().position(|a| is(a, "store")).and_then(|i| opts.get(i + 1));
            args.get(1).into_iter().chain(store).collect()
        }
        _ => return None,
    }))
}

/// Builds the row of a container command (CLIENT, CONFIG, OBJECT, …): dispatch goes to its
/// `subs` by the second argument.
pub const fn container_row(
    name: &'static str,
    group: &'static str,
    summary: &'static str,
    since: &'static str,
    subs: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec { subcommands: subs, ..spec(name, -2, &[], (0, 0, 0), group, summary, since, container) }
}

/// Builds a table row without subcommands.
#[allow(clippy::too_many_arguments)]
pub const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    group: &'static str,
    summary: &'static str,
    since: &'static str,
    handler: Handler,
) -> CommandSpec {
    CommandSpec { name, arity, flags, keys, group, summary, since, handler, subcommands: &[] }
}

/// The absolute expire time (unix ms) for an EX/PX/EXAT/PXAT argument, with Redis's checks.
pub fn expire_at(ctx: &Ctx<'_>, unit: &str, arg: &[u8]) -> Result<u64, CmdError> {
    let v = arg_i64(arg)?;
    let bad = || CmdError::from(format!("ERR invalid expire time in '{}' command", ctx.name));
    let seconds = unit == "ex" || unit == "exat";
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(bad());
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if unit == "ex" || unit == "px" {
        ms = ms.checked_add(ctx.now as i64).ok_or_else(bad)?;
    }
    Ok(ms as u64)
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    #[test]
    fn movable_keys_of_the_numkeys_forms_stores_and_sort() {
        let args = |s: &str| s.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect::<Vec<_>>();
        let keys = |s: &str| {
            let a = args(s);
            let name = s.split(' ').next().unwrap().to_owned();
            super::movable_keys(&name, &a).map(|k| k.map(|k| k.into_iter().cloned().collect::<Vec<_>>()))
        };
        assert_eq!(keys("zunionstore d 2 a b WEIGHTS 1 2"), Some(Some(args("a b d"))));
        assert_eq!(keys("zinter 1 a"), Some(Some(args("a"))));
        assert_eq!(keys("bzmpop 0 2 a b MIN"), Some(Some(args("a b"))));
        assert_eq!(keys("blmpop 0 1 l LEFT"), Some(Some(args("l"))));
        assert_eq!(keys("zmpop 9 a MIN"), Some(Some(args("a MIN"))));
        assert_eq!(keys("sintercard x a"), Some(Some(vec![])));
        assert_eq!(keys("sort s LIMIT 0 1 STORE d"), Some(Some(args("s d"))));
        assert_eq!(keys("sort s BY w_*"), Some(None));
        assert_eq!(keys("xread COUNT 2 BLOCK 0 STREAMS a b 0 $"), Some(Some(args("a b"))));
        assert_eq!(keys("xread STREAMS a b 0"), Some(Some(vec![])));
        assert_eq!(keys("zadd z 1 a"), None);
    }
}
