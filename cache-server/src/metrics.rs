//! Server-wide counters for INFO (connections, commands, errors, per-command call statistics and
//! latency histograms), the SLOWLOG and the latency monitor ([`latency`]). Counters are relaxed
//! atomics: INFO is a snapshot, not a transaction.

pub mod histogram;
pub mod latency;

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Calls of one command (one row of INFO commandstats).
#[derive(Debug, Default)]
pub struct CommandStats {
    /// Times executed.
    pub calls: AtomicU64,
    /// Total microseconds spent executing.
    pub usec: AtomicU64,
    /// Rejected before execution (arity, auth, OOM).
    pub rejected: AtomicU64,
    /// Executed and replied with an error.
    pub failed: AtomicU64,
    /// Distribution of execution times (INFO latencystats), while `latency-tracking` is on.
    pub latency: histogram::Histogram,
}

/// `latency-tracking` (INFO latencystats): on by default, as in Redis.
static TRACKING: AtomicBool = AtomicBool::new(true);

/// Turns the per-command latency histograms on or off (`latency-tracking`).
pub fn set_latency_tracking(on: bool) {
    TRACKING.store(on, Relaxed);
}

impl CommandStats {
    /// Counts one execution of `micros`.
    #[inline]
    pub fn record(&self, micros: u64) {
        self.calls.fetch_add(1, Relaxed);
        self.usec.fetch_add(micros, Relaxed);
        if TRACKING.load(Relaxed) {
            self.latency.record(micros);
        }
    }

    /// Zeroes the row (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for c in [&self.calls, &self.usec, &self.rejected, &self.failed] {
            c.store(0, Relaxed);
        }
        self.latency.reset();
    }
}

/// One SLOWLOG entry.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    /// Increasing id.
    pub id: u64,
    /// Unix seconds when the command ran.
    pub time: u64,
    /// Duration in microseconds.
    pub micros: u64,
    /// Arguments, trimmed as Redis does (32 args, 128 bytes each).
    pub args: Vec<Bytes>,
    /// Client address.
    pub addr: String,
    /// Client name.
    pub name: String,
}

/// Global counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Connections accepted since start.
    pub connections: AtomicU64,
    /// Connections refused by maxclients.
    pub rejected_connections: AtomicU64,
    /// Commands executed.
    pub commands: AtomicU64,
    /// Bytes read from clients.
    pub net_input: AtomicU64,
    /// Bytes written to clients.
    pub net_output: AtomicU64,
    /// Socket reads that brought bytes (INFO `total_reads_processed`).
    pub reads: AtomicU64,
    /// Reply batches written (INFO `total_writes_processed`).
    pub writes: AtomicU64,
    /// Clients closed by `client-output-buffer-limit`.
    pub output_limit_disconnections: AtomicU64,
    /// Error replies by their code (`ERR`, `WRONGTYPE`, ...).
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// The slow log, newest first.
    pub slowlog: Mutex<VecDeque<SlowEntry>>,
    slow_id: AtomicU64,
    /// The latency monitor.
    pub latency: latency::Monitor,
    /// `(evicted, expired)` totals at the last CONFIG RESETSTAT: INFO shows the counts since.
    pub evictions_base: Mutex<(u64, u64)>,
    /// `(when, commands, input bytes, output bytes)` taken by INFO, at least 100 ms apart, the
    /// last 16: the `instantaneous_*` rates are measured over them.
    rates: Mutex<VecDeque<(std::time::Instant, u64, u64, u64)>>,
}

impl Metrics {
    /// Counts one error reply under its code.
    pub fn error(&self, msg: &str) {
        let code = msg.split(' ').next().unwrap_or("ERR").to_string();
        *self.errors.lock().entry(code).or_default() += 1;
    }

    /// Adds a SLOWLOG entry, keeping at most `max` entries.
    pub fn slow(&self, micros: u64, time: u64, args: &[Bytes], addr: String, name: String, max: usize) {
        let mut trimmed: Vec<Bytes> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i == 31 && args.len() > 32 {
                trimmed.push(Bytes::from(format!("... ({} more arguments)", args.len() - 31)));
                break;
            }
            if a.len() > 128 {
                let mut v = a[..128].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                trimmed.push(v.into());
            } else {
                trimmed.push(Bytes::copy_from_slice(a));
            }
        }
        let id = self.slow_id.fetch_add(1, Relaxed);
        let mut log = self.slowlog.lock();
        log.push_front(SlowEntry { id, time, micros, args: trimmed, addr, name });
        log.truncate(max);
    }

    /// Counters for a server started with `config`.
    pub fn new(config: &crate::Config) -> Self {
        let m = Self::default();
        m.latency.set_threshold(config.latency_monitor_threshold);
        set_latency_tracking(config.get("latency-tracking").as_deref() != Some("no"));
        m
    }

    /// Zeroes counters (CONFIG RESETSTAT); `evicted` and `expired` are the keyspace's totals now.
    /// The slow log and the latency monitor are kept, as in Redis.
    pub fn reset(&self, evicted: u64, expired: u64) {
        for c in [
            &self.connections,
            &self.rejected_connections,
            &self.commands,
            &self.net_input,
            &self.net_output,
            &self.reads,
            &self.writes,
        ] {
            c.store(0, Relaxed);
        }
        self.output_limit_disconnections.store(0, Relaxed);
        self.errors.lock().clear();
        *self.evictions_base.lock() = (evicted, expired);
    }

    /// `(ops/s, input KB/s, output KB/s)` between the oldest kept sample and now (Redis samples
    /// every 100 ms in its cron; we sample when INFO runs, so a poller every N seconds sees the
    /// average over its last ≤ 16 polls). Zero on the first call.
    pub fn instantaneous(&self) -> (f64, f64, f64) {
        let now = std::time::Instant::now();
        let cur = (self.commands.load(Relaxed), self.net_input.load(Relaxed), self.net_output.load(Relaxed));
        let mut r = self.rates.lock();
        let rates = match r.front() {
            Some(&(t, c, i, o)) if now > t => {
                let dt = (now - t).as_secs_f64();
                let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
                (per(cur.0, c), per(cur.1, i) / 1024.0, per(cur.2, o) / 1024.0)
            }
            _ => (0.0, 0.0, 0.0),
        };
        if r.back().is_none_or(|&(t, ..)| now.duration_since(t).as_millis() >= 100) {
            r.push_back((now, cur.0, cur.1, cur.2));
            if r.len() > 16 {
                r.pop_front();
            }
        }
        rates
    }

    /// `(evicted, expired)` since the last CONFIG RESETSTAT, from the keyspace's totals.
    pub fn evictions_since_reset(&self, (evicted, expired): (u64, u64)) -> (u64, u64) {
        let (e0, x0) = *self.evictions_base.lock();
        (evicted.saturating_sub(e0), expired.saturating_sub(x0))
    }
}
