//! Memcached text-protocol commands over the shared keyspace (database 0): retrieval, storage,
//! incr/decr, touch, delete, flush_all, version, verbosity. Each handler runs its read-modify-write
//! inside one `Db::update`, so it is atomic against RESP clients too. Replies are written to the
//! connection's output buffer byte for byte as memcached 1.6 writes them; `stats` lives in
//! `stats.rs`, the meta commands in `meta.rs`.

use super::McState;
use super::item;
use super::parse::{BAD_FORMAT, REALTIME_MAXDELTA, Request, Store, StoreMode, key_ok, parse_u64};
use crate::db::{Current, Entry, Lookup, Str, Value};
use crate::server::Shared;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// The memcached release whose behaviour this module reproduces (reported by `version`).
pub const MEMCACHED_VERSION: &str = "1.6.18";

/// The Memcached commands use Redis database 0.
pub const DB: u32 = 0;

/// What the connection does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Keep reading.
    Continue,
    /// Close without further replies (`quit`).
    Close,
}

/// Converts a memcached exptime to an absolute expiry in unix ms (0 = never, 1 = already expired).
pub fn expire_at(exptime: i64, now_ms: u64) -> u64 {
    match exptime {
        0 => 0,
        e if e < 0 => 1,
        e if e > REALTIME_MAXDELTA => {
            let at = e as u64 * 1000;
            if at <= now_ms { 1 } else { at }
        }
        e => now_ms + e as u64 * 1000,
    }
}

/// The string value and entry of a live key holding a string.
pub fn string_of(cur: &Current<'_, '_>) -> Option<(Str, Entry)> {
    match cur.get() {
        Some(e @ Entry { value: Value::Str(s), .. }) => Some((s.clone(), e.clone())),
        _ => None,
    }
}

