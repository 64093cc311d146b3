//! A Redis set: its two encodings, Redis 7.0's rules for switching between them, its memory
//! weight and its random picks. The commands live in `commands/sets.rs`; nothing here knows the
//! keyspace or the wire.
//!
//! ```text
//!   Set ── Ints: one boxed byte string [width][i16|i32|i64 little-endian, sorted ...]   "intset"
//!      └── Table (boxed) ── members: chunks of 1,024 `Member`s (24 B each: inline up to 22 B,
//!                           │          else one boxed slice), dense positions 0..len   "hashtable"
//!                           └── index: hashbrown `HashTable<u32>` of positions (past 16 members)
//! ```
//!
//! Like Redis 7.0, a set whose members are all canonical decimal integers (Redis's `string2ll`:
//! no `+`, no leading zeros, no spaces, `-0` is not one) is an *intset* of the narrowest width
//! that holds them, until a member is not such an integer or an add makes it longer than
//! `set-max-intset-entries` (read at that add); it is then a *hashtable* for good. A set built
//! fresh (the `*STORE` results, [`Set::from_iter`]) starts again as an intset.
//!
//! The table keeps its members dense (a removal moves the last member into the hole), so a
//! uniformly random member is one random position: SRANDMEMBER and SPOP cost O(1) per pick, as
//! Redis's random bucket does, without a pointer per member. Positions are also the SSCAN cursor
//! (visited from the end, so a removal during a scan never hides an unvisited member).
//!
//! Memory, measured side by side (release binary, jemalloc, 995K members `element:<12 digits>`
//! from redis-benchmark's SADD): 34 B per member by `used_memory` (this weight), 39 B by RSS,
//! against Redis 7.0's 72 B (dictEntry 24→32, sds 24→32, 8 B bucket). That is 24 B per member
//! plus 5 B per index bucket (4 B position + 1 control byte, 7/8 load, power-of-two buckets);
//! keeping the members themselves in a hashbrown table would cost 33-52 B (`layout_options`).
//! Small intsets live inside the set (one 48 B allocation for up to 14 16-bit values, as Redis's
//! robj + intset), so a key of 10 small integers costs what Redis's does beyond the key itself.

use crate::frame::parse_i64;
use bytes::Bytes;
use hashbrown::HashTable;
use std::cell::Cell;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Members up to this many bytes live inside their 24-byte slot.
const INLINE: usize = 22;
/// Members per chunk of a table (24 KiB, a jemalloc size class): growth never copies more.
const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;
/// A table of more members than this keeps a hash index; smaller ones are searched in place.
const INDEX_AT: usize = 16;
/// Redis caps `set-max-intset-entries` at 2^30 (intset internals).
const INTSET_CAP: usize = 1 << 30;

/// A set of binary-safe members (see the module docs for its layout).
#[derive(Debug, Clone, Default)]
pub struct Set(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Ints(IntSet),
    Table(Box<Table>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Ints(IntSet::default())
    }
}

/// One element as a set hands it out: a member's bytes, or an intset integer formatted in
/// decimal (its bytes as a member). Cheap to copy; `as_ref()` gives the bytes.
#[derive(Debug, Clone, Copy)]
pub enum Elem<'a> {
    /// A member stored as bytes.
    Bytes(&'a [u8]),
    /// An intset integer, with its decimal text.
    Int(i64, IntText),
}

/// The decimal text of an `i64`, kept inline.
#[derive(Debug, Clone, Copy)]
pub struct IntText {
    buf: [u8; 20],
    start: u8,
}

impl IntText {
    fn new(v: i64) -> Self {
        let mut buf = [0u8; 20];
        let start = 20 - crate::reply::fmt_i64(v, &mut buf).len();
        Self { buf, start: start as u8 }
    }
}

impl AsRef<[u8]> for Elem<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Elem::Bytes(b) => b,
            Elem::Int(_, t) => &t.buf[t.start as usize..],
        }
    }
}

impl Elem<'_> {
    fn int(v: i64) -> Self {
        Elem::Int(v, IntText::new(v))
    }

    /// The element copied out.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_ref())
    }
}

