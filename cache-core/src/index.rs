//! A shard's key index: stored 32-bit hash → slab index, one machine word per slot.
//!
//! A hit in a cache whose entries outgrow the CPU caches pays for every dependent load it makes.
//! A SwissTable of `u32` slab indices makes three: the control bytes, the bucket, then the node to
//! compare keys. Here a slot is a single word holding the slab index *and* enough of the hash to
//! filter: the lookup reads one line of the table, and touches a node only when its signature
//! matches (almost always the node it wants).
//!
//! ```text
//!   word (u32 until a shard passes 2^24 slots, then u64):
//!   [ home's low bits | tag bits ][ slab index + 1 ]      0 = empty
//!    └─ signature: hash bits ─┘    └─ `bits` wide (the table has 2^bits slots)
//! ```
//!
//! The table is open-addressed with linear probing in Robin Hood order: an entry never sits
//! farther from its home slot than an entry it passed, so a lookup stops at the first slot whose
//! entry is closer to home than the probe has gone, and a removal shifts the run after it back by
//! one (no tombstones). A word keeps the low bits of its home slot, which is all the probe needs to
//! know each entry's distance; distances stay below `2^HOME_BITS`. An insert that would go farther
//! (at the 87.5% load bound, only under a hasher that gives hundreds of keys one 32-bit hash)
//! moves the table to wide words, which keep the whole home slot.
//!
//! The slab index fits in `bits` bits because the table is never smaller than the slab has ever
//! been: the slab reuses freed slots before it grows, and the table grows with the entry count and
//! never shrinks (until both are cleared). Growing re-reads each entry's stored hash from the slab.
//!
//! Memory: 4 bytes a slot at most 87.5% full, 4.6 to 9.1 bytes an entry (a SwissTable of `u32`
//! takes 5.7 to 11.4), up to 16M slots a shard; past that, 8-byte words.

use crate::shard::table_hash;

/// Low bits of an entry's home slot kept in its word: probe distances up to `2^HOME_BITS - 1`.
const HOME_BITS: u32 = 8;

/// Most slots (as a power of two) a table of `u32` words holds: every bit below the signature's
/// `HOME_BITS` goes to the slab index.
const NARROW_MAX_BITS: u32 = 32 - HOME_BITS;

/// A slot's word: `u32` or `u64`.
trait Word: Copy + Eq + std::fmt::Debug {
    const BITS: u32;
    const EMPTY: Self;
    fn from_u64(value: u64) -> Self;
    fn get(self) -> u64;
}

impl Word for u32 {
    const BITS: u32 = 32;
    const EMPTY: Self = 0;
    #[inline]
    fn from_u64(value: u64) -> Self {
        value as u32
    }
    #[inline]
    fn get(self) -> u64 {
        u64::from(self)
    }
}

impl Word for u64 {
    const BITS: u32 = 64;
    const EMPTY: Self = 0;
    #[inline]
    fn from_u64(value: u64) -> Self {
        value
    }
    #[inline]
    fn get(self) -> u64 {
        self
    }
}

/// The sizes a table's words are cut into (see the module doc), with the shifts and masks the
/// probe uses precomputed.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// log2 of the slot count; also the width of the slab-index field.
    bits: u32,
    /// Home-slot bits kept at the top of the signature.
    home_bits: u32,
    /// `2^bits - 1`.
    mask: usize,
    /// Takes the home slot off the top of the mixed hash.
    home_shift: u32,
    /// Takes the signature (home and tag bits) off the mixed hash.
    sig_shift: u32,
    sig_mask: u64,
    /// Takes a word's kept home bits from its top (`bits` + the tag bits).
    low_shift: u32,
    /// `2^home_bits - 1`: distances are computed modulo `2^home_bits`.
    dist_mask: usize,
}

impl Layout {
    /// Narrow words keep `home_bits` of the home slot; wide ones keep all of it.
    fn new(bits: u32, word_bits: u32, home_bits: u32) -> Self {
        let sig_bits = word_bits - bits;
        let home_bits = if word_bits == 64 { bits } else { home_bits.min(bits) };
        let tag_bits = sig_bits - home_bits;
        Self {
            bits,
            home_bits,
            mask: (1usize << bits) - 1,
            home_shift: 64 - bits,
            sig_shift: 64 - bits - tag_bits,
            sig_mask: u64::MAX >> (64 - sig_bits),
            low_shift: bits + tag_bits,
            dist_mask: (1usize << home_bits) - 1,
        }
    }

    #[inline]
    fn home(self, g: u64) -> usize {
        (g >> self.home_shift) as usize
    }

