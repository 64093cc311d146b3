//! MIGRATE (one key, or `""` and `KEYS k…`) with COPY, REPLACE and AUTH / AUTH2, and
//! RESTORE-ASKING (RESTORE that an importing cluster node serves without a redirection). Works
//! with or without cluster mode; the wire exchange lives in [`crate::cluster::migrate`].
//!
//! Redis runs MIGRATE on its one thread and blocks every client meanwhile. Here the keys are read
//! (and their DUMP payloads built) without holding their shards, the exchange with the target runs
//! off the async workers ([`tokio::task::block_in_place`]) so that only the caller waits, and then
//! each key the target acknowledged is deleted under its shard lock — only if it is still the
//! value that was sent. A key written meanwhile is sent again (with REPLACE: the target holds our
//! older copy), a few rounds at most.

use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, arg_i64, is, spec};
use crate::cluster::migrate::{Item, Request, transfer};
use crate::db::{Entry, Value};
use crate::notify::Class;
use crate::persistence::rdb;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

const G: &str = "generic";

/// Rounds of sending keys that changed while they were in flight.
const ROUNDS: usize = 4;

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "migrate",
        -6,
        &["write", "movablekeys"],
        (3, 3, 1),
        G,
        "Atomically transfer a key from a Redis instance to another one.",
        "2.6.0",
        migrate,
    ),
    spec(
        "restore-asking",
        -4,
        &["write", "denyoom", "asking"],
        (1, 1, 1),
        "server",
        "An internal command for migrating keys in a cluster",
        "3.0.0",
        super::dump::restore,
    ),
];

/// MIGRATE's arguments after the first six.
struct Opts<'a> {
    copy: bool,
    replace: bool,
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    keys: &'a [Bytes],
}

fn options(a: &[Bytes]) -> Result<Opts<'_>, CmdError> {
    let mut o = Opts { copy: false, replace: false, auth: None, keys: &a[3..4] };
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(&a[j], "copy") {
            o.copy = true;
        } else if is(&a[j], "replace") {
            o.replace = true;
        } else if is(&a[j], "auth") {
            if more == 0 {
                return Err(SYNTAX.into());
            }
            o.auth = Some((None, &a[j + 1]));
            j += 1;
        } else if is(&a[j], "auth2") {
            if more < 2 {
                return Err(SYNTAX.into());
            }
            o.auth = Some((Some(&a[j + 1]), &a[j + 2]));
            j += 2;
        } else if is(&a[j], "keys") {
            if !a[3].is_empty() {
                return Err(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string".into()
                );
            }
            o.keys = &a[j + 1..];
            break;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

/// Whether `now` is still the entry `sent` was read from (collections are shared until written:
/// a write copies them, so pointer equality means unchanged).
fn unchanged(sent: &Entry, now: &Entry) -> bool {
    sent.expire_at == now.expire_at
        && match (&sent.value, &now.value) {
            (Value::Str(a), Value::Str(b)) => a[..] == b[..],
            (Value::Hash(a), Value::Hash(b)) => Arc::ptr_eq(a, b),
            (Value::List(a), Value::List(b)) => Arc::ptr_eq(a, b),
            (Value::Set(a), Value::Set(b)) => Arc::ptr_eq(a, b),
            (Value::ZSet(a), Value::ZSet(b)) => Arc::ptr_eq(a, b),
            (Value::Stream(a), Value::Stream(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
}

fn migrate(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let o = options(a)?;
    let timeout = arg_i64(&a[5])?;
    let db = arg_i64(&a[4])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let host = String::from_utf8_lossy(&a[1]).into_owned();
    let port = String::from_utf8_lossy(&a[2]).into_owned();
    let mut pending: Vec<(Bytes, Entry)> = o.keys.iter().filter_map(|k| ctx.get(k).map(|e| (k.clone(), e))).collect();
    if pending.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let opts =
        rdb::Options { compress: ctx.shared.config.read().inert.get("rdbcompression").is_none_or(|v| v != "no") };
    let mut replace = o.replace;
    for _ in 0..ROUNDS {
        let now = ctx.shared.db.clock.now_ms();
        // Keys that expired since they were read are skipped, as Redis does.
        pending.retain(|(_, e)| e.expire_at == 0 || e.expire_at > now);
        let mut items = Vec::with_capacity(pending.len());
        for (k, e) in &pending {
            let payload = ctx.long(super::dump::elements(&e.value), |_| rdb::dump_payload(&e.value, opts));
            let payload = payload.map_err(|e| CmdError::from(format!("ERR DUMP: {e}")))?;
            let ttl = if e.expire_at == 0 { 0 } else { (e.expire_at - now).max(1) };
            items.push(Item { key: k.clone(), ttl, payload });
        }
        let req = Request {
            host: &host,
            port: &port,
            auth: o.auth,
            db,
            timeout,
            asking: ctx.shared.cluster.is_some(),
            replace,
            items,
        };
        let outcome = blocking(|| transfer(&req));
        let mut changed = Vec::new();
        for ((k, sent), acked) in pending.into_iter().zip(outcome.acked.iter().copied().chain(std::iter::repeat(false)))
        {
            if !acked || o.copy {
                continue;
            }
            let deleted = ctx.update(&k, |cur| match cur.get() {
                Some(e) if unchanged(&sent, e) => cur.delete(),
                Some(e) => {
                    changed.push((k.clone(), e.clone()));
                    false
                }
                None => false,
            });
            if deleted {
                ctx.notify(Class::Generic, "del", &k);
            }
        }
        if let Some(err) = outcome.error {
            return Err(err.into());
        }
        if changed.is_empty() {
            ctx.out.simple("OK");
            return Ok(());
        }
        // The target holds the older copy of these: overwrite it.
        pending = changed;
        replace = true;
    }
    Err("ERR MIGRATE: keys kept changing while they were sent; try again".into())
}

/// Runs blocking socket I/O off the async workers (in place on a current-thread runtime).
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread) {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
