//! Pub/sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH, their sharded forms
//! SSUBSCRIBE SUNSUBSCRIBE SPUBLISH (without a cluster, shard channels are a namespace of their
//! own, as in a standalone Redis 7.0), PUBSUB introspection, and MONITOR. Replies are pushes in
//! RESP3 and arrays in RESP2; a RESP2 client with any subscription enters subscribe mode (the
//! dispatcher then only lets subscribe commands, PING, QUIT and RESET through). The registry is
//! [`crate::pubsub`]; messages reach subscribers through their mailboxes, MONITOR lines too
//! ([`crate::monitor`]).

use super::{CmdResult, CommandSpec, Ctx, container_row, spec};
use crate::pubsub::Kind;
use crate::tracking::Push;
use bytes::Bytes;

const G: &str = "pubsub";
const PS: &[&str] = &["pubsub", "noscript", "loading", "stale"];

/// The pub/sub family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec("subscribe", -2, PS, (0, 0, 0), G, "Listens for messages published to channels.", "2.0.0", subscribe),
    spec("unsubscribe", -1, PS, (0, 0, 0), G, "Stops listening to messages posted to channels.", "2.0.0", unsubscribe),
    spec(
        "psubscribe",
        -2,
        PS,
        (0, 0, 0),
        G,
        "Listens for messages published to channels that match one or more patterns.",
        "2.0.0",
        psubscribe,
    ),
    spec(
        "punsubscribe",
        -1,
        PS,
        (0, 0, 0),
        G,
        "Stops listening to messages published to channels that match one or more patterns.",
        "2.0.0",
        punsubscribe,
    ),
    spec(
        "publish",
        3,
        &["pubsub", "loading", "stale", "fast", "may_replicate"],
        (0, 0, 0),
        G,
        "Posts a message to a channel.",
        "2.0.0",
        publish,
    ),
    spec(
        "ssubscribe",
        -2,
        &["pubsub", "noscript", "loading", "stale"],
        (1, -1, 1),
        G,
        "Listen for messages published to the given shard channels",
        "7.0.0",
        ssubscribe,
    ),
    spec(
        "sunsubscribe",
        -1,
        &["pubsub", "noscript", "loading", "stale"],
        (1, -1, 1),
        G,
        "Stop listening for messages posted to the given shard channels",
        "7.0.0",
        sunsubscribe,
    ),
    spec(
        "spublish",
        3,
        &["pubsub", "loading", "stale", "fast"],
        (1, 1, 1),
        G,
        "Post a message to a shard channel",
        "7.0.0",
        spublish,
    ),
    container_row("pubsub", G, "A container for Pub/Sub commands", "2.8.0", PUBSUB_SUBS),
    spec(
        "monitor",
        1,
        &["admin", "noscript", "loading", "stale"],
        (0, 0, 0),
        "server",
        "Listen for all requests received by the server in real time",
        "1.0.0",
        monitor,
    ),
];

const INTRO: &[&str] = &["pubsub", "loading", "stale"];

const PUBSUB_SUBS: &[CommandSpec] = &[
    spec("numpat", 2, INTRO, (0, 0, 0), G, "Get the count of unique patterns pattern subscriptions", "2.8.0", numpat),
    spec("channels", -2, INTRO, (0, 0, 0), G, "List active channels", "2.8.0", channels),
    spec("numsub", -2, INTRO, (0, 0, 0), G, "Get the count of subscribers for channels", "2.8.0", numsub),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Show helpful text about the different subcommands",
        "6.2.0",
        pubsub_help,
    ),
    spec("shardchannels", -2, INTRO, (0, 0, 0), G, "List active shard channels", "7.0.0", shardchannels),
    spec(
        "shardnumsub",
        -2,
        INTRO,
        (0, 0, 0),
        G,
        "Get the count of subscribers for shard channels",
        "7.0.0",
        shardnumsub,
    ),
];

