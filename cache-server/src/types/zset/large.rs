//! The large sorted-set encoding (Redis's skiplist + dict): the order in a counted B+tree
//! ([`super::tree`]) and a member → score index that stores no member bytes.
//!
//! An index entry is 12 bytes: 32 bits of the member's hash and the score's 64 bits. A lookup
//! probes the entries with the member's hash and confirms a candidate by finding `(score, member)`
//! in the tree, so a member's bytes are stored once (in its tree slot). Entries are not tied to
//! members: two members with equal hash bits and equal scores have indistinguishable entries, and
//! removing either keeps the index exact, since it is the multiset of `(hash, score)` pairs.

use super::tree::{Iter, Tree};
use hashbrown::HashTable;

/// `(hash, score low bits, score high bits)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Idx([u32; 3]);

impl Idx {
    fn new(h: u32, score: f64) -> Self {
        let b = score.to_bits();
        Idx([h, b as u32, (b >> 32) as u32])
    }

    fn score(self) -> f64 {
        f64::from_bits(u64::from(self.0[1]) | u64::from(self.0[2]) << 32)
    }
}

/// The table's hash of an entry: the 32 stored bits spread over 64 (hashbrown takes its control
/// byte from the top bits and the bucket from the bottom ones).
#[inline]
fn spread(h: u32) -> u64 {
    u64::from(h) << 32 | u64::from(h)
}

/// A large sorted set.
#[derive(Clone, Debug, Default)]
pub(super) struct Large {
    tree: Tree,
    index: HashTable<Idx>,
    hasher: ahash::RandomState,
}

impl Large {
    #[inline]
    fn hash(&self, member: &[u8]) -> u32 {
        self.hasher.hash_one(member) as u32
    }

    pub(super) fn len(&self) -> usize {
        self.tree.len()
    }

    /// Heap bytes: tree, index table, and this struct (boxed).
    pub(super) fn weight(&self) -> usize {
        self.tree.weight() + self.index.allocation_size() + size_of::<Self>()
    }

    /// The score of `member`.
    pub(super) fn score(&self, member: &[u8]) -> Option<f64> {
        let h = self.hash(member);
        let tree = &self.tree;
        self.index.find(spread(h), |e| e.0[0] == h && tree.contains(e.score(), member)).map(|e| e.score())
    }

    /// Adds a member that is not present.
    pub(super) fn insert(&mut self, score: f64, member: &[u8]) {
        let h = self.hash(member);
        self.tree.insert(score, member);
        self.index.insert_unique(spread(h), Idx::new(h, score), |e| spread(e.0[0]));
    }

    /// Looks `member` up and lets `f` decide from its current score: `f` answers a new score (which
    /// must differ from the current one) or `None` to leave it. `None` if `member` is absent.
    pub(super) fn update<R>(&mut self, member: &[u8], f: impl FnOnce(f64) -> (Option<f64>, R)) -> Option<R> {
        let h = self.hash(member);
        let Large { tree, index, .. } = self;
        let e = index.find_mut(spread(h), |e| e.0[0] == h && tree.contains(e.score(), member))?;
        let cur = e.score();
        let (new, r) = f(cur);
        if let Some(new) = new {
            *e = Idx::new(h, new);
            tree.rescore(cur, member, new);
        }
        Some(r)
    }

    /// Removes `member`; its score if it was present.
    pub(super) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let h = self.hash(member);
        let Large { tree, index, .. } = self;
        let e = index.find_entry(spread(h), |e| e.0[0] == h && tree.contains(e.score(), member)).ok()?;
        let score = e.get().score();
        e.remove();
        tree.remove(score, member);
        self.shrink();
        Some(score)
    }

    /// Removes the elements of ranks `lo..hi`.
    pub(super) fn remove_range(&mut self, lo: usize, hi: usize) {
        for _ in lo..hi {
            let slot = self.tree.remove_nth(lo);
            let entry = Idx::new(self.hash(slot.member.bytes()), slot.score);
            if let Ok(e) = self.index.find_entry(spread(entry.0[0]), |e| *e == entry) {
                e.remove();
            }
        }
        self.shrink();
    }

    fn shrink(&mut self) {
        if self.index.capacity() > 64 && self.index.len() < self.index.capacity() / 8 {
            self.index.shrink_to(self.index.len() * 2, |e| spread(e.0[0]));
        }
    }

    pub(super) fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        self.tree.rank(score, member)
    }

    pub(super) fn nth(&self, r: usize) -> (f64, &[u8]) {
        let s = self.tree.nth(r);
        (s.score, s.member.bytes())
    }

    pub(super) fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.tree.partition_point(pred)
    }

    pub(super) fn range(&self, lo: usize, hi: usize, rev: bool) -> Iter<'_> {
        self.tree.range(lo, hi, rev)
    }

    #[cfg(test)]
    pub(super) fn check(&self) {
        self.tree.check();
        assert_eq!(self.index.len(), self.tree.len());
        for (s, m) in self.tree.range(0, self.tree.len(), false) {
            assert_eq!(self.score(m).map(f64::to_bits), Some(s.to_bits()));
        }
    }
}
