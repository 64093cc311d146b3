//! The typed commands: strings, keys and hashes as our server implements them, each a thin
//! wrapper that builds the arguments, picks the node, says whether a retry is safe, converts the
//! reply, and tells the near-cache about this client's own writes. Multi-key commands (MGET,
//! MSET, DEL, EXISTS) are split per node (in cluster mode per hash slot) and reassembled in the
//! caller's order.

use std::time::Duration;

use bytes::Bytes;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::router::{gather, join_all, split_by};
use crate::value::Value;

/// Expiry option of `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetExpiry {
    /// `EX seconds`.
    Ex(u64),
    /// `PX milliseconds`.
    Px(u64),
    /// `KEEPTTL`.
    KeepTtl,
}

/// Condition option of `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetCondition {
    /// `NX`: only if absent.
    Nx,
    /// `XX`: only if present.
    Xx,
}

/// Options of `SET`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetOptions {
    /// Expiry.
    pub expiry: Option<SetExpiry>,
    /// Condition.
    pub condition: Option<SetCondition>,
}

impl SetOptions {
    /// With an expiry.
    #[must_use]
    pub fn expiry(mut self, e: SetExpiry) -> Self {
        self.expiry = Some(e);
        self
    }

    /// With a condition.
    #[must_use]
    pub fn condition(mut self, c: SetCondition) -> Self {
        self.condition = Some(c);
        self
    }
}

/// Expiry option of `GETEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetExExpiry {
    /// `EX seconds`.
    Ex(u64),
    /// `PX milliseconds`.
    Px(u64),
    /// `PERSIST`.
    Persist,
}

fn b(x: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(x.as_ref())
}

fn n(x: impl ToString) -> Bytes {
    Bytes::from(x.to_string())
}

/// A TTL reply: -2 (no key) → `None`, -1 (no expiry) → `Some(None)`.
fn ttl_reply(v: i64, unit: fn(u64) -> Duration) -> Option<Option<Duration>> {
    match v {
        -2 => None,
        v if v < 0 => Some(None),
        v => Some(Some(unit(v.unsigned_abs()))),
    }
}

impl Client {
    async fn key_cmd(&self, key: &[u8], args: Vec<Bytes>, idempotent: bool, writes: bool) -> Result<Value> {
        let r = self.call_key(key, &args, idempotent).await;
        if writes {
            self.forget(key);
        }
        r
    }

    /// `PING` on the first node.
    ///
    /// # Errors
    ///
    /// Transport errors.
    pub async fn ping(&self) -> Result<()> {
        match self.call_node(0, &[n("PING")], true).await? {
            Value::Status(s) if s == "PONG" => Ok(()),
            other => Err(Error::Protocol(format!("PING answered {other:?}"))),
        }
    }

