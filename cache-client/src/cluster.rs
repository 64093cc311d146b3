//! Cluster mode's I/O half: the live slot map, how it is read and refreshed, and the send loop
//! that follows the cluster's answers. The pure parts (map, `CLUSTER SLOTS` and redirect
//! parsing) are in `topology.rs`; the slot function in `slot.rs`.
//!
//! ```text
//!  call_slot(slot, cmd) ── owner = map[slot] ── Node::call ──► reply ─────────────► caller
//!        ▲   (unknown: refresh, then                │
//!        │    Error::SlotUncovered)                 ├─ -MOVED s h:p → map[s] = h:p, drop the
//!        │                                          │                 near-cache's slot s,
//!        ├──────────────────────────────────────────┤                 refresh soon, resend
//!        │                                          ├─ -ASK s h:p   → ASKING + cmd on h:p, on an
//!        │                                          │                 exclusive connection, once
//!        └──── sleep (doubling, bounded) ───────────┴─ -TRYAGAIN / -CLUSTERDOWN → resend
//! ```
//!
//! - **Discovery**: the first command (or [`Client::refresh_slots`]) asks the seeds, then every
//!   known node, for `CLUSTER SLOTS` (or `CLUSTER SHARDS` where `SLOTS` is refused) until one
//!   answers; the primaries it names become nodes
//!   (with the seeds' credentials). Node indexes are never reused, so an index held by a caller
//!   (a transaction, `node_of`) stays meaningful.
//! - **Refresh**: periodically (a background task holding only a weak reference, so it ends
//!   with the client), and on errors (a `-MOVED`, a node failure, `-CLUSTERDOWN`). Concurrent
//!   refreshes coalesce (whoever waited for a running one does not start another) and
//!   error-triggered ones are rate-limited to one per `min_refresh_gap`.
//! - **Near-cache**: every node's tracking connection feeds the one near-cache, so a write
//!   through any client on any node invalidates it; a slot that changes owner (seen in a
//!   refresh or a `-MOVED`) drops that slot's entries, and a lost tracking connection drops
//!   that node's (see `near_cache.rs`).
//! - Redirections and `-TRYAGAIN` / `-CLUSTERDOWN` prove the command did not run, so they are
//!   followed for every command, idempotent or not; transport errors keep the ring mode's
//!   rules (retried only for idempotent commands).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::time::Instant;

use crate::client::Client;
use crate::config::ClusterConfig;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::topology::{RedirectKind, SlotMap, parse_cluster_shards, parse_cluster_slots, parse_redirect};
use crate::value::Value;

/// Counters of cluster mode, since the client was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// `-MOVED` replies followed.
    pub moved: u64,
    /// `-ASK` replies followed.
    pub asked: u64,
    /// Resends after `-TRYAGAIN` or `-CLUSTERDOWN`.
    pub busy_retries: u64,
    /// Slot map reads that succeeded.
    pub refreshes: u64,
    /// Slots seen changing owner (by refreshes and `-MOVED`).
    pub slots_moved: u64,
}

/// The cluster state of a client.
pub(crate) struct Cluster {
    cfg: ClusterConfig,
    map: RwLock<SlotMap>,
    /// Serializes refreshes.
    refresh_lock: tokio::sync::Mutex<()>,
    /// Bumped after every refresh attempt: a caller that waited for the lock while another
    /// refreshed does not refresh again.
    generation: AtomicU64,
    last_attempt: Mutex<Option<Instant>>,
    /// A background refresh is queued or running.
    pending: AtomicBool,
    /// The periodic refresh task (restarted if it ended, e.g. with the runtime it ran on).
    ticker: Mutex<Option<tokio::task::JoinHandle<()>>>,
    moved: AtomicU64,
    asked: AtomicU64,
    busy: AtomicU64,
    refreshes: AtomicU64,
    slots_moved: AtomicU64,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("covered", &self.map.read().covered()).finish_non_exhaustive()
    }
}

impl Cluster {
    pub(crate) fn new(cfg: ClusterConfig) -> Self {
        Self {
            cfg,
            map: RwLock::new(SlotMap::default()),
            refresh_lock: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            last_attempt: Mutex::new(None),
            pending: AtomicBool::new(false),
            ticker: Mutex::new(None),
            moved: AtomicU64::new(0),
            asked: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            slots_moved: AtomicU64::new(0),
        }
    }
}