impl Set {
    /// An empty set (an intset until its first member says otherwise, as Redis creates one).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Ints(s) => s.len(),
            Repr::Table(t) => t.len,
        }
    }

    /// True if no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes this set costs: the `Arc` allocation that holds it, its heap blocks at their
    /// capacities, and members stored out of line. O(1), for the memory budget and MEMORY USAGE.
    pub fn weight(&self) -> u64 {
        const ARC: usize = 16 + size_of::<Set>();
        let heap = match &self.0 {
            Repr::Ints(s) => s.heap(),
            Repr::Table(t) => alloc_size(size_of::<Table>()) + t.heap_bytes(),
        };
        (ARC + heap) as u64
    }

    /// OBJECT ENCODING as Redis 7.0 would report it: `intset` or `hashtable`.
    pub fn encoding(&self) -> &'static str {
        match self.0 {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// True if `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.0 {
            Repr::Ints(s) => parse_i64(m).is_some_and(|v| s.search(v).is_ok()),
            Repr::Table(t) => t.find(m, t.hash_if_indexed(m)).is_some(),
        }
    }

    /// [`Set::contains`] for an element of another set (an intset's integer is not reparsed).
    pub fn contains_elem(&self, e: &Elem<'_>) -> bool {
        match (&self.0, e) {
            (Repr::Ints(s), Elem::Int(v, _)) => s.search(*v).is_ok(),
            _ => self.contains(e.as_ref()),
        }
    }

    /// Adds `m`; true if it is new. Converts an intset to a table as Redis 7.0 does: for a member
    /// that is not a canonical integer, or when the add makes it longer than
    /// `set-max-intset-entries` (the value in force now).
    pub fn insert(&mut self, m: &[u8]) -> bool {
        self.insert_up_to(m, crate::types::set_max_intset_entries())
    }

    /// [`Set::insert`] with `max_intset` in place of the configured `set-max-intset-entries`.
    pub fn insert_up_to(&mut self, m: &[u8], max_intset: usize) -> bool {
        match &mut self.0 {
            Repr::Ints(s) => match parse_i64(m) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > max_intset.min(INTSET_CAP) {
                        self.convert();
                    }
                    true
                }
                None => {
                    self.convert();
                    self.insert_up_to(m, max_intset)
                }
            },
            Repr::Table(t) => t.insert(m),
        }
    }

    /// Removes `m`; true if it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Ints(s) => parse_i64(m).is_some_and(|v| s.remove(v)),
            Repr::Table(t) => match t.find(m, t.hash_if_indexed(m)) {
                Some(pos) => {
                    t.remove_at(pos);
                    true
                }
                None => false,
            },
        }
    }

    /// The member at position `i` (`i < len()`): intsets in ascending order, tables in their
    /// dense order. Every position is one member, so a uniform position is a uniform member.
    pub fn get(&self, i: usize) -> Elem<'_> {
        match &self.0 {
            Repr::Ints(s) => Elem::int(s.get(i)),
            Repr::Table(t) => Elem::Bytes(t.at(i).as_bytes()),
        }
    }

    /// A uniformly random member (O(1)), or `None` if empty.
    pub fn random(&self) -> Option<Elem<'_>> {
        (!self.is_empty()).then(|| self.get(random_below(self.len())))
    }

    /// Up to `count` distinct members drawn uniformly (Floyd's sampling: O(count), whatever the
    /// size); the whole set, in its order, when `count >= len()`.
    pub fn sample(&self, count: usize) -> Vec<Elem<'_>> {
        let n = self.len();
        if count >= n {
            return self.iter().collect();
        }
        let mut seen = hashbrown::HashSet::with_capacity_and_hasher(count, FixedState);
        let mut picks = Vec::with_capacity(count);
        for j in n - count..n {
            let t = random_below(j + 1);
            let pick = if seen.insert(t) { t } else { j };
            seen.insert(pick);
            picks.push(self.get(pick));
        }
        picks
    }

    /// Removes and returns a uniformly random member (O(1) for tables), or `None` if empty.
    pub fn pop_random(&mut self) -> Option<Bytes> {
        if self.is_empty() {
            return None;
        }
        let i = random_below(self.len());
        Some(match &mut self.0 {
            Repr::Ints(s) => {
                let v = s.get(i);
                s.remove(v);
                Elem::int(v).to_bytes()
            }
            Repr::Table(t) => Bytes::from(t.remove_at(i).into_vec()),
        })
    }

    /// The members in order (see [`Set::get`]).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Elem<'_>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// One SSCAN step from `cursor` (0 starts), visiting about `count` members: the members
    /// visited and the next cursor (0 when done). An intset comes back whole, as Redis 7.0 returns
    /// it; a table is visited from its last position down, so members present for the whole scan
    /// are returned at least once even if others are removed meanwhile (the one moved into a
    /// removed member's place may come twice).
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Elem<'_>>) {
        match &self.0 {
            Repr::Ints(_) => (0, self.iter().collect()),
            Repr::Table(t) => {
                let from = if cursor == 0 { t.len } else { (cursor.min(t.len as u64)) as usize };
                let to = from.saturating_sub(count.max(1));
                ((to as u64), (to..from).rev().map(|i| self.get(i)).collect())
            }
        }
    }

    /// True while the set is an intset.
    pub fn is_intset(&self) -> bool {
        matches!(self.0, Repr::Ints(_))
    }

    fn convert(&mut self) {
        let Repr::Ints(s) = &self.0 else { return };
        let mut t = Table::with_capacity(s.len());
        for i in 0..s.len() {
            let text = IntText::new(s.get(i));
            let h = t.hash_if_indexed(text.as_bytes());
            t.push(Member::new(text.as_bytes()), h);
        }
        self.0 = Repr::Table(Box::new(t));
    }
}

