//! The script cache (SCRIPT LOAD, EVAL, EVALSHA, SCRIPT EXISTS/FLUSH) and shebang parsing.
//!
//! Owns the shared map sha1 → body and its memory budget; knows nothing of Lua (the per-thread
//! VMs compile bodies on their own, keyed by the same sha, which names the body exactly).
//!
//! ```text
//!   load(body, by_eval) ──► sha1hex(body) ──► map[sha] = Script { body, flags, by_eval }
//!                                   │ over budget? evict the least recently used EVAL-loaded
//!                                   │ scripts; SCRIPT LOAD-ed ones stay (refused if they can't fit)
//!   get(sha) ─── touches EVAL-loaded entries ──► Arc<Script>
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Bytes charged per cached script besides its body: the sha key, the map slot and the entry.
pub const SCRIPT_OVERHEAD: usize = 96;

/// The hex SHA-1 of `body`, lowercase, as `redis.sha1hex` and SCRIPT LOAD return it.
#[must_use]
pub fn sha1hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// The flags of a `#!lua flags=...` shebang (or of a registered function).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScriptFlags {
    /// The body starts with a `#!lua` shebang. Scripts without one run in Redis's compatibility
    /// mode (they may write even when their keys are unknown, and ignore the other flags).
    pub shebang: bool,
    /// `no-writes`: the host must refuse write commands (as for EVAL_RO).
    pub no_writes: bool,
    /// `allow-oom`.
    pub allow_oom: bool,
    /// `allow-stale`.
    pub allow_stale: bool,
    /// `no-cluster`.
    pub no_cluster: bool,
    /// `allow-cross-slot-keys`.
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// Sets the flag named `name` (`no-writes`, ...); false if the name is unknown.
    pub fn set(&mut self, name: &[u8]) -> bool {
        match name {
            b"no-writes" => self.no_writes = true,
            b"allow-oom" => self.allow_oom = true,
            b"allow-stale" => self.allow_stale = true,
            b"no-cluster" => self.no_cluster = true,
            b"allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return false,
        }
        true
    }

    /// May a `*_RO` command (EVAL_RO, EVALSHA_RO, FCALL_RO) run this script? Scripts without a
    /// shebang may (their writes are refused one by one); others need `no-writes`.
    ///
    /// # Errors
    /// Redis 7.0.15's text: `ERR Can not execute a script with write flag using *_ro command.`
    pub fn check_read_only(&self) -> Result<(), &'static str> {
        if self.shebang && !self.no_writes {
            Err("ERR Can not execute a script with write flag using *_ro command.")
        } else {
            Ok(())
        }
    }

    /// The names of the set flags, in Redis's order (as FUNCTION LIST prints them).
    #[must_use]
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (on, name) in [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot_keys, "allow-cross-slot-keys"),
        ] {
            if on {
                v.push(name);
            }
        }
        v
    }
}

/// Parses an EVAL body's shebang line. Returns the flags and the length of the shebang line
/// (without its newline; 0 without a shebang).
///
/// # Errors
/// Redis 7.0.15's texts: `ERR Invalid script shebang` (no newline after it), `ERR Unexpected engine
/// in script shebang: #!luax`, `ERR Unknown lua shebang option: foo=bar`, `ERR Unexpected flag in
/// script shebang: bogus`.
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), 0));
    }
    let Some(nl) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = &body[..nl];
    let mut parts = line.split(|&b| b == b' ' || b == b'\t' || b == b'\r').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or(b"#!");
    if engine != b"#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {}", String::from_utf8_lossy(engine)));
    }
    let mut flags = ScriptFlags { shebang: true, ..ScriptFlags::default() };
    for part in parts {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {}", String::from_utf8_lossy(part)));
        };
        if list.is_empty() {
            continue;
        }
        for f in list.split(|&b| b == b',') {
            if !flags.set(f) {
                return Err(format!("ERR Unexpected flag in script shebang: {}", String::from_utf8_lossy(f)));
            }
        }
    }
    Ok((flags, nl))
}

