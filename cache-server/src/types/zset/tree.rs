//! The large sorted-set order: a B+tree of `(score, member)` slots with subtree counts, so that
//! insert, delete, rank and select-by-rank are O(log n) and a range is O(log n + k). It owns the
//! order only; the member → score index lives beside it in [`super::large`].
//!
//! ```text
//!   Inner ── seps[i]: lower bound of kids[i+1] (a copy of a key, never updated on delete)
//!     │      counts[i]: elements under kids[i]
//!     ├── Leaf: Vec<Slot> (≤ LEAF_CAP, sorted)   Slot = score f64 + Member (≤ 22 B inline, else boxed)
//!     └── Leaf ...
//! ```
//!
//! Leaves are allocated once at their full capacity (2 KiB), split in halves, except at the two
//! ends of the tree where an append (or prepend) starts a fresh leaf, so ascending or descending
//! loads fill leaves completely. A node below a third of its capacity borrows from or merges with
//! a sibling, which bounds the slack at any history of writes. A tree that is a single leaf (a
//! small set with long members, or one that shrank) sizes that leaf to its members instead.

use std::cmp::Ordering;

/// Members up to this many bytes live inside the slot.
const INLINE: usize = 22;
/// Slots per leaf.
pub(super) const LEAF_CAP: usize = 64;
/// Children per inner node.
const INNER_CAP: usize = 64;
/// A leaf below this many slots borrows from or merges with a sibling.
const LEAF_MIN: usize = LEAF_CAP / 3;
/// An inner node below this many children borrows from or merges with a sibling.
const INNER_MIN: usize = INNER_CAP / 3;

/// A member's bytes: inline up to [`INLINE`] bytes, else one boxed slice.
#[derive(Clone)]
pub(super) enum Member {
    Inline(u8, [u8; INLINE]),
    Heap(Box<[u8]>),
}

impl Member {
    pub(super) fn new(b: &[u8]) -> Self {
        if b.len() <= INLINE {
            let mut a = [0; INLINE];
            a[..b.len()].copy_from_slice(b);
            Member::Inline(b.len() as u8, a)
        } else {
            Member::Heap(b.into())
        }
    }

    #[inline]
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Member::Inline(n, a) => &a[..*n as usize],
            Member::Heap(b) => b,
        }
    }

    /// Heap bytes this member holds (jemalloc's size class of its allocation).
    pub(super) fn heap(&self) -> usize {
        match self {
            Member::Inline(..) => 0,
            Member::Heap(b) => alloc_size(b.len()),
        }
    }
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", bytes::Bytes::copy_from_slice(self.bytes()))
    }
}

/// The size class jemalloc serves an allocation of `n` bytes from (8, 16, then steps of a
/// quarter of the power of two below).
pub(super) fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => n.div_ceil(16) * 16,
        _ => {
            let step = n.next_power_of_two() / 8;
            n.div_ceil(step) * step
        }
    }
}

/// One element: its score and member.
#[derive(Clone, Debug)]
pub(super) struct Slot {
    pub(super) score: f64,
    pub(super) member: Member,
}

/// Orders `(score, member)` keys: by score (`-0` equals `0`; scores are never NaN), then bytes.
#[inline]
pub(super) fn cmp(score: f64, member: &[u8], s: &Slot) -> Ordering {
    if score < s.score {
        Ordering::Less
    } else if score > s.score {
        Ordering::Greater
    } else {
        member.cmp(s.member.bytes())
    }
}

enum Node {
    Leaf(Vec<Slot>),
    Inner(Box<Inner>),
}

struct Inner {
    /// `seps[i]` is at most every key of `kids[i + 1]` and above every key of `kids[i]`.
    seps: Vec<Slot>,
    kids: Vec<Node>,
    /// Elements under each kid.
    counts: Vec<usize>,
}

impl Node {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.counts.iter().sum(),
        }
    }

    fn clone_deep(&self) -> Node {
        match self {
            Node::Leaf(v) => {
                let mut c = Vec::with_capacity(v.capacity());
                c.extend(v.iter().cloned());
                Node::Leaf(c)
            }
            Node::Inner(n) => Node::Inner(Box::new(Inner {
                seps: n.seps.clone(),
                kids: n.kids.iter().map(Node::clone_deep).collect(),
                counts: n.counts.clone(),
            })),
        }
    }
}

