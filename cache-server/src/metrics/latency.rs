//! The latency monitor (LATENCY LATEST / HISTORY / RESET / DOCTOR): for each event, the last
//! 160 samples of at least `latency-monitor-threshold` milliseconds (one per second: a second
//! sample in the same second keeps the larger), and the largest ever seen, as Redis's latency.c.
//! Events recorded: `command` and `fast-command` (commands flagged `fast`), measured around the
//! handler as SLOWLOG measures them, and `eviction-cycle` for the evictions a smaller
//! `maxmemory` set by CONFIG SET performs at once. (Expiry and eviction under writes happen inside
//! the core, per shard, and are not timed.)

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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

/// Events and their samples.
#[derive(Debug, Default)]
pub struct Monitor {
    threshold_ms: AtomicU64,
    events: Mutex<BTreeMap<String, Series>>,
}

impl Monitor {
    /// Sets `latency-monitor-threshold` (ms; 0 turns the monitor off).
    pub fn set_threshold(&self, ms: u64) {
        self.threshold_ms.store(ms, Relaxed);
    }

    /// Records a command of `micros` if the monitor is on and it reached the threshold.
    #[inline]
    pub fn command(&self, micros: u64, now_s: u64, fast: impl FnOnce() -> bool) {
        if self.reached(micros) {
            self.add(if fast() { "fast-command" } else { "command" }, now_s, micros / 1000);
        }
    }

    /// Records `event` of `micros` if the monitor is on and it reached the threshold.
    pub fn event(&self, event: &str, micros: u64, now_s: u64) {
        if self.reached(micros) {
            self.add(event, now_s, micros / 1000);
        }
    }

    /// True if the monitor is on and `micros` reach its threshold (one relaxed load).
    fn reached(&self, micros: u64) -> bool {
        let t = self.threshold_ms.load(Relaxed);
        t != 0 && micros / 1000 >= t
    }

    /// Adds a sample of `ms` to `event` at `now_s`.
    pub fn add(&self, event: &str, now_s: u64, ms: u64) {
        let mut events = self.events.lock();
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
        self.events.lock().clone()
    }

    /// Forgets the named events (all with none named); returns how many existed.
    pub fn reset(&self, names: &[String]) -> usize {
        let mut events = self.events.lock();
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