/// One cached script.
#[derive(Debug)]
pub struct Script {
    /// The hex sha1 of `body`.
    pub sha: String,
    /// The body as given (shebang included).
    pub body: Arc<[u8]>,
    /// Its shebang flags.
    pub flags: ScriptFlags,
}

#[derive(Debug)]
struct Entry {
    script: Arc<Script>,
    /// `Some(tick)` for EVAL-loaded scripts (evictable, LRU by tick); `None` for SCRIPT LOAD.
    lru: Option<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Entry>,
    /// EVAL-loaded scripts by last use, oldest first.
    order: BTreeMap<u64, String>,
    tick: u64,
    memory: usize,
}

/// The shared script cache: sha1 hex → body and flags, within a byte budget.
///
/// Each script weighs its body plus [`SCRIPT_OVERHEAD`]. When a load would pass the budget, the
/// least recently used scripts that came from EVAL are evicted (as Redis 7.4 does; 7.0 never
/// evicts); scripts loaded by SCRIPT LOAD are kept, and a load that cannot fit even after evicting
/// every EVAL script is refused.
#[derive(Debug)]
pub struct Scripts {
    inner: Mutex<Inner>,
    budget: usize,
    /// Bumped by `flush`, so the per-thread VMs drop their compiled functions.
    generation: AtomicU64,
}

impl Scripts {
    /// An empty cache holding at most `budget` bytes of scripts.
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Scripts { inner: Mutex::new(Inner::default()), budget, generation: AtomicU64::new(0) }
    }

    /// Caches `body` and returns its sha. `by_eval` marks scripts cached by EVAL (evictable).
    /// Validates the shebang but does not compile the body (see [`crate::scripting::run`]).
    ///
    /// # Errors
    /// A bad shebang (see [`parse_shebang`]), or `ERR script cache is full` when the body cannot
    /// fit in the budget.
    pub fn load(&self, body: &[u8], by_eval: bool) -> Result<Arc<Script>, String> {
        let (flags, _) = parse_shebang(body)?;
        let sha = sha1hex(body);
        let mut g = self.inner.lock();
        let inner = &mut *g;
        if let Some(e) = inner.map.get_mut(&sha) {
            if !by_eval {
                if let Some(t) = e.lru.take() {
                    inner.order.remove(&t);
                }
            }
            return Ok(e.script.clone());
        }
        let weight = body.len() + SCRIPT_OVERHEAD;
        while inner.memory + weight > self.budget {
            let Some((_, victim)) = inner.order.pop_first() else {
                return Err("ERR script cache is full".into());
            };
            if let Some(e) = inner.map.remove(&victim) {
                inner.memory -= e.script.body.len() + SCRIPT_OVERHEAD;
            }
        }
        let script = Arc::new(Script { sha: sha.clone(), body: body.into(), flags });
        let lru = by_eval.then(|| {
            inner.tick += 1;
            inner.order.insert(inner.tick, sha.clone());
            inner.tick
        });
        inner.memory += weight;
        inner.map.insert(sha, Entry { script: script.clone(), lru });
        Ok(script)
    }

    /// The script with this sha (any case), marking it recently used.
    pub fn get(&self, sha: &str) -> Option<Arc<Script>> {
        let sha = sha.to_ascii_lowercase();
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let e = inner.map.get_mut(&sha)?;
        if let Some(t) = e.lru {
            inner.tick += 1;
            inner.order.remove(&t);
            inner.order.insert(inner.tick, sha);
            e.lru = Some(inner.tick);
        }
        Some(e.script.clone())
    }

    /// SCRIPT EXISTS for one sha (any case).
    pub fn exists(&self, sha: &str) -> bool {
        self.inner.lock().map.contains_key(&sha.to_ascii_lowercase())
    }

    /// SCRIPT FLUSH: drops every script (the VMs drop their compiled copies on their next run).
    pub fn flush(&self) {
        let mut g = self.inner.lock();
        *g = Inner::default();
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// `number_of_cached_scripts`.
    pub fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    /// True when no script is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `used_memory_scripts`: the bytes charged against the budget.
    pub fn memory(&self) -> usize {
        self.inner.lock().memory
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
}
