//! [`Client`] and [`ClientBuilder`]: the nodes, the ring, the near-cache and the retry loop.
//! Typed commands are in `commands.rs`, `get_or_load` in `load.rs`; this file owns how one
//! command reaches its node: routing, retries with backoff and jitter for idempotent commands,
//! treating an unavailable node as a miss when configured, and the near-cache read path.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cache_core::{Cache, Clock, SystemClock};
use rand::Rng;

use crate::breaker::{Breaker, BreakerState};
use crate::config::{Config, LeaseConfig, NearCacheConfig, NodeAddr};
use crate::connection::ConnectOptions;
use crate::error::{Error, Result};
use crate::near_cache::{NearCache, NearCacheStats};
use crate::node::Node;
use crate::pool::{Backoff, Pool};
use crate::ring::Ring;
use crate::value::Value;

/// Builds a [`Client`].
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> cache_client::Result<()> {
/// use std::time::Duration;
/// use cache_client::{Client, NearCacheConfig};
///
/// let client = Client::builder()
///     .node("redis://127.0.0.1:6379")
///     .node("redis://:secret@127.0.0.1:6380/0")
///     .near_cache(NearCacheConfig::entries(10_000, Duration::from_secs(30)))
///     .build()?;
/// client.set("user:{42}:name", "Ada").await?;
/// assert_eq!(client.get("user:{42}:name").await?.as_deref(), Some(&b"Ada"[..]));
/// # Ok(()) }
/// ```
#[derive(Default)]
#[must_use]
pub struct ClientBuilder {
    urls: Vec<String>,
    cfg: Config,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder").field("urls", &self.urls).field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Adds a node by URL (`redis://[[user]:password@]host:port[/db][?weight=n]`).
    pub fn node(mut self, url: impl Into<String>) -> Self {
        self.urls.push(url.into());
        self
    }

    /// Multiplexed connections per node (default 2).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.cfg.pool_size = n.max(1);
        self
    }

    /// Whether to try RESP3 (`HELLO 3`) first (default true; falls back to RESP2).
    pub fn resp3(mut self, on: bool) -> Self {
        self.cfg.resp3 = on;
        self
    }

    /// Connect (and handshake) timeout.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.cfg.connect_timeout = t;
        self
    }

    /// Per-request timeout.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.cfg.request_timeout = t;
        self
    }

    /// Retries for idempotent commands (default 2).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.cfg.max_retries = n;
        self
    }

    /// Reconnect backoff: first delay and cap.
    pub fn reconnect_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.cfg.reconnect_base = base;
        self.cfg.reconnect_max = max;
        self
    }

    /// Circuit breaker: opens after `failures` consecutive node failures, probes after `cooldown`.
    pub fn breaker(mut self, failures: u32, cooldown: Duration) -> Self {
        self.cfg.breaker_failures = failures;
        self.cfg.breaker_cooldown = cooldown;
        self
    }

    /// Reads of keys on an unavailable node return a miss instead of an error.
    pub fn miss_on_unavailable(mut self, on: bool) -> Self {
        self.cfg.miss_on_unavailable = on;
        self
    }

    /// Puts a near-cache in front (needs RESP3 and `CLIENT TRACKING` on the servers).
    pub fn near_cache(mut self, cfg: NearCacheConfig) -> Self {
        self.cfg.near_cache = Some(cfg);
        self
    }

    /// Coalesces `get_or_load` misses across instances with a lease.
    pub fn lease(mut self, cfg: LeaseConfig) -> Self {
        self.cfg.lease = Some(cfg);
        self
    }

    /// The clock the breakers read (a mock in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Builds the client. Connections open lazily, on first use.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad URL or no nodes.
    pub fn build(mut self) -> Result<Client> {
        for url in &self.urls {
            self.cfg.nodes.push(NodeAddr::parse(url)?);
        }
        if self.cfg.nodes.is_empty() {
            return Err(Error::Config("no nodes".into()));
        }
        let cfg = self.cfg;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock::new()));
        let opts = ConnectOptions { resp3: cfg.resp3, connect_timeout: cfg.connect_timeout };
        let backoff = Backoff { base: cfg.reconnect_base, max: cfg.reconnect_max };
        let nodes: Vec<Node> = cfg
            .nodes
            .iter()
            .map(|addr| {
                let pool = Pool::new(addr.clone(), cfg.pool_size, opts.clone(), backoff);
                Node::new(pool, Breaker::new(cfg.breaker_failures, cfg.breaker_cooldown, Arc::clone(&clock)))
            })
            .collect();
        let names: Vec<(String, u32)> = cfg.nodes.iter().map(|a| (a.name(), a.weight)).collect();
        let ring = Ring::new(&names);
        let near = cfg.near_cache.as_ref().map(|c| Arc::new(NearCache::new(c)));
        let loads = Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(1)).build();
        Ok(Client { inner: Arc::new(Inner { cfg, nodes, ring, near, loads }) })
    }
}

