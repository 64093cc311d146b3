//! The Memcached binary protocol (deprecated by memcached, still served by 1.6.18): a connection
//! whose first byte is the request magic 0x80 speaks it for its whole life, as memcached's
//! auto-negotiation does. This file owns framing (24-byte headers), validation with memcached's
//! status codes, and the replies; the keyspace work goes through `commands.rs`.
//!
//! Served: GET, GETQ, GETK, GETKQ, SET, SETQ, ADD, ADDQ, REPLACE, REPLACEQ, DELETE, DELETEQ,
//! NOOP, VERSION, QUIT, QUITQ. Every other opcode (INCR/DECR, APPEND/PREPEND, FLUSH, STAT,
//! TOUCH/GAT, SASL, …) is answered `Unknown command` (status 0x81) and its body skipped, so a
//! client never hangs on it. As in memcached 1.6.18:
//! - a header whose key and extras do not fit its body length: `Unknown command`, then close;
//! - a key over 250 bytes, or a body shape the opcode does not take (GET with extras, SET
//!   without its 8 bytes of flags + exptime, NOOP with a body, …): `Invalid arguments`, then close;
//! - a request magic other than 0x80 on a binary connection: close without a reply (once 24
//!   bytes are in);
//! - quiet variants suppress success replies (and GETQ/GETKQ misses), never errors;
//! - a value over the item size limit: `Too large.` after its bytes are skipped (and SET deletes
//!   the old value); ADD on a present key: `Data exists for key.`; REPLACE on a missing one
//!   and a CAS on a missing one: `Not found`; a CAS mismatch: `Data exists for key.`;
//! - exptime is an unsigned 32-bit number (so 0xffffffff is a far-future absolute time).
//!
//! Deliberate difference: memcached 1.6.18 waits forever after an unknown opcode that carries a
//! key (it reads the key, then waits to skip the whole body again); we skip the body once.

use super::McState;
use super::commands::{After, DB, Stored, apply_store};
use super::parse::{ITEM_HEADER, KEY_MAX, Store, StoreMode};
use crate::db::{Entry, Value};
use crate::server::Shared;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

/// First byte of every binary request.
pub const REQUEST_MAGIC: u8 = 0x80;
const RESPONSE_MAGIC: u8 = 0x81;
const HEADER: usize = 24;

const GET: u8 = 0x00;
const SET: u8 = 0x01;
const ADD: u8 = 0x02;
const REPLACE: u8 = 0x03;
const DELETE: u8 = 0x04;
const QUIT: u8 = 0x07;
const GETQ: u8 = 0x09;
const NOOP: u8 = 0x0a;
const VERSION: u8 = 0x0b;
const GETK: u8 = 0x0c;
const GETKQ: u8 = 0x0d;
const SETQ: u8 = 0x11;
const ADDQ: u8 = 0x12;
const REPLACEQ: u8 = 0x13;
const DELETEQ: u8 = 0x14;
const QUITQ: u8 = 0x17;

const NOT_FOUND: u16 = 0x01;
const EXISTS: u16 = 0x02;
const TOO_LARGE: u16 = 0x03;
const INVALID: u16 = 0x04;
const NOT_STORED: u16 = 0x05;
const UNKNOWN: u16 = 0x81;
const NO_MEMORY: u16 = 0x82;

/// memcached's text for an error status.
fn error_text(status: u16) -> &'static [u8] {
    match status {
        NOT_FOUND => b"Not found",
        EXISTS => b"Data exists for key.",
        TOO_LARGE => b"Too large.",
        INVALID => b"Invalid arguments",
        NOT_STORED => b"Not stored.",
        UNKNOWN => b"Unknown command",
        NO_MEMORY => b"Out of memory",
        _ => b"",
    }
}

/// One response frame.
pub fn response(opcode: u8, status: u16, cas: u64, extras: &[u8], key: &[u8], value: &[u8], opaque: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + extras.len() + key.len() + value.len());
    put(&mut out, opcode, status, cas, extras, key, value, opaque);
    out
}

#[allow(clippy::too_many_arguments)]
fn put(out: &mut Vec<u8>, opcode: u8, status: u16, cas: u64, extras: &[u8], key: &[u8], value: &[u8], opaque: &[u8]) {
    let body = extras.len() + key.len() + value.len();
    out.extend_from_slice(&[RESPONSE_MAGIC, opcode]);
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.extend_from_slice(&[extras.len() as u8, 0]);
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&(body as u32).to_be_bytes());
    out.extend_from_slice(opaque);
    out.extend_from_slice(&cas.to_be_bytes());
    out.extend_from_slice(extras);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// What a decoded request asks for.
