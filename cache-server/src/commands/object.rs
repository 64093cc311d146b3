//! OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP: what Redis says about a key's storage,
//! and the Redis side of the per-key access clock that IDLETIME, FREQ, DEBUG OBJECT, RESTORE and
//! RDB files share.
//!
//! ENCODING reports the encoding Redis 7.0 would use for the value at the thresholds in force
//! (`Value::encoding`), so tools and tests that check it (e.g. for listpack → hashtable conversion)
//! see Redis's answers; our own layouts are described in `crate::entry` and `crate::types`.
//! REFCOUNT is 1, or `INT_MAX` for the integers 0..9999 Redis shares.
//!
//! The access clock: every key carries the core's 24-bit access stamp (`cache_core::access`, in
//! node padding, no memory), which holds what Redis's `robj.lru` holds: under the `*-lfu` policies
//! the minutes of the last decrement and an 8-bit logarithmic counter (5 for a new key,
//! `lfu-log-factor`, `lfu-decay-time`), under every other policy the LRU clock in seconds (the
//! mode follows CONFIG SET, the bits stay, as in Redis). The core stamps a key on every write and
//! on every read applied to its policy; the OBJECT commands, DEBUG OBJECT, MEMORY USAGE, TYPE,
//! EXISTS and TTL/PTTL/EXPIRETIME read through `Ctx::peek_untouched` / `Ctx::get_untouched`, which do not
//! touch it (Redis's `LOOKUP_NOTOUCH`). A read on the buffered path reaches its stamp when its
//! shard's buffer drains: at the next write to the shard, or by the 100 ms maintenance cycle
//! (`db.rs`'s `maintenance_cycle`, on a blocking thread), and IDLETIME / FREQ drain the key's shard first; so a stamp lags
//! by ~100 ms at most, as Redis's cached LRU clock does. Differences from Redis: a write command
//! that only looks (SETNX on an existing key, a failed INCR) does not stamp, where Redis's
//! `lookupKeyWrite` does; shared integers have no shared stamp (Redis's small integers share one
//! object, and so one clock, when `maxmemory` is 0). IDLETIME and FREQ answer nil for a missing
//! key, then refuse under the policy family that does not track them, with Redis's errors.

use super::{CmdResult, CommandSpec, Ctx, spec};
use crate::MaxMemoryPolicy;
use bytes::Bytes;
use cache_core::access;

const G: &str = "generic";
const RO: &[&str] = &["readonly"];

/// OBJECT's subcommands.
pub const OBJECT_SUBS: &[CommandSpec] = &[
    spec("encoding", 3, RO, (2, 2, 1), G, "Returns the internal encoding of a Redis object.", "2.2.3", encoding),
    spec("refcount", 3, RO, (2, 2, 1), G, "Returns the reference count of a value of a key.", "2.2.3", refcount),
    spec(
        "idletime",
        3,
        RO,
        (2, 2, 1),
        G,
        "Returns the time since the last access to a Redis object.",
        "2.2.3",
        idletime,
    ),
    spec(
        "freq",
        3,
        RO,
        (2, 2, 1),
        G,
        "Returns the logarithmic access frequency counter of a Redis object.",
        "4.0.0",
        freq,
    ),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Returns helpful text about the different subcommands.",
        "6.2.0",
        help,
    ),
];

/// The OBJECT container row.
pub const COMMANDS: &[CommandSpec] =
    &[super::container_row("object", G, "A container for object introspection commands.", "2.2.3", OBJECT_SUBS)];

/// Looks the key up without touching its access statistics; `None` replies nil.
fn with_value(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&mut Ctx<'_>, &crate::db::Value)) -> CmdResult {
    match ctx.peek_untouched(key) {
        Some(e) => f(ctx, &e.value),
        None => ctx.out.null(),
    }
    Ok(())
}

