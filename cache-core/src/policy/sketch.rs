//! The TinyLFU frequency sketch: a count-min sketch of 4-bit counters with periodic halving.
//!
//! The table is an array of 64-byte blocks (eight 64-bit words, sixteen 4-bit counters each),
//! each aligned to a cache line. A key (its 32-bit hash) picks one block, and in it four
//! counters, one in each pair of words; its estimate is the minimum of the four. Keeping all
//! four in one cache line makes an increment or an estimate cost one cache miss instead of four
//! (the layout of Caffeine's current sketch); the alignment keeps a block from straddling two
//! lines, which a plain `Vec<u64>` (8-byte aligned) would do half the time. Counters saturate at 15. After `sample_size` increments every counter is
//! halved, so the sketch forgets old popularity (the "aging" of TinyLFU).
//!
//! Memory: one word (16 counters) per entry up to 4,096 entries, then one word per two entries
//! (whichever is larger), rounded up to a whole block — 4 bytes an entry for large caches. A
//! block is picked by multiplying the hash into the block count ("fastrange"), so the table need
//! not be a power of two and carries no rounding slack. Smaller tables make one-hit wonders
//! collide with popular keys and look popular; Caffeine sizes one word per entry, rounded up to
//! a power of two (8 to 16 bytes an entry). Halving it cost 0.5–1 pp of hit ratio on the
//! README's small rows (hence the floor) and about 1 pp on P3 @160,000 (20,000 per shard),
//! which is what the memory bar (≤ 32 B an entry) costs.

const RESET_MASK: u64 = 0x7777_7777_7777_7777;
const ONE_MASK: u64 = 0x1111_1111_1111_1111;
/// Entries of capacity per 64-bit word (16 counters), beyond [`FULL_WORDS`].
const ENTRIES_PER_WORD: u64 = 2;
/// Up to this many entries, a sketch gets one word per entry (at most 32 KiB a shard, which
/// small caches do not notice and which buys them about 0.5 pp of hit ratio on the README's
/// small rows); larger ones get one word per [`ENTRIES_PER_WORD`] entries.
const FULL_WORDS: u64 = 4096;
/// Words per block (one 64-byte cache line).
const BLOCK_WORDS: usize = 8;

/// One cache line of counters.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Block([u64; BLOCK_WORDS]);

#[derive(Debug, Default)]
pub(crate) struct FrequencySketch {
    table: Vec<Block>,
    /// Entries the table was sized for.
    capacity: u64,
    sample_size: u64,
    additions: u64,
}

impl FrequencySketch {
    /// A sketch sized for `capacity` entries.
    pub(crate) fn new(capacity: u64) -> Self {
        let mut sketch = Self::default();
        sketch.ensure_capacity(capacity);
        sketch
    }

