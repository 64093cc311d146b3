//! Stream ids as arguments and entries as replies, shared by every stream command (XADD … XREAD
//! here, XREADGROUP, XCLAIM, XPENDING in [`super::groups`], XINFO in [`super::info`]): the
//! `<ms>-<seq>` parser with Redis 7.0's quirks (its numbers are read like C's `strtoull`), the
//! special ids `-`, `+`, the `(`-exclusive interval bounds, XADD's `*` and `<ms>-*`, and the
//! writer of an entry reply `[id, [field, value, …]]` (the same shape in RESP2 and RESP3).
//!
//! It knows nothing of keys or the keyspace; the type is [`crate::types::stream`].

use crate::commands::CmdError;
use crate::frame::parse_i64;
use crate::reply::Reply;
use crate::types::stream::{Fields, StreamId};
use bytes::Bytes;

/// Any id argument that does not parse.
pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
/// Redis keeps an entry's fields and values in one listpack, which holds at most this many bytes.
pub const MAX_ENTRY_BYTES: usize = 1 << 30;

/// XADD's size check, after its id check as in Redis: fields and values over [`MAX_ENTRY_BYTES`]
/// in total are refused.
pub fn check_entry_size(fields: &[Bytes]) -> Result<(), CmdError> {
    let total: usize = fields.iter().map(Bytes::len).sum();
    if total > MAX_ENTRY_BYTES {
        return Err("ERR Elements are too large to be stored".into());
    }
    Ok(())
}

/// XADD with an explicit id not above the stream's last id.
pub const ID_TOO_SMALL: &str = "ERR The ID specified in XADD is equal or smaller than the target stream top item";
/// XADD with the explicit id `0-0`.
pub const ID_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
/// XADD `*` (or `<ms>-*`) when no greater id exists.
pub const EXHAUSTED: &str = "ERR The stream has exhausted the last possible ID, unable to add more items";
/// XRANGE / XREVRANGE with an exclusive start that has no successor (`(`max).
pub const BAD_START: &str = "ERR invalid start ID for the interval";
/// XRANGE / XREVRANGE with an exclusive end that has no predecessor (`(0-0`).
pub const BAD_END: &str = "ERR invalid end ID for the interval";

/// Reads a number like Redis's `string2ull`: a canonical negative integer is refused; anything
/// else goes to C's `strtoull` (leading white space, a sign — `-` negates modulo 2^64 —, leading
/// zeros), which must consume every byte and not overflow.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = s.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')).count();
    let neg = match s.get(i) {
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
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// How an id argument was written (see [`parse_id_form`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdForm {
    /// `-` (`0-0`) or `+` (the maximum id).
    Special(StreamId),
    /// `<ms>-<seq>`, or `<ms>` alone with the sequence the caller gave as missing.
    Given(StreamId),
    /// `<ms>-*` (XADD only: the next sequence of `ms`).
    SeqAuto(u64),
}

/// Parses `<ms>[-<seq>]`, `-`, `+` and (if `seq_star`) `<ms>-*`, as Redis's
/// `streamGenericParseIDOrReply`: a missing sequence is `missing_seq` (0 for a start, the maximum
/// for an end).
pub fn parse_id_form(arg: &[u8], missing_seq: u64, seq_star: bool) -> Result<IdForm, CmdError> {
    // Redis copies the argument into a 128-byte C string: longer is invalid, a NUL ends it.
    if arg.len() > 127 {
        return Err(INVALID_ID.into());
    }
    let arg = arg.split(|&c| c == 0).next().unwrap_or_default();
    match arg {
        b"-" => return Ok(IdForm::Special(StreamId::MIN)),
        b"+" => return Ok(IdForm::Special(StreamId::MAX)),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&c| c == b'-') {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms).ok_or(INVALID_ID)?;
    match seq {
        None => Ok(IdForm::Given(StreamId { ms, seq: missing_seq })),
        Some(b"*") if seq_star => Ok(IdForm::SeqAuto(ms)),
        Some(seq) => Ok(IdForm::Given(StreamId { ms, seq: string2ull(seq).ok_or(INVALID_ID)? })),
    }
}

/// An id where `-` and `+` stand for the least and greatest ids (XRANGE bounds, XREAD ids
/// use [`parse_strict_id`]). A missing sequence is `missing_seq`.
pub fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    match parse_id_form(arg, missing_seq, false)? {
        IdForm::Special(id) | IdForm::Given(id) => Ok(id),
        IdForm::SeqAuto(_) => Err(INVALID_ID.into()),
    }
}

