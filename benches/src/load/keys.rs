//! The load generator's key space: fixed-width key names, the value payload, and the distributions
//! that pick the next key (uniform, Zipf with exponent `s`, or a sequential range for prefill).
//!
//! Owns choosing and spelling keys only; it knows nothing of protocols or sockets. Zipf ranks are
//! spread over the key space by a multiplicative permutation, so the hottest keys are not
//! neighbours (which would flatter a server whose hash mixes low bits poorly).

use std::fmt;
use std::str::FromStr;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution as _, Zipf};

/// Length of every key: `key:` followed by 12 zero-padded decimal digits.
pub const KEY_LEN: usize = 16;

/// Largest key space [`write_key`] can spell in [`KEY_LEN`] bytes.
pub const MAX_KEYS: u64 = 1_000_000_000_000;

/// Appends the name of key `id` (`key:000000000042`) to `buf`.
///
/// # Panics
/// When `id >= MAX_KEYS` (checked by [`KeyPicker::new`], so only a caller bug gets here).
pub fn write_key(buf: &mut Vec<u8>, id: u64) {
    assert!(id < MAX_KEYS, "key id {id} does not fit in {KEY_LEN} bytes");
    buf.extend_from_slice(b"key:");
    let mut digits = [b'0'; 12];
    let mut rest = id;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    buf.extend_from_slice(&digits);
}

/// The value every SET writes: `len` printable bytes (a repeating alphabet, so a dump is readable).
#[must_use]
pub fn value(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// How keys are drawn from the key space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Every key equally likely.
    Uniform,
    /// Rank `r` (1-based) drawn with probability ∝ 1/r^s.
    Zipf {
        /// The skew exponent, ≥ 0.
        s: f64,
    },
}

impl FromStr for Distribution {
    type Err = String;

    /// Parses `uniform` or `zipf:<s>` (`zipf` alone means s = 0.99, memtier's usual choice).
    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            None if text == "uniform" => Ok(Self::Uniform),
            None if text == "zipf" => Ok(Self::Zipf { s: 0.99 }),
            Some(("zipf", s)) => match s.parse::<f64>() {
                Ok(s) if s >= 0.0 && s.is_finite() => Ok(Self::Zipf { s }),
                _ => Err(format!("zipf exponent {s:?} is not a number ≥ 0")),
            },
            _ => Err(format!("unknown distribution {text:?} (want uniform or zipf:<s>)")),
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uniform => f.write_str("uniform"),
            Self::Zipf { s } => write!(f, "zipf:{s}"),
        }
    }
}

/// Draws key ids in `0..n`, and decides between SET and GET.
#[derive(Debug)]
pub struct KeyPicker {
    rng: SmallRng,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Uniform { n: u64 },
    Zipf { zipf: Zipf<f64>, n: u64, mult: u64 },
    Sequential { next: u64, end: u64 },
}

impl KeyPicker {
    /// A picker over `n` keys with distribution `dist`, seeded by `seed`.
    ///
    /// # Errors
    /// When `n` is 0 or larger than [`MAX_KEYS`].
    pub fn new(dist: Distribution, n: u64, seed: u64) -> Result<Self, String> {
        if n == 0 || n > MAX_KEYS {
            return Err(format!("key space must be in 1..={MAX_KEYS}, got {n}"));
        }
        let kind = match dist {
            Distribution::Uniform => Kind::Uniform { n },
            Distribution::Zipf { s } => Kind::Zipf {
                zipf: Zipf::new(n as f64, s).map_err(|e| format!("zipf(n={n}, s={s}): {e}"))?,
                n,
                mult: spreading_multiplier(n),
            },
        };
        Ok(Self { rng: SmallRng::seed_from_u64(seed), kind })
    }

    /// A picker that yields `start, start + 1, …, end - 1` once each (for prefill).
    #[must_use]
    pub fn sequential(start: u64, end: u64, seed: u64) -> Self {
        Self { rng: SmallRng::seed_from_u64(seed), kind: Kind::Sequential { next: start, end } }
    }

    /// The next key id, or `None` when a sequential range is exhausted.
    pub fn next_key(&mut self) -> Option<u64> {
        match &mut self.kind {
            Kind::Uniform { n } => Some(self.rng.random_range(0..*n)),
            Kind::Zipf { zipf, n, mult } => {
                let rank = (zipf.sample(&mut self.rng) as u64).clamp(1, *n) - 1;
                Some(permute(rank, *n, *mult))
            }
            Kind::Sequential { next, end } => (*next < *end).then(|| {
                *next += 1;
                *next - 1
            }),
        }
    }

