//! Server commands: INFO (`server/info.rs`), CONFIG (GET SET RESETSTAT REWRITE, in
//! `server/config_cmd.rs`), TIME,
//! SHUTDOWN, MEMORY (USAGE PURGE), SLOWLOG (GET LEN RESET). They read or change server-wide state;
//! the only key access is MEMORY USAGE's read.

use super::{CmdResult, CommandSpec, Ctx, SYNTAX, arg_i64, container_row, is, registry, spec};
use crate::db::Db;
use bytes::Bytes;

mod config_cmd;
mod info;
use config_cmd::{config_get, config_resetstat, config_rewrite, config_set};
use info::info;
pub use info::info_text;

const G: &str = "server";
const ADM: &[&str] = &["admin", "noscript", "loading", "stale"];

const CONFIG_SUBS: &[CommandSpec] = &[
    spec("get", -3, ADM, (0, 0, 0), G, "Get the values of configuration parameters", "2.0.0", config_get),
    spec("set", -4, ADM, (0, 0, 0), G, "Set configuration parameters to the given values", "2.0.0", config_set),
    spec("resetstat", 2, ADM, (0, 0, 0), G, "Reset the stats returned by INFO", "2.0.0", config_resetstat),
    spec(
        "rewrite",
        2,
        ADM,
        (0, 0, 0),
        G,
        "Rewrite the configuration file with the in memory configuration",
        "2.8.0",
        config_rewrite,
    ),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Show helpful text about the different subcommands",
        "5.0.0",
        config_help,
    ),
];

const MEMORY_SUBS: &[CommandSpec] = &[
    spec("usage", -3, &["readonly"], (2, 2, 1), G, "Estimate the memory usage of a key", "4.0.0", memory_usage),
    spec("purge", 2, &[], (0, 0, 0), G, "Ask the allocator to release memory", "4.0.0", memory_purge),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Show helpful text about the different subcommands",
        "4.0.0",
        help,
    ),
];

const SLOWLOG_SUBS: &[CommandSpec] = &[
    spec("get", -2, &["admin", "loading", "stale"], (0, 0, 0), G, "Get the slow log's entries", "2.2.12", slowlog_get),
    spec("len", 2, &["admin", "loading", "stale"], (0, 0, 0), G, "Get the slow log's length", "2.2.12", slowlog_len),
    spec(
        "reset",
        2,
        &["admin", "loading", "stale"],
        (0, 0, 0),
        G,
        "Clear all entries from the slow log",
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
        slowlog_help,
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
        "Get information and statistics about the server",
        "1.0.0",
        info,
    ),
    container_row("config", G, "A container for server configuration commands", "2.0.0", CONFIG_SUBS),
    spec("time", 1, &["loading", "stale", "fast"], (0, 0, 0), G, "Return the current server time", "2.6.0", time),
    spec(
        "shutdown",
        -1,
        &["admin", "noscript", "loading", "stale", "allow_busy", "no_multi"],
        (0, 0, 0),
        G,
        "Synchronously save the dataset to disk and then shut down the server",
        "1.0.0",
        shutdown,
    ),
    container_row("memory", G, "A container for memory diagnostics commands", "4.0.0", MEMORY_SUBS),
    container_row("slowlog", G, "A container for slow log commands", "2.2.12", SLOWLOG_SUBS),
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

/// Replies a HELP text line by line, as Redis's `addReplyHelp`.
fn help_lines(ctx: &mut Ctx<'_>, lines: &[&str]) -> CmdResult {
    ctx.out.simple_lines(lines);
    Ok(())
}

fn config_help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    help_lines(
        ctx,
        &[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Prints this help.",
        ],
    )
}

