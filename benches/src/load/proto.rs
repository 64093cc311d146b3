//! What the load generator sends and what it makes of the replies, independent of the wire format:
//! the [`Op`] kinds, the [`Outcome`] of one reply, and the [`Protocol`] switch that routes encoding
//! and decoding to [`super::resp`] or [`super::memcache`].
//!
//! Decoders are incremental: given the bytes received so far they return `Ok(None)` until one whole
//! reply is there, so a reply split across any number of reads is handled.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::{memcache, resp};

/// One request kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read one key.
    Get,
    /// Write one key.
    Set,
}

/// What one reply meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A GET that returned a value.
    Hit,
    /// A GET that found nothing.
    Miss,
    /// A SET the server accepted.
    Stored,
    /// An error reply, or a reply that does not answer the request (e.g. `NOT_STORED`).
    Error,
}

/// A reply that breaks the protocol: the connection cannot be resynchronised after it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("protocol error: {0}")]
pub struct ProtoError(pub String);

/// A decoded reply and the number of bytes it took.
pub type Decoded = Option<(Outcome, usize)>;

/// The wire protocol spoken to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Redis RESP2 (`GET`, `SET` as arrays of bulk strings).
    Resp,
    /// Memcached text protocol (`get`, `set`).
    Memcache,
}

impl Protocol {
    /// Appends one request to `buf`.
    pub fn encode(self, op: Op, key: &[u8], value: &[u8], buf: &mut Vec<u8>) {
        match (self, op) {
            (Self::Resp, Op::Get) => resp::encode_get(buf, key),
            (Self::Resp, Op::Set) => resp::encode_set(buf, key, value),
            (Self::Memcache, Op::Get) => memcache::encode_get(buf, key),
            (Self::Memcache, Op::Set) => memcache::encode_set(buf, key, value),
        }
    }

    /// Decodes the reply to `op` at the start of `buf`.
    ///
    /// # Errors
    /// When the bytes cannot be a reply in this protocol.
    pub fn decode(self, op: Op, buf: &[u8]) -> Result<Decoded, ProtoError> {
        match self {
            Self::Resp => resp::decode(op, buf),
            Self::Memcache => memcache::decode(op, buf),
        }
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "resp" | "redis" => Ok(Self::Resp),
            "memcache" | "memcached" | "memcache_text" => Ok(Self::Memcache),
            other => Err(format!("unknown protocol {other:?} (want resp or memcache)")),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Resp => "resp",
            Self::Memcache => "memcache",
        })
    }
}

/// The position of the first `\r\n` in `buf`, if any.
pub(super) fn find_crlf(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = buf[from..].iter().position(|&b| b == b'\r') {
        let at = from + i;
        match buf.get(at + 1) {
            Some(b'\n') => return Some(at),
            Some(_) => from = at + 1,
            None => return None,
        }
    }
    None
}

/// Parses an ASCII decimal (optionally negative) integer.
pub(super) fn parse_int(digits: &[u8]) -> Option<i64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Test support: feeds `bytes` to `decode` one more byte at a time, asserting it is incomplete
/// until the last byte and then takes the whole reply; returns what the reply meant.
#[cfg(test)]
pub(super) fn decode_byte_by_byte(
    decode: fn(Op, &[u8]) -> Result<Decoded, ProtoError>,
    op: Op,
    bytes: &[u8],
) -> Outcome {
    for cut in 0..bytes.len() {
        assert_eq!(decode(op, &bytes[..cut]), Ok(None), "prefix of {cut} bytes of {bytes:?}");
    }
    let (outcome, used) = decode(op, bytes).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    outcome
}