fn count(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Client {
    fn cluster(&self) -> &Cluster {
        self.inner.cluster.as_ref().expect("cluster mode")
    }

    /// The primary serving `slot` as the client's map has it (`None` in ring mode, or when no
    /// node serves it, or before the map was read).
    #[must_use]
    pub fn slot_owner(&self, slot: u16) -> Option<usize> {
        self.inner.cluster.as_ref()?.map.read().owner(slot)
    }

    /// The nodes that serve slots (cluster mode), or every node of the ring: the nodes a
    /// command for "all the data" (`FLUSHALL`, `DBSIZE`, `SCAN`) must visit.
    #[must_use]
    pub fn primaries(&self) -> Vec<usize> {
        match &self.inner.cluster {
            Some(c) => c.map.read().nodes(),
            None => (0..self.inner.node_count()).collect(),
        }
    }

    /// Cluster mode counters (`None` in ring mode).
    #[must_use]
    pub fn cluster_stats(&self) -> Option<ClusterStats> {
        let c = self.inner.cluster.as_ref()?;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Some(ClusterStats {
            moved: get(&c.moved),
            asked: get(&c.asked),
            busy_retries: get(&c.busy),
            refreshes: get(&c.refreshes),
            slots_moved: get(&c.slots_moved),
        })
    }

    /// Reads the slot map now (cluster mode; a no-op in ring mode), from the known primaries
    /// first, then the seeds and any other known node, until one answers `CLUSTER SLOTS`.
    /// Unlike the refreshes the client triggers itself, this one is not rate-limited (it still
    /// coalesces with one already running).
    ///
    /// # Errors
    ///
    /// The last node's error when none answered.
    pub async fn refresh_slots(&self) -> Result<()> {
        if self.inner.cluster.is_none() {
            return Ok(());
        }
        self.refresh(true).await
    }

    async fn refresh(&self, force: bool) -> Result<()> {
        let c = self.cluster();
        let seen = c.generation.load(Ordering::Acquire);
        let _running = c.refresh_lock.lock().await;
        if c.generation.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        {
            let mut last = c.last_attempt.lock();
            if !force && last.is_some_and(|t| t.elapsed() < c.cfg.min_refresh_gap) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        let result = self.read_slots().await;
        c.generation.fetch_add(1, Ordering::Release);
        if result.is_ok() {
            count(&c.refreshes);
            self.start_ticker();
        }
        result
    }

    async fn read_slots(&self) -> Result<()> {
        let c = self.cluster();
        let mut order = c.map.read().nodes();
        for i in 0..self.inner.node_count() {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        let timeout = self.inner.cfg.request_timeout;
        let slots = [Bytes::from_static(b"CLUSTER"), Bytes::from_static(b"SLOTS")];
        let shards = [Bytes::from_static(b"CLUSTER"), Bytes::from_static(b"SHARDS")];
        let mut last = Error::Config("no nodes".into());
        for i in order {
            let node = self.inner.node(i);
            let host = &node.pool.addr().host;
            let ranges = match node.call(&slots, timeout).await {
                Ok(reply) => parse_cluster_slots(reply, host),
                // A server without CLUSTER SLOTS (deprecated since Redis 7) may have SHARDS.
                Err(Error::Server(text)) if !text.starts_with("CLUSTERDOWN") => match node.call(&shards, timeout).await
                {
                    Ok(reply) => parse_cluster_shards(reply, host),
                    Err(_) => Err(Error::Server(text)),
                },
                Err(e) => Err(e),
            };
            match ranges {
                // A node that knows no slots (just started, or forgotten) is not an authority.
                Ok(ranges) if !ranges.is_empty() => {
                    let fresh = SlotMap::from_ranges(&ranges, |e| self.inner.node_index(&e.host, e.port));
                    self.install(fresh);
                    return Ok(());
                }
                Ok(_) => last = Error::Protocol(format!("{}: CLUSTER SLOTS names no slot", node.name)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Replaces the map, dropping the near-cache entries of every slot that changed owner.
    fn install(&self, fresh: SlotMap) {
        let c = self.cluster();
        let moved: Vec<u16> = {
            let mut map = c.map.write();
            let moved = map.moved(&fresh).into_iter().filter(|(_, old)| old.is_some()).map(|(s, _)| s).collect();
            *map = fresh;
            moved
        };
        if !moved.is_empty() {
            c.slots_moved.fetch_add(moved.len() as u64, Ordering::Relaxed);
            if let Some(near) = &self.inner.near {
                near.flush_slots(&moved);
            }
        }
    }

    /// Starts the periodic refresh unless it runs, on the runtime of this successful read.
    fn start_ticker(&self) {
        let c = self.cluster();
        let mut ticker = c.ticker.lock();
        if ticker.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let every = c.cfg.refresh_interval;
        *ticker = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { break };
                let _ = Client { inner }.refresh(false).await;
            }
        }));
    }

    /// Queues a background refresh unless one is queued or running already.
    pub(crate) fn refresh_soon(&self) {
        let Some(c) = &self.inner.cluster else { return };
        if c.pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let _ = me.refresh(false).await;
            me.cluster().pending.store(false, Ordering::Release);
        });
    }

    /// Redirections followed per command (0 in ring mode).
    pub(crate) fn max_redirects(&self) -> u32 {
        self.inner.cluster.as_ref().map_or(0, |c| c.cfg.max_redirects)
    }

    /// The owner of `slot`, reading the map first if it does not name one.
    pub(crate) async fn owner_or_refresh(&self, slot: u16) -> Result<usize> {
        if let Some(n) = self.slot_owner(slot) {
            return Ok(n);
        }
        let refreshed = self.refresh(false).await;
        match self.slot_owner(slot) {
            Some(n) => Ok(n),
            None => Err(refreshed.err().unwrap_or(Error::SlotUncovered(slot))),
        }
    }

    /// Applies what an error reply from `node` teaches about the map: a `-MOVED` gives its slot
    /// to the named node (dropping the slot's near-cache entries) and queues a refresh, since
    /// one moved slot rarely moves alone. Returns the redirection, if the reply was one.
    pub(crate) fn note_redirect(&self, text: &str, node: &Node) -> Option<(RedirectKind, usize)> {
        let c = self.inner.cluster.as_ref()?;
        let r = parse_redirect(text, &node.pool.addr().host)?;
        let target = self.inner.node_index(&r.to.host, r.to.port);
        if r.kind == RedirectKind::Moved {
            count(&c.moved);
            let old = {
                let mut map = c.map.write();
                let old = map.owner(r.slot);
                map.set(r.slot, target);
                old
            };
            if old.is_some_and(|o| o != target) {
                count(&c.slots_moved);
                if let Some(near) = &self.inner.near {
                    near.flush_slots(&[r.slot]);
                }
            }
            self.refresh_soon();
        } else {
            count(&c.asked);
        }
        Some((r.kind, target))
    }

    /// Sends `args` to the owner of `slot`, following the cluster's answers (see the module
    /// docs); transport failures keep `call_node`'s retry rules and queue a map refresh.
    pub(crate) async fn call_slot(&self, slot: u16, args: &[Bytes], idempotent: bool) -> Result<Value> {
        let cfg = self.cluster().cfg.clone();
        let (mut redirects, mut busy) = (0, 0);
        let mut ask: Option<usize> = None;
        loop {
            let (node, result) = match ask.take() {
                Some(target) => (target, self.call_asking(target, args).await),
                None => {
                    let node = self.owner_or_refresh(slot).await?;
                    (node, self.call_node(node, args, idempotent).await)
                }
            };
            let text = match result {
                Err(Error::Server(text)) => text,
                Err(e) => {
                    if e.is_node_failure() || matches!(e, Error::NodeUnavailable(_)) {
                        // The node may have lost its slots (failover, resharding): look again.
                        self.refresh_soon();
                    }
                    return Err(e);
                }
                ok => return ok,
            };
            if let Some((kind, target)) = self.note_redirect(&text, &self.inner.node(node)) {
                redirects += 1;
                if redirects > cfg.max_redirects {
                    return Err(Error::Server(text));
                }
                if kind == RedirectKind::Ask {
                    ask = Some(target);
                }
                continue;
            }
            let code = text.split(' ').next().unwrap_or("");
            if matches!(code, "TRYAGAIN" | "CLUSTERDOWN") && busy < cfg.busy_retries {
                busy += 1;
                count(&self.cluster().busy);
                if code == "CLUSTERDOWN" {
                    self.refresh_soon();
                }
                let factor = 1u32 << (busy - 1).min(16);
                tokio::time::sleep(cfg.busy_base.saturating_mul(factor).min(cfg.busy_max)).await;
                continue;
            }
            return Err(Error::Server(text));
        }
    }

    /// `ASKING` then `args` on node `target`, back to back on a connection nobody else uses
    /// meanwhile (so no other request can consume the one-shot `ASKING` flag).
    async fn call_asking(&self, target: usize, args: &[Bytes]) -> Result<Value> {
        let node = self.inner.node(target);
        let timeout = self.inner.cfg.request_timeout;
        let conn = node.exclusive().await?;
        let asking = conn.submit(&[Bytes::from_static(b"ASKING")]).await?;
        let reply = conn.submit(args).await?;
        let deadline = Instant::now() + timeout;
        let asked = asking.wait_until(deadline, timeout).await;
        let result = reply.wait_until(deadline, timeout).await;
        let clean = !matches!(&asked, Err(e) if !matches!(e, Error::Server(_)))
            && !matches!(&result, Err(e) if !matches!(e, Error::Server(_)));
        if clean {
            node.pool.checkin(conn);
        }
        asked?;
        result
    }
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
