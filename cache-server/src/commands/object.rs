//! OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP: what Redis says about a key's storage.
//!
//! ENCODING reports the encoding Redis 7.0 would use for the value at the thresholds in force
//! (`Value::encoding`), so tools and tests that check it (e.g. for listpack → hashtable conversion)
//! see Redis's answers; our own layouts are described in `crate::entry` and `crate::types`.
//! REFCOUNT is 1, or `INT_MAX` for the integers 0..9999 Redis shares. IDLETIME and FREQ answer
//! nil for a missing key, then refuse under the policy families that do not track them, with
//! Redis's errors (in Redis's order). FREQ then answers W-TinyLFU's own estimate of the key's use
//! (`Cache::frequency`: 0..=15, halved as the sketch ages) where Redis keeps an 8-bit logarithmic
//! counter: another scale, but the order of keys by use is the one our eviction acts on. IDLETIME
//! answers 0, a known gap: the core keeps no per-key access clock (it would need a last-access
//! stamp per entry, about 4 bytes written on every read, or an estimate from the entry's place in
//! its LRU list).

use super::{CmdResult, CommandSpec, Ctx, spec};
use crate::MaxMemoryPolicy;
use bytes::Bytes;

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
    match ctx.peek(key) {
        Some(e) => f(ctx, &e.value),
        None => ctx.out.null(),
    }
    Ok(())
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

/// OBJECT IDLETIME: nil for a missing key (Redis looks the key up before it checks the policy),
/// Redis's error under an LFU policy, else 0 — see the module doc.
fn idletime(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if ctx.peek(&a[2]).is_none() {
        ctx.out.null();
        return Ok(());
    }
    if policy(ctx).algorithm() == "lfu" {
        return Err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    ctx.out.int(0);
    Ok(())
}

/// OBJECT FREQ: nil for a missing key, Redis's error unless an LFU policy is selected, else the
/// policy's frequency estimate — see the module doc.
fn freq(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if ctx.peek(&a[2]).is_none() {
        ctx.out.null();
        return Ok(());
    }
    if policy(ctx).algorithm() != "lfu" {
        return Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    // W-TinyLFU's estimate (0..=15, halved as the sketch ages) where Redis keeps its 8-bit
    // logarithmic counter: the scale differs, the order of keys by use (what `redis-cli
    // --hotkeys` ranks by) is the policy's own.
    ctx.out.int(i64::from(ctx.shared.db.frequency(ctx.client.db, &a[2]).unwrap_or(0)));
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
                ("OBJECT FREQ k", ":1\r\n"),
                ("SET hot 1", "+OK\r\n"),
                ("MGET hot hot hot hot hot hot hot hot", "*8\r\n..."),
                ("OBJECT FREQ hot", ":9\r\n"),
                ("OBJECT FREQ", "-ERR wrong number of arguments for 'object|freq' command\r\n"),
            ],
        )
        .await;
    }
}