    /// The home's low bits and the tag bits under them, as one field.
    #[inline]
    fn signature(self, g: u64) -> u64 {
        (g >> self.sig_shift) & self.sig_mask
    }

    #[inline]
    fn word(self, signature: u64, idx: u32) -> u64 {
        signature << self.bits | (u64::from(idx) + 1)
    }

    #[inline]
    fn idx(self, word: u64) -> u32 {
        ((word & self.mask as u64) - 1) as u32
    }

    /// How far the entry in `word`, found at `pos`, sits from its home slot.
    #[inline]
    fn distance(self, pos: usize, word: u64) -> usize {
        pos.wrapping_sub((word >> self.low_shift) as usize) & self.dist_mask
    }

    /// The first distance a word may not be stored at (its home bits could not tell it).
    fn distance_limit(self) -> usize {
        if self.home_bits == self.bits { usize::MAX } else { self.dist_mask }
    }
}

/// One table of `W` words.
#[derive(Debug)]
struct Table<W> {
    words: Box<[W]>,
    layout: Layout,
}

impl<W: Word> Table<W> {
    fn new(bits: u32, home_bits: u32) -> Self {
        Self { words: vec![W::EMPTY; 1 << bits].into_boxed_slice(), layout: Layout::new(bits, W::BITS, home_bits) }
    }

    #[inline]
    fn find(&self, hash: u32, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let layout = self.layout;
        let g = table_hash(hash);
        let signature = layout.signature(g);
        let mut pos = layout.home(g);
        let mut dist = 0;
        loop {
            let word = self.words[pos].get();
            if word >> layout.bits == signature && word != 0 {
                // Same signature, same home: the probe goes on if the key differs.
                let idx = layout.idx(word);
                if eq(idx) {
                    return Some(idx);
                }
            } else if word == 0 || layout.distance(pos, word) < dist {
                return None;
            }
            pos = (pos + 1) & layout.mask;
            dist += 1;
        }
    }

    /// Stores `idx` under `hash`, Robin Hood style. `Err` hands back the slab index of the word
    /// in hand when it would land too far from home to be found again: `idx` or one it displaced
    /// (the table holds every other entry; the caller grows and places that one there).
    fn place(&mut self, hash: u32, idx: u32) -> Result<(), u32> {
        let layout = self.layout;
        let limit = layout.distance_limit();
        let g = table_hash(hash);
        let mut pos = layout.home(g);
        let mut word = layout.word(layout.signature(g), idx);
        let mut dist = 0;
        loop {
            if dist >= limit {
                return Err(layout.idx(word));
            }
            let here = self.words[pos].get();
            if here == 0 {
                self.words[pos] = W::from_u64(word);
                return Ok(());
            }
            let here_dist = layout.distance(pos, here);
            if here_dist < dist {
                self.words[pos] = W::from_u64(word);
                word = here;
                dist = here_dist;
            }
            pos = (pos + 1) & layout.mask;
            dist += 1;
        }
    }

    fn remove(&mut self, hash: u32, idx: u32) -> bool {
        let layout = self.layout;
        let g = table_hash(hash);
        let target = layout.word(layout.signature(g), idx);
        let mut pos = layout.home(g);
        let mut dist = 0;
        loop {
            let word = self.words[pos].get();
            if word == 0 || layout.distance(pos, word) < dist {
                return false;
            }
            if word == target {
                break;
            }
            pos = (pos + 1) & layout.mask;
            dist += 1;
        }
        // Backward shift: pull each following displaced word one slot towards its home.
        loop {
            let next = (pos + 1) & layout.mask;
            let word = self.words[next].get();
            if word == 0 || layout.distance(next, word) == 0 {
                self.words[pos] = W::EMPTY;
                return true;
            }
            self.words[pos] = self.words[next];
            pos = next;
        }
    }

    /// The slab indices stored.
    fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().map(|w| w.get()).filter(|&w| w != 0).map(|w| self.layout.idx(w))
    }
}

#[derive(Debug)]
enum Words {
    Narrow(Table<u32>),
    Wide(Table<u64>),
}

/// The index of one shard (see the module doc).
#[derive(Debug)]
pub(crate) struct Index {
    words: Words,
    len: usize,
    /// `HOME_BITS`, `NARROW_MAX_BITS` except in tests that force the wide fallback or wide words.
    home_bits: u32,
    narrow_max_bits: u32,
}

impl Default for Index {
    fn default() -> Self {
        Self::with_limits(HOME_BITS, NARROW_MAX_BITS)
    }
}

