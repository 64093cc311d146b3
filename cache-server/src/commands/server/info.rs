//! INFO: Redis 7.0's sections and field names, in Redis's order, so that exporters
//! (redis_exporter, Datadog, …) and client libraries parse us as they parse Redis. Fields
//! whose concept does not exist here carry a fixed value, listed below; every other one is
//! measured.
//!
//! Fixed values: no replication (`role:master`, offsets 0, `second_repl_offset:-1`), no AOF
//! (`aof_*` at their idle values; the `rdb_*` fields are measured: `rdb_last_cow_size` is the size
//! of BGSAVE's point-in-time copy, see [`crate::persistence`]),
//! no fork (`current_cow_*`, `latest_fork_usec`, `total_forks` 0), no active defrag, no IO threads, no client eviction (`evicted_clients:0`), no reply buffer
//! resizing, `gcc_version:0.0.0` (built by rustc), `used_memory_startup:0` (the keyspace weight
//! at start), `expire_cycle_cpu_milliseconds:0` and `expired_stale_perc:0.00` (expiry is the
//! core's timer wheel, not a sampling cycle). Keyspace `keys`/`expires` are the core's published
//! counts (O(shards), every stored key as Redis counts them) when one database holds the keys,
//! and `avg_ttl` exact, from one pass over the core's timer tables (Redis estimates it from its
//! expiry samples, and shows 0 until its first sample; see `Db::keyspace_counts`). `instantaneous_*` rates are measured
//! between INFO calls (see [`crate::metrics::Metrics::instantaneous`]);
//! `used_cpu_*_main_thread` are the process's first thread (the accept loop), as commands run
//! on every worker.

use super::super::{CmdResult, Ctx, registry};
use crate::REDIS_VERSION;
use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

/// Sections INFO prints with no argument or `default`.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Every section, in Redis's order (`all` and `everything`).
const ALL: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1024 => format!("{bytes}B"),
        1024..1_048_576 => format!("{:.2}K", b / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.2}M", b / 1_048_576.0),
        _ => format!("{:.2}G", b / 1_073_741_824.0),
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// `(system, user, children system, children user)` CPU seconds of a `/proc/.../stat` file.
fn cpu_seconds(path: &str) -> (f64, f64, f64, f64) {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(12), tick(11), tick(14), tick(13))
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn os() -> String {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_default();
    format!("{} {} {}", read("/proc/sys/kernel/ostype"), read("/proc/sys/kernel/osrelease"), std::env::consts::ARCH)
}

/// Which sections the arguments ask for, in Redis's order (unknown names select nothing).
fn selected(sections: &[String]) -> Vec<&'static str> {
    if sections.iter().any(|s| s == "all" || s == "everything") {
        return ALL.to_vec();
    }
    let default = sections.is_empty() || sections.iter().any(|s| s == "default");
    ALL.iter().copied().filter(|n| (default && DEFAULT.contains(n)) || sections.iter().any(|s| s == n)).collect()
}

/// Builds the INFO text for the requested sections (lowercase names).
pub fn info_text(ctx: &Ctx<'_>, sections: &[String]) -> String {
    let mut out = String::new();
    for (i, name) in selected(sections).into_iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        section(ctx, name, &mut out);
    }
    out
}