/// An id that must be written out (`-` and `+` are invalid): XDEL, XREAD, XSETID, MINID, XACK,
/// XCLAIM… (Redis's `streamParseStrictIDOrReply`). A missing sequence is `missing_seq`.
pub fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    match parse_id_form(arg, missing_seq, false)? {
        IdForm::Given(id) => Ok(id),
        _ => Err(INVALID_ID.into()),
    }
}

/// XADD's id argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddId {
    /// `*`: the current time, or the next sequence of the last id.
    Auto,
    /// `<ms>-*`: the next sequence of `ms` (0 if the stream's last id is older).
    Seq(u64),
    /// An explicit id (`<ms>` alone means `<ms>-0`).
    Explicit(StreamId),
}

/// Parses XADD's id: `*`, `<ms>-*` or a strict id.
pub fn parse_add_id(arg: &[u8]) -> Result<AddId, CmdError> {
    if arg == b"*" {
        return Ok(AddId::Auto);
    }
    match parse_id_form(arg, 0, true)? {
        IdForm::Given(id) => Ok(AddId::Explicit(id)),
        IdForm::SeqAuto(ms) => Ok(AddId::Seq(ms)),
        IdForm::Special(_) => Err(INVALID_ID.into()),
    }
}

/// The id XADD stores for `want` in a stream whose last id is `last`, at time `now_ms`, with
/// Redis's errors (`0-0`, not above the last id, exhausted).
pub fn next_add_id(want: AddId, last: StreamId, now_ms: u64) -> Result<StreamId, CmdError> {
    match want {
        AddId::Auto => {
            if now_ms > last.ms {
                Ok(StreamId { ms: now_ms, seq: 0 })
            } else {
                last.next().ok_or_else(|| EXHAUSTED.into())
            }
        }
        AddId::Seq(ms) => {
            if ms > last.ms {
                Ok(StreamId { ms, seq: 0 })
            } else if ms == last.ms {
                match last.seq.checked_add(1) {
                    Some(seq) => Ok(StreamId { ms, seq }),
                    None => Err(ID_TOO_SMALL.into()),
                }
            } else {
                Err(ID_TOO_SMALL.into())
            }
        }
        AddId::Explicit(id) if id == StreamId::MIN => Err(ID_ZERO.into()),
        AddId::Explicit(id) if id <= last => Err(ID_TOO_SMALL.into()),
        AddId::Explicit(id) => Ok(id),
    }
}

/// One bound of an XRANGE / XREVRANGE interval: `(<id>` is exclusive (Redis 6.2+), `-` and `+`
/// only inclusive. Returns the id and whether it excludes itself.
pub fn parse_interval_bound(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    match arg.strip_prefix(b"(") {
        Some(rest) if !rest.is_empty() => Ok((parse_strict_id(rest, missing_seq)?, true)),
        _ => Ok((parse_id(arg, missing_seq)?, false)),
    }
}

/// The inclusive `(lo, hi)` of an XRANGE-style interval given as `start end` arguments (XREVRANGE
/// passes them swapped back): parses each and moves it inward if exclusive, start first, with
/// Redis's errors in its order.
pub fn parse_interval(start: &[u8], end: &[u8]) -> Result<(StreamId, StreamId), CmdError> {
    let (lo, lo_ex) = parse_interval_bound(start, 0)?;
    let lo = if lo_ex { lo.next().ok_or(BAD_START)? } else { lo };
    let (hi, hi_ex) = parse_interval_bound(end, u64::MAX)?;
    let hi = if hi_ex { hi.prev().ok_or(BAD_END)? } else { hi };
    Ok((lo, hi))
}

/// Writes an id as a bulk string.
pub fn write_id(out: &mut Reply, id: StreamId) {
    let mut buf = [0u8; 41];
    out.bulk(format_id(id, &mut buf));
}

/// Formats `<ms>-<seq>` into `buf` without allocating; returns the used part.
pub fn format_id(id: StreamId, buf: &mut [u8; 41]) -> &[u8] {
    let mut tmp = [0u8; 20];
    let ms = fmt_u64(id.ms, &mut tmp);
    let n = ms.len();
    buf[..n].copy_from_slice(ms);
    buf[n] = b'-';
    let seq = fmt_u64(id.seq, &mut tmp);
    buf[n + 1..n + 1 + seq.len()].copy_from_slice(seq);
    &buf[..n + 1 + seq.len()]
}

fn fmt_u64(mut v: u64, tmp: &mut [u8; 20]) -> &[u8] {
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &tmp[i..]
}

/// Writes one entry: `[id, [field, value, …]]` (arrays in RESP2 and RESP3).
pub fn write_entry(out: &mut Reply, id: StreamId, fields: Fields<'_>) {
    out.array(2);
    write_id(out, id);
    out.array(fields.len() * 2);
    for (f, v) in fields.pairs() {
        out.bulk(f);
        out.bulk(v);
    }
}

