//! A Redis list. (Skeleton: the layout lands with the list commands.)

use bytes::Bytes;
use std::collections::VecDeque;

/// A list of binary-safe elements.
#[derive(Debug, Clone, Default)]
pub struct List {
    items: VecDeque<Bytes>,
    bytes: u64,
}

impl List {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if no elements.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Bytes this list costs (payload and structure), for the memory budget.
    pub fn weight(&self) -> u64 {
        self.bytes + self.items.len() as u64 * 32
    }

    /// OBJECT ENCODING: Redis 7.0 keeps every list in a quicklist.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
}
