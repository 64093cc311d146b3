//! A Redis set. (Skeleton: the layout lands with the set commands.)

use bytes::Bytes;
use std::collections::HashSet;

/// A set of binary-safe members.
#[derive(Debug, Clone, Default)]
pub struct Set {
    members: HashSet<Bytes, ahash::RandomState>,
    bytes: u64,
}

impl Set {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True if no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Bytes this set costs (payload and structure), for the memory budget.
    pub fn weight(&self) -> u64 {
        self.bytes + self.members.len() as u64 * 48
    }

    /// OBJECT ENCODING as Redis 7.0 would report it: `intset` or `hashtable`.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}
