//! Runs decoded binary requests over the keyspace (through `commands.rs`, as the text protocol
//! does) and writes memcached 1.6.18's response frames: statuses, extras (flags on GET hits, the
//! 8-byte value of INCR/DECR), CAS uniques, and the quiet variants' silence on success.

use super::super::McState;
use super::super::commands::{After, DB, Delta, MEMCACHED_VERSION, Stored, apply_store, bump, delta_in, expire_at};
use super::super::detail::Op as Detail;
use super::super::item;
use super::super::parse::StoreMode;
use super::{DELTA_BADVAL, EXISTS, NO_MEMORY, NOT_FOUND, NOT_STORED, Op, Request, TOO_LARGE, error_text, put};
use crate::db::{Entry, Value};
use crate::server::Shared;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// Executes one binary request, appending its reply to `out`.
pub fn execute(shared: &Arc<Shared>, mc: &McState, req: Request, out: &mut Vec<u8>) -> After {
    let now = shared.db.clock.now_ms();
    let Request { opcode, opaque, op } = req;
    let error = |out: &mut Vec<u8>, status| put(out, opcode, status, 0, &[], &[], error_text(status), &opaque);
    let ok = |out: &mut Vec<u8>, cas: u64, quiet: bool| {
        if !quiet {
            put(out, opcode, 0, cas, &[], &[], &[], &opaque);
        }
    };
    let st = &mc.stats;
    match op {
        Op::Error { status, close } => {
            error(out, status);
            if close {
                return After::Close;
            }
        }
        Op::Noop => ok(out, 0, false),
        Op::Version => put(out, opcode, 0, 0, &[], &[], MEMCACHED_VERSION.as_bytes(), &opaque),
        Op::Quit { quiet } => {
            ok(out, 0, quiet);
            return After::Close;
        }
        Op::Get { key, with_key, quiet, touch, value } => {
            let found = match touch {
                None => {
                    st.cmd_get.fetch_add(1, Relaxed);
                    let e = shared.db.get(DB, &key, now).filter(|e| matches!(e.value, Value::Str(_)));
                    let e = match e {
                        Some(e) if e.cas() == 0 => shared.db.peek_with_cas(DB, &key, now).or(Some(e)),
                        e => e,
                    };
                    if let Some(e) = &e {
                        bump(shared, &key, e, now);
                    }
                    e
                }
                Some(exptime) => {
                    st.cmd_touch.fetch_add(1, Relaxed);
                    shared.db.update(DB, &key, now, |cur| {
                        cur.get().filter(|e| matches!(e.value, Value::Str(_)))?;
                        let mut e = cur.get_with_cas()?;
                        e.expire_at = expire_at(i64::from(exptime), now);
                        if let Some(m) = item::bumped(e.meta(), now) {
                            e.set_meta(m);
                        }
                        cur.put_keep_cas(e.clone());
                        Some(e)
                    })
                }
            };
            let (hits, misses) =
                if touch.is_some() { (&st.touch_hits, &st.touch_misses) } else { (&st.get_hits, &st.get_misses) };
            mc.detail.record(&key, Detail::Get { hit: found.is_some() });
            match &found {
                Some(e @ Entry { value: Value::Str(data), .. }) => {
                    hits.fetch_add(1, Relaxed);
                    let k: &[u8] = if with_key { &key } else { &[] };
                    let v: &[u8] = if value { data } else { &[] };
                    put(out, opcode, 0, e.cas(), &e.flags().to_be_bytes(), k, v, &opaque);
                }
                _ => {
                    misses.fetch_add(1, Relaxed);
                    if quiet {
                    } else if with_key {
                        put(out, opcode, NOT_FOUND, 0, &[], &key, &[], &opaque);
                    } else {
                        error(out, NOT_FOUND);
                    }
                }
            }
        }
        Op::Store { store, quiet } => {
            st.cmd_set.fetch_add(1, Relaxed);
            mc.detail.record(&store.key, Detail::Set);
            let (r, cas) = apply_store(shared, &store, now, item::fresh(now), false);
            let status = match (r, store.mode) {
                (Stored::Stored, _) => 0,
                (Stored::NotStored, StoreMode::Add) | (Stored::Exists, _) => EXISTS,
                (Stored::NotStored, StoreMode::Replace) | (Stored::NotFound, _) => NOT_FOUND,
                (Stored::NotStored, _) => NOT_STORED,
                (Stored::OutOfMemory, _) => NO_MEMORY,
            };
            match r {
                Stored::Stored => _ = st.total_items.fetch_add(1, Relaxed),
                Stored::OutOfMemory => _ = st.store_no_memory.fetch_add(1, Relaxed),
                _ => {}
            }
            if status != 0 {
                error(out, status);
            } else {
                ok(out, cas, quiet);
            }
        }
        Op::TooLarge { key, set } => {
            st.store_too_large.fetch_add(1, Relaxed);
            if set {
                shared.db.remove(DB, &key, now);
            }
            error(out, TOO_LARGE);
        }
        Op::Delete { key, cas, quiet } => {
            mc.detail.record(&key, Detail::Delete);
            let status = shared.db.update(DB, &key, now, |cur| match cur.get() {
                None => NOT_FOUND,
                Some(e) if cas != 0 && e.cas() != cas => EXISTS,
                Some(_) => {
                    cur.delete();
                    0
                }
            });
            match status {
                0 => _ = st.delete_hits.fetch_add(1, Relaxed),
                NOT_FOUND => _ = st.delete_misses.fetch_add(1, Relaxed),
                _ => {}
            }
            if status != 0 {
                error(out, status);
            } else {
                ok(out, 0, quiet);
            }
        }
        Op::Delta { key, incr, delta, initial, exptime, cas, quiet } => {
            let r = shared.db.update(DB, &key, now, |cur| {
                let (d, _) = delta_in(cur, incr, delta, Some(cas), now);
                if d != Delta::NotFound || exptime == u32::MAX || cur.get().is_some() {
                    return (d, false);
                }
                // memcached creates the key with the initial value (an ADD).
                let mut e =
                    Entry::expiring(Value::str(initial.to_string().as_bytes()), expire_at(i64::from(exptime), now));
                e.set_meta(item::fresh(now));
                cur.put_mc(e);
                if cur.refused() {
                    return (Delta::OutOfMemory, true);
                }
                st.total_items.fetch_add(1, Relaxed);
                (Delta::Value(initial, cur.get().map_or(0, Entry::cas)), true)
            });
            let (hits, misses) = if incr { (&st.incr_hits, &st.incr_misses) } else { (&st.decr_hits, &st.decr_misses) };
            match r {
                (Delta::Value(v, cas), created) => {
                    if !created {
                        hits.fetch_add(1, Relaxed);
                    }
                    if !quiet {
                        put(out, opcode, 0, cas, &[], &[], &v.to_be_bytes(), &opaque);
                    }
                }
                (Delta::NotFound, _) => {
                    misses.fetch_add(1, Relaxed);
                    error(out, NOT_FOUND);
                }
                (Delta::NonNumeric, _) => error(out, DELTA_BADVAL),
                (Delta::Exists, _) => error(out, EXISTS),
                (Delta::OutOfMemory, _) => error(out, NO_MEMORY),
            }
        }
        Op::Flush { delay, quiet } => {
            mc.flush_all(shared, i64::from(delay));
            ok(out, 0, quiet);
        }
        Op::Stat { group } => super::stat::stat(shared, mc, opcode, &opaque, &group, out),
    }
    After::Continue
}