impl Inner {
    /// The kid whose range holds `(score, member)`.
    #[inline]
    fn kid_for(&self, score: f64, member: &[u8]) -> usize {
        self.seps.partition_point(|s| cmp(score, member, s) != Ordering::Less)
    }

    /// The kid holding rank `r`, and the rank within it.
    #[inline]
    fn kid_at(&self, mut r: usize) -> (usize, usize) {
        for (i, &c) in self.counts.iter().enumerate() {
            if r < c {
                return (i, r);
            }
            r -= c;
        }
        unreachable!("rank within the node's count")
    }
}

/// Sizes the weight is computed from.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    leaves: usize,
    inners: usize,
    /// Heap bytes of members (slots and separators).
    heap: usize,
}

/// The order of a large sorted set.
pub(super) struct Tree {
    root: Node,
    len: usize,
    stats: Stats,
}

impl Clone for Tree {
    fn clone(&self) -> Self {
        Tree { root: self.root.clone_deep(), len: self.len, stats: self.stats }
    }
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree").field("len", &self.len).field("leaves", &self.stats.leaves).finish()
    }
}

impl Default for Tree {
    fn default() -> Self {
        Tree { root: Node::Leaf(Vec::new()), len: 0, stats: Stats { leaves: 1, ..Stats::default() } }
    }
}

impl Tree {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes of the structure: leaves at their capacity, inner nodes, boxed members.
    pub(super) fn weight(&self) -> usize {
        let slot = size_of::<Slot>();
        let inner = size_of::<Inner>() + INNER_CAP * (slot + size_of::<Node>() + size_of::<usize>());
        let leaves = match &self.root {
            Node::Leaf(v) => alloc_size(v.capacity() * slot),
            Node::Inner(_) => self.stats.leaves * alloc_size(LEAF_CAP * slot),
        };
        leaves + self.stats.inners * inner + self.stats.heap
    }

