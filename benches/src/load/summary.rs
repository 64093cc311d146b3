//! The side-by-side comparison's data: one [`Sample`] per (round, workload, server) run, the medians
//! over rounds ([`Cell`]), memory per key ([`MemoryRow`]), the ratios of ours against each peer, the
//! issue's bars judged met or missed, and the Markdown report.
//!
//! Pure data and arithmetic: running servers and load lives in the `compare` binary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// One load run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Workload name (`GET p1`, ...).
    pub workload: String,
    /// `resp` or `memcache`.
    pub protocol: String,
    /// `ours`, `redis` or `memcached`.
    pub server: String,
    /// Round number, from 1.
    pub round: usize,
    /// Throughput.
    pub ops_per_sec: f64,
    /// Latency percentiles, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// 99.9th percentile, µs.
    pub p999_us: f64,
    /// Server CPU per request, µs.
    pub cpu_us_per_op: Option<f64>,
    /// GET hits and misses.
    pub hits: u64,
    /// GET misses.
    pub misses: u64,
    /// Error replies.
    pub errors: u64,
}

/// Medians over rounds of one (workload, protocol, server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Workload name.
    pub workload: String,
    /// `resp` or `memcache`.
    pub protocol: String,
    /// Server label.
    pub server: String,
    /// Rounds measured.
    pub rounds: usize,
    /// Median throughput.
    pub ops_per_sec: f64,
    /// Median p50, µs.
    pub p50_us: f64,
    /// Median p99, µs.
    pub p99_us: f64,
    /// Median p99.9, µs.
    pub p999_us: f64,
    /// Median server CPU per request, µs.
    pub cpu_us_per_op: Option<f64>,
    /// Errors over all rounds.
    pub errors: u64,
    /// GET hit ratio over all rounds, % (None without GETs).
    pub hit_pct: Option<f64>,
}

/// Memory per key after loading N keys into a fresh server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryRow {
    /// Server label.
    pub server: String,
    /// Keys written.
    pub keys: u64,
    /// Keys the server holds afterwards (DBSIZE / `curr_items`).
    pub keys_present: u64,
    /// VmRSS before loading, bytes.
    pub rss_before: u64,
    /// VmRSS after loading, bytes.
    pub rss_after: u64,
    /// Payload per key (key + value bytes).
    pub payload: u64,
}

impl MemoryRow {
    /// RSS growth per key present.
    #[must_use]
    pub fn bytes_per_key(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.keys_present.max(1) as f64
    }

    /// RSS growth per key minus the payload.
    #[must_use]
    pub fn overhead_per_key(&self) -> f64 {
        self.bytes_per_key() - self.payload as f64
    }
}

/// Median of `xs` (mean of the middle two for an even count); 0 for none.
#[must_use]
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 { xs[m] } else { (xs[m - 1] + xs[m]) / 2.0 }
}

/// Medians per (workload, protocol, server), in order of first appearance.
#[must_use]
pub fn cells(samples: &[Sample]) -> Vec<Cell> {
    let mut order: Vec<(String, String, String)> = Vec::new();
    let mut groups: BTreeMap<(String, String, String), Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        let k = (s.workload.clone(), s.protocol.clone(), s.server.clone());
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(s);
    }
    order
        .into_iter()
        .map(|k| {
            let g = &groups[&k];
            let med = |f: fn(&Sample) -> f64| median(g.iter().map(|s| f(s)).collect());
            let cpu: Vec<f64> = g.iter().filter_map(|s| s.cpu_us_per_op).collect();
            let (hits, misses) = g.iter().fold((0, 0), |(h, m), s| (h + s.hits, m + s.misses));
            Cell {
                workload: k.0,
                protocol: k.1,
                server: k.2,
                rounds: g.len(),
                ops_per_sec: med(|s| s.ops_per_sec),
                p50_us: med(|s| s.p50_us),
                p99_us: med(|s| s.p99_us),
                p999_us: med(|s| s.p999_us),
                cpu_us_per_op: (!cpu.is_empty()).then(|| median(cpu)),
                errors: g.iter().map(|s| s.errors).sum(),
                hit_pct: (hits + misses > 0).then(|| 100.0 * hits as f64 / (hits + misses) as f64),
            }
        })
        .collect()
}

