//! RESP side of the load generator: `GET`/`SET` requests as arrays of bulk strings, and an
//! incremental reply decoder that classifies one reply (bulk → hit, null → miss, `+OK` → stored,
//! error → error) and skips any other well-formed RESP2/RESP3 value whole.
//!
//! Independent of the server's codec on purpose: a load generator that shared the server's parser
//! would not notice a bug both sides agree on.

use super::proto::{Decoded, Op, Outcome, ProtoError, find_crlf, parse_int};

/// Appends `*2 $3 GET $<n> <key>`.
pub fn encode_get(buf: &mut Vec<u8>, key: &[u8]) {
    buf.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
    bulk(buf, key);
}

/// Appends `*3 $3 SET $<n> <key> $<m> <value>`.
pub fn encode_set(buf: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
    bulk(buf, key);
    bulk(buf, value);
}

fn bulk(buf: &mut Vec<u8>, data: &[u8]) {
    buf.push(b'$');
    buf.extend_from_slice(data.len().to_string().as_bytes());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
}

/// The shape of one decoded value, before it is judged against the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Bulk,
    Null,
    Ok,
    Error,
    Other,
}

/// Decodes the reply to `op` at the start of `buf`.
///
/// # Errors
/// When `buf` does not start with a RESP value.
pub fn decode(op: Op, buf: &[u8]) -> Result<Decoded, ProtoError> {
    let Some((value, used)) = value(buf, 0)? else { return Ok(None) };
    let outcome = match (op, value) {
        (_, Value::Error) => Outcome::Error,
        (Op::Get, Value::Bulk) => Outcome::Hit,
        (Op::Get, Value::Null) => Outcome::Miss,
        (Op::Set, Value::Ok) => Outcome::Stored,
        _ => Outcome::Error,
    };
    Ok(Some((outcome, used)))
}

/// Nesting limit for aggregates, so a hostile reply cannot overflow the stack.
const MAX_DEPTH: usize = 32;

/// Parses one value at `buf[0..]`; returns its shape and length, or `None` if incomplete.
fn value(buf: &[u8], depth: usize) -> Result<Option<(Value, usize)>, ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError("RESP reply nested too deeply".into()));
    }
    let Some(&tag) = buf.first() else { return Ok(None) };
    let Some(eol) = find_crlf(buf) else {
        return if buf.len() > 64 * 1024 { Err(ProtoError("RESP header line too long".into())) } else { Ok(None) };
    };
    let line = &buf[1..eol];
    let head = eol + 2;
    let len =
        || parse_int(line).ok_or_else(|| ProtoError(format!("bad RESP length {:?}", String::from_utf8_lossy(line))));
    match tag {
        b'+' => Ok(Some((if line == b"OK" { Value::Ok } else { Value::Other }, head))),
        b'-' => Ok(Some((Value::Error, head))),
        b':' | b',' | b'#' | b'(' => Ok(Some((Value::Other, head))),
        b'_' => Ok(Some((Value::Null, head))),
        b'$' | b'!' | b'=' => {
            let n = len()?;
            if n < 0 {
                return Ok(Some((Value::Null, head)));
            }
            let end = head + n as usize + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(ProtoError("RESP bulk string not terminated by CRLF".into()));
            }
            Ok(Some((if tag == b'!' { Value::Error } else { Value::Bulk }, end)))
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = len()?;
            if n < 0 {
                return Ok(Some((Value::Null, head)));
            }
            let items = if tag == b'%' { 2 * n as usize } else { n as usize };
            let mut at = head;
            for _ in 0..items {
                match value(&buf[at..], depth + 1)? {
                    Some((_, used)) => at += used,
                    None => return Ok(None),
                }
            }
            Ok(Some((Value::Other, at)))
        }
        other => Err(ProtoError(format!("unexpected RESP type byte {:?}", other as char))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn byte_by_byte(op: Op, bytes: &[u8]) -> Outcome {
        super::super::proto::decode_byte_by_byte(decode, op, bytes)
    }

    #[test]
    fn requests_are_arrays_of_bulk_strings() {
        let mut buf = Vec::new();
        encode_get(&mut buf, b"k1");
        encode_set(&mut buf, b"k1", b"hello");
        assert_eq!(buf, b"*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$5\r\nhello\r\n");
    }

    #[test]
    fn replies_decode_from_any_split() {
        assert_eq!(byte_by_byte(Op::Get, b"$5\r\nhello\r\n"), Outcome::Hit);
        assert_eq!(byte_by_byte(Op::Get, b"$0\r\n\r\n"), Outcome::Hit);
        assert_eq!(byte_by_byte(Op::Get, b"$-1\r\n"), Outcome::Miss);
        assert_eq!(byte_by_byte(Op::Get, b"_\r\n"), Outcome::Miss);
        assert_eq!(byte_by_byte(Op::Set, b"+OK\r\n"), Outcome::Stored);
        assert_eq!(byte_by_byte(Op::Set, b"-OOM command not allowed\r\n"), Outcome::Error);
        assert_eq!(byte_by_byte(Op::Get, b"-WRONGTYPE Operation\r\n"), Outcome::Error);
        assert_eq!(byte_by_byte(Op::Set, b"$-1\r\n"), Outcome::Error);
        assert_eq!(byte_by_byte(Op::Get, b"*2\r\n$1\r\na\r\n%1\r\n:1\r\n*0\r\n"), Outcome::Error);
    }

    #[test]
    fn values_containing_crlf_are_taken_by_length() {
        let reply = b"$4\r\n\r\n\r\n\r\n+OK\r\n";
        assert_eq!(decode(Op::Get, reply), Ok(Some((Outcome::Hit, 10))));
        assert_eq!(decode(Op::Set, &reply[10..]), Ok(Some((Outcome::Stored, 5))));
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        assert!(decode(Op::Get, b"hello\r\n").is_err());
        assert!(decode(Op::Get, b"$x\r\n").is_err());
        assert!(decode(Op::Get, b"$2\r\nabcd").is_err());
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(decode(Op::Get, deep.as_bytes()).is_err());
    }
}
