//! LATENCY LATEST / HISTORY / RESET / DOCTOR / HELP: the latency monitor's events (samples of at
//! least `latency-monitor-threshold` ms, see [`crate::metrics::latency`]: commands, and the
//! keyspace's `expire-cycle` and `eviction-cycle`, with DOCTOR's advice on them) with Redis 7.0's reply
//! shapes, HISTOGRAM from the per-command histograms INFO latencystats reads
//! ([`crate::metrics::histogram`]), and GRAPH drawn as Redis's sparkline (4 rows of `_o#|`,
//! 80 columns, each sample labelled with how long ago it was taken).

use super::{CmdResult, CommandSpec, Ctx, container_row, spec};
use bytes::Bytes;
use std::fmt::Write as _;

const G: &str = "server";
const FLAGS: &[&str] = &["admin", "noscript", "loading", "stale"];

const SUBS: &[CommandSpec] = &[
    spec("latest", 2, FLAGS, (0, 0, 0), G, "Return the latest latency samples for all events.", "2.8.13", latest),
    spec("history", 3, FLAGS, (0, 0, 0), G, "Return timestamp-latency samples for the event.", "2.8.13", history),
    spec("reset", -2, FLAGS, (0, 0, 0), G, "Reset latency data for one or more events.", "2.8.13", reset),
    spec("doctor", 2, FLAGS, (0, 0, 0), G, "Return a human readable latency analysis report.", "2.8.13", doctor),
    spec("graph", 3, FLAGS, (0, 0, 0), G, "Return a latency graph for the event.", "2.8.13", graph),
    spec(
        "histogram",
        -2,
        FLAGS,
        (0, 0, 0),
        G,
        "Return the cumulative distribution of latencies of a subset of commands or all.",
        "7.0.0",
        histogram,
    ),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Show helpful text about the different subcommands.",
        "2.8.13",
        help,
    ),
];

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] =
    &[container_row("latency", G, "A container for latency diagnostics commands", "2.8.13", SUBS)];

fn latest(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let events = ctx.shared.metrics.latency.snapshot();
    ctx.out.array(events.len());
    for (name, s) in events {
        let (time, ms) = s.samples.back().copied().unwrap_or_default();
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(time as i64);
        ctx.out.int(ms as i64);
        ctx.out.int(s.max as i64);
    }
    Ok(())
}

fn history(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&a[2]);
    let events = ctx.shared.metrics.latency.snapshot();
    let samples = events.get(name.as_ref()).map(|s| s.samples.clone()).unwrap_or_default();
    ctx.out.array(samples.len());
    for (time, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(time as i64);
        ctx.out.int(ms as i64);
    }
    Ok(())
}

/// Columns of a LATENCY GRAPH line, and rows of its bars.
const GRAPH_COLS: usize = 80;
const GRAPH_ROWS: usize = 4;

/// Redis's filled sparkline: each column's value picks one of `rows × 3` steps between the
/// series' low and high; a column is `_`, `o`, `#` in the row its step lands on and `|` below,
/// then a blank line and the column's label written downwards.
fn sparkline(out: &mut String, samples: &[(u64, String)], low: u64, high: u64) {
    const FILL: &[u8] = b"_o#";
    let steps = (GRAPH_ROWS * FILL.len()) as f64;
    let range = if high > low { (high - low) as f64 } else { 1.0 };
    for (n, chunk) in samples.chunks(GRAPH_COLS).enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let step: Vec<usize> =
            chunk.iter().map(|(v, _)| (((v - low) as f64 * steps / range) as usize).min(steps as usize - 1)).collect();
        for row in 0..GRAPH_ROWS {
            let line: String = step
                .iter()
                .map(|&st| {
                    let idx = st as i64 - ((GRAPH_ROWS - row - 1) * FILL.len()) as i64;
                    match idx {
                        i if i < 0 => ' ',
                        i if (i as usize) < FILL.len() => FILL[i as usize] as char,
                        _ => '|',
                    }
                })
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&" ".repeat(chunk.len()));
        out.push('\n');
        let tallest = chunk.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
        for k in 0..tallest {
            let line: String = chunk.iter().map(|(_, l)| l.as_bytes().get(k).map_or(' ', |&b| b as char)).collect();
            out.push_str(&line);
            out.push('\n');
        }
    }
}

