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

mod chunk;
use chunk::*;

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
mod tests;
