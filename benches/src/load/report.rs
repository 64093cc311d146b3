//! What a load run reports: the configuration it ran, prefill and measured-phase figures (ops/s,
//! hits and misses, errors, latency percentiles from the HDR histogram, server CPU per operation),
//! as a serde type (the `--json` output, read back by `compare`) and as a text table.

use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::config::LoadConfig;
use super::conn::Counts;

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest request.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Latency {
    /// Percentiles of a histogram recorded in nanoseconds.
    #[must_use]
    pub fn from_ns(h: &Histogram<u64>) -> Self {
        let us = |ns: u64| ns as f64 / 1000.0;
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50: us(h.value_at_quantile(0.5)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// The prefill phase: every key written once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prefill {
    /// Keys written.
    pub ops: u64,
    /// Error replies.
    pub errors: u64,
    /// Wall time of the phase.
    pub seconds: f64,
}

/// Server CPU used during the measured window (from `/proc/<pid>/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServerCpu {
    /// The process measured.
    pub pid: u32,
    /// User + system CPU seconds in the window (clock-tick resolution, usually 10 ms).
    pub seconds: f64,
    /// Microseconds of server CPU per measured request.
    pub us_per_op: f64,
}

/// Everything one `loadgen` run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// What was run.
    pub config: LoadConfig,
    /// The prefill phase, when `--prefill` was given.
    pub prefill: Option<Prefill>,
    /// Measured requests answered.
    pub ops: u64,
    /// Reply counts by kind.
    pub gets: u64,
    /// SETs answered.
    pub sets: u64,
    /// GETs that returned a value.
    pub hits: u64,
    /// GETs that found nothing.
    pub misses: u64,
    /// Error replies (and replies that do not answer their request).
    pub errors: u64,
    /// Length of the measured window (first measured write to last measured reply).
    pub seconds: f64,
    /// `ops / seconds`.
    pub ops_per_sec: f64,
    /// Latency of measured requests.
    pub latency_us: Latency,
    /// Server CPU in the measured window, when `--server-pid` was given.
    pub server_cpu: Option<ServerCpu>,
}

impl LoadReport {
    /// Assembles the report of a measured phase.
    #[must_use]
    pub fn new(config: LoadConfig, prefill: Option<Prefill>, counts: Counts, seconds: f64, h: &Histogram<u64>) -> Self {
        let ops = counts.gets + counts.sets;
        Self {
            config,
            prefill,
            ops,
            gets: counts.gets,
            sets: counts.sets,
            hits: counts.hits,
            misses: counts.misses,
            errors: counts.errors,
            seconds,
            ops_per_sec: if seconds > 0.0 { ops as f64 / seconds } else { 0.0 },
            latency_us: Latency::from_ns(h),
            server_cpu: None,
        }
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "{} {} | {} conns × {} threads | pipeline {} | {} keys {} | {} B values | set:get {}",
            c.protocol, c.server, c.connections, c.threads, c.pipeline, c.keys, c.distribution, c.data_size, c.ratio
        )?;
        if let Some(p) = &self.prefill {
            let rate = if p.seconds > 0.0 { p.ops as f64 / p.seconds } else { 0.0 };
            writeln!(f, "prefill: {} keys in {:.2} s ({rate:.0} ops/s), {} errors", p.ops, p.seconds, p.errors)?;
        }
        if self.ops == 0 {
            return Ok(());
        }
        let per_s = |n: u64| n as f64 / self.seconds.max(f64::MIN_POSITIVE);
        let l = &self.latency_us;
        writeln!(f, "| type  | ops/s      | hits/s     | misses/s   | p50 µs | p99 µs | p99.9 µs | max µs  |")?;
        writeln!(f, "|-------|-----------:|-----------:|-----------:|-------:|-------:|---------:|--------:|")?;
        writeln!(
            f,
            "| sets  | {:>10.0} | {:>10} | {:>10} |        |        |          |         |",
            per_s(self.sets),
            "",
            ""
        )?;
        writeln!(
            f,
            "| gets  | {:>10.0} | {:>10.0} | {:>10.0} |        |        |          |         |",
            per_s(self.gets),
            per_s(self.hits),
            per_s(self.misses)
        )?;
        writeln!(
            f,
            "| total | {:>10.0} | {:>10} | {:>10} | {:>6.0} | {:>6.0} | {:>8.0} | {:>7.0} |",
            self.ops_per_sec, "", "", l.p50, l.p99, l.p999, l.max
        )?;
        write!(f, "{} requests in {:.2} s, {} errors", self.ops, self.seconds, self.errors)?;
        if let Some(cpu) = &self.server_cpu {
            write!(f, "; server pid {} used {:.2} CPU s = {:.2} µs/op", cpu.pid, cpu.seconds, cpu.us_per_op)?;
        }
        Ok(())
    }
}
