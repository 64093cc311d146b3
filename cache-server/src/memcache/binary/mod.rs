//! The Memcached binary protocol (deprecated by memcached, still served by 1.6.18): a connection
//! whose first byte is the request magic 0x80 speaks it for its whole life, as memcached's
//! auto-negotiation does. This file owns framing (24-byte headers) and validation with
//! memcached's status codes; `execute.rs` runs the requests over the keyspace (through
//! `commands.rs`), `stat.rs` turns `stats` groups into STAT packets.
//!
//! Served: GET, GETQ, GETK, GETKQ, SET(Q), ADD(Q), REPLACE(Q), DELETE(Q), INCREMENT(Q),
//! DECREMENT(Q), APPEND(Q), PREPEND(Q), QUIT(Q), FLUSH(Q), NOOP, VERSION, STAT, TOUCH, GAT(Q),
//! GATK(Q). Anything else (SASL included: there is no SASL here, as in a memcached started without
//! `-S`; VERBOSITY, which 1.6.18 does not serve either) is answered `Unknown command` (0x81) and
//! its body skipped. As in memcached 1.6.18:
//! - a header whose key and extras do not fit its body length: `Unknown command`, then close;
//! - a key over 250 bytes, or a body shape the opcode does not take (GET with extras, SET
//!   without its 8 bytes of flags + exptime, INCR without its 20, FLUSH with a key, …):
//!   `Invalid arguments`, then close;
//! - a request magic other than 0x80 on a binary connection: close without a reply;
//! - quiet variants suppress success replies (and GETQ/GETKQ/GATQ/GATKQ misses), never errors;
//! - a value over the item size limit: `Too large.` after its bytes are skipped (and SET deletes
//!   the old value); ADD on a present key: `Data exists for key.`; REPLACE on a missing one
//!   and a CAS on a missing one: `Not found`; APPEND/PREPEND on a missing one: `Not stored.`;
//! - INCR/DECR create a missing key with their initial value unless the exptime is 0xffffffff,
//!   answer the new value as 8 bytes, `Non-numeric server-side value for incr or decr` (0x06);
//! - TOUCH answers the item's flags (no value); GAT/GATK as GET/GETK after touching;
//! - exptimes are unsigned 32-bit numbers (so 0xffffffff is a far-future absolute time).
//!
//! Deliberate difference: memcached 1.6.18 waits forever after an unknown opcode that carries a
//! key (it reads the key, then waits to skip the whole body again); we skip the body once.

mod execute;
mod stat;

use super::parse::{ITEM_HEADER, KEY_MAX, Store, StoreMode};
use bytes::Bytes;

pub use execute::execute;

/// First byte of every binary request.
pub const REQUEST_MAGIC: u8 = 0x80;
const RESPONSE_MAGIC: u8 = 0x81;
const HEADER: usize = 24;

const GET: u8 = 0x00;
const SET: u8 = 0x01;
const ADD: u8 = 0x02;
const REPLACE: u8 = 0x03;
const DELETE: u8 = 0x04;
const INCREMENT: u8 = 0x05;
const DECREMENT: u8 = 0x06;
const QUIT: u8 = 0x07;
const FLUSH: u8 = 0x08;
const GETQ: u8 = 0x09;
const NOOP: u8 = 0x0a;
const VERSION: u8 = 0x0b;
const GETK: u8 = 0x0c;
const GETKQ: u8 = 0x0d;
const APPEND: u8 = 0x0e;
const PREPEND: u8 = 0x0f;
const STAT: u8 = 0x10;
const SETQ: u8 = 0x11;
const ADDQ: u8 = 0x12;
const REPLACEQ: u8 = 0x13;
const DELETEQ: u8 = 0x14;
const INCREMENTQ: u8 = 0x15;
const DECREMENTQ: u8 = 0x16;
const QUITQ: u8 = 0x17;
const FLUSHQ: u8 = 0x18;
const APPENDQ: u8 = 0x19;
const PREPENDQ: u8 = 0x1a;
const TOUCH: u8 = 0x1c;
const GAT: u8 = 0x1d;
const GATQ: u8 = 0x1e;
const GATK: u8 = 0x23;
const GATKQ: u8 = 0x24;