impl IntText {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start as usize..]
    }
}

/// A set built fresh from members, as Redis builds a `*STORE` result (an intset while it can be).
impl<T: AsRef<[u8]>> FromIterator<T> for Set {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut s = Set::new();
        for m in iter {
            s.insert(m.as_ref());
        }
        s
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|e| other.contains(e.as_ref()))
    }
}

/// Sorted integers as one byte string `[width][value]*`, values little-endian of `width` bytes
/// (2, 4 or 8: the narrowest that holds every value, never narrowed again). Up to
/// [`INLINE_INTS`] bytes it lives inside the set itself (so inside the `Arc`'s one allocation:
/// 14 16-bit values, as Redis's robj plus intset take 48 B for 10); past that, in one exact-size
/// block rewritten on each change, as Redis's intset is (at most `set-max-intset-entries`
/// values, 512 by default).
#[derive(Debug, Clone)]
enum IntSet {
    Inline { used: u8, buf: [u8; INLINE_INTS] },
    Heap(Box<[u8]>),
}

/// Bytes of an intset kept inside the set.
const INLINE_INTS: usize = 29;

impl Default for IntSet {
    fn default() -> Self {
        IntSet::Inline { used: 0, buf: [0; INLINE_INTS] }
    }
}

fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

fn put_int(out: &mut [u8], v: i64) {
    match out.len() {
        2 => out.copy_from_slice(&(v as i16).to_le_bytes()),
        4 => out.copy_from_slice(&(v as i32).to_le_bytes()),
        _ => out.copy_from_slice(&v.to_le_bytes()),
    }
}

impl IntSet {
    fn bytes(&self) -> &[u8] {
        match self {
            IntSet::Inline { used, buf } => &buf[..usize::from(*used)],
            IntSet::Heap(b) => b,
        }
    }

    /// Heap bytes held (none while inline).
    fn heap(&self) -> usize {
        match self {
            IntSet::Inline { .. } => 0,
            IntSet::Heap(b) => alloc_size(b.len()),
        }
    }

    fn width(&self) -> usize {
        self.bytes().first().map_or(2, |&w| usize::from(w))
    }

