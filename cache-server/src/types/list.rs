//! A Redis list: a quicklist-like deque of packed chunks. It owns the byte layout, the memory
//! weight and the invariants; the commands live in `commands/lists.rs`.
//!
//! ```text
//!   List ── VecDeque<Chunk> ──┬── Chunk: [ free | e0 e1 e2 … | free ]   (one boxed byte buffer)
//!                             ├── Chunk: [ … ]                            start ^      ^ end
//!                             └── …                                       count = entries
//! ```
//!
//! Each chunk is one contiguous buffer of encoded entries with free room at both ends, so a push or
//! pop at either end of the list is O(1) (amortised: a chunk grows by a size class or more, in
//! jemalloc's classes, until the budget of `list-max-listpack-size`; then a new chunk starts).
//!
//! The sized layout: one *boundary byte* before, between and after the entries (n + 1 for n
//! entries), each the XOR of the codes of the entries on its two sides (0 past either end), so
//! one byte per entry tells the length of the next entry walking forward and of the previous one
//! walking backward, given the code just passed (Redis's listpack spends two: a header and a
//! `backlen`):
//!
//! ```text
//!   [c0] e0 [c0^c1] e1 [c1^c2] e2 [c2]        code: string of 0..=239 bytes = its length;
//!                                                   240..=244 = integer of 1, 2, 3, 4, 8 bytes;
//!                                                   255 = longer string: len32 data len32
//! ```
//!
//! An entry thus costs its data plus one byte: a short string its length + 1 (listpack: + 2 or
//! more), an integer 2 to 9 bytes (listpack: 2 to 10). Inserting or removing an entry rewrites the
//! boundary bytes on its sides.
//!
//! Elements that are canonical decimal integers (what Redis's `string2ll` accepts, so the text
//! comes back byte for byte) are stored as integers, as Redis does.
//!
//! A chunk started by a short string (1..=64 bytes, not an integer) is *uniform* while every entry
//! has that same length: entries are stored bare, without sizes, and entry `i` sits at
//! `start + i * width` (fixed-size ids, hashes, tokens, redis-benchmark's `xxx`). The first entry
//! of another shape switches the chunk to the sized layout (once: O(chunk)), or starts a new
//! chunk if the switched one would exceed the budget. A chunk holds at most the byte
//! budget of `list-max-listpack-size` (-2 = 8 KiB, Redis's default; a positive value is a count,
//! with Redis's 8 KiB safety limit), so an insert, LSET or removal in the middle moves at most one
//! chunk's bytes: a full chunk is split, small neighbours are merged, sparse buffers shrink. Index
//! operations walk the chunks' counts from the nearer end, then one chunk's entries.
//!
//! Memory: strings of one length take their bytes (3-byte elements: 3 bytes each, where Redis's
//! listpack takes 5); strings of mixed lengths one byte more each (listpack: two or more);
//! canonical integers 2 to 9 bytes; plus 32 bytes per chunk (8 KiB). Buffers grow by about a
//! quarter, in jemalloc's size classes. `weight()` counts every chunk's whole capacity.

use bytes::Bytes;
use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, Range};

/// A chunk's byte budget when `list-max-listpack-size` is a count (Redis's `SIZE_SAFETY_LIMIT`).
const SAFETY_LIMIT: usize = 8192;
/// The largest count `list-max-listpack-size` may set (Redis's `FILL_MAX`).
const FILL_MAX: usize = 1 << 15;
/// Capacity a new chunk starts with beside existing ones (the list is already long).
const NEXT_CHUNK: usize = 1024;
/// The `Arc` counters in front of a stored list.
const ARC_HEADER: usize = 16;
/// Longest string a chunk may store in the uniform layout (no per-entry sizes).
const UNIFORM_MAX: usize = 64;

/// How much one chunk may hold, from `list-max-listpack-size` (Redis's `_quicklistNodeAllowInsert`).
#[derive(Debug, Clone, Copy)]
struct Limits {
    bytes: usize,
    count: usize,
}

impl Limits {
    fn current() -> Self {
        Self::of(fill())
    }

    fn of(fill: i64) -> Self {
        if fill < 0 {
            Self { bytes: 4096 << (-(fill + 1)).min(4), count: usize::MAX }
        } else {
            Self { bytes: SAFETY_LIMIT, count: (fill as usize).min(FILL_MAX) }
        }
    }

    /// Whether a chunk of `used` bytes and `count` entries is within the budget.
    fn fits(&self, used: usize, count: usize) -> bool {
        used <= self.bytes && count <= self.count
    }
}

#[cfg(test)]
thread_local! {
    /// A per-thread `list-max-listpack-size` for unit tests (the real one is process-wide).
    static TEST_FILL: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

fn fill() -> i64 {
    #[cfg(test)]
    if let Some(f) = TEST_FILL.with(|f| f.get()) {
        return f;
    }
    super::list_max_listpack_size()
}

/// The allocation jemalloc makes for `n` bytes (its size classes: four per doubling from 32).
fn size_class(n: usize) -> usize {
    if n <= 16 {
        return 16;
    }
    let lg = usize::BITS - 1 - (n - 1).leading_zeros();
    let step = (1usize << lg.saturating_sub(2)).max(16);
    n.div_ceil(step) * step
}

/// An element as stored: an integer or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw<'a> {
    Int(i64),
    Str(&'a [u8]),
}

fn classify(v: &[u8]) -> Raw<'_> {
    match crate::frame::parse_i64(v) {
        Some(i) => Raw::Int(i),
        None => Raw::Str(v),
    }
}

/// The code of an integer entry of each width (see the module docs).
const INT_CODES: [u8; 5] = [240, 241, 242, 243, 244];
/// The code of a string longer than [`SHORT_MAX`] (its data carries its length at both ends).
const LONG: u8 = 255;
/// The longest string whose code is its length.
const SHORT_MAX: usize = 239;

/// Bytes of an integer entry's data.
fn int_width(i: i64) -> usize {
    if i8::try_from(i).is_ok() {
        1
    } else if i16::try_from(i).is_ok() {
        2
    } else if (-(1 << 23)..1 << 23).contains(&i) {
        3
    } else if i32::try_from(i).is_ok() {
        4
    } else {
        8
    }
}

fn code_width(code: u8) -> usize {
    match code {
        240 => 1,
        241 => 2,
        242 => 3,
        243 => 4,
        _ => 8,
    }
}

