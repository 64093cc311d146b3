//! [`Error`]: everything a client call can fail with, and the classifiers (`is_timeout`,
//! `is_connection_dropped`, `is_retryable`) that the pool, the router and the retry loop use to
//! choose between reconnecting, retrying and failing. Server error replies are kept verbatim.

use std::sync::Arc;
use std::time::Duration;

/// A client error. Cheap to clone (I/O errors are shared), so one failure can reach every caller
/// that waited on the same load.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error reply; `0` is its text exactly as sent, without the
    /// leading `-` (for example `WRONGTYPE Operation against a key holding the wrong kind of value`).
    #[error("server error: {0}")]
    Server(String),
    /// Establishing a connection failed (refused, unreachable, handshake error).
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The node's `host:port`.
        addr: String,
        /// Why.
        reason: String,
    },
    /// An I/O error on an established connection.
    #[error("i/o error: {0}")]
    Io(Arc<std::io::Error>),
    /// The connection closed (or broke) before the reply arrived. The request may or may not
    /// have run on the server.
    #[error("connection dropped before the reply arrived")]
    ConnectionDropped,
    /// No reply within the configured timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The node's circuit breaker is open: the call failed fast without touching the network.
    #[error("node {0} is unavailable (circuit breaker open)")]
    NodeUnavailable(String),
    /// The reply could not be decoded, or had a type the typed command did not expect.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A configuration error (a bad URL, no nodes).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Keys that must share a node (those of one transaction or one script) map to different
    /// nodes. Give them a common hash tag (`{user:42}:a`, `{user:42}:b`) so they hash alike.
    #[error(
        "keys {first:?} (node {first_node}) and {other:?} (node {other_node}) map to different nodes; \
         give them a common hash tag such as {{user:42}}"
    )]
    CrossNode {
        /// The key that chose the node.
        first: String,
        /// Its node's `host:port`.
        first_node: String,
        /// A key on another node.
        other: String,
        /// That node's `host:port`.
        other_node: String,
    },
    /// In cluster mode, keys that must share a hash slot (those of one transaction or one
    /// script) do not. Give them a common hash tag (`{user:42}:a`, `{user:42}:b`).
    #[error(
        "keys {first:?} (slot {first_slot}) and {other:?} (slot {other_slot}) hash to different slots; \
         give them a common hash tag such as {{user:42}}"
    )]
    CrossSlot {
        /// The key that chose the slot.
        first: String,
        /// Its slot.
        first_slot: u16,
        /// A key in another slot.
        other: String,
        /// That key's slot.
        other_slot: u16,
    },
    /// In cluster mode, no node serves the slot as far as the cluster told the client (even
    /// after re-reading the map).
    #[error("hash slot {0} is not served by any node of the cluster")]
    SlotUncovered(u16),
    /// `EXEC` answered `EXECABORT`: the server refused at least one command while queueing it,
    /// so nothing ran. `reply` is the `EXECABORT` text verbatim; `rejected` holds each refused
    /// command's position in the queue and the server's error for it.
    #[error("transaction aborted: {reply} (refused: {rejected:?})")]
    ExecAbort {
        /// The `EXECABORT ...` reply.
        reply: String,
        /// `(position in the queue, error text)` of each refused command.
        rejected: Vec<(usize, String)>,
    },
    /// [`Client::transact`](crate::Client::transact) saw a watched key change on every attempt.
    #[error("a watched key changed on each of {attempts} attempts")]
    WatchConflict {
        /// How many attempts were made.
        attempts: u32,
    },
    /// A `get_or_load` loader failed.
    #[error("loader failed: {0}")]
    Loader(Arc<dyn std::error::Error + Send + Sync>),
    /// (feature `serde`) A value could not be (de)serialized.
    #[cfg(feature = "serde")]
    #[error("serde: {0}")]
    Serde(Arc<serde_json::Error>),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the call timed out (per-request or connect timeout).
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Whether the connection was lost (or never established): the pool reconnects.
    #[must_use]
    pub fn is_connection_dropped(&self) -> bool {
        matches!(self, Self::ConnectionDropped | Self::Io(_) | Self::Connect { .. })
    }

    /// Whether retrying an idempotent command may succeed: connection loss, timeouts, and the
    /// transient server replies `LOADING`, `BUSY`, `TRYAGAIN`, `MASTERDOWN`. An open breaker is
    /// not retryable (failing fast is its point), nor is any other server error.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::ConnectionDropped | Self::Io(_) | Self::Connect { .. } | Self::Timeout(_) => true,
            Self::Server(text) => {
                let code = text.split(' ').next().unwrap_or("");
                matches!(code, "LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN")
            }
            _ => false,
        }
    }

    /// Whether the node's health is in question: the breaker counts these as failures. Server
    /// error replies prove the node is alive and do not count.
    #[must_use]
    pub fn is_node_failure(&self) -> bool {
        self.is_connection_dropped() || self.is_timeout()
    }

    /// The error code of a server error reply (`WRONGTYPE`, `ERR`, `EXECABORT`, ...), if this
    /// is one.
    #[must_use]
    pub fn server_code(&self) -> Option<&str> {
        match self {
            Self::Server(text) | Self::ExecAbort { reply: text, .. } => text.split(' ').next(),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Io(Arc::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifiers() {
        assert!(Error::Timeout(Duration::from_millis(1)).is_timeout());
        assert!(Error::Timeout(Duration::from_millis(1)).is_retryable());
        assert!(Error::ConnectionDropped.is_connection_dropped());
        assert!(Error::ConnectionDropped.is_retryable());
        let wrongtype = Error::Server("WRONGTYPE Operation against a key holding the wrong kind of value".into());
        assert!(!wrongtype.is_retryable());
        assert!(!wrongtype.is_node_failure());
        assert_eq!(wrongtype.server_code(), Some("WRONGTYPE"));
        assert!(wrongtype.to_string().ends_with("WRONGTYPE Operation against a key holding the wrong kind of value"));
        assert!(Error::Server("LOADING Redis is loading the dataset in memory".into()).is_retryable());
        assert!(!Error::NodeUnavailable("n".into()).is_retryable());
    }
}
