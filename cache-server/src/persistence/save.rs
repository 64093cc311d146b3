//! When snapshots are taken and what INFO says about them: SAVE and BGSAVE, the `save <seconds>
//! <changes>` rules (checked ten times a second), the save at shutdown, and the load at start.
//!
//! One save runs at a time ([`State::busy`]). BGSAVE takes its point-in-time copy of the keyspace
//! on the calling thread ([`crate::db::Db::snapshot`]: writers wait at most for the copy, readers
//! not at all) and writes the file on a thread of its own; SAVE does both on the caller's thread
//! (off the async workers, so other clients go on). The copy shares every value (`Arc`), so its
//! cost is a key and an entry header per key, plus the values that writers replace while the
//! file is written (the old ones live until written) — the analogue of fork's copy-on-write.
//!
//! Each key is written with its access clock as Redis's `rdbSaveKeyValuePair` writes it: an `IDLE`
//! record (seconds idle) under the `*-lru` policies, a `FREQ` record (the LFU counter after its
//! due decay) under the `*-lfu` ones, neither under the others; the copy drains the buffered
//! reads first so they count. The cron also applies buffered reads every 100 ms, which bounds how
//! far a key's access stamp lags its reads (see `commands/object.rs`).

use super::file::{self, Meta, Usage, Written};
use crate::server::Shared;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Persistence state shared by the server (INFO persistence reads it).
#[derive(Debug, Default)]
pub struct State {
    /// A save (SAVE, BGSAVE or shutdown's) is running.
    busy: AtomicBool,
    /// The running save is a BGSAVE.
    pub bgsave_in_progress: AtomicBool,
    /// A BGSAVE SCHEDULE waits for the running save to end.
    scheduled: AtomicBool,
    /// Unix seconds when the running BGSAVE started.
    pub bgsave_started: AtomicU64,
    /// Unix seconds of the last successful save (`LASTSAVE`); the start time until then.
    pub lastsave: AtomicU64,
    /// Unix seconds of the last BGSAVE attempt (a failed one is retried after 5 s, as Redis).
    last_try: AtomicU64,
    /// The last BGSAVE failed.
    pub last_bgsave_failed: AtomicBool,
    /// Seconds the last BGSAVE took (-1: none yet).
    pub last_bgsave_secs: AtomicI64,
    /// `Db::stats.changes` as of the last successful save's snapshot.
    pub changes_at_save: AtomicU64,
    /// Successful saves.
    pub saves: AtomicU64,
    /// Bytes of the last save's point-in-time copy (the keys and entry headers; INFO's
    /// `rdb_last_cow_size`, our analogue of fork's copy-on-write).
    pub last_copy_bytes: AtomicU64,
    /// Keys loaded / skipped as expired by the load at start.
    pub loaded_keys: AtomicU64,
    /// See `loaded_keys`.
    pub loaded_expired: AtomicU64,
    /// What SHUTDOWN asked for (see [`Shutdown`]).
    shutdown: AtomicU8,
    /// `stop-writes-on-bgsave-error yes` and save rules exist (mirrored from the config): a
    /// failed BGSAVE then refuses writes with `-MISCONF` until a save succeeds.
    stop_writes_on_error: AtomicBool,
}

/// Redis's reply to a write while the last BGSAVE failed (`stop-writes-on-bgsave-error`).
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// What the final save does when the server stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Shutdown {
    /// Save if save rules are configured (SIGTERM, plain SHUTDOWN).
    Default = 0,
    /// Save (SHUTDOWN SAVE).
    Save = 1,
    /// Do not save (SHUTDOWN NOSAVE), or SHUTDOWN already saved.
    NoSave = 2,
}

/// Why a save did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Another save is running.
    #[error("ERR Background save already in progress")]
    InProgress,
    /// Writing the file failed.
    #[error("writing {path}: {err}")]
    Io {
        /// The target file.
        path: String,
        /// The error.
        err: std::io::Error,
    },
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl State {
    /// Fresh state: LASTSAVE is now, as in Redis at start.
    pub fn new() -> Self {
        let s = Self::default();
        s.lastsave.store(unix_secs(), Relaxed);
        s.last_bgsave_secs.store(-1, Relaxed);
        s
    }

    /// Records what SHUTDOWN decided.
    pub fn set_shutdown(&self, mode: Shutdown) {
        self.shutdown.store(mode as u8, Relaxed);
    }

    /// Whether a save is running.
    pub fn busy(&self) -> bool {
        self.busy.load(Relaxed)
    }

    /// Takes `stop-writes-on-bgsave-error` and the save rules from a new configuration.
    pub fn configure(&self, cfg: &crate::config::Config) {
        let stop = cfg.get("stop-writes-on-bgsave-error").is_some_and(|v| v == "yes");
        let rules = cfg.get("save").is_some_and(|v| !v.trim().is_empty());
        self.stop_writes_on_error.store(stop && rules, Relaxed);
    }

    /// Whether writes are refused (`-MISCONF`): the last BGSAVE failed, save rules exist and
    /// `stop-writes-on-bgsave-error` is on, as in Redis. One relaxed load when saves succeed.
    #[inline]
    pub fn refuses_writes(&self) -> bool {
        self.last_bgsave_failed.load(Relaxed) && self.stop_writes_on_error.load(Relaxed)
    }
}