fn code_of(e: Raw<'_>) -> u8 {
    match e {
        Raw::Int(i) => {
            INT_CODES[match int_width(i) {
                1 => 0,
                2 => 1,
                3 => 2,
                4 => 3,
                _ => 4,
            }]
        }
        Raw::Str(s) if s.len() <= SHORT_MAX => s.len() as u8,
        Raw::Str(_) => LONG,
    }
}

/// Bytes of an entry's data (without its boundary byte).
fn data_len(e: Raw<'_>) -> usize {
    match e {
        Raw::Int(i) => int_width(i),
        Raw::Str(s) if s.len() <= SHORT_MAX => s.len(),
        Raw::Str(s) => s.len() + 8,
    }
}

/// Bytes `e` adds to a sized chunk: its data and one boundary byte.
fn enc_size(e: Raw<'_>) -> usize {
    data_len(e) + 1
}

/// Writes `e`'s data into `d` (exactly `data_len(e)` bytes).
fn write_data(d: &mut [u8], e: Raw<'_>) {
    match e {
        Raw::Int(i) => d.copy_from_slice(&i.to_le_bytes()[..d.len()]),
        Raw::Str(s) if s.len() <= SHORT_MAX => d.copy_from_slice(s),
        Raw::Str(s) => {
            let n = s.len();
            let len = u32::try_from(n).expect("a list element is under 4 GiB").to_le_bytes();
            d[..4].copy_from_slice(&len);
            d[4..4 + n].copy_from_slice(s);
            d[4 + n..].copy_from_slice(&len);
        }
    }
}

fn u32_at(b: &[u8], p: usize) -> usize {
    u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]) as usize
}

/// The entry of code `code` whose data starts at `p`, and its data length.
fn decode(b: &[u8], p: usize, code: u8) -> (Raw<'_>, usize) {
    match code {
        0..=239 => {
            let n = usize::from(code);
            (Raw::Str(&b[p..p + n]), n)
        }
        LONG => {
            let n = u32_at(b, p);
            (Raw::Str(&b[p + 4..p + 4 + n]), n + 8)
        }
        _ => {
            let w = code_width(code);
            let mut le = if b[p + w - 1] & 0x80 != 0 { [0xFF; 8] } else { [0; 8] };
            le[..w].copy_from_slice(&b[p..p + w]);
            (Raw::Int(i64::from_le_bytes(le)), w)
        }
    }
}

/// Data length of the entry of code `code` whose data ends at `e`.
fn data_len_before(b: &[u8], e: usize, code: u8) -> usize {
    match code {
        0..=239 => usize::from(code),
        LONG => u32_at(b, e - 4) + 8,
        _ => code_width(code),
    }
}

/// A value searched for (LREM, LPOS, LINSERT's pivot): equal to an entry as Redis's listpack
/// compare is, integers by value and strings by bytes.
#[derive(Debug, Clone, Copy)]
struct Needle<'a>(Raw<'a>);

impl Needle<'_> {
    fn matches(&self, e: Raw<'_>) -> bool {
        self.0 == e
    }
}

/// Which side of a chunk an operation needs room on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Front,
    Back,
}

/// One packed run of entries (see the module docs): `buf[start..end]` holds `count` entries.
#[derive(Clone)]
struct Chunk {
    buf: Box<[u8]>,
    start: u32,
    end: u32,
    count: u32,
    /// Non-zero: every entry is a (non-integer) string of exactly this many bytes, stored bare
    /// (the uniform layout); 0: entries carry their sizes (the table in the module docs).
    width: u32,
}

/// A place between two entries of a chunk. Sized layout: `p` is the boundary byte there and
/// `prev` the code of the entry before it (0 at the chunk's start); uniform layout: `p` is the
/// offset of the entry after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cur {
    p: usize,
    prev: u8,
}

impl Chunk {
    fn new(cap: usize, width: usize) -> Self {
        // A sized chunk always holds its boundary bytes, one more than its entries.
        let end = u32::from(width == 0);
        Self { buf: vec![0; cap].into_boxed_slice(), start: 0, end, count: 0, width: width as u32 }
    }

    /// The layout a new chunk whose first entry is `e` takes: uniform for a short string.
    fn width_for(e: Raw<'_>) -> usize {
        match e {
            Raw::Str(s) if (1..=UNIFORM_MAX).contains(&s.len()) => s.len(),
            _ => 0,
        }
    }

    /// The capacity a new chunk needs for its first entry of `n` bytes.
    fn first_cap(n: usize, width: usize) -> usize {
        size_class(n + usize::from(width == 0))
    }

    fn w(&self) -> usize {
        self.width as usize
    }

    /// Whether `e` can be stored without changing the layout.
    fn takes(&self, e: Raw<'_>) -> bool {
        self.width == 0 || matches!(e, Raw::Str(s) if s.len() == self.w())
    }

    /// Bytes `e` adds here (`takes(e)` holds).
    fn size_of(&self, e: Raw<'_>) -> usize {
        if self.width > 0 { self.w() } else { enc_size(e) }
    }

    /// Bytes the entries would take in the sized layout.
    fn variable_size(&self) -> usize {
        // A uniform string (at most UNIFORM_MAX bytes) takes its bytes and a boundary byte.
        if self.width > 0 { self.count as usize * (self.w() + 1) + 1 } else { self.used() }
    }

    fn cap(&self) -> usize {
        self.buf.len()
    }

    fn s(&self) -> usize {
        self.start as usize
    }

    fn e(&self) -> usize {
        self.end as usize
    }

    fn used(&self) -> usize {
        self.e() - self.s()
    }

    fn set_range(&mut self, s: usize, e: usize) {
        self.start = s as u32;
        self.end = e as u32;
    }

    /// The place before the first entry.
    fn first(&self) -> Cur {
        Cur { p: self.s(), prev: 0 }
    }

    /// The place after the last entry.
    fn last(&self) -> Cur {
        if self.width > 0 {
            Cur { p: self.e(), prev: 0 }
        } else {
            Cur { p: self.e() - 1, prev: self.buf[self.e() - 1] }
        }
    }

    fn at_end(&self, c: Cur) -> bool {
        c.p == if self.width > 0 { self.e() } else { self.e() - 1 }
    }

    /// The entry after `c`, and the place after it.
    fn entry_at(&self, c: Cur) -> (Raw<'_>, Cur) {
        if self.width > 0 {
            let w = self.w();
            return (Raw::Str(&self.buf[c.p..c.p + w]), Cur { p: c.p + w, prev: 0 });
        }
        let code = self.buf[c.p] ^ c.prev;
        let (raw, n) = decode(&self.buf, c.p + 1, code);
        (raw, Cur { p: c.p + 1 + n, prev: code })
    }

