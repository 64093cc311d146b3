//! Wire format, through the shared `redis-protocol` codec: commands are encoded as RESP arrays of
//! bulk strings (valid in both protocol versions), replies are decoded with the RESP2 or RESP3
//! decoder of the negotiated protocol and mapped to [`Value`]. No I/O here.

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::types::BorrowedFrame as Resp2Borrowed;
use redis_protocol::resp2::types::BytesFrame as Resp2Frame;
use redis_protocol::resp3::types::BytesFrame as Resp3Frame;

use crate::error::{Error, Result};
use crate::value::Value;

/// The protocol version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// RESP2 (any Redis-compatible server).
    Resp2,
    /// RESP3, negotiated with `HELLO 3`: typed replies and out-of-band pushes.
    Resp3,
}

/// Appends `args` to `buf` as one command (`*n\r\n$len\r\narg\r\n...`).
pub fn encode_command<A: AsRef<[u8]>>(buf: &mut BytesMut, args: &[A]) {
    let frames: Vec<Resp2Borrowed<'_>> = args.iter().map(|a| Resp2Borrowed::BulkString(a.as_ref())).collect();
    redis_protocol::resp2::encode::extend_encode_borrowed(buf, &Resp2Borrowed::Array(&frames), false)
        .expect("encoding into a growable buffer cannot fail");
}

/// One decoded reply: a value, or the server's error reply verbatim.
pub type Reply = std::result::Result<Value, String>;

/// Decodes one complete reply from the front of `buf` (consuming it), or `None` if `buf` does not
/// yet hold a whole frame.
///
/// # Errors
///
/// [`Error::Protocol`] on malformed input; the connection must then be dropped.
pub fn decode_reply(buf: &mut BytesMut, protocol: Protocol) -> Result<Option<Reply>> {
    let bad = |e: redis_protocol::error::RedisProtocolError| Error::Protocol(e.to_string());
    match protocol {
        Protocol::Resp2 => Ok(redis_protocol::resp2::decode::decode_bytes_mut(buf)
            .map_err(bad)?
            .map(|(frame, _, _)| from_resp2(frame))),
        Protocol::Resp3 => Ok(redis_protocol::resp3::decode::complete::decode_bytes_mut(buf)
            .map_err(bad)?
            .map(|(frame, _, _)| from_resp3(frame))),
    }
}

fn from_resp2(frame: Resp2Frame) -> Reply {
    match frame {
        Resp2Frame::Error(s) => Err(s.to_string()),
        other => Ok(value2(other)),
    }
}

fn value2(frame: Resp2Frame) -> Value {
    match frame {
        Resp2Frame::SimpleString(b) => Value::Status(String::from_utf8_lossy(&b).into_owned()),
        Resp2Frame::Error(s) => Value::Error(s.to_string()),
        Resp2Frame::Integer(i) => Value::Int(i),
        Resp2Frame::BulkString(b) => Value::Bulk(b),
        Resp2Frame::Array(items) => Value::Array(items.into_iter().map(value2).collect()),
        Resp2Frame::Null => Value::Nil,
    }
}

fn from_resp3(frame: Resp3Frame) -> Reply {
    match frame {
        Resp3Frame::SimpleError { data, .. } => Err(data.to_string()),
        Resp3Frame::BlobError { data, .. } => Err(String::from_utf8_lossy(&data).into_owned()),
        other => Ok(value3(other)),
    }
}

