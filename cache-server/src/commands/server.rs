//! Server commands: INFO, CONFIG (GET SET RESETSTAT), TIME,
//! SHUTDOWN, MEMORY (USAGE PURGE), SLOWLOG (GET LEN RESET). They read or change server-wide state;
//! the only key access is MEMORY USAGE's read.

use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, arg_i64, container_row, is, registry, spec};
use crate::config::{Config, ConfigError, DIRECTIVES, MaxMemoryPolicy};
use crate::db::Db;
use crate::{REDIS_VERSION, glob};
use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

const G: &str = "server";
const ADM: &[&str] = &["admin", "noscript", "loading", "stale"];

const CONFIG_SUBS: &[CommandSpec] = &[
    spec(
        "get",
        -3,
        ADM,
        (0, 0, 0),
        G,
        "Returns the effective values of configuration parameters.",
        "2.0.0",
        config_get,
    ),
    spec("set", -4, ADM, (0, 0, 0), G, "Sets configuration parameters in-flight.", "2.0.0", config_set),
    spec("resetstat", 2, ADM, (0, 0, 0), G, "Resets the server's statistics.", "2.0.0", config_resetstat),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        help,
    ),
];

const MEMORY_SUBS: &[CommandSpec] = &[
    spec("usage", -3, &["readonly"], (2, 2, 1), G, "Estimates the memory usage of a key.", "4.0.0", memory_usage),
    spec("purge", 2, &[], (0, 0, 0), G, "Asks the allocator to release memory.", "4.0.0", memory_purge),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Returns helpful text about the different subcommands.",
        "4.0.0",
        help,
    ),
];

const SLOWLOG_SUBS: &[CommandSpec] = &[
    spec(
        "get",
        -2,
        &["admin", "loading", "stale"],
        (0, 0, 0),
        G,
        "Returns the slow log's entries.",
        "2.2.12",
        slowlog_get,
    ),
    spec(
        "len",
        2,
        &["admin", "loading", "stale"],
        (0, 0, 0),
        G,
        "Returns the number of entries in the slow log.",
        "2.2.12",
        slowlog_len,
    ),
    spec(
        "reset",
        2,
        &["admin", "loading", "stale"],
        (0, 0, 0),
        G,
        "Clears all entries from the slow log.",
        "2.2.12",
        slowlog_reset,
    ),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Show helpful text about the different subcommands",
        "6.2.0",
        help,
    ),
];

/// The server family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "info",
        -1,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Returns information and statistics about the server.",
        "1.0.0",
        info,
    ),
    container_row("config", G, "A container for server configuration commands.", "2.0.0", CONFIG_SUBS),
    spec("time", 1, &["loading", "stale", "fast"], (0, 0, 0), G, "Returns the server time.", "2.6.0", time),
    spec(
        "shutdown",
        -1,
        &["admin", "noscript", "loading", "stale", "no-auth", "allow_busy", "no_multi"],
        (0, 0, 0),
        G,
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        "1.0.0",
        shutdown,
    ),
    container_row("memory", G, "A container for memory diagnostics commands.", "4.0.0", MEMORY_SUBS),
    container_row("slowlog", G, "A container for slow log commands.", "2.2.12", SLOWLOG_SUBS),
];

pub(crate) fn help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let parent = ctx.name.split('|').next().unwrap_or("").to_ascii_uppercase();
    let reg = registry();
    let subs: Vec<String> = reg
        .entries
        .iter()
        .filter(|(n, _)| n.starts_with(&format!("{}|", parent.to_ascii_lowercase())))
        .map(|(n, s)| format!("{} - {}", n.split('|').nth(1).unwrap_or("").to_ascii_uppercase(), s.summary))
        .collect();
    ctx.out.array(subs.len() + 1);
    ctx.out.simple(&format!("{parent} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for s in subs {
        ctx.out.simple(&s);
    }
    Ok(())
}

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

fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(12), tick(11))
}

