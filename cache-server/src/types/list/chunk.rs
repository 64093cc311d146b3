//! One chunk of a list: a buffer of listpack-like entries with free room at both ends, the
//! entry encoding (bare same-length strings, sized strings, integers) and the chunk budget from
//! `list-max-listpack-size`. The list itself (`super`) is a deque of these.

/// A chunk's byte budget when `list-max-listpack-size` is a count (Redis's `SIZE_SAFETY_LIMIT`).
pub(super) const SAFETY_LIMIT: usize = 8192;
/// The largest count `list-max-listpack-size` may set (Redis's `FILL_MAX`).
pub(super) const FILL_MAX: usize = 1 << 15;
/// Capacity a new chunk starts with beside existing ones (the list is already long).
pub(super) const NEXT_CHUNK: usize = 1024;
/// The `Arc` counters in front of a stored list.
pub(super) const ARC_HEADER: usize = 16;
/// Longest string a chunk may store in the uniform layout (no per-entry sizes).
pub(super) const UNIFORM_MAX: usize = 64;

/// How much one chunk may hold, from `list-max-listpack-size` (Redis's `_quicklistNodeAllowInsert`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) bytes: usize,
    pub(super) count: usize,
}

impl Limits {
    pub(super) fn current() -> Self {
        Self::of(fill())
    }

    pub(super) fn of(fill: i64) -> Self {
        if fill < 0 {
            Self { bytes: 4096 << (-(fill + 1)).min(4), count: usize::MAX }
        } else {
            Self { bytes: SAFETY_LIMIT, count: (fill as usize).min(FILL_MAX) }
        }
    }

    /// Whether a chunk of `used` bytes and `count` entries is within the budget.
    pub(super) fn fits(&self, used: usize, count: usize) -> bool {
        used <= self.bytes && count <= self.count
    }
}

#[cfg(test)]
thread_local! {
    /// A per-thread `list-max-listpack-size` for unit tests (the real one is process-wide).
    pub(super) static TEST_FILL: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

pub(super) fn fill() -> i64 {
    #[cfg(test)]
    if let Some(f) = TEST_FILL.with(|f| f.get()) {
        return f;
    }
    crate::types::list_max_listpack_size()
}

/// The allocation jemalloc makes for `n` bytes (its size classes: four per doubling from 32).
pub(super) fn size_class(n: usize) -> usize {
    if n <= 16 {
        return 16;
    }
    let lg = usize::BITS - 1 - (n - 1).leading_zeros();
    let step = (1usize << lg.saturating_sub(2)).max(16);
    n.div_ceil(step) * step
}

/// An element as stored: an integer or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Raw<'a> {
    Int(i64),
    Str(&'a [u8]),
}

pub(super) fn classify(v: &[u8]) -> Raw<'_> {
    match crate::frame::parse_i64(v) {
        Some(i) => Raw::Int(i),
        None => Raw::Str(v),
    }
}

/// The code of an integer entry of each width (see the module docs).
pub(super) const INT_CODES: [u8; 5] = [240, 241, 242, 243, 244];
/// The code of a string longer than [`SHORT_MAX`] (its data carries its length at both ends).
pub(super) const LONG: u8 = 255;
/// The longest string whose code is its length.
pub(super) const SHORT_MAX: usize = 239;