fn value3(frame: Resp3Frame) -> Value {
    match frame {
        Resp3Frame::BlobString { data, .. } | Resp3Frame::ChunkedString(data) => Value::Bulk(data),
        Resp3Frame::VerbatimString { data, .. } => Value::Bulk(data),
        Resp3Frame::SimpleString { data, .. } => Value::Status(String::from_utf8_lossy(&data).into_owned()),
        Resp3Frame::SimpleError { data, .. } => Value::Error(data.to_string()),
        Resp3Frame::BlobError { data, .. } => Value::Error(String::from_utf8_lossy(&data).into_owned()),
        Resp3Frame::Boolean { data, .. } => Value::Bool(data),
        Resp3Frame::Null => Value::Nil,
        Resp3Frame::Number { data, .. } => Value::Int(data),
        Resp3Frame::Double { data, .. } => Value::Double(data),
        Resp3Frame::BigNumber { data, .. } => Value::BigNumber(data),
        Resp3Frame::Array { data, .. } => Value::Array(data.into_iter().map(value3).collect()),
        Resp3Frame::Set { data, .. } => Value::Array(data.into_iter().map(value3).collect()),
        Resp3Frame::Map { data, .. } => Value::Map(data.into_iter().map(|(k, v)| (value3(k), value3(v))).collect()),
        Resp3Frame::Push { data, .. } => Value::Push(data.into_iter().map(value3).collect()),
        Resp3Frame::Hello { .. } => Value::Error("unexpected HELLO frame in a reply".into()),
    }
}

/// Encodes one command into a fresh buffer, for callers that queue whole requests.
#[must_use]
pub fn encode_to_bytes<A: AsRef<[u8]>>(args: &[A]) -> Bytes {
    let mut buf = BytesMut::new();
    encode_command(&mut buf, args);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_arrays_of_bulk_strings() {
        assert_eq!(&encode_to_bytes(&["GET", "k"])[..], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }

    #[test]
    fn decodes_both_protocols() {
        let mut b = BytesMut::from(&b"$-1\r\n:5\r\n-ERR boom\r\n"[..]);
        assert_eq!(decode_reply(&mut b, Protocol::Resp2).unwrap(), Some(Ok(Value::Nil)));
        assert_eq!(decode_reply(&mut b, Protocol::Resp2).unwrap(), Some(Ok(Value::Int(5))));
        assert_eq!(decode_reply(&mut b, Protocol::Resp2).unwrap(), Some(Err("ERR boom".into())));
        let mut b = BytesMut::from(&b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n_\r\n%1\r\n+a\r\n:1\r\n"[..]);
        let push = decode_reply(&mut b, Protocol::Resp3).unwrap().unwrap().unwrap();
        assert_eq!(
            push,
            Value::Push(vec![
                Value::Bulk(Bytes::from_static(b"invalidate")),
                Value::Array(vec![Value::Bulk(Bytes::from_static(b"k"))])
            ])
        );
        assert_eq!(decode_reply(&mut b, Protocol::Resp3).unwrap(), Some(Ok(Value::Nil)));
        assert_eq!(
            decode_reply(&mut b, Protocol::Resp3).unwrap(),
            Some(Ok(Value::Map(vec![(Value::Status("a".into()), Value::Int(1))])))
        );
        assert_eq!(decode_reply(&mut b, Protocol::Resp3).unwrap(), None);
    }

    proptest! {
        /// Encoded commands, fed back in random chunks as a server would receive them, decode to
        /// exactly the arguments, in order.
        #[test]
        fn round_trip_in_random_chunks(
            cmds in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..20),
            cuts in prop::collection::vec(1usize..17, 1..50),
        ) {
            let mut wire = BytesMut::new();
            for c in &cmds {
                encode_command(&mut wire, c);
            }
            let wire = wire.freeze();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let (mut pos, mut i) = (0, 0);
            while pos < wire.len() {
                let n = cuts[i % cuts.len()].min(wire.len() - pos);
                buf.extend_from_slice(&wire[pos..pos + n]);
                pos += n;
                i += 1;
                while let Some(reply) = decode_reply(&mut buf, Protocol::Resp2).unwrap() {
                    got.push(reply.unwrap());
                }
            }
            let want: Vec<Value> = cmds
                .iter()
                .map(|c| Value::Array(c.iter().map(|a| Value::Bulk(Bytes::copy_from_slice(a))).collect()))
                .collect();
            prop_assert_eq!(got, want);
            prop_assert!(buf.is_empty());
        }
    }
}
