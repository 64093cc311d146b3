//! A compact latency histogram for INFO latencystats: log-linear buckets (8 per power of two,
//! so a bucket is at most 12.5% wide) over 1 µs … 2^40 µs, relaxed atomic counters allocated on
//! the first sample, so commands never called cost one pointer. Percentiles are reported as the
//! upper bound of their bucket, as HdrHistogram's "highest equivalent value" that Redis prints.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SUB: usize = 8;
const SUB_BITS: u32 = 3;
const EXPONENTS: usize = 41;
const BUCKETS: usize = EXPONENTS * SUB;

/// Per-command latency distribution in microseconds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: OnceLock<Box<[AtomicU64]>>,
}

/// The bucket of `v` (v ≥ 1): values below 8 have a bucket each; above, 8 per power of two.
fn bucket(v: u64) -> usize {
    let v = v.max(1);
    if v < SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // ≥ 3
    let sub = ((v >> (exp - SUB_BITS)) as usize) & (SUB - 1);
    (((exp - SUB_BITS + 1) as usize) * SUB + sub).min(BUCKETS - 1)
}

/// The largest value that falls into bucket `i`.
fn upper(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let exp = (i / SUB) as u32 + SUB_BITS - 1;
    let sub = (i % SUB) as u64;
    ((SUB as u64 + sub + 1) << (exp - SUB_BITS)) - 1
}

impl Histogram {
    /// Counts one sample of `micros`.
    pub fn record(&self, micros: u64) {
        let b = self.buckets.get_or_init(|| (0..BUCKETS).map(|_| AtomicU64::new(0)).collect());
        b[bucket(micros)].fetch_add(1, Relaxed);
    }

    /// Zeroes it (CONFIG RESETSTAT).
    pub fn reset(&self) {
        if let Some(b) = self.buckets.get() {
            b.iter().for_each(|c| c.store(0, Relaxed));
        }
    }

    /// The values at the given percentiles (0–100), or `None` with no sample.
    pub fn percentiles(&self, ps: &[f64]) -> Option<Vec<u64>> {
        let b = self.buckets.get()?;
        let counts: Vec<u64> = b.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        Some(
            ps.iter()
                .map(|p| {
                    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
                    let mut seen = 0;
                    for (i, c) in counts.iter().enumerate() {
                        seen += c;
                        if seen >= rank {
                            return upper(i);
                        }
                    }
                    upper(BUCKETS - 1)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_value_lies_within_its_bucket_of_at_most_an_eighth(v in 1u64..(1 << 40)) {
            let i = bucket(v);
            prop_assert!(v <= upper(i));
            prop_assert!(i == 0 || v > upper(i - 1));
            prop_assert!((upper(i) - v) as f64 <= v as f64 / 8.0);
        }
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let h = Histogram::default();
        assert_eq!(h.percentiles(&[50.0]), None);
        for v in 1..=100 {
            h.record(v);
        }
        let p = h.percentiles(&[50.0, 99.0, 100.0]).unwrap();
        assert!((50..=56).contains(&p[0]), "{p:?}");
        assert!((99..=111).contains(&p[1]) && p[2] >= 100, "{p:?}");
        h.reset();
        assert_eq!(h.percentiles(&[50.0]), None);
    }
}
