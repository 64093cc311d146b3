//! Synthetic Zipf workloads: key streams where rank `r` is drawn with probability ∝ 1/r^s.
//!
//! Owns the `zipf:` trace spec (`zipf:s=0.99,n=100000,len=1000000,seed=7`) and the key streams the
//! throughput benches pre-generate, so that sampling never runs inside a timed loop. Ranks are
//! scrambled into keys by a fixed odd multiplier, so hot keys are not neighbours in key space
//! (which would flatter caches whose hash mixes low bits poorly).

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Zipf};

use crate::trace::Trace;

/// Parameters of a synthetic Zipf trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZipfSpec {
    /// Skew exponent (`s`); 1.0 is the classic web/cache skew.
    pub s: f64,
    /// Number of distinct keys.
    pub n: u64,
    /// Number of requests to generate.
    pub len: usize,
    /// RNG seed, so that every cache replays the same stream.
    pub seed: u64,
}

impl Default for ZipfSpec {
    fn default() -> Self {
        Self { s: 1.0, n: 100_000, len: 1_000_000, seed: 42 }
    }
}

impl ZipfSpec {
    /// Parses `s=..,n=..,len=..,seed=..` (any subset, any order).
    ///
    /// # Errors
    /// Fails on unknown fields or unparsable numbers.
    pub fn parse(text: &str) -> Result<Self> {
        let mut spec = Self::default();
        for field in text.split(',').filter(|f| !f.is_empty()) {
            let (name, value) =
                field.split_once('=').with_context(|| format!("zipf field {field:?} is not name=value"))?;
            let value = value.replace('_', "");
            match name {
                "s" => spec.s = value.parse()?,
                "n" => spec.n = value.parse()?,
                "len" => spec.len = value.parse()?,
                "seed" => spec.seed = value.parse()?,
                other => bail!("unknown zipf field {other:?} (want s, n, len, seed)"),
            }
        }
        if spec.n == 0 || spec.s < 0.0 {
            bail!("zipf needs n > 0 and s >= 0");
        }
        Ok(spec)
    }

    /// Generates the trace.
    ///
    /// # Errors
    /// Fails when the distribution parameters are invalid.
    pub fn trace(&self) -> Result<Trace> {
        Ok(Trace { name: format!("zipf(s={},n={})", self.s, self.n), keys: keys(self.s, self.n, self.len, self.seed)? })
    }
}

/// Draws `len` keys from a Zipf(`s`) law over `n` ranks, scrambled by [`scramble`].
///
/// # Errors
/// Fails when `n` or `s` is out of the distribution's domain.
pub fn keys(s: f64, n: u64, len: usize, seed: u64) -> Result<Vec<u64>> {
    let dist = Zipf::new(n as f64, s).context("zipf parameters")?;
    let mut rng = SmallRng::seed_from_u64(seed);
    Ok((0..len).map(|_| scramble(dist.sample(&mut rng) as u64 - 1)).collect())
}

/// Maps rank `r` (0-based) to its key: a bijection on `u64`, so distinct ranks stay distinct.
#[must_use]
pub fn scramble(rank: u64) -> u64 {
    rank.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_and_generates_skewed_keys() {
        let spec = ZipfSpec::parse("s=1.0,n=1000,len=20_000,seed=1").unwrap();
        let t = spec.trace().unwrap();
        assert_eq!(t.keys.len(), 20_000);
        let hottest = t.keys.iter().filter(|&&k| k == scramble(0)).count();
        let coldest = t.keys.iter().filter(|&&k| k == scramble(999)).count();
        assert!(hottest > 100 * coldest.max(1) / 2, "{hottest} vs {coldest}");
        assert!(t.unique_keys() <= 1000);
    }

    #[test]
    fn bad_specs_are_rejected() {
        assert!(ZipfSpec::parse("q=1").is_err());
        assert!(ZipfSpec::parse("n=0").is_err());
    }
}
