//! The load generator's settings: one struct that is both the `loadgen` command line (clap) and the
//! `config` echoed in its JSON report (serde), plus the small parsers it needs (`1:10` ratios,
//! `500ms` / `2s` durations).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::keys::Distribution;
use super::proto::Protocol;

/// What to run against which server.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct LoadConfig {
    /// Server address (host:port); the only address ever connected to (with `--cluster`: the seed
    /// node, whose CLUSTER SLOTS names the others).
    #[arg(short, long, default_value = "127.0.0.1:6379")]
    pub server: String,
    /// Wire protocol: resp or memcache (text).
    #[arg(short = 'P', long, default_value = "resp")]
    #[serde(with = "as_string")]
    pub protocol: Protocol,
    /// Connections in total, spread over the threads.
    #[arg(short, long, default_value_t = 50)]
    pub connections: usize,
    /// Threads, each an event loop driving its share of the connections.
    #[arg(short, long, default_value_t = 1)]
    pub threads: usize,
    /// Requests written per batch on a connection (1 = no pipelining).
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Key space: keys `key:000000000000` … (16 bytes each).
    #[arg(short, long, default_value_t = 100_000)]
    pub keys: u64,
    /// Key distribution: uniform or zipf:S (S the exponent, e.g. zipf:0.99).
    #[arg(long, default_value = "uniform")]
    #[serde(with = "as_string")]
    pub distribution: Distribution,
    /// Value size in bytes.
    #[arg(short, long, default_value_t = 32)]
    pub data_size: usize,
    /// SET:GET ratio, e.g. 1:10, 0:1 (GET only), 1:0 (SET only).
    #[arg(short, long, default_value = "1:10")]
    #[serde(with = "as_string")]
    pub ratio: Ratio,
    /// Measured phase length (e.g. 10s, 500ms); the run ends at this or at --requests, first.
    #[arg(long, default_value = "10s", value_parser = parse_secs)]
    pub duration: f64,
    /// Measured requests in total (optional); bounded by --duration too.
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Unmeasured warm-up before the measured phase.
    #[arg(long, default_value = "1s", value_parser = parse_secs)]
    pub warmup: f64,
    /// Write every key of the key space once (SET, pipelined) before the warm-up.
    #[arg(long)]
    pub prefill: bool,
    /// Prefill, then stop (no warm-up, no measured phase).
    #[arg(long)]
    pub prefill_only: bool,
    /// Pipeline depth of the prefill.
    #[arg(long, default_value_t = 64)]
    pub prefill_pipeline: usize,
    /// Pace every connection to this many requests per second in total (open-loop-ish, for latency
    /// at an equal load); unpaced when absent.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Hard cap on the whole run, prefill included: past it the run fails.
    #[arg(long, default_value = "300s", value_parser = parse_secs)]
    pub time_limit: f64,
    /// Seed of the key and SET/GET choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Local pid of the server, to report its CPU time per request from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Redis Cluster: read CLUSTER SLOTS from --server, open every connection to every primary
    /// and send each key to its slot's owner (CRC16 with hash tags); -MOVED re-reads the map.
    #[arg(long)]
    #[serde(default)]
    pub cluster: bool,
}

impl LoadConfig {
    /// Checks the settings for values that cannot run.
    ///
    /// # Errors
    /// Names the first bad setting.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (self.connections == 0, "--connections must be ≥ 1"),
            (self.threads == 0, "--threads must be ≥ 1"),
            (self.pipeline == 0 || self.prefill_pipeline == 0, "pipeline depths must be ≥ 1"),
            (self.ratio.set + self.ratio.get == 0, "--ratio must not be 0:0"),
            (!(self.duration > 0.0 || self.prefill_only), "--duration must be > 0"),
            (self.time_limit.is_nan() || self.time_limit <= 0.0, "--time-limit must be > 0"),
            (self.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())), "--rate must be > 0"),
            (self.protocol == Protocol::Memcache && self.data_size > 1024 * 1024, "memcached values are ≤ 1 MiB"),
        ];
        match checks.iter().find(|(bad, _)| *bad) {
            Some((_, why)) => Err((*why).to_owned()),
            None => Ok(()),
        }
    }
}

/// A SET:GET ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// SET weight.
    pub set: u32,
    /// GET weight.
    pub get: u32,
}

impl Ratio {
    /// Probability that a request is a SET.
    #[must_use]
    pub fn set_share(self) -> f64 {
        f64::from(self.set) / f64::from(self.set + self.get).max(1.0)
    }
}

impl FromStr for Ratio {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("ratio {s:?} is not SET:GET (e.g. 1:10)");
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        Ok(Self { set: a.trim().parse().map_err(|_| bad())?, get: b.trim().parse().map_err(|_| bad())? })
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.set, self.get)
    }
}

/// Parses `10`, `10s`, `1.5s`, `500ms` or `2m` into seconds.
///
/// # Errors
/// On anything else, or a negative or non-finite value.
pub fn parse_secs(text: &str) -> Result<f64, String> {
    let (num, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v * scale),
        _ => Err(format!("{text:?} is not a duration (e.g. 10s, 500ms)")),
    }
}

/// Serde for the types above as their `Display` / `FromStr` spelling.
mod as_string {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err = String>,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_durations_parse() {
        assert_eq!("1:10".parse::<Ratio>(), Ok(Ratio { set: 1, get: 10 }));
        assert!(("1:10".parse::<Ratio>().unwrap().set_share() - 1.0 / 11.0).abs() < 1e-12);
        assert_eq!("0:1".parse::<Ratio>().unwrap().set_share(), 0.0);
        assert!("1-10".parse::<Ratio>().is_err());
        assert_eq!(parse_secs("500ms"), Ok(0.5));
        assert_eq!(parse_secs("2s"), Ok(2.0));
        assert_eq!(parse_secs("3"), Ok(3.0));
        assert_eq!(parse_secs("1m"), Ok(60.0));
        assert!(parse_secs("-1s").is_err());
        assert!(parse_secs("soon").is_err());
    }
}