#[derive(Debug, Clone)]
pub enum Op {
    /// An error reply; `close` closes the connection after it.
    Error {
        /// Status code.
        status: u16,
        /// Close afterwards.
        close: bool,
    },
    /// GET and its variants.
    Get {
        /// The key.
        key: Bytes,
        /// GETK/GETKQ: echo the key.
        with_key: bool,
        /// GETQ/GETKQ: no reply on a miss.
        quiet: bool,
    },
    /// SET/ADD/REPLACE (the store's `cas` is the header's).
    Store {
        /// The store.
        store: Store,
        /// Quiet variant.
        quiet: bool,
    },
    /// A too-large SET/ADD/REPLACE (its value is being skipped).
    TooLarge {
        /// The key.
        key: Bytes,
        /// True for SET, which removes the old value.
        set: bool,
    },
    /// DELETE/DELETEQ, with the header's CAS (0 = any).
    Delete {
        /// The key.
        key: Bytes,
        /// CAS to match.
        cas: u64,
        /// Quiet variant.
        quiet: bool,
    },
    /// NOOP.
    Noop,
    /// VERSION.
    Version,
    /// QUIT/QUITQ.
    Quit {
        /// Quiet variant.
        quiet: bool,
    },
}

/// A decoded request: its opcode and opaque (echoed in the reply) and what it asks for.
#[derive(Debug, Clone)]
pub struct Request {
    /// Opcode.
    pub opcode: u8,
    /// Opaque, echoed.
    pub opaque: [u8; 4],
    /// The operation.
    pub op: Op,
}

/// What the decoder found at the front of the buffer.
pub type Next = super::parse::Next<Request>;

/// Decodes the binary request at the front of `buf`; `max_item` is the item size limit.
pub fn next(buf: &[u8], max_item: usize) -> Next {
    let Some(h) = buf.get(..HEADER) else { return Next::Incomplete };
    if h[0] != REQUEST_MAGIC {
        return Next::Close;
    }
    let opcode = h[1];
    let keylen = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let extlen = usize::from(h[4]);
    let bodylen = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
    let opaque = [h[12], h[13], h[14], h[15]];
    let cas = u64::from_be_bytes([h[16], h[17], h[18], h[19], h[20], h[21], h[22], h[23]]);
    let request = |op| Request { opcode, opaque, op };
    let error = |status, close, consumed, swallow| Next::Ready {
        req: Request { opcode, opaque, op: Op::Error { status, close } },
        consumed,
        swallow,
    };
    if keylen + extlen > bodylen {
        return error(UNKNOWN, true, HEADER, 0);
    }
    if keylen > KEY_MAX {
        return error(INVALID, true, HEADER, 0);
    }
    let shape_ok = match opcode {
        NOOP | VERSION | QUIT | QUITQ => extlen == 0 && keylen == 0 && bodylen == 0,
        GET | GETQ | GETK | GETKQ | DELETE | DELETEQ => extlen == 0 && keylen > 0 && bodylen == keylen,
        SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ => extlen == 8 && keylen > 0,
        _ => return error(UNKNOWN, false, HEADER, bodylen),
    };
    if !shape_ok {
        return error(INVALID, true, HEADER, 0);
    }
    let key_at = HEADER + extlen;
    let op = match opcode {
        NOOP => Op::Noop,
        VERSION => Op::Version,
        QUIT | QUITQ => Op::Quit { quiet: opcode == QUITQ },
        SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ => {
            let vlen = bodylen - extlen - keylen;
            if keylen + vlen + ITEM_HEADER > max_item {
                let Some(key) = buf.get(key_at..key_at + keylen) else { return Next::Incomplete };
                let op = Op::TooLarge { key: Bytes::copy_from_slice(key), set: matches!(opcode, SET | SETQ) };
                return Next::Ready { req: request(op), consumed: key_at + keylen, swallow: vlen };
            }
            let Some(body) = buf.get(HEADER..HEADER + bodylen) else { return Next::Incomplete };
            let flags = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
            let exptime = i64::from(u32::from_be_bytes([body[4], body[5], body[6], body[7]]));
            let mode = match opcode {
                SET | SETQ if cas != 0 => StoreMode::Cas,
                SET | SETQ => StoreMode::Set,
                ADD | ADDQ => StoreMode::Add,
                _ if cas != 0 => StoreMode::Cas,
                _ => StoreMode::Replace,
            };
            let key = Bytes::copy_from_slice(&body[8..8 + keylen]);
            let data = Bytes::copy_from_slice(&body[8 + keylen..]);
            let store = Store { mode, key, flags, exptime, data, cas, noreply: false };
            Op::Store { store, quiet: matches!(opcode, SETQ | ADDQ | REPLACEQ) }
        }
        _ => {
            let Some(key) = buf.get(HEADER..HEADER + keylen) else { return Next::Incomplete };
            let key = Bytes::copy_from_slice(key);
            match opcode {
                DELETE | DELETEQ => Op::Delete { key, cas, quiet: opcode == DELETEQ },
                _ => Op::Get { key, with_key: matches!(opcode, GETK | GETKQ), quiet: matches!(opcode, GETQ | GETKQ) },
            }
        }
    };
    Next::Ready { req: request(op), consumed: HEADER + bodylen, swallow: 0 }
}