impl Ctx<'_> {
    /// Reads a key without touching its access stamp and without counting (Redis's
    /// `LOOKUP_NOTOUCH|LOOKUP_NOSTATS`: OBJECT, DEBUG OBJECT).
    pub fn peek_untouched(&mut self, key: &[u8]) -> Option<crate::db::Entry> {
        match self.scope.as_deref_mut() {
            None => self.shared.db.peek_untouched(self.client.db, key, self.now),
            Some(s) => s.peek_untouched(self.client.db, key, self.now),
        }
    }

    /// Reads a key without touching its access stamp, counting a hit or miss (Redis's
    /// `LOOKUP_NOTOUCH`: TYPE, EXISTS, TTL, PTTL, EXPIRETIME, PEXPIRETIME).
    pub fn get_untouched(&mut self, key: &[u8]) -> Option<crate::db::Entry> {
        let r = self.peek_untouched(key);
        self.shared.db.count_lookup(self.client.db, key, r.is_some());
        r
    }

    /// The key's access stamp, reads buffered so far included (`None`: absent).
    pub fn access_stamp(&mut self, key: &[u8]) -> Option<u32> {
        match self.scope.as_deref_mut() {
            None => self.shared.db.access_stamp(self.client.db, key),
            Some(s) => s.access_stamp(self.client.db, key),
        }
    }

    /// Overwrites the key's access stamp (RESTORE's IDLETIME / FREQ).
    pub fn set_access_stamp(&mut self, key: &[u8], stamp: u32) -> bool {
        match self.scope.as_deref_mut() {
            None => self.shared.db.set_access_stamp(self.client.db, key, stamp),
            Some(s) => s.set_access_stamp(self.client.db, key, stamp),
        }
    }
}

/// Whether `policy` keeps LFU counters in the stamps (Redis's `MAXMEMORY_FLAG_LFU`); every other
/// policy keeps the LRU clock.
pub fn is_lfu(policy: MaxMemoryPolicy) -> bool {
    policy.algorithm() == "lfu"
}

/// Seconds since the access an LRU stamp records (Redis's `estimateObjectIdleTime / 1000`).
pub fn idle_secs(stamp: u32, now_ms: u64) -> u64 {
    access::idle_ms(stamp, now_ms) / 1000
}

/// The counter of an LFU stamp after its due decay (Redis's `LFUDecrAndReturn`).
pub fn lfu_freq(cfg: &crate::config::Config, stamp: u32, now_ms: u64) -> u8 {
    let decay = cfg.get("lfu-decay-time").and_then(|v| v.parse().ok()).unwrap_or(1);
    access::lfu_counter(stamp, now_ms, decay)
}

/// The stamp a restored or loaded key gets from a RESTORE `FREQ` / `IDLETIME` or an RDB `FREQ` /
/// `IDLE` record (Redis's `objectSetLRUOrLFU`): only the one that matches the policy applies;
/// `None` leaves the key's stamp as its write set it.
pub fn restored_stamp(policy: MaxMemoryPolicy, freq: Option<u8>, idle: Option<u64>, now_ms: u64) -> Option<u32> {
    if is_lfu(policy) {
        freq.map(|f| access::lfu_stamp(f, now_ms))
    } else {
        idle.map(|secs| access::lru_stamp_idle(secs, now_ms))
    }
}

/// The stamp of a key created now (Redis's `createObject`): what RESTORE REPLACE gives the new
/// key, which Redis creates afresh where a plain overwrite keeps counting on the old stamp.
pub fn fresh_stamp(policy: MaxMemoryPolicy, now_ms: u64) -> u32 {
    restored_stamp(policy, Some(access::LFU_INIT_VAL), Some(0), now_ms).unwrap_or(0)
}

fn encoding(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    with_value(ctx, &a[2], |ctx, v| ctx.out.bulk(v.encoding().as_bytes()))
}

