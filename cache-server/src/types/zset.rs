//! A Redis sorted set: members with `f64` scores, ordered by score, then by member bytes
//! (memcmp). Commands live in `commands/zsets.rs`; this module owns the layout, its weight and the
//! encoding Redis 7.0 would report.
//!
//! Like Redis, two encodings:
//!
//! ```text
//!   listpack  Packed: every pair packed in order in one exact-size buffer, linear search
//!             (packed.rs), while ≤ zset-max-listpack-entries members of ≤ zset-max-listpack-value B
//!   skiplist  Large: a counted B+tree of (score, member) slots (tree.rs) + a 12-byte-per-member
//!             hash index that confirms members against the tree (large.rs): O(log n) insert,
//!             delete, rank, select, score lookup; a range costs O(log n + k)
//! ```
//!
//! An insertion that breaks a threshold converts the set to `skiplist` for good (sticky, as in
//! Redis); sets built fresh by a `*STORE` command ([`ZSet::build`]) are `listpack` when they fit.
//! Like Redis's listpack, the packed encoding stores `-0` as `0`.
//!
//! Memory per member, measured as our release binary's RSS growth against redis-server 7.0.15's
//! `used_memory` growth for the same load (members `element:<12 digits>`, scores 0..999):
//!
//! | load | ours | Redis 7.0 |
//! |---|---|---|
//! | one set of 1M members | 78 B | 125 B |
//! | 5,000 sets of 200 | 64 B | 131 B |
//! | 100,000 sets of 5-20 (listpack) | 38 B | 33 B |
//!
//! A large set's member costs a 32 B tree slot at ~70% leaf fill (members over 22 bytes add their
//! boxed bytes), 13-27 B of index and ~2 B of inner nodes; a packed one its bytes, a length byte
//! and a 1-3 byte score for integral scores (9 bytes otherwise).

mod large;
mod packed;
mod tree;

use large::Large;
use packed::Packed;

/// A sorted set.
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Packed(Packed),
    Large(Box<Large>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Packed::default())
    }
}

/// ZADD's options for one score/member pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddFlags {
    /// INCR: add the score to the current one (0 if absent).
    pub incr: bool,
    /// NX: only add new members.
    pub nx: bool,
    /// XX: only update existing members.
    pub xx: bool,
    /// GT: only update when the new score is greater.
    pub gt: bool,
    /// LT: only update when the new score is less.
    pub lt: bool,
}

/// What [`ZSet::add`] did; each carries the score the command reports (ZADD INCR, ZINCRBY).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Added {
    /// A new member.
    New(f64),
    /// An existing member's score changed.
    Updated(f64),
    /// An existing member kept its score (the new one equals it).
    Same(f64),
    /// NX, XX, GT or LT stopped it.
    Skipped,
}

/// ZINCRBY / ZADD INCR made a score NaN (`inf` plus `-inf`); nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotANumber;

/// One end of a score range (`1.5`, `(1.5`, `-inf`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    /// The score.
    pub value: f64,
    /// True for `(`: the score itself is outside the range.
    pub exclusive: bool,
}

/// One end of a lexicographic range (`-`, `+`, `[a`, `(a`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[x`: `x` included.
    Incl(&'a [u8]),
    /// `(x`: `x` excluded.
    Excl(&'a [u8]),
}

impl LexBound<'_> {
    /// Redis's `sdscmplex`: `-` and `+` compare below and above every string (and equal themselves).
    fn cmp(&self, other: &LexBound<'_>) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (self, other) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Greater,
            (LexBound::Incl(a) | LexBound::Excl(a), LexBound::Incl(b) | LexBound::Excl(b)) => a.cmp(b),
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }

    /// `member` is at or above this lower bound.
    fn below(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(m) => member >= *m,
            LexBound::Excl(m) => member > *m,
        }
    }

    /// `member` is at or under this upper bound.
    fn above(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(m) => member <= *m,
            LexBound::Excl(m) => member < *m,
        }
    }
}

