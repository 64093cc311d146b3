//! Memcached text-protocol side of the load generator: `get <key>` and `set <key> 0 0 <n>`
//! requests, and an incremental decoder for their replies (`VALUE … END` → hit, `END` → miss,
//! `STORED` → stored; `ERROR`, `CLIENT_ERROR …`, `SERVER_ERROR …` and any other status → error).
//!
//! Knows nothing of sockets; the caller hands it the bytes received so far.

use super::proto::{Decoded, Op, Outcome, ProtoError, find_crlf, parse_int};

/// Appends `get <key>\r\n`.
pub fn encode_get(buf: &mut Vec<u8>, key: &[u8]) {
    buf.extend_from_slice(b"get ");
    buf.extend_from_slice(key);
    buf.extend_from_slice(b"\r\n");
}

/// Appends `set <key> 0 0 <len>\r\n<value>\r\n` (flags 0, no expiry).
pub fn encode_set(buf: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    buf.extend_from_slice(b"set ");
    buf.extend_from_slice(key);
    buf.extend_from_slice(b" 0 0 ");
    buf.extend_from_slice(value.len().to_string().as_bytes());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(value);
    buf.extend_from_slice(b"\r\n");
}

/// Longest status line accepted before the reply is declared broken.
const MAX_LINE: usize = 8 * 1024;

/// Decodes the reply to `op` at the start of `buf`.
///
/// # Errors
/// When a line is overlong, a `VALUE` header is malformed, or a value is not followed by `END`.
pub fn decode(op: Op, buf: &[u8]) -> Result<Decoded, ProtoError> {
    let Some(eol) = find_crlf(buf) else {
        return if buf.len() > MAX_LINE { Err(ProtoError("memcached reply line too long".into())) } else { Ok(None) };
    };
    let line = &buf[..eol];
    let head = eol + 2;
    if op == Op::Get && line.starts_with(b"VALUE ") {
        return value(buf, line, head);
    }
    let outcome = match (op, line) {
        (Op::Get, b"END") => Outcome::Miss,
        (Op::Set, b"STORED") => Outcome::Stored,
        (_, l) if is_status(l) => Outcome::Error,
        (_, l) => return Err(ProtoError(format!("unexpected memcached reply {:?}", String::from_utf8_lossy(l)))),
    };
    Ok(Some((outcome, head)))
}

/// A one-line reply that is well formed but not the answer wanted (`NOT_STORED`, `SERVER_ERROR x`).
fn is_status(line: &[u8]) -> bool {
    const STATUS: [&[u8]; 7] =
        [b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR", b"NOT_STORED", b"EXISTS", b"NOT_FOUND", b"END"];
    STATUS.iter().any(|s| line.starts_with(s) && matches!(line.get(s.len()), None | Some(b' ')))
}

/// `VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\nEND\r\n` (one key per get).
fn value(buf: &[u8], line: &[u8], head: usize) -> Result<Decoded, ProtoError> {
    let bad = || ProtoError(format!("bad VALUE line {:?}", String::from_utf8_lossy(line)));
    let bytes = line.split(|&b| b == b' ').nth(3).and_then(parse_int).filter(|&n| n >= 0).ok_or_else(bad)?;
    let data_end = head + bytes as usize;
    let end = data_end + b"\r\nEND\r\n".len();
    if buf.len() < end {
        return Ok(None);
    }
    if &buf[data_end..end] != b"\r\nEND\r\n" {
        return Err(ProtoError("memcached value not followed by \\r\\nEND\\r\\n".into()));
    }
    Ok(Some((Outcome::Hit, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn byte_by_byte(op: Op, bytes: &[u8]) -> Outcome {
        super::super::proto::decode_byte_by_byte(decode, op, bytes)
    }

    #[test]
    fn requests_follow_the_text_protocol() {
        let mut buf = Vec::new();
        encode_get(&mut buf, b"k1");
        encode_set(&mut buf, b"k1", b"hello");
        assert_eq!(buf, b"get k1\r\nset k1 0 0 5\r\nhello\r\n");
    }

    #[test]
    fn replies_decode_from_any_split() {
        assert_eq!(byte_by_byte(Op::Get, b"VALUE k1 0 5\r\nhello\r\nEND\r\n"), Outcome::Hit);
        assert_eq!(byte_by_byte(Op::Get, b"VALUE k1 7 2 99\r\n\r\n\r\nEND\r\n"), Outcome::Hit);
        assert_eq!(byte_by_byte(Op::Get, b"END\r\n"), Outcome::Miss);
        assert_eq!(byte_by_byte(Op::Set, b"STORED\r\n"), Outcome::Stored);
        assert_eq!(byte_by_byte(Op::Set, b"SERVER_ERROR out of memory storing object\r\n"), Outcome::Error);
        assert_eq!(byte_by_byte(Op::Set, b"NOT_STORED\r\n"), Outcome::Error);
        assert_eq!(byte_by_byte(Op::Get, b"CLIENT_ERROR bad command line format\r\n"), Outcome::Error);
        assert_eq!(byte_by_byte(Op::Get, b"ERROR\r\n"), Outcome::Error);
    }

    #[test]
    fn pipelined_replies_are_taken_one_at_a_time() {
        let stream = b"STORED\r\nVALUE key 0 3\r\nabc\r\nEND\r\nEND\r\n";
        assert_eq!(decode(Op::Set, stream), Ok(Some((Outcome::Stored, 8))));
        assert_eq!(decode(Op::Get, &stream[8..]), Ok(Some((Outcome::Hit, 25))));
        assert_eq!(decode(Op::Get, &stream[33..]), Ok(Some((Outcome::Miss, 5))));
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        assert!(decode(Op::Get, b"HELLO\r\n").is_err());
        assert!(decode(Op::Get, b"VALUE k 0 x\r\n").is_err());
        assert!(decode(Op::Get, b"VALUE k 0 1\r\nab\r\nEND\r\n").is_err());
        assert!(decode(Op::Set, b"STOREDX\r\n").is_err());
        assert!(decode(Op::Get, &[b'x'; MAX_LINE + 1]).is_err());
    }
}