impl Index {
    fn with_limits(home_bits: u32, narrow_max_bits: u32) -> Self {
        Self { words: Words::Narrow(Table::new(0, home_bits)), len: 0, home_bits, narrow_max_bits }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn bits(&self) -> u32 {
        match &self.words {
            Words::Narrow(t) => t.layout.bits,
            Words::Wide(t) => t.layout.bits,
        }
    }

    /// The slab index stored under `hash` for which `eq` holds.
    #[inline]
    pub(crate) fn find(&self, hash: u32, eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        match &self.words {
            Words::Narrow(t) => t.find(hash, eq),
            Words::Wide(t) => t.find(hash, eq),
        }
    }

    /// Adds `idx` (not stored yet) under `hash`; `hash_of` gives the stored hash of any slab
    /// index already in the table, for growing.
    pub(crate) fn insert(&mut self, hash: u32, idx: u32, hash_of: impl Fn(u32) -> u32) {
        // The slab never outgrows the table (see the module doc), so one doubling is enough;
        // the loop only makes an index wider than the field impossible to store.
        while (self.len + 1) * 8 > (1usize << self.bits()) * 7 || idx as usize + 1 >= 1usize << self.bits() {
            self.grow(&hash_of);
        }
        let placed = match &mut self.words {
            Words::Narrow(t) => t.place(hash, idx),
            Words::Wide(t) => t.place(hash, idx),
        };
        if let Err(left_out) = placed {
            // Only a hasher that gives hundreds of keys one 32-bit hash gets here: wide words
            // keep the whole home slot, so they take any run.
            self.rebuild(self.bits(), true, Some(left_out), &hash_of);
        }
        self.len += 1;
    }

    /// Removes `idx`, stored under `hash`; false if it was not there.
    pub(crate) fn remove(&mut self, hash: u32, idx: u32) -> bool {
        let removed = self.len > 0
            && match &mut self.words {
                Words::Narrow(t) => t.remove(hash, idx),
                Words::Wide(t) => t.remove(hash, idx),
            };
        self.len -= usize::from(removed);
        removed
    }

    /// Drops every entry and the memory.
    pub(crate) fn clear(&mut self) {
        *self = Self::with_limits(self.home_bits, self.narrow_max_bits);
    }

    fn grow(&mut self, hash_of: &impl Fn(u32) -> u32) {
        let wide = matches!(self.words, Words::Wide(_));
        self.rebuild(self.bits().max(2) + 1, wide, None, hash_of);
    }

    /// Moves every entry (and `extra`) into a table of `2^bits` slots: narrow words if `bits`
    /// allows and `wide` is not asked for and every word lands near enough to home, else wide.
    fn rebuild(&mut self, bits: u32, wide: bool, extra: Option<u32>, hash_of: &impl Fn(u32) -> u32) {
        let mut all: Vec<u32> = match &self.words {
            Words::Narrow(t) => t.indices().collect(),
            Words::Wide(t) => t.indices().collect(),
        };
        all.extend(extra);
        fn filled<W: Word>(mut t: Table<W>, all: &[u32], hash_of: &impl Fn(u32) -> u32) -> Option<Table<W>> {
            all.iter().all(|&idx| t.place(hash_of(idx), idx).is_ok()).then_some(t)
        }
        let narrow = (!wide && bits <= self.narrow_max_bits)
            .then(|| filled(Table::new(bits, self.home_bits), &all, hash_of))
            .flatten();
        self.words = match narrow {
            Some(t) => Words::Narrow(t),
            None => Words::Wide(
                filled(Table::new(bits, self.home_bits), &all, hash_of)
                    .expect("wide words keep the whole home slot, so every entry finds a place"),
            ),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Hashes that collide on purpose: 64 keys over 16 hash values.
    fn hash(key: u32) -> u32 {
        (key % 16).wrapping_mul(2_654_435_761)
    }

    /// Replays inserts and removals on `ix` and on a map, checking after every step that every
    /// stored index is found under its hash and that a removed one is gone.
    fn check_against_model(mut ix: Index, ops: Vec<(u32, bool)>) -> Result<(), TestCaseError> {
        let mut model: HashMap<u32, u32> = HashMap::new(); // key → slab index
        let mut hashes: HashMap<u32, u32> = HashMap::new(); // slab index → hash
        let mut free: Vec<u32> = Vec::new();
        let mut next = 0;
        for (key, insert) in ops {
            if insert && !model.contains_key(&key) {
                // Reuse freed indices first, as the slab does.
                let idx = free.pop().unwrap_or_else(|| {
                    next += 1;
                    next - 1
                });
                hashes.insert(idx, hash(key));
                ix.insert(hash(key), idx, |i| hashes[&i]);
                model.insert(key, idx);
            } else if let Some(idx) = model.remove(&key) {
                prop_assert!(ix.remove(hash(key), idx));
                prop_assert!(!ix.remove(hash(key), idx), "removed twice");
                hashes.remove(&idx);
                free.push(idx);
            }
            prop_assert_eq!(ix.len(), model.len());
            for (&k, &idx) in &model {
                prop_assert_eq!(ix.find(hash(k), |j| j == idx), Some(idx));
                prop_assert_eq!(ix.find(hash(k), |_| false), None);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn behaves_as_a_map(ops in proptest::collection::vec((0u32..64, any::<bool>()), 1..400)) {
            check_against_model(Index::default(), ops)?;
        }

        /// Two home bits: a run longer than 3 slots switches to wide words, the path the real
        /// 8 bits take only under a hasher that gives hundreds of keys one hash.
        #[test]
        fn turns_wide_when_a_word_would_land_too_far(ops in proptest::collection::vec((0u32..64, any::<bool>()), 1..400)) {
            check_against_model(Index::with_limits(2, NARROW_MAX_BITS), ops)?;
        }

        /// Narrow words up to 8 slots only: the switch to `u64` words and the wide layout.
        #[test]
        fn switches_to_wide_words(ops in proptest::collection::vec((0u32..64, any::<bool>()), 1..400)) {
            check_against_model(Index::with_limits(HOME_BITS, 3), ops)?;
        }
    }

    #[test]
    fn layouts_fill_the_word_exactly() {
        for (word_bits, max_bits) in [(32, NARROW_MAX_BITS), (64, 32)] {
            for bits in 1..=max_bits {
                let l = Layout::new(bits, word_bits, HOME_BITS);
                assert_eq!(l.distance_limit() == usize::MAX, word_bits == 64 || bits <= HOME_BITS, "{l:?}");
                assert_eq!(l.low_shift + l.home_bits, word_bits, "{l:?}");
                let g = table_hash(0xdead_beef);
                let top = ((1u64 << bits) - 2) as u32;
                let word = l.word(l.signature(g), top);
                assert_eq!(l.idx(word), top);
                assert_eq!(l.distance(l.home(g), word), 0, "{l:?}");
                assert_eq!(l.distance((l.home(g) + 3) & l.mask, word), 3 % (1 << l.home_bits), "{l:?}");
            }
        }
    }

    /// A hasher that gives every key one hash degrades lookups to a scan, as in any hash table,
    /// but loses nothing: past 255 entries in one run the table turns wide.
    #[test]
    fn one_hash_for_every_key_still_finds_every_entry() {
        let mut ix = Index::default();
        for idx in 0..600 {
            ix.insert(7, idx, |_| 7);
        }
        assert!(matches!(ix.words, Words::Wide(_)));
        for idx in 0..600 {
            assert_eq!(ix.find(7, |j| j == idx), Some(idx));
        }
        for idx in (0..600).step_by(2) {
            assert!(ix.remove(7, idx));
        }
        assert_eq!(ix.len(), 300);
        assert_eq!(ix.find(7, |j| j == 2), None);
        assert_eq!(ix.find(7, |j| j == 3), Some(3));
    }

    /// An index past the table's field width grows the table until it fits, rather than being
    /// cut short (the slab's reuse of freed slots keeps this from happening in a shard).
    #[test]
    fn a_slab_index_wider_than_the_table_grows_it() {
        let mut ix = Index::default();
        ix.insert(1, 0, |_| 1);
        ix.insert(2, 5_000, |i| if i == 0 { 1 } else { 2 });
        assert!(ix.bits() >= 13);
        assert_eq!(ix.find(2, |j| j == 5_000), Some(5_000));
        assert_eq!(ix.find(1, |j| j == 0), Some(0));
    }

    #[test]
    fn a_grown_table_is_never_smaller_than_the_slab_indices_need() {
        let mut ix = Index::default();
        let hashes: Vec<u32> = (0..10_000u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
        for (idx, &h) in hashes.iter().enumerate() {
            ix.insert(h, idx as u32, |i| hashes[i as usize]);
        }
        assert!(ix.len() * 8 <= (1 << ix.bits()) * 7);
        assert!(matches!(ix.words, Words::Narrow(_)));
        for (idx, &h) in hashes.iter().enumerate() {
            assert_eq!(ix.find(h, |j| j == idx as u32), Some(idx as u32));
        }
        ix.clear();
        assert_eq!((ix.len(), ix.find(hashes[0], |_| true)), (0, None));
    }
}
