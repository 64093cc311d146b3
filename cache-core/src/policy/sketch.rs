//! The TinyLFU frequency sketch: a count-min sketch of 4-bit counters with periodic halving.
//!
//! The table is an array of 64-byte blocks (eight 64-bit words, sixteen 4-bit counters each).
//! A key (its 32-bit hash) picks one block, and in it four counters, one in each pair of words;
//! its estimate is the minimum of the four. Keeping all four in one cache line makes an
//! increment or an estimate cost one cache miss instead of four (the layout of Caffeine's
//! current sketch). Counters saturate at 15. After `sample_size` increments every counter is
//! halved, so the sketch forgets old popularity (the "aging" of TinyLFU).
//!
//! Memory: one word per `ENTRIES_PER_WORD` entries of capacity, rounded up to a power of two.
//! Smaller tables make one-hit wonders collide with popular keys and look popular; one word
//! (16 counters) per entry is Caffeine's sizing.

const RESET_MASK: u64 = 0x7777_7777_7777_7777;
const ONE_MASK: u64 = 0x1111_1111_1111_1111;
/// Entries of capacity per 64-bit word (16 counters).
const ENTRIES_PER_WORD: u64 = 1;
/// Words per block (one 64-byte cache line).
const BLOCK_WORDS: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct FrequencySketch {
    table: Vec<u64>,
    block_mask: usize,
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
        let words = capacity.div_ceil(ENTRIES_PER_WORD).next_power_of_two().max(BLOCK_WORDS as u64) as usize;
        self.table = vec![0; words];
        self.block_mask = words / BLOCK_WORDS - 1;
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

    /// The word and bit offset of each of the key's four counters.
    fn counters(&self, hash: u32) -> [(usize, u32); 4] {
        let block_hash = u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let block = ((block_hash >> 32) as usize & self.block_mask) * BLOCK_WORDS;
        let mut counter_hash = block_hash.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        counter_hash ^= counter_hash >> 29;
        std::array::from_fn(|i| {
            let h = (counter_hash >> (i << 3)) as u32;
            let word = block + (i << 1) + (h & 1) as usize;
            (word, ((h >> 1) & 15) << 2)
        })
    }

    /// The estimated frequency of `hash`, 0..=15.
    pub(crate) fn frequency(&self, hash: u32) -> u8 {
        self.counters(hash).iter().map(|&(word, shift)| ((self.table[word] >> shift) & 0xf) as u8).min().unwrap_or(0)
    }

    /// Counts one occurrence of `hash`.
    pub(crate) fn increment(&mut self, hash: u32) {
        let mut added = false;
        for (word, shift) in self.counters(hash) {
            let mask = 0xf << shift;
            if self.table[word] & mask != mask {
                self.table[word] += 1 << shift;
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
        for word in &mut self.table {
            odd += u64::from((*word & ONE_MASK).count_ones());
            *word = (*word >> 1) & RESET_MASK;
        }
        self.additions = (self.additions - (odd >> 2)) >> 1;
    }

    pub(crate) fn clear(&mut self) {
        self.table.fill(0);
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
