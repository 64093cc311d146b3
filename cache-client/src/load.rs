//! `get_or_load`: read-through with stampede protection at two levels.
//!
//! 1. In this process, concurrent misses of one key share one load (cache-core's async
//!    coalescing loader over a scratch cache whose entries live only while a load is shared).
//! 2. Across instances (with a [`LeaseConfig`](crate::LeaseConfig)), the loading instance first
//!    takes a short lease `SET lock:{key} token NX PX lease` on the key's node; an instance that
//!    finds the lease taken polls the key with doubling, bounded intervals until the value
//!    appears or the lease runs out (then it loads by itself, so a crashed leader costs at most
//!    one lease of waiting).
//!
//! The leader stores the value with `SET key value PX ttl` and releases its lease if it still
//! holds it (GET then DEL: a lease that expired in between and was retaken may be deleted early,
//! which costs at most one extra load, never a wrong value).

use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::Rng;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::value::Value;

impl Client {
    /// The value of `key`, or the loader's value, stored on the server with `ttl`. See the
    /// module docs for how concurrent misses are coalesced.
    ///
    /// # Errors
    ///
    /// [`Error::Loader`] with the loader's error (shared by every caller waiting on that load);
    /// transport errors of the initial read (unless `miss_on_unavailable`). Failing to store
    /// the loaded value is not an error: the value is returned anyway.
    pub async fn get_or_load<F, Fut, E>(&self, key: impl AsRef<[u8]>, ttl: Duration, loader: F) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Bytes, E>>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let key = key.as_ref();
        if let Some(v) = self.get(key).await? {
            return Ok(v);
        }
        let k = Bytes::copy_from_slice(key);
        let result = self.inner.loads.try_get_with_async(k.clone(), self.load_and_store(k.clone(), ttl, loader)).await;
        self.inner.loads.remove(&k);
        result.map_err(|e| (*e).clone())
    }

    async fn load_and_store<F, Fut, E>(&self, key: Bytes, ttl: Duration, loader: F) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Bytes, E>>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let route = self.route(&key);
        let lock = lock_key(&key);
        // The ring hashes `lock:{key}` as `key`, so the lease sits on the key's node; in a
        // cluster a key with its own hash tag puts its lock in another slot, so route it alone.
        let lock_route = if self.inner.cluster.is_some() { self.route(&lock) } else { route };
        let mut lease = None;
        if let Some(cfg) = self.inner.cfg.lease.clone() {
            let token = Bytes::from(format!("{:016x}", rand::rng().random::<u64>()));
            let ms = Bytes::from(cfg.lease.as_millis().max(1).to_string());
            let args = [
                Bytes::from_static(b"SET"),
                lock.clone(),
                token.clone(),
                Bytes::from_static(b"NX"),
                Bytes::from_static(b"PX"),
                ms,
            ];
            match self.call_route(lock_route, &args, false).await {
                Ok(Value::Nil) => {
                    if let Some(v) = self.wait_for_leader(&key, &cfg).await {
                        return Ok(v);
                    }
                }
                Ok(_) => lease = Some((lock, token)),
                // No lease to be had (node down): load without one.
                Err(_) => {}
            }
        }
        let loaded = loader().await.map_err(|e| Error::Loader(Arc::from(e.into())));
        if let Ok(v) = &loaded {
            let ms = Bytes::from(ttl.as_millis().max(1).to_string());
            let args = [Bytes::from_static(b"SET"), key.clone(), v.clone(), Bytes::from_static(b"PX"), ms];
            let _stored = self.call_route(route, &args, true).await;
            self.forget(&key);
        }
        if let Some((lock, token)) = lease {
            let held = self.call_route(lock_route, &[Bytes::from_static(b"GET"), lock.clone()], true).await;
            if matches!(held, Ok(Value::Bulk(ref t)) if *t == token) {
                let _ = self.call_route(lock_route, &[Bytes::from_static(b"DEL"), lock], false).await;
            }
        }
        loaded
    }

    /// Polls `key` while another instance holds the lease; `None` when the lease ran out.
    async fn wait_for_leader(&self, key: &Bytes, cfg: &crate::config::LeaseConfig) -> Option<Bytes> {
        let deadline = tokio::time::Instant::now() + cfg.lease;
        let mut delay = cfg.first_poll;
        let route = self.route(key);
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(delay).await;
            if let Ok(Value::Bulk(v)) = self.call_route(route, &[Bytes::from_static(b"GET"), key.clone()], true).await {
                return Some(v);
            }
            delay = (delay * 2).min(cfg.max_poll);
        }
        None
    }
}

/// `lock:{key}`.
fn lock_key(key: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(key.len() + 7);
    b.extend_from_slice(b"lock:{");
    b.extend_from_slice(key);
    b.extend_from_slice(b"}");
    b.freeze()
}