    /// The entry before `c`, and the place before it.
    fn entry_before(&self, c: Cur) -> (Raw<'_>, Cur) {
        if self.width > 0 {
            let w = self.w();
            return (Raw::Str(&self.buf[c.p - w..c.p]), Cur { p: c.p - w, prev: 0 });
        }
        let code = c.prev;
        let b = c.p - data_len_before(&self.buf, c.p, code) - 1;
        (decode(&self.buf, b + 1, code).0, Cur { p: b, prev: self.buf[b] ^ code })
    }

    /// The place before entry `i` (walked from the nearer end; O(1) when uniform).
    fn pos_of(&self, i: usize) -> Cur {
        let count = self.count as usize;
        if self.width > 0 {
            Cur { p: self.s() + i * self.w(), prev: 0 }
        } else if i <= count / 2 {
            (0..i).fold(self.first(), |c, _| self.entry_at(c).1)
        } else {
            (i..count).fold(self.last(), |c, _| self.entry_before(c).1)
        }
    }

    /// Bytes the entry after `c` takes (with its boundary byte).
    fn size_after(&self, c: Cur) -> usize {
        self.entry_at(c).1.p - c.p
    }

    /// Makes `n` free bytes on `side`, growing the buffer (by a size class or more, up to
    /// `limit` unless one entry needs more) or moving the entries within it. The rest of the free
    /// room goes to `side`, or half to each side if `spread` (a chunk pushed at both ends).
    fn reserve(&mut self, n: usize, side: Side, spread: bool, limit: usize) {
        let (s, e, cap) = (self.s(), self.e(), self.cap());
        let ok = match side {
            Side::Front => s >= n,
            Side::Back => cap - e >= n,
        };
        if ok {
            return;
        }
        let used = e - s;
        let mut new_cap = cap;
        if cap - used < n {
            let most = if used + n > limit { size_class(used + n) } else { limit };
            new_cap = size_class((used + n).max(cap + cap / 4)).min(most).max(used + n);
        }
        let extra = new_cap - used - n;
        let keep = if spread { extra / 2 } else { extra };
        let front = match side {
            Side::Front => n + keep,
            Side::Back => extra - keep,
        };
        if new_cap == cap {
            self.buf.copy_within(s..e, front);
        } else {
            let mut buf = vec![0; new_cap].into_boxed_slice();
            buf[front..front + used].copy_from_slice(&self.buf[s..e]);
            self.buf = buf;
        }
        self.set_range(front, front + used);
    }

    fn push_front(&mut self, e: Raw<'_>, n: usize, spread: bool, limit: usize) {
        self.reserve(n, Side::Front, spread, limit);
        let s = self.s();
        match e {
            Raw::Str(v) if self.width > 0 => self.buf[s - n..s].copy_from_slice(v),
            _ => {
                let code = code_of(e);
                self.buf[s - n] = code;
                write_data(&mut self.buf[s - n + 1..s], e);
                self.buf[s] ^= code;
            }
        }
        self.start = (s - n) as u32;
        self.count += 1;
    }

    fn push_back(&mut self, e: Raw<'_>, n: usize, spread: bool, limit: usize) {
        self.reserve(n, Side::Back, spread, limit);
        let end = self.e();
        match e {
            Raw::Str(v) if self.width > 0 => self.buf[end..end + n].copy_from_slice(v),
            _ => {
                let code = code_of(e);
                self.buf[end - 1] ^= code;
                write_data(&mut self.buf[end..end + n - 1], e);
                self.buf[end + n - 1] = code;
            }
        }
        self.end = (end + n) as u32;
        self.count += 1;
    }