/// Writes an array of entries.
pub fn write_entries<'a>(out: &mut Reply, entries: impl ExactSizeIterator<Item = (StreamId, Fields<'a>)>) {
    out.array(entries.len());
    for (id, f) in entries {
        write_entry(out, id, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    #[test]
    fn numbers_read_like_strtoull() {
        for (arg, want) in [
            ("1-1", Some(id(1, 1))),
            (" 5", Some(id(5, 0))),
            ("+5", Some(id(5, 0))),
            ("007", Some(id(7, 0))),
            ("1- 5", Some(id(1, 5))),
            ("1-+5", Some(id(1, 5))),
            ("1--0", Some(id(1, 0))),
            ("1--1", None),
            ("1--9223372036854775809", Some(id(1, 9223372036854775807))),
            ("18446744073709551615", Some(id(u64::MAX, 0))),
            ("18446744073709551616", None),
            ("5-", None),
            ("-5", None),
            ("1-2-3", None),
            ("(1", None),
            ("1.5", None),
            ("", None),
            ("-", None),
            ("+", None),
        ] {
            assert_eq!(parse_strict_id(arg.as_bytes(), 0).ok(), want, "{arg:?}");
        }
        assert_eq!(parse_id(b"-", 0), Ok(StreamId::MIN));
        assert_eq!(parse_id(b"+", 0), Ok(StreamId::MAX));
        assert_eq!(parse_id(b"7", u64::MAX), Ok(id(7, u64::MAX)));
        assert!(parse_id(&[b'1'; 128], 0).is_err());
    }

    #[test]
    fn xadd_ids() {
        assert_eq!(parse_add_id(b"*"), Ok(AddId::Auto));
        assert_eq!(parse_add_id(b"5-*"), Ok(AddId::Seq(5)));
        assert_eq!(parse_add_id(b"5"), Ok(AddId::Explicit(id(5, 0))));
        assert!(parse_add_id(b"-").is_err() && parse_add_id(b"*-1").is_err());
        let last = id(5, 3);
        assert_eq!(next_add_id(AddId::Auto, last, 9), Ok(id(9, 0)));
        assert_eq!(next_add_id(AddId::Auto, last, 2), Ok(id(5, 4)));
        assert_eq!(next_add_id(AddId::Auto, StreamId::MAX, 2), Err(EXHAUSTED.into()));
        assert_eq!(next_add_id(AddId::Seq(5), last, 0), Ok(id(5, 4)));
        assert_eq!(next_add_id(AddId::Seq(4), last, 0), Err(ID_TOO_SMALL.into()));
        assert_eq!(next_add_id(AddId::Seq(6), last, 0), Ok(id(6, 0)));
        assert_eq!(next_add_id(AddId::Explicit(id(0, 0)), StreamId::MIN, 0), Err(ID_ZERO.into()));
        assert_eq!(next_add_id(AddId::Explicit(id(5, 3)), last, 0), Err(ID_TOO_SMALL.into()));
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval(b"-", b"+"), Ok((StreamId::MIN, StreamId::MAX)));
        assert_eq!(parse_interval(b"(5", b"(7"), Ok((id(5, 1), id(7, u64::MAX - 1))));
        assert_eq!(parse_interval(b"(-", b"+"), Err(INVALID_ID.into()));
        assert_eq!(parse_interval(b"(18446744073709551615-18446744073709551615", b"+"), Err(BAD_START.into()));
        assert_eq!(parse_interval(b"-", b"(0-0"), Err(BAD_END.into()));
        assert_eq!(parse_interval(b"(", b"+"), Err(INVALID_ID.into()));
    }

    #[test]
    fn entry_reply() {
        let pairs = [bytes::Bytes::from_static(b"f"), bytes::Bytes::from_static(b"v")];
        let mut out = Reply::default();
        let mut s = crate::types::stream::Stream::default();
        s.append(id(1, 2), &pairs);
        write_entry(&mut out, id(1, 2), s.get(id(1, 2)).unwrap());
        assert_eq!(&out.buf[..], b"*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    }

    #[test]
    fn entries_over_a_gibibyte_in_total_are_refused() {
        // Zeroed pages are never touched: the test costs address space, not memory.
        let half = Bytes::from(vec![0u8; MAX_ENTRY_BYTES / 2]);
        let fields = [half.clone(), half.clone()];
        assert!(check_entry_size(&fields).is_ok(), "exactly the limit fits");
        let over = [half.clone(), half, Bytes::from_static(b"x")];
        let err = check_entry_size(&over).unwrap_err();
        assert_eq!(err.0, "ERR Elements are too large to be stored");
    }
}