/// Appends one section (title and fields).
fn section(ctx: &Ctx<'_>, name: &str, out: &mut String) {
    let sh = ctx.shared;
    let db = &sh.db;
    let cfg = sh.config.read().clone();
    let uptime = sh.started.elapsed().as_secs();
    let mut f = |k: &str, v: &dyn std::fmt::Display| {
        let _ = if k.starts_with('#') { write!(out, "{k}\r\n") } else { write!(out, "{k}:{v}\r\n") };
    };
    match name {
        "server" => {
            out_title(&mut f, "Server");
            let now_us = db.clock.now_us();
            f("redis_version", &REDIS_VERSION);
            f("redis_git_sha1", &"00000000");
            f("redis_git_dirty", &0);
            f("redis_build_id", &0);
            f("redis_mode", &if ctx.shared.cluster.is_some() { "cluster" } else { "standalone" });
            f("os", &os());
            f("arch_bits", &64);
            f("monotonic_clock", &"POSIX clock_gettime");
            f("multiplexing_api", &"epoll");
            f("atomicvar_api", &"c11-builtin");
            f("gcc_version", &"0.0.0");
            f("process_id", &std::process::id());
            f("process_supervised", &"no");
            f("run_id", &sh.run_id);
            f("tcp_port", &sh.port);
            f("server_time_usec", &now_us);
            f("uptime_in_seconds", &uptime);
            f("uptime_in_days", &(uptime / 86400));
            let hz = cfg.get("hz").unwrap_or_else(|| "10".into());
            f("hz", &hz);
            f("configured_hz", &hz);
            f("lru_clock", &((now_us / 1_000_000) & ((1 << 24) - 1)));
            f("executable", &std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default());
            f("config_file", &cfg.config_file);
            f("io_threads_active", &0);
            f("server_name", &"cache-server");
            f("cache_server_version", &env!("CARGO_PKG_VERSION"));
        }
        "clients" => {
            out_title(&mut f, "Clients");
            f("connected_clients", &sh.connected.load(Relaxed));
            f("cluster_connections", &0);
            f("maxclients", &cfg.maxclients);
            f("client_recent_max_input_buffer", &0);
            f("client_recent_max_output_buffer", &0);
            // Clients held by CLIENT PAUSE count as blocked, as in Redis.
            f("blocked_clients", &(sh.blocked.parked() + sh.pause.waiting.load(Relaxed)));
            f("tracking_clients", &db.tracking.clients());
            f("clients_in_timeout_table", &0);
        }
        "memory" => memory(ctx, &cfg, &mut f),
        "persistence" => {
            out_title(&mut f, "Persistence");
            let p = &sh.persistence;
            let now_s = db.clock.now_us() / 1_000_000;
            let bg = p.bgsave_in_progress.load(Relaxed);
            for (k, v) in [
                ("loading", "0"),
                ("async_loading", "0"),
                ("current_cow_peak", "0"),
                ("current_cow_size", "0"),
                ("current_cow_size_age", "0"),
                ("current_fork_perc", "0.00"),
                ("current_save_keys_processed", "0"),
                ("current_save_keys_total", "0"),
            ] {
                f(k, &v);
            }
            f(
                "rdb_changes_since_last_save",
                &db.stats.changes.load(Relaxed).saturating_sub(p.changes_at_save.load(Relaxed)),
            );
            f("rdb_bgsave_in_progress", &u8::from(bg));
            f("rdb_last_save_time", &p.lastsave.load(Relaxed));
            f("rdb_last_bgsave_status", &if p.last_bgsave_failed.load(Relaxed) { "err" } else { "ok" });
            f("rdb_last_bgsave_time_sec", &p.last_bgsave_secs.load(Relaxed));
            let current = if bg { now_s.saturating_sub(p.bgsave_started.load(Relaxed)) as i64 } else { -1 };
            f("rdb_current_bgsave_time_sec", &current);
            f("rdb_saves", &p.saves.load(Relaxed));
            f("rdb_last_cow_size", &p.last_copy_bytes.load(Relaxed));
            f("rdb_last_load_keys_expired", &p.loaded_expired.load(Relaxed));
            f("rdb_last_load_keys_loaded", &p.loaded_keys.load(Relaxed));
            for (k, v) in [
                ("aof_enabled", "0"),
                ("aof_rewrite_in_progress", "0"),
                ("aof_rewrite_scheduled", "0"),
                ("aof_last_rewrite_time_sec", "-1"),
                ("aof_current_rewrite_time_sec", "-1"),
                ("aof_last_bgrewrite_status", "ok"),
                ("aof_rewrites", "0"),
                ("aof_rewrites_consecutive_failures", "0"),
                ("aof_last_write_status", "ok"),
                ("aof_last_cow_size", "0"),
                ("module_fork_in_progress", "0"),
                ("module_fork_last_cow_size", "0"),
            ] {
                f(k, &v);
            }
        }
        "stats" => stats(ctx, &mut f),
        "replication" => {
            out_title(&mut f, "Replication");
            f("role", &"master");
            f("connected_slaves", &0);
            f("master_failover_state", &"no-failover");
            f("master_replid", &sh.run_id);
            f("master_replid2", &"0000000000000000000000000000000000000000");
            f("master_repl_offset", &0);
            f("second_repl_offset", &-1);
            f("repl_backlog_active", &0);
            f("repl_backlog_size", &cfg.get("repl-backlog-size").unwrap_or_default());
            f("repl_backlog_first_byte_offset", &0);
            f("repl_backlog_histlen", &0);
        }
        "cpu" => {
            out_title(&mut f, "CPU");
            let (sys, user, csys, cuser) = cpu_seconds("/proc/self/stat");
            let (msys, muser, _, _) = cpu_seconds(&format!("/proc/self/task/{}/stat", std::process::id()));
            f("used_cpu_sys", &format!("{sys:.6}"));
            f("used_cpu_user", &format!("{user:.6}"));
            f("used_cpu_sys_children", &format!("{csys:.6}"));
            f("used_cpu_user_children", &format!("{cuser:.6}"));
            f("used_cpu_sys_main_thread", &format!("{msys:.6}"));
            f("used_cpu_user_main_thread", &format!("{muser:.6}"));
        }
        "modules" => out_title(&mut f, "Modules"),
        "commandstats" => {
            out_title(&mut f, "Commandstats");
            let reg = registry();
            for ((name, _), st) in reg.entries.iter().zip(&reg.stats) {
                let (calls, usec) = (st.calls.load(Relaxed), st.usec.load(Relaxed));
                let (rej, failed) = (st.rejected.load(Relaxed), st.failed.load(Relaxed));
                if calls + rej + failed > 0 {
                    let per = if calls > 0 { usec as f64 / calls as f64 } else { 0.0 };
                    let v = format!(
                        "calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rej},failed_calls={failed}"
                    );
                    f(&format!("cmdstat_{name}"), &v);
                }
            }
        }
        "errorstats" => {
            out_title(&mut f, "Errorstats");
            for (code, n) in sh.metrics.errors.lock().iter() {
                f(&format!("errorstat_{code}"), &format!("count={n}"));
            }
        }
        "latencystats" => {
            out_title(&mut f, "Latencystats");
            let ps: Vec<f64> = cfg
                .get("latency-tracking-info-percentiles")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            let reg = registry();
            for ((name, _), st) in reg.entries.iter().zip(&reg.stats) {
                if let Some(vals) = st.latency.percentiles(&ps) {
                    let v: Vec<String> =
                        ps.iter().zip(vals).map(|(p, v)| format!("p{}={v:.3}", trim_float(*p))).collect();
                    f(&format!("latency_percentiles_usec_{name}"), &v.join(","));
                }
            }
        }
        "cluster" => {
            out_title(&mut f, "Cluster");
            f("cluster_enabled", &u8::from(ctx.shared.cluster.is_some()));
        }
        "keyspace" => {
            out_title(&mut f, "Keyspace");
            let counts = match ctx.scope.as_deref() {
                Some(scope) => scope.keyspace_counts(ctx.now, db.databases()),
                None => crate::commands::offload(db.len() as usize, || db.keyspace_counts(ctx.now)),
            };
            for (i, (keys, expires, ttl_sum)) in counts.into_iter().enumerate() {
                if keys > 0 {
                    let avg_ttl = ttl_sum.checked_div(expires).unwrap_or(0);
                    f(&format!("db{i}"), &format!("keys={keys},expires={expires},avg_ttl={avg_ttl}"));
                }
            }
        }
        _ => {}
    }
}