    /// Whether `(score, member)` is present.
    pub(super) fn contains(&self, score: f64, member: &[u8]) -> bool {
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(n) => node = &n.kids[n.kid_for(score, member)],
                Node::Leaf(v) => return v.binary_search_by(|s| cmp(score, member, s).reverse()).is_ok(),
            }
        }
    }

    /// Adds `(score, member)`, which must not be present.
    pub(super) fn insert(&mut self, score: f64, member: &[u8]) {
        let slot = Slot { score, member: Member::new(member) };
        self.stats.heap += slot.member.heap();
        // A lone root leaf grows by doubling up to the leaf capacity (split leaves are full-size).
        if let Node::Leaf(v) = &mut self.root
            && v.len() == v.capacity()
            && v.len() < LEAF_CAP
        {
            v.reserve_exact(v.len().clamp(4, LEAF_CAP - v.len()));
        }
        if let Some((sep, right)) = insert_in(&mut self.root, slot, true, true, &mut self.stats) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            let counts = vec![left.len(), right.len()];
            self.root = Node::Inner(Box::new(Inner { seps: vec![sep], kids: vec![left, right], counts }));
            self.stats.inners += 1;
        }
        self.len += 1;
    }

    /// Changes the score of `(score, member)` (present) to `new`: in place when the slot keeps
    /// its position between its neighbours in the leaf (ZINCRBY by small steps), else by a removal
    /// and an insertion.
    pub(super) fn rescore(&mut self, score: f64, member: &[u8], new: f64) {
        let mut node = &mut self.root;
        loop {
            match node {
                Node::Inner(n) => {
                    let i = n.kid_for(score, member);
                    node = &mut n.kids[i];
                }
                Node::Leaf(v) => {
                    let Ok(p) = v.binary_search_by(|s| cmp(score, member, s).reverse()) else { return };
                    if p > 0
                        && p + 1 < v.len()
                        && cmp(new, member, &v[p - 1]).is_gt()
                        && cmp(new, member, &v[p + 1]).is_lt()
                    {
                        v[p].score = new;
                        return;
                    }
                    break;
                }
            }
        }
        self.remove(score, member);
        self.insert(new, member);
    }

    /// Removes `(score, member)`; false if absent.
    pub(super) fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let found = remove_in(&mut self.root, &Target::Key(score, member), &mut self.stats);
        self.after_remove(found).is_some()
    }

    /// Removes and returns the element of rank `r` (`r < len`).
    pub(super) fn remove_nth(&mut self, r: usize) -> Slot {
        let found = remove_in(&mut self.root, &Target::Rank(r), &mut self.stats);
        self.after_remove(found).expect("rank below len")
    }

    fn after_remove(&mut self, found: Option<Slot>) -> Option<Slot> {
        let slot = found?;
        self.len -= 1;
        self.stats.heap -= slot.member.heap();
        if let Node::Inner(n) = &mut self.root
            && n.kids.len() == 1
        {
            let kid = n.kids.pop().expect("one kid");
            self.stats.heap -= n.seps.iter().map(|s| s.member.heap()).sum::<usize>();
            self.root = kid;
            self.stats.inners -= 1;
        }
        // A lone root leaf gives back what it no longer needs (with slack against churn).
        if let Node::Leaf(v) = &mut self.root
            && v.capacity() > 8
            && v.len() < v.capacity() / 4
        {
            v.shrink_to(v.len() * 2);
        }
        Some(slot)
    }

    /// Rank (0-based) of `(score, member)`, if present.
    pub(super) fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let (mut node, mut acc) = (&self.root, 0);
        loop {
            match node {
                Node::Inner(n) => {
                    let i = n.kid_for(score, member);
                    acc += n.counts[..i].iter().sum::<usize>();
                    node = &n.kids[i];
                }
                Node::Leaf(v) => return v.binary_search_by(|s| cmp(score, member, s).reverse()).ok().map(|p| acc + p),
            }
        }
    }

    /// The element of rank `r` (`r < len`).
    pub(super) fn nth(&self, r: usize) -> &Slot {
        let (mut node, mut r) = (&self.root, r);
        loop {
            match node {
                Node::Inner(n) => {
                    let (i, rest) = n.kid_at(r);
                    r = rest;
                    node = &n.kids[i];
                }
                Node::Leaf(v) => return &v[r],
            }
        }
    }

    /// How many elements satisfy `pred`, which must hold for a prefix of the order (true, then
    /// false) over every key, present or not.
    pub(super) fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let (mut node, mut acc) = (&self.root, 0);
        loop {
            match node {
                Node::Inner(n) => {
                    let j = n.seps.partition_point(|s| pred(s.score, s.member.bytes()));
                    acc += n.counts[..j].iter().sum::<usize>();
                    node = &n.kids[j];
                }
                Node::Leaf(v) => return acc + v.partition_point(|s| pred(s.score, s.member.bytes())),
            }
        }
    }

    /// The elements of ranks `lo..hi`, ascending, or descending when `rev`.
    pub(super) fn range(&self, lo: usize, hi: usize, rev: bool) -> Iter<'_> {
        let remaining = hi.saturating_sub(lo);
        if remaining == 0 {
            return Iter { stack: Vec::new(), leaf: &[], pos: 0, remaining: 0, rev };
        }
        let mut it = Iter { stack: Vec::with_capacity(4), leaf: &[], pos: 0, remaining, rev };
        let (mut node, mut r) = (&self.root, if rev { hi - 1 } else { lo });
        loop {
            match node {
                Node::Inner(n) => {
                    let (i, rest) = n.kid_at(r);
                    it.stack.push((&**n, i));
                    r = rest;
                    node = &n.kids[i];
                }
                Node::Leaf(v) => {
                    it.leaf = v;
                    it.pos = r;
                    return it;
                }
            }
        }
    }

    /// Checks the invariants (tests).
    #[cfg(test)]
    pub(super) fn check(&self) {
        fn walk(node: &Node, lo: Option<&Slot>, hi: Option<&Slot>, root: bool, leaves: &mut usize) -> usize {
            match node {
                Node::Leaf(v) => {
                    *leaves += 1;
                    assert!(root || !v.is_empty());
                    assert!(if root { v.capacity() <= LEAF_CAP } else { v.capacity() == LEAF_CAP });
                    for w in v.windows(2) {
                        assert_eq!(cmp(w[0].score, w[0].member.bytes(), &w[1]), Ordering::Less);
                    }
                    for s in v {
                        if let Some(lo) = lo {
                            assert_ne!(cmp(s.score, s.member.bytes(), lo), Ordering::Less);
                        }
                        if let Some(hi) = hi {
                            assert_eq!(cmp(s.score, s.member.bytes(), hi), Ordering::Less);
                        }
                    }
                    v.len()
                }
                Node::Inner(n) => {
                    assert_eq!(n.seps.len() + 1, n.kids.len());
                    assert_eq!(n.counts.len(), n.kids.len());
                    assert!(n.kids.len() >= 2 && n.kids.len() <= INNER_CAP);
                    let mut total = 0;
                    for (i, kid) in n.kids.iter().enumerate() {
                        let klo = if i == 0 { lo } else { Some(&n.seps[i - 1]) };
                        let khi = if i == n.seps.len() { hi } else { Some(&n.seps[i]) };
                        let c = walk(kid, klo, khi, false, leaves);
                        assert_eq!(c, n.counts[i]);
                        total += c;
                    }
                    total
                }
            }
        }
        let mut leaves = 0;
        assert_eq!(walk(&self.root, None, None, true, &mut leaves), self.len);
        assert_eq!(leaves, self.stats.leaves);
    }
}

