//! CONFIG GET / SET / RESETSTAT / REWRITE, with Redis 7.0's semantics: GET takes several
//! patterns and lists each directive once; SET takes several `name value` pairs and applies all
//! of them or none (checks first — unknown name, immutable, duplicate —, then every value on a
//! copy of the configuration that is installed only if all passed); RESETSTAT zeroes what INFO
//! counts (not the slow log); REWRITE rewrites the file the server started from
//! ([`crate::config::rewrite`]).

use super::super::{CmdError, CmdResult, Ctx, SYNTAX, registry};
use crate::config::{Config, ConfigError, MaxMemoryPolicy, redis};
use crate::glob;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

pub(super) fn config_get(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let cfg = ctx.shared.config.read().clone();
    let all = Config::all_names();
    // (name as replied, directive), each name once whatever its case, in the order found.
    let mut found: Vec<(String, &str)> = Vec::new();
    for p in &a[2..] {
        let pattern = String::from_utf8_lossy(p);
        if !pattern.contains(['*', '?', '[']) {
            // An exact name (hidden ones too) replies under the spelling asked, as Redis does.
            let lower = pattern.to_ascii_lowercase();
            if let Some((n, _)) = all.iter().find(|(n, _)| *n == lower)
                && !found.iter().any(|(f, _)| f.eq_ignore_ascii_case(&pattern))
            {
                found.push((pattern.into_owned(), n));
            }
            continue;
        }
        for (n, hidden) in &all {
            if !hidden && !found.iter().any(|(f, _)| f.eq_ignore_ascii_case(n)) && glob::matches(p, n.as_bytes(), true)
            {
                found.push((n.to_string(), n));
            }
        }
    }
    ctx.out.map(found.len());
    for (shown, n) in found {
        ctx.out.bulk(shown.as_bytes());
        ctx.out.bulk(cfg.get(n).unwrap_or_default().as_bytes());
    }
    Ok(())
}

/// Whether `enable-protected-configs` lets this client change protected directives (`dir`,
/// `dbfilename`): `yes`, or `local` from a loopback connection.
fn protected_allowed(ctx: &Ctx<'_>) -> bool {
    match ctx.shared.config.read().get("enable-protected-configs").as_deref() {
        Some("yes") => true,
        Some("local") => ctx.client.handle.addr.ip().is_loopback(),
        _ => false,
    }
}

pub(super) fn config_set(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    // An odd count past the table's arity (-4) is a syntax error in Redis 7.0.
    if a.len() % 2 != 0 {
        return Err(SYNTAX.into());
    }
    let pairs: Vec<(String, String)> = a[2..]
        .chunks(2)
        .map(|p| (String::from_utf8_lossy(&p[0]).into_owned(), String::from_utf8_lossy(&p[1]).into_owned()))
        .collect();
    let failed = |arg: &str, why: &str| {
        CmdError::from(format!("ERR CONFIG SET failed (possibly related to argument '{arg}') - {why}"))
    };
    // Phase 1, as Redis: the first unknown, immutable, protected or repeated name fails the lot.
    let mut complaint: Option<CmdError> = None;
    for (i, (name, _)) in pairs.iter().enumerate() {
        let lower = name.to_ascii_lowercase();
        if complaint.is_some() {
            break;
        }
        if !Config::knows(&lower) {
            complaint = Some(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'").into());
            continue;
        }
        let access = redis::find(&lower).map(|d| d.access);
        if Config::is_immutable(&lower) || access == Some(redis::Access::Immutable) {
            complaint = Some(failed(name, "can't set immutable config"));
        } else if access == Some(redis::Access::Protected) && !protected_allowed(ctx) {
            complaint = Some(failed(name, "can't set protected config"));
        } else if pairs[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            complaint = Some(failed(name, "duplicate parameter"));
        }
    }
    if let Some(e) = complaint {
        return Err(e);
    }
    // Phase 2: every value on a copy; the live configuration changes only if all of them pass.
    let mut cfg = ctx.shared.config.read().clone();
    for (name, value) in &pairs {
        let lower = name.to_ascii_lowercase();
        // Like Redis, a directive of several words takes them in one argument.
        let words: Vec<&str> = match lower.as_str() {
            "client-output-buffer-limit" | "save" | "oom-score-adj-values" | "latency-tracking-info-percentiles" => {
                value.split_whitespace().collect()
            }
            _ => vec![value.as_str()],
        };
        let words = if words.is_empty() { vec![""] } else { words };
        cfg.set(&lower, &words).map_err(|e: ConfigError| failed(name, &e.to_string()))?;
        let p = cfg.maxmemory_policy;
        let built = ctx.shared.built_algorithm();
        if p != MaxMemoryPolicy::NoEviction && p.algorithm() != built {
            let why = format!(
                "switching from {built} to {} eviction needs a restart (the cache is built with one eviction algorithm)",
                p.algorithm()
            );
            return Err(failed(name, &why));
        }
    }
    for w in cfg.take_warnings() {
        tracing::warn!("CONFIG SET: {w}");
    }
    ctx.shared.metrics.latency.set_threshold(cfg.latency_monitor_threshold);
    if cfg.loglevel != ctx.shared.config.read().loglevel {
        crate::config::loglevel_changed(&cfg.loglevel);
    }
    crate::metrics::set_latency_tracking(cfg.get("latency-tracking").as_deref() != Some("no"));
    let shrinks = cfg.maxmemory != 0 && cfg.maxmemory < ctx.shared.db.maxmemory();
    let started = std::time::Instant::now();
    if ctx.scope.is_some() {
        // Inside EXEC this thread holds shards: the sweep follows the EXEC.
        ctx.shared.apply_config_holding_shards(cfg);
        ctx.out.ok();
        return Ok(());
    }
    ctx.shared.apply_config(cfg);
    if shrinks {
        // The keys over the new budget were evicted during the call.
        let micros = started.elapsed().as_micros() as u64;
        ctx.shared.metrics.latency.event("eviction-cycle", micros, ctx.now / 1000);
    }
    ctx.out.ok();
    Ok(())
}

pub(super) fn config_resetstat(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let (evicted, expired) = match ctx.scope.as_deref() {
        Some(scope) => scope.evictions(),
        None => ctx.shared.db.evictions(),
    };
    ctx.shared.metrics.reset(evicted, expired);
    for s in &registry().stats {
        s.reset();
    }
    ctx.shared.db.stats.hits.store(0, Relaxed);
    ctx.shared.db.stats.misses.store(0, Relaxed);
    ctx.out.ok();
    Ok(())
}

pub(super) fn config_rewrite(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let cfg = ctx.shared.config.read().clone();
    match crate::config::rewrite::rewrite_file(&cfg) {
        Ok(()) => {
            tracing::info!(file = %cfg.config_file, "CONFIG REWRITE executed with success");
            ctx.out.ok();
            Ok(())
        }
        Err(None) => Err("ERR The server is running without a config file".into()),
        Err(Some(e)) => {
            tracing::warn!(file = %cfg.config_file, error = %e, "CONFIG REWRITE failed");
            Err(format!("ERR Rewriting config file: {e}").into())
        }
    }
}