/// Bytes of an integer entry's data.
pub(super) fn int_width(i: i64) -> usize {
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

pub(super) fn code_width(code: u8) -> usize {
    match code {
        240 => 1,
        241 => 2,
        242 => 3,
        243 => 4,
        _ => 8,
    }
}

pub(super) fn code_of(e: Raw<'_>) -> u8 {
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
pub(super) fn data_len(e: Raw<'_>) -> usize {
    match e {
        Raw::Int(i) => int_width(i),
        Raw::Str(s) if s.len() <= SHORT_MAX => s.len(),
        Raw::Str(s) => s.len() + 8,
    }
}

/// Bytes `e` adds to a sized chunk: its data and one boundary byte.
pub(super) fn enc_size(e: Raw<'_>) -> usize {
    data_len(e) + 1
}

/// Writes `e`'s data into `d` (exactly `data_len(e)` bytes).
pub(super) fn write_data(d: &mut [u8], e: Raw<'_>) {
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

pub(super) fn u32_at(b: &[u8], p: usize) -> usize {
    u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]) as usize
}

/// The entry of code `code` whose data starts at `p`, and its data length.
pub(super) fn decode(b: &[u8], p: usize, code: u8) -> (Raw<'_>, usize) {
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
pub(super) fn data_len_before(b: &[u8], e: usize, code: u8) -> usize {
    match code {
        0..=239 => usize::from(code),
        LONG => u32_at(b, e - 4) + 8,
        _ => code_width(code),
    }
}

/// A value searched for (LREM, LPOS, LINSERT's pivot): equal to an entry as Redis's listpack
/// compare is, integers by value and strings by bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Needle<'a>(pub(super) Raw<'a>);

impl Needle<'_> {
    pub(super) fn matches(&self, e: Raw<'_>) -> bool {
        self.0 == e
    }
}

/// Which side of a chunk an operation needs room on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Front,
    Back,
}

/// One packed run of entries (see the module docs): `buf[start..end]` holds `count` entries.
#[derive(Clone)]
pub(super) struct Chunk {
    pub(super) buf: Box<[u8]>,
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) count: u32,
    /// Non-zero: every entry is a (non-integer) string of exactly this many bytes, stored bare
    /// (the uniform layout); 0: entries carry their sizes (the table in the module docs).
    pub(super) width: u32,
}

/// A place between two entries of a chunk. Sized layout: `p` is the boundary byte there and
/// `prev` the code of the entry before it (0 at the chunk's start); uniform layout: `p` is the
/// offset of the entry after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cur {
    pub(super) p: usize,
    pub(super) prev: u8,
}

impl Chunk {
    pub(super) fn new(cap: usize, width: usize) -> Self {
        // A sized chunk always holds its boundary bytes, one more than its entries.
        let end = u32::from(width == 0);
        Self { buf: vec![0; cap].into_boxed_slice(), start: 0, end, count: 0, width: width as u32 }
    }

    /// The layout a new chunk whose first entry is `e` takes: uniform for a short string.
    pub(super) fn width_for(e: Raw<'_>) -> usize {
        match e {
            Raw::Str(s) if (1..=UNIFORM_MAX).contains(&s.len()) => s.len(),
            _ => 0,
        }
    }

    /// The capacity a new chunk needs for its first entry of `n` bytes.
    pub(super) fn first_cap(n: usize, width: usize) -> usize {
        size_class(n + usize::from(width == 0))
    }

    pub(super) fn w(&self) -> usize {
        self.width as usize
    }

    /// Whether `e` can be stored without changing the layout.
    pub(super) fn takes(&self, e: Raw<'_>) -> bool {
        self.width == 0 || matches!(e, Raw::Str(s) if s.len() == self.w())
    }

    /// Bytes `e` adds here (`takes(e)` holds).
    pub(super) fn size_of(&self, e: Raw<'_>) -> usize {
        if self.width > 0 { self.w() } else { enc_size(e) }
    }

    /// Bytes the entries would take in the sized layout.
    pub(super) fn variable_size(&self) -> usize {
        // A uniform string (at most UNIFORM_MAX bytes) takes its bytes and a boundary byte.
        if self.width > 0 { self.count as usize * (self.w() + 1) + 1 } else { self.used() }
    }

    pub(super) fn cap(&self) -> usize {
        self.buf.len()
    }

    pub(super) fn s(&self) -> usize {
        self.start as usize
    }

    pub(super) fn e(&self) -> usize {
        self.end as usize
    }

    pub(super) fn used(&self) -> usize {
        self.e() - self.s()
    }

    pub(super) fn set_range(&mut self, s: usize, e: usize) {
        self.start = s as u32;
        self.end = e as u32;
    }

    /// The place before the first entry.
    pub(super) fn first(&self) -> Cur {
        Cur { p: self.s(), prev: 0 }
    }