/// The `save` rules in force: `(seconds, changes)` pairs.
pub fn rules(shared: &Shared) -> Vec<(u64, u64)> {
    let v = shared.config.read().get("save").unwrap_or_default();
    let n: Vec<u64> = v.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    n.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// The snapshot file: `dir` / `dbfilename`.
pub fn path(shared: &Shared) -> PathBuf {
    let cfg = shared.config.read();
    let dir = cfg.get("dir").unwrap_or_default();
    let name = cfg.get("dbfilename").unwrap_or_else(|| "dump.rdb".into());
    if dir.is_empty() { PathBuf::from(name) } else { PathBuf::from(dir).join(name) }
}

/// A save's inputs, taken on the caller's thread: the path, the options, and the point-in-time
/// copy of the keyspace.
struct Job {
    path: PathBuf,
    entries: Vec<(crate::db::Key, crate::db::Entry, Usage)>,
    functions: Vec<u8>,
    meta: Meta,
    changes: u64,
}

fn take_job(shared: &Shared) -> Job {
    let path = path(shared);
    let (compress, checksum) = {
        let cfg = shared.config.read();
        (cfg.get("rdbcompression").is_none_or(|v| v != "no"), cfg.get("rdbchecksum").is_none_or(|v| v != "no"))
    };
    let db = &shared.db;
    let changes = db.stats.changes.load(Relaxed);
    let mut entries = Vec::with_capacity(db.len() as usize);
    let usage = usage_of(shared);
    db.apply_pending_reads();
    db.snapshot_with_access(|shard| entries.extend(shard.into_iter().map(|(k, e, stamp)| (k, e, usage(stamp)))));
    let heap_keys: usize = entries
        .iter()
        .map(|(k, _, _)| if k.encoded().len() > crate::entry::INLINE_KEY { k.encoded().len() } else { 0 })
        .sum();
    let copy = entries.capacity() * std::mem::size_of::<(crate::db::Key, crate::db::Entry, Usage)>() + heap_keys;
    shared.persistence.last_copy_bytes.store(copy as u64, Relaxed);
    let functions = file::functions_body(&shared.scripting.functions.dump());
    let meta = Meta { now_ms: db.clock.now_ms(), used_mem: db.used_memory(), compress, checksum };
    Job { path, entries, functions, meta, changes }
}

/// What the file records of a key's access stamp under the policy in force, at the copy's time
/// (Redis's `rdbSaveKeyValuePair`: `IDLE` under `MAXMEMORY_FLAG_LRU`, `FREQ` under
/// `MAXMEMORY_FLAG_LFU`).
fn usage_of(shared: &Shared) -> impl Fn(u32) -> Usage {
    use crate::commands::object::{idle_secs, lfu_freq};
    let cfg = shared.config.read().clone();
    let now = shared.db.access_time_ms();
    move |stamp| match cfg.maxmemory_policy.algorithm() {
        "lru" => Usage::Idle(u32::try_from(idle_secs(stamp, now)).unwrap_or(u32::MAX)),
        "lfu" => Usage::Freq(lfu_freq(&cfg, stamp, now)),
        _ => Usage::None,
    }
}

fn run(state: &State, job: Job) -> Result<Written, SaveError> {
    let Job { path, entries, functions, meta, changes } = job;
    let started = Instant::now();
    let keys = entries.len();
    match file::write(&path, entries, &functions, meta) {
        Ok(w) => {
            // Any successful save clears a failed BGSAVE's status (and so `-MISCONF`), as Redis's.
            state.last_bgsave_failed.store(false, Relaxed);
            state.lastsave.store(unix_secs(), Relaxed);
            state.changes_at_save.store(changes, Relaxed);
            state.saves.fetch_add(1, Relaxed);
            tracing::info!(path = %path.display(), keys, bytes = w.bytes, ms = started.elapsed().as_millis() as u64, "DB saved on disk");
            Ok(w)
        }
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "save failed");
            Err(SaveError::Io { path: path.display().to_string(), err })
        }
    }
}

/// SAVE: a snapshot written before this returns. Blocking: a caller on an async worker runs it
/// through [`crate::commands::offload`].
///
/// # Errors
/// [`SaveError::InProgress`] while another save runs; the write's error.
pub fn save(shared: &Shared) -> Result<Written, SaveError> {
    let state = &shared.persistence;
    if state.busy.swap(true, Relaxed) {
        return Err(SaveError::InProgress);
    }
    let job = take_job(shared);
    let r = run(state, job);
    state.busy.store(false, Relaxed);
    r
}