fn insert_in(node: &mut Node, slot: Slot, leftmost: bool, rightmost: bool, st: &mut Stats) -> Option<(Slot, Node)> {
    match node {
        Node::Leaf(v) => {
            let pos = v.partition_point(|s| cmp(slot.score, slot.member.bytes(), s) == Ordering::Greater);
            if v.len() < LEAF_CAP {
                v.insert(pos, slot);
                return None;
            }
            st.leaves += 1;
            let mut right = Vec::with_capacity(LEAF_CAP);
            if rightmost && pos == v.len() {
                right.push(slot);
            } else if leftmost && pos == 0 {
                right.append(v);
                v.push(slot);
            } else {
                let mid = LEAF_CAP / 2;
                right.extend(v.drain(mid..));
                if pos <= mid { v.insert(pos, slot) } else { right.insert(pos - mid, slot) }
            }
            let sep = right[0].clone();
            st.heap += sep.member.heap();
            Some((sep, Node::Leaf(right)))
        }
        Node::Inner(n) => {
            let i = n.kid_for(slot.score, slot.member.bytes());
            n.counts[i] += 1;
            let last = n.kids.len() - 1;
            let (sep, right) = insert_in(&mut n.kids[i], slot, leftmost && i == 0, rightmost && i == last, st)?;
            let rc = right.len();
            n.counts[i] -= rc;
            n.seps.insert(i, sep);
            n.kids.insert(i + 1, right);
            n.counts.insert(i + 1, rc);
            if n.kids.len() <= INNER_CAP {
                return None;
            }
            st.inners += 1;
            let mid = n.kids.len() / 2;
            let kids = n.kids.split_off(mid);
            let counts = n.counts.split_off(mid);
            let mut seps = n.seps.split_off(mid - 1);
            let up = seps.remove(0);
            Some((up, Node::Inner(Box::new(Inner { seps, kids, counts }))))
        }
    }
}

/// What a removal looks for.
enum Target<'a> {
    Key(f64, &'a [u8]),
    Rank(usize),
}

fn remove_in(node: &mut Node, t: &Target<'_>, st: &mut Stats) -> Option<Slot> {
    match node {
        Node::Leaf(v) => {
            let pos = match *t {
                Target::Key(score, member) => v.binary_search_by(|s| cmp(score, member, s).reverse()).ok()?,
                Target::Rank(r) => r,
            };
            Some(v.remove(pos))
        }
        Node::Inner(n) => {
            let (i, sub) = match *t {
                Target::Key(score, member) => (n.kid_for(score, member), Target::Key(score, member)),
                Target::Rank(r) => {
                    let (i, rest) = n.kid_at(r);
                    (i, Target::Rank(rest))
                }
            };
            let slot = remove_in(&mut n.kids[i], &sub, st)?;
            n.counts[i] -= 1;
            rebalance(n, i, st);
            Some(slot)
        }
    }
}

