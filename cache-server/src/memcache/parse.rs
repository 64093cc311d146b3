//! The Memcached request decoder: frames one command line (and, for storage commands, its data
//! block) out of a read buffer and turns it into a typed [`Request`]. It knows memcached 1.6's
//! limits and the exact error each malformed line earns, and nothing about the keyspace.
//!
//! Framing follows memcached: a line ends at `\n` (a preceding `\r` is dropped); tokens are split
//! on spaces; a buffer holding 2048 bytes without a newline closes the connection unless it is a
//! long `get`/`gets`; a storage command waits for `<bytes>\r\n` of data, and a block not ending in
//! `\r\n` is answered `CLIENT_ERROR bad data chunk` while the bytes after it are read as the next
//! command (memcached's behaviour), so the connection never desynchronises on a length mistake.

use bytes::Bytes;

/// Longest key memcached accepts.
pub const KEY_MAX: usize = 250;
/// Bytes without a newline after which a connection is closed.
pub const LINE_MAX: usize = 2048;
/// Bytes memcached counts per item beyond key and value (item header, CAS, terminators), used for
/// the item size limit so the largest accepted value matches memcached's.
pub const ITEM_HEADER: usize = 48 + 8 + 1 + 2;
/// Exptimes above this many seconds are absolute Unix times.
pub const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;

/// A storage command's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `set`: store unconditionally.
    Set,
    /// `add`: store only if absent.
    Add,
    /// `replace`: store only if present.
    Replace,
    /// `append`: add after the existing data.
    Append,
    /// `prepend`: add before the existing data.
    Prepend,
    /// `cas`: store only if the CAS unique still matches.
    Cas,
}

/// A parsed storage command.
#[derive(Debug, Clone)]
pub struct Store {
    /// What kind of store.
    pub mode: StoreMode,
    /// The key.
    pub key: Bytes,
    /// Client flags.
    pub flags: u32,
    /// Exptime as sent (seconds, or a Unix time past 30 days, negative = expired).
    pub exptime: i64,
    /// The data block without its `\r\n`.
    pub data: Bytes,
    /// The CAS unique to compare (`cas` only).
    pub cas: u64,
    /// Suppress the reply.
    pub noreply: bool,
}

/// One decoded request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Request {
    /// `get`/`gets`/`gat`/`gats`.
    Get {
        /// Keys in request order, not yet validated: memcached handles (and for `gat`, touches)
        /// the keys before a bad one, then replaces the whole reply with the error.
        keys: Vec<Bytes>,
        /// Include CAS uniques (`gets`, `gats`).
        cas: bool,
        /// New exptime (`gat`, `gats`).
        touch: Option<i64>,
    },
    /// A storage command.
    Store(Store),
    /// `incr`/`decr`.
    Delta {
        /// True for incr.
        incr: bool,
        /// The key.
        key: Bytes,
        /// Amount.
        delta: u64,
        /// Suppress the reply.
        noreply: bool,
    },
    /// `touch`.
    Touch {
        /// The key.
        key: Bytes,
        /// New exptime.
        exptime: i64,
        /// Suppress the reply.
        noreply: bool,
    },
    /// `delete`.
    Delete {
        /// The key.
        key: Bytes,
        /// Suppress the reply.
        noreply: bool,
    },
    /// `flush_all [delay] [noreply]`.
    FlushAll {
        /// Seconds before the flush (0 = now).
        delay: i64,
        /// Suppress the reply.
        noreply: bool,
    },
    /// `version`.
    Version,
    /// `verbosity <level> [noreply]`.
    Verbosity {
        /// The level, or `None` when it is not a number (`CLIENT_ERROR bad command line format`).
        level: Option<u32>,
        /// Suppress the reply.
        noreply: bool,
    },
    /// `stats [group]`.
    Stats(Vec<Bytes>),
    /// `quit`.
    Quit,
    /// A meta command: its letter (`g`, `s`, `d`, `a`, `n`, `e`), tokens after the command, and the
    /// data block of `ms`.
    Meta {
        /// Second letter of the command.
        cmd: u8,
        /// Tokens after the command name.
        tokens: Vec<Bytes>,
        /// What came with an `ms` (the flags are checked before the block's shape, as memcached
        /// does, so the block is only classified here).
        data: MetaData,
    },
    /// A fixed reply (an error), suppressed when `noreply`.
    Fail {
        /// The reply line without `\r\n`.
        msg: &'static str,
        /// Suppress it.
        noreply: bool,
    },
    /// The item is larger than the item size limit: `SERVER_ERROR object too large for cache`; a
    /// `set` also deletes the key (as memcached does, so no stale value survives).
    TooLarge {
        /// The key.
        key: Bytes,
        /// The command.
        mode: StoreMode,
        /// Suppress the reply.
        noreply: bool,
    },
}

