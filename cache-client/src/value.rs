//! [`Value`]: a decoded reply, protocol-neutral (RESP2 and RESP3 frames both map to it), with the
//! small conversions the typed commands need. It knows nothing of sockets or commands.

use bytes::Bytes;

use crate::error::{Error, Result};

/// A reply from the server. RESP2 and RESP3 replies map onto the same variants (a RESP2 null
/// bulk string and a RESP3 null are both [`Value::Nil`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// Null.
    Nil,
    /// An integer.
    Int(i64),
    /// A bulk (blob) string, binary-safe.
    Bulk(Bytes),
    /// A simple status string such as `OK` or `PONG`.
    Status(String),
    /// An error nested inside an aggregate (a top-level error reply is an [`Error::Server`]).
    Error(String),
    /// An array (or a RESP3 set).
    Array(Vec<Value>),
    /// A RESP3 map, in wire order.
    Map(Vec<(Value, Value)>),
    /// A RESP3 double.
    Double(f64),
    /// A RESP3 boolean.
    Bool(bool),
    /// A RESP3 big number, as its decimal text.
    BigNumber(Bytes),
    /// A RESP3 out-of-band push (`invalidate`, pub/sub), routed to the push handler.
    Push(Vec<Value>),
}

impl Value {
    /// The reply as optional bytes: a bulk or status string, or `None` for nil.
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] for any other type.
    pub fn into_opt_bytes(self) -> Result<Option<Bytes>> {
        match self {
            Self::Nil => Ok(None),
            Self::Bulk(b) | Self::BigNumber(b) => Ok(Some(b)),
            Self::Status(s) => Ok(Some(Bytes::from(s))),
            Self::Int(i) => Ok(Some(Bytes::from(i.to_string()))),
            other => Err(unexpected("a string or nil", &other)),
        }
    }

    /// The reply as an integer.
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when it is neither an integer nor a decimal string.
    pub fn into_int(self) -> Result<i64> {
        match self {
            Self::Int(i) => Ok(i),
            Self::Bool(b) => Ok(i64::from(b)),
            Self::Bulk(ref b) => {
                std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).ok_or_else(|| unexpected("an integer", &self))
            }
            other => Err(unexpected("an integer", &other)),
        }
    }

    /// The reply as a boolean (`1`/`0` integers, RESP3 booleans, `OK`).
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] for any other type.
    pub fn into_bool(self) -> Result<bool> {
        match self {
            Self::Bool(b) => Ok(b),
            Self::Int(i) => Ok(i != 0),
            Self::Status(ref s) if s == "OK" => Ok(true),
            Self::Nil => Ok(false),
            other => Err(unexpected("a boolean", &other)),
        }
    }

    /// The reply as a list of optional byte strings (MGET, HMGET).
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when it is not an array of strings and nils.
    pub fn into_opt_bytes_vec(self) -> Result<Vec<Option<Bytes>>> {
        match self {
            Self::Array(items) => items.into_iter().map(Self::into_opt_bytes).collect(),
            other => Err(unexpected("an array", &other)),
        }
    }

    /// The reply as field/value pairs: a RESP3 map, or a flat RESP2 array of alternating items.
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] for any other shape.
    pub fn into_pairs(self) -> Result<Vec<(Bytes, Bytes)>> {
        let need = |v: Value| v.into_opt_bytes()?.ok_or_else(|| Error::Protocol("nil inside a map reply".into()));
        match self {
            Self::Map(pairs) => pairs.into_iter().map(|(k, v)| Ok((need(k)?, need(v)?))).collect(),
            Self::Array(items) if items.len() % 2 == 0 => {
                let mut out = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    out.push((need(k)?, need(v)?));
                }
                Ok(out)
            }
            other => Err(unexpected("a map", &other)),
        }
    }

    /// Checks for a status reply of `OK`.
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] otherwise.
    pub fn expect_ok(self) -> Result<()> {
        match self {
            Self::Status(ref s) if s == "OK" => Ok(()),
            other => Err(unexpected("OK", &other)),
        }
    }
}

fn unexpected(wanted: &str, got: &Value) -> Error {
    Error::Protocol(format!("expected {wanted}, got {got:?}"))
}