/// Members in order, with scores, over ranks `lo..hi` (or reversed).
#[derive(Debug)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Debug)]
enum IterRepr<'a> {
    Packed(packed::Iter<'a>),
    PackedRev(std::iter::Rev<std::vec::IntoIter<(f64, &'a [u8])>>),
    Large(tree::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Packed(i) => i.next(),
            IterRepr::PackedRev(i) => i.next(),
            IterRepr::Large(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Packed(i) => i.size_hint(),
            IterRepr::PackedRev(i) => i.size_hint(),
            IterRepr::Large(i) => i.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Bytes a listpack may reach (Redis's `LISTPACK_MAX_SAFETY_SIZE`).
const PACKED_MAX_BYTES: usize = 1 << 30;

impl ZSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len(),
            Repr::Large(l) => l.len(),
        }
    }

    /// True if no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes this sorted set holds on the heap (its `Arc` block, buffer or tree and index), for the
    /// memory budget and MEMORY USAGE.
    pub fn weight(&self) -> u64 {
        let own = tree::alloc_size(16 + size_of::<Self>());
        (own + match &self.repr {
            Repr::Packed(p) => p.weight(),
            Repr::Large(l) => l.weight(),
        }) as u64
    }

    /// OBJECT ENCODING as Redis 7.0 would report it: `listpack` or `skiplist`.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Large(_) => "skiplist",
        }
    }

    /// True in the packed (`listpack`) encoding, where ZSCAN returns everything at once.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Packed(p) => p.find(member).map(|at| at.score),
            Repr::Large(l) => l.score(member),
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Packed(p) => p.find(member).map(|at| at.index),
            Repr::Large(l) => l.rank(member),
        }
    }

    /// The member of rank `r` (`r < len`) with its score; O(r) when packed, O(log n) otherwise.
    pub fn nth(&self, r: usize) -> (f64, &[u8]) {
        match &self.repr {
            Repr::Packed(p) => p.iter_from(p.offset_of(r), 1).next().expect("rank below len"),
            Repr::Large(l) => l.nth(r),
        }
    }

    /// ZADD / ZINCRBY for one pair, with Redis's `zsetAdd` semantics and the thresholds in force.
    ///
    /// # Errors
    ///
    /// [`NotANumber`] when INCR makes the score NaN; nothing changes then.
    pub fn add(&mut self, member: &[u8], score: f64, flags: AddFlags) -> Result<Added, NotANumber> {
        self.add_with(member, score, flags, crate::types::zset_listpack_limits())
    }

    /// [`ZSet::add`] under explicit `(max entries, max member bytes)` thresholds.
    ///
    /// # Errors
    ///
    /// [`NotANumber`] as [`ZSet::add`].
    pub fn add_with(
        &mut self,
        member: &[u8],
        score: f64,
        f: AddFlags,
        (max_entries, max_value): (usize, usize),
    ) -> Result<Added, NotANumber> {
        let decide = |cur: f64| -> (Option<f64>, Result<Added, NotANumber>) {
            if f.nx {
                return (None, Ok(Added::Skipped));
            }
            let new = if f.incr { cur + score } else { score };
            if new.is_nan() {
                return (None, Err(NotANumber));
            }
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return (None, Ok(Added::Skipped));
            }
            if new != cur { (Some(new), Ok(Added::Updated(new))) } else { (None, Ok(Added::Same(new))) }
        };
        if let Repr::Packed(p) = &mut self.repr {
            if let Some(at) = p.find(member) {
                let (new, r) = decide(at.score);
                if let Some(new) = new {
                    p.update(at, member, new);
                }
                return r;
            }
            if f.xx {
                return Ok(Added::Skipped);
            }
            if p.len() < max_entries && member.len() <= max_value && p.bytes() + member.len() + 32 < PACKED_MAX_BYTES {
                p.insert(score, member);
                return Ok(Added::New(score));
            }
            self.convert();
        }
        let Repr::Large(l) = &mut self.repr else { unreachable!("converted above") };
        match l.update(member, decide) {
            Some(r) => r,
            None if f.xx => Ok(Added::Skipped),
            None => {
                l.insert(score, member);
                Ok(Added::New(score))
            }
        }
    }

    /// Sets `member`'s score (plain ZADD); true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        matches!(self.add(member, score, AddFlags::default()), Ok(Added::New(_)))
    }

    fn convert(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut l = Large::default();
            for (s, m) in p.iter() {
                l.insert(s, m);
            }
            self.repr = Repr::Large(Box::new(l));
        }
    }

    /// Removes `member`; true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(p) => p.find(member).map(|at| p.remove(at)).is_some(),
            Repr::Large(l) => l.remove(member).is_some(),
        }
    }

    /// Removes the members of ranks `lo..hi` (`hi <= len`).
    pub fn remove_range(&mut self, lo: usize, hi: usize) {
        if lo >= hi {
            return;
        }
        match &mut self.repr {
            Repr::Packed(p) => p.remove_range(lo, hi),
            Repr::Large(l) => l.remove_range(lo, hi),
        }
    }

    /// The members of ranks `lo..hi` (`hi <= len`) with their scores, ascending, or descending
    /// (from `hi - 1` down to `lo`) when `rev`.
    pub fn range(&self, lo: usize, hi: usize, rev: bool) -> Iter<'_> {
        let n = hi.saturating_sub(lo);
        Iter(match &self.repr {
            Repr::Packed(p) if !rev => IterRepr::Packed(p.iter_from(p.offset_of(lo), n)),
            Repr::Packed(p) => {
                let v: Vec<(f64, &[u8])> = p.iter_from(p.offset_of(lo), n).collect();
                IterRepr::PackedRev(v.into_iter().rev())
            }
            Repr::Large(l) => IterRepr::Large(l.range(lo, hi, rev)),
        })
    }

    /// Every member with its score, in order.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len(), false)
    }

    /// How many members satisfy `pred`, which must hold for a prefix of the order.
    fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.position(pred),
            Repr::Large(l) => l.partition_point(pred),
        }
    }

    /// The ranks `lo..hi` of the members whose scores lie between `min` and `max`.
    pub fn score_range(&self, min: ScoreBound, max: ScoreBound) -> (usize, usize) {
        let lo = self.count_prefix(|s, _| if min.exclusive { s <= min.value } else { s < min.value });
        let hi = self.count_prefix(|s, _| if max.exclusive { s < max.value } else { s <= max.value });
        (lo, hi.max(lo))
    }

    /// The ranks `lo..hi` a lexicographic range covers, found as Redis finds them (the range is
    /// meaningful when all scores are equal): forward from the first member at or above `min`
    /// while at or under `max`, or, when `rev`, backward from the last member at or under `max`
    /// while at or above `min`.
    pub fn lex_range(&self, min: LexBound<'_>, max: LexBound<'_>, rev: bool) -> (usize, usize) {
        let n = self.len();
        let c = min.cmp(&max);
        if n == 0 || c.is_gt() || (c.is_eq() && (min.exclusive() || max.exclusive())) {
            return (0, 0);
        }
        if !min.below(self.nth(n - 1).1) || !max.above(self.nth(0).1) {
            return (0, 0);
        }
        match &self.repr {
            Repr::Packed(p) if !rev => {
                let lo = p.position(|_, m| !min.below(m));
                let hi = lo + p.iter_from(p.offset_of(lo), n - lo).take_while(|(_, m)| max.above(m)).count();
                (lo, hi)
            }
            Repr::Packed(p) => {
                let all: Vec<(f64, &[u8])> = p.iter().collect();
                let Some(hi) = all.iter().rposition(|(_, m)| max.above(m)) else { return (0, 0) };
                let lo = all[..=hi].iter().rposition(|(_, m)| !min.below(m)).map_or(0, |i| i + 1);
                (lo, hi + 1)
            }
            Repr::Large(l) if !rev => {
                let lo = l.partition_point(|_, m| !min.below(m));
                (lo, l.partition_point(|_, m| max.above(m)).max(lo))
            }
            Repr::Large(l) => {
                let hi = l.partition_point(|_, m| max.above(m));
                (l.partition_point(|_, m| !min.below(m)).min(hi), hi)
            }
        }
    }

    /// Removes and returns up to `count` members from the low end (or the high end when `max`),
    /// in pop order.
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(f64, bytes::Bytes)> {
        let n = self.len();
        let k = count.min(n);
        let (lo, hi) = if max { (n - k, n) } else { (0, k) };
        let out = self.range(lo, hi, max).map(|(s, m)| (s, bytes::Bytes::copy_from_slice(m))).collect();
        self.remove_range(lo, hi);
        out
    }

    /// An empty sorted set in the encoding Redis gives one about to receive about `hint` members
    /// (ZRANGESTORE's destination): `skiplist` past `zset-max-listpack-entries`, else `listpack`,
    /// which later [`ZSet::insert`]s convert as usual.
    pub fn with_hint(hint: usize) -> Self {
        let repr = if hint > crate::types::zset_listpack_limits().0 {
            Repr::Large(Box::default())
        } else {
            Repr::Packed(Packed::default())
        };
        ZSet { repr }
    }

    /// A sorted set built fresh from distinct members (a ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE
    /// result): packed when it fits the thresholds in force, as Redis converts a stored result.
    pub fn build<M: AsRef<[u8]>>(pairs: Vec<(f64, M)>) -> Self {
        Self::build_with(pairs, crate::types::zset_listpack_limits())
    }

    /// [`ZSet::build`] under explicit thresholds.
    pub fn build_with<M: AsRef<[u8]>>(mut pairs: Vec<(f64, M)>, (max_entries, max_value): (usize, usize)) -> Self {
        pairs.sort_by(|a, b| {
            a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.1.as_ref().cmp(b.1.as_ref()))
        });
        let bytes: usize = pairs.iter().map(|(_, m)| m.as_ref().len() + 11).sum();
        let fits = pairs.len() <= max_entries
            && pairs.iter().all(|(_, m)| m.as_ref().len() <= max_value)
            && bytes < PACKED_MAX_BYTES;
        let repr = if fits {
            Repr::Packed(Packed::from_sorted(pairs.iter().map(|(s, m)| (*s, m.as_ref()))))
        } else {
            let mut l = Large::default();
            for (s, m) in &pairs {
                l.insert(*s, m.as_ref());
            }
            Repr::Large(Box::new(l))
        };
        ZSet { repr }
    }

    #[cfg(test)]
    fn check(&self) {
        if let Repr::Large(l) = &self.repr {
            l.check();
        }
        let v: Vec<(f64, &[u8])> = self.iter().collect();
        assert_eq!(v.len(), self.len());
        for w in v.windows(2) {
            assert!(w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1), "{w:?}");
        }
    }
}

impl<M: AsRef<[u8]>> FromIterator<(f64, M)> for ZSet {
    /// Adds the pairs in turn, as one ZADD would (a later pair updates an earlier member).
    fn from_iter<I: IntoIterator<Item = (f64, M)>>(iter: I) -> Self {
        let mut z = ZSet::default();
        for (s, m) in iter {
            z.insert(m.as_ref(), s);
        }
        z
    }
}

#[cfg(test)]
mod tests;
