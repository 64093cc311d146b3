//! A Redis sorted set. (Skeleton: the layout lands with the sorted-set commands.)

use bytes::Bytes;
use std::collections::HashMap;

/// Members with scores, ordered by (score, member).
#[derive(Debug, Clone, Default)]
pub struct ZSet {
    scores: HashMap<Bytes, f64, ahash::RandomState>,
    bytes: u64,
}

impl ZSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True if no members.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Bytes this sorted set costs (payload and structure), for the memory budget.
    pub fn weight(&self) -> u64 {
        self.bytes + self.scores.len() as u64 * 64
    }

    /// OBJECT ENCODING as Redis 7.0 would report it: `listpack` or `skiplist`.
    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }
}