    fn pop_front_with<R>(&mut self, f: impl FnOnce(Raw<'_>) -> R) -> R {
        let (raw, next) = self.entry_at(self.first());
        let r = f(raw);
        if self.width == 0 {
            self.buf[next.p] ^= next.prev;
        }
        self.start = next.p as u32;
        self.count -= 1;
        r
    }

    fn pop_back_with<R>(&mut self, f: impl FnOnce(Raw<'_>) -> R) -> R {
        let (raw, before) = self.entry_before(self.last());
        let r = f(raw);
        if self.width == 0 {
            self.buf[before.p] = before.prev;
            self.end = before.p as u32 + 1;
        } else {
            self.end = before.p as u32;
        }
        self.count -= 1;
        r
    }

    /// Opens `d` free bytes at offset `at` by moving the shorter side of the entries (growing the
    /// buffer first if needed); returns where the gap starts.
    fn open_gap(&mut self, at: usize, d: usize, limit: usize) -> usize {
        let mut at = at;
        if self.s() < d && self.cap() - self.e() < d {
            let old = self.s();
            let side = if at - self.s() <= self.e() - at { Side::Front } else { Side::Back };
            self.reserve(d, side, true, limit);
            at = at + self.s() - old;
        }
        let (s, e) = (self.s(), self.e());
        if s >= d && (at - s <= e - at || self.cap() - e < d) {
            self.buf.copy_within(s..at, s - d);
            self.set_range(s - d, e);
            at - d
        } else {
            self.buf.copy_within(at..e, at + d);
            self.set_range(s, e + d);
            at
        }
    }

    /// Removes the bytes `at..at + d` by moving the shorter side; returns how far the entries
    /// before `at` moved (0 or `d`).
    fn close_gap(&mut self, at: usize, d: usize) -> usize {
        let (s, e) = (self.s(), self.e());
        if at - s < e - (at + d) {
            self.buf.copy_within(s..at, s + d);
            self.set_range(s + d, e);
            d
        } else {
            self.buf.copy_within(at + d..e, at);
            self.set_range(s, e - d);
            0
        }
    }

    /// Inserts `e` (`n` bytes here) at the place `c`.
    fn insert_at(&mut self, c: Cur, e: Raw<'_>, n: usize, limit: usize) {
        match e {
            Raw::Str(v) if self.width > 0 => {
                let g = self.open_gap(c.p, n, limit);
                self.buf[g..g + n].copy_from_slice(v);
            }
            _ => {
                // [prev ^ next] becomes [prev ^ code] data [code ^ next].
                let next = self.buf[c.p] ^ c.prev;
                let code = code_of(e);
                let g = self.open_gap(c.p + 1, n, limit);
                self.buf[g - 1] = c.prev ^ code;
                write_data(&mut self.buf[g..g + n - 1], e);
                self.buf[g + n - 1] = code ^ next;
            }
        }
        self.count += 1;
    }

    /// Removes the entry after `c`; returns how far the bytes before it moved (0 or its size).
    fn remove_at(&mut self, c: Cur) -> usize {
        self.count -= 1;
        if self.width > 0 {
            return self.close_gap(c.p, self.w());
        }
        let (_, after) = self.entry_at(c);
        let next = self.buf[after.p] ^ after.prev;
        self.buf[after.p] = c.prev ^ next;
        self.close_gap(c.p, after.p - c.p)
    }

    /// Overwrites the entry after `c` with `e` (`n` bytes here).
    fn replace_at(&mut self, c: Cur, e: Raw<'_>, n: usize, limit: usize) {
        match e {
            Raw::Str(v) if self.width > 0 => self.buf[c.p..c.p + n].copy_from_slice(v),
            _ => {
                let moved = self.remove_at(c);
                self.insert_at(Cur { p: c.p + moved, prev: c.prev }, e, n, limit);
            }
        }
    }

    /// Splits off the entries from `i` on into a new chunk.
    fn split_off(&mut self, i: usize) -> Chunk {
        let c = self.pos_of(i);
        let n = self.e() - c.p;
        let mut right = Chunk::new(size_class(n), self.w());
        let front = (right.cap() - n) / 2;
        right.buf[front..front + n].copy_from_slice(&self.buf[c.p..self.e()]);
        right.set_range(front, front + n);
        right.count = self.count - i as u32;
        self.count = i as u32;
        if self.width == 0 {
            // The boundary at the split goes to both halves: [prev ^ next] → [prev] | [next].
            right.buf[front] ^= c.prev;
            self.buf[c.p] = c.prev;
            self.end = c.p as u32 + 1;
        } else {
            self.end = c.p as u32;
        }
        right
    }

    /// Appends `other`'s entries (the two have the same layout).
    fn append(&mut self, other: &Chunk, limit: usize) {
        let skip = usize::from(self.width == 0);
        let n = other.used() - skip;
        self.reserve(n, Side::Back, false, limit);
        let e = self.e();
        if skip == 1 {
            // [last] + [first] → [last ^ first].
            self.buf[e - 1] ^= other.buf[other.s()];
        }
        self.buf[e..e + n].copy_from_slice(&other.buf[other.s() + skip..other.e()]);
        self.end += n as u32;
        self.count += other.count;
    }

    /// Drops `k` entries from the front (`back`: from the back).
    fn drop_entries(&mut self, k: usize, back: bool) {
        if back {
            let c = (0..k).fold(self.last(), |c, _| self.entry_before(c).1);
            if self.width == 0 {
                self.buf[c.p] = c.prev;
                self.end = c.p as u32 + 1;
            } else {
                self.end = c.p as u32;
            }
        } else {
            let c = (0..k).fold(self.first(), |c, _| self.entry_at(c).1);
            if self.width == 0 {
                self.buf[c.p] ^= c.prev;
            }
            self.start = c.p as u32;
        }
        self.count -= k as u32;
    }

    /// Removes up to `max` entries equal to `needle`: the first ones, or the last ones if
    /// `from_back`. Returns how many.
    fn remove_matches(&mut self, needle: Needle<'_>, max: usize, from_back: bool) -> usize {
        let count = self.count as usize;
        let mut matches = 0;
        let mut c = self.first();
        for _ in 0..count {
            let (raw, next) = self.entry_at(c);
            matches += usize::from(needle.matches(raw));
            c = next;
        }
        if matches == 0 {
            return 0;
        }
        let skip = if from_back && matches > max { matches - max } else { 0 };
        let goal = matches.min(max);
        let (mut seen, mut removed) = (0, 0);
        // Compacts towards the front: `w` is where the next kept entry's boundary goes.
        let sized = usize::from(self.width == 0);
        let (mut w, mut wprev, mut c) = (self.s(), 0u8, self.first());
        for _ in 0..count {
            let (hit, next) = {
                let (raw, next) = self.entry_at(c);
                (needle.matches(raw), next)
            };
            if hit {
                seen += 1;
            }
            if hit && seen > skip && removed < goal {
                removed += 1;
            } else {
                let n = next.p - c.p - sized;
                if sized == 1 {
                    self.buf[w] = wprev ^ next.prev;
                    wprev = next.prev;
                }
                self.buf.copy_within(c.p + sized..next.p, w + sized);
                w += n + sized;
            }
            c = next;
        }
        if sized == 1 {
            self.buf[w] = wprev;
            w += 1;
        }
        self.end = w as u32;
        self.count -= removed as u32;
        removed
    }

    /// Switches a uniform chunk to the sized layout (before an entry of another shape joins it).
    fn make_variable(&mut self) {
        if self.width == 0 {
            return;
        }
        let mut out = Chunk::new(size_class(self.variable_size()), 0);
        let mut c = self.first();
        for _ in 0..self.count {
            let (raw, next) = self.entry_at(c);
            out.push_back(raw, enc_size(raw), false, usize::MAX);
            c = next;
        }
        *self = out;
    }

    /// Gives back most of a buffer that is mostly empty (after removals).
    fn shrink(&mut self) {
        let used = self.used();
        if self.cap() <= 64 || used * 4 >= self.cap() {
            return;
        }
        let mut buf = vec![0; size_class(used + used / 2)].into_boxed_slice();
        let front = (buf.len() - used) / 2;
        buf[front..front + used].copy_from_slice(&self.buf[self.s()..self.e()]);
        self.buf = buf;
        self.set_range(front, front + used);
    }
}

/// A list of binary-safe elements (see the module docs for the layout).
#[derive(Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    /// Elements in all chunks.
    len: usize,
    /// Sum of the chunks' buffer capacities, kept so that `weight` is O(1).
    bytes: usize,
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|e| Bytes::copy_from_slice(&e))).finish()
    }
}

