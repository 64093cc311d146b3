//! Running a [`LoadConfig`]: the phases (prefill → warm-up → measured window), the threads (each a
//! single-threaded tokio runtime driving its share of the connections), the hard time cap, and the
//! merge of per-thread tallies into a [`LoadReport`].
//!
//! ```text
//!  main ──spawn──► thread 0: current-thread runtime ─► conn 0, conn T, conn 2T …  ─┐
//!       ──spawn──► thread 1: current-thread runtime ─► conn 1, conn T+1 …         ─┼─► Tally each
//!       (reads /proc/<pid>/stat at the window's start and end)                      ┘   merged here
//! ```

use std::cell::RefCell;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::cluster::SlotMap;
use super::config::LoadConfig;
use super::conn::{ConnError, Plan, Tally, drive};
use super::keys::{KeyPicker, value};
use super::procfs;
use super::report::{LoadReport, Prefill, ServerCpu};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The settings cannot run.
    #[error("bad settings: {0}")]
    Config(String),
    /// The server address does not resolve.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// A connection failed.
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// The hard time cap passed before the run ended.
    #[error("hard time limit of {0:.1} s reached")]
    TimeLimit(f64),
    /// A thread could not be started or panicked.
    #[error("load thread: {0}")]
    Thread(String),
    /// Reading the server's CPU time failed.
    #[error("reading /proc for pid {pid}: {source}")]
    Proc {
        /// The pid given.
        pid: u32,
        /// The error.
        source: std::io::Error,
    },
}

/// Runs `cfg` and reports what it measured.
///
/// # Errors
/// On bad settings, a connection failure, or when the hard time limit passes.
pub fn run(cfg: &LoadConfig) -> Result<LoadReport, LoadError> {
    cfg.validate().map_err(LoadError::Config)?;
    let addr = cfg
        .server
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| LoadError::Resolve(cfg.server.clone()))?;
    let deadline = Instant::now() + Duration::from_secs_f64(cfg.time_limit);
    let map = if cfg.cluster {
        let map = SlotMap::fetch(addr).map_err(|source| ConnError::Protocol { addr, source })?;
        Some(map)
    } else {
        None
    };
    let prefill = if cfg.prefill || cfg.prefill_only { Some(prefill(cfg, addr, deadline, &map)?) } else { None };
    if cfg.prefill_only {
        return Ok(LoadReport::new(cfg.clone(), prefill, Default::default(), 0.0, &Tally::new().latency_ns));
    }
    measure(cfg, addr, deadline, prefill, &map)
}

/// Writes every key once, the key space split into one contiguous range per connection.
fn prefill(cfg: &LoadConfig, addr: SocketAddr, deadline: Instant, map: &Option<SlotMap>) -> Result<Prefill, LoadError> {
    let start = Instant::now();
    let conns = cfg.connections as u64;
    let plans = (0..conns)
        .map(|i| {
            let (lo, hi) = (cfg.keys * i / conns, cfg.keys * (i + 1) / conns);
            Setup {
                picker: KeyPicker::sequential(lo, hi, cfg.seed ^ i),
                pipeline: cfg.prefill_pipeline,
                set_share: 1.0,
                budget: None,
                pacing: None,
                measure_from: start,
                stop_at: deadline,
                cluster: map.clone(),
            }
        })
        .collect();
    let tally = run_threads(cfg, addr, plans, deadline)?;
    Ok(Prefill {
        ops: tally.counts.sets,
        errors: tally.counts.errors,
        seconds: tally.last_reply.map_or(0.0, |t| t.duration_since(start).as_secs_f64()),
    })
}