    /// `SET key value`.
    ///
    /// # Errors
    ///
    /// Transport errors, or the server's error reply.
    pub async fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("SET"), b(key), b(value)], true, true).await?.expect_ok()
    }

    /// `SET key value` with `EX`/`PX`/`KEEPTTL` and `NX`/`XX`; returns whether it was set.
    ///
    /// # Errors
    ///
    /// As [`Client::set`].
    pub async fn set_with(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, opts: SetOptions) -> Result<bool> {
        let key = key.as_ref();
        let mut args = vec![n("SET"), b(key), b(value)];
        match opts.expiry {
            Some(SetExpiry::Ex(s)) => args.extend([n("EX"), n(s)]),
            Some(SetExpiry::Px(ms)) => args.extend([n("PX"), n(ms)]),
            Some(SetExpiry::KeepTtl) => args.push(n("KEEPTTL")),
            None => {}
        }
        match opts.condition {
            Some(SetCondition::Nx) => args.push(n("NX")),
            Some(SetCondition::Xx) => args.push(n("XX")),
            None => {}
        }
        let idempotent = opts.condition.is_none();
        Ok(!matches!(self.key_cmd(key, args, idempotent, true).await?, Value::Nil))
    }

    /// `DEL key [key ...]` across nodes; the number removed.
    ///
    /// # Errors
    ///
    /// The first error of any node.
    pub async fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<i64> {
        let r = self.count_across("DEL", keys, false).await;
        for k in keys {
            self.forget(k.as_ref());
        }
        r
    }

    /// `EXISTS key [key ...]` across nodes; how many exist (repeats count).
    ///
    /// # Errors
    ///
    /// The first error of any node.
    pub async fn exists<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<i64> {
        self.count_across("EXISTS", keys, true).await
    }

    async fn count_across<K: AsRef<[u8]>>(&self, cmd: &str, keys: &[K], idempotent: bool) -> Result<i64> {
        let groups = split_by(keys, |k| self.route(k));
        let futs = groups.iter().map(|(route, pos)| {
            let mut args = vec![n(cmd)];
            args.extend(pos.iter().map(|&p| b(&keys[p])));
            async move { self.call_route(*route, &args, idempotent).await?.into_int() }
        });
        join_all(futs.collect()).await.into_iter().sum()
    }

    /// `MGET` across nodes, in the caller's order. Keys on an unavailable node read as misses
    /// with `miss_on_unavailable`. Local near-cache hits are used; remote values do not fill it.
    ///
    /// # Errors
    ///
    /// The first error of any node.
    pub async fn mget<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>> {
        let mut out: Vec<Option<Bytes>> = match &self.inner.near {
            Some(near) => keys.iter().map(|k| near.get(k.as_ref())).collect(),
            None => vec![None; keys.len()],
        };
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| out[i].is_none()).collect();
        let wanted: Vec<&[u8]> = missing.iter().map(|&i| keys[i].as_ref()).collect();
        let groups = split_by(&wanted, |k| self.route(k));
        let futs = groups.iter().map(|(route, pos)| {
            let mut args = vec![n("MGET")];
            args.extend(pos.iter().map(|&p| b(wanted[p])));
            let len = pos.len();
            async move {
                match self.call_route(*route, &args, true).await {
                    Ok(v) => v.into_opt_bytes_vec(),
                    Err(e) if self.as_miss(&e) => Ok(vec![None; len]),
                    Err(e) => Err(e),
                }
            }
        });
        let results = join_all(futs.collect()).await.into_iter().collect::<Result<Vec<_>>>()?;
        for (i, v) in missing.into_iter().zip(gather(wanted.len(), &groups, results)) {
            out[i] = v;
        }
        Ok(out)
    }

    /// `MSET` across nodes (one `MSET` per node, or per slot in cluster mode: atomic within
    /// each, not across them).
    ///
    /// # Errors
    ///
    /// The first error of any node.
    pub async fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<()> {
        let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| k.as_ref()).collect();
        let groups = split_by(&keys, |k| self.route(k));
        let futs = groups.iter().map(|(route, pos)| {
            let mut args = vec![n("MSET")];
            for &p in pos {
                args.extend([b(&pairs[p].0), b(&pairs[p].1)]);
            }
            async move { self.call_route(*route, &args, true).await?.expect_ok() }
        });
        let r = join_all(futs.collect()).await.into_iter().collect::<Result<Vec<()>>>();
        for k in keys {
            self.forget(k);
        }
        r.map(|_| ())
    }

    /// `EXPIRE key seconds`; whether the timeout was set.
    ///
    /// # Errors
    ///
    /// Transport errors, or the server's error reply.
    pub async fn expire(&self, key: impl AsRef<[u8]>, seconds: i64) -> Result<bool> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("EXPIRE"), b(key), n(seconds)], true, true).await?.into_bool()
    }

    /// `PEXPIRE key milliseconds`; whether the timeout was set.
    ///
    /// # Errors
    ///
    /// As [`Client::expire`].
    pub async fn pexpire(&self, key: impl AsRef<[u8]>, ms: i64) -> Result<bool> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("PEXPIRE"), b(key), n(ms)], true, true).await?.into_bool()
    }

    /// `PERSIST key`; whether a timeout was removed.
    ///
    /// # Errors
    ///
    /// As [`Client::expire`].
    pub async fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("PERSIST"), b(key)], false, true).await?.into_bool()
    }

    /// `TTL key`: `None` if the key does not exist, `Some(None)` if it has no expiry.
    ///
    /// # Errors
    ///
    /// Transport errors.
    pub async fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Option<Option<Duration>>> {
        let key = key.as_ref();
        let v = self.key_cmd(key, vec![n("TTL"), b(key)], true, false).await?.into_int()?;
        Ok(ttl_reply(v, Duration::from_secs))
    }

    /// `PTTL key`, as [`Client::ttl`] in milliseconds.
    ///
    /// # Errors
    ///
    /// Transport errors.
    pub async fn pttl(&self, key: impl AsRef<[u8]>) -> Result<Option<Option<Duration>>> {
        let key = key.as_ref();
        let v = self.key_cmd(key, vec![n("PTTL"), b(key)], true, false).await?.into_int()?;
        Ok(ttl_reply(v, Duration::from_millis))
    }

    /// `INCR key`.
    ///
    /// # Errors
    ///
    /// The server's error reply (`ERR value is not an integer or out of range`), transport errors.
    pub async fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incr_by_cmd("INCR", key.as_ref(), None).await
    }

    /// `INCRBY key delta`.
    ///
    /// # Errors
    ///
    /// As [`Client::incr`].
    pub async fn incr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        self.incr_by_cmd("INCRBY", key.as_ref(), Some(delta)).await
    }

    /// `DECR key`.
    ///
    /// # Errors
    ///
    /// As [`Client::incr`].
    pub async fn decr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incr_by_cmd("DECR", key.as_ref(), None).await
    }

    /// `DECRBY key delta`.
    ///
    /// # Errors
    ///
    /// As [`Client::incr`].
    pub async fn decr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        self.incr_by_cmd("DECRBY", key.as_ref(), Some(delta)).await
    }

    async fn incr_by_cmd(&self, cmd: &str, key: &[u8], delta: Option<i64>) -> Result<i64> {
        let mut args = vec![n(cmd), b(key)];
        args.extend(delta.map(n));
        self.key_cmd(key, args, false, true).await?.into_int()
    }

    /// `APPEND key value`; the new length.
    ///
    /// # Errors
    ///
    /// Transport errors, or the server's error reply.
    pub async fn append(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<i64> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("APPEND"), b(key), b(value)], false, true).await?.into_int()
    }

    /// `STRLEN key`.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn strlen(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("STRLEN"), b(key)], true, false).await?.into_int()
    }

    /// `GETDEL key`.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn getdel(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("GETDEL"), b(key)], false, true).await?.into_opt_bytes()
    }

    /// `GETEX key [EX s | PX ms | PERSIST]`.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn getex(&self, key: impl AsRef<[u8]>, expiry: Option<GetExExpiry>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        let mut args = vec![n("GETEX"), b(key)];
        match expiry {
            Some(GetExExpiry::Ex(s)) => args.extend([n("EX"), n(s)]),
            Some(GetExExpiry::Px(ms)) => args.extend([n("PX"), n(ms)]),
            Some(GetExExpiry::Persist) => args.push(n("PERSIST")),
            None => {}
        }
        // A changed TTL must reach the near-cache's copy too.
        self.key_cmd(key, args, expiry.is_none(), expiry.is_some()).await?.into_opt_bytes()
    }

    /// `HSET key field value [field value ...]`; the number of new fields.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, pairs: &[(F, V)]) -> Result<i64> {
        let key = key.as_ref();
        let mut args = vec![n("HSET"), b(key)];
        for (f, v) in pairs {
            args.extend([b(f), b(v)]);
        }
        self.key_cmd(key, args, false, true).await?.into_int()
    }

    /// `HGET key field`.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("HGET"), b(key), b(field)], true, false).await?.into_opt_bytes()
    }

    /// `HMGET key field [field ...]`.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn hmget<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<Vec<Option<Bytes>>> {
        let key = key.as_ref();
        let mut args = vec![n("HMGET"), b(key)];
        args.extend(fields.iter().map(b));
        self.key_cmd(key, args, true, false).await?.into_opt_bytes_vec()
    }

    /// `HGETALL key`, as field/value pairs in the server's order.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<(Bytes, Bytes)>> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("HGETALL"), b(key)], true, false).await?.into_pairs()
    }

    /// `HDEL key field [field ...]`; the number removed.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<i64> {
        let key = key.as_ref();
        let mut args = vec![n("HDEL"), b(key)];
        args.extend(fields.iter().map(b));
        self.key_cmd(key, args, false, true).await?.into_int()
    }

    /// `HEXISTS key field`.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn hexists(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("HEXISTS"), b(key), b(field)], true, false).await?.into_bool()
    }

    /// `HLEN key`.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn hlen(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("HLEN"), b(key)], true, false).await?.into_int()
    }

    /// `HINCRBY key field delta`.
    ///
    /// # Errors
    ///
    /// As [`Client::append`].
    pub async fn hincr_by(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        let key = key.as_ref();
        self.key_cmd(key, vec![n("HINCRBY"), b(key), b(field), n(delta)], false, true).await?.into_int()
    }
}