/// Appends `s` and `\r\n`.
pub fn line(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn reply(out: &mut Vec<u8>, noreply: bool, s: &str) {
    if !noreply {
        line(out, s);
    }
}

/// Executes one text request, appending its reply to `out`.
pub fn execute(shared: &Arc<Shared>, mc: &McState, req: Request, out: &mut Vec<u8>) -> After {
    let now = shared.db.clock.now_ms();
    match req {
        Request::Get { keys, cas, touch } => get(shared, mc, &keys, cas, touch, now, out),
        Request::Store(s) => store(shared, mc, s, now, out),
        Request::Delta { incr, key, delta, noreply } => {
            let r = delta_op(shared, mc, &key, incr, delta, now);
            reply(out, noreply, &r);
        }
        Request::Touch { key, exptime, noreply } => {
            mc.stats.cmd_touch.fetch_add(1, Relaxed);
            let found = shared.db.update(DB, &key, now, |cur| {
                let Some(mut e) = cur.get().cloned() else { return false };
                e.expire_at = expire_at(exptime, now);
                if let Some(m) = item::bumped(e.meta(), now) {
                    e.set_meta(m);
                }
                cur.put_keep_cas(e);
                true
            });
            if found { &mc.stats.touch_hits } else { &mc.stats.touch_misses }.fetch_add(1, Relaxed);
            reply(out, noreply, if found { "TOUCHED" } else { "NOT_FOUND" });
        }
        Request::Delete { key, noreply } => {
            mc.detail.record(&key, super::detail::Op::Delete);
            let found = shared.db.remove(DB, &key, now);
            if found { &mc.stats.delete_hits } else { &mc.stats.delete_misses }.fetch_add(1, Relaxed);
            reply(out, noreply, if found { "DELETED" } else { "NOT_FOUND" });
        }
        Request::FlushAll { delay, noreply } => {
            mc.flush_all(shared, delay);
            reply(out, noreply, "OK");
        }
        Request::Version => line(out, &format!("VERSION {MEMCACHED_VERSION}")),
        Request::Verbosity { level, noreply } => match level {
            Some(level) => {
                mc.verbosity.store(level.min(2), Relaxed);
                reply(out, noreply, "OK");
            }
            None => reply(out, noreply, BAD_FORMAT),
        },
        Request::Stats(args) => super::stats::stats(shared, mc, &args, out),
        Request::Quit => return After::Close,
        Request::Meta { cmd, tokens, data } => super::meta::execute(shared, mc, cmd, &tokens, data, now, out),
        Request::Fail { msg, noreply } => reply(out, noreply, msg),
        Request::TooLarge { key, mode, noreply } => {
            mc.detail.record(&key, super::detail::Op::Set);
            mc.stats.store_too_large.fetch_add(1, Relaxed);
            if mode == StoreMode::Set {
                shared.db.remove(DB, &key, now);
            }
            reply(out, noreply, "SERVER_ERROR object too large for cache");
        }
    }
    After::Continue
}

/// Index of the first key of a retrieval that memcached refuses (too long, control characters).
pub fn first_bad_key(keys: &[Bytes]) -> Option<usize> {
    keys.iter().position(|k| !key_ok(k))
}

/// Looks one key of a `get`/`gets`/`gat`/`gats` up (touching it for `gat`), counts the hit or
/// miss, and appends its `VALUE` block to `out` on a hit when `out` is given (the keys before a
/// bad one are looked up for their side effects only).
pub fn get_key(
    shared: &Shared,
    mc: &McState,
    key: &[u8],
    cas: bool,
    touch: Option<i64>,
    now: u64,
    out: Option<&mut Vec<u8>>,
) {
    let found = match touch {
        None => {
            mc.stats.cmd_get.fetch_add(1, Relaxed);
            let e = match shared.db.lookup(DB, key, now) {
                Lookup::Live(e) => Some(e).filter(|e| matches!(e.value, Value::Str(_))),
                Lookup::Expired => {
                    mc.stats.get_expired.fetch_add(1, Relaxed);
                    None
                }
                Lookup::Missing => None,
            };
            // A RESP write cleared the CAS unique: assign one for `gets`.
            let e = match e {
                Some(e) if cas && e.cas() == 0 => shared.db.peek_with_cas(DB, key, now).or(Some(e)),
                e => e,
            };
            if let Some(e) = &e {
                bump(shared, key, e, now);
            }
            e
        }
        Some(exptime) => {
            mc.stats.cmd_touch.fetch_add(1, Relaxed);
            shared.db.update(DB, key, now, |cur| {
                string_of(cur)?;
                let mut e = cur.get_with_cas()?;
                e.expire_at = expire_at(exptime, now);
                if let Some(m) = item::bumped(e.meta(), now) {
                    e.set_meta(m);
                }
                cur.put_keep_cas(e.clone());
                Some(e)
            })
        }
    };
    let hit = found.is_some();
    match touch {
        None => if hit { &mc.stats.get_hits } else { &mc.stats.get_misses }.fetch_add(1, Relaxed),
        Some(_) => if hit { &mc.stats.touch_hits } else { &mc.stats.touch_misses }.fetch_add(1, Relaxed),
    };
    mc.detail.record(key, super::detail::Op::Get { hit });
    let (Some(out), Some(e @ Entry { value: Value::Str(data), .. })) = (out, &found) else { return };
    let (flags, unique) = (e.flags(), e.cas());
    out.extend_from_slice(b"VALUE ");
    out.extend_from_slice(key);
    let head =
        if cas { format!(" {flags} {} {unique}\r\n", data.len()) } else { format!(" {flags} {}\r\n", data.len()) };
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// memcached's fetch bump of a hit (see [`item::bumped`]): a write only on an item's first fetch
/// and at most once a second after, so a hot key costs reads.
pub fn bump(shared: &Shared, key: &[u8], e: &Entry, now: u64) {
    if item::bumped(e.meta(), now).is_none() {
        return;
    }
    shared.db.update(DB, key, now, |cur| {
        let Some(meta) = cur.get().filter(|e| matches!(e.value, Value::Str(_))).map(Entry::meta) else { return };
        if let Some(m) = item::bumped(meta, now) {
            cur.set_mc_meta(m);
        }
    });
}

/// A whole retrieval into `out` (the connection loop streams instead, see `mod.rs`).
fn get(shared: &Shared, mc: &McState, keys: &[Bytes], cas: bool, touch: Option<i64>, now: u64, out: &mut Vec<u8>) {
    if let Some(bad) = first_bad_key(keys) {
        for key in &keys[..bad] {
            get_key(shared, mc, key, cas, touch, now, None);
        }
        line(out, BAD_FORMAT);
        return;
    }
    for key in keys {
        get_key(shared, mc, key, cas, touch, now, Some(out));
    }
    out.extend_from_slice(b"END\r\n");
}

/// Outcome of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// `STORED` / `HD`.
    Stored,
    /// `NOT_STORED` / `NS`.
    NotStored,
    /// `EXISTS` / `EX`.
    Exists,
    /// `NOT_FOUND` / `NF`.
    NotFound,
    /// Budget full under noeviction, or no key left to evict under volatile-*.
    OutOfMemory,
}

/// Runs a store under the key's lock; the new item's meta word is `meta` (see `item.rs`).
/// `stale` is meta's `I` on a CAS store: a CAS older than the item's stores the value anyway,
/// marked stale, keeping the item's expiry and win-token state (memcached's `set_stale`).
/// Returns the outcome and the stored item's CAS unique (0 when nothing was stored).
pub fn apply_store(shared: &Shared, s: &Store, now: u64, meta: u32, stale: bool) -> (Stored, u64) {
    if shared.db.would_oom((s.key.len() + s.data.len()) as u64) {
        return (Stored::OutOfMemory, 0);
    }
    shared.db.update(DB, &s.key, now, |cur| {
        let mut e = Entry::expiring(Value::Str(Str::from(&s.data)), expire_at(s.exptime, now));
        e.set_flags(s.flags);
        e.set_meta(meta);
        match s.mode {
            StoreMode::Set => {}
            StoreMode::Add if cur.get().is_some() => return (Stored::NotStored, 0),
            StoreMode::Add => {}
            StoreMode::Replace if !matches!(cur.get(), Some(Entry { value: Value::Str(_), .. })) => {
                return (Stored::NotStored, 0);
            }
            StoreMode::Replace => {}
            StoreMode::Append | StoreMode::Prepend => {
                // In place, keeping flags and expiry (as Memcached's append ignores both).
                let Some(prev) = cur.get().filter(|p| matches!(p.value, Value::Str(_))) else {
                    return (Stored::NotStored, 0);
                };
                if s.cas != 0 && s.cas != prev.cas() {
                    return (Stored::Exists, 0);
                }
                let append = s.mode == StoreMode::Append;
                let cas = cur.modify_mc(None, |e| {
                    if let Value::Str(v) = &mut e.value {
                        if append { v.append(&s.data) } else { v.prepend(&s.data) }
                    }
                    e.set_meta(meta);
                    e.cas()
                });
                return (Stored::Stored, cas.unwrap_or(0));
            }
            StoreMode::Cas => match cur.get() {
                None => return (Stored::NotFound, 0),
                Some(prev) if prev.cas() != 0 && prev.cas() == s.cas => {}
                Some(prev) if stale && s.cas < prev.cas() => {
                    e.expire_at = prev.expire_at;
                    e.set_meta(meta | item::STALE | (prev.meta() & item::WIN_SENT));
                }
                // A cleared CAS (0, after a RESP write) matches no token.
                Some(_) => return (Stored::Exists, 0),
            },
        }
        cur.put_mc(e);
        if cur.refused() {
            return (Stored::OutOfMemory, 0);
        }
        (Stored::Stored, cur.get().map_or(0, Entry::cas))
    })
}

fn store(shared: &Shared, mc: &McState, s: Store, now: u64, out: &mut Vec<u8>) {
    mc.stats.cmd_set.fetch_add(1, Relaxed);
    mc.detail.record(&s.key, super::detail::Op::Set);
    let (r, _) = apply_store(shared, &s, now, item::fresh(now), false);
    match r {
        Stored::Stored => _ = mc.stats.total_items.fetch_add(1, Relaxed),
        Stored::OutOfMemory => _ = mc.stats.store_no_memory.fetch_add(1, Relaxed),
        _ => {}
    }
    if s.mode == StoreMode::Cas {
        match r {
            Stored::NotFound => &mc.stats.cas_misses,
            Stored::Exists => &mc.stats.cas_badval,
            _ => &mc.stats.cas_hits,
        }
        .fetch_add(1, Relaxed);
    }
    let text = match r {
        Stored::Stored => "STORED",
        Stored::NotStored => "NOT_STORED",
        Stored::Exists => "EXISTS",
        Stored::NotFound => "NOT_FOUND",
        Stored::OutOfMemory => "SERVER_ERROR out of memory storing object",
    };
    reply(out, s.noreply, text);
}

/// Result of incr/decr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// The new value and CAS unique.
    Value(u64, u64),
    /// No such key.
    NotFound,
    /// The value is not a decimal number.
    NonNumeric,
    /// Meta `ma` with `C`: the CAS unique did not match.
    Exists,
    /// The longer result found no room beside keys that may not be evicted (`volatile-*`):
    /// nothing changed.
    OutOfMemory,
}