    /// True with probability `p` (for the SET share of the mix).
    pub fn chance(&mut self, p: f64) -> bool {
        p >= 1.0 || (p > 0.0 && self.rng.random::<f64>() < p)
    }
}

/// An odd multiplier near `n / φ` that is coprime with `n`, so `rank * mult mod n` is a bijection.
fn spreading_multiplier(n: u64) -> u64 {
    if n <= 2 {
        return 1;
    }
    let mut m = ((n as f64 * 0.618_033_988_7) as u64) | 1;
    while gcd(m, n) != 1 {
        m += 2;
    }
    m % n
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Maps Zipf rank `rank` (0-based, `< n`) to a key id in `0..n`.
fn permute(rank: u64, n: u64, mult: u64) -> u64 {
    ((u128::from(rank) * u128::from(mult)) % u128::from(n)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_width_and_distinct() {
        let mut a = Vec::new();
        write_key(&mut a, 42);
        assert_eq!(a, b"key:000000000042");
        let mut b = Vec::new();
        write_key(&mut b, MAX_KEYS - 1);
        assert_eq!(b.len(), KEY_LEN);
        assert_eq!(b, b"key:999999999999");
        assert_eq!(value(28), b"abcdefghijklmnopqrstuvwxyzab");
    }

    #[test]
    fn distributions_parse() {
        assert_eq!("uniform".parse::<Distribution>(), Ok(Distribution::Uniform));
        assert_eq!("zipf:1.2".parse::<Distribution>(), Ok(Distribution::Zipf { s: 1.2 }));
        assert_eq!("zipf".parse::<Distribution>(), Ok(Distribution::Zipf { s: 0.99 }));
        assert!("zipf:-1".parse::<Distribution>().is_err());
        assert!("normal".parse::<Distribution>().is_err());
    }

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1, 2, 3, 10, 64, 100, 997, 1000, 4096] {
            let m = spreading_multiplier(n);
            let mut seen: Vec<u64> = (0..n).map(|r| permute(r, n, m)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}, mult = {m}");
        }
    }

    #[test]
    fn uniform_covers_the_space_evenly() {
        let mut p = KeyPicker::new(Distribution::Uniform, 10, 1).unwrap();
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[p.next_key().unwrap() as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn zipf_matches_its_law_and_spreads_hot_keys() {
        let (n, s, draws) = (1000u64, 1.0, 200_000u32);
        let mut p = KeyPicker::new(Distribution::Zipf { s }, n, 7).unwrap();
        let mut counts = vec![0u32; n as usize];
        for _ in 0..draws {
            counts[p.next_key().unwrap() as usize] += 1;
        }
        let harmonic: f64 = (1..=n).map(|r| 1.0 / (r as f64).powf(s)).sum();
        let m = spreading_multiplier(n);
        for rank in [0u64, 1, 9] {
            let expected = f64::from(draws) / ((rank + 1) as f64).powf(s) / harmonic;
            let got = f64::from(counts[permute(rank, n, m) as usize]);
            assert!((got - expected).abs() < expected * 0.1, "rank {rank}: {got} vs {expected}");
        }
        // The two hottest keys are not neighbours.
        assert!(permute(0, n, m).abs_diff(permute(1, n, m)) > 1);
    }

    #[test]
    fn sequential_yields_each_key_once() {
        let mut p = KeyPicker::sequential(5, 8, 0);
        let got: Vec<u64> = std::iter::from_fn(|| p.next_key()).collect();
        assert_eq!(got, [5, 6, 7]);
    }

    #[test]
    fn bad_key_spaces_are_rejected() {
        assert!(KeyPicker::new(Distribution::Uniform, 0, 0).is_err());
        assert!(KeyPicker::new(Distribution::Uniform, MAX_KEYS + 1, 0).is_err());
    }

    #[test]
    fn chance_respects_its_extremes() {
        let mut p = KeyPicker::new(Distribution::Uniform, 10, 3).unwrap();
        assert!((0..1000).all(|_| !p.chance(0.0)));
        assert!((0..1000).all(|_| p.chance(1.0)));
        let hits = (0..100_000).filter(|_| p.chance(1.0 / 11.0)).count();
        assert!((8_500..9_700).contains(&hits), "{hits}");
    }
}
