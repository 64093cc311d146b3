//! One node of a stream: up to [`MAX_ENTRIES`] entries (or about [`MAX_BYTES`] bytes) packed in
//! one byte buffer, as Redis packs a listpack under each radix-tree key. It owns the encoding and
//! nothing else (ordering between blocks, counters and trimming policy are [`super::Stream`]'s).
//!
//! ```text
//! data:  header                      entry                         entry …
//!        ┌──────────────────────────┬─────────────────────────────┬──────
//!        │ n, (len, field)×n        │ flags Δms seq body          │ …
//!        └──────────────────────────┴─────────────────────────────┴──────
//! header: the master fields: the field names of the block's first entry.
//! flags:  bit 0 deleted (XDEL, exact trimming), bit 1 same fields as the master.
//! Δms:    varint, ms − previous entry's ms (the block's first id for the first entry).
//! seq:    varint, seq − previous seq when Δms = 0, else the sequence itself.
//! body:   same fields: (len, value)×n; otherwise m, (len, field, len, value)×m.
//! ```
//!
//! With `XADD s * field value` an entry costs about 9 bytes (Redis's listpack: about 16).
//!
//! A block also keeps the size Redis's listpack would have for the same entries
//! ([`lp_int`], [`lp_str`]): a new block starts where Redis starts a new node, so approximate
//! trimming, which drops whole nodes, deletes the same entries here as there.

use super::StreamId;
use bytes::Bytes;

/// Entries per block before a new one starts (Redis's `stream-node-max-entries` default; deleted
/// entries count, as in Redis, so approximate trimming removes the same entries).
pub const MAX_ENTRIES: u32 = 100;
/// Bytes per block before a new one starts (Redis's `stream-node-max-bytes` default).
pub const MAX_BYTES: usize = 4096;

/// Bytes a listpack spends on an integer element (encoding, data, back-length).
pub fn lp_int(v: i64) -> u32 {
    match v {
        0..=127 => 2,
        -4096..=4095 => 3,
        -32768..=32767 => 4,
        -8_388_608..=8_388_607 => 5,
        -2_147_483_648..=2_147_483_647 => 6,
        _ => 10,
    }
}

/// Bytes a listpack spends on a string element (stored as an integer when it reads as one).
pub fn lp_str(s: &[u8]) -> u32 {
    if let Some(v) = crate::frame::parse_i64(s) {
        return lp_int(v);
    }
    let len = s.len();
    let head = match len {
        0..=63 => 1,
        64..=4095 => 2,
        _ => 5,
    };
    let l = head + len;
    let back = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    (l + back) as u32
}

const DELETED: u8 = 1;
const SAME_FIELDS: u8 = 2;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Reads a varint at `*at`, moving past it.
fn get_varint(data: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let b = data[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// Reads a length-prefixed string at `*at`, moving past it.
fn get_str<'a>(data: &'a [u8], at: &mut usize) -> &'a [u8] {
    let n = get_varint(data, at) as usize;
    let s = &data[*at..*at + n];
    *at += n;
    s
}

/// One entry's field-value pairs, borrowed from the stream.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// The master field names (length-prefixed) when the entry shares them, else empty.
    names: &'a [u8],
    /// The entry's body.
    body: &'a [u8],
    pairs: usize,
    shared: bool,
}

impl<'a> Fields<'a> {
    /// Number of field-value pairs.
    pub fn len(&self) -> usize {
        self.pairs
    }

    /// True if the entry has no pairs (never, for an entry XADD wrote).
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }

    /// The pairs in the order they were added.
    pub fn pairs(&self) -> Pairs<'a> {
        Pairs { f: *self, name_at: 0, body_at: 0, left: self.pairs }
    }
}

