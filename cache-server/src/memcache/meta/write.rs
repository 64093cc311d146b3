//! `ms` (meta set, with the `M` mode switch, `C` compare, `I` stale-set), `md` (meta delete, or
//! with `I` invalidate: mark stale and free the win token) and `ma` (meta arithmetic, with `N`
//! vivify, `J` initial value, `D` delta, `T` new TTL). Each runs under the key's lock; replies and
//! their return flags (`O`, `k`, `c`, `t`) come in request order as memcached writes them.

use super::super::McState;
use super::super::commands::{DB, Delta, Stored, apply_store, delta_in, expire_at};
use super::super::item::{self, KEY_BINARY, STALE, WIN_SENT};
use super::super::parse::{BAD_FORMAT, MetaData, Store, StoreMode};
use super::flags::{self, Flags};
use super::{Res, status, ttl_secs};
use crate::db::{Entry, Value};
use crate::server::Shared;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

fn binary_bit(f: &Flags<'_>) -> u32 {
    if f.binary { KEY_BINARY } else { 0 }
}

/// `ms <key> <datalen> <flags>*` (the data block was consumed by the parser).
pub fn ms(
    shared: &Shared,
    mc: &McState,
    key: &Bytes,
    tokens: &[Bytes],
    data: MetaData,
    now: u64,
    out: &mut Vec<u8>,
) -> Res {
    let f = Flags::parse(key, tokens)?;
    let mode = match f.mode {
        None | Some(b'S') => StoreMode::Set,
        Some(b'E') => StoreMode::Add,
        Some(b'A') => StoreMode::Append,
        Some(b'P') => StoreMode::Prepend,
        Some(b'R') => StoreMode::Replace,
        Some(_) => return Err("CLIENT_ERROR invalid mode for ms M token"),
    };
    for t in f.list.iter().filter(|t| t[0] == b'O') {
        flags::opaque(t, &mut Vec::new())?;
    }
    let mode =
        if f.cas.is_some() && matches!(mode, StoreMode::Set | StoreMode::Replace) { StoreMode::Cas } else { mode };
    let data = match data {
        MetaData::Block(d) => d,
        MetaData::BadChunk => return Err("CLIENT_ERROR bad data chunk"),
        MetaData::TooLarge => {
            // Like memcached, whatever the mode: no stale value survives a failed store.
            mc.stats.store_too_large.fetch_add(1, Relaxed);
            shared.db.remove(DB, &f.key, now);
            return Err("SERVER_ERROR object too large for cache");
        }
        MetaData::None => return Err(BAD_FORMAT),
    };
    mc.stats.cmd_set.fetch_add(1, Relaxed);
    let store = Store {
        mode,
        key: Bytes::copy_from_slice(&f.key),
        flags: f.client_flags,
        exptime: i64::from(f.ttl.unwrap_or(0)),
        data,
        cas: f.cas.unwrap_or(0),
        noreply: false,
    };
    // Only a whole new value records a base64 key: memcached's append and prepend build a new
    // item without it.
    let whole = !matches!(mode, StoreMode::Append | StoreMode::Prepend);
    let meta = item::fresh(now) | if whole { binary_bit(&f) } else { 0 };
    let (r, cas) = apply_store(shared, &store, now, meta, f.stale && mode == StoreMode::Cas);
    let st = &mc.stats;
    if mode == StoreMode::Cas {
        match r {
            Stored::NotFound => &st.cas_misses,
            Stored::Exists => &st.cas_badval,
            _ => &st.cas_hits,
        }
        .fetch_add(1, Relaxed);
    }
    let code = match r {
        Stored::Stored => {
            st.total_items.fetch_add(1, Relaxed);
            if f.quiet {
                return Ok(());
            }
            "HD"
        }
        Stored::NotStored => "NS",
        Stored::Exists => "EX",
        Stored::NotFound => "NF",
        Stored::OutOfMemory => {
            st.store_no_memory.fetch_add(1, Relaxed);
            return Err("SERVER_ERROR out of memory storing object");
        }
    };
    let mut line = Vec::new();
    for t in &f.list {
        match t[0] {
            b'O' => flags::opaque(t, &mut line)?,
            b'k' => flags::key(&f.key, f.binary, &mut line),
            b'c' => line.extend_from_slice(format!(" c{cas}").as_bytes()),
            _ => {}
        }
    }
    status(out, code, &line);
    Ok(())
}

