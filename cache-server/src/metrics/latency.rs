//! The latency monitor (LATENCY LATEST / HISTORY / RESET / DOCTOR): for each event, the last
//! 160 samples of at least `latency-monitor-threshold` milliseconds (one per second: a second
//! sample in the same second keeps the larger), and the largest ever seen, as Redis's latency.c.
//! Events recorded: `command` and `fast-command` (commands flagged `fast`), measured around the
//! handler as SLOWLOG measures them; `expire-cycle`, one background active-expiry cycle of the
//! keyspace (`Db::reclaim_expired_fn`; reclaiming during ordinary operations is part of their
//! `command` time); and `eviction-cycle`, for the evictions a smaller `maxmemory` set by CONFIG
//! SET performs at once, for a background cycle that evicted (after a pause), and for a command
//! whose writes evicted keys ([`note_eviction`], called by the keyspace's eviction listener on the
//! writer's thread). Redis evicts before the command and times that apart; ours evicts inside the
//! write (choosing and unlinking the victims under the shard lock, then freeing and announcing
//! them), which cannot be timed apart without a clock read on every write, so the sample is the
//! whole command's time. Measured in a debug build: a SET of 800 KB that evicted 11,326 keys took
//! 94 ms, 2 of them after the first victim was delivered — the choice under the lock dominates,
//! so timing only the delivery would hide most of the cycle. Memcached writes are not timed, and
//! `eviction-del` (Redis's per-key sample) is not recorded.

use parking_lot::Mutex;
use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Samples kept per event (Redis's LATENCY_TS_LEN).
pub const HISTORY: usize = 160;

/// One event's record.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// `(unix seconds, milliseconds)`, oldest first.
    pub samples: VecDeque<(u64, u64)>,
    /// The largest latency ever recorded for the event (ms).
    pub max: u64,
}

/// Events and their samples. Clones share them (the keyspace's background cycle records too).
#[derive(Debug, Default, Clone)]
pub struct Monitor(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    threshold_ms: AtomicU64,
    events: Mutex<BTreeMap<String, Series>>,
}

thread_local! {
    /// When a key was last evicted for size on this thread.
    static EVICTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Notes one key evicted for size on this thread (the keyspace's eviction listener calls it, so
/// only an evicting write pays for it); [`Monitor::command`] then records the command that
/// evicted it as an `eviction-cycle` too, if it was slow.
pub fn note_eviction() {
    EVICTED.with(|m| m.set(Some(Instant::now())));
}

impl Monitor {
    /// Sets `latency-monitor-threshold` (ms; 0 turns the monitor off).
    pub fn set_threshold(&self, ms: u64) {
        self.0.threshold_ms.store(ms, Relaxed);
    }

    /// Records a command of `micros` if the monitor is on and it reached the threshold, also as
    /// an `eviction-cycle` if it evicted keys.
    #[inline]
    pub fn command(&self, micros: u64, now_s: u64, fast: impl FnOnce() -> bool) {
        if self.reached(micros) {
            self.add(if fast() { "fast-command" } else { "command" }, now_s, micros / 1000);
            self.command_evictions(micros, now_s);
        }
    }

    /// The `eviction-cycle` of a slow command that just ended after `micros`, if it evicted
    /// keys (a mark older than the command is another's).
    #[cold]
    fn command_evictions(&self, micros: u64, now_s: u64) {
        let Some(evicted) = EVICTED.with(Cell::take) else { return };
        let end = Instant::now();
        if end.checked_sub(Duration::from_micros(micros)).is_none_or(|start| evicted >= start) {
            self.add("eviction-cycle", now_s, micros / 1000);
        }
    }

    /// Records `event` of `micros` if the monitor is on and it reached the threshold.
    pub fn event(&self, event: &str, micros: u64, now_s: u64) {
        if self.reached(micros) {
            self.add(event, now_s, micros / 1000);
        }
    }

    /// True if `latency-monitor-threshold` is not 0.
    pub fn is_on(&self) -> bool {
        self.0.threshold_ms.load(Relaxed) != 0
    }

    /// True if the monitor is on and `micros` reach its threshold (one relaxed load).
    fn reached(&self, micros: u64) -> bool {
        let t = self.0.threshold_ms.load(Relaxed);
        t != 0 && micros / 1000 >= t
    }

    /// Adds a sample of `ms` to `event` at `now_s`.
    pub fn add(&self, event: &str, now_s: u64, ms: u64) {
        let mut events = self.0.events.lock();
        let s = events.entry(event.to_string()).or_default();
        s.max = s.max.max(ms);
        match s.samples.back_mut() {
            Some((t, v)) if *t == now_s => *v = (*v).max(ms),
            _ => {
                s.samples.push_back((now_s, ms));
                if s.samples.len() > HISTORY {
                    s.samples.pop_front();
                }
            }
        }
    }

    /// A copy of every event's record, by name.
    pub fn snapshot(&self) -> BTreeMap<String, Series> {
        self.0.events.lock().clone()
    }

    /// Forgets the named events (all with none named); returns how many existed.
    pub fn reset(&self, names: &[String]) -> usize {
        let mut events = self.0.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        names.iter().filter(|n| events.remove(n.as_str()).is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_per_second_keep_the_max_and_history_is_bounded() {
        let m = Monitor::default();
        m.command(50_000, 1, || false); // off: threshold 0
        assert!(m.snapshot().is_empty());
        m.set_threshold(10);
        m.command(9_999, 1, || false);
        m.command(12_000, 1, || false);
        m.command(30_000, 1, || false);
        m.command(15_000, 2, || true);
        let s = m.snapshot();
        assert_eq!(s["command"].samples, VecDeque::from([(1, 30)]));
        assert_eq!(s["fast-command"].max, 15);
        for t in 0..500 {
            m.add("command", 10 + t, 20);
        }
        assert_eq!(m.snapshot()["command"].samples.len(), HISTORY);
        assert_eq!(m.snapshot()["command"].max, 30);
        m.event("eviction-cycle", 9_000, 3);
        m.event("eviction-cycle", 11_000, 3);
        assert_eq!(m.snapshot()["eviction-cycle"].samples, VecDeque::from([(3, 11)]));
        assert_eq!(m.reset(&["command".into(), "nope".into()]), 1);
        assert_eq!(m.reset(&[]), 2);
    }
}