/// Executes one binary request, appending its reply to `out`.
pub fn execute(shared: &Shared, mc: &McState, req: Request, out: &mut Vec<u8>) -> After {
    let now = shared.db.clock.now_ms();
    let Request { opcode, opaque, op } = req;
    let error = |out: &mut Vec<u8>, status| put(out, opcode, status, 0, &[], &[], error_text(status), &opaque);
    match op {
        Op::Error { status, close } => {
            error(out, status);
            if close {
                return After::Close;
            }
        }
        Op::Noop => put(out, opcode, 0, 0, &[], &[], &[], &opaque),
        Op::Version => {
            put(out, opcode, 0, 0, &[], &[], super::commands::MEMCACHED_VERSION.as_bytes(), &opaque);
        }
        Op::Quit { quiet } => {
            if !quiet {
                put(out, opcode, 0, 0, &[], &[], &[], &opaque);
            }
            return After::Close;
        }
        Op::Get { key, with_key, quiet } => {
            mc.stats.cmd_get.fetch_add(1, Relaxed);
            let found = shared.db.get(DB, &key, now).filter(|e| matches!(e.value, Value::Str(_)));
            let found = match found {
                Some(e) if e.cas() == 0 => shared.db.peek_with_cas(DB, &key, now).or(Some(e)),
                e => e,
            };
            match &found {
                Some(e @ Entry { value: Value::Str(data), .. }) => {
                    mc.stats.get_hits.fetch_add(1, Relaxed);
                    let k: &[u8] = if with_key { &key } else { &[] };
                    put(out, opcode, 0, e.cas(), &e.flags().to_be_bytes(), k, data, &opaque);
                }
                _ => {
                    mc.stats.get_misses.fetch_add(1, Relaxed);
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
            mc.stats.cmd_set.fetch_add(1, Relaxed);
            let (r, cas) = apply_store(shared, &store, now, super::item::fresh(now), false);
            let status = match (r, store.mode) {
                (Stored::Stored, _) => 0,
                (Stored::NotStored, StoreMode::Add) | (Stored::Exists, _) => EXISTS,
                (Stored::NotStored | Stored::NotFound, _) => NOT_FOUND,
                (Stored::OutOfMemory, _) => NO_MEMORY,
            };
            if status != 0 {
                error(out, status);
            } else if !quiet {
                put(out, opcode, 0, cas, &[], &[], &[], &opaque);
            }
        }
        Op::TooLarge { key, set } => {
            if set {
                shared.db.remove(DB, &key, now);
            }
            error(out, TOO_LARGE);
        }
        Op::Delete { key, cas, quiet } => {
            let status = shared.db.update(DB, &key, now, |cur| match cur.get() {
                None => NOT_FOUND,
                Some(e) if cas != 0 && e.cas() != cas => EXISTS,
                Some(_) => {
                    cur.delete();
                    0
                }
            });
            if status == NOT_FOUND { &mc.stats.delete_misses } else { &mc.stats.delete_hits }.fetch_add(1, Relaxed);
            if status != 0 {
                error(out, status);
            } else if !quiet {
                put(out, opcode, 0, 0, &[], &[], &[], &opaque);
            }
        }
    }
    After::Continue
}
