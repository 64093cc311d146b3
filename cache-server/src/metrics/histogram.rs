//! The per-command latency histogram behind INFO latencystats and LATENCY HISTOGRAM, laid out
//! as the HdrHistogram Redis keeps per command (`hdr_init(1, 1e9, 2)`, values in nanoseconds),
//! so that both read the same numbers from the same samples:
//!
//! - A sample of `µs` is recorded as `µs × 1000` ns, clamped to 1 ns … 1 s, into a slot of
//!   two significant figures: below 256 ns one slot per value, above 128 slots per power of
//!   two, so a slot spans at most 1/128 of its value.
//! - Percentiles are a slot's highest equivalent value, in µs with three decimals (`6.015`).
//! - LATENCY HISTOGRAM's rows are HdrHistogram's logarithmic iteration from 1024 ns, base 2:
//!   the label of level `v` is the highest value of `v`'s slot in whole µs (1, 2, 4, 8, 16, 33,
//!   66, 132, …), its count the samples up to it.
//!
//! The 3072 relaxed atomic counters (24 KiB, as Redis's) are allocated on the first sample, so a
//! command never called costs one pointer.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Slots per half of a power of two (two significant figures: 2 × 10² rounded up to 256).
const HALF_BITS: u32 = 7;
const HALF: usize = 1 << HALF_BITS;
const LOWEST_NS: u64 = 1;
const HIGHEST_NS: u64 = 1_000_000_000;
/// 23 buckets cover 1e9 (the last spans 2^29 … 2^30): `(23 + 1) × 128` slots.
const SLOTS: usize = 24 * HALF;
/// LATENCY HISTOGRAM's first level and ratio (`hdr_iter_log_init(&iter, h, 1024, 2)`).
const FIRST_LEVEL_NS: u64 = 1024;

/// LATENCY HISTOGRAM's rows: `(samples, [(level in µs, samples up to it)])`.
pub type Cumulative = (u64, Vec<(u64, u64)>);

/// Per-command latency distribution.
#[derive(Debug, Default)]
pub struct Histogram {
    slots: OnceLock<Box<[AtomicU64]>>,
}

/// The power-of-two bucket of `ns`: 0 below 256, then one per doubling.
fn bucket(ns: u64) -> u32 {
    (64 - (ns | (2 * HALF as u64 - 1)).leading_zeros()) - (HALF_BITS + 1)
}

/// The slot of `ns` (1 ≤ ns ≤ [`HIGHEST_NS`]).
fn slot(ns: u64) -> usize {
    let b = bucket(ns);
    let sub = (ns >> b) as usize;
    ((b as usize + 1) << HALF_BITS) + sub - HALF
}

/// The lowest value of slot `i`.
fn value_at(i: usize) -> u64 {
    let (b, sub) = match (i >> HALF_BITS) as u32 {
        0 => (0, i),
        n => (n - 1, (i & (HALF - 1)) + HALF),
    };
    (sub as u64) << b
}

/// The highest value that shares `ns`'s slot.
fn highest_equivalent(ns: u64) -> u64 {
    let b = bucket(ns);
    ((ns >> b) << b) + (1 << b) - 1
}

impl Histogram {
    /// Counts one sample of `micros`.
    pub fn record(&self, micros: u64) {
        let s = self.slots.get_or_init(|| (0..SLOTS).map(|_| AtomicU64::new(0)).collect());
        let ns = micros.saturating_mul(1000).clamp(LOWEST_NS, HIGHEST_NS);
        s[slot(ns)].fetch_add(1, Relaxed);
    }

    /// Zeroes it (CONFIG RESETSTAT).
    pub fn reset(&self) {
        if let Some(s) = self.slots.get() {
            s.iter().for_each(|c| c.store(0, Relaxed));
        }
    }

    /// The counts and their total, or `None` with no sample.
    fn counts(&self) -> Option<(Vec<u64>, u64)> {
        let counts: Vec<u64> = self.slots.get()?.iter().map(|c| c.load(Relaxed)).collect();
        let total = counts.iter().sum();
        (total > 0).then_some((counts, total))
    }