impl List {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes this list holds on the heap (the `Arc` it is stored in, the chunk table and every
    /// chunk's whole buffer), for the memory budget and MEMORY USAGE.
    pub fn weight(&self) -> u64 {
        let table = self.chunks.capacity() * std::mem::size_of::<Chunk>();
        (ARC_HEADER + std::mem::size_of::<Self>() + table + self.bytes) as u64
    }

    /// OBJECT ENCODING: Redis 7.0 keeps every list in a quicklist.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Runs `f` on chunk `ci`, keeping `bytes` in step with its capacity.
    fn edit<R>(&mut self, ci: usize, f: impl FnOnce(&mut Chunk) -> R) -> R {
        let c = &mut self.chunks[ci];
        let before = c.cap();
        let r = f(c);
        self.bytes = self.bytes + c.cap() - before;
        r
    }

    /// A new chunk for the entry `e` (uniform if `e` is a short string): small while the list
    /// is, else room to fill. Returns it with the size `e` takes in it.
    fn new_chunk(&mut self, e: Raw<'_>, lim: Limits) -> (Chunk, usize) {
        let width = Chunk::width_for(e);
        let n = if width > 0 { width } else { enc_size(e) };
        let long = !self.chunks.is_empty() && lim.count >= 128;
        let first = Chunk::first_cap(n, width);
        let cap = if long { first.max(NEXT_CHUNK.min(lim.bytes)) } else { first };
        if self.chunks.capacity() == 0 {
            // Most lists are one chunk: a table of one (VecDeque would start with four).
            self.chunks.reserve_exact(1);
        }
        self.bytes += cap;
        (Chunk::new(cap, width), n)
    }

    /// Whether chunk `ci` can take `e` within the budget, switching it from the uniform to the
    /// sized layout first if `e` does not fit the former; the bytes `e` takes there.
    fn accept(&mut self, ci: usize, e: Raw<'_>, lim: Limits) -> Option<usize> {
        let c = &self.chunks[ci];
        if c.takes(e) {
            let n = c.size_of(e);
            return lim.fits(c.used() + n, c.count as usize + 1).then_some(n);
        }
        let n = enc_size(e);
        if !lim.fits(c.variable_size() + n, c.count as usize + 1) {
            return None;
        }
        self.edit(ci, Chunk::make_variable);
        Some(n)
    }

    fn push(&mut self, v: &[u8], side: Side) {
        let e = classify(v);
        let lim = Limits::current();
        let spread = self.chunks.len() == 1;
        let ci = if side == Side::Front { 0 } else { self.chunks.len().saturating_sub(1) };
        let room = if self.chunks.is_empty() { None } else { self.accept(ci, e, lim) };
        match room {
            Some(n) => {
                self.edit(ci, |c| match side {
                    Side::Front => c.push_front(e, n, spread, lim.bytes),
                    Side::Back => c.push_back(e, n, spread, lim.bytes),
                });
            }
            None => {
                let (mut c, n) = self.new_chunk(e, lim);
                let before = c.cap();
                match side {
                    Side::Front => {
                        c.push_front(e, n, false, lim.bytes);
                        self.bytes = self.bytes + c.cap() - before;
                        self.chunks.push_front(c);
                    }
                    Side::Back => {
                        c.push_back(e, n, false, lim.bytes);
                        self.bytes = self.bytes + c.cap() - before;
                        self.chunks.push_back(c);
                    }
                }
            }
        }
        self.len += 1;
    }

    /// Adds `v` at the head (LPUSH).
    pub fn push_front(&mut self, v: &[u8]) {
        self.push(v, Side::Front);
    }

    /// Adds `v` at the tail (RPUSH).
    pub fn push_back(&mut self, v: &[u8]) {
        self.push(v, Side::Back);
    }

    fn pop_with<R>(&mut self, side: Side, f: impl FnOnce(Elem<'_>) -> R) -> Option<R> {
        if self.len == 0 {
            return None;
        }
        let ci = if side == Side::Front { 0 } else { self.chunks.len() - 1 };
        let c = &mut self.chunks[ci];
        let r = match side {
            Side::Front => c.pop_front_with(|raw| f(Elem::from(raw))),
            Side::Back => c.pop_back_with(|raw| f(Elem::from(raw))),
        };
        self.len -= 1;
        if c.count == 0 {
            self.bytes -= c.cap();
            self.chunks.remove(ci);
        } else if self.chunks.len() == 1 {
            self.edit(0, Chunk::shrink);
        }
        Some(r)
    }

    /// Removes the head element and hands it to `f` (without copying it out of the list).
    pub fn pop_front_with<R>(&mut self, f: impl FnOnce(Elem<'_>) -> R) -> Option<R> {
        self.pop_with(Side::Front, f)
    }

    /// Removes the tail element and hands it to `f`.
    pub fn pop_back_with<R>(&mut self, f: impl FnOnce(Elem<'_>) -> R) -> Option<R> {
        self.pop_with(Side::Back, f)
    }

    /// Removes and returns the head element (LPOP).
    pub fn pop_front(&mut self) -> Option<Bytes> {
        self.pop_front_with(|e| e.to_bytes())
    }

    /// Removes and returns the tail element (RPOP).
    pub fn pop_back(&mut self) -> Option<Bytes> {
        self.pop_back_with(|e| e.to_bytes())
    }

    /// The chunk and the position in it of element `index` (< len), walking the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut i = index;
            for (ci, c) in self.chunks.iter().enumerate() {
                if i < c.count as usize {
                    return (ci, i);
                }
                i -= c.count as usize;
            }
        } else {
            let mut back = self.len - 1 - index;
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                if back < c.count as usize {
                    return (ci, c.count as usize - 1 - back);
                }
                back -= c.count as usize;
            }
        }
        unreachable!("index {index} < len {}", self.len)
    }

    /// The element at `index` from the head (LINDEX), if any.
    pub fn get(&self, index: usize) -> Option<Elem<'_>> {
        if index >= self.len {
            return None;
        }
        let (ci, i) = self.locate(index);
        let c = &self.chunks[ci];
        Some(Elem::from(c.entry_at(c.pos_of(i)).0))
    }

    /// Replaces the element at `index` (LSET); false if out of range.
    pub fn set(&mut self, index: usize, v: &[u8]) -> bool {
        if index >= self.len {
            return false;
        }
        let (ci, i) = self.locate(index);
        let (e, lim) = (classify(v), Limits::current());
        let c = &self.chunks[ci];
        if c.takes(e) {
            let (p, n) = (c.pos_of(i), c.size_of(e));
            let old = c.size_after(p);
            if n <= old || lim.fits(c.used() + n - old, c.count as usize) || c.count == 1 {
                self.edit(ci, |c| c.replace_at(p, e, n, lim.bytes));
                if n < old {
                    self.tidy(ci, lim);
                }
                return true;
            }
        }
        self.remove(index);
        self.insert(index, v);
        true
    }