    /// The place after the last entry.
    pub(super) fn last(&self) -> Cur {
        if self.width > 0 {
            Cur { p: self.e(), prev: 0 }
        } else {
            Cur { p: self.e() - 1, prev: self.buf[self.e() - 1] }
        }
    }

    pub(super) fn at_end(&self, c: Cur) -> bool {
        c.p == if self.width > 0 { self.e() } else { self.e() - 1 }
    }

    /// The entry after `c`, and the place after it.
    pub(super) fn entry_at(&self, c: Cur) -> (Raw<'_>, Cur) {
        if self.width > 0 {
            let w = self.w();
            return (Raw::Str(&self.buf[c.p..c.p + w]), Cur { p: c.p + w, prev: 0 });
        }
        let code = self.buf[c.p] ^ c.prev;
        let (raw, n) = decode(&self.buf, c.p + 1, code);
        (raw, Cur { p: c.p + 1 + n, prev: code })
    }

    /// The entry before `c`, and the place before it.
    pub(super) fn entry_before(&self, c: Cur) -> (Raw<'_>, Cur) {
        if self.width > 0 {
            let w = self.w();
            return (Raw::Str(&self.buf[c.p - w..c.p]), Cur { p: c.p - w, prev: 0 });
        }
        let code = c.prev;
        let b = c.p - data_len_before(&self.buf, c.p, code) - 1;
        (decode(&self.buf, b + 1, code).0, Cur { p: b, prev: self.buf[b] ^ code })
    }

    /// The place before entry `i` (walked from the nearer end; O(1) when uniform).
    pub(super) fn pos_of(&self, i: usize) -> Cur {
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
    pub(super) fn size_after(&self, c: Cur) -> usize {
        self.entry_at(c).1.p - c.p
    }

    /// Makes `n` free bytes on `side`, growing the buffer (by a size class or more, up to
    /// `limit` unless one entry needs more) or moving the entries within it. The rest of the free
    /// room goes to `side`, or half to each side if `spread` (a chunk pushed at both ends).
    pub(super) fn reserve(&mut self, n: usize, side: Side, spread: bool, limit: usize) {
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

    pub(super) fn push_front(&mut self, e: Raw<'_>, n: usize, spread: bool, limit: usize) {
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

    pub(super) fn push_back(&mut self, e: Raw<'_>, n: usize, spread: bool, limit: usize) {
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

    pub(super) fn pop_front_with<R>(&mut self, f: impl FnOnce(Raw<'_>) -> R) -> R {
        let (raw, next) = self.entry_at(self.first());
        let r = f(raw);
        if self.width == 0 {
            self.buf[next.p] ^= next.prev;
        }
        self.start = next.p as u32;
        self.count -= 1;
        r
    }

    pub(super) fn pop_back_with<R>(&mut self, f: impl FnOnce(Raw<'_>) -> R) -> R {
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
    pub(super) fn open_gap(&mut self, at: usize, d: usize, limit: usize) -> usize {
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
    pub(super) fn close_gap(&mut self, at: usize, d: usize) -> usize {
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
    pub(super) fn insert_at(&mut self, c: Cur, e: Raw<'_>, n: usize, limit: usize) {
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
    pub(super) fn remove_at(&mut self, c: Cur) -> usize {
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
    pub(super) fn replace_at(&mut self, c: Cur, e: Raw<'_>, n: usize, limit: usize) {
        match e {
            Raw::Str(v) if self.width > 0 => self.buf[c.p..c.p + n].copy_from_slice(v),
            _ => {
                let moved = self.remove_at(c);
                self.insert_at(Cur { p: c.p + moved, prev: c.prev }, e, n, limit);
            }
        }
    }

    /// Splits off the entries from `i` on into a new chunk.
    pub(super) fn split_off(&mut self, i: usize) -> Chunk {
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
    pub(super) fn append(&mut self, other: &Chunk, limit: usize) {
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
    pub(super) fn drop_entries(&mut self, k: usize, back: bool) {
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
    pub(super) fn remove_matches(&mut self, needle: Needle<'_>, max: usize, from_back: bool) -> usize {
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
    pub(super) fn make_variable(&mut self) {
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
    pub(super) fn shrink(&mut self) {
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