    fn len(&self) -> usize {
        let b = self.bytes();
        if b.is_empty() { 0 } else { (b.len() - 1) / self.width() }
    }

    fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let s = &self.bytes()[1 + i * w..1 + (i + 1) * w];
        match w {
            2 => i64::from(i16::from_le_bytes([s[0], s[1]])),
            4 => i64::from(i32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            _ => i64::from_le_bytes(s.try_into().expect("8 bytes")),
        }
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Replaces the bytes with `len` new ones that `fill` writes from the old ones.
    fn rewrite(&mut self, len: usize, fill: impl FnOnce(&[u8], &mut [u8])) {
        *self = if len <= INLINE_INTS {
            let mut buf = [0u8; INLINE_INTS];
            fill(self.bytes(), &mut buf[..len]);
            IntSet::Inline { used: len as u8, buf }
        } else {
            let mut out = vec![0u8; len];
            fill(self.bytes(), &mut out);
            IntSet::Heap(out.into_boxed_slice())
        };
    }

    fn insert(&mut self, v: i64) -> bool {
        let (w, need, n) = (self.width(), width_for(v), self.len());
        if n > 0 && need > w {
            // Wider than every value held, so it goes first (negative) or last.
            let old: Vec<i64> = (0..n).map(|i| self.get(i)).collect();
            let (shift, at) = if v < 0 { (1, 0) } else { (0, n) };
            self.rewrite(1 + (n + 1) * need, |_, out| {
                out[0] = need as u8;
                for (i, x) in old.into_iter().enumerate() {
                    put_int(&mut out[1 + (i + shift) * need..1 + (i + shift + 1) * need], x);
                }
                put_int(&mut out[1 + at * need..1 + (at + 1) * need], v);
            });
            return true;
        }
        let Err(pos) = self.search(v) else { return false };
        let w = if n == 0 { need } else { w };
        let at = 1 + pos * w;
        self.rewrite(1 + (n + 1) * w, |old, out| {
            out[0] = w as u8;
            if !old.is_empty() {
                out[1..at].copy_from_slice(&old[1..at]);
                out[at + w..].copy_from_slice(&old[at..]);
            }
            put_int(&mut out[at..at + w], v);
        });
        true
    }

    fn remove(&mut self, v: i64) -> bool {
        let Ok(pos) = self.search(v) else { return false };
        let (w, n) = (self.width(), self.len());
        let at = 1 + pos * w;
        let len = if n == 1 { 0 } else { 1 + (n - 1) * w };
        self.rewrite(len, |old, out| {
            if len > 0 {
                out[..at].copy_from_slice(&old[..at]);
                out[at..].copy_from_slice(&old[at + w..]);
            }
        });
        true
    }
}

/// One member of a table: inline up to [`INLINE`] bytes, else one exact-size heap block.
#[derive(Debug, Clone)]
enum Member {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Member {
    fn new(b: &[u8]) -> Self {
        if b.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            Member::Inline { len: b.len() as u8, buf }
        } else {
            Member::Heap(b.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Member::Inline { len, buf } => &buf[..usize::from(*len)],
            Member::Heap(b) => b,
        }
    }

    /// Bytes held outside the slot.
    fn heap(&self) -> usize {
        match self {
            Member::Inline { .. } => 0,
            Member::Heap(b) => alloc_size(b.len()),
        }
    }

    fn into_vec(self) -> Vec<u8> {
        match self {
            Member::Inline { len, buf } => buf[..usize::from(len)].to_vec(),
            Member::Heap(b) => b.into_vec(),
        }
    }
}

/// The hashtable encoding: dense members in chunks (every chunk but the last full) and, past
/// [`INDEX_AT`] members, an index from member hash to position.
#[derive(Debug, Clone, Default)]
struct Table {
    chunks: Vec<Vec<Member>>,
    len: usize,
    /// Positions of all members once `len > INDEX_AT` (empty before: members are searched).
    index: HashTable<u32>,
    /// Bytes of members stored out of line.
    heap: usize,
}

impl Table {
    fn with_capacity(n: usize) -> Self {
        let mut t = Table::default();
        if n > 0 {
            t.chunks.reserve_exact(n.div_ceil(CHUNK));
            t.chunks.push(Vec::with_capacity(n.min(CHUNK)));
        }
        t
    }

