//! `compare`: our `cache-server` side by side with `redis-server` (over RESP) and `memcached` (over
//! the Memcached text protocol, ours on `--memcached-port`), each server pinned to one CPU with equal
//! settings, the `loadgen` binary pinned to the other CPUs. Runs the same workloads interleaved
//! (ours, Redis, ours, Memcached; again each round), then latency at an equal paced load, then
//! memory per key on fresh servers; writes `servers.json`, `servers.svg` and `servers.md`.
//!
//! Normally started by `benches/compare-servers.sh`, which builds the release binaries first.
//! Installs nothing: a missing peer is an error naming the package.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cache_bench::load::config::parse_secs;
use cache_bench::load::servers::{Kind, Server, Setup, shell_words};
use cache_bench::load::summary::{self, Cell, MemoryRow, Sample, peer_of};
use cache_bench::load::{LoadReport, chart, procfs};
use clap::Parser;
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(about = "cache-server vs redis-server vs memcached, pinned, interleaved, medians and ratios")]
struct Cli {
    /// Short rounds and a smaller memory test: a smoke run, not a measurement.
    #[arg(long)]
    quick: bool,
    /// Rounds of every workload (interleaved across servers).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measured seconds per run (default 5s, --quick 1s).
    #[arg(long, value_parser = parse_secs)]
    secs: Option<f64>,
    /// Warm-up per run (default 1s, --quick 300ms).
    #[arg(long, value_parser = parse_secs)]
    warmup: Option<f64>,
    /// Where servers.{json,svg,md} go.
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
    /// Our server binary (default: cache-server next to this binary).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// The load generator (default: loadgen next to this binary).
    #[arg(long)]
    loadgen: Option<PathBuf>,
    /// Memory budget of every server, MiB.
    #[arg(long, default_value_t = 1024)]
    budget_mb: u64,
    /// Keys loaded for the memory-per-key test (default 1,000,000, --quick 100,000).
    #[arg(long)]
    memory_keys: Option<u64>,
    /// CPU every server is pinned to.
    #[arg(long, default_value = "0")]
    server_cpu: String,
    /// Connections per run.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Key space of the throughput workloads.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
}

/// A workload: the loadgen flags that differ between runs.
#[derive(Debug, Clone, Serialize)]
struct Workload {
    name: String,
    pipeline: usize,
    ratio: &'static str,
    distribution: &'static str,
    rate: Option<f64>,
}

fn workloads() -> Vec<Workload> {
    let w = |name: &str, pipeline, ratio, distribution| Workload {
        name: name.into(),
        pipeline,
        ratio,
        distribution,
        rate: None,
    };
    vec![
        w("GET p1", 1, "0:1", "uniform"),
        w("GET p16", 16, "0:1", "uniform"),
        w("SET p1", 1, "1:0", "uniform"),
        w("SET p16", 16, "1:0", "uniform"),
        w("mix 1:10 zipf p1", 1, "1:10", "zipf:0.99"),
        w("mix 1:10 zipf p16", 16, "1:10", "zipf:0.99"),
    ]
}

/// What the binary needs to run loads.
#[derive(Debug)]
struct Ctx {
    loadgen: PathBuf,
    load_cpus: String,
    load_threads: usize,
    secs: f64,
    warmup: f64,
    connections: usize,
    keys: u64,
}