/// One bar of the issue, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// What is measured.
    pub what: String,
    /// The figure (ratio or bytes) and its bar, spelled out.
    pub figures: String,
    /// Whether the bar is met.
    pub met: bool,
}

/// Finds the cell of `server` for `workload` over `protocol`.
#[must_use]
pub fn find<'a>(cells: &'a [Cell], workload: &str, protocol: &str, server: &str) -> Option<&'a Cell> {
    cells.iter().find(|c| c.workload == workload && c.protocol == protocol && c.server == server)
}

/// The peer compared with ours over `protocol`.
#[must_use]
pub fn peer_of(protocol: &str) -> &'static str {
    if protocol == "resp" { "redis" } else { "memcached" }
}

/// Judges the bars from the medians and the memory rows.
#[must_use]
pub fn verdicts(cells: &[Cell], memory: &[MemoryRow], equal_load: &str) -> Vec<Verdict> {
    let mut out = Vec::new();
    for protocol in ["resp", "memcache"] {
        let peer = peer_of(protocol);
        for w in ["GET p1", "GET p16", "SET p1", "SET p16"] {
            if let (Some(o), Some(p)) = (find(cells, w, protocol, "ours"), find(cells, w, protocol, peer)) {
                let r = o.ops_per_sec / p.ops_per_sec;
                out.push(Verdict {
                    what: format!("{w} ops/s vs {peer}"),
                    figures: format!("{:.0} vs {:.0} = {r:.2}× (bar ≥ 1.0×)", o.ops_per_sec, p.ops_per_sec),
                    met: r >= 1.0,
                });
            }
        }
    }
    if let (Some(o), Some(p)) = (find(cells, equal_load, "resp", "ours"), find(cells, equal_load, "resp", "redis")) {
        let r = o.p99_us / p.p99_us;
        out.push(Verdict {
            what: format!("p99 latency vs redis at equal load ({equal_load})"),
            figures: format!("{:.0} µs vs {:.0} µs = {r:.2}× (bar ≤ 1.0×)", o.p99_us, p.p99_us),
            met: r <= 1.0,
        });
    }
    for w in ["GET p1", "GET p16", "SET p1", "SET p16"] {
        let cpu = |s| find(cells, w, "resp", s).and_then(|c| c.cpu_us_per_op);
        if let (Some(o), Some(p)) = (cpu("ours"), cpu("redis")) {
            let r = o / p;
            out.push(Verdict {
                what: format!("{w} server CPU per op vs redis"),
                figures: format!("{o:.2} µs vs {p:.2} µs = {r:.2}× (bar ≤ 0.7×)"),
                met: r <= 0.7,
            });
        }
    }
    let overhead = |s: &str| memory.iter().find(|m| m.server == s).map(MemoryRow::overhead_per_key);
    if let (Some(o), Some(r), Some(m)) = (overhead("ours"), overhead("redis"), overhead("memcached")) {
        let best = r.min(m);
        out.push(Verdict {
            what: "memory overhead per key (1M keys, 16 B key, 32 B value)".into(),
            figures: format!(
                "ours {o:.1} B, redis {r:.1} B, memcached {m:.1} B: {:.2}× the better (bar ≤ 0.8×)",
                o / best
            ),
            met: o <= 0.8 * best,
        });
    }
    out
}