pub(crate) struct Inner {
    pub(crate) cfg: Config,
    pub(crate) nodes: Vec<Node>,
    pub(crate) ring: Ring,
    pub(crate) near: Option<Arc<NearCache>>,
    /// In-process coalescing of `get_or_load` misses (entries live only while a load is shared).
    pub(crate) loads: Cache<Bytes, Bytes>,
}

/// An async client for one or more cache (or Redis) nodes. Cheap to clone; clones share
/// connections and the near-cache.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.inner.nodes.iter().map(|n| n.name.as_str()).collect();
        f.debug_struct("Client").field("nodes", &names).field("near_cache", &self.inner.near).finish()
    }
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for one node URL with default settings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad URL.
    pub fn open(url: &str) -> Result<Self> {
        Self::builder().node(url).build()
    }

    /// The index of the node that owns `key`.
    #[must_use]
    pub fn node_of(&self, key: impl AsRef<[u8]>) -> usize {
        self.inner.ring.node_for(key.as_ref()).unwrap_or(0)
    }

    /// The one node that owns all of `keys` (node 0 for none), for work that must run on a
    /// single node: a transaction, a script.
    ///
    /// # Errors
    ///
    /// [`Error::CrossNode`] naming two keys that map to different nodes.
    pub fn node_of_keys<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<usize> {
        let Some(first) = keys.first() else { return Ok(0) };
        let node = self.node_of(first);
        match keys.iter().find(|k| self.node_of(k) != node) {
            None => Ok(node),
            Some(other) => Err(Error::CrossNode {
                first: String::from_utf8_lossy(first.as_ref()).into_owned(),
                first_node: self.node_name(node).to_owned(),
                other: String::from_utf8_lossy(other.as_ref()).into_owned(),
                other_node: self.node_name(self.node_of(other)).to_owned(),
            }),
        }
    }

    /// The `host:port` of node `index`.
    #[must_use]
    pub fn node_name(&self, index: usize) -> &str {
        &self.inner.nodes[index].name
    }

    /// The circuit breaker state of node `index`.
    #[must_use]
    pub fn breaker_state(&self, index: usize) -> BreakerState {
        self.inner.nodes[index].breaker.state()
    }

    /// Near-cache counters (`None` without a near-cache).
    #[must_use]
    pub fn near_cache_stats(&self) -> Option<NearCacheStats> {
        self.inner.near.as_ref().map(|n| n.stats())
    }

    /// The near-cache itself, for inspection.
    #[must_use]
    pub fn near_cache(&self) -> Option<&NearCache> {
        self.inner.near.as_deref()
    }

    /// Sends `args` to node `node`, retrying retryable failures of idempotent commands with
    /// exponential backoff and full jitter.
    pub(crate) async fn call_node(&self, node: usize, args: &[Bytes], idempotent: bool) -> Result<Value> {
        let cfg = &self.inner.cfg;
        let mut attempt = 0;
        loop {
            let result = self.inner.nodes[node].call(args, cfg.request_timeout).await;
            match result {
                Err(e) if idempotent && e.is_retryable() && attempt < cfg.max_retries => {
                    attempt += 1;
                    let cap = cfg.retry_base.saturating_mul(1 << attempt.min(16)).min(cfg.retry_max);
                    let jitter = rand::rng().random_range(0..=cap.as_micros().max(1));
                    tokio::time::sleep(Duration::from_micros(u64::try_from(jitter).unwrap_or(0))).await;
                }
                other => return other,
            }
        }
    }

    /// Sends a command about `key` to its node.
    pub(crate) async fn call_key(&self, key: &[u8], args: &[Bytes], idempotent: bool) -> Result<Value> {
        self.call_node(self.node_of(key), args, idempotent).await
    }

    /// Whether a read failure should be answered as a miss.
    pub(crate) fn as_miss(&self, e: &Error) -> bool {
        self.inner.cfg.miss_on_unavailable && (e.is_node_failure() || matches!(e, Error::NodeUnavailable(_)))
    }

    /// Drops `key` from the near-cache after this client changed it.
    pub(crate) fn forget(&self, key: &[u8]) {
        if let Some(near) = &self.inner.near {
            near.invalidate(key);
        }
    }

    /// Runs an arbitrary command on the node of its first argument after the name (or node 0
    /// for commands without one). Not retried; the near-cache is not told what it changes
    /// (the server's invalidation pushes still are).
    ///
    /// # Errors
    ///
    /// The server's error reply ([`Error::Server`], verbatim) or a transport error.
    pub async fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Value> {
        let node = args.get(1).map_or(0, |k| self.node_of(k));
        self.cmd_on(node, args).await
    }

    /// Runs an arbitrary command on node `node` (see [`Client::node_of`]).
    ///
    /// # Errors
    ///
    /// As [`Client::cmd`].
    pub async fn cmd_on<A: AsRef<[u8]>>(&self, node: usize, args: &[A]) -> Result<Value> {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_ref())).collect();
        self.call_node(node, &args, false).await
    }

    /// Sends all `cmds` back to back on one connection to node `node` before awaiting any reply
    /// (one write for the batch), then collects the replies in order.
    ///
    /// # Errors
    ///
    /// The outer error when no connection could be had; each command's own result inside.
    pub async fn pipeline<A: AsRef<[u8]>>(&self, node: usize, cmds: &[Vec<A>]) -> Result<Vec<Result<Value>>> {
        let conn = self.inner.nodes[node].connection().await?;
        let mut pending = Vec::with_capacity(cmds.len());
        for c in cmds {
            pending.push(conn.submit(c).await);
        }
        // Replies arrive in order, so waiting for them in order never waits longer than needed,
        // and one deadline for the batch arms no timer per request.
        let timeout = self.inner.cfg.request_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut replies = Vec::with_capacity(pending.len());
        for p in pending {
            replies.push(match p {
                Ok(p) => p.wait_until(deadline, timeout).await,
                Err(e) => Err(e),
            });
        }
        Ok(replies)
    }

    /// `GET`, through the near-cache when there is one: a local hit costs no I/O; a miss reads
    /// the value and its PTTL on the node's tracking connection and fills the near-cache. If the
    /// tracking connection cannot be had, the read goes to the pool and fills nothing.
    ///
    /// # Errors
    ///
    /// Transport errors (or a miss instead, with `miss_on_unavailable`).
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        if let Some(near) = &self.inner.near {
            if let Some(v) = near.get(key) {
                return Ok(Some(v));
            }
            if let Ok(v) = self.fill(near, key).await {
                return Ok(v);
            }
        }
        match self.call_key(key, &[Bytes::from_static(b"GET"), Bytes::copy_from_slice(key)], true).await {
            Ok(v) => {
                let v = v.into_opt_bytes()?;
                if v.is_none() {
                    if let Some(near) = &self.inner.near {
                        near.count_miss();
                    }
                }
                Ok(v)
            }
            Err(e) if self.as_miss(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn fill(&self, near: &Arc<NearCache>, key: &[u8]) -> Result<Option<Bytes>> {
        let node = &self.inner.nodes[self.node_of(key)];
        let timeout = self.inner.cfg.request_timeout;
        let permit = node.breaker.allow().ok_or_else(|| Error::NodeUnavailable(node.name.clone()))?;
        let conn = match node.tracking(near, timeout).await {
            Ok(c) => c,
            Err(e) => {
                // A refused CLIENT TRACKING proves the node alive; only transport failures count.
                node.breaker.record(permit, !e.is_node_failure());
                return Err(e);
            }
        };
        let ticket = near.begin();
        let result = async {
            let value = conn.submit(&[&b"GET"[..], key]).await?;
            let pttl = conn.submit(&[&b"PTTL"[..], key]).await?;
            Ok::<_, Error>((value.wait(timeout).await?.into_opt_bytes()?, pttl.wait(timeout).await?.into_int()?))
        }
        .await;
        node.breaker.record(permit, !matches!(&result, Err(e) if e.is_node_failure()));
        let (value, pttl) = result?;
        near.finish(ticket, Bytes::copy_from_slice(key), value.clone(), pttl);
        Ok(value)
    }
}