/// BGSAVE: takes the point-in-time copy now (O(keys): a caller on an async worker runs it through
/// [`crate::commands::offload`]), writes it on a thread of its own.
///
/// # Errors
/// [`SaveError::InProgress`] while another save runs.
pub fn bgsave(shared: &Shared) -> Result<(), SaveError> {
    let state = shared.persistence.clone();
    if state.busy.swap(true, Relaxed) {
        return Err(SaveError::InProgress);
    }
    state.bgsave_in_progress.store(true, Relaxed);
    let now = unix_secs();
    state.bgsave_started.store(now, Relaxed);
    state.last_try.store(now, Relaxed);
    let job = take_job(shared);
    let spawned = std::thread::Builder::new().name("bgsave".into()).spawn({
        let state = state.clone();
        move || {
            let started = Instant::now();
            let ok = run(&state, job).is_ok();
            state.last_bgsave_failed.store(!ok, Relaxed);
            state.last_bgsave_secs.store(started.elapsed().as_secs() as i64, Relaxed);
            state.bgsave_in_progress.store(false, Relaxed);
            state.busy.store(false, Relaxed);
        }
    });
    if let Err(err) = spawned {
        state.last_bgsave_failed.store(true, Relaxed);
        state.bgsave_in_progress.store(false, Relaxed);
        state.busy.store(false, Relaxed);
        return Err(SaveError::Io { path: path(shared).display().to_string(), err });
    }
    Ok(())
}

/// BGSAVE SCHEDULE while a save runs: start one as soon as it ends.
pub fn schedule(shared: &Shared) {
    shared.persistence.scheduled.store(true, Relaxed);
}

/// One tick of the save-rule check (Redis's `serverCron` part): a BGSAVE when a rule's seconds
/// have passed since the last save with at least its changes, or a scheduled one is due.
pub fn tick(shared: &Shared) {
    let state = &shared.persistence;
    if state.busy() {
        return;
    }
    let long = shared.db.len() as usize;
    if state.scheduled.swap(false, Relaxed) {
        let _ = crate::commands::offload(long, || bgsave(shared));
        return;
    }
    let now = unix_secs();
    let changes = shared.db.stats.changes.load(Relaxed).saturating_sub(state.changes_at_save.load(Relaxed));
    let since = now.saturating_sub(state.lastsave.load(Relaxed));
    // After a failed BGSAVE, wait 5 s before trying again (CONFIG_BGSAVE_RETRY_DELAY).
    let may_retry = !state.last_bgsave_failed.load(Relaxed) || now.saturating_sub(state.last_try.load(Relaxed)) >= 5;
    if may_retry && rules(shared).iter().any(|&(secs, n)| changes >= n && n > 0 && since >= secs) {
        tracing::info!(changes, seconds = since, "save rule met: background saving");
        let _ = crate::commands::offload(long, || bgsave(shared));
    }
}

/// Starts the save-rule checks on the current tokio runtime (aborted with the returned handle).
pub fn start_cron(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            tick(&shared);
        }
    })
}

/// Loads the snapshot file at start, if there is one, and records the counts for INFO.
///
/// # Errors
/// The file exists and is refused.
pub fn load_at_start(shared: &Shared) -> Result<(), super::LoadError> {
    let path = path(shared);
    let started = Instant::now();
    if let Some(l) = super::load::load_file(shared, &path)? {
        let state = &shared.persistence;
        state.loaded_keys.store(l.keys, Relaxed);
        state.loaded_expired.store(l.expired, Relaxed);
        state.changes_at_save.store(shared.db.stats.changes.load(Relaxed), Relaxed);
        tracing::info!(path = %path.display(), keys = l.keys, expired = l.expired, ms = started.elapsed().as_millis() as u64, "DB loaded from disk");
    }
    Ok(())
}

/// The save when the server stops (after connections drained): SHUTDOWN SAVE, or a plain
/// SHUTDOWN / SIGTERM with save rules configured; waits for a running BGSAVE first.
pub fn at_shutdown(shared: &Shared) {
    let state = &shared.persistence;
    let mode = state.shutdown.load(Relaxed);
    let wanted = mode == Shutdown::Save as u8 || (mode == Shutdown::Default as u8 && !rules(shared).is_empty());
    if !wanted {
        return;
    }
    // SHUTDOWN saved already: again only if clients wrote while connections drained.
    if mode == Shutdown::Save as u8 && shared.db.stats.changes.load(Relaxed) == state.changes_at_save.load(Relaxed) {
        return;
    }
    if let Err(e) = save_waiting(shared) {
        tracing::error!(error = %e, "the save at shutdown failed");
    }
}

/// [`save`] after waiting (up to 10 minutes) for a running save to end.
///
/// # Errors
/// As [`save`].
pub fn save_waiting(shared: &Shared) -> Result<Written, SaveError> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match save(shared) {
            Err(SaveError::InProgress) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            r => return r,
        }
    }
}