fn reply(ctx: &mut Ctx<'_>, kind: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.client.subscriptions = ctx.shared.db.tracking.pubsub.total_of(ctx.client.handle.id);
    ctx.client.subscribed = ctx.shared.db.tracking.pubsub.counts_of(ctx.client.handle.id);
    let out = &mut *ctx.out;
    out.push(3);
    out.bulk(kind);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

fn sub(ctx: &mut Ctx<'_>, a: &[Bytes], what: Kind) -> CmdResult {
    let kind: &[u8] = match what {
        Kind::Channel => b"subscribe",
        Kind::Pattern => b"psubscribe",
        Kind::Shard => b"ssubscribe",
    };
    for name in &a[1..] {
        let n = ctx.shared.db.tracking.pubsub.subscribe_to(ctx.client.handle.id, name, what);
        reply(ctx, kind, Some(name), n);
    }
    Ok(())
}

fn unsub(ctx: &mut Ctx<'_>, a: &[Bytes], what: Kind) -> CmdResult {
    let kind: &[u8] = match what {
        Kind::Channel => b"unsubscribe",
        Kind::Pattern => b"punsubscribe",
        Kind::Shard => b"sunsubscribe",
    };
    let (id, pubsub) = (ctx.client.handle.id, &ctx.shared.db.tracking.pubsub);
    let names = if a.len() > 1 { a[1..].to_vec() } else { pubsub.list_of(id, what) };
    if names.is_empty() {
        // The count of the kind asked about: channels + patterns, or shard channels.
        let n = pubsub.subscribe_count(id, what);
        reply(ctx, kind, None, n);
    }
    for name in &names {
        let n = ctx.shared.db.tracking.pubsub.unsubscribe_from(id, name, what);
        reply(ctx, kind, Some(name), n);
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    sub(ctx, a, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    sub(ctx, a, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    sub(ctx, a, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    unsub(ctx, a, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    unsub(ctx, a, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    unsub(ctx, a, Kind::Shard)
}

fn spublish(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let tracking = &ctx.shared.db.tracking;
    let mut n = 0;
    for id in tracking.pubsub.shard_receivers(&a[1]) {
        if let Some(mb) = tracking.mailbox(id) {
            mb.push(Push::ShardMessage { channel: a[1].clone(), payload: a[2].clone() });
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// PUBSUB CHANNELS / SHARDCHANNELS: at most one pattern (Redis's error otherwise).
fn list_channels(ctx: &mut Ctx<'_>, a: &[Bytes], shard: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&a[1])
        )
        .into());
    }
    let names = ctx.shared.db.tracking.pubsub.active(shard, a.get(2).map(|p| &p[..]));
    ctx.out.bulks(&names);
    Ok(())
}

fn channels(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    list_channels(ctx, a, false)
}

fn shardchannels(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    list_channels(ctx, a, true)
}

/// PUBSUB NUMSUB / SHARDNUMSUB: a flat channel, count list (an array in RESP3 too).
fn count_subscribers(ctx: &mut Ctx<'_>, a: &[Bytes], shard: bool) -> CmdResult {
    ctx.out.array((a.len() - 2) * 2);
    for c in &a[2..] {
        ctx.out.bulk(c);
        ctx.out.int(ctx.shared.db.tracking.pubsub.numsub(shard, c) as i64);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    count_subscribers(ctx, a, false)
}

fn shardnumsub(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    count_subscribers(ctx, a, true)
}

fn numpat(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.shared.db.tracking.pubsub.counts().1 as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.simple_lines(LINES);
    Ok(())
}

/// MONITOR: from now on the client receives a line per command run by anyone (see
/// [`crate::monitor`]). Inside EXEC it is refused (Redis's "deny blocking" clients); a second
/// MONITOR replies nothing, as in Redis.
fn monitor(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if ctx.scope.is_some() {
        return Err("ERR MONITOR isn't allowed for DENY BLOCKING client".into());
    }
    if ctx.shared.db.tracking.pubsub.monitors.add(ctx.client.handle.id, ctx.client.mailbox.clone()) {
        ctx.client.monitoring = true;
        ctx.out.ok();
    }
    Ok(())
}

fn publish(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = ctx.shared.db.tracking.publish(&a[1], &a[2]);
    ctx.out.int(n as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    #[tokio::test]
    async fn subscribe_mode_replies_and_restrictions() {
        run_table(&[
            ("UNSUBSCRIBE", "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"),
            ("PUBLISH ch hi", ":0\r\n"),
            // One reply per table row: multi-channel forms are covered against Redis in cache-tests.
            ("SUBSCRIBE a", "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"),
            ("SUBSCRIBE b", "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"),
            ("PSUBSCRIBE n*", "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n"),
            (
                "GET a",
                "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
            ),
            ("PING", "*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
            ("UNSUBSCRIBE a", "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n"),
            ("PUNSUBSCRIBE", "*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:1\r\n"),
            ("UNSUBSCRIBE b", "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"),
            ("PING", "+PONG\r\n"),
        ])
        .await;
    }

    #[tokio::test]
    async fn shard_channels_introspection_and_monitor_refusals() {
        run_table(&[
            ("PUBSUB NUMPAT", ":0\r\n"),
            ("SSUBSCRIBE s", "*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"),
            (
                "SPUBLISH s x",
                "-ERR Can't execute 'spublish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
            ),
            ("SUNSUBSCRIBE", "*3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n"),
            ("PUBSUB SHARDCHANNELS", "*0\r\n"),
            ("PUBSUB SHARDNUMSUB s", "*2\r\n$1\r\ns\r\n:0\r\n"),
            ("SPUBLISH s x", ":0\r\n"),
            (
                "PUBSUB CHANNELS a b",
                "-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n",
            ),
            ("MULTI", "+OK\r\n"),
            ("MONITOR", "+QUEUED\r\n"),
            ("EXEC", "*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"),
            ("MONITOR", "+OK\r\n"),
            ("RESET", "+RESET\r\n"),
        ])
        .await;
    }
}