/// `md <key> <flags>*`.
pub fn md(shared: &Shared, mc: &McState, key: &Bytes, tokens: &[Bytes], now: u64, out: &mut Vec<u8>) -> Res {
    let f = Flags::parse(key, tokens).map_err(|_| "CLIENT_ERROR invalid or duplicate flag")?;
    let mut line = Vec::new();
    f.echo_opaque_and_key(f.binary, &mut line)?;
    let code = shared.db.update(DB, &f.key, now, |cur| {
        let Some(e) = cur.get().filter(|e| matches!(e.value, Value::Str(_))) else { return "NF" };
        if f.cas.is_some_and(|c| c != e.cas()) {
            return "EX";
        }
        if f.stale {
            // Stale, not deleted: a new CAS, the win token free for the next `mg`.
            let mut e = e.clone();
            if let Some(t) = f.ttl {
                e.expire_at = expire_at(i64::from(t), now);
            }
            e.set_meta((e.meta() | STALE) & !WIN_SENT);
            cur.put_mc(e);
            return "HI";
        }
        cur.delete();
        "HD"
    });
    let st = &mc.stats;
    match code {
        "HD" => _ = st.delete_hits.fetch_add(1, Relaxed),
        "HI" => {}
        _ => _ = st.delete_misses.fetch_add(1, Relaxed),
    }
    let code = if code == "HI" { "HD" } else { code };
    if !(code == "HD" && f.quiet) {
        status(out, code, &line);
    }
    Ok(())
}

/// What `ma` did under the key's lock.
enum Counted {
    /// The number changed (or was created): the reply's flags and the new number's digits.
    Value { flags: Vec<u8>, digits: String, created: bool },
    /// Nothing changed, for this reason.
    Failed(Delta),
}

/// `ma <key> <flags>*`.
pub fn ma(shared: &Shared, mc: &McState, key: &Bytes, tokens: &[Bytes], now: u64, out: &mut Vec<u8>) -> Res {
    let f = Flags::parse(key, tokens).map_err(|_| "CLIENT_ERROR invalid or duplicate flag")?;
    let incr = match f.mode {
        None | Some(b'I' | b'+') => true,
        Some(b'D' | b'-') => false,
        Some(_) => return Err("CLIENT_ERROR invalid mode for ma M token"),
    };
    let done = shared.db.update(DB, &f.key, now, |cur| -> Result<Counted, &'static str> {
        let old_len = cur.get().and_then(|e| e.value.as_str().map(|s| s.len())).unwrap_or(0);
        let (d, mut text) = delta_in(cur, incr, f.delta, f.cas, now);
        // A longer result is a new item, and memcached applies `T` to the old one (lost).
        let replaced = matches!(d, Delta::Value(..)) && text.len() > old_len;
        let created = match (&d, f.vivify) {
            (Delta::Value(..), _) => false,
            (Delta::NotFound, Some(_)) if cur.get().is_none() => {
                text = f.initial.to_string();
                let mut e = Entry::new(Value::str(text.as_bytes()));
                // As memcached's, an item made by `ma` does not record a base64 key.
                e.set_meta(item::fresh(now));
                cur.put_mc(e);
                if cur.refused() {
                    return Err("SERVER_ERROR Out of memory allocating new item");
                }
                mc.stats.total_items.fetch_add(1, Relaxed);
                true
            }
            _ => return Ok(Counted::Failed(d)),
        };
        let Some(mut e) = cur.get().cloned() else { return Ok(Counted::Failed(d)) };
        let mut line = Vec::new();
        let mut changed = false;
        for t in &f.list {
            match t[0] {
                b'c' => line.extend_from_slice(format!(" c{}", e.cas()).as_bytes()),
                b't' => line.extend_from_slice(format!(" t{}", ttl_secs(e.expire_at, now)).as_bytes()),
                b'T' if !replaced => {
                    e.expire_at = expire_at(i64::from(f.ttl.unwrap_or(0)), now);
                    changed = true;
                }
                b'N' if created => {
                    e.expire_at = expire_at(i64::from(f.vivify.unwrap_or(0)), now);
                    changed = true;
                }
                b'O' => flags::opaque(t, &mut line)?,
                b'k' => flags::key(&f.key, f.binary, &mut line),
                _ => {}
            }
        }
        if changed {
            cur.put_keep_cas(e);
        }
        Ok(Counted::Value { flags: line, digits: text, created })
    })?;
    let st = &mc.stats;
    let (hits, misses) = if incr { (&st.incr_hits, &st.incr_misses) } else { (&st.decr_hits, &st.decr_misses) };
    let mut line = Vec::new();
    match done {
        Counted::Value { flags, digits, created } => {
            if !created {
                hits.fetch_add(1, Relaxed);
                if f.quiet {
                    return Ok(());
                }
            }
            if f.value {
                status(out, &format!("VA {}", digits.len()), &flags);
                out.extend_from_slice(digits.as_bytes());
                out.extend_from_slice(b"\r\n");
            } else {
                status(out, "HD", &flags);
            }
        }
        Counted::Failed(Delta::NonNumeric) => {
            return Err("CLIENT_ERROR cannot increment or decrement non-numeric value");
        }
        Counted::Failed(Delta::OutOfMemory) => return Err("SERVER_ERROR out of memory"),
        Counted::Failed(Delta::Exists) => {
            f.echo_opaque_and_key(f.binary, &mut line)?;
            status(out, "EX", &line);
        }
        Counted::Failed(_) => {
            misses.fetch_add(1, Relaxed);
            f.echo_opaque_and_key(f.binary, &mut line)?;
            status(out, "NF", &line);
        }
    }
    Ok(())
}
