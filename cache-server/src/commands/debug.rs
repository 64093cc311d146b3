//! DEBUG (the subset clients and test suites use: SLEEP, OBJECT, SET-ACTIVE-EXPIRE, ERROR, LOG,
//! PROTOCOL, CHANGE-REPL-ID, HELP) and LOLWUT. DEBUG is one command with its subcommand as an
//! argument, as in Redis 7.0 (not a container): other subcommands answer Redis's "unknown
//! subcommand" error.
//!
//! DEBUG SLEEP delays its caller only: the sleep runs under `block_in_place`, so the worker's
//! other connections move to another thread (Redis stops the whole server). DEBUG OBJECT prints
//! Redis's line with what we know: `refcount` and `encoding` as OBJECT reports them,
//! `serializedlength` the size of the value's RDB encoding (as DUMP writes it, `rdbcompression`
//! included; Redis's `rdbSavedObjectLen`), `lru` the key's raw 24-bit access stamp and
//! `lru_seconds_idle` that stamp read as an LRU clock, whatever the policy (as Redis prints them;
//! see `object.rs`), and no `ql_*` fields (our lists are no quicklists). SET-ACTIVE-EXPIRE
//! switches active expiry off (0) or on, as Redis's `active_expire_enabled`: while off, neither
//! the core's timer wheel nor the background cycle reclaims anything, and a key expires only
//! when a command meets it (`Db::set_active_expiry`).

use super::{CmdResult, CommandSpec, Ctx, spec};
use crate::REDIS_VERSION;
use bytes::Bytes;

const G: &str = "server";

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "debug",
        -2,
        &["admin", "noscript", "loading", "stale"],
        (0, 0, 0),
        G,
        "A container for debugging commands",
        "1.0.0",
        debug,
    ),
    spec(
        "lolwut",
        -1,
        &["readonly", "fast"],
        (0, 0, 0),
        G,
        "Display some computer art and the Redis version",
        "5.0.0",
        lolwut,
    ),
];

fn wrong_args(sub: &[u8]) -> super::CmdError {
    let sub = String::from_utf8_lossy(sub);
    format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try DEBUG HELP.").into()
}

/// Whether `enable-debug-command` lets this client run DEBUG (`yes`, or `local` from loopback).
fn allowed(ctx: &Ctx<'_>) -> bool {
    match ctx.shared.config.read().get("enable-debug-command").as_deref() {
        Some("yes") => true,
        Some("local") => ctx.client.handle.addr.ip().is_loopback(),
        _ => false,
    }
}

fn debug(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if !allowed(ctx) {
        return Err("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.".into());
    }
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("help", 2) => help(ctx),
        ("sleep", 3) => {
            sleep(seconds(&a[2]));
            ctx.out.ok();
        }
        ("object", 3) => return object(ctx, &a[2]),
        ("set-active-expire", 3) => {
            ctx.shared.db.set_active_expiry(atoi(&a[2]) != 0);
            ctx.out.ok();
        }
        ("log", 3) | ("change-repl-id", 2) => ctx.out.ok(),
        ("error", 3) => return Err(String::from_utf8_lossy(&a[2]).into_owned().into()),
        ("protocol", 3) => return protocol(ctx, &a[2]),
        _ => return Err(wrong_args(&a[1])),
    }
    Ok(())
}

/// An argument as C's `atoi` reads it (Redis's SET-ACTIVE-EXPIRE): leading blanks, a sign and
/// digits; anything else reads 0.
fn atoi(a: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(a);
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| n.wrapping_mul(10).wrapping_add(i64::from(d - b'0')));
    if neg { -n } else { n }
}

/// DEBUG SLEEP's argument as C's `strtod` reads it: a leading number, else 0; never negative.
fn seconds(a: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(a);
    let s = s.trim_start();
    let end = s
        .char_indices()
        .take_while(|&(i, c)| c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && i == 0))
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    s[..end].parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0).unwrap_or(0.0)
}

/// Sleeps without stalling other clients: on the multi-threaded runtime the worker hands its
/// other connections over first (`block_in_place`); elsewhere (unit tests) it just sleeps.
fn sleep(secs: f64) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if secs <= 0.0 {
        return;
    }
    let d = std::time::Duration::from_secs_f64(secs.min(1e9));
    if Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread) {
        tokio::task::block_in_place(|| std::thread::sleep(d));
    } else {
        std::thread::sleep(d);
    }
}

fn object(ctx: &mut Ctx<'_>, key: &[u8]) -> CmdResult {
    let Some(e) = ctx.peek_untouched(key) else { return Err("ERR no such key".into()) };
    let lru = ctx.access_stamp(key).unwrap_or(0);
    let idle = super::object::idle_secs(lru, ctx.shared.db.access_time_ms());
    let v = &e.value;
    let (at, refcount) = match v {
        crate::db::Value::Str(s) => {
            let shared = crate::frame::parse_i64(s).is_some_and(|n| (0..10_000).contains(&n));
            (s.as_ptr() as usize, if shared { i64::from(i32::MAX) } else { 1 })
        }
        other => (other as *const crate::db::Value as usize, 1),
    };
    let len = super::dump::serialized_length(ctx, v);
    let line = format!(
        "Value at:{at:#x} refcount:{refcount} encoding:{} serializedlength:{len} lru:{lru} lru_seconds_idle:{idle}",
        v.encoding()
    );
    ctx.out.simple(&line);
    Ok(())
}

