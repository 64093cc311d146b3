//! DUMP and RESTORE: one key's value in Redis's serialization format (RDB version 10, CRC-64),
//! through [`crate::persistence::rdb`], so keys move between Redis 7.0 and us in both directions.
//! This file owns argument parsing, Redis's order of checks and error texts, and the keyspace
//! write; encoding and decoding (and their hostile-input checks) live in the persistence module.
//!
//! RESTORE decodes the payload before it takes the key, off the async worker when the payload is
//! large, so a big value stalls no other client. IDLETIME and FREQ are validated as Redis does (they
//! exclude each other) and only the one matching the policy applies, as Redis's
//! `objectSetLRUOrLFU`: IDLETIME seeds the key's LRU clock under a non-LFU policy, FREQ its LFU
//! counter under an LFU one (see `object.rs`).

use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, arg_i64, is, offload, spec};
use crate::db::{Entry, Value};
use crate::notify::Class;
use crate::persistence::rdb::{self, Options};
use bytes::Bytes;

const G: &str = "generic";

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "dump",
        2,
        &["readonly"],
        (1, 1, 1),
        G,
        "Return a serialized version of the value stored at the specified key.",
        "2.6.0",
        dump,
    ),
    spec(
        "restore",
        -4,
        &["write", "denyoom"],
        (1, 1, 1),
        G,
        "Create a key using the provided serialized value, previously obtained using DUMP.",
        "2.6.0",
        restore,
    ),
];

/// Elements a value holds (what serializing it visits), for [`Ctx::long`].
pub(crate) fn elements(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len() / 64,
        Value::Hash(h) => h.len(),
        Value::List(l) => l.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        Value::Stream(x) => x.len(),
    }
}

/// Whether DUMP compresses strings (`rdbcompression`, kept as an inert directive until snapshots
/// land).
fn rdb_options(ctx: &Ctx<'_>) -> Options {
    Options { compress: ctx.shared.config.read().inert.get("rdbcompression").is_none_or(|v| v != "no") }
}

/// The size of `v`'s RDB encoding, as DEBUG OBJECT's `serializedlength` reports it (0 if it has
/// none).
pub(crate) fn serialized_length(ctx: &mut Ctx<'_>, v: &Value) -> usize {
    let opts = rdb_options(ctx);
    ctx.long(elements(v), |_| {
        let mut out = Vec::new();
        rdb::encode_value(v, opts, &mut out).map_or(0, |()| out.len())
    })
}

fn dump(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let Some(e) = ctx.get(&a[1]) else {
        ctx.out.null();
        return Ok(());
    };
    let opts = rdb_options(ctx);
    let payload = ctx
        .long(elements(&e.value), |_| rdb::dump_payload(&e.value, opts))
        .map_err(|e| CmdError::from(format!("ERR DUMP: {e}")))?;
    ctx.out.bulk(&payload);
    Ok(())
}

/// RESTORE's options after the payload, checked in Redis's order.
#[derive(Debug, Default)]
struct Opts {
    replace: bool,
    absttl: bool,
    /// IDLETIME, seconds.
    idle: Option<u64>,
    /// FREQ.
    freq: Option<u8>,
}