/// incr/decr as memcached does it: decimal u64 values, incr wraps at 2^64, decr stops at 0; a
/// shorter result is written in place padded with spaces (`10` decr 1 reads back `9 `); flags and
/// exptime are kept; the CAS unique changes.
pub fn apply_delta(shared: &Shared, key: &[u8], incr: bool, delta: u64, now: u64) -> Delta {
    shared.db.update(DB, key, now, |cur| delta_in(cur, incr, delta, None, now).0)
}

/// [`apply_delta`] on an entry already held (meta `ma` does more under the same lock): `cas`,
/// when given and not 0, must match the item's (else [`Delta::Exists`]). Also returns the new
/// value's text (unpadded). A result that fits the old bytes is written in place and keeps the
/// item's meta state (fetched, base64 key, last access), as memcached does when nothing else
/// holds the item; a longer one is a new item. (memcached also makes a new item when a reply
/// still being sent or its LRU maintainer holds the old one: that timing is not reproduced.)
pub fn delta_in(cur: &mut Current<'_, '_>, incr: bool, delta: u64, cas: Option<u64>, now: u64) -> (Delta, String) {
    // A hash or collection is invisible to Memcached: not found, as for `get`.
    let Some((data, prev)) = string_of(cur) else { return (Delta::NotFound, String::new()) };
    // memcached's order: an empty value is not a number, then the CAS, then the digits.
    if data.is_empty() {
        return (Delta::NonNumeric, String::new());
    }
    if cas.is_some_and(|c| c != 0 && c != prev.cas()) {
        return (Delta::Exists, String::new());
    }
    let Some(v) = parse_u64(&data) else { return (Delta::NonNumeric, String::new()) };
    let v = if incr { v.wrapping_add(delta) } else { v.saturating_sub(delta) };
    let digits = v.to_string();
    let mut text = digits.clone().into_bytes();
    let in_place = text.len() <= data.len();
    if in_place {
        text.resize(data.len(), b' ');
    }
    let mut e = prev;
    e.set_value(Value::str(&text));
    if !in_place {
        e.set_meta(item::fresh(now));
    }
    cur.put_mc(e);
    if cur.refused() {
        return (Delta::OutOfMemory, String::new());
    }
    (Delta::Value(v, cur.get().map_or(0, Entry::cas)), digits)
}

fn delta_op(shared: &Shared, mc: &McState, key: &[u8], incr: bool, delta: u64, now: u64) -> String {
    let r = apply_delta(shared, key, incr, delta, now);
    let (hits, misses) =
        if incr { (&mc.stats.incr_hits, &mc.stats.incr_misses) } else { (&mc.stats.decr_hits, &mc.stats.decr_misses) };
    match r {
        Delta::Value(v, _) => {
            hits.fetch_add(1, Relaxed);
            v.to_string()
        }
        Delta::NotFound => {
            misses.fetch_add(1, Relaxed);
            "NOT_FOUND".into()
        }
        Delta::NonNumeric => "CLIENT_ERROR cannot increment or decrement non-numeric value".into(),
        Delta::Exists => "EXISTS".into(),
        // memcached's words for an arithmetic result it cannot store.
        Delta::OutOfMemory => "SERVER_ERROR out of memory".into(),
    }
}