/// A section's title line, through the same writer as its fields.
fn out_title(f: &mut impl FnMut(&str, &dyn std::fmt::Display), title: &str) {
    f(&format!("# {title}"), &"");
}

/// `99.9` → `99.9`, `50` → `50` (Redis prints percentile names without trailing zeros).
fn trim_float(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn memory(ctx: &Ctx<'_>, cfg: &crate::Config, f: &mut impl FnMut(&str, &dyn std::fmt::Display)) {
    let sh = ctx.shared;
    let db = &sh.db;
    out_title(f, "Memory");
    let used = db.used_memory();
    let rss = rss_bytes();
    let peak = sh.peak_memory(used);
    let a = crate::alloc::stats();
    let ratio = |num: u64, den: u64| if den > 0 { num as f64 / den as f64 } else { 1.0 };
    let pct = |num: u64, den: u64| if den > 0 { num as f64 * 100.0 / den as f64 } else { 0.0 };
    let clients_mem: u64 = sh.clients.lock().values().map(|c| c.memory()).sum();
    // The per-entry overhead inside `used_memory` is the part that is not the data set.
    let overhead = (db.len() * crate::db::ENTRY_OVERHEAD).min(used);
    let st = &sh.scripting;
    let eval = st.scripts.memory() as u64;
    let (libraries, functions) = st.functions.counts();
    let functions_mem = st.functions.memory() as u64;
    let scripts = eval + functions_mem;
    let sysmem = total_system_memory();
    f("used_memory", &used);
    f("used_memory_human", &human(used));
    f("used_memory_rss", &rss);
    f("used_memory_rss_human", &human(rss));
    f("used_memory_peak", &peak);
    f("used_memory_peak_human", &human(peak));
    f("used_memory_peak_perc", &format!("{:.2}%", pct(used, peak)));
    f("used_memory_overhead", &overhead);
    f("used_memory_startup", &0);
    f("used_memory_dataset", &(used - overhead));
    f("used_memory_dataset_perc", &format!("{:.2}%", pct(used - overhead, used)));
    f("allocator_allocated", &a.allocated);
    f("allocator_active", &a.active);
    f("allocator_resident", &a.resident);
    f("total_system_memory", &sysmem);
    f("total_system_memory_human", &human(sysmem));
    f("used_memory_lua", &eval);
    f("used_memory_vm_eval", &eval);
    f("used_memory_lua_human", &human(eval));
    f("used_memory_scripts_eval", &eval);
    f("number_of_cached_scripts", &st.scripts.len());
    f("number_of_functions", &functions);
    f("number_of_libraries", &libraries);
    f("used_memory_vm_functions", &functions_mem);
    f("used_memory_vm_total", &scripts);
    f("used_memory_vm_total_human", &human(scripts));
    f("used_memory_functions", &functions_mem);
    f("used_memory_scripts", &scripts);
    f("used_memory_scripts_human", &human(scripts));
    f("maxmemory", &db.maxmemory());
    f("maxmemory_human", &human(db.maxmemory()));
    f("maxmemory_policy", &cfg.maxmemory_policy);
    f("allocator_frag_ratio", &format!("{:.2}", ratio(a.active, a.allocated)));
    f("allocator_frag_bytes", &(a.active as i64 - a.allocated as i64));
    f("allocator_rss_ratio", &format!("{:.2}", ratio(a.resident, a.active)));
    f("allocator_rss_bytes", &(a.resident as i64 - a.active as i64));
    f("rss_overhead_ratio", &format!("{:.2}", ratio(rss, a.resident)));
    f("rss_overhead_bytes", &(rss as i64 - a.resident as i64));
    f("mem_fragmentation_ratio", &format!("{:.2}", ratio(rss, used)));
    f("mem_fragmentation_bytes", &(rss as i64 - used as i64));
    f("mem_not_counted_for_evict", &0);
    f("mem_replication_backlog", &0);
    f("mem_total_replication_buffers", &0);
    f("mem_clients_slaves", &0);
    f("mem_clients_normal", &clients_mem);
    f("mem_cluster_links", &0);
    f("mem_aof_buffer", &0);
    f("mem_allocator", &crate::alloc::name());
    f("active_defrag_running", &0);
    f("lazyfree_pending_objects", &0);
    f("lazyfreed_objects", &0);
}

fn stats(ctx: &Ctx<'_>, f: &mut impl FnMut(&str, &dyn std::fmt::Display)) {
    let sh = ctx.shared;
    let db = &sh.db;
    let m = &sh.metrics;
    out_title(f, "Stats");
    // Inside a transaction or script the whole keyspace is held: read it through the scope.
    let totals = match ctx.scope.as_deref() {
        Some(scope) => scope.evictions(),
        None => db.evictions(),
    };
    let (evicted, expired) = m.evictions_since_reset(totals);
    let (ops, kin, kout) = m.instantaneous();
    let (channels, patterns) = db.tracking.pubsub.counts();
    let (tkeys, titems, tprefixes) = db.tracking.counts();
    f("total_connections_received", &m.connections.load(Relaxed));
    f("total_commands_processed", &m.commands.load(Relaxed));
    f("instantaneous_ops_per_sec", &(ops.round() as u64));
    f("total_net_input_bytes", &m.net_input.load(Relaxed));
    f("total_net_output_bytes", &m.net_output.load(Relaxed));
    f("total_net_repl_input_bytes", &0);
    f("total_net_repl_output_bytes", &0);
    f("instantaneous_input_kbps", &format!("{kin:.2}"));
    f("instantaneous_output_kbps", &format!("{kout:.2}"));
    f("instantaneous_input_repl_kbps", &"0.00");
    f("instantaneous_output_repl_kbps", &"0.00");
    f("rejected_connections", &m.rejected_connections.load(Relaxed));
    f("sync_full", &0);
    f("sync_partial_ok", &0);
    f("sync_partial_err", &0);
    f("expired_keys", &expired);
    f("expired_stale_perc", &"0.00");
    f("expired_time_cap_reached_count", &0);
    f("expire_cycle_cpu_milliseconds", &0);
    f("evicted_keys", &evicted);
    f("evicted_clients", &0);
    f("total_eviction_exceeded_time", &0);
    f("current_eviction_exceeded_time", &0);
    f("keyspace_hits", &db.stats.hits.load(Relaxed));
    f("keyspace_misses", &db.stats.misses.load(Relaxed));
    f("pubsub_channels", &channels);
    f("pubsub_patterns", &patterns);
    f("pubsubshard_channels", &db.tracking.pubsub.shard_channel_count());
    for k in [
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
    ] {
        f(k, &0);
    }
    f("tracking_total_keys", &tkeys);
    f("tracking_total_items", &titems);
    f("tracking_total_prefixes", &tprefixes);
    f("unexpected_error_replies", &0);
    f("total_error_replies", &m.errors.lock().values().sum::<u64>());
    f("dump_payload_sanitizations", &0);
    f("total_reads_processed", &m.reads.load(Relaxed));
    f("total_writes_processed", &m.writes.load(Relaxed));
    for k in
        ["io_threaded_reads_processed", "io_threaded_writes_processed", "reply_buffer_shrinks", "reply_buffer_expands"]
    {
        f(k, &0);
    }
    f("client_output_buffer_limit_disconnections", &m.output_limit_disconnections.load(Relaxed));
}

pub(super) fn info(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let sections: Vec<String> = a[1..].iter().map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
    let text = info_text(ctx, &sections);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}