    /// Inserts `v` so that it becomes element `index` (LINSERT); `index` may be `len`.
    ///
    /// # Panics
    ///
    /// If `index > len`.
    pub fn insert(&mut self, index: usize, v: &[u8]) {
        assert!(index <= self.len, "insert at {index} past the end ({})", self.len);
        if index == 0 {
            return self.push_front(v);
        }
        if index == self.len {
            return self.push_back(v);
        }
        let (ci, i) = self.locate(index);
        let (e, lim) = (classify(v), Limits::current());
        if let Some(n) = self.accept(ci, e, lim) {
            self.edit(ci, |c| c.insert_at(c.pos_of(i), e, n, lim.bytes));
        } else if i == 0
            && let Some(n) = self.accept(ci - 1, e, lim)
        {
            self.edit(ci - 1, |c| c.push_back(e, n, false, lim.bytes));
        } else {
            // The chunk is full: split it at the insertion point (unless that is its start).
            let at = if i == 0 {
                ci
            } else {
                let right = self.edit(ci, |c| c.split_off(i));
                self.bytes += right.cap();
                self.chunks.insert(ci + 1, right);
                self.edit(ci, Chunk::shrink);
                ci + 1
            };
            if i > 0
                && let Some(n) = self.accept(ci, e, lim)
            {
                self.edit(ci, |c| c.push_back(e, n, false, lim.bytes));
            } else if i > 0
                && let Some(n) = self.accept(at, e, lim)
            {
                self.edit(at, |c| c.push_front(e, n, false, lim.bytes));
            } else {
                let width = Chunk::width_for(e);
                let n = if width > 0 { width } else { enc_size(e) };
                let mut c = Chunk::new(Chunk::first_cap(n, width), width);
                c.push_back(e, n, false, lim.bytes);
                self.bytes += c.cap();
                self.chunks.insert(at, c);
            }
        }
        self.len += 1;
    }

    /// Removes the element at `index`; false if out of range.
    pub fn remove(&mut self, index: usize) -> bool {
        if index >= self.len {
            return false;
        }
        let (ci, i) = self.locate(index);
        self.edit(ci, |c| {
            c.remove_at(c.pos_of(i));
        });
        self.len -= 1;
        self.tidy(ci, Limits::current());
        true
    }

    /// After removals in chunk `ci`: drops it if empty, merges it into a neighbour if both fit in
    /// one chunk and it is under a quarter of the budget, shrinks a mostly empty buffer.
    fn tidy(&mut self, ci: usize, lim: Limits) {
        let c = &self.chunks[ci];
        if c.count == 0 {
            self.bytes -= c.cap();
            self.chunks.remove(ci);
            return;
        }
        if c.used() * 4 < lim.bytes {
            let size = |a: &Chunk, b: &Chunk| {
                if a.width == b.width { a.used() + b.used() } else { a.variable_size() + b.variable_size() }
            };
            let merges = |a: &Chunk, b: &Chunk| lim.fits(size(a, b), (a.count + b.count) as usize);
            let into = if ci > 0 && merges(&self.chunks[ci - 1], c) {
                Some((ci - 1, ci))
            } else if ci + 1 < self.chunks.len() && merges(c, &self.chunks[ci + 1]) {
                Some((ci, ci + 1))
            } else {
                None
            };
            if let Some((a, b)) = into {
                let mut gone = self.chunks.remove(b).expect("a neighbour");
                self.bytes -= gone.cap();
                if gone.width != self.chunks[a].width {
                    gone.make_variable();
                    self.edit(a, Chunk::make_variable);
                }
                self.edit(a, |c| c.append(&gone, lim.bytes));
                return;
            }
        }
        self.edit(ci, Chunk::shrink);
    }

    /// Removes up to `count` elements equal to `v` (0 = all), from the head or, if `from_back`,
    /// from the tail (LREM); returns how many.
    pub fn remove_matching(&mut self, v: &[u8], count: usize, from_back: bool) -> usize {
        let needle = Needle(classify(v));
        let max = if count == 0 { usize::MAX } else { count };
        let (mut removed, chunks) = (0, self.chunks.len());
        for step in 0..chunks {
            if removed == max {
                break;
            }
            let ci = if from_back { chunks - 1 - step } else { step };
            removed += self.chunks[ci].remove_matches(needle, max - removed, from_back);
        }
        self.len -= removed;
        if removed > 0 {
            let lim = Limits::current();
            let mut ci = self.chunks.len();
            while ci > 0 {
                ci -= 1;
                if ci < self.chunks.len() {
                    self.tidy(ci, lim);
                }
            }
        }
        removed
    }

    /// Keeps only the elements in `keep` (LTRIM); a range past the end keeps what exists.
    pub fn trim(&mut self, keep: Range<usize>) {
        let end = keep.end.min(self.len);
        let start = keep.start.min(end);
        self.drop_end(self.len - end, Side::Back);
        self.drop_end(start, Side::Front);
    }

    /// Removes `k` elements from one end: whole chunks, then part of one.
    fn drop_end(&mut self, mut k: usize, side: Side) {
        while k > 0 {
            let c = if side == Side::Front { &self.chunks[0] } else { &self.chunks[self.chunks.len() - 1] };
            if c.count as usize <= k {
                k -= c.count as usize;
                self.len -= c.count as usize;
                self.bytes -= c.cap();
                if side == Side::Front {
                    self.chunks.pop_front();
                } else {
                    self.chunks.pop_back();
                }
            } else {
                let ci = if side == Side::Front { 0 } else { self.chunks.len() - 1 };
                self.edit(ci, |c| c.drop_entries(k, side == Side::Back));
                self.len -= k;
                self.edit(ci, Chunk::shrink);
                k = 0;
            }
        }
    }

    /// The elements from head to tail (double-ended: `.rev()` walks from the tail).
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The elements from `index` to the tail (LRANGE), found by walking chunk counts.
    pub fn iter_from(&self, index: usize) -> Iter<'_> {
        let none = Cur { p: 0, prev: 0 };
        let mut it = Iter { chunks: &self.chunks, fc: 0, f: none, bc: 0, b: none, left: 0 };
        if index >= self.len {
            return it;
        }
        let (ci, i) = self.locate(index);
        let last = self.chunks.len() - 1;
        it.fc = ci;
        it.f = self.chunks[ci].pos_of(i);
        it.bc = last;
        it.b = self.chunks[last].last();
        it.left = self.len - index;
        it
    }

    /// Checks the layout's invariants (tests).
    #[cfg(test)]
    fn check(&self) {
        let lim = Limits::current();
        let mut len = 0;
        let mut bytes = 0;
        for c in &self.chunks {
            assert!(c.count > 0, "empty chunk");
            assert!(c.s() <= c.e() && c.e() <= c.cap());
            let (mut cur, mut n) = (c.first(), 0);
            while !c.at_end(cur) {
                let (raw, next) = c.entry_at(cur);
                if let Raw::Str(b) = raw {
                    assert!(classify(b) == raw, "a canonical integer stored as a string: {raw:?}");
                }
                assert!(next.p <= c.e(), "entries overrun the chunk");
                cur = next;
                n += 1;
            }
            assert_eq!(cur, c.last(), "the last boundary disagrees with the entries");
            assert_eq!(n, c.count as usize);
            let (mut back, mut m) = (c.last(), 0);
            while back.p != c.s() {
                back = c.entry_before(back).1;
                m += 1;
            }
            assert_eq!((back, m), (c.first(), n), "walking back disagrees");
            assert!(c.count == 1 || lim.fits(c.used(), c.count as usize), "chunk over budget: {} B", c.used());
            len += n;
            bytes += c.cap();
        }
        assert_eq!(len, self.len);
        assert_eq!(bytes, self.bytes);
    }
}