/// The data block of an `ms`, already consumed from the buffer (or being swallowed).
#[derive(Debug, Clone)]
pub enum MetaData {
    /// Not an `ms`.
    None,
    /// The block without its `\r\n`.
    Block(Bytes),
    /// The block did not end in `\r\n`.
    BadChunk,
    /// Larger than the item size limit (being swallowed).
    TooLarge,
}

/// What a decoder (text here, binary in [`super::binary`]) found at the front of the buffer.
#[derive(Debug)]
pub enum Next<R = Request> {
    /// Not a whole request yet.
    Incomplete,
    /// Close the connection without a reply (a line too long without a newline, a bad header).
    Close,
    /// A request; `consumed` bytes are done with, and `swallow` more bytes (a too-large data block)
    /// must be discarded as they arrive.
    Ready {
        /// The request.
        req: R,
        /// Bytes of the buffer it used.
        consumed: usize,
        /// Further bytes to discard.
        swallow: usize,
    },
}

fn ready(req: Request, consumed: usize) -> Next {
    Next::Ready { req, consumed, swallow: 0 }
}

fn fail(msg: &'static str, noreply: bool, consumed: usize) -> Next {
    ready(Request::Fail { msg, noreply }, consumed)
}

/// `CLIENT_ERROR bad command line format`, the reply to most malformed lines.
pub const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";