impl Ctx {
    /// Runs loadgen pinned to the load CPUs with `extra` flags; returns its JSON report.
    fn loadgen(&self, addr: SocketAddr, protocol: &str, extra: &[String]) -> Result<LoadReport> {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", &self.load_cpus]).arg(&self.loadgen).arg("--json");
        cmd.args(["-s", &addr.to_string(), "-P", protocol, "-t", &self.load_threads.to_string()]);
        cmd.args(["-c", &self.connections.to_string()]).args(extra);
        let out = cmd.output().with_context(|| format!("run {}", self.loadgen.display()))?;
        if !out.status.success() {
            bail!("loadgen {extra:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        serde_json::from_slice(&out.stdout).context("parse loadgen JSON")
    }

    fn run(&self, w: &Workload, server: &Server, protocol: &str, round: usize) -> Result<Sample> {
        let addr = if protocol == "resp" { server.resp } else { server.memcache }.context("no listener")?;
        let mut extra: Vec<String> = [
            "--pipeline",
            &w.pipeline.to_string(),
            "--ratio",
            w.ratio,
            "--distribution",
            w.distribution,
            "--keys",
            &self.keys.to_string(),
            "--duration",
            &format!("{}s", self.secs),
            "--warmup",
            &format!("{}s", self.warmup),
            "--time-limit",
            &format!("{}s", self.secs + self.warmup + 60.0),
            "--server-pid",
            &server.pid.to_string(),
            "--seed",
            &round.to_string(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if let Some(rate) = w.rate {
            extra.extend(["--rate".into(), format!("{rate:.0}")]);
        }
        let r = self.loadgen(addr, protocol, &extra)?;
        let s = Sample {
            workload: w.name.clone(),
            protocol: protocol.into(),
            server: server.kind.label().into(),
            round,
            ops_per_sec: r.ops_per_sec,
            p50_us: r.latency_us.p50,
            p99_us: r.latency_us.p99,
            p999_us: r.latency_us.p999,
            cpu_us_per_op: r.server_cpu.map(|c| c.us_per_op),
            hits: r.hits,
            misses: r.misses,
            errors: r.errors,
        };
        eprintln!(
            "round {round} | {:<20} | {protocol:<8} | {:<9} | {:>9.0} ops/s | p99 {:>7.0} µs | cpu {:>6.2} µs/op",
            w.name,
            s.server,
            s.ops_per_sec,
            s.p99_us,
            s.cpu_us_per_op.unwrap_or(f64::NAN)
        );
        Ok(s)
    }
}

/// (server index, protocol) in the interleaving order: ours/resp, redis, ours/memcache, memcached.
const ORDER: [(usize, &str); 4] = [(0, "resp"), (1, "resp"), (0, "memcache"), (2, "memcache")];

fn main() -> Result<()> {
    let cli = Cli::parse();
    let here = std::env::current_exe()?.parent().context("exe dir")?.to_path_buf();
    let ours = cli.server_bin.clone().unwrap_or_else(|| here.join("cache-server"));
    let setup = Setup::find(ours, cli.server_cpu.clone(), cli.budget_mb)?;
    let cpus = std::thread::available_parallelism()?.get();
    if cpus < 2 {
        bail!("needs at least 2 CPUs (one for the server, the rest for the load); found {cpus}");
    }
    let ctx = Ctx {
        loadgen: cli.loadgen.clone().unwrap_or_else(|| here.join("loadgen")),
        load_cpus: if cpus == 2 { "1".into() } else { format!("1-{}", cpus - 1) },
        load_threads: cpus - 1,
        secs: cli.secs.unwrap_or(if cli.quick { 1.0 } else { 5.0 }),
        warmup: cli.warmup.unwrap_or(if cli.quick { 0.3 } else { 1.0 }),
        connections: cli.connections,
        keys: cli.keys,
    };
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let servers = [
        Server::start(&setup, Kind::Ours)?,
        Server::start(&setup, Kind::Redis)?,
        Server::start(&setup, Kind::Memcached)?,
    ];
    for &(i, protocol) in &ORDER {
        let addr = if protocol == "resp" { servers[i].resp } else { servers[i].memcache }.context("listener")?;
        let r = ctx.loadgen(addr, protocol, &["--prefill-only".into(), "--keys".into(), ctx.keys.to_string()])?;
        eprintln!("prefilled {} ({protocol}): {:?}", servers[i].kind.label(), r.prefill);
    }
    let mut samples = Vec::new();
    for round in 1..=cli.rounds {
        for w in workloads() {
            for &(i, protocol) in &ORDER {
                samples.push(ctx.run(&w, &servers[i], protocol, round)?);
            }
        }
    }
    // Latency at an equal load: GET p1 paced to 70% of the slower server's median throughput.
    let cells = summary::cells(&samples);
    let equal_load = "GET p1 paced (70% of the slower)";
    let mut rates = Vec::new();
    for protocol in ["resp", "memcache"] {
        let get = |s| summary::find(&cells, "GET p1", protocol, s).map_or(0.0, |c: &Cell| c.ops_per_sec);
        rates.push((protocol, 0.7 * get("ours").min(get(peer_of(protocol)))));
    }
    for round in 1..=cli.rounds {
        for &(i, protocol) in &ORDER {
            let rate = rates.iter().find(|r| r.0 == protocol).map(|r| r.1).filter(|&r| r > 0.0);
            let w = Workload { name: equal_load.into(), pipeline: 1, ratio: "0:1", distribution: "uniform", rate };
            samples.push(ctx.run(&w, &servers[i], protocol, round)?);
        }
    }
    let commands: Vec<String> = servers.iter().map(|s| s.command.clone()).collect();
    drop(servers);
    let memory_keys = cli.memory_keys.unwrap_or(if cli.quick { 100_000 } else { 1_000_000 });
    let memory = [(Kind::Ours, "resp"), (Kind::Redis, "resp"), (Kind::Memcached, "memcache")]
        .into_iter()
        .map(|(kind, protocol)| memory_row(&setup, &ctx, kind, protocol, memory_keys))
        .collect::<Result<Vec<_>>>()?;
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    write_results(&cli, &ctx, &samples, &memory, equal_load, &rates, &commands, [&load_before, &load_after])
}

/// Loads `keys` keys into a fresh `kind` and measures its RSS growth.
fn memory_row(setup: &Setup, ctx: &Ctx, kind: Kind, protocol: &str, keys: u64) -> Result<MemoryRow> {
    let server = Server::start(setup, kind)?;
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = procfs::rss_bytes(server.pid)?;
    let addr = if protocol == "resp" { server.resp } else { server.memcache }.context("listener")?;
    let extra = ["--prefill-only", "--keys", &keys.to_string(), "--data-size", "32", "--time-limit", "600s"];
    let r = ctx.loadgen(addr, protocol, &extra.map(str::to_owned))?;
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = procfs::rss_bytes(server.pid)?;
    let keys_present = count_keys(addr, protocol)?;
    let row = MemoryRow { server: kind.label().into(), keys, keys_present, rss_before, rss_after, payload: 48 };
    eprintln!(
        "memory {}: {keys_present} keys present of {keys} ({} errors), {:.1} B/key, overhead {:.1} B/key",
        row.server,
        r.prefill.map_or(0, |p| p.errors),
        row.bytes_per_key(),
        row.overhead_per_key()
    );
    Ok(row)
}

/// Keys held: `DBSIZE` over RESP, `curr_items` from `stats` over Memcached.
fn count_keys(addr: SocketAddr, protocol: &str) -> Result<u64> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (req, done): (&[u8], &[u8]) =
        if protocol == "resp" { (b"DBSIZE\r\n", b"\r\n") } else { (b"stats\r\n", b"END\r\n") };
    s.write_all(req)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.ends_with(done) {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let n = if protocol == "resp" {
        text.trim().strip_prefix(':').and_then(|n| n.parse().ok())
    } else {
        text.lines().find_map(|l| l.strip_prefix("STAT curr_items ")).and_then(|n| n.trim().parse().ok())
    };
    n.with_context(|| format!("unexpected key count reply {text:?}"))
}

/// Output of a shell command, trimmed (empty on failure).
fn sh(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn write_results(
    cli: &Cli,
    ctx: &Ctx,
    samples: &[Sample],
    memory: &[MemoryRow],
    equal_load: &str,
    rates: &[(&str, f64)],
    commands: &[String],
    loadavg: [&str; 2],
) -> Result<()> {
    let cells = summary::cells(samples);
    let verdicts = summary::verdicts(&cells, memory, equal_load);
    let date = sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_default();
    let machine = format!(
        "{} CPUs ({cpu_model}), Linux {}; servers pinned to CPU {}, loadgen to CPU {} ({} thread(s))",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        sh("uname", &["-r"]),
        cli.server_cpu,
        ctx.load_cpus,
        ctx.load_threads
    );
    let versions = format!(
        "{}; {}; ours at git {}",
        sh("redis-server", &["--version"]),
        sh("memcached", &["-V"]),
        sh("git", &["rev-parse", "--short", "HEAD"])
    );
    let args = shell_words(&std::env::args().skip(1).collect::<Vec<_>>());
    let command = format!("benches/compare-servers.sh {args}").trim_end().to_owned();
    std::fs::create_dir_all(&cli.out)?;
    let json = serde_json::json!({
        "date": date, "machine": machine, "versions": versions, "command": command,
        "server_commands": commands, "rounds": cli.rounds, "secs": ctx.secs, "warmup": ctx.warmup,
        "connections": ctx.connections, "keys": ctx.keys, "workloads": workloads(),
        "equal_load": { "workload": equal_load, "rates": rates },
        "loadavg": loadavg, "samples": samples, "cells": cells, "memory": memory, "verdicts": verdicts,
    });
    std::fs::write(cli.out.join("servers.json"), serde_json::to_string_pretty(&json)?)?;
    chart::render(&cells, equal_load, &cli.out.join("servers.svg"))?;
    let rate_text: Vec<String> = rates.iter().map(|(p, r)| format!("{p} {r:.0} ops/s")).collect();
    let md = format!(
        "# Servers side by side: cache-server vs Redis vs Memcached\n\n\
         Tables generated by `compare` (benches/src/bin/compare.rs); the notes at the end are added by hand.\n\n\
         - Date: {date}\n- Machine: {machine}\n- Versions: {versions}\n- Command: `{command}`\n\
         - Runs: {} rounds × (6 workloads + equal-load) × 4 server/protocol pairs, interleaved ours/resp, redis, ours/memcache, memcached; \
         {}s measured after {}s warm-up each; {} connections, {} keys (16 B), 32 B values; medians over rounds.\n\
         - Equal load ({equal_load}): {}\n- Load average before / after: {} / {}\n\
         - Server commands:\n{}\n{}\n\n![chart](servers.svg)\n",
        cli.rounds,
        ctx.secs,
        ctx.warmup,
        ctx.connections,
        ctx.keys,
        rate_text.join(", "),
        loadavg[0].trim(),
        loadavg[1].trim(),
        commands.iter().map(|c| format!("  - `{c}`")).collect::<Vec<_>>().join("\n"),
        summary::markdown(&cells, memory, &verdicts)
    );
    std::fs::write(cli.out.join("servers.md"), &md)?;
    println!("{md}");
    eprintln!("wrote {}", display(&cli.out));
    Ok(())
}

fn display(p: &Path) -> String {
    format!("{}/servers.{{json,svg,md}}", p.display())
}