impl<T: AsRef<[u8]>> Extend<T> for List {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for v in iter {
            self.push_back(v.as_ref());
        }
    }
}

impl<T: AsRef<[u8]>> FromIterator<T> for List {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut l = List::new();
        l.extend(iter);
        l
    }
}

/// One element read from a list: bytes borrowed from its chunk, or an integer entry rendered in
/// place. Derefs to `[u8]`.
#[derive(Clone, Copy)]
pub struct Elem<'a>(ElemRepr<'a>);

#[derive(Clone, Copy)]
enum ElemRepr<'a> {
    Bytes(&'a [u8]),
    Int([u8; 20], u8),
}

impl<'a> From<Raw<'a>> for Elem<'a> {
    fn from(r: Raw<'a>) -> Self {
        match r {
            Raw::Str(s) => Elem(ElemRepr::Bytes(s)),
            Raw::Int(i) => {
                let mut buf = [0u8; 20];
                let at = 20 - crate::reply::fmt_i64(i, &mut buf).len();
                Elem(ElemRepr::Int(buf, at as u8))
            }
        }
    }
}

impl Elem<'_> {
    /// The element as owned bytes.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl Deref for Elem<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            ElemRepr::Bytes(b) => b,
            ElemRepr::Int(buf, at) => &buf[usize::from(*at)..],
        }
    }
}

impl AsRef<[u8]> for Elem<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for Elem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self), f)
    }
}