    fn at(&self, pos: usize) -> &Member {
        &self.chunks[pos >> CHUNK_BITS][pos & (CHUNK - 1)]
    }

    fn indexed(&self) -> bool {
        !self.index.is_empty()
    }

    fn hash_if_indexed(&self, m: &[u8]) -> u64 {
        if self.indexed() { hash(m) } else { 0 }
    }

    fn find(&self, m: &[u8], h: u64) -> Option<usize> {
        if self.indexed() {
            let chunks = &self.chunks;
            self.index.find(h, |&p| member_at(chunks, p as usize).as_bytes() == m).map(|&p| p as usize)
        } else {
            self.chunks.iter().flatten().position(|x| x.as_bytes() == m)
        }
    }

    fn insert(&mut self, m: &[u8]) -> bool {
        let h = self.hash_if_indexed(m);
        if self.find(m, h).is_some() {
            return false;
        }
        self.push(Member::new(m), h);
        true
    }

    /// Appends a member known to be new, whose hash is `h` if the table is indexed (keeps the
    /// index, building it past [`INDEX_AT`] members).
    fn push(&mut self, m: Member, h: u64) {
        let pos = self.len;
        self.heap += m.heap();
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            let first = self.chunks.is_empty();
            if first {
                self.chunks.reserve_exact(1);
            }
            self.chunks.push(Vec::with_capacity(if first { 4 } else { CHUNK }));
        }
        let last = self.chunks.last_mut().expect("pushed above");
        if last.len() == last.capacity() {
            // The first chunk grows by half (small sets stay tight); later ones start full size.
            last.reserve_exact((last.len() / 2).max(4).min(CHUNK - last.len()));
        }
        last.push(m);
        self.len += 1;
        if self.indexed() {
            let chunks = &self.chunks;
            self.index.insert_unique(h, pos as u32, |&p| hash(member_at(chunks, p as usize).as_bytes()));
        } else if self.len > INDEX_AT {
            self.build_index();
        }
    }

    fn build_index(&mut self) {
        let mut index = HashTable::with_capacity(self.len);
        for (pos, m) in self.chunks.iter().flatten().enumerate() {
            index.insert_unique(hash(m.as_bytes()), pos as u32, |_| unreachable!("presized"));
        }
        self.index = index;
    }

    /// Removes the member at `pos`, moving the last member into its place.
    fn remove_at(&mut self, pos: usize) -> Member {
        let last = self.len - 1;
        if self.indexed() {
            let chunks = &self.chunks;
            if let Ok(e) = self.index.find_entry(hash(member_at(chunks, pos).as_bytes()), |&p| p as usize == pos) {
                e.remove();
            }
            if pos != last {
                let h = hash(member_at(chunks, last).as_bytes());
                if let Some(p) = self.index.find_mut(h, |&p| p as usize == last) {
                    *p = pos as u32;
                }
            }
        }
        let tail = self.chunks.last_mut().expect("not empty");
        let moved = tail.pop().expect("chunks are never left empty");
        if tail.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        let out = if pos == last {
            moved
        } else {
            std::mem::replace(&mut self.chunks[pos >> CHUNK_BITS][pos & (CHUNK - 1)], moved)
        };
        self.heap -= out.heap();
        self.shrink();
        out
    }

    /// Gives memory back after many removals (Redis shrinks a dict under 10% fill).
    fn shrink(&mut self) {
        if self.indexed() && self.len <= INDEX_AT / 2 {
            self.index = HashTable::new();
        } else if self.indexed() && self.index.capacity() > 64 && self.len * 8 < self.index.capacity() {
            let chunks = &self.chunks;
            self.index.shrink_to(self.len * 2, |&p| hash(member_at(chunks, p as usize).as_bytes()));
        }
        if self.chunks.capacity() > 4 && self.chunks.len() * 4 < self.chunks.capacity() {
            self.chunks.shrink_to(self.chunks.len() * 2);
        }
        if let [only] = self.chunks.as_mut_slice()
            && only.capacity() > 8
            && only.len() * 4 < only.capacity()
        {
            only.shrink_to(only.len() * 2);
        }
    }