/// Builds the INFO text for the requested sections.
pub fn info_text(ctx: &Ctx<'_>, sections: &[String]) -> String {
    let sh = ctx.shared;
    let all = sections.iter().any(|s| s == "all" || s == "everything");
    let default = sections.is_empty() || sections.iter().any(|s| s == "default");
    let want = |name: &str| all || sections.iter().any(|s| s == name) || (default && name != "commandstats");
    let mut out = String::new();
    let cfg = sh.config.read().clone();
    let db = &sh.db;
    let uptime = sh.started.elapsed().as_secs();
    if want("server") {
        let _ = write!(
            out,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nserver_name:cache-server\r\ncache_server_version:{}\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:10\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n\r\n",
            std::env::consts::OS,
            std::env::consts::ARCH,
            env!("CARGO_PKG_VERSION"),
            std::process::id(),
            sh.run_id,
            sh.port,
            db.clock.now_us(),
            uptime / 86400,
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            cfg.config_file,
        );
    }
    if want("clients") {
        let _ = write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n\r\n",
            sh.connected.load(Relaxed),
            cfg.maxclients,
            sh.blocked.parked(),
            db.tracking.clients(),
        );
    }
    // Inside a transaction or script the whole keyspace is held: read it through the scope.
    let (evicted, expired) = match ctx.scope.as_deref() {
        Some(scope) => scope.evictions(),
        None => db.evictions(),
    };
    if want("memory") {
        let used = db.used_memory();
        let rss = rss_bytes();
        // Redis's names and ratios; allocator_* are the allocator's own counts (0 under libc).
        let a = crate::alloc::stats();
        let ratio = |num: u64, den: u64| if den > 0 { num as f64 / den as f64 } else { 1.0 };
        let clients_mem: u64 = sh.clients.lock().values().map(|c| c.memory()).sum();
        let _ = write!(
            out,
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_dataset:{used}\r\nallocator_allocated:{}\r\nallocator_active:{}\r\nallocator_resident:{}\r\nmem_clients_slaves:0\r\nmem_clients_normal:{clients_mem}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\nallocator_rss_ratio:{:.2}\r\nallocator_rss_bytes:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_allocator:{}\r\nlazyfree_pending_objects:0\r\n{}\r\n",
            human(used),
            human(rss),
            sh.peak_memory(used),
            a.allocated,
            a.active,
            a.resident,
            db.maxmemory(),
            human(db.maxmemory()),
            cfg.maxmemory_policy,
            ratio(a.active, a.allocated),
            a.active as i64 - a.allocated as i64,
            ratio(a.resident, a.active),
            a.resident as i64 - a.active as i64,
            ratio(rss, used),
            rss as i64 - used as i64,
            crate::alloc::name(),
            scripting_memory(sh),
        );
    }
    if want("persistence") {
        out.push_str("# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\nrdb_last_bgsave_status:ok\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\n\r\n");
    }
    if want("stats") {
        let m = &sh.metrics;
        let _ = write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{expired}\r\nevicted_keys:{evicted}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\ntotal_error_replies:{}\r\nclient_output_buffer_limit_disconnections:{}\r\n\r\n",
            m.connections.load(Relaxed),
            m.commands.load(Relaxed),
            m.net_input.load(Relaxed),
            m.net_output.load(Relaxed),
            m.rejected_connections.load(Relaxed),
            db.stats.hits.load(Relaxed),
            db.stats.misses.load(Relaxed),
            db.tracking.pubsub.counts().0,
            db.tracking.pubsub.counts().1,
            db.tracking.counts().0,
            db.tracking.counts().1,
            db.tracking.counts().2,
            m.errors.lock().values().sum::<u64>(),
            m.output_limit_disconnections.load(Relaxed),
        );
    }
    if want("replication") {
        out.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n\r\n");
    }
    if want("cpu") {
        let (sys, user) = cpu_seconds();
        let _ = write!(out, "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n\r\n");
    }
    if want("modules") {
        out.push_str("# Modules\r\n\r\n");
    }
    if want("commandstats") {
        out.push_str("# Commandstats\r\n");
        let reg = registry();
        for ((name, _), st) in reg.entries.iter().zip(&reg.stats) {
            let (calls, usec) = (st.calls.load(Relaxed), st.usec.load(Relaxed));
            let (rej, failed) = (st.rejected.load(Relaxed), st.failed.load(Relaxed));
            if calls + rej > 0 {
                let per = if calls > 0 { usec as f64 / calls as f64 } else { 0.0 };
                let _ = write!(
                    out,
                    "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rej},failed_calls={failed}\r\n"
                );
            }
        }
        out.push_str("\r\n");
    }
    if want("errorstats") {
        out.push_str("# Errorstats\r\n");
        for (code, n) in sh.metrics.errors.lock().iter() {
            let _ = write!(out, "errorstat_{code}:count={n}\r\n");
        }
        out.push_str("\r\n");
    }
    if want("cluster") {
        out.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
    }
    if want("keyspace") {
        out.push_str("# Keyspace\r\n");
        let counts = match ctx.scope.as_deref() {
            Some(scope) => scope.keyspace_counts(ctx.now, db.databases()),
            None => crate::commands::offload(db.len() as usize, || db.keyspace_counts(ctx.now)),
        };
        for (i, (keys, expires)) in counts.into_iter().enumerate() {
            if keys > 0 {
                let _ = write!(out, "db{i}:keys={keys},expires={expires},avg_ttl=0\r\n");
            }
        }
        out.push_str("\r\n");
    }
    while out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// INFO memory's scripting fields, as Redis 7.0 names them (the engine's VMs are per thread and