fn graph(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&a[2]).into_owned();
    let events = ctx.shared.metrics.latency.snapshot();
    let Some(series) = events.get(&name).filter(|s| !s.samples.is_empty()) else {
        return Err(format!("ERR No samples available for event '{name}'").into());
    };
    let now = ctx.now / 1000;
    let samples: Vec<(u64, String)> = series
        .samples
        .iter()
        .map(|&(t, ms)| {
            let ago = now.saturating_sub(t);
            let label = match ago {
                0..60 => format!("{ago}s"),
                60..3600 => format!("{}m", ago / 60),
                3600..86400 => format!("{}h", ago / 3600),
                _ => format!("{}d", ago / 86400),
            };
            (ms, label)
        })
        .collect();
    let low = samples.iter().map(|s| s.0).min().unwrap_or(0);
    let high = samples.iter().map(|s| s.0).max().unwrap_or(0);
    let mut out = format!("{name} - high {high} ms, low {low} ms (all time high {} ms)\n", series.max);
    out.push_str(&"-".repeat(GRAPH_COLS));
    out.push('\n');
    sparkline(&mut out, &samples, low, high);
    ctx.out.verbatim(out.as_bytes());
    Ok(())
}

fn histogram(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let reg = super::registry();
    let asked: Vec<String> = a[2..].iter().map(|n| String::from_utf8_lossy(n).to_ascii_lowercase()).collect();
    let rows: Vec<(&str, crate::metrics::histogram::Cumulative)> = if asked.is_empty() {
        reg.entries
            .iter()
            .zip(&reg.stats)
            .filter_map(|((n, _), st)| Some((n.as_str(), st.latency.cumulative()?)))
            .collect()
    } else {
        // Each name once, in the order asked; a container's name stands for its subcommands.
        let mut names: Vec<usize> = Vec::new();
        for want in &asked {
            for (i, (n, _)) in reg.entries.iter().enumerate() {
                let hit = n == want || n.strip_prefix(want.as_str()).is_some_and(|r| r.starts_with('|'));
                if hit && !names.contains(&i) {
                    names.push(i);
                }
            }
        }
        names
            .into_iter()
            .filter_map(|i| Some((reg.entries[i].0.as_str(), reg.stats[i].latency.cumulative()?)))
            .collect()
    };
    ctx.out.map(rows.len());
    for (name, (calls, buckets)) in rows {
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(calls as i64);
        ctx.out.bulk(b"histogram_usec");
        ctx.out.map(buckets.len());
        for (bound, n) in buckets {
            ctx.out.int(bound as i64);
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let names: Vec<String> = a[2..].iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect();
    let n = ctx.shared.metrics.latency.reset(&names);
    ctx.out.int(n as i64);
    Ok(())
}

/// A report in the spirit (and voice) of Redis's: each event's spikes, average, mean
/// deviation, period and worst, then advice on what the events point to.
pub fn doctor_text(
    events: &std::collections::BTreeMap<String, crate::metrics::latency::Series>,
    slowlog_us: i64,
    threshold_ms: u64,
    hz: u64,
) -> String {
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".into();
    }
    let mut out = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    for (i, (name, s)) in events.iter().enumerate() {
        let n = s.samples.len().max(1) as f64;
        let avg = s.samples.iter().map(|(_, ms)| *ms as f64).sum::<f64>() / n;
        let mad = s.samples.iter().map(|(_, ms)| (*ms as f64 - avg).abs()).sum::<f64>() / n;
        let span = match (s.samples.front(), s.samples.back()) {
            (Some(a), Some(b)) if s.samples.len() > 1 => (b.0 - a.0) as f64 / (n - 1.0),
            _ => 1.0,
        };
        let _ = writeln!(
            out,
            "{}. {name}: {} latency spikes (average {avg:.0}ms, mean deviation {mad:.0}ms, period {span:.2} sec). Worst all time event {}ms.",
            i + 1,
            s.samples.len(),
            s.max
        );
    }
    out.push_str("\nI have a few advices for you:\n\n");
    if slowlog_us < 0 || slowlog_us as u64 > threshold_ms * 1000 {
        let _ = writeln!(
            out,
            "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.",
            threshold_ms * 1000
        );
    }
    if events.keys().any(|k| k == "command" || k == "fast-command") {
        out.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if events.contains_key("fast-command") {
        out.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to: 1) Lower the system load. 2) Use a computer / VM just for Redis if you are running in a virtualized environment.\n");
    }
    // Redis's advice for its expiry and eviction events, in its order.
    let expire_cycle = events.contains_key("expire-cycle");
    if expire_cycle && hz < 100 {
        out.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if expire_cycle || events.contains_key("eviction-del") {
        out.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if events.contains_key("eviction-cycle") {
        out.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
    }
    out
}

fn doctor(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let events = ctx.shared.metrics.latency.snapshot();
    let (slowlog, threshold, hz) = {
        let c = ctx.shared.config.read();
        let hz = c.get("hz").and_then(|h| h.parse().ok()).unwrap_or(10);
        (c.slowlog_log_slower_than, c.latency_monitor_threshold, hz)
    };
    ctx.out.verbatim(doctor_text(&events, slowlog, threshold, hz).as_bytes());
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.simple_lines(LINES);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    #[test]
    fn sparkline_draws_like_redis() {
        let mut out = String::new();
        let s = |v: u64, l: &str| (v, l.to_string());
        super::sparkline(&mut out, &[s(10, "5s"), s(20, "4s"), s(40, "1m"), s(25, "0s")], 10, 40);
        // 10, 20, 40, 25 between low 10 and high 40: steps 0, 4, 11, 6 of 12.
        assert_eq!(out, "  # \n  |_\n o||\n_|||\n    \n5410\nssms\n");
    }

    #[test]
    fn doctor_advises_on_expiry_and_eviction_cycles_like_redis() {
        let m = crate::metrics::latency::Monitor::default();
        m.add("expire-cycle", 100, 30);
        m.add("eviction-cycle", 100, 12);
        let text = super::doctor_text(&m.snapshot(), 10_000, 1, 10);
        assert!(text.contains("1. eviction-cycle: 1 latency spikes (average 12ms"), "{text}");
        assert!(text.contains("2. expire-cycle: 1 latency spikes (average 30ms"), "{text}");
        let hz = text.find("'CONFIG SET hz 100'.\n").expect("hz advice");
        let large = text.find("try to fragment those objects").expect("large objects advice");
        let mass = text.find("forcing the server to block trying to evict keys. \n").expect("mass eviction advice");
        assert!(hz < large && large < mass, "{text}");
        assert!(!super::doctor_text(&m.snapshot(), 10_000, 1, 100).contains("CONFIG SET hz"));
    }

    #[tokio::test]
    async fn latency_commands() {
        run_table(&[
            ("LATENCY LATEST", "*0\r\n"),
            ("LATENCY HISTORY command", "*0\r\n"),
            ("LATENCY RESET", ":0\r\n"),
            ("LATENCY DOCTOR", "$...Dave, no latency spike was observed..."),
            ("LATENCY HELP", "*17\r\n+LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n..."),
            ("CONFIG SET latency-monitor-threshold 1", "+OK\r\n"),
            ("EVAL \"local i=0 while i<3000000 do i=i+1 end return i\" 0", ":3000000\r\n"),
            ("LATENCY LATEST", "*1\r\n*4\r\n$7\r\ncommand\r\n:..."),
            ("LATENCY HISTORY command", "*1\r\n*2\r\n:..."),
            ("LATENCY DOCTOR", "$...1. command: 1 latency spikes..."),
            ("LATENCY GRAPH command", "$...\n--------------------------------------------------------------------------------\n \n \n \n_\n \n...\ns\n\r\n"),
            ("LATENCY RESET command nope", ":1\r\n"),
            ("LATENCY LATEST", "*0\r\n"),
            ("LATENCY GRAPH command", "-ERR No samples available for event 'command'\r\n"),
            ("LATENCY HISTOGRAM nosuch", "*0\r\n"),
            // Command statistics are process-wide: other tests' EVALs count too.
            ("LATENCY HISTOGRAM eval", "*2\r\n$4\r\neval\r\n*4\r\n$5\r\ncalls\r\n:...\r\n$14\r\nhistogram_usec\r\n*...\r\n:...\r\n"),
        ])
        .await;
    }
}