/// DEBUG PROTOCOL <type>: one reply of each RESP type, as Redis's client test suites expect.
fn protocol(ctx: &mut Ctx<'_>, name: &[u8]) -> CmdResult {
    let out = &mut *ctx.out;
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    match name.as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Redis's literal, not π.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" if out.resp3 => out.buf.extend_from_slice(b"(1234567999999999999999999999999999999\r\n"),
        "bignum" => out.bulk(b"1234567999999999999999999999999999999"),
        "null" => out.null(),
        "array" | "set" | "map" => {
            match name.as_str() {
                "array" => out.array(3),
                "set" => out.set(3),
                _ => out.map(3),
            }
            for i in 0..3 {
                out.int(i);
                if name == "map" {
                    out.boolean(i == 1);
                }
            }
        }
        "attrib" => {
            if out.resp3 {
                out.buf.extend_from_slice(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !out.resp3 {
                return Err("ERR RESP2 is not supported by this command".into());
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "verbatim" => out.verbatim(b"This is a verbatim\nstring"),
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        _ => {
            return Err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false".into());
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>) {
    const LINES: &[&str] = &[
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANGE-REPL-ID",
        "    Change the replication IDs of the instance.",
        "    Dangerous: should be used only for testing the replication subsystem.",
        "ERROR <string>",
        "    Return a Redis protocol error with <string> as message. Useful for clients",
        "    unit tests to simulate Redis errors.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.simple_lines(LINES);
}

/// LOLWUT [VERSION v [params…]]: Redis 7.0 draws art for versions 5 and 6 (whose numeric
/// parameters it checks) and prints only its version line otherwise. We draw our own small
/// piece for 5 and 6 — squares that tumble more row after row, after Georg Nees's "Schotter" —
/// bounded in size, and the same version line.
fn lolwut(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let mut version = 7;
    let mut params: &[Bytes] = &[];
    if a.len() >= 3 && super::is(&a[1], "version") {
        version = super::arg_i64(&a[2])?;
        params = &a[3..];
    }
    let mut text = String::new();
    if version == 5 || version == 6 {
        let mut nums = [66i64, 8, 12];
        for (slot, p) in nums.iter_mut().zip(params) {
            *slot = super::arg_i64(p)?;
        }
        let cols = nums[0].clamp(1, 200) as usize;
        let rows = nums[2].clamp(1, 40) as usize;
        let marks = [' ', '.', ':', '+', 'x', '#'];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for r in 0..rows {
            for _ in 0..cols {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let disorder = (r * (marks.len() - 1)) / rows.max(1);
                let jitter = (seed >> 33) as usize % (disorder + 1);
                text.push(marks[(marks.len() - 1 - jitter).min(marks.len() - 1)]);
            }
            text.push('\n');
        }
        text.push_str("\nAfter Georg Nees - schotter, plotter on paper, 1968. ");
    }
    text.push_str(&format!("Redis ver. {REDIS_VERSION}\n"));
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::{run_table, run_table_with};

    #[test]
    fn sleep_reads_its_argument_like_strtod() {
        use super::seconds;
        assert_eq!(seconds(b"0.5"), 0.5);
        assert_eq!(seconds(b"2x"), 2.0);
        assert_eq!(seconds(b"x"), 0.0);
        assert_eq!(seconds(b"-1"), 0.0);
    }

    #[test]
    fn set_active_expire_reads_its_argument_like_atoi() {
        use super::atoi;
        assert_eq!([atoi(b"1"), atoi(b" 0"), atoi(b"-2"), atoi(b"7x"), atoi(b"yes"), atoi(b"")], [1, 0, -2, 7, 0, 0]);
    }

    #[tokio::test]
    async fn debug_is_refused_unless_enabled() {
        run_table(&[
            ("DEBUG SLEEP 0", "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n"),
            ("LOLWUT", "$18\r\nRedis ver. 7.0.15\n\r\n"),
        ])
        .await;
        let local =
            |c: &mut crate::config::Config| c.set("enable-debug-command", &["local"]).expect("a Redis directive");
        run_table_with(local, &[("DEBUG SLEEP 0", "+OK\r\n")]).await;
    }

    #[tokio::test]
    async fn debug_subset_and_lolwut() {
        let yes = |c: &mut crate::config::Config| c.set("enable-debug-command", &["yes"]).expect("a Redis directive");
        run_table_with(
            yes,
            &[
                ("SET k 100", "+OK\r\n"),
                ("SET s hello", "+OK\r\n"),
                ("DEBUG OBJECT k", "+Value at:0x..."),
                ("DEBUG OBJECT nokey", "-ERR no such key\r\n"),
                (
                    "DEBUG OBJECT",
                    "-ERR unknown subcommand or wrong number of arguments for 'OBJECT'. Try DEBUG HELP.\r\n",
                ),
                (
                    "DEBUG nosuch",
                    "-ERR unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG HELP.\r\n",
                ),
                ("DEBUG", "-ERR wrong number of arguments for 'debug' command\r\n"),
                ("DEBUG SLEEP 0", "+OK\r\n"),
                ("DEBUG SLEEP 0.01", "+OK\r\n"),
                ("DEBUG SET-ACTIVE-EXPIRE 0", "+OK\r\n"),
                ("DEBUG ERROR hello", "-hello\r\n"),
                ("DEBUG PROTOCOL map", "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n"),
                ("DEBUG PROTOCOL push", "-ERR RESP2 is not supported by this command\r\n"),
                ("LOLWUT", "$18\r\nRedis ver. 7.0.15\n\r\n"),
                ("LOLWUT VERSION x", "-ERR value is not an integer or out of range\r\n"),
                ("LOLWUT VERSION 6 a", "-ERR value is not an integer or out of range\r\n"),
                ("LOLWUT VERSION 5 10 1 2", "$..."),
                ("HELLO 3", "%7\r\n..."),
                ("DEBUG PROTOCOL map", "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"),
                ("DEBUG PROTOCOL bignum", "(1234567999999999999999999999999999999\r\n"),
            ],
        )
        .await;
    }
}