/// C's `isspace`.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parses like C's `strtoull`/`strtol` as memcached's `safe_strto*` wrap them: leading whitespace,
/// a sign, at least one digit, then the end or whitespace. Returns (negative, magnitude).
pub fn c_number(tok: &[u8]) -> Option<(bool, u128)> {
    let mut i = tok.iter().take_while(|b| is_space(**b)).count();
    let neg = match tok.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = tok[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut v: u128 = 0;
    for b in &tok[i..i + digits] {
        v = v.saturating_mul(10).saturating_add(u128::from(b - b'0'));
    }
    match tok.get(i + digits) {
        None => Some((neg, v)),
        Some(b) if is_space(*b) => Some((neg, v)),
        _ => None,
    }
}

/// memcached's `safe_strtoull`: unsigned 64-bit; a minus sign is refused when it would wrap.
pub fn parse_u64(tok: &[u8]) -> Option<u64> {
    let (neg, v) = c_number(tok)?;
    if v > u128::from(u64::MAX) {
        return None;
    }
    let v = v as u64;
    if neg {
        let wrapped = v.wrapping_neg();
        return if v != 0 && (wrapped as i64) < 0 { None } else { Some(wrapped) };
    }
    Some(v)
}

/// memcached's `safe_strtol` on a 64-bit build: C's `strtol` (a `long`, so only a value beyond
/// 64 bits is refused) stored into an `int32_t`, which keeps the low 32 bits. memcached 1.6.18
/// thus takes `set k 0 4294967396 1` as exptime 100 and `set k 0 0 4294967297` as length 1.
pub fn parse_i32(tok: &[u8]) -> Option<i32> {
    let (neg, v) = c_number(tok)?;
    let v = i128::try_from(v).ok()?;
    let v = i64::try_from(if neg { -v } else { v }).ok()?;
    Some(v as i32)
}

/// memcached's `safe_strtoul` into 32-bit flags (wider values truncate as on a 64-bit build).
pub fn parse_flags(tok: &[u8]) -> Option<u32> {
    parse_u64(tok).map(|v| v as u32)
}

/// True when `key` is a valid memcached key: 1..=250 bytes, no control characters.
pub fn key_ok(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= KEY_MAX && !key.iter().any(|b| *b < 0x20 || *b == 0x7f)
}

/// Decodes the request at the front of `buf`. `max_item` is the item size limit.
pub fn next(buf: &[u8], max_item: usize) -> Next {
    let Some(nl) = memchr(buf) else {
        let trimmed = &buf[buf.iter().take_while(|b| **b == b' ').count()..];
        let multiget = trimmed.starts_with(b"get ") || trimmed.starts_with(b"gets ");
        let limit = if multiget { max_item.max(LINE_MAX) } else { LINE_MAX };
        return if buf.len() > limit { Next::Close } else { Next::Incomplete };
    };
    let end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
    let line = &buf[..end];
    let consumed = nl + 1;
    let tokens: Vec<&[u8]> = line.split(|b| *b == b' ').filter(|t| !t.is_empty()).collect();
    let Some(cmd) = tokens.first() else { return fail("ERROR", false, consumed) };
    if cmd.len() < 2 {
        return fail("ERROR", false, consumed);
    }
    let n = tokens.len();
    let noreply = tokens.last().is_some_and(|t| *t == b"noreply");
    let key = |i: usize| Bytes::copy_from_slice(tokens[i]);
    match *cmd {
        [b'm', c] => meta(*c, &tokens, buf, consumed, max_item),
        b"get" | b"gets" | b"gat" | b"gats" => {
            let touch = cmd.starts_with(b"gat");
            let first = if touch { 2 } else { 1 };
            if n <= first {
                return fail("ERROR", false, consumed);
            }
            let exptime = if touch {
                match parse_i32(tokens[1]) {
                    Some(e) => Some(i64::from(e)),
                    None => return fail("CLIENT_ERROR invalid exptime argument", false, consumed),
                }
            } else {
                None
            };
            let keys = tokens[first..].iter().map(|k| Bytes::copy_from_slice(k)).collect();
            ready(Request::Get { keys, cas: cmd.ends_with(b"s"), touch: exptime }, consumed)
        }
        b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" => {
            let mode = match *cmd {
                b"set" => StoreMode::Set,
                b"add" => StoreMode::Add,
                b"replace" => StoreMode::Replace,
                b"append" => StoreMode::Append,
                b"prepend" => StoreMode::Prepend,
                _ => StoreMode::Cas,
            };
            let want = if mode == StoreMode::Cas { 6 } else { 5 };
            if n != want && n != want + 1 {
                return fail("ERROR", false, consumed);
            }
            let noreply = noreply && n == want + 1;
            if !key_ok(tokens[1]) {
                return fail(BAD_FORMAT, noreply, consumed);
            }
            let (Some(flags), Some(exptime), Some(vlen)) =
                (parse_flags(tokens[2]), parse_i32(tokens[3]), parse_i32(tokens[4]))
            else {
                return fail(BAD_FORMAT, noreply, consumed);
            };
            let cas = if mode == StoreMode::Cas {
                match parse_u64(tokens[5]) {
                    Some(c) => c,
                    None => return fail(BAD_FORMAT, noreply, consumed),
                }
            } else {
                0
            };
            // memcached adds 2 for the terminator in a signed int: a length that overflows it is a
            // malformed line (no data block is skipped).
            let Some(vlen) = vlen.checked_add(2).and_then(|_| usize::try_from(vlen).ok()) else {
                return fail(BAD_FORMAT, noreply, consumed);
            };
            if tokens[1].len() + vlen + ITEM_HEADER > max_item {
                let req = Request::TooLarge { key: key(1), mode, noreply };
                return Next::Ready { req, consumed, swallow: vlen + 2 };
            }
            let Some(block) = buf.get(consumed..consumed + vlen + 2) else { return Next::Incomplete };
            let total = consumed + vlen + 2;
            if !block.ends_with(b"\r\n") {
                return fail("CLIENT_ERROR bad data chunk", noreply, total);
            }
            let data = Bytes::copy_from_slice(&block[..vlen]);
            let store = Store { mode, key: key(1), flags, exptime: i64::from(exptime), data, cas, noreply };
            ready(Request::Store(store), total)
        }
        b"incr" | b"decr" => {
            if n != 3 && n != 4 {
                return fail("ERROR", false, consumed);
            }
            let noreply = noreply && n == 4;
            if !key_ok(tokens[1]) {
                return fail(BAD_FORMAT, noreply, consumed);
            }
            let Some(delta) = parse_u64(tokens[2]) else {
                return fail("CLIENT_ERROR invalid numeric delta argument", noreply, consumed);
            };
            ready(Request::Delta { incr: *cmd == b"incr", key: key(1), delta, noreply }, consumed)
        }
        b"touch" => {
            if n != 3 && n != 4 {
                return fail("ERROR", false, consumed);
            }
            let noreply = noreply && n == 4;
            if !key_ok(tokens[1]) {
                return fail(BAD_FORMAT, noreply, consumed);
            }
            let Some(exptime) = parse_i32(tokens[2]) else {
                return fail("CLIENT_ERROR invalid exptime argument", noreply, consumed);
            };
            ready(Request::Touch { key: key(1), exptime: i64::from(exptime), noreply }, consumed)
        }
        b"delete" => {
            if !(2..=4).contains(&n) {
                return fail("ERROR", false, consumed);
            }
            let noreply = noreply && n > 2;
            if n > 2 {
                let zero = tokens[2] == b"0";
                if !((n == 3 && (zero || noreply)) || (n == 4 && zero && noreply)) {
                    return fail(
                        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
                        noreply,
                        consumed,
                    );
                }
            }
            if !key_ok(tokens[1]) {
                return fail(BAD_FORMAT, noreply, consumed);
            }
            ready(Request::Delete { key: key(1), noreply }, consumed)
        }
        b"flush_all" => {
            if n > 3 {
                return fail("ERROR", false, consumed);
            }
            let noreply = noreply && n > 1;
            if n == if noreply { 2 } else { 1 } {
                return ready(Request::FlushAll { delay: 0, noreply }, consumed);
            }
            match parse_i32(tokens[1]) {
                Some(d) => ready(Request::FlushAll { delay: i64::from(d), noreply }, consumed),
                None => fail("CLIENT_ERROR invalid exptime argument", noreply, consumed),
            }
        }
        b"version" => ready(Request::Version, consumed),
        b"quit" => ready(Request::Quit, consumed),
        b"verbosity" => {
            if n != 2 && n != 3 {
                return fail("ERROR", false, consumed);
            }
            // memcached takes a trailing `noreply` wherever it is, even as the level itself.
            // `safe_strtoul` into 32 bits: a wider number is truncated.
            ready(Request::Verbosity { level: parse_u64(tokens[1]).map(|v| v as u32), noreply }, consumed)
        }
        b"stats" => ready(Request::Stats(tokens[1..].iter().map(|t| Bytes::copy_from_slice(t)).collect()), consumed),
        _ if looks_like_http(&tokens) => Next::Close,
        _ => fail("ERROR", false, consumed),
    }
}

