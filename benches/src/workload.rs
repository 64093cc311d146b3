//! Throughput workloads over any [`BenchCache`]: pre-generated operation streams and a runner that
//! drives them from N threads, bounded by time and by operation count.
//!
//! Owns the workload definitions shared by the `throughput` binary and the criterion benches:
//! Zipf gets on a full cache, 90/10 get/insert with steady eviction, insert-only with eviction and
//! `get_with` on a few hot missing keys. Streams are built before the clock starts, so sampling
//! never runs inside a timed loop; each thread starts at its own offset in the shared stream.

use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::adapters::BenchCache;
use crate::zipf;

/// Bit set on an encoded op when it is an insert (the key uses the other 63 bits).
pub const INSERT_BIT: u64 = 1 << 63;

/// Keys of the Zipf-gets workload: Zipf(`s`) over `n` keys, `len` draws.
///
/// # Errors
/// Fails on invalid Zipf parameters.
pub fn zipf_gets(s: f64, n: u64, len: usize, seed: u64) -> Result<Vec<u64>> {
    Ok(zipf::keys(s, n, len, seed)?.into_iter().map(|k| k & !INSERT_BIT).collect())
}

/// Every key [`zipf_gets`] can draw for `n` ranks, for pre-filling ("all present").
pub fn all_keys(n: u64) -> impl Iterator<Item = u64> {
    (0..n).map(|r| zipf::scramble(r) & !INSERT_BIT)
}

/// Encoded mixed ops: Zipf(`s`) keys over `n`, a fraction `write` of them inserts.
///
/// Masking the top bit keeps keys distinct: `rank × odd` is a bijection modulo 2^63 as well.
///
/// # Errors
/// Fails on invalid Zipf parameters.
pub fn mixed(s: f64, n: u64, len: usize, write: f64, seed: u64) -> Result<Vec<u64>> {
    let keys = zipf_gets(s, n, len, seed)?;
    let every = (1.0 / write.max(1e-9)).round().max(1.0) as usize;
    Ok(keys.into_iter().enumerate().map(|(i, k)| if i % every == every - 1 { k | INSERT_BIT } else { k }).collect())
}

/// Applies one encoded op: insert (when [`INSERT_BIT`] is set) or get, insert on miss.
#[inline]
pub fn apply<C: BenchCache>(cache: &C, op: u64) -> bool {
    let key = op & !INSERT_BIT;
    if op & INSERT_BIT != 0 {
        cache.insert(key, key);
        false
    } else if cache.get(key).is_some() {
        true
    } else {
        cache.insert(key, key);
        false
    }
}

/// Limits of one timed run.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop once this much wall time has passed…
    pub time: Duration,
    /// …or once this many operations ran in total, whichever comes first.
    pub ops: u64,
}

/// What one timed run did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    /// Operations completed by all threads.
    pub ops: u64,
    /// Operations that found their key (gets) — to show what the workload really exercised.
    pub hits: u64,
    /// Wall time from the common start to the last thread's stop.
    pub elapsed: Duration,
    /// On-CPU time of all threads together (Linux's per-thread scheduler statistics; zero where
    /// they cannot be read): unlike wall time, it does not count time spent waiting for a CPU
    /// that other work on a shared machine holds.
    pub cpu: Duration,
}

impl Run {
    /// Operations per second.
    #[must_use]
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Operations per second as if each thread had had a CPU to itself the whole time: operations
    /// over on-CPU time, times the thread count (falls back to [`ops_per_sec`](Self::ops_per_sec)
    /// without scheduler statistics).
    #[must_use]
    pub fn ops_per_cpu_sec(&self, threads: usize) -> f64 {
        if self.cpu.is_zero() {
            return self.ops_per_sec();
        }
        threads as f64 * self.ops as f64 / self.cpu.as_secs_f64()
    }

    /// Hits per operation, percent.
    #[must_use]
    pub fn hit_pct(&self) -> f64 {
        100.0 * self.hits as f64 / self.ops.max(1) as f64
    }
}

/// Ops between clock checks.
const CHUNK: usize = 1024;

