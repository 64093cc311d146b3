//! MULTI / EXEC / DISCARD / WATCH / UNWATCH, with Redis 7.0's semantics on a multi-threaded
//! server.
//!
//! While a client is in MULTI, the dispatcher queues its commands (after the checks Redis makes
//! at queueing time: unknown command, arity, auth, OOM, `no-multi`), answering `+QUEUED`; a
//! refused command marks the transaction, and EXEC then answers `-EXECABORT`.
//!
//! EXEC runs the queue as one atomic operation: it works out every key the queued commands touch
//! (following SELECTs, and adding the WATCHed keys), holds their shards through one
//! [`Scope`](crate::db::Scope) — or the whole keyspace if a command cannot name its keys (KEYS,
//! FLUSHDB, …) — checks the watches under those locks, runs the commands, and only then lets go.
//! No other client's command interleaves, as in Redis; transactions on disjoint shards run in
//! parallel.
//!
//! WATCH: every write marks the clients watching the key while it still holds the key's shard
//! ([`Watches`]), so a write that completes before EXEC takes its locks is always seen. Evictions
//! and expirations are reported by the core after the fact; EXEC covers them by checking, under
//! its locks, that each watched key that existed at WATCH time still does.

use super::{CmdResult, CommandSpec, Ctx, spec};
use crate::db::{Dirty, Watches};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

const G: &str = "transactions";

/// The transaction commands.
pub static COMMANDS: &[CommandSpec] = &[
    spec("multi", 1, TF, (0, 0, 0), G, "Starts a transaction.", "1.2.0", multi),
    spec(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        (0, 0, 0),
        G,
        "Executes all commands in a transaction.",
        "1.2.0",
        exec,
    ),
    spec("discard", 1, TF, (0, 0, 0), G, "Discards a transaction.", "2.0.0", discard),
    spec(
        "watch",
        -2,
        TF,
        (1, -1, 1),
        G,
        "Monitors changes to keys to determine the execution of a transaction.",
        "2.2.0",
        watch,
    ),
    spec("unwatch", 1, TF, (0, 0, 0), G, "Forgets about watched keys of a transaction.", "2.2.0", unwatch),
];

const TF: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];

/// Commands a client in MULTI runs at once instead of queueing (Redis's list).
pub const RUN_IN_MULTI: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// Commands that read or write keys they cannot name: a transaction or script running one holds
/// the whole keyspace.
pub const WHOLE_KEYSPACE: &[&str] = &["keys", "scan", "randomkey", "dbsize", "flushdb", "flushall", "swapdb", "info"];

/// Commands whose keys follow a `numkeys` argument (`EVAL script numkeys key ...`).
const SCRIPT_CALLS: &[&str] = &["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"];

/// A connection's transaction state: the queue while in MULTI, and the watched keys.
#[derive(Debug, Default)]
pub struct TxState {
    queue: Option<Queue>,
    /// `(db, key, existed at WATCH time)`.
    watched: Vec<(u32, Bytes, bool)>,
    dirty: Dirty,
    watches: Option<Arc<Watches>>,
}

#[derive(Debug, Default)]
struct Queue {
    /// Registry index and arguments of each queued command.
    commands: Vec<(usize, Vec<Bytes>)>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    failed: bool,
    /// Argument bytes queued (bounded by `client-query-buffer-limit`).
    bytes: usize,
}

impl TxState {
    /// True between MULTI and EXEC/DISCARD.
    pub fn in_multi(&self) -> bool {
        self.queue.is_some()
    }

    /// For CLIENT LIST: the queued commands and their bytes (`None` outside MULTI), and whether
    /// a watched key changed.
    pub fn summary(&self) -> (Option<(usize, usize)>, bool) {
        (self.queue.as_ref().map(|q| (q.commands.len(), q.bytes)), self.dirty.load(Relaxed))
    }

    /// True if a queued command passes `pred` (CLIENT PAUSE WRITE holds an EXEC with a write).
    pub fn queued_any(&self, pred: impl Fn(usize) -> bool) -> bool {
        self.queue.as_ref().is_some_and(|q| q.commands.iter().any(|(i, _)| pred(*i)))
    }

    /// The queued commands (registry index, arguments): the cluster's redirect check of EXEC.
    pub fn queued(&self) -> impl Iterator<Item = (usize, &[Bytes])> {
        self.queue.iter().flat_map(|q| q.commands.iter().map(|(i, a)| (*i, a.as_slice())))
    }

    /// Marks the transaction failed (a command was refused while queueing).
    pub fn fail(&mut self) {
        if let Some(q) = &mut self.queue {
            q.failed = true;
        }
    }

    /// Queues a command; false if the queue would pass `limit` bytes (the client is then closed,
    /// as for an oversized query buffer).
    pub fn queue(&mut self, idx: usize, args: &[Bytes], limit: u64) -> bool {
        let q = self.queue.get_or_insert_with(Queue::default);
        q.bytes += args.iter().map(|a| a.len() + 16).sum::<usize>();
        if q.bytes as u64 > limit {
            return false;
        }
        q.commands.push((idx, args.to_vec()));
        true
    }