fn refcount(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    with_value(ctx, &a[2], |ctx, v| {
        let shared = v.as_str().and_then(|s| crate::frame::parse_i64(s)).is_some_and(|n| (0..10_000).contains(&n));
        ctx.out.int(if shared { i64::from(i32::MAX) } else { 1 });
    })
}

fn policy(ctx: &Ctx<'_>) -> MaxMemoryPolicy {
    ctx.shared.config.read().maxmemory_policy
}

/// The key's stamp for OBJECT IDLETIME / FREQ: `None` (nil replied) when the key is missing.
fn stamp_of(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<u32> {
    let stamp = ctx.peek_untouched(key).and_then(|_| ctx.access_stamp(key));
    if stamp.is_none() {
        ctx.out.null();
    }
    stamp
}

/// OBJECT IDLETIME: nil for a missing key (Redis looks the key up before it checks the policy),
/// Redis's error under an LFU policy, else the seconds since the key's last access.
fn idletime(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let Some(stamp) = stamp_of(ctx, &a[2]) else { return Ok(()) };
    if is_lfu(policy(ctx)) {
        return Err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    ctx.out.int(idle_secs(stamp, ctx.shared.db.access_time_ms()) as i64);
    Ok(())
}

/// OBJECT FREQ: nil for a missing key, Redis's error unless an LFU policy is selected, else the
/// key's logarithmic access counter after its due decay.
fn freq(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let Some(stamp) = stamp_of(ctx, &a[2]) else { return Ok(()) };
    if !is_lfu(policy(ctx)) {
        return Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let now = ctx.shared.db.access_time_ms();
    let freq = lfu_freq(&ctx.shared.config.read(), stamp, now);
    ctx.out.int(i64::from(freq));
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.simple_lines(LINES);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::MaxMemoryPolicy;
    use crate::commands::testutil::run_table_with;

    const NOT_LFU: &str = "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n";
    const LFU: &str = "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n";

    #[tokio::test]
    async fn freq_and_idletime_check_the_key_then_the_policy() {
        run_table_with(
            |c| c.maxmemory_policy = MaxMemoryPolicy::AllKeysLru,
            &[
                ("SET k 100", "+OK\r\n"),
                ("SET s hello", "+OK\r\n"),
                ("OBJECT FREQ nokey", "$-1\r\n"),
                ("OBJECT FREQ k", NOT_LFU),
                ("OBJECT IDLETIME k", ":0\r\n"),
                ("OBJECT REFCOUNT k", ":2147483647\r\n"),
                ("OBJECT REFCOUNT s", ":1\r\n"),
                ("CONFIG SET maxmemory-policy noeviction", "+OK\r\n"),
                ("OBJECT FREQ k", NOT_LFU),
                ("OBJECT IDLETIME k", ":0\r\n"),
            ],
        )
        .await;
        run_table_with(
            |c| c.maxmemory_policy = MaxMemoryPolicy::AllKeysLfu,
            &[
                ("SET k 100", "+OK\r\n"),
                ("OBJECT IDLETIME nokey", "$-1\r\n"),
                ("OBJECT IDLETIME k", LFU),
                ("OBJECT FREQ k", ":5\r\n"),
                ("GET k", "$3\r\n100\r\n"),
                ("OBJECT FREQ k", ":6\r\n"),
                ("OBJECT ENCODING k", "$3\r\nint\r\n"),
                ("TYPE k", "+string\r\n"),
                ("EXISTS k", ":1\r\n"),
                ("TTL k", ":-1\r\n"),
                ("OBJECT FREQ k", ":6\r\n"),
                ("CONFIG SET maxmemory-policy noeviction", "+OK\r\n"),
                ("OBJECT FREQ k", NOT_LFU),
                ("CONFIG SET maxmemory-policy allkeys-lfu", "+OK\r\n"),
                ("OBJECT FREQ k", ":6\r\n"),
                ("OBJECT FREQ", "-ERR wrong number of arguments for 'object|freq' command\r\n"),
            ],
        )
        .await;
    }
}