/// Restores kid `i`'s minimum fill by borrowing from or merging with a neighbour.
fn rebalance(n: &mut Inner, i: usize, st: &mut Stats) {
    let low = match &n.kids[i] {
        Node::Leaf(v) => v.len() < LEAF_MIN,
        Node::Inner(k) => k.kids.len() < INNER_MIN,
    };
    if !low || n.kids.len() < 2 {
        return;
    }
    let l = if i > 0 { i - 1 } else { i };
    let r = l + 1;
    let (left, right) = n.kids.split_at_mut(r);
    match (&mut left[l], &mut right[0]) {
        (Node::Leaf(a), Node::Leaf(b)) => {
            if a.len() + b.len() <= LEAF_CAP {
                a.append(b);
                remove_kid(n, r, st);
                st.leaves -= 1;
                return;
            }
            let target = (a.len() + b.len()) / 2;
            if a.len() < target {
                let k = target - a.len();
                a.extend(b.drain(..k));
            } else {
                let k = a.len() - target;
                let moved: Vec<Slot> = a.drain(a.len() - k..).collect();
                b.splice(0..0, moved);
            }
            let sep = b[0].clone();
            st.heap += sep.member.heap();
            st.heap -= std::mem::replace(&mut n.seps[l], sep).member.heap();
            n.counts[l] = a.len();
            n.counts[r] = b.len();
        }
        (Node::Inner(a), Node::Inner(b)) => {
            if a.kids.len() + b.kids.len() <= INNER_CAP {
                let sep = n.seps[l].clone();
                st.heap += sep.member.heap();
                a.seps.push(sep);
                a.seps.append(&mut b.seps);
                a.kids.append(&mut b.kids);
                a.counts.append(&mut b.counts);
                remove_kid(n, r, st);
                st.inners -= 1;
                return;
            }
            let target = (a.kids.len() + b.kids.len()) / 2;
            while a.kids.len() < target {
                let down = std::mem::replace(&mut n.seps[l], b.seps.remove(0));
                a.seps.push(down);
                a.kids.push(b.kids.remove(0));
                a.counts.push(b.counts.remove(0));
            }
            while a.kids.len() > target {
                let up = a.seps.pop().expect("inner node with kids");
                let down = std::mem::replace(&mut n.seps[l], up);
                b.seps.insert(0, down);
                b.kids.insert(0, a.kids.pop().expect("kid"));
                b.counts.insert(0, a.counts.pop().expect("count"));
            }
            n.counts[l] = a.counts.iter().sum();
            n.counts[r] = b.counts.iter().sum();
        }
        _ => unreachable!("siblings are at the same depth"),
    }
}

/// Drops kid `r` (emptied into its left neighbour) and the separator before it.
fn remove_kid(n: &mut Inner, r: usize, st: &mut Stats) {
    n.counts[r - 1] += n.counts[r];
    n.counts.remove(r);
    n.kids.remove(r);
    st.heap -= n.seps.remove(r - 1).member.heap();
}

/// A range of elements in order (or reverse order), by a path of inner nodes and a leaf position.
#[derive(Debug)]
pub(super) struct Iter<'a> {
    stack: Vec<(&'a Inner, usize)>,
    leaf: &'a [Slot],
    pos: usize,
    remaining: usize,
    rev: bool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("kids", &self.kids.len()).finish()
    }
}