    /// Heap bytes at current capacities (O(1): every chunk but the last holds [`CHUNK`]).
    fn heap_bytes(&self) -> usize {
        let slots = match self.chunks.last() {
            None => 0,
            Some(last) => (self.chunks.len() - 1) * CHUNK + last.capacity(),
        };
        slots * size_of::<Member>()
            + self.chunks.capacity() * size_of::<Vec<Member>>()
            + self.index.allocation_size()
            + self.heap
    }
}

/// What an allocator hands out for `n` bytes (jemalloc's small size classes: 8, then multiples
/// of 16 up to 128, then four classes per doubling).
fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => n.next_multiple_of(16),
        _ => {
            let step = (n - 1).next_power_of_two() / 8;
            n.next_multiple_of(step.max(16))
        }
    }
}

fn member_at(chunks: &[Vec<Member>], p: usize) -> &Member {
    &chunks[p >> CHUNK_BITS][p & (CHUNK - 1)]
}

/// The members' hash: one process-wide randomly seeded `ahash` (no hasher stored per set).
fn hash(b: &[u8]) -> u64 {
    static STATE: OnceLock<ahash::RandomState> = OnceLock::new();
    STATE.get_or_init(ahash::RandomState::new).hash_one(b)
}

/// A fixed-seed hasher for small scratch sets of positions.
#[derive(Debug, Clone, Copy, Default)]
struct FixedState;

impl BuildHasher for FixedState {
    type Hasher = ahash::AHasher;
    fn build_hasher(&self) -> ahash::AHasher {
        ahash::RandomState::with_seeds(1, 2, 3, 4).build_hasher()
    }
}

thread_local! {
    /// wyrand state, seeded per thread from the standard library's random hasher keys.
    static RNG: Cell<u64> = Cell::new(std::collections::hash_map::RandomState::new().hash_one(0u8) | 1);
}

