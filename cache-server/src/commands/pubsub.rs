//! Pub/sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH. Replies are pushes in
//! RESP3 and arrays in RESP2; a RESP2 client with a subscription enters subscribe mode (the
//! dispatcher then only lets subscribe commands, PING, QUIT and RESET through). The registry is
//! [`crate::pubsub`]; messages reach subscribers through their mailboxes.

use super::{CmdResult, CommandSpec, Ctx, spec};
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
        &["pubsub", "loading", "stale", "fast", "may-replicate"],
        (0, 0, 0),
        G,
        "Posts a message to a channel.",
        "2.0.0",
        publish,
    ),
];

fn reply(ctx: &mut Ctx<'_>, kind: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.client.subscriptions = count;
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

fn sub(ctx: &mut Ctx<'_>, a: &[Bytes], pattern: bool) -> CmdResult {
    let kind: &[u8] = if pattern { b"psubscribe" } else { b"subscribe" };
    for name in &a[1..] {
        let n = ctx.shared.db.tracking.pubsub.subscribe(ctx.client.handle.id, name, pattern);
        reply(ctx, kind, Some(name), n);
    }
    Ok(())
}

fn unsub(ctx: &mut Ctx<'_>, a: &[Bytes], pattern: bool) -> CmdResult {
    let kind: &[u8] = if pattern { b"punsubscribe" } else { b"unsubscribe" };
    let id = ctx.client.handle.id;
    let names = if a.len() > 1 { a[1..].to_vec() } else { ctx.shared.db.tracking.pubsub.list(id, pattern) };
    if names.is_empty() {
        let n = ctx.client.subscriptions;
        reply(ctx, kind, None, n);
    }
    for name in &names {
        let n = ctx.shared.db.tracking.pubsub.unsubscribe(id, name, pattern);
        reply(ctx, kind, Some(name), n);
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    sub(ctx, a, false)
}

fn psubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    sub(ctx, a, true)
}

fn unsubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    unsub(ctx, a, false)
}

fn punsubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    unsub(ctx, a, true)
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
}