/// Warm-up then the measured window.
fn measure(
    cfg: &LoadConfig,
    addr: SocketAddr,
    deadline: Instant,
    prefill: Option<Prefill>,
    map: &Option<SlotMap>,
) -> Result<LoadReport, LoadError> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(cfg.warmup);
    let stop_at = (measure_from + Duration::from_secs_f64(cfg.duration)).min(deadline);
    let conns = cfg.connections as u64;
    let interval = cfg.rate.map(|r| Duration::from_secs_f64(cfg.pipeline as f64 * conns as f64 / r));
    let mut plans = Vec::with_capacity(cfg.connections);
    for i in 0..conns {
        let picker = KeyPicker::new(cfg.distribution, cfg.keys, cfg.seed.wrapping_mul(1_000_003) ^ i)
            .map_err(LoadError::Config)?;
        let budget = cfg.requests.map(|n| n / conns + u64::from(i < n % conns));
        // Paced connections start spread over one interval, so their batches do not arrive together.
        let pacing = interval.map(|iv| (iv, start + iv.mul_f64(i as f64 / conns as f64)));
        plans.push(Setup {
            picker,
            pipeline: cfg.pipeline,
            set_share: cfg.ratio.set_share(),
            budget,
            pacing,
            measure_from,
            stop_at,
            cluster: map.clone(),
        });
    }
    let cpu_at = |when: Instant| -> Result<Option<(u32, f64)>, LoadError> {
        let Some(pid) = cfg.server_pid else { return Ok(None) };
        std::thread::sleep(when.saturating_duration_since(Instant::now()));
        procfs::cpu_seconds(pid).map(|s| Some((pid, s))).map_err(|source| LoadError::Proc { pid, source })
    };
    let (tally, cpu_before) = std::thread::scope(|s| {
        let cpu = s.spawn(|| cpu_at(measure_from));
        let tally = run_threads(cfg, addr, plans, deadline);
        (tally, cpu.join().map_err(|_| LoadError::Thread("cpu sampler panicked".into())))
    });
    let tally = tally?;
    let cpu_before = cpu_before??;
    let cpu_after = cpu_at(Instant::now())?;
    let seconds = tally.last_reply.map_or(0.0, |t| t.saturating_duration_since(measure_from).as_secs_f64());
    let mut report = LoadReport::new(cfg.clone(), prefill, tally.counts, seconds, &tally.latency_ns);
    if let (Some((pid, before)), Some((_, after))) = (cpu_before, cpu_after) {
        let seconds = after - before;
        report.server_cpu = Some(ServerCpu { pid, seconds, us_per_op: seconds * 1e6 / report.ops.max(1) as f64 });
    }
    Ok(report)
}

/// One connection's part of a phase; becomes a [`Plan`] on its thread.
#[derive(Debug)]
struct Setup {
    picker: KeyPicker,
    pipeline: usize,
    set_share: f64,
    budget: Option<u64>,
    pacing: Option<(Duration, Instant)>,
    measure_from: Instant,
    stop_at: Instant,
    cluster: Option<SlotMap>,
}

/// Runs the connections `plans` over `cfg.threads` threads and merges their tallies.
fn run_threads(cfg: &LoadConfig, addr: SocketAddr, plans: Vec<Setup>, deadline: Instant) -> Result<Tally, LoadError> {
    let threads = cfg.threads.min(plans.len()).max(1);
    let mut shares: Vec<Vec<Setup>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, p) in plans.into_iter().enumerate() {
        shares[i % threads].push(p);
    }
    let (protocol, data_size) = (cfg.protocol, cfg.data_size);
    let results: Vec<Result<Tally, LoadError>> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .into_iter()
            .enumerate()
            .map(|(i, share)| {
                std::thread::Builder::new()
                    .name(format!("loadgen-{i}"))
                    .spawn_scoped(s, move || one_thread(addr, protocol, data_size, share, deadline))
                    .map_err(|e| LoadError::Thread(e.to_string()))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h?.join().map_err(|_| LoadError::Thread("a load thread panicked".into()))?)
            .collect()
    });
    let mut total = Tally::new();
    for r in results {
        total.merge(&r?);
    }
    Ok(total)
}

/// One thread: a current-thread runtime running its connections to completion or `deadline`.
fn one_thread(
    addr: SocketAddr,
    protocol: super::proto::Protocol,
    data_size: usize,
    share: Vec<Setup>,
    deadline: Instant,
) -> Result<Tally, LoadError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LoadError::Thread(e.to_string()))?;
    let tally = Rc::new(RefCell::new(Tally::new()));
    let value: Rc<[u8]> = value(data_size).into();
    let local = tokio::task::LocalSet::new();
    let limit = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
    let outcome = local.block_on(&rt, async {
        let tasks: Vec<_> = share
            .into_iter()
            .map(|s| {
                let plan = Plan {
                    addr,
                    protocol,
                    pipeline: s.pipeline,
                    set_share: s.set_share,
                    value: Rc::clone(&value),
                    picker: s.picker,
                    budget: s.budget,
                    pacing: s.pacing,
                    measure_from: s.measure_from,
                    stop_at: s.stop_at,
                    cluster: s.cluster,
                };
                tokio::task::spawn_local(drive(plan, Rc::clone(&tally)))
            })
            .collect();
        tokio::time::timeout_at(deadline.into(), async {
            for t in tasks {
                t.await.map_err(|e| LoadError::Thread(e.to_string()))??;
            }
            Ok::<(), LoadError>(())
        })
        .await
    });
    outcome.map_err(|_| LoadError::TimeLimit(limit))??;
    Ok(Rc::try_unwrap(tally).map_or_else(|rc| rc.replace(Tally::new()), RefCell::into_inner))
}