/// A uniformly random number in `0..n` (`n > 0`).
pub fn random_below(n: usize) -> usize {
    let r = RNG.with(|s| {
        let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = u128::from(x) * u128::from(x ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    });
    ((u128::from(r) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn members(s: &Set) -> BTreeSet<Vec<u8>> {
        s.iter().map(|e| e.as_ref().to_vec()).collect()
    }

    #[test]
    fn layout_stays_compact() {
        assert_eq!(size_of::<Set>(), 32);
        assert_eq!(size_of::<Member>(), 24);
    }

    #[test]
    fn intsets_keep_the_narrowest_width_sorted_and_upgrade() {
        let mut s = Set::new();
        for m in ["5", "-3", "100", "5"] {
            s.insert(m.as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        let Repr::Ints(i) = &s.0 else { unreachable!() };
        assert_eq!((i.width(), i.len(), i.heap()), (2, 3, 0));
        assert!(s.insert(b"40000"));
        assert!(s.insert(b"-9223372036854775808"));
        let Repr::Ints(i) = &s.0 else { unreachable!() };
        assert_eq!(i.width(), 8);
        let got: Vec<Vec<u8>> = s.iter().map(|e| e.as_ref().to_vec()).collect();
        let want: Vec<&[u8]> = vec![b"-9223372036854775808", b"-3", b"5", b"100", b"40000"];
        assert_eq!(got, want);
        // Removing never narrows; the last removal frees the block.
        for m in ["40000", "-9223372036854775808", "-3", "5"] {
            assert!(s.remove(m.as_bytes()));
        }
        assert!(!s.remove(b"5"));
        assert_eq!(s.len(), 1);
        assert!(s.remove(b"100") && s.is_empty() && s.weight() == (16 + size_of::<Set>()) as u64);
    }

    #[test]
    fn only_canonical_integers_stay_in_an_intset() {
        for m in ["01", "+1", " 1", "1 ", "-0", "1.0", "9223372036854775808", "", "-"] {
            let mut s: Set = ["1", "2"].into_iter().collect();
            assert!(!s.contains(m.as_bytes()));
            assert!(s.insert(m.as_bytes()), "{m:?}");
            assert_eq!(s.encoding(), "hashtable", "{m:?} is not an integer for an intset");
            assert!(s.contains(m.as_bytes()) && s.contains(b"1") && s.len() == 3);
        }
        let s: Set = ["-9223372036854775808", "9223372036854775807", "0"].into_iter().collect();
        assert_eq!(s.encoding(), "intset");
    }

    #[test]
    fn an_intset_converts_past_the_threshold_and_never_back() {
        let mut s = Set::new();
        for i in 0..512 {
            s.insert(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"512");
        assert_eq!((s.encoding(), s.len()), ("hashtable", 513));
        for i in 0..500 {
            assert!(s.remove(i.to_string().as_bytes()));
        }
        assert_eq!(s.encoding(), "hashtable", "sticky");
        // A set built fresh from the same members is an intset again.
        let fresh: Set = s.iter().collect();
        assert_eq!(fresh.encoding(), "intset");
        assert_eq!(fresh, s);
        // A non-integer converts at once, keeping the members.
        let mut t: Set = ["7", "8"].into_iter().collect();
        t.insert(b"x");
        assert_eq!(members(&t), [b"7".to_vec(), b"8".to_vec(), b"x".to_vec()].into_iter().collect());
    }

    #[test]
    fn the_threshold_is_read_at_each_add() {
        let mut s = Set::new();
        for m in ["1", "2", "3"] {
            s.insert_up_to(m.as_bytes(), 3);
        }
        assert_eq!(s.encoding(), "intset");
        // A lowered threshold waits for the next successful add.
        assert!(!s.insert_up_to(b"2", 1));
        assert_eq!(s.encoding(), "intset");
        assert!(s.insert_up_to(b"4", 1));
        assert_eq!(s.encoding(), "hashtable");
        let mut z = Set::new();
        z.insert_up_to(b"1", 0);
        assert_eq!((z.encoding(), z.len()), ("hashtable", 1));
    }

    #[test]
    fn members_inline_or_boxed_and_the_weight_follows() {
        let mut s = Set::new();
        let long = vec![b'x'; 100];
        s.insert(b"a");
        let before = s.weight();
        s.insert(&long);
        assert!(s.weight() >= before + 100);
        assert!(s.contains(&long) && s.remove(&long));
        assert!(s.weight() < before + 100);
        assert!(s.insert(&[b'y'; INLINE]) && s.insert(&[b'y'; INLINE + 1]));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn a_million_members_cost_about_thirty_bytes_each() {
        let mut s = Set::new();
        for i in 0..1_000_000u64 {
            s.insert(format!("element:{i:012}").as_bytes());
        }
        let per = s.weight() as f64 / 1e6;
        assert!((24.0..40.0).contains(&per), "{per} B per member");
        assert!(s.contains(b"element:000000123456"));
        // Popping all but a few gives the memory back.
        while s.len() > 10 {
            s.pop_random();
        }
        assert!(s.weight() < 2_000, "{}", s.weight());
    }

    /// The layout choice, measured (`cargo test -p cache-server --release -- --ignored
    /// layout_options --nocapture`): heap bytes per member of the dense chunks plus an index of
    /// positions, against a hashbrown table holding the members (random picks by bucket).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn layout_options() {
        for n in [100_000u64, 600_000, 1_000_000] {
            let mut dense = Set::new();
            let mut table: HashTable<Member> = HashTable::new();
            for i in 0..n {
                let m = format!("element:{i:012}");
                dense.insert(m.as_bytes());
                table.insert_unique(hash(m.as_bytes()), Member::new(m.as_bytes()), |x| hash(x.as_bytes()));
            }
            println!(
                "{n} members: dense+index {:.1} B/member, members in a hashbrown table {:.1} B/member",
                dense.weight() as f64 / n as f64,
                table.allocation_size() as f64 / n as f64
            );
        }
    }

    #[test]
    fn random_picks_are_uniform() {
        let s: Set = (0..10).map(|i| format!("m{i}")).collect();
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            let e = s.random().unwrap();
            counts[usize::from(e.as_ref()[1] - b'0')] += 1;
        }
        assert!(counts.iter().all(|&c| (9_000..11_000).contains(&c)), "{counts:?}");
        let picks = s.sample(4);
        let distinct: BTreeSet<Vec<u8>> = picks.iter().map(|e| e.as_ref().to_vec()).collect();
        assert_eq!((picks.len(), distinct.len()), (4, 4));
        assert_eq!(s.sample(20).len(), 10);
    }

    #[test]
    fn a_scan_returns_every_member_present_throughout() {
        let mut s: Set = (0..3000).map(|i| format!("m{i}")).collect();
        let (mut cursor, mut seen, mut removed) = (0, BTreeSet::new(), BTreeSet::new());
        let mut round = 0;
        loop {
            let (next, items) = s.scan(cursor, 100);
            seen.extend(items.iter().map(|e| e.as_ref().to_vec()));
            // Remove a few members (some seen, some not) and add new ones between calls.
            for k in 0..5 {
                let m = format!("m{}", (round * 7 + k * 613) % 3000);
                if s.remove(m.as_bytes()) {
                    removed.insert(m.into_bytes());
                }
                s.insert(format!("new{round}-{k}").as_bytes());
            }
            round += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for i in 0..3000 {
            let m = format!("m{i}").into_bytes();
            assert!(removed.contains(&m) || seen.contains(&m), "{}", String::from_utf8_lossy(&m));
        }
        let small: Set = ["3", "1", "2"].into_iter().collect();
        assert_eq!(small.scan(0, 1).1.len(), 3, "an intset comes back whole");
    }

    proptest::proptest! {
        /// Any sequence of adds, removes and pops keeps the set equal to a BTreeSet model, with
        /// Redis's encoding (intset iff every member is an integer and the threshold was never
        /// passed).
        #[test]
        fn behaves_like_a_btreeset(ops in proptest::collection::vec((0u8..6, 0u16..600, 0u8..4), 1..400)) {
            let mut s = Set::new();
            let mut model = BTreeSet::new();
            let mut sticky = false;
            for (op, n, kind) in ops {
                let m: Vec<u8> = match kind {
                    0 | 1 => n.to_string().into_bytes(),
                    2 => format!("{n:03}").into_bytes(),
                    _ => format!("member-with-a-long-name-{n}").into_bytes(),
                };
                match op {
                    0..=2 => {
                        proptest::prop_assert_eq!(s.insert(&m), model.insert(m.clone()));
                    }
                    3 | 4 => {
                        proptest::prop_assert_eq!(s.remove(&m), model.remove(&m));
                    }
                    _ => {
                        if let Some(p) = s.pop_random() {
                            proptest::prop_assert!(model.remove(p.as_ref()));
                        }
                    }
                }
                let all_ints = model.iter().all(|m| parse_i64(m).is_some());
                sticky |= !all_ints || model.len() > 512;
                proptest::prop_assert_eq!(s.is_intset(), !sticky);
                if s.is_empty() {
                    sticky = false;
                    s = Set::new();
                }
                proptest::prop_assert_eq!(s.len(), model.len());
                proptest::prop_assert_eq!(s.contains(&m), model.contains(&m));
            }
            proptest::prop_assert_eq!(members(&s), model.clone());
            if s.is_intset() {
                let v: Vec<i64> = s.iter().map(|e| parse_i64(e.as_ref()).unwrap()).collect();
                proptest::prop_assert!(v.windows(2).all(|w| w[0] < w[1]));
            }
            let fresh: Set = model.iter().collect();
            proptest::prop_assert_eq!(fresh.len(), model.len());
        }
    }
}