    /// Forgets the queue and every watched key.
    pub fn reset(&mut self) {
        self.queue = None;
        self.unwatch_all();
    }

    fn unwatch_all(&mut self) {
        if let Some(w) = &self.watches {
            for (db, key, _) in self.watched.drain(..) {
                w.unwatch(db, &key, &self.dirty);
            }
        }
        self.dirty.store(false, Relaxed);
    }
}

impl Drop for TxState {
    fn drop(&mut self) {
        self.unwatch_all();
    }
}

fn multi(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if ctx.client.tx.in_multi() {
        return Err("ERR MULTI calls can not be nested".into());
    }
    ctx.client.tx.queue = Some(Queue::default());
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if !ctx.client.tx.in_multi() {
        return Err("ERR DISCARD without MULTI".into());
    }
    ctx.client.tx.reset();
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if ctx.client.tx.in_multi() {
        return Err("ERR WATCH inside MULTI is not allowed".into());
    }
    let db = ctx.client.db;
    let watches = ctx.shared.db.watches_arc();
    for key in &a[1..] {
        if ctx.client.tx.watched.iter().any(|(d, k, _)| *d == db && k == key) {
            continue;
        }
        // Checked before registering: the check may reclaim an expired key, which is not a
        // change made after WATCH (a write between the two happened before WATCH took effect).
        let existed = ctx.peek(key).is_some();
        watches.watch(db, key, &ctx.client.tx.dirty);
        ctx.client.tx.watched.push((db, key.clone(), existed));
    }
    ctx.client.tx.watches = Some(watches);
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.client.tx.unwatch_all();
    ctx.out.ok();
    Ok(())
}

/// What an atomic operation touches: some keys, or the whole keyspace.
#[derive(Debug, Default)]
pub struct Footprint {
    /// `(db, key)` pairs.
    pub keys: Vec<(u32, Bytes)>,
    /// A command that cannot name its keys.
    pub everything: bool,
}

impl Footprint {
    /// Adds what command `spec` (full name `name`) with `args`, run in database `*db`, touches;
    /// follows SELECT.
    pub fn add(&mut self, name: &str, spec: &CommandSpec, args: &[Bytes], db: &mut u32) {
        if name == "select" {
            if let Some(n) = args.get(1).and_then(|a| crate::frame::parse_i64(a)) {
                *db = u32::try_from(n).unwrap_or(*db);
            }
        } else if WHOLE_KEYSPACE.contains(&name) {
            self.everything = true;
        } else if SCRIPT_CALLS.contains(&name) {
            // EVAL script numkeys key... arg...: the declared keys.
            let n = args.get(2).and_then(|a| crate::frame::parse_i64(a)).unwrap_or(0);
            let n = usize::try_from(n).unwrap_or(0).min(args.len().saturating_sub(3));
            self.keys.extend(args[3..3 + n].iter().map(|k| (*db, k.clone())));
        } else if let Some(keys) = super::movable_keys(name, args) {
            match keys {
                Some(keys) => self.keys.extend(keys.into_iter().map(|k| (*db, k.clone()))),
                None => self.everything = true,
            }
        } else {
            self.keys.extend(super::key_args(spec, args).map(|k| (*db, k.clone())));
            self.keys.extend(super::keys::cross_db_target(name, args));
        }
    }
}

fn exec(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let Some(queue) = ctx.client.tx.queue.take() else {
        return Err("ERR EXEC without MULTI".into());
    };
    if queue.failed {
        ctx.client.tx.unwatch_all();
        return Err("EXECABORT Transaction discarded because of previous errors.".into());
    }
    let reg = super::registry();
    if queue.commands.iter().any(|(i, a)| reg.entries[*i].1.has("denyoom") && !a.is_empty())
        && ctx.shared.db.would_oom(0)
    {
        ctx.client.tx.unwatch_all();
        return Err(format!("EXECABORT Transaction discarded because of: {}", super::OOM).into());
    }
    let mut footprint = Footprint::default();
    let mut db = ctx.client.db;
    for (i, args) in &queue.commands {
        let (name, spec) = (&reg.entries[*i].0, reg.entries[*i].1);
        footprint.add(name, spec, args, &mut db);
    }
    footprint.keys.extend(ctx.client.tx.watched.iter().map(|(d, k, _)| (*d, k.clone())));
    let shared = ctx.shared;
    let mut scope = if footprint.everything {
        shared.db.lock_all()
    } else {
        shared.db.lock(footprint.keys.iter().map(|(d, k)| (*d, k.as_ref())))
    };
    // Under the locks: a watched key written since WATCH marked us; one evicted or expired since
    // is gone now.
    let now = ctx.now;
    let touched = ctx.client.tx.dirty.load(Relaxed)
        || ctx.client.tx.watched.iter().any(|(d, k, existed)| *existed && scope.peek(*d, k, now).is_none());
    ctx.client.tx.unwatch_all();
    if touched {
        drop(scope);
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(queue.commands.len());
    for (i, args) in &queue.commands {
        super::run(shared, ctx.client, ctx.out, reg, *i, args, Some(&mut scope));
    }
    Ok(())
}
