//! The stream type behind XADD and friends: entries ordered by [`StreamId`], the stream's
//! counters (last id, entries added, max deleted id: what XINFO and consumer-group lag read), and
//! its consumer groups ([`group`]). It owns the layout and the weight; commands live in
//! `commands/streams.rs` and `commands/streams/`.
//!
//! The storage below is the seam's first form (a `BTreeMap` of entries); the public methods are the
//! contract the commands are written against.

pub mod group;

pub use group::Group;

use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt;

/// A stream entry id, `<ms>-<seq>`, ordered numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// `18446744073709551615-18446744073709551615`.
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    /// The id right after this one, if any.
    pub fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    /// The id right before this one, if any.
    pub fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_sub(1).map(|ms| StreamId { ms, seq: u64::MAX }),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One entry's field-value pairs, borrowed from the stream.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a>(&'a [Bytes]);

impl<'a> Fields<'a> {
    /// Number of field-value pairs.
    pub fn len(&self) -> usize {
        self.0.len() / 2
    }

    /// True if the entry has no pairs (never, for an entry XADD wrote).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs in the order they were added.
    pub fn pairs(&self) -> impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.0.chunks_exact(2).map(|p| (p[0].as_ref(), p[1].as_ref()))
    }
}

/// A stream.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    entries: BTreeMap<StreamId, Box<[Bytes]>>,
    last_id: StreamId,
    max_deleted: StreamId,
    entries_added: u64,
    /// Consumer groups by name (XINFO GROUPS lists them in this order).
    pub groups: BTreeMap<Bytes, Group>,
}

impl Stream {
    /// Number of entries (XLEN).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if it holds no entry (an empty stream still exists as a key).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The id of the last entry ever added, or set by XSETID.
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// The greatest id ever deleted (XDEL, XTRIM), `0-0` if none.
    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted
    }

    /// Entries ever added (XINFO `entries-added`).
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// The first and last entries present.
    pub fn first(&self) -> Option<(StreamId, Fields<'_>)> {
        self.entries.iter().next().map(|(id, f)| (*id, Fields(f)))
    }

    /// The last entry present.
    pub fn last(&self) -> Option<(StreamId, Fields<'_>)> {
        self.entries.iter().next_back().map(|(id, f)| (*id, Fields(f)))
    }

    /// The entry with id `id`.
    pub fn get(&self, id: StreamId) -> Option<Fields<'_>> {
        self.entries.get(&id).map(|f| Fields(f))
    }

    /// Entries with `lo <= id <= hi`, ascending (reverse it for XREVRANGE).
    pub fn range(&self, lo: StreamId, hi: StreamId) -> impl DoubleEndedIterator<Item = (StreamId, Fields<'_>)> + '_ {
        let r = if lo <= hi { Some(self.entries.range(lo..=hi)) } else { None };
        r.into_iter().flatten().map(|(id, f)| (*id, Fields(f)))
    }

    /// Appends an entry; `id` must be greater than [`Stream::last_id`]. `pairs` alternate field,
    /// value.
    pub fn append(&mut self, id: StreamId, pairs: &[Bytes]) {
        debug_assert!(id > self.last_id);
        self.entries.insert(id, pairs.into());
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Deletes one entry; true if it was there.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let gone = self.entries.remove(&id).is_some();
        if gone {
            self.max_deleted = self.max_deleted.max(id);
        }
        gone
    }

    /// Bytes of payload for the memory budget: entries and groups.
    pub fn weight(&self) -> u64 {
        let entries: u64 = self.entries.values().map(|f| 48 + f.iter().map(|b| b.len() as u64 + 32).sum::<u64>()).sum();
        entries + self.groups.iter().map(|(n, g)| n.len() as u64 + g.weight()).sum::<u64>()
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }
}