    /// Grows the table to fit `capacity` entries (clearing counts); never shrinks.
    pub(crate) fn ensure_capacity(&mut self, capacity: u64) {
        let capacity = capacity.clamp(1, 1 << 30);
        if capacity <= self.capacity && !self.table.is_empty() {
            return;
        }
        let words = capacity.min(FULL_WORDS).max(capacity.div_ceil(ENTRIES_PER_WORD));
        let blocks = words.div_ceil(BLOCK_WORDS as u64) as usize;
        self.table = vec![Block::default(); blocks];
        self.capacity = capacity;
        self.sample_size = 10 * capacity;
        self.additions = 0;
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    pub(crate) fn sample_size(&self) -> u64 {
        self.sample_size
    }

    /// The block of a spread hash: its top 32 bits scaled to the block count.
    fn block(&self, block_hash: u64) -> usize {
        (((block_hash >> 32) * self.table.len() as u64) >> 32) as usize
    }

    /// The block of `hash`, and the word and bit offset in it of each of its four counters.
    fn counters(&self, hash: u32) -> (usize, [(usize, u32); 4]) {
        let block_hash = u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let block = self.block(block_hash);
        let mut counter_hash = block_hash.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        counter_hash ^= counter_hash >> 29;
        (
            block,
            std::array::from_fn(|i| {
                let h = (counter_hash >> (i << 3)) as u32;
                let word = (i << 1) + (h & 1) as usize;
                (word, ((h >> 1) & 15) << 2)
            }),
        )
    }

    /// The estimated frequency of `hash`, 0..=15.
    pub(crate) fn frequency(&self, hash: u32) -> u8 {
        let (block, counters) = self.counters(hash);
        let words = &self.table[block].0;
        counters.iter().map(|&(word, shift)| ((words[word] >> shift) & 0xf) as u8).min().unwrap_or(0)
    }

    /// Starts loading the cache line of `hash`'s counters, without waiting for it.
    pub(crate) fn prefetch(&self, hash: u32) {
        let block = self.block(u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        if let Some(b) = self.table.get(block) {
            crate::prefetch::prefetch(b);
        }
    }

    /// Counts one occurrence of `hash`.
    pub(crate) fn increment(&mut self, hash: u32) {
        let (block, counters) = self.counters(hash);
        let words = &mut self.table[block].0;
        let mut added = false;
        for (word, shift) in counters {
            let mask = 0xf << shift;
            if words[word] & mask != mask {
                words[word] += 1 << shift;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample_size {
                self.halve();
            }
        }
    }

    /// Halves every counter; the addition count drops by the halved mass.
    fn halve(&mut self) {
        let mut odd = 0u64;
        for word in self.table.iter_mut().flat_map(|b| b.0.iter_mut()) {
            odd += u64::from((*word & ONE_MASK).count_ones());
            *word = (*word >> 1) & RESET_MASK;
        }
        self.additions = (self.additions - (odd >> 2)) >> 1;
    }

    pub(crate) fn clear(&mut self) {
        self.table.fill(Block::default());
        self.additions = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_at_fifteen() {
        let mut s = FrequencySketch::new(64);
        for i in 0..20 {
            s.increment(7);
            assert_eq!(s.frequency(7), (i + 1).min(15));
        }
    }

    #[test]
    fn estimates_never_undercount_before_aging() {
        let mut s = FrequencySketch::new(1024);
        for key in 0..200u32 {
            for _ in 0..(key % 5) {
                s.increment(key.wrapping_mul(2_654_435_761));
            }
        }
        for key in 0..200u32 {
            assert!(u32::from(s.frequency(key.wrapping_mul(2_654_435_761))) >= key % 5);
        }
    }

    #[test]
    fn heavy_hitters_stand_out_from_noise() {
        let mut s = FrequencySketch::new(512);
        for round in 0..1000u32 {
            s.increment(1);
            s.increment(round.wrapping_mul(0x9e37_79b9) | 1 << 31);
        }
        let noise = (0..1000u32).filter(|r| s.frequency(r.wrapping_mul(0x9e37_79b9) | 1 << 31) > 3).count();
        assert!(s.frequency(1) >= 8);
        assert!(noise < 50, "{noise} noise keys look hot");
    }

    #[test]
    fn aging_halves_counts_after_the_sample_period() {
        let mut s = FrequencySketch::new(8);
        assert_eq!(s.sample_size(), 80);
        for _ in 0..15 {
            s.increment(42);
        }
        assert_eq!(s.frequency(42), 15);
        let mut other = 1000u32;
        while s.frequency(42) == 15 {
            s.increment(other);
            other += 1;
            assert!(other < 10_000, "the sketch never aged");
        }
        assert_eq!(s.frequency(42), 7);
    }

    #[test]
    fn growing_resizes_and_never_shrinks() {
        let mut s = FrequencySketch::new(100);
        let words = s.table.len();
        s.ensure_capacity(50);
        assert_eq!(s.table.len(), words);
        s.ensure_capacity(10_000);
        assert!(s.table.len() > words);
        assert_eq!(s.capacity(), 10_000);
    }
}