const NOT_FOUND: u16 = 0x01;
const EXISTS: u16 = 0x02;
const TOO_LARGE: u16 = 0x03;
const INVALID: u16 = 0x04;
const NOT_STORED: u16 = 0x05;
const DELTA_BADVAL: u16 = 0x06;
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
        DELTA_BADVAL => b"Non-numeric server-side value for incr or decr",
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
    /// GET, GETK, TOUCH, GAT, GATK and their quiet variants.
    Get {
        /// The key.
        key: Bytes,
        /// GETK/GATK: echo the key.
        with_key: bool,
        /// Quiet: no reply on a miss.
        quiet: bool,
        /// TOUCH/GAT: the new exptime.
        touch: Option<u32>,
        /// False for TOUCH (flags only).
        value: bool,
    },
    /// SET/ADD/REPLACE/APPEND/PREPEND (the store's `cas` is the header's).
    Store {
        /// The store.
        store: Store,
        /// Quiet variant.
        quiet: bool,
    },
    /// A too-large store (its value is being skipped).
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
    /// INCREMENT/DECREMENT and their quiet variants.
    Delta {
        /// The key.
        key: Bytes,
        /// True for INCREMENT.
        incr: bool,
        /// Amount.
        delta: u64,
        /// Value stored when the key is missing.
        initial: u64,
        /// Exptime of a created key; 0xffffffff: do not create.
        exptime: u32,
        /// CAS to match (0 = any).
        cas: u64,
        /// Quiet variant.
        quiet: bool,
    },
    /// FLUSH/FLUSHQ.
    Flush {
        /// Seconds before the flush (0 = now).
        delay: u32,
        /// Quiet variant.
        quiet: bool,
    },
    /// STAT with its group (empty = general).
    Stat {
        /// The group.
        group: Bytes,
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

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Whether the header's lengths fit what the opcode takes (memcached's `dispatch_bin_command`);
/// `None` for an opcode not served.
fn shape_ok(opcode: u8, extlen: usize, keylen: usize, bodylen: usize) -> Option<bool> {
    Some(match opcode {
        NOOP | VERSION | QUIT | QUITQ => extlen == 0 && keylen == 0 && bodylen == 0,
        FLUSH | FLUSHQ => keylen == 0 && bodylen == extlen && (extlen == 0 || extlen == 4),
        GET | GETQ | GETK | GETKQ | DELETE | DELETEQ => extlen == 0 && keylen > 0 && bodylen == keylen,
        SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ => extlen == 8 && keylen > 0,
        INCREMENT | INCREMENTQ | DECREMENT | DECREMENTQ => keylen > 0 && extlen == 20 && bodylen == keylen + 20,
        APPEND | APPENDQ | PREPEND | PREPENDQ => keylen > 0 && extlen == 0,
        STAT => extlen == 0,
        TOUCH | GAT | GATQ | GATK | GATKQ => extlen == 4 && keylen > 0,
        _ => return None,
    })
}

/// Decodes the binary request at the front of `buf`; `max_item` is the item size limit.
pub fn next(buf: &[u8], max_item: usize) -> Next {
    let Some(h) = buf.get(..HEADER) else { return Next::Incomplete };
    if h[0] != REQUEST_MAGIC {
        return Next::Close;
    }
    let opcode = h[1];
    let keylen = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let extlen = usize::from(h[4]);
    let bodylen = be32(&h[8..12]) as usize;
    let opaque = [h[12], h[13], h[14], h[15]];
    let cas = be64(&h[16..24]);
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
    match shape_ok(opcode, extlen, keylen, bodylen) {
        None => return error(UNKNOWN, false, HEADER, bodylen),
        Some(false) => return error(INVALID, true, HEADER, 0),
        Some(true) => {}
    }
    let key_at = HEADER + extlen;
    let vlen = bodylen - extlen - keylen;
    // Stores read their value; other requests end after their key (memcached reads no further).
    let stores = matches!(opcode, SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ | APPEND | APPENDQ | PREPEND | PREPENDQ);
    if stores && keylen + vlen + ITEM_HEADER > max_item {
        let Some(key) = buf.get(key_at..key_at + keylen) else { return Next::Incomplete };
        let op = Op::TooLarge { key: Bytes::copy_from_slice(key), set: matches!(opcode, SET | SETQ) };
        return Next::Ready { req: request(op), consumed: key_at + keylen, swallow: vlen };
    }
    let end = if stores { HEADER + bodylen } else { key_at + keylen };
    let Some(frame) = buf.get(..end) else { return Next::Incomplete };
    let ext = &frame[HEADER..key_at];
    let key = Bytes::copy_from_slice(&frame[key_at..key_at + keylen]);
    let op = match opcode {
        NOOP => Op::Noop,
        VERSION => Op::Version,
        QUIT | QUITQ => Op::Quit { quiet: opcode == QUITQ },
        FLUSH | FLUSHQ => Op::Flush { delay: if extlen == 4 { be32(ext) } else { 0 }, quiet: opcode == FLUSHQ },
        STAT => Op::Stat { group: key },
        DELETE | DELETEQ => Op::Delete { key, cas, quiet: opcode == DELETEQ },
        GET | GETQ | GETK | GETKQ | TOUCH | GAT | GATQ | GATK | GATKQ => Op::Get {
            key,
            with_key: matches!(opcode, GETK | GETKQ | GATK | GATKQ),
            quiet: matches!(opcode, GETQ | GETKQ | GATQ | GATKQ),
            touch: matches!(opcode, TOUCH | GAT | GATQ | GATK | GATKQ).then(|| be32(ext)),
            value: opcode != TOUCH,
        },
        INCREMENT | INCREMENTQ | DECREMENT | DECREMENTQ => Op::Delta {
            key,
            incr: matches!(opcode, INCREMENT | INCREMENTQ),
            delta: be64(&ext[..8]),
            initial: be64(&ext[8..16]),
            exptime: be32(&ext[16..20]),
            cas,
            quiet: matches!(opcode, INCREMENTQ | DECREMENTQ),
        },
        _ => {
            let (flags, exptime) = if extlen == 8 { (be32(ext), be32(&ext[4..])) } else { (0, 0) };
            let mode = match opcode {
                APPEND | APPENDQ => StoreMode::Append,
                PREPEND | PREPENDQ => StoreMode::Prepend,
                _ if cas != 0 => StoreMode::Cas,
                SET | SETQ => StoreMode::Set,
                ADD | ADDQ => StoreMode::Add,
                _ => StoreMode::Replace,
            };
            let data = Bytes::copy_from_slice(&frame[key_at + keylen..]);
            let store = Store { mode, key, flags, exptime: i64::from(exptime), data, cas, noreply: false };
            Op::Store { store, quiet: matches!(opcode, SETQ | ADDQ | REPLACEQ | APPENDQ | PREPENDQ) }
        }
    };
    Next::Ready { req: request(op), consumed: end, swallow: 0 }
}