/// The Markdown tables: medians and ratios per protocol, memory, and the verdicts.
#[must_use]
pub fn markdown(cells: &[Cell], memory: &[MemoryRow], verdicts: &[Verdict]) -> String {
    let mut s = String::new();
    let opt = |v: Option<f64>, d: usize| v.map_or("–".to_owned(), |x| format!("{x:.d$}"));
    for protocol in ["resp", "memcache"] {
        let peer = peer_of(protocol);
        let _ = writeln!(s, "\n### {protocol}: ours vs {peer} (medians over rounds)\n");
        let _ = writeln!(
            s,
            "| workload | ours ops/s | {peer} ops/s | ratio | ours p50/p99/p99.9 µs | {peer} p50/p99/p99.9 µs | p99 ratio | \
             ours CPU µs/op | {peer} CPU µs/op | CPU ratio | hit % ours/{peer} | errors |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let workloads: Vec<&str> = {
            let mut w: Vec<&str> = Vec::new();
            for c in cells.iter().filter(|c| c.protocol == protocol) {
                if !w.contains(&c.workload.as_str()) {
                    w.push(&c.workload);
                }
            }
            w
        };
        for w in workloads {
            let (Some(o), Some(p)) = (find(cells, w, protocol, "ours"), find(cells, w, protocol, peer)) else {
                continue;
            };
            let cpu_ratio = o.cpu_us_per_op.zip(p.cpu_us_per_op).map(|(a, b)| a / b);
            let _ = writeln!(
                s,
                "| {w} | {:.0} | {:.0} | {:.2}× | {:.0} / {:.0} / {:.0} | {:.0} / {:.0} / {:.0} | {:.2}× | {} | {} | {} | {} / {} | {} |",
                o.ops_per_sec,
                p.ops_per_sec,
                o.ops_per_sec / p.ops_per_sec,
                o.p50_us,
                o.p99_us,
                o.p999_us,
                p.p50_us,
                p.p99_us,
                p.p999_us,
                o.p99_us / p.p99_us,
                opt(o.cpu_us_per_op, 2),
                opt(p.cpu_us_per_op, 2),
                cpu_ratio.map_or("–".to_owned(), |r| format!("{r:.2}×")),
                opt(o.hit_pct, 1),
                opt(p.hit_pct, 1),
                o.errors + p.errors
            );
        }
    }
    if !memory.is_empty() {
        let _ = writeln!(s, "\n### Memory per key (fresh server, RSS growth ÷ keys present)\n");
        let _ = writeln!(
            s,
            "| server | keys written | keys present | RSS before MiB | RSS after MiB | B/key | overhead B/key |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
        for m in memory {
            let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                m.server,
                m.keys,
                m.keys_present,
                mib(m.rss_before),
                mib(m.rss_after),
                m.bytes_per_key(),
                m.overhead_per_key()
            );
        }
    }
    let _ = writeln!(s, "\n### Bars (issue #5)\n");
    for v in verdicts {
        let _ = writeln!(s, "- {} — {}: {}", if v.met { "MET" } else { "MISSED" }, v.what, v.figures);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(server: &str, round: usize, ops: f64, p99: f64, cpu: f64) -> Sample {
        Sample {
            workload: "GET p1".into(),
            protocol: "resp".into(),
            server: server.into(),
            round,
            ops_per_sec: ops,
            p50_us: 1.0,
            p99_us: p99,
            p999_us: 3.0,
            cpu_us_per_op: Some(cpu),
            hits: 9,
            misses: 1,
            errors: 0,
        }
    }

    #[test]
    fn medians_ignore_outliers() {
        assert_eq!(median(vec![3.0, 1.0, 100.0]), 3.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn cells_and_verdicts_compare_ours_with_the_peer() {
        let samples = vec![
            sample("ours", 1, 120.0, 50.0, 5.0),
            sample("redis", 1, 100.0, 60.0, 10.0),
            sample("ours", 2, 90.0, 55.0, 6.0),
            sample("redis", 2, 100.0, 60.0, 10.0),
            sample("ours", 3, 110.0, 40.0, 6.0),
            sample("redis", 3, 1.0, 60.0, 10.0),
        ];
        let c = cells(&samples);
        assert_eq!(c.len(), 2);
        let ours = find(&c, "GET p1", "resp", "ours").unwrap();
        assert_eq!((ours.rounds, ours.ops_per_sec, ours.p99_us, ours.cpu_us_per_op), (3, 110.0, 50.0, Some(6.0)));
        assert_eq!(ours.hit_pct, Some(90.0));
        let mem = |server: &str, grow: u64| MemoryRow {
            server: server.into(),
            keys: 10,
            keys_present: 10,
            rss_before: 1000,
            rss_after: 1000 + grow,
            payload: 48,
        };
        let memory = [mem("ours", 800), mem("redis", 1500), mem("memcached", 1300)];
        assert_eq!(memory[0].overhead_per_key(), 32.0);
        let v = verdicts(&c, &memory, "GET p1");
        let by = |what: &str| v.iter().find(|x| x.what.starts_with(what)).unwrap().met;
        assert!(by("GET p1 ops/s"));
        assert!(by("p99 latency"));
        assert!(by("GET p1 server CPU"), "6/10 = 0.6 ≤ 0.7: {v:?}");
        assert!(by("memory overhead"));
        assert!(markdown(&c, &memory, &v).contains("| GET p1 | 110 | 100 | 1.10× |"));
    }
}
