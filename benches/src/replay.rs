//! Replays a trace through the caches under test and the reference policies, one client thread,
//! the way an application uses a cache: `get`, and on a miss `insert` the key.
//!
//! Owns the per-(trace, capacity) measurement row: hit ratio of every cache, the resident size each
//! actually held (sampled during the run and after maintenance settles), the OPT and LRU bounds, and
//! the checks that turn "better than OPT" or "over capacity" into flagged bugs.

use crate::adapters::{BenchCache, Kind, replay_shards};
use crate::sim::{Outcome, lru, opt};
use crate::with_cache;

/// How often (in requests) the resident size is sampled during a replay.
const SAMPLE_EVERY: usize = 4096;

/// One cache's result on one (trace, capacity) row.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CacheResult {
    /// Which cache.
    #[serde(serialize_with = "ser_kind")]
    pub kind: Kind,
    /// Hit ratio in percent.
    pub hit_pct: f64,
    /// Largest resident entry count seen (sampled every few thousand requests and at the end).
    pub max_resident: u64,
    /// Resident entries at the end, after deferred maintenance.
    pub final_resident: u64,
}

fn ser_kind<S: serde::Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.label())
}

/// Every result for one (trace, capacity).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// Trace name.
    pub trace: String,
    /// Capacity in entries.
    pub capacity: u64,
    /// Requests replayed.
    pub requests: u64,
    /// Belady's optimum with bypass, percent.
    pub opt_pct: f64,
    /// Exact LRU, percent.
    pub lru_pct: f64,
    /// Shards our cache was built with for this row.
    pub our_shards: usize,
    /// The real caches, in [`Kind::ALL`] order (or the subset asked for).
    pub caches: Vec<CacheResult>,
}

impl Row {
    /// The result of `kind`, if it ran.
    #[must_use]
    pub fn get(&self, kind: Kind) -> Option<&CacheResult> {
        self.caches.iter().find(|c| c.kind == kind)
    }

    /// max(LRU, moka, quick_cache): the bar our default policy is held to.
    #[must_use]
    pub fn best_peer_pct(&self) -> f64 {
        Kind::PEERS.iter().filter_map(|&k| self.get(k).map(|c| c.hit_pct)).fold(self.lru_pct, f64::max)
    }

    /// Human-readable problems: a hit ratio above OPT (always a bug), or a resident size over
    /// capacity (a bug for ours — capacity is a hard bound — and a caveat for a peer).
    #[must_use]
    pub fn problems(&self) -> Vec<(bool, String)> {
        let mut out = Vec::new();
        // OPT and the measured ratios are exact fractions of the same request count.
        let eps = 0.5 / self.requests.max(1) as f64;
        if self.lru_pct > self.opt_pct + eps {
            out.push((true, format!("{} @{}: LRU above OPT", self.trace, self.capacity)));
        }
        for c in &self.caches {
            if c.hit_pct > self.opt_pct + eps {
                out.push((
                    true,
                    format!(
                        "{} @{}: {} {:.2}% is above OPT {:.2}%",
                        self.trace, self.capacity, c.kind, c.hit_pct, self.opt_pct
                    ),
                ));
            }
            let held = c.max_resident.max(c.final_resident);
            if held > self.capacity {
                out.push((
                    c.kind.is_ours(),
                    format!("{} @{}: {} held {} entries, over its capacity", self.trace, self.capacity, c.kind, held),
                ));
            }
        }
        out
    }
}

/// Replays `keys` through one cache: get, insert on miss.
pub fn replay<C: BenchCache>(cache: &C, keys: &[u64]) -> (Outcome, u64) {
    let mut hits = 0u64;
    let mut max_resident = 0u64;
    for (i, &k) in keys.iter().enumerate() {
        if cache.get(k).is_some() {
            hits += 1;
        } else {
            cache.insert(k, k);
        }
        if i % SAMPLE_EVERY == SAMPLE_EVERY - 1 {
            max_resident = max_resident.max(cache.resident());
        }
    }
    max_resident = max_resident.max(cache.resident());
    cache.settle();
    let final_resident = cache.resident();
    let out = Outcome { hits, requests: keys.len() as u64, max_resident: max_resident.max(final_resident) };
    (out, final_resident)
}

/// Measures one row: OPT (given precomputed next uses), LRU and each of `kinds`; our cache gets
/// `our_shards` shards, or [`replay_shards`] of the capacity.
#[must_use]
pub fn measure_row(
    trace: &str,
    keys: &[u64],
    next_uses: &[usize],
    capacity: u64,
    kinds: &[Kind],
    our_shards: Option<usize>,
) -> Row {
    let our_shards = our_shards.unwrap_or_else(|| replay_shards(capacity));
    let caches = kinds
        .iter()
        .map(|&kind| {
            let (out, final_resident) = with_cache!(kind, capacity, Some(our_shards), |c| replay(&c, keys));
            CacheResult { kind, hit_pct: out.hit_pct(), max_resident: out.max_resident, final_resident }
        })
        .collect();
    Row {
        trace: trace.to_string(),
        capacity,
        requests: keys.len() as u64,
        opt_pct: opt::run_with(keys, next_uses, capacity as usize).hit_pct(),
        lru_pct: lru::run(keys, capacity as usize).hit_pct(),
        our_shards,
        caches,
    }
}
