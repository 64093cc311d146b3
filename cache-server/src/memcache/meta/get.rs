//! `mg` (meta get, with vivify-on-miss, recache, touch and the win/stale flags) and `me` (meta
//! debug). The whole of an `mg` runs under the key's lock, as memcached's locked path does:
//! reading the item, creating it on a miss with `N`, handing out the win token, applying `T`,
//! and bumping it after its `h` / `l` were reported.

use super::super::McState;
use super::super::commands::{DB, expire_at};
use super::super::item::{self, FETCHED, KEY_BINARY, STALE, WIN_SENT};
use super::super::parse::{BAD_FORMAT, REALTIME_MAXDELTA};
use super::flags::{self, Flags};
use super::{Res, status, ttl_secs};
use crate::db::{Entry, Str, Value};
use crate::server::Shared;
use bytes::Bytes;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// The TTL below which `R<secs>` wins a recache token (memcached turns the token into an
/// absolute time first: 0 and negatives never win, more than 30 days is a Unix time).
fn recache_below(r: i32, now: u64) -> Option<i64> {
    match i64::from(r) {
        r if r <= 0 => None,
        r if r > REALTIME_MAXDELTA => Some(r - (now / 1000) as i64),
        r => Some(r),
    }
}

/// `mg <key> <flags>*`.
pub fn mg(shared: &Shared, mc: &McState, key: &Bytes, tokens: &[Bytes], now: u64, out: &mut Vec<u8>) -> Res {
    let f = Flags::parse(key, tokens)?;
    let found = shared.db.update(DB, &f.key, now, |cur| -> Result<Option<(Entry, Vec<u8>)>, &'static str> {
        // A key holding a RESP collection is invisible to Memcached, and never overwritten.
        let (mut e, created) = match (cur.get().map(|e| matches!(e.value, Value::Str(_))), f.vivify) {
            (Some(true), _) => (cur.get_with_cas().ok_or(BAD_FORMAT)?, false),
            (Some(false), _) | (None, None) => return Ok(None),
            (None, Some(_)) => {
                // memcached's vivified item does not record a base64 key (only `ms` does).
                let mut e = Entry::new(Value::Str(Str::empty()));
                e.set_meta(item::fresh(now));
                cur.put_mc(e);
                mc.stats.total_items.fetch_add(1, Relaxed);
                (cur.get().cloned().ok_or(BAD_FORMAT)?, true)
            }
        };
        let before = e.meta();
        let mut won = false;
        let mut line = Vec::new();
        let len = e.value.as_str().map_or(0, |s| s.len());
        for t in &f.list {
            match t[0] {
                b'T' => e.expire_at = expire_at(i64::from(f.ttl.unwrap_or(0)), now),
                b'N' if created => {
                    e.expire_at = expire_at(i64::from(f.vivify.unwrap_or(0)), now);
                    won = true;
                }
                b'R' => {
                    let below = f.recache.and_then(|r| recache_below(r, now));
                    if before & WIN_SENT == 0
                        && !created
                        && e.expire_at != 0
                        && below.is_some_and(|b| ttl_secs(e.expire_at, now) < b)
                    {
                        won = true;
                    }
                }
                b's' => _ = write!(Text(&mut line), " s{len}"),
                b't' => _ = write!(Text(&mut line), " t{}", ttl_secs(e.expire_at, now)),
                b'c' => _ = write!(Text(&mut line), " c{}", e.cas()),
                b'f' => _ = write!(Text(&mut line), " f{}", e.flags()),
                b'l' => _ = write!(Text(&mut line), " l{}", item::idle_secs(before, now)),
                b'h' => line.extend_from_slice(if before & FETCHED != 0 { b" h1" } else { b" h0" }),
                b'O' => flags::opaque(t, &mut line)?,
                b'k' => flags::key(&f.key, before & KEY_BINARY != 0, &mut line),
                _ => {}
            }
        }
        let mut meta = before;
        if before & WIN_SENT != 0 {
            line.extend_from_slice(b" Z");
        }
        if before & STALE != 0 {
            line.extend_from_slice(b" X");
            won |= before & WIN_SENT == 0;
        }
        if won {
            line.extend_from_slice(b" W");
            meta |= WIN_SENT;
        }
        if !f.no_update {
            meta = item::bumped(meta, now).unwrap_or(meta);
        }
        e.set_meta(meta);
        if f.ttl.is_some() || created {
            cur.put_keep_cas(e.clone());
        } else if meta != before {
            // Bookkeeping (fetched, win token), not a write: no WATCH or tracking fires.
            cur.set_mc_meta(meta);
        }
        Ok(Some((e, line)))
    })?;
    let touched = f.ttl.is_some();
    let st = &mc.stats;
    let Some((e, line)) = found else {
        st.cmd_get.fetch_add(1, Relaxed);
        st.get_misses.fetch_add(1, Relaxed);
        if !f.quiet {
            let mut line = Vec::new();
            f.echo_opaque_and_key(f.binary, &mut line)?;
            status(out, "EN", &line);
        }
        return Ok(());
    };
    if touched {
        st.cmd_touch.fetch_add(1, Relaxed);
        st.touch_hits.fetch_add(1, Relaxed);
    } else {
        st.cmd_get.fetch_add(1, Relaxed);
        st.get_hits.fetch_add(1, Relaxed);
    }
    match (&e.value, f.value) {
        (Value::Str(s), true) => {
            status(out, &format!("VA {}", s.len()), &line);
            out.extend_from_slice(s);
            out.extend_from_slice(b"\r\n");
        }
        _ => status(out, "HD", &line),
    }
    Ok(())
}

/// `me <key> [b]`: memcached's debug line. `exp` is memcached's (minus the TTL left), `la` the
/// seconds since last access, `cls` and `size` the slab class and bytes memcached would use.
pub fn me(shared: &Shared, mc: &McState, key: &Bytes, tokens: &[Bytes], now: u64, out: &mut Vec<u8>) -> Res {
    mc.stats.cmd_meta.fetch_add(1, Relaxed);
    let key = match tokens.first() {
        Some(b) if b.as_ref() == b"b" => item::base64_decode(key).ok_or(BAD_FORMAT)?,
        _ => key.to_vec(),
    };
    let Some(e) = shared.db.peek_with_cas(DB, &key, now) else {
        out.extend_from_slice(b"EN\r\n");
        return Ok(());
    };
    let Value::Str(data) = &e.value else {
        out.extend_from_slice(b"EN\r\n");
        return Ok(());
    };
    let meta = e.meta();
    let shown = if meta & KEY_BINARY != 0 { item::base64_encode(&key) } else { key.clone() };
    let exp = match ttl_secs(e.expire_at, now) {
        -1 => -1,
        t => -t,
    };
    let size = item::item_size(key.len(), data.len(), e.flags());
    out.extend_from_slice(b"ME ");
    out.extend_from_slice(&shown);
    let fetched = if meta & FETCHED != 0 { "yes" } else { "no" };
    let rest = format!(
        " exp={exp} la={} cas={} fetch={fetched} cls={} size={size}\r\n",
        item::idle_secs(meta, now),
        e.cas(),
        item::slab_class(size)
    );
    out.extend_from_slice(rest.as_bytes());
    Ok(())
}

/// `fmt::Write` into a byte buffer.
struct Text<'a>(&'a mut Vec<u8>);

impl Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
