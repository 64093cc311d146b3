//! The stream type behind XADD and friends: entries ordered by [`StreamId`], the stream's
//! counters (last id, entries added, max deleted id: what XINFO and consumer-group lag read), and
//! its consumer groups ([`group`]). It owns the layout and the weight; commands live in
//! `commands/streams.rs` and `commands/streams/`.
//!
//! Entries are packed in `block`s of up to 100 entries (a `BTreeMap` from each block's first
//! id), as Redis packs listpacks under a radix tree: ids are delta-encoded, field names shared with
//! the block's first entry are stored once. XDEL and exact trimming mark entries deleted inside
//! their block; a block whose entries are all deleted goes, and approximate trimming (`~`) drops
//! whole blocks only. The block boundaries follow Redis's rule (100 entries, deleted ones counted,
//! or 4 KB of listpack) so that `~` trims the same entries as Redis.

mod block;
pub mod group;

pub use block::{Fields, MAX_BYTES as NODE_MAX_BYTES, MAX_ENTRIES as NODE_MAX_ENTRIES, Pairs};
pub use group::Group;

use block::Block;
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
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

/// How a trim chooses what goes (XADD / XTRIM `MAXLEN` or `MINID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Delete entries below this id.
    MinId(StreamId),
}

/// A stream.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    blocks: BTreeMap<StreamId, Block>,
    len: u64,
    last_id: StreamId,
    first_id: StreamId,
    max_deleted: StreamId,
    entries_added: u64,
    /// The blocks' share of [`Stream::weight`], kept as they change (weight is read on every write).
    bytes: u64,
    /// Consumer groups by name (XINFO GROUPS lists them in this order).
    pub groups: BTreeMap<Bytes, Group>,
}

impl Stream {
    /// Number of entries (XLEN).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True if it holds no entry (an empty stream still exists as a key).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The id of the last entry ever added, or set by XSETID.
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// The greatest id ever deleted (XDEL, XSETID's MAXDELETEDID), `0-0` if none.
    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted
    }

    /// Entries ever added (XINFO `entries-added`).
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// The first entry's id as Redis records it (XINFO `recorded-first-entry-id`): set by the
    /// first XADD to an empty stream, moved on by XDEL of it (to the maximum id when none is
    /// left) and by trimming (to `0-0` when none is left).
    pub fn recorded_first_id(&self) -> StreamId {
        self.first_id
    }

    /// Number of blocks (XINFO `radix-tree-keys`).
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Every block as its key and its entries in order, deleted ones included, as (id, deleted,
    /// pairs): the nodes Redis's radix tree would hold, for the RDB writer.
    pub fn nodes(&self) -> impl Iterator<Item = (StreamId, impl Iterator<Item = (StreamId, bool, Fields<'_>)>)> {
        self.blocks.iter().map(|(k, b)| (*k, b.iter(*k).map(|e| (e.id, e.deleted, e.fields))))
    }

    /// The first entry present.
    pub fn first(&self) -> Option<(StreamId, Fields<'_>)> {
        self.range(StreamId::MIN, StreamId::MAX).next()
    }

    /// The last entry present.
    pub fn last(&self) -> Option<(StreamId, Fields<'_>)> {
        self.range(StreamId::MIN, StreamId::MAX).next_back()
    }

    /// The entry with id `id`.
    pub fn get(&self, id: StreamId) -> Option<Fields<'_>> {
        self.range(id, id).next().map(|(_, f)| f)
    }

    /// Entries with `lo <= id <= hi`, ascending (reverse it for XREVRANGE).
    pub fn range(&self, lo: StreamId, hi: StreamId) -> Range<'_> {
        let blocks = if lo <= hi {
            // The block holding `lo` starts at or before it.
            let from = self.blocks.range(..=lo).next_back().map_or(lo, |(k, _)| *k);
            Some(self.blocks.range(from..=hi))
        } else {
            None
        };
        Range { blocks, lo, hi, front: VecDeque::new(), back: VecDeque::new() }
    }

    /// Appends an entry; `id` must be greater than [`Stream::last_id`]. `pairs` alternate field,
    /// value.
    pub fn append(&mut self, id: StreamId, pairs: &[Bytes]) {
        debug_assert!(id > self.last_id);
        debug_assert!(pairs.len() % 2 == 0);
        match self.blocks.last_entry() {
            Some(mut last) if !last.get().full(pairs) => {
                let key = *last.key();
                let before = last.get().heap();
                last.get_mut().push(id, pairs, key);
                self.bytes = self.bytes + last.get().heap() as u64 - before as u64;
            }
            last => {
                if let Some(mut last) = last {
                    let before = last.get().heap();
                    last.get_mut().seal();
                    self.bytes = self.bytes + last.get().heap() as u64 - before as u64;
                }
                let block = Block::new(id, pairs);
                self.bytes += block_weight(&block);
                self.blocks.insert(id, block);
            }
        }
        if self.len == 0 {
            self.first_id = id;
        }
        self.len += 1;
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Deletes one entry; true if it was there (XDEL).
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, block)) = self.blocks.range_mut(..=id).next_back() else { return false };
        let Some(at) = block.iter(key).find(|e| e.id >= id).filter(|e| e.id == id && !e.deleted).map(|e| e.flags_at)
        else {
            return false;
        };
        block.mark_deleted(at);
        if block.live == 0 {
            self.bytes -= block_weight(block);
            self.blocks.remove(&key);
        }
        self.len -= 1;
        self.max_deleted = self.max_deleted.max(id);
        if self.len == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.first().map_or(StreamId::MAX, |(id, _)| id);
        }
        true
    }

    /// Trims as XADD and XTRIM do; returns the number of entries deleted. `approx` (`~`) only
    /// drops whole blocks; `limit` (0: none) caps the entries deleted, counted by whole blocks
    /// as Redis does.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0;
        while let Some(mut first) = self.blocks.first_entry() {
            if let Trim::MaxLen(max) = how
                && self.len <= max
            {
                break;
            }
            let block = first.get();
            let entries = u64::from(block.live);
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.len - entries >= max,
                Trim::MinId(min) => block.last < min,
            };
            if whole {
                self.bytes -= block_weight(first.get());
                first.remove();
                self.len -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let key = *first.key();
            let block = first.get_mut();
            let to_go = match how {
                Trim::MaxLen(max) => self.len - max,
                Trim::MinId(_) => u64::MAX,
            };
            let doomed: Vec<usize> = block
                .iter(key)
                .take_while(|e| match how {
                    Trim::MaxLen(_) => true,
                    Trim::MinId(min) => e.id < min,
                })
                .filter(|e| !e.deleted)
                .take(usize::try_from(to_go).unwrap_or(usize::MAX))
                .map(|e| e.flags_at)
                .collect();
            for &at in &doomed {
                block.mark_deleted(at);
            }
            self.len -= doomed.len() as u64;
            deleted += doomed.len() as u64;
            break;
        }
        if deleted > 0 {
            self.first_id = self.first().map_or(StreamId::MIN, |(id, _)| id);
        }
        deleted
    }

    /// XSETID: sets the last id (and, if given, entries added and max deleted id). The caller
    /// checks Redis's conditions first.
    pub fn set_last_id(&mut self, id: StreamId, entries_added: Option<u64>, max_deleted: Option<StreamId>) {
        self.last_id = id;
        if let Some(n) = entries_added {
            self.entries_added = n;
        }
        if let Some(m) = max_deleted {
            self.max_deleted = m;
        }
    }

    /// Bytes of payload for the memory budget: blocks (their buffers, the tree's share) and
    /// groups.
    pub fn weight(&self) -> u64 {
        self.bytes + self.groups.iter().map(|(n, g)| n.len() as u64 + g.weight()).sum::<u64>()
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }
}