fn slowlog_help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    help_lines(
        ctx,
        &[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ],
    )
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
    // Redis's rule: NOSAVE never saves, SAVE always does, neither saves when save rules exist; a
    // failed save keeps the server up unless FORCE.
    let has = |o: &str| a[1..].iter().any(|x| is(x, o));
    let wanted = !has("nosave") && (has("save") || !crate::persistence::save::rules(ctx.shared).is_empty());
    if wanted {
        let shared = ctx.shared;
        if let Err(e) = ctx.long(usize::MAX, |_| crate::persistence::save::save_waiting(shared)) {
            tracing::warn!(error = %e, "SHUTDOWN: the save failed");
            if !has("force") {
                return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
            }
        }
    }
    use crate::persistence::save::Shutdown;
    ctx.shared.persistence.set_shutdown(if wanted { Shutdown::Save } else { Shutdown::NoSave });
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
    match ctx.peek_untouched(&a[2]) {
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

    /// A connection to `addr` after it stored 2,000 keys of 100-byte values (about 300 KB).
    async fn connect_with_keys(addr: std::net::SocketAddr) -> (TcpStream, Vec<u8>) {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        let value = "x".repeat(100);
        for i in 0..2000 {
            assert_eq!(ask(&mut s, &mut buf, &format!("SET key:{i} {value}")).await, "+OK\r\n");
        }
        (s, buf)
    }

    #[tokio::test]
    async fn config_set_maxmemory_evicts_down_and_info_reports_it() {
        let addr = start(|c| c.maxmemory = 64 << 20).await;
        let (mut s, mut buf) = connect_with_keys(addr).await;
        let before = field(&ask(&mut s, &mut buf, "INFO memory").await, "used_memory");
        assert!(before > 300_000, "{before}");
        assert_eq!(ask(&mut s, &mut buf, "CONFIG SET maxmemory 100kb").await, "+OK\r\n");
        let info = ask(&mut s, &mut buf, "INFO memory").await;
        assert_eq!(field(&info, "maxmemory"), 102_400);
        assert!(field(&info, "used_memory") <= 102_400, "{info}");
        let keys: u64 = ask(&mut s, &mut buf, "DBSIZE").await[1..].trim().parse().unwrap();
        assert!(keys < 2000 / 3, "{keys}");
    }

    /// CONFIG SET inside EXEC, where the connection holds the shards of the transaction's keys:
    /// the new budget and policy are live at once, and the evictions and re-pinning that need
    /// every shard follow the EXEC (once they locked a held shard again: a panic in debug builds,
    /// a hang in release).
    #[tokio::test]
    async fn config_set_inside_exec_applies_after_the_transaction() {
        let addr = start(|c| c.maxmemory = 64 << 20).await;
        let (mut s, mut buf) = connect_with_keys(addr).await;
        for policy in ["volatile-lfu", "noeviction", "allkeys-lfu"] {
            assert_eq!(ask(&mut s, &mut buf, "MULTI").await, "+OK\r\n");
            assert_eq!(ask(&mut s, &mut buf, "SET key:0 v").await, "+QUEUED\r\n");
            assert_eq!(ask(&mut s, &mut buf, &format!("CONFIG SET maxmemory-policy {policy}")).await, "+QUEUED\r\n");
            assert_eq!(ask(&mut s, &mut buf, "EXEC").await, "*2\r\n+OK\r\n+OK\r\n", "{policy}");
        }
        assert_eq!(ask(&mut s, &mut buf, "MULTI").await, "+OK\r\n");
        assert_eq!(ask(&mut s, &mut buf, "SET key:1 v").await, "+QUEUED\r\n");
        assert_eq!(ask(&mut s, &mut buf, "CONFIG SET maxmemory 100kb").await, "+QUEUED\r\n");
        assert_eq!(ask(&mut s, &mut buf, "CONFIG GET maxmemory").await, "+QUEUED\r\n");
        assert_eq!(
            ask(&mut s, &mut buf, "EXEC").await,
            "*3\r\n+OK\r\n+OK\r\n*2\r\n$9\r\nmaxmemory\r\n$6\r\n102400\r\n"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let used = field(&ask(&mut s, &mut buf, "INFO memory").await, "used_memory");
            if used <= 102_400 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "still {used} B after the EXEC");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
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
            // The shape only: the command table's counters are the process's, shared with the
            // tests running beside this one (`tests/tests/config_info.rs` checks the counts
            // after RESETSTAT on a server of its own).
            ("INFO commandstats", "$...cmdstat_info:calls=..."),
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
