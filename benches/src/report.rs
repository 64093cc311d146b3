//! Markdown and JSON rendering of hit-ratio rows, and the verdict against the design bar
//! ("default policy ≥ max(LRU, moka, quick_cache) − 0.5 pp on every row, ≥ it on the mean; < OPT").
//!
//! Owns presentation only; the numbers come from [`crate::replay`].

use std::fmt::Write as _;

use crate::adapters::Kind;
use crate::replay::Row;

/// Tolerance of the per-row bar, in percentage points.
pub const ROW_SLACK_PP: f64 = 0.5;

/// The hit-ratio table: one line per (trace, capacity).
#[must_use]
pub fn hit_table(rows: &[Row], kinds: &[Kind]) -> String {
    let mut s = String::from("| trace | capacity | OPT | LRU |");
    for k in kinds {
        let _ = write!(s, " {k} |");
    }
    s.push_str(" max(LRU, peers) | Δ default | our shards |\n|---|---:|---:|---:|");
    for _ in kinds {
        s.push_str("---:|");
    }
    s.push_str("---:|---:|---:|\n");
    for r in rows {
        let _ = write!(s, "| {} | {} | {:.2} | {:.2} |", r.trace, thousands(r.capacity), r.opt_pct, r.lru_pct);
        for &k in kinds {
            match r.get(k) {
                Some(c) => {
                    let _ = write!(s, " {:.2} |", c.hit_pct);
                }
                None => s.push_str(" — |"),
            }
        }
        let delta =
            r.get(Kind::OursTinyLfu).map_or("—".to_string(), |c| format!("{:+.2}", c.hit_pct - r.best_peer_pct()));
        let _ = writeln!(s, " {:.2} | {} | {} |", r.best_peer_pct(), delta, r.our_shards);
    }
    s
}

/// Resident entries each cache held: `max sampled / final after maintenance`.
#[must_use]
pub fn resident_table(rows: &[Row], kinds: &[Kind]) -> String {
    let mut s = String::from("| trace | capacity |");
    for k in kinds {
        let _ = write!(s, " {k} |");
    }
    s.push_str("\n|---|---:|");
    for _ in kinds {
        s.push_str("---:|");
    }
    s.push('\n');
    for r in rows {
        let _ = write!(s, "| {} | {} |", r.trace, thousands(r.capacity));
        for &k in kinds {
            match r.get(k) {
                Some(c) => {
                    let flag = if c.max_resident > r.capacity { " ⚠" } else { "" };
                    let _ = write!(s, " {} / {}{flag} |", c.max_resident, c.final_resident);
                }
                None => s.push_str(" — |"),
            }
        }
        s.push('\n');
    }
    s
}

/// The verdict on the hit-ratio bar for our default policy, as lines of text; `None` when our
/// default policy did not run.
#[must_use]
pub fn verdict(rows: &[Row]) -> Option<Vec<String>> {
    let ours: Vec<(f64, f64, &Row)> =
        rows.iter().map(|r| Some((r.get(Kind::OursTinyLfu)?.hit_pct, r.best_peer_pct(), r))).collect::<Option<_>>()?;
    if ours.is_empty() {
        return None;
    }
    let n = ours.len() as f64;
    let mean_ours = ours.iter().map(|o| o.0).sum::<f64>() / n;
    let mean_best = ours.iter().map(|o| o.1).sum::<f64>() / n;
    let misses: Vec<String> = ours
        .iter()
        .filter(|(o, b, _)| *o < b - ROW_SLACK_PP)
        .map(|(o, b, r)| format!("{} @{} ({o:.2} vs {b:.2})", r.trace, r.capacity))
        .collect();
    let mut out = vec![
        format!(
            "rows within {ROW_SLACK_PP} pp of max(LRU, moka, quick_cache): {}/{} — {}",
            ours.len() - misses.len(),
            ours.len(),
            if misses.is_empty() { "MET" } else { "MISSED" }
        ),
        format!(
            "mean over rows: ours TinyLfu {mean_ours:.2}% vs max(LRU, peers) {mean_best:.2}% ({:+.2} pp) — {}",
            mean_ours - mean_best,
            if mean_ours >= mean_best { "MET" } else { "MISSED" }
        ),
    ];
    if !misses.is_empty() {
        out.push(format!("rows below the bar: {}", misses.join(", ")));
    }
    Some(out)
}

/// `160000` → `160,000`.
#[must_use]
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(160_000), "160,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
