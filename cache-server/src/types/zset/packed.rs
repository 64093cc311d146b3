//! The small sorted-set encoding, Redis's listpack in spirit: every `(member, score)` pair packed
//! in order into one exactly-sized buffer, searched linearly (it only ever holds up to
//! `zset-max-listpack-entries` members of up to `zset-max-listpack-value` bytes).
//!
//! ```text
//!   entry = varint(len << 1 | int) member-bytes score
//!   score = zigzag varint   when int (an integral score below 2^53; -0 is stored as 0, as Redis does)
//!         | 8 bytes f64 LE  otherwise
//! ```

/// Pairs in `(score, member)` order.
#[derive(Clone, Debug, Default)]
pub(super) struct Packed {
    buf: Vec<u8>,
    len: usize,
}

/// Where one entry lies in the buffer.
#[derive(Clone, Copy, Debug)]
pub(super) struct At {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) index: usize,
    pub(super) score: f64,
}

const INT_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn get_varint(b: &[u8], mut at: usize) -> (u64, usize) {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[at];
        at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (v, at);
        }
        shift += 7;
    }
}

/// Appends one encoded entry to `out`.
fn encode(out: &mut Vec<u8>, score: f64, member: &[u8]) {
    let int = score.fract() == 0.0 && score.abs() < INT_LIMIT;
    put_varint(out, (member.len() as u64) << 1 | u64::from(int));
    out.extend_from_slice(member);
    if int {
        let i = score as i64;
        put_varint(out, ((i << 1) ^ (i >> 63)) as u64);
    } else {
        out.extend_from_slice(&score.to_le_bytes());
    }
}

/// Decodes the entry at `at`: score, member, next offset.
#[inline]
fn decode(b: &[u8], at: usize) -> (f64, &[u8], usize) {
    let (hdr, at) = get_varint(b, at);
    let len = (hdr >> 1) as usize;
    let member = &b[at..at + len];
    let at = at + len;
    if hdr & 1 == 1 {
        let (z, next) = get_varint(b, at);
        let i = (z >> 1) as i64 ^ -((z & 1) as i64);
        (i as f64, member, next)
    } else {
        let bits: [u8; 8] = b[at..at + 8].try_into().expect("8 score bytes");
        (f64::from_le_bytes(bits), member, at + 8)
    }
}

impl Packed {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes (the buffer's allocation).
    pub(super) fn weight(&self) -> usize {
        super::tree::alloc_size(self.buf.capacity())
    }

    /// Builds from pairs already in order.
    pub(super) fn from_sorted<'a>(pairs: impl IntoIterator<Item = (f64, &'a [u8])>) -> Self {
        let mut p = Packed::default();
        for (score, member) in pairs {
            encode(&mut p.buf, score, member);
            p.len += 1;
        }
        p.buf.shrink_to_fit();
        p
    }

    /// `count` entries from byte offset `start` (an entry's start) on.
    pub(super) fn iter_from(&self, start: usize, count: usize) -> Iter<'_> {
        Iter { buf: &self.buf, at: start, remaining: count }
    }

    /// All entries in order.
    pub(super) fn iter(&self) -> Iter<'_> {
        self.iter_from(0, self.len)
    }

    /// Bytes of the encoded entries.
    pub(super) fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Byte offset of entry `index` (`index <= len`).
    pub(super) fn offset_of(&self, index: usize) -> usize {
        let mut at = 0;
        for _ in 0..index {
            at = decode(&self.buf, at).2;
        }
        at
    }

    /// The entry of `member`.
    pub(super) fn find(&self, member: &[u8]) -> Option<At> {
        let mut at = 0;
        for index in 0..self.len {
            let (score, m, next) = decode(&self.buf, at);
            if m == member {
                return Some(At { start: at, end: next, index, score });
            }
            at = next;
        }
        None
    }

    /// Adds `(score, member)`, which must not be present.
    pub(super) fn insert(&mut self, score: f64, member: &[u8]) {
        let score = if score == 0.0 { 0.0 } else { score };
        let mut at = 0;
        for _ in 0..self.len {
            let (s, m, next) = decode(&self.buf, at);
            if s > score || (s == score && m > member) {
                break;
            }
            at = next;
        }
        let mut entry = Vec::with_capacity(member.len() + 12);
        encode(&mut entry, score, member);
        self.buf.reserve_exact(entry.len());
        self.buf.splice(at..at, entry);
        self.len += 1;
    }

    /// Removes the entry at `at`.
    pub(super) fn remove(&mut self, at: At) {
        self.buf.drain(at.start..at.end);
        self.len -= 1;
        self.trim();
    }

    /// Removes entries `lo..hi`.
    pub(super) fn remove_range(&mut self, lo: usize, hi: usize) {
        let start = self.offset_of(lo);
        let mut end = start;
        for _ in lo..hi {
            end = decode(&self.buf, end).2;
        }
        self.buf.drain(start..end);
        self.len -= hi - lo;
        self.trim();
    }

    fn trim(&mut self) {
        if self.buf.capacity() > self.buf.len() + self.buf.len() / 4 + 32 {
            self.buf.shrink_to_fit();
        }
    }

    /// Changes the score of the entry at `at` (its member is `member`) to `score`.
    pub(super) fn update(&mut self, at: At, member: &[u8], score: f64) {
        // Without trimming in between: the freed room takes the entry back.
        self.buf.drain(at.start..at.end);
        self.len -= 1;
        self.insert(score, member);
        self.trim();
    }

    /// Index of the first entry for which `pred` is false (scanning from the start).
    pub(super) fn position(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.iter().position(|(s, m)| !pred(s, m)).unwrap_or(self.len)
    }
}

/// Entries of a packed set in order.
#[derive(Clone, Debug)]
pub(super) struct Iter<'a> {
    buf: &'a [u8],
    at: usize,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let (s, m, next) = decode(self.buf, self.at);
        self.at = next;
        self.remaining -= 1;
        Some((s, m))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_scores_compactly_and_exactly() {
        let scores = [0.0, -0.0, 1.0, -1.0, 0.5, 1e300, f64::INFINITY, f64::NEG_INFINITY, 4503599627370496.0, -7.25];
        let mut p = Packed::default();
        for (i, s) in scores.iter().enumerate() {
            p.insert(*s, format!("m{i}").as_bytes());
        }
        let got: Vec<(f64, Vec<u8>)> = p.iter().map(|(s, m)| (s, m.to_vec())).collect();
        let mut want: Vec<(f64, Vec<u8>)> = scores
            .iter()
            .enumerate()
            .map(|(i, s)| (if *s == 0.0 { 0.0 } else { *s }, format!("m{i}").into_bytes()))
            .collect();
        want.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0.to_bits(), w.0.to_bits());
            assert_eq!(g.1, w.1);
        }
        let at = p.find(b"m2").unwrap();
        assert_eq!(at.score, 1.0);
        assert_eq!(at.end - at.start, 4);
        p.remove(at);
        assert!(p.find(b"m2").is_none());
        assert_eq!(p.len(), scores.len() - 1);
    }
}