/// Runs `op(cache, thread, i)` from `threads` threads until the budget is spent. `op` returns
/// whether it was a hit; `i` counts that thread's operations from `start`.
pub fn run<C: BenchCache>(
    cache: &C,
    threads: usize,
    budget: Budget,
    start: u64,
    op: impl Fn(&C, usize, u64) -> bool + Sync,
) -> Run {
    let per_thread = budget.ops / threads as u64;
    let barrier = Barrier::new(threads);
    let total_ops = AtomicU64::new(0);
    let total_hits = AtomicU64::new(0);
    let total_cpu = AtomicU64::new(0);
    let mut slowest = Duration::ZERO;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, op) = (&barrier, &op);
                let (total_ops, total_hits, total_cpu) = (&total_ops, &total_hits, &total_cpu);
                s.spawn(move || {
                    barrier.wait();
                    let cpu0 = thread_cpu_nanos();
                    let t0 = Instant::now();
                    let (mut done, mut hits) = (0u64, 0u64);
                    while done < per_thread && t0.elapsed() < budget.time {
                        for _ in 0..CHUNK {
                            hits += u64::from(black_box(op(cache, t, start + done)));
                            done += 1;
                        }
                    }
                    let elapsed = t0.elapsed();
                    if let (Some(a), Some(b)) = (cpu0, thread_cpu_nanos()) {
                        total_cpu.fetch_add(b.saturating_sub(a), Ordering::Relaxed);
                    }
                    total_ops.fetch_add(done, Ordering::Relaxed);
                    total_hits.fetch_add(hits, Ordering::Relaxed);
                    elapsed
                })
            })
            .collect();
        for h in handles {
            slowest = slowest.max(h.join().expect("bench thread panicked"));
        }
    });
    Run {
        ops: total_ops.into_inner(),
        hits: total_hits.into_inner(),
        elapsed: slowest,
        cpu: Duration::from_nanos(total_cpu.into_inner()),
    }
}

/// Nanoseconds this thread has run on a CPU (the first field of `/proc/thread-self/schedstat`),
/// or `None` where that file does not exist.
fn thread_cpu_nanos() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// The op stream entry for thread `t` at step `i`: threads start at evenly spread offsets.
#[inline]
#[must_use]
pub fn nth(stream: &[u64], threads: usize, t: usize, i: u64) -> u64 {
    let len = stream.len();
    stream[(t * len / threads + i as usize) % len]
}

/// A key no other thread or step uses, for insert-only runs.
#[inline]
#[must_use]
pub fn fresh_key(t: usize, i: u64) -> u64 {
    zipf::scramble(((t as u64) << 48) | i) & !INSERT_BIT
}

/// Key for `get_with` step `i`: four hot keys at a time, each asked 16 times per thread before
/// the window moves on to four keys never seen before.
#[inline]
#[must_use]
pub fn hot_key(i: u64) -> u64 {
    (i / 64) * 4 + (i % 4)
}

/// A loader with a little real work (about a hundred dependent multiplies), so that coalescing
/// (not loading) is what a faster cache can save.
#[must_use]
pub fn load(key: u64) -> u64 {
    let mut x = key | 1;
    for _ in 0..100 {
        x = black_box(x.wrapping_mul(0x2545_F491_4F6C_DD1D).rotate_left(7));
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_stream_has_the_asked_write_share() {
        let ops = mixed(1.0, 1000, 10_000, 0.1, 1).unwrap();
        let writes = ops.iter().filter(|&&o| o & INSERT_BIT != 0).count();
        assert_eq!(writes, 1000);
    }

    #[test]
    fn hot_keys_move_in_windows_of_four() {
        let first: std::collections::BTreeSet<u64> = (0..64).map(hot_key).collect();
        assert_eq!(first.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(hot_key(64), 4);
    }

    #[test]
    fn runner_respects_the_op_budget() {
        let cache = crate::adapters::quick(1000);
        let budget = Budget { time: Duration::from_secs(60), ops: 4 * CHUNK as u64 };
        let r = run(&cache, 2, budget, 0, |c, _, i| apply(c, i % 100));
        assert_eq!(r.ops, 4 * CHUNK as u64);
        assert!(r.hits > 0);
    }
}