/// The iterator of [`Fields::pairs`].
#[derive(Debug, Clone)]
pub struct Pairs<'a> {
    f: Fields<'a>,
    name_at: usize,
    body_at: usize,
    left: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let name = if self.f.shared {
            get_str(self.f.names, &mut self.name_at)
        } else {
            get_str(self.f.body, &mut self.body_at)
        };
        Some((name, get_str(self.f.body, &mut self.body_at)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Pairs<'_> {}

/// A block of entries (see the module docs).
#[derive(Debug, Clone)]
pub struct Block {
    data: Vec<u8>,
    /// Where the entries start (after the master fields).
    start: u32,
    /// Number of master fields.
    master_fields: u32,
    /// Entries not deleted.
    pub live: u32,
    /// Entries ever appended (deleted ones included).
    pub total: u32,
    /// The id of the last entry appended (deleted or not).
    pub last: StreamId,
    /// The size of Redis's listpack for the same entries (see the module docs).
    lp: u32,
}

impl Block {
    /// A block whose first entry is `id` with `pairs` (alternating field, value).
    pub fn new(id: StreamId, pairs: &[Bytes]) -> Block {
        let size: usize = pairs.iter().map(|p| p.len() + 2).sum::<usize>() + 8;
        let mut data = Vec::with_capacity(size.next_power_of_two().max(64));
        let n = pairs.len() / 2;
        put_varint(&mut data, n as u64);
        for f in pairs.iter().step_by(2) {
            put_varint(&mut data, f.len() as u64);
            data.extend_from_slice(f);
        }
        let start = data.len() as u32;
        // Header and end (7), count and deleted (2 + 2), the master fields, their terminator (2).
        let lp = 11 + lp_int(n as i64) + pairs.iter().step_by(2).map(|f| lp_str(f)).sum::<u32>() + 2;
        let mut b = Block { data, start, master_fields: n as u32, live: 0, total: 0, last: id, lp };
        b.push(id, pairs, id);
        b
    }

    /// True if an entry of `pairs` goes into a new block rather than this one.
    pub fn full(&self, pairs: &[Bytes]) -> bool {
        let size: usize = pairs.iter().map(|p| p.len()).sum();
        self.lp as usize + size >= MAX_BYTES || self.total >= MAX_ENTRIES
    }

    fn same_fields(&self, pairs: &[Bytes]) -> bool {
        if pairs.len() / 2 != self.master_fields as usize {
            return false;
        }
        let mut at = varint_len(u64::from(self.master_fields));
        pairs.iter().step_by(2).all(|f| get_str(&self.data, &mut at) == f.as_ref())
    }

    /// Appends an entry (`id` above every id in the block).
    pub fn push(&mut self, id: StreamId, pairs: &[Bytes], key: StreamId) {
        let same = self.same_fields(pairs);
        let n = (pairs.len() / 2) as i64;
        let values: u32 = pairs.iter().skip(1).step_by(2).map(|v| lp_str(v)).sum();
        let own: u32 = if same { 0 } else { lp_int(n) + pairs.iter().step_by(2).map(|f| lp_str(f)).sum::<u32>() };
        let ms_diff = id.ms.wrapping_sub(key.ms) as i64;
        let seq_diff = id.seq.wrapping_sub(key.seq) as i64;
        let count = if same { n + 3 } else { 2 * n + 4 };
        self.lp += 2 + lp_int(ms_diff) + lp_int(seq_diff) + own + values + lp_int(count);
        let prev = self.last;
        let first = self.total == 0;
        let mut body = std::mem::take(&mut self.data);
        let need: usize = pairs.iter().map(|p| p.len() + 1).sum::<usize>() + 12;
        if body.capacity() - body.len() < need {
            // Grow by half (not double): the slack of the block being filled stays small.
            let grow = need.max(body.capacity() / 2).min(MAX_BYTES.saturating_sub(body.len()).max(need));
            body.reserve_exact(grow);
        }
        body.push(if same { SAME_FIELDS } else { 0 });
        let dms = id.ms - prev.ms;
        put_varint(&mut body, dms);
        put_varint(
            &mut body,
            if dms == 0 && !first {
                id.seq - prev.seq
            } else if first {
                0
            } else {
                id.seq
            },
        );
        if !same {
            put_varint(&mut body, (pairs.len() / 2) as u64);
        }
        for (i, p) in pairs.iter().enumerate() {
            if same && i % 2 == 0 {
                continue;
            }
            put_varint(&mut body, p.len() as u64);
            body.extend_from_slice(p);
        }
        self.data = body;
        self.live += 1;
        self.total += 1;
        self.last = id;
    }

    /// Gives back the spare capacity (a block nobody appends to any more).
    pub fn seal(&mut self) {
        self.data.shrink_to_fit();
    }

    /// Heap bytes held.
    pub fn heap(&self) -> usize {
        self.data.capacity()
    }

    /// Every entry from the start, deleted ones included: the block's first id is `key`.
    pub fn iter(&self, key: StreamId) -> Cursor<'_> {
        Cursor { block: self, at: self.start as usize, prev: key, first: true }
    }

    /// Marks the entry at `flags_at` deleted; true if it was live.
    pub fn mark_deleted(&mut self, flags_at: usize) -> bool {
        let was_live = self.data[flags_at] & DELETED == 0;
        if was_live {
            self.data[flags_at] |= DELETED;
            self.live -= 1;
        }
        was_live
    }
}

/// One decoded entry of a block.
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    /// Its id.
    pub id: StreamId,
    /// Its pairs.
    pub fields: Fields<'a>,
    /// Whether it is deleted.
    pub deleted: bool,
    /// Where its flags byte is (for [`Block::mark_deleted`]).
    pub flags_at: usize,
}

/// Decodes a block's entries in order.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    block: &'a Block,
    at: usize,
    prev: StreamId,
    first: bool,
}

impl<'a> Iterator for Cursor<'a> {
    type Item = Raw<'a>;

    fn next(&mut self) -> Option<Raw<'a>> {
        let data: &'a [u8] = &self.block.data;
        if self.at >= data.len() {
            return None;
        }
        let flags_at = self.at;
        let flags = data[self.at];
        self.at += 1;
        let dms = get_varint(data, &mut self.at);
        let s = get_varint(data, &mut self.at);
        let id = if self.first {
            self.prev
        } else if dms == 0 {
            StreamId { ms: self.prev.ms, seq: self.prev.seq + s }
        } else {
            StreamId { ms: self.prev.ms + dms, seq: s }
        };
        self.first = false;
        self.prev = id;
        let shared = flags & SAME_FIELDS != 0;
        let (pairs, names) = if shared {
            let mut h = 0;
            get_varint(&data[..self.block.start as usize], &mut h);
            (self.block.master_fields as usize, &data[h..self.block.start as usize])
        } else {
            (get_varint(data, &mut self.at) as usize, &data[..0])
        };
        let body_start = self.at;
        for _ in 0..(if shared { pairs } else { pairs * 2 }) {
            get_str(data, &mut self.at);
        }
        let fields = Fields { names, body: &data[body_start..self.at], pairs, shared };
        Some(Raw { id, fields, deleted: flags & DELETED != 0, flags_at })
    }
}