    /// LATENCY HISTOGRAM's `(calls, histogram_usec)`: at each level 1024 × 2^k ns, the level's
    /// label in µs and the samples up to the end of its slot, where that count grew; `None` with
    /// no sample.
    pub fn cumulative(&self) -> Option<Cumulative> {
        let (counts, total) = self.counts()?;
        let (mut rows, mut seen, mut level) = (Vec::new(), 0, FIRST_LEVEL_NS);
        let mut slots = counts.iter().enumerate();
        while seen < total {
            // Walk to the slot that holds the level, counting it too.
            let Some(at) = slots.by_ref().find_map(|(i, c)| {
                seen += c;
                (value_at(i) >= level).then_some(value_at(i))
            }) else {
                break;
            };
            if rows.last().is_none_or(|&(_, n)| seen > n) && seen > 0 {
                rows.push((highest_equivalent(at) / 1000, seen));
            }
            level *= 2;
        }
        Some((total, rows))
    }

    /// The values at the given percentiles (0–100) in µs, as `hdr_value_at_percentile` gives
    /// them (a slot's highest value; its lowest for the 0th), or `None` with no sample.
    pub fn percentiles(&self, ps: &[f64]) -> Option<Vec<f64>> {
        let (counts, total) = self.counts()?;
        let at = |p: f64| {
            let rank = ((p.min(100.0) / 100.0 * total as f64 + 0.5) as u64).max(1);
            let mut seen = 0;
            let i = counts.iter().position(|c| {
                seen += c;
                seen >= rank
            });
            let v = i.map_or(0, value_at);
            let ns = if p == 0.0 { v } else { highest_equivalent(v) };
            ns as f64 / 1000.0
        };
        Some(ps.iter().map(|&p| at(p)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_value_lies_in_its_slot_of_at_most_a_128th(ns in LOWEST_NS..=HIGHEST_NS) {
            let i = slot(ns);
            prop_assert!(i < SLOTS);
            prop_assert!(value_at(i) <= ns && ns <= highest_equivalent(value_at(i)));
            prop_assert_eq!(highest_equivalent(ns), highest_equivalent(value_at(i)));
            prop_assert!((highest_equivalent(ns) - value_at(i)) as f64 <= (ns as f64 / 128.0).max(1.0));
            prop_assert!(i == 0 || value_at(i - 1) < value_at(i));
        }
    }

    #[test]
    fn slots_follow_hdr_histogram_with_two_significant_figures() {
        // Values as HdrHistogram(1, 1e9, 2) reports them (Redis prints 6.015 for a 6 µs SET).
        assert_eq!((slot(1), slot(255), slot(256), slot(511), slot(512)), (1, 255, 256, 383, 384));
        assert_eq!(highest_equivalent(6000), 6015);
        assert_eq!(highest_equivalent(1000), 1003);
        assert!(slot(HIGHEST_NS) < SLOTS);
        assert_eq!(value_at(slot(1024)), 1024);
    }

    #[test]
    fn percentiles_and_levels_of_a_known_distribution() {
        let h = Histogram::default();
        assert_eq!(h.percentiles(&[50.0]), None);
        for us in 1..=100 {
            h.record(us);
        }
        // 50th: the 50th sample (50 µs = 50000 ns, slot width 256 → 49920 … 50175).
        assert_eq!(h.percentiles(&[0.0, 50.0, 99.0, 100.0]).unwrap(), [1.0, 50.175, 99.327, 100.351]);
        let (n, rows) = h.cumulative().unwrap();
        assert_eq!(n, 100);
        // Redis's labels: the highest value of the slot of 1024 × 2^k ns, in whole µs.
        assert_eq!(rows, [(1, 1), (2, 2), (4, 4), (8, 8), (16, 16), (33, 33), (66, 66), (132, 100)]);
        h.reset();
        assert_eq!(h.percentiles(&[50.0]), None);
        assert_eq!(h.cumulative(), None);
    }
}