/// Iterator over a list's elements ([`List::iter`], [`List::iter_from`]), from either end.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    chunks: &'a VecDeque<Chunk>,
    /// Chunk of the next element from the front, and the place before it.
    fc: usize,
    f: Cur,
    /// Chunk of the next element from the back, and the place after it.
    bc: usize,
    b: Cur,
    /// Elements not yet yielded from either end.
    left: usize,
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunk")
            .field("used", &self.used())
            .field("cap", &self.cap())
            .field("count", &self.count)
            .finish()
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        if self.left == 0 {
            return None;
        }
        while self.chunks[self.fc].at_end(self.f) {
            self.fc += 1;
            self.f = self.chunks[self.fc].first();
        }
        let chunks: &'a VecDeque<Chunk> = self.chunks;
        let (raw, next) = chunks[self.fc].entry_at(self.f);
        self.f = next;
        self.left -= 1;
        Some(Elem::from(raw))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        while self.b.p == self.chunks[self.bc].s() {
            self.bc -= 1;
            self.b = self.chunks[self.bc].last();
        }
        let chunks = self.chunks;
        let (raw, before) = chunks[self.bc].entry_before(self.b);
        self.b = before;
        self.left -= 1;
        Some(Elem::from(raw))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn with_fill<R>(fill: i64, f: impl FnOnce() -> R) -> R {
        TEST_FILL.with(|c| c.set(Some(fill)));
        let r = f();
        TEST_FILL.with(|c| c.set(None));
        r
    }

    fn items(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn entries_round_trip_in_both_directions() {
        let mut values: Vec<Vec<u8>> = Vec::new();
        for i in [0i64, 1, 127, 128, -1, -4096, 4095, 4096, -4097, 32767, -32768, 32768, 8388607, -8388608, 8388608]
            .into_iter()
            .chain([i64::from(i32::MAX), i64::from(i32::MIN), i64::from(i32::MAX) + 1, i64::MAX, i64::MIN])
        {
            values.push(i.to_string().into_bytes());
        }
        for s in ["", "01", "+1", "-0", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "abc", "\0\r\n"] {
            values.push(s.as_bytes().to_vec());
        }
        for n in [62, 63, 64, 4095, 4096, 70000] {
            values.push(vec![b'x'; n]);
        }
        let l: List = values.iter().collect();
        l.check();
        assert_eq!(items(&l), values);
        let back: Vec<Vec<u8>> = l.iter().rev().map(|e| e.to_vec()).collect();
        assert_eq!(back, values.iter().rev().cloned().collect::<Vec<_>>());
        // Canonical integers are stored as integers, everything else as bytes.
        assert_eq!(classify(b"127"), Raw::Int(127));
        assert_eq!(classify(b"01"), Raw::Str(b"01"));
        assert_eq!(enc_size(classify(b"xxx")), 4);
        assert_eq!(enc_size(classify(b"5")), 2);
        assert_eq!(enc_size(classify(b"-1000")), 3);
    }

    #[test]
    fn size_classes_follow_jemalloc() {
        let got: Vec<usize> = [1, 16, 17, 33, 49, 65, 129, 4097, 8192, 8193].into_iter().map(size_class).collect();
        assert_eq!(got, [16, 16, 32, 48, 64, 80, 160, 5120, 8192, 10240]);
    }

    #[test]
    fn chunks_stay_within_the_budget() {
        for fill in [-1, -2, -5, 0, 1, 3, 128] {
            with_fill(fill, || {
                let mut l = List::new();
                for i in 0..3000 {
                    if i % 2 == 0 {
                        l.push_front(format!("e{i}").as_bytes());
                    } else {
                        l.push_back(format!("e{i}").as_bytes());
                    }
                }
                l.insert(1500, &[b'y'; 300]);
                l.set(10, &[b'z'; 5000]);
                l.check();
                assert_eq!(l.len(), 3001);
            });
        }
    }

    /// 1M elements of 3 bytes (redis-benchmark's LPUSH) weigh about 3 bytes each in uniform
    /// chunks (Redis 7.0: 5); of mixed sizes, one byte more each (Redis: two).
    #[test]
    fn a_million_small_elements_weigh_their_bytes() {
        let mut l = List::new();
        for _ in 0..1_000_000 {
            l.push_front(b"xxx");
        }
        l.check();
        let per = l.weight() as f64 / 1e6;
        assert!(per < 3.05, "{per} bytes per element");
        let mut l = List::new();
        for i in 0..1_000_000 {
            l.push_back(if i % 2 == 0 { b"xxx" } else { b"yy" });
        }
        l.check();
        let per = l.weight() as f64 / 1e6;
        assert!(per < 3.6, "{per} bytes per element");
        let mut small = List::new();
        for i in 0..10 {
            small.push_back(format!("v{i:03}").as_bytes());
        }
        assert!(small.weight() <= 16 + 48 + 32 + 80, "{}", small.weight());
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushFront(Vec<u8>),
        PushBack(Vec<u8>),
        PopFront,
        PopBack,
        Insert(usize, Vec<u8>),
        Set(usize, Vec<u8>),
        Remove(usize),
        RemoveMatching(Vec<u8>, usize, bool),
        Trim(usize, usize),
        Get(usize),
        IterFrom(usize),
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (-300i64..300).prop_map(|i| i.to_string().into_bytes()),
            1 => any::<i64>().prop_map(|i| i.to_string().into_bytes()),
            4 => proptest::collection::vec(any::<u8>(), 0..8),
            2 => proptest::collection::vec(b'a'..b'c', 0..3),
            1 => proptest::collection::vec(any::<u8>(), 60..200),
            1 => (4000usize..4200).prop_map(|n| vec![b'q'; n]),
        ]
    }

    /// Mostly strings of one width (uniform chunks), now and then another shape.
    fn same_width() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            12 => proptest::collection::vec(b'a'..b'd', 3..=3),
            1 => proptest::collection::vec(b'a'..b'd', 2..=2),
            1 => (0i64..200).prop_map(|i| i.to_string().into_bytes()),
            1 => (0usize..2).prop_map(|n| vec![b'x'; n * 70]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        op_with(value().boxed())
    }

    fn op_with(value: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = Op> {
        let v = move || value.clone();
        prop_oneof![
            4 => v().prop_map(Op::PushFront),
            4 => v().prop_map(Op::PushBack),
            1 => Just(Op::PopFront),
            1 => Just(Op::PopBack),
            2 => (any::<usize>(), v()).prop_map(|(i, v)| Op::Insert(i, v)),
            2 => (any::<usize>(), v()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => any::<usize>().prop_map(Op::Remove),
            1 => (v(), 0usize..4, any::<bool>()).prop_map(|(v, n, b)| Op::RemoveMatching(v, n, b)),
            1 => (0usize..8, 0usize..8).prop_map(|(a, b)| Op::Trim(a, b)),
            1 => any::<usize>().prop_map(Op::Get),
            1 => any::<usize>().prop_map(Op::IterFrom),
        ]
    }

    fn apply(l: &mut List, m: &mut VecDeque<Vec<u8>>, op: Op) {
        let len = m.len();
        match op {
            Op::PushFront(v) => {
                l.push_front(&v);
                m.push_front(v);
            }
            Op::PushBack(v) => {
                l.push_back(&v);
                m.push_back(v);
            }
            Op::PopFront => assert_eq!(l.pop_front().map(|b| b.to_vec()), m.pop_front()),
            Op::PopBack => assert_eq!(l.pop_back().map(|b| b.to_vec()), m.pop_back()),
            Op::Insert(i, v) => {
                let i = i % (len + 1);
                l.insert(i, &v);
                m.insert(i, v);
            }
            Op::Set(i, v) => {
                let i = if len == 0 { i % 3 } else { i % (len + 1) };
                assert_eq!(l.set(i, &v), i < len);
                if i < len {
                    m[i] = v;
                }
            }
            Op::Remove(i) => {
                let i = i % (len + 1);
                assert_eq!(l.remove(i), m.remove(i).is_some());
            }
            Op::RemoveMatching(v, n, from_back) => {
                let mut removed = 0;
                let max = if n == 0 { usize::MAX } else { n };
                let mut kept: Vec<Vec<u8>> = Vec::new();
                let order: Vec<Vec<u8>> =
                    if from_back { m.iter().rev().cloned().collect() } else { m.iter().cloned().collect() };
                for x in order {
                    if x == v && removed < max {
                        removed += 1;
                    } else {
                        kept.push(x);
                    }
                }
                if from_back {
                    kept.reverse();
                }
                *m = kept.into();
                assert_eq!(l.remove_matching(&v, n, from_back), removed);
            }
            Op::Trim(a, b) => {
                let (start, end) = (a.min(len), len.saturating_sub(b).max(a.min(len)));
                l.trim(start..end);
                *m = m.iter().skip(start).take(end - start).cloned().collect();
            }
            Op::Get(i) => {
                let i = i % (len + 1);
                assert_eq!(l.get(i).map(|e| e.to_vec()), m.get(i).cloned());
            }
            Op::IterFrom(i) => {
                let i = i % (len + 1);
                let got: Vec<Vec<u8>> = l.iter_from(i).map(|e| e.to_vec()).collect();
                assert_eq!(got, m.iter().skip(i).cloned().collect::<Vec<_>>());
                assert_eq!(l.iter_from(i).len(), len - i);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn behaves_like_a_vecdeque(fill in prop_oneof![Just(-1i64), Just(-2), Just(0), Just(1), Just(2), Just(7)],
                                   uniform in any::<bool>(),
                                   ops in proptest::collection::vec(op(), 1..300),
                                   same in proptest::collection::vec(op_with(same_width().boxed()), 1..600)) {
            let ops = if uniform { same } else { ops };
            with_fill(fill, || {
                let mut l = List::new();
                let mut m = VecDeque::new();
                for op in ops {
                    apply(&mut l, &mut m, op);
                    l.check();
                    prop_assert_eq!(l.len(), m.len());
                }
                prop_assert_eq!(items(&l), m.iter().cloned().collect::<Vec<_>>());
                let back: Vec<Vec<u8>> = l.iter().rev().map(|e| e.to_vec()).collect();
                prop_assert_eq!(back, m.iter().rev().cloned().collect::<Vec<_>>());
                // A mixed walk from both ends meets in the middle without crossing.
                let mut it = l.iter();
                let mut seen = 0;
                while (if seen % 2 == 0 { it.next() } else { it.next_back() }).is_some() {
                    seen += 1;
                }
                prop_assert_eq!(seen, m.len());
                Ok(())
            })?;
        }
    }
}
