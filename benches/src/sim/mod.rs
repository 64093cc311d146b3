//! Reference policies that run over a whole trace at once (no concurrency, no values): the exact
//! LRU every paper quotes, and Belady's optimum with bypass, the upper bound for any policy.
//!
//! These are the yardsticks the hit-ratio report checks the real caches against; they must stay
//! simple enough to be obviously right.

pub mod lru;
pub mod opt;

/// Hits over a replay, plus the most entries the policy ever held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Requests that found their key resident.
    pub hits: u64,
    /// Requests replayed.
    pub requests: u64,
    /// Largest number of resident entries seen.
    pub max_resident: u64,
}

impl Outcome {
    /// Hit ratio in percent (0 for an empty trace).
    #[must_use]
    pub fn hit_pct(&self) -> f64 {
        if self.requests == 0 { 0.0 } else { 100.0 * self.hits as f64 / self.requests as f64 }
    }
}
