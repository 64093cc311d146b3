//! `loadgen`: a RESP / Memcached-text load generator (what memtier_benchmark gives a Redis user).
//!
//! N connections over M threads, pipelining, uniform or Zipf keys, a SET:GET mix, an optional
//! prefill, a warm-up, a measured phase bounded by time or request count and always by a hard time
//! cap; prints throughput, hits and misses, and HDR latency percentiles as a table, or as JSON with
//! `--json`. With `--server-pid` it also reports the server's CPU time per request from /proc.
//!
//! ```text
//! cargo run --release -p cache-bench --bin loadgen -- -s 127.0.0.1:6379 --pipeline 16 --ratio 0:1 \
//!     --prefill --duration 5s --json
//! ```
//!
//! With `--cluster`, `-s` names any node of a Redis Cluster: keys are routed to their slot's
//! primary (CLUSTER SLOTS, CRC16 with hash tags), one socket per primary per connection.

use anyhow::Result;
use cache_bench::load::{LoadConfig, run};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "RESP / Memcached load generator: throughput, hits, HDR latency percentiles")]
struct Cli {
    #[command(flatten)]
    load: LoadConfig,
    /// Print the report as JSON on stdout (instead of the table).
    #[arg(long)]
    json: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let report = run(&cli.load)?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if report.errors > 0 {
        eprintln!("warning: {} error replies", report.errors);
    }
    Ok(())
}