fn options(a: &[Bytes]) -> Result<Opts, CmdError> {
    let mut o = Opts::default();
    let mut j = 4;
    while j < a.len() {
        let more = j + 1 < a.len();
        if is(&a[j], "replace") {
            o.replace = true;
        } else if is(&a[j], "absttl") {
            o.absttl = true;
        } else if is(&a[j], "idletime") && more && o.freq.is_none() {
            let idle = arg_i64(&a[j + 1])?;
            if idle < 0 {
                return Err("ERR Invalid IDLETIME value, must be >= 0".into());
            }
            o.idle = Some(idle as u64);
            j += 1;
        } else if is(&a[j], "freq") && more && o.idle.is_none() {
            let freq = arg_i64(&a[j + 1])?;
            if !(0..=255).contains(&freq) {
                return Err("ERR Invalid FREQ value, must be >= 0 and <= 255".into());
            }
            o.freq = Some(freq as u8);
            j += 1;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

/// What RESTORE did to the key.
enum Done {
    Restored { replaced: bool },
    Deleted,
    Nothing,
}

const BUSYKEY: &str = "BUSYKEY Target key name already exists.";

pub(crate) fn restore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let o = options(a)?;
    if !o.replace && ctx.peek(&a[1]).is_some() {
        return Err(BUSYKEY.into());
    }
    let ttl = arg_i64(&a[2])?;
    if ttl < 0 {
        return Err("ERR Invalid TTL value, must be >= 0".into());
    }
    let payload = &a[3];
    let value = offload(payload.len() / 64, || rdb::restore_payload(payload)).map_err(|e| match e {
        rdb::Error::Footer => CmdError::from("ERR DUMP payload version or checksum are wrong"),
        _ => CmdError::from("ERR Bad data format"),
    })?;
    let expire_at = match ttl as u64 {
        0 => 0,
        t if o.absttl => t,
        t => t.saturating_add(ctx.now),
    };
    let now = ctx.now;
    let done = ctx.update(&a[1], |cur| {
        let existed = cur.get().is_some();
        if existed && !o.replace {
            return Err(BUSYKEY);
        }
        if expire_at != 0 && expire_at <= now {
            // Already expired: the key is not created, and REPLACE deleted the old one.
            return Ok(if existed && cur.delete() { Done::Deleted } else { Done::Nothing });
        }
        cur.put(Entry::expiring(value, expire_at));
        Ok(Done::Restored { replaced: existed })
    });
    // Events as Redis sends them: `new` (the keyspace sends it for a key it creates; a replaced
    // one is deleted and added anew), then `restore`; `del` for a REPLACE that expired at once.
    match done.map_err(CmdError::from)? {
        Done::Restored { replaced } => {
            let policy = ctx.shared.config.read().maxmemory_policy;
            let now = ctx.db().access_time_ms();
            let stamp = super::object::restored_stamp(policy, o.freq, o.idle, now)
                .or_else(|| replaced.then(|| super::object::fresh_stamp(policy, now)));
            if let Some(stamp) = stamp {
                ctx.set_access_stamp(&a[1], stamp);
            }
            if replaced {
                ctx.notify(Class::New, "new", &a[1]);
            }
            ctx.notify(Class::Generic, "restore", &a[1]);
        }
        Done::Deleted => ctx.notify(Class::Generic, "del", &a[1]),
        Done::Nothing => {}
    }
    ctx.out.simple("OK");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    /// DUMP of `SET k 12345` on redis-server 7.0.15, in redis-cli quoting.
    const INT: &str = r#""\x00\xc190\n\x00\x9d\x94\xea'\x93\xfc\x08\xb9""#;

    #[tokio::test]
    async fn errors_in_redis_order_and_restores() {
        let restore = |rest: &str| format!("restore {rest}").replace("P", INT);
        let lines = [
            ("set k v".to_string(), "+OK\r\n"),
            ("restore k 0 x".into(), "-BUSYKEY Target key name already exists.\r\n"),
            ("restore k -1 x replace".into(), "-ERR Invalid TTL value, must be >= 0\r\n"),
            ("restore k x x replace".into(), "-ERR value is not an integer or out of range\r\n"),
            ("restore k 0 x replace".into(), "-ERR DUMP payload version or checksum are wrong\r\n"),
            ("restore k 0 x replace idletime".into(), "-ERR syntax error\r\n"),
            ("restore k 0 x idletime -1".into(), "-ERR Invalid IDLETIME value, must be >= 0\r\n"),
            ("restore k 0 x freq 256".into(), "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n"),
            ("restore k 0 x freq 1 idletime 1".into(), "-ERR syntax error\r\n"),
            ("restore k 0 x idletime y".into(), "-ERR value is not an integer or out of range\r\n"),
            ("restore k 0 x bogus".into(), "-ERR syntax error\r\n"),
            (
                restore(r#"k 0 "\x00\x01a\n\x00\x00\x00\x00\x00\x00\x00\x00\x00" replace"#),
                "-ERR DUMP payload version or checksum are wrong\r\n",
            ),
            (restore("k 0 P replace freq 5"), "+OK\r\n"),
            ("get k".into(), "$5\r\n12345\r\n"),
            ("object encoding k".into(), "$3\r\nint\r\n"),
            ("dump k".into(), "$14\r\n\x00..."),
            (restore("n 5000 P idletime 10"), "+OK\r\n"),
            ("pttl n".into(), ":...\r\n"),
            (restore("k 1 P replace absttl"), "+OK\r\n"),
            ("exists k".into(), ":0\r\n"),
            (restore("k 1 P absttl"), "+OK\r\n"),
            ("exists k".into(), ":0\r\n"),
            ("dump nokey".into(), "$-1\r\n"),
        ];
        let table: Vec<(&str, &str)> = lines.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        run_table(&table).await;
    }

    /// IDLETIME applies under an LRU policy, FREQ under an LFU one; the other is ignored.
    #[tokio::test]
    async fn restore_seeds_the_access_clock_matching_the_policy() {
        use crate::MaxMemoryPolicy;
        let restore = |rest: &str| format!("restore {rest}").replace("P", INT);
        let lru = [
            (restore("n 5000 P idletime 10"), "+OK\r\n"),
            ("object idletime n".into(), ":10\r\n"),
            (restore("m 0 P idletime 1000"), "+OK\r\n"),
            ("object idletime m".into(), ":1000\r\n"),
            (restore("m 0 P freq 7 replace"), "+OK\r\n"),
            ("object idletime m".into(), ":0\r\n"),
        ];
        let table: Vec<(&str, &str)> = lru.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        crate::commands::testutil::run_table_with(|c| c.maxmemory_policy = MaxMemoryPolicy::AllKeysLru, &table).await;
        let lfu = [
            (restore("m 0 P freq 100"), "+OK\r\n"),
            ("object freq m".into(), ":100\r\n"),
            (restore("m 0 P idletime 1000 replace"), "+OK\r\n"),
            ("object freq m".into(), ":5\r\n"),
        ];
        let table: Vec<(&str, &str)> = lfu.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        crate::commands::testutil::run_table_with(|c| c.maxmemory_policy = MaxMemoryPolicy::VolatileLfu, &table).await;
    }
}
