//! The trace × capacity rows of `shared/traces/README.md`, read from the file itself so the default
//! hit-ratio run always covers exactly the rows the design bar names.
//!
//! Owns parsing of that README's "Reference hit ratios" table. The reference percentages are kept
//! only to cross-check our OPT and LRU simulators (they must agree to 0.01 pp); every number the
//! reports compare against peers is re-measured in the same run.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// The two sanity figures the traces README gives for any simulator.
pub const SANITY: [Sanity; 2] = [
    Sanity { trace: "OLTP", capacity: 1_000, policy: "LRU", pct: 32.83 },
    Sanity { trace: "multi1", capacity: 500, policy: "OPT", pct: 58.79 },
];

/// A published figure a simulator must reproduce to 0.01 pp.
#[derive(Debug, Clone, Copy)]
pub struct Sanity {
    /// Trace name.
    pub trace: &'static str,
    /// Capacity in entries.
    pub capacity: u64,
    /// `LRU` or `OPT`.
    pub policy: &'static str,
    /// Hit ratio in percent.
    pub pct: f64,
}

/// One row of the README table.
#[derive(Debug, Clone, PartialEq)]
pub struct RefRow {
    /// Trace name (file stem in the traces directory).
    pub trace: String,
    /// Capacity in entries.
    pub capacity: u64,
    /// Published OPT, percent.
    pub opt: Option<f64>,
    /// Published exact LRU, percent.
    pub lru: Option<f64>,
}

/// Reads the rows from `dir/README.md`.
///
/// # Errors
/// Fails when the file is missing or holds no table rows.
pub fn rows(dir: &Path) -> Result<Vec<RefRow>> {
    let path = dir.join("README.md");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let rows = parse(&text);
    if rows.is_empty() {
        bail!("no `| trace | capacity | OPT | LRU | ...` rows in {}", path.display());
    }
    Ok(rows)
}

/// Parses every markdown row whose second cell is a capacity (`1,000`); header rows are skipped.
#[must_use]
pub fn parse(text: &str) -> Vec<RefRow> {
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> =
                line.trim().strip_prefix('|')?.strip_suffix('|')?.split('|').map(str::trim).collect();
            if cells.len() < 4 {
                return None;
            }
            let capacity = cells[1].replace(',', "").parse().ok()?;
            let pct = |s: &str| s.parse::<f64>().ok();
            Some(RefRow {
                trace: cells[0].trim_matches('`').to_string(),
                capacity,
                opt: pct(cells[2]),
                lru: pct(cells[3]),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_table_rows_only() {
        let text = "| trace | capacity | OPT | LRU | moka |\n|---|---:|---:|---:|---:|\n\
                    | OLTP | 1,000 | 53.62 | 32.83 | 35.79 |\n| gli | 1,000 | 53.15 | 11.21 | — |\n";
        let rows = parse(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].trace, "OLTP");
        assert_eq!(rows[0].capacity, 1000);
        assert_eq!(rows[0].lru, Some(32.83));
        assert_eq!(rows[1].opt, Some(53.15));
    }
}