/// A block's weight: its buffer plus its slot in a B-tree node (key, value, node slack).
fn block_weight(b: &Block) -> u64 {
    const PER_BLOCK: u64 = (std::mem::size_of::<Block>() + std::mem::size_of::<StreamId>()) as u64 * 3 / 2 + 16;
    b.heap() as u64 + PER_BLOCK
}

/// Entries of a [`Stream`] in an id interval, either way (see [`Stream::range`]). It decodes one
/// block at a time at each end.
#[derive(Debug)]
pub struct Range<'a> {
    blocks: Option<std::collections::btree_map::Range<'a, StreamId, Block>>,
    lo: StreamId,
    hi: StreamId,
    front: VecDeque<(StreamId, Fields<'a>)>,
    back: VecDeque<(StreamId, Fields<'a>)>,
}

impl<'a> Range<'a> {
    fn fill(&self, (key, block): (&StreamId, &'a Block), into: &mut VecDeque<(StreamId, Fields<'a>)>) {
        let (lo, hi) = (self.lo, self.hi);
        into.extend(
            block
                .iter(*key)
                .skip_while(|e| e.id < lo)
                .take_while(|e| e.id <= hi)
                .filter(|e| !e.deleted)
                .map(|e| (e.id, e.fields)),
        );
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = (StreamId, Fields<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.front.pop_front() {
                return Some(e);
            }
            match self.blocks.as_mut().and_then(|b| b.next()) {
                Some(b) => {
                    let mut q = std::mem::take(&mut self.front);
                    self.fill(b, &mut q);
                    self.front = q;
                }
                None => return self.back.pop_front(),
            }
        }
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.back.pop_back() {
                return Some(e);
            }
            match self.blocks.as_mut().and_then(|b| b.next_back()) {
                Some(b) => {
                    let mut q = std::mem::take(&mut self.back);
                    self.fill(b, &mut q);
                    self.back = q;
                }
                None => return self.front.pop_back(),
            }
        }
    }
}

#[cfg(test)]
mod tests;