/// memcached's defence against cross-protocol requests: a line it does not know whose last token
/// (of the first 23, its tokenizer's limit) starts with `HTTP/` closes the connection at once.
/// Commands starting with one of memcached's own command letters (`g s a c i d t`) get `ERROR`
/// instead, as memcached dispatches on that letter first.
fn looks_like_http(tokens: &[&[u8]]) -> bool {
    let last = tokens[tokens.len().min(23) - 1];
    !b"gsacidt".contains(&tokens[0][0]) && last.starts_with(b"HTTP/")
}

/// Tokens (key and flags) a meta command may carry after its name: memcached's
/// `MFLAG_MAX_OPT_LENGTH` (20) counts the command and its end marker too.
pub const META_MAX_TOKENS: usize = 18;

/// Frames a meta command; `ms` also takes its data block. memcached refuses a missing key
/// (`ERROR`), then for `ms` a long key, too many flags or a bad length without reading the data
/// block; anything found later (bad flags, too large, a bad block end) comes after the block.
fn meta(c: u8, tokens: &[&[u8]], buf: &[u8], consumed: usize, max_item: usize) -> Next {
    if !b"gsdane".contains(&c) {
        return fail("ERROR", false, consumed);
    }
    let rest: Vec<Bytes> = tokens[1..].iter().map(|t| Bytes::copy_from_slice(t)).collect();
    if c != b's' {
        return ready(Request::Meta { cmd: c, tokens: rest, data: MetaData::None }, consumed);
    }
    match tokens.len() {
        1 => return fail("ERROR", false, consumed),
        2 => return fail(BAD_FORMAT, false, consumed),
        _ if tokens[1].len() > KEY_MAX => return fail(BAD_FORMAT, false, consumed),
        n if n - 1 > META_MAX_TOKENS => return fail("CLIENT_ERROR options flags too long", false, consumed),
        _ => {}
    }
    let Some(vlen) = parse_i32(tokens[2]).filter(|v| (0..i32::MAX - 1).contains(v)).map(|v| v as usize) else {
        return fail(BAD_FORMAT, false, consumed);
    };
    if tokens[1].len() + vlen + ITEM_HEADER > max_item {
        let req = Request::Meta { cmd: c, tokens: rest, data: MetaData::TooLarge };
        return Next::Ready { req, consumed, swallow: vlen + 2 };
    }
    let Some(block) = buf.get(consumed..consumed + vlen + 2) else { return Next::Incomplete };
    let data = if block.ends_with(b"\r\n") {
        MetaData::Block(Bytes::copy_from_slice(&block[..vlen]))
    } else {
        MetaData::BadChunk
    };
    ready(Request::Meta { cmd: c, tokens: rest, data }, consumed + vlen + 2)
}

fn memchr(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|b| *b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_c_rules() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"-0"), Some(0));
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_i32(b"-5"), Some(-5));
        assert_eq!(parse_i32(b"2147483648"), Some(i32::MIN));
        assert_eq!(parse_i32(b"4294967396"), Some(100));
        assert_eq!(parse_i32(b"9223372036854775808"), None);
        assert_eq!(parse_i32(b"-9223372036854775808"), Some(0));
        assert_eq!(parse_flags(b"4294967295"), Some(u32::MAX));
    }

    #[test]
    fn incomplete_data_waits_and_long_lines_close() {
        assert!(matches!(next(b"set k 0 0 5\r\nab", 1 << 20), Next::Incomplete));
        assert!(matches!(next(&[b'x'; 2049], 1 << 20), Next::Close));
        assert!(matches!(next(&[b'x'; 2048], 1 << 20), Next::Incomplete));
        let Next::Ready { consumed, .. } = next(b"set k 0 0 1\r\nabc\r\n", 1 << 20) else { panic!() };
        assert_eq!(consumed, 16);
    }
}