/// not measured: `used_memory_vm_*` count the cached bodies, as the scripts' share).
fn scripting_memory(sh: &crate::server::Shared) -> String {
    let st = &sh.scripting;
    let eval = st.scripts.memory() as u64;
    let (libraries, functions) = st.functions.counts();
    let functions_mem = st.functions.memory() as u64;
    let total = eval + functions_mem;
    format!(
        "used_memory_vm_eval:{eval}\r\nused_memory_scripts_eval:{eval}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{functions}\r\nnumber_of_libraries:{libraries}\r\nused_memory_vm_functions:{functions_mem}\r\nused_memory_vm_total:{total}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{functions_mem}\r\nused_memory_scripts:{total}\r\nused_memory_scripts_human:{}\r\n",
        st.scripts.len(),
        human(total),
        human(total),
    )
}

fn info(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let sections: Vec<String> = a[1..].iter().map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
    let text = info_text(ctx, &sections);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn config_get(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let cfg = ctx.shared.config.read().clone();
    // Like Redis 7, an old name (`zset-max-ziplist-entries`) matches as itself.
    let aliases = crate::types::DIRECTIVES.iter().filter_map(|(_, alias, _)| *alias);
    let names: Vec<&str> = DIRECTIVES
        .iter()
        .copied()
        .chain(aliases)
        .filter(|d| a[2..].iter().any(|p| glob::matches(p, d.as_bytes(), true)))
        .collect();
    ctx.out.map(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
        ctx.out.bulk(cfg.get(n).unwrap_or_default().as_bytes());
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() % 2 != 0 {
        return Err("ERR wrong number of arguments for 'config|set' command".into());
    }
    let mut cfg = ctx.shared.config.read().clone();
    for pair in a[2..].chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        let fail = |e: ConfigError| {
            CmdError::from(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"))
        };
        if !DIRECTIVES.contains(&name.as_str()) && !crate::types::Thresholds::knows(&name) {
            return Err(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'").into());
        }
        if Config::is_immutable(&name) {
            return Err(fail(ConfigError::Immutable));
        }
        // Like Redis, a directive of several words takes them in one argument.
        let words: Vec<&str> = if name == "client-output-buffer-limit" {
            value.split_whitespace().collect()
        } else {
            vec![value.as_str()]
        };
        cfg.set(&name, &words).map_err(fail)?;
        let p = cfg.maxmemory_policy;
        let built = ctx.shared.built_algorithm();
        if p != MaxMemoryPolicy::NoEviction && p.algorithm() != built {
            return Err(fail(ConfigError::Invalid(format!(
                "switching from {built} to {} eviction needs a restart (the cache is built with one eviction algorithm)",
                p.algorithm()
            ))));
        }
    }
    ctx.shared.apply_config(cfg);
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.shared.metrics.reset();
    ctx.shared.metrics.slowlog.lock().clear();
    for s in &registry().stats {
        s.reset();
    }
    ctx.shared.db.stats.hits.store(0, Relaxed);
    ctx.shared.db.stats.misses.store(0, Relaxed);
    ctx.out.ok();
    Ok(())
}

fn time(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let us = ctx.shared.db.clock.now_us();
    ctx.out.array(2);
    ctx.out.bulk((us / 1_000_000).to_string().as_bytes());
    ctx.out.bulk((us % 1_000_000).to_string().as_bytes());
    Ok(())
}

fn shutdown(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    for opt in &a[1..] {
        if is(opt, "abort") {
            return Err("ERR No shutdown in progress.".into());
        }
        if !["nosave", "save", "now", "force"].iter().any(|o| is(opt, o)) {
            return Err(SYNTAX.into());
        }
    }
    if ctx.client.needs_auth(ctx.shared) {
        return Err("NOAUTH Authentication required.".into());
    }
    // While a script is busy, only SHUTDOWN NOSAVE stops the server (its writes are not saved).
    if ctx.shared.scripting.is_busy() && !a[1..].iter().any(|o| is(o, "nosave")) {
        return Err(ctx.shared.scripting.busy_error().into());
    }
    tracing::warn!(client = %ctx.client.handle.addr, "SHUTDOWN requested by a client");
    ctx.shared.trigger_shutdown();
    ctx.client.close = true;
    ctx.client.discard = true;
    Ok(())
}

/// MEMORY PURGE: returns the allocator's unused dirty pages to the OS (a no-op under libc, as in
/// Redis).
fn memory_purge(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> CmdResult {
    crate::alloc::purge();
    ctx.out.ok();
    Ok(())
}

fn memory_usage(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 && !(a.len() == 5 && is(&a[3], "samples")) {
        return Err(SYNTAX.into());
    }
    if a.len() == 5 {
        arg_i64(&a[4])?;
    }
    match ctx.peek(&a[2]) {
        Some(e) => ctx.out.int(Db::memory_usage(&a[2], &e) as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn slowlog_get(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let count = match a.get(2) {
        None => 10,
        Some(n) => match arg_i64(n) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => n as usize,
            _ => return Err("ERR count should be greater than or equal to -1".into()),
        },
    };
    let entries: Vec<_> = ctx.shared.metrics.slowlog.lock().iter().take(count).cloned().collect();
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time as i64);
        ctx.out.int(e.micros as i64);
        ctx.out.bulks(&e.args);
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(e.name.as_bytes());
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let n = ctx.shared.metrics.slowlog.lock().len();
    ctx.out.int(n as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.shared.metrics.slowlog.lock().clear();
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::{encode, read_reply, run_table, start};
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;

    async fn ask(s: &mut TcpStream, buf: &mut Vec<u8>, req: &str) -> String {
        s.write_all(&encode(req)).await.unwrap();
        String::from_utf8_lossy(&read_reply(s, buf).await).into_owned()
    }

    fn field(info: &str, name: &str) -> u64 {
        let line = info.lines().find(|l| l.starts_with(&format!("{name}:"))).unwrap();
        line[name.len() + 1..].trim().parse().unwrap()
    }

    #[tokio::test]
    async fn config_set_maxmemory_evicts_down_and_info_reports_it() {
        let addr = start(|c| c.maxmemory = 64 << 20).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        let value = "x".repeat(100);
        for i in 0..2000 {
            assert_eq!(ask(&mut s, &mut buf, &format!("SET key:{i} {value}")).await, "+OK\r\n");
        }
        let before = field(&ask(&mut s, &mut buf, "INFO memory").await, "used_memory");
        assert!(before > 300_000, "{before}");
        assert_eq!(ask(&mut s, &mut buf, "CONFIG SET maxmemory 100kb").await, "+OK\r\n");
        let info = ask(&mut s, &mut buf, "INFO memory").await;
        assert_eq!(field(&info, "maxmemory"), 102_400);
        assert!(field(&info, "used_memory") <= 102_400, "{info}");
        let keys: u64 = ask(&mut s, &mut buf, "DBSIZE").await[1..].trim().parse().unwrap();
        assert!(keys < 2000 / 3, "{keys}");
    }

    #[tokio::test]
    async fn server_commands() {
        run_table(&[
            ("SET k hello", "+OK\r\n"),
            ("MEMORY USAGE k", ":66\r\n"),
            ("MEMORY USAGE nokey", "$-1\r\n"),
            ("MEMORY PURGE", "+OK\r\n"),
            ("CONFIG GET maxmemory-policy", "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lfu\r\n"),
            ("CONFIG GET nothing", "*0\r\n"),
            ("CONFIG SET timeout 10", "+OK\r\n"),
            ("CONFIG GET timeout", "*2\r\n$7\r\ntimeout\r\n$2\r\n10\r\n"),
            ("CONFIG SET foo 1", "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"),
            ("CONFIG SET maxmemory lots", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"),
            ("CONFIG SET databases 3", "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n"),
            ("CONFIG RESETSTAT", "+OK\r\n"),
            ("INFO keyspace", "$...# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n\r\n"),
            ("INFO commandstats", "$...cmdstat_info:calls=1,"),
            ("INFO", "$...# Server\r\nredis_version:7.0.15\r\n...used_memory:...maxmemory_policy:allkeys-lfu\r\n"),
            ("COMMAND COUNT", ":...\r\n"),
            ("COMMAND INFO get nosuch", "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n...:0\r\n*0\r\n$-1\r\n"),
            ("COMMAND DOCS get", "*2\r\n$3\r\nget\r\n*6\r\n$7\r\nsummary\r\n..."),
            ("COMMAND LIST FILTERBY PATTERN hg*", "*2\r\n$4\r\nhget\r\n$7\r\nhgetall\r\n"),
            ("TIME", "*2\r\n$10\r\n..."),
            // A loaded machine can make any command above slower than the default 10 ms threshold.
            ("CONFIG SET slowlog-log-slower-than -1", "+OK\r\n"),
            ("SLOWLOG RESET", "+OK\r\n"),
            ("SLOWLOG LEN", ":0\r\n"),
            ("CONFIG SET slowlog-log-slower-than 0", "+OK\r\n"),
            ("PING", "+PONG\r\n"),
            ("SLOWLOG GET 1", "*1\r\n*6\r\n:...\r\n*1\r\n$4\r\nPING\r\n$15\r\n127.0.0.1:"),
            ("SLOWLOG RESET", "+OK\r\n"),
            ("CONFIG SET maxmemory 1mb", "+OK\r\n"),
            ("INFO memory", "$...\r\nmaxmemory:1048576\r\nmaxmemory_human:1.00M\r\n"),
            ("CONFIG GET maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n"),
            ("SHUTDOWN ABORT", "-ERR No shutdown in progress.\r\n"),
        ])
        .await;
    }
}