impl<'a> Iter<'a> {
    fn step(&mut self) {
        if !self.rev && self.pos + 1 < self.leaf.len() {
            self.pos += 1;
            return;
        }
        if self.rev && self.pos > 0 {
            self.pos -= 1;
            return;
        }
        // Climb to the first ancestor with a kid further along, then go down its near edge.
        while let Some((n, i)) = self.stack.pop() {
            let next = if self.rev { i.checked_sub(1) } else { Some(i + 1).filter(|&j| j < n.kids.len()) };
            let Some(j) = next else { continue };
            self.stack.push((n, j));
            let mut node = &n.kids[j];
            loop {
                match node {
                    Node::Inner(k) => {
                        let e = if self.rev { k.kids.len() - 1 } else { 0 };
                        self.stack.push((&**k, e));
                        node = &k.kids[e];
                    }
                    Node::Leaf(v) => {
                        self.leaf = v;
                        self.pos = if self.rev { v.len() - 1 } else { 0 };
                        return;
                    }
                }
            }
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let s = &self.leaf[self.pos];
        self.remaining -= 1;
        if self.remaining > 0 {
            self.step();
        }
        Some((s.score, s.member.bytes()))
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
    fn layout() {
        assert_eq!(size_of::<Member>(), 24);
        assert_eq!(size_of::<Slot>(), 32);
        assert_eq!(alloc_size(20), 32);
        assert_eq!(alloc_size(129), 160);
        assert_eq!(alloc_size(2048), 2048);
        assert_eq!(alloc_size(2049), 2560);
    }

    #[test]
    fn rescoring_in_place_or_by_moving_keeps_the_order() {
        let mut t = Tree::default();
        for i in 0..1000u32 {
            t.insert(f64::from(i), format!("m{i}").as_bytes());
        }
        t.rescore(500.0, b"m500", 500.5);
        t.rescore(10.0, b"m10", 2000.0);
        t.rescore(999.0, b"m999", -1.0);
        t.check();
        assert_eq!(t.rank(500.5, b"m500"), Some(500));
        assert_eq!(t.rank(2000.0, b"m10"), Some(999));
        assert_eq!(t.rank(-1.0, b"m999"), Some(0));
        assert!(!t.contains(10.0, b"m10"));
    }

    #[test]
    fn sequential_loads_fill_leaves() {
        for rev in [false, true] {
            let mut t = Tree::default();
            for i in 0..10_000u32 {
                let v = if rev { 10_000 - i } else { i };
                t.insert(f64::from(v), b"m");
            }
            t.check();
            assert!(t.stats.leaves <= 10_000 / LEAF_CAP + 2, "{} leaves", t.stats.leaves);
        }
    }

    #[test]
    fn random_ops_keep_invariants() {
        let mut t = Tree::default();
        let mut model = std::collections::BTreeSet::new();
        let mut x = 12345u64;
        for step in 0..40_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 3000) as u32;
            let member = format!("member-{k:05}-{}", "x".repeat((k % 7) as usize * 5));
            let score = f64::from(k % 50);
            let key = (k % 50, member.clone());
            if x % 3 == 0 {
                assert_eq!(t.remove(score, member.as_bytes()), model.remove(&key));
            } else if model.insert(key) {
                t.insert(score, member.as_bytes());
            }
            if step % 5000 == 0 {
                t.check();
            }
        }
        t.check();
        let all: Vec<(u32, String)> =
            t.range(0, t.len(), false).map(|(s, m)| (s as u32, String::from_utf8(m.to_vec()).unwrap())).collect();
        assert_eq!(all, model.iter().cloned().collect::<Vec<_>>());
        let back: Vec<_> = t.range(0, t.len(), true).map(|(s, _)| s as u32).collect();
        assert_eq!(back, model.iter().rev().map(|(s, _)| *s).collect::<Vec<_>>());
        for (i, (s, m)) in model.iter().enumerate().step_by(97) {
            assert_eq!(t.rank(f64::from(*s), m.as_bytes()), Some(i));
            assert_eq!(t.nth(i).member.bytes(), m.as_bytes());
        }
        while t.len() > 0 {
            let s = t.remove_nth(t.len() / 2);
            assert!(model.remove(&(s.score as u32, String::from_utf8(s.member.bytes().to_vec()).unwrap())));
            if t.len() % 500 == 0 {
                t.check();
            }
        }
        assert_eq!(t.stats.heap, 0);
        assert_eq!(t.stats.leaves, 1);
    }
}
