//! Server-assisted client-side caching (`CLIENT TRACKING`), with Redis 7.0's semantics: the
//! tracking table (key → ids of clients that read it), the broadcast prefixes, each tracking
//! client's mode, and the per-client [`Mailbox`] through which invalidations (and pub/sub
//! messages, see [`crate::pubsub`]) reach a connection. It owns no socket: a connection drains its
//! mailbox between replies (`connection.rs`), so a push is never written inside a reply.
//!
//! ```text
//!  read by a tracking client ──remember(id, keys)──► table: key → {ids}
//!  write / expiry / eviction ──modified(key)──► table.remove(key) ──► Push::Invalidate to each id
//!                                     └──► prefix match (BCAST) ──► pending, sent per command
//!  FLUSHDB / FLUSHALL ──flush()──► null invalidation to every tracking client, table cleared
//! ```
//!
//! Like Redis, keys are tracked by name only (not per database), a client is forgotten for a key
//! once it was told about it, ids of clients that left stay in the table until the key changes
//! (they are skipped), and the table is bounded by `tracking-table-max-keys`: past it, tracked keys
//! are invalidated (arbitrary ones, Redis picks random ones) until it fits again. Cost when nobody
//! tracks: a write pays one relaxed atomic load ([`Tracking::modified`]).
//!
//! Known gaps: a mailbox is unbounded (no `client-output-buffer-limit` for a client that never
//! reads); the core's
//! eviction listener buffers every *replaced* entry too, a cost paid by all overwrites until the
//! core can filter by cause (requested); BCAST messages are batched per command, where Redis
//! batches per event-loop iteration (the same for clients that wait for each reply).

use crate::output::{Backlog, Limits};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use tokio::sync::Notify;

/// The pub/sub channel RESP2 clients subscribe to for redirected invalidations.
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

thread_local! {
    /// Id of the client whose command runs on this thread (0 outside a command): the writer for
    /// NOLOOP, and the signal to batch broadcast messages until the command ends.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

/// Marks the start (`id`) or end (0) of a client command on this thread.
pub fn set_current_client(id: u64) {
    CURRENT.with(|c| c.set(id));
}

/// The client whose command runs on this thread (0: none).
pub fn current_client() -> u64 {
    CURRENT.with(Cell::get)
}

/// Something to tell a connection outside of its replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// An `invalidate` message: these keys, or `None` for a flush (a null). `null_resp3` is the
    /// protocol of the tracking client (Redis writes its null), `redirected` tells a RESP2
    /// receiver to use the `__redis__:invalidate` pub/sub form.
    Invalidate {
        /// Invalidated keys; `None` after FLUSHDB / FLUSHALL.
        keys: Option<Vec<Bytes>>,
        /// The tracking client speaks RESP3 (shape of the flush null).
        null_resp3: bool,
        /// Sent to a REDIRECT target rather than the tracking client itself.
        redirected: bool,
    },
    /// `tracking-redir-broken`: the REDIRECT target (this id) has disconnected.
    RedirBroken(u64),
    /// A pub/sub message on `channel`, via `pattern` when it matched a PSUBSCRIBE.
    Message {
        /// The pattern that matched, for `pmessage`.
        pattern: Option<Bytes>,
        /// The channel published to.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// An SPUBLISH message on shard channel `channel` (`smessage`).
    ShardMessage {
        /// The shard channel published to.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// A MONITOR line, encoded (`+…\r\n`, the same in RESP2 and RESP3).
    Monitor(Bytes),
}

impl Push {
    /// About how many bytes the push takes on the wire (for the output-buffer limits).
    pub fn wire_len(&self) -> u64 {
        /// Array and bulk headers, message kind, CRLFs.
        const FRAMING: usize = 48;
        let payload = match self {
            Push::Invalidate { keys, .. } => keys.as_ref().map_or(0, |k| k.iter().map(|k| k.len() + 16).sum()),
            Push::RedirBroken(_) => 24,
            Push::Message { pattern, channel, payload } => {
                pattern.as_ref().map_or(0, Bytes::len) + channel.len() + payload.len()
            }
            Push::Monitor(line) => line.len(),
            Push::ShardMessage { channel, payload } => channel.len() + payload.len(),
        };
        (payload + FRAMING) as u64
    }
}

/// A connection's inbox for pushes, drained by its own task between replies. Pushes count toward
/// the client's output backlog; once a limit closes the client, further pushes are dropped.
#[derive(Debug, Default)]
pub struct Mailbox {
    queue: Mutex<Vec<Push>>,
    /// Mirrors `!queue.is_empty()`, so a connection checks it with one load per command.
    pending: AtomicBool,
    /// Wakes the connection task when it waits for input.
    pub wake: Notify,
    /// The connection's protocol (set by the connection after HELLO / RESET).
    pub resp3: AtomicBool,
    /// This client's REDIRECT target has gone (CLIENT LIST flag `R`).
    pub broken_redirect: AtomicBool,
    /// Output not yet taken by the client, and the `client-output-buffer-limit` verdict.
    pub backlog: Backlog,
    /// The server's output-buffer limits.
    limits: Arc<Limits>,
}

impl Mailbox {
    /// An empty mailbox judged by `limits`.
    pub fn new(limits: Arc<Limits>) -> Self {
        Self { limits, ..Self::default() }
    }

    /// Queues a push and wakes the owner; drops it if the client is being closed.
    pub fn push(&self, p: Push) {
        if self.backlog.is_closing() {
            return;
        }
        let size = p.wire_len();
        let mut q = self.queue.lock();
        q.push(p);
        self.pending.store(true, Relaxed);
        if self.backlog.add_pushes(size, &self.limits) {
            q.clear();
        }
        drop(q);
        self.wake.notify_one();
    }

    /// Pushes waiting (CLIENT LIST `oll`).
    pub fn queued(&self) -> usize {
        self.queue.lock().len()
    }

    /// The limits this mailbox is judged by.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// True if pushes wait (one relaxed load).
    pub fn has_pending(&self) -> bool {
        self.pending.load(Relaxed)
    }

    /// Takes every queued push, oldest first.
    pub fn take(&self) -> Vec<Push> {
        let mut q = self.queue.lock();
        self.pending.store(false, Relaxed);
        self.backlog.pushes_taken();
        std::mem::take(&mut *q)
    }
}

/// A client's tracking mode, as CLIENT TRACKING ON set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mode {
    /// REDIRECT target id (0 = none).
    pub redirect: u64,
    /// BCAST: prefixes instead of read keys.
    pub bcast: bool,
    /// OPTIN: only reads after `CLIENT CACHING yes` are tracked.
    pub optin: bool,
    /// OPTOUT: reads after `CLIENT CACHING no` are not tracked.
    pub optout: bool,
    /// NOLOOP: no invalidation for the client's own writes.
    pub noloop: bool,
}

#[derive(Debug, Default)]
struct ClientEntry {
    mode: Mode,
    prefixes: BTreeSet<Bytes>,
    broken_redirect: bool,
}

/// What CLIENT TRACKINGINFO shows besides the client-local CACHING flag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    /// The mode, if tracking is on.
    pub mode: Option<Mode>,
    /// The REDIRECT target disconnected.
    pub broken_redirect: bool,
    /// BCAST prefixes in byte order.
    pub prefixes: Vec<Bytes>,
}

#[derive(Debug, Default)]
struct Table {
    keys: HashMap<Bytes, Vec<u64>, ahash::RandomState>,
    /// Sum of the id lists' lengths (INFO `tracking_total_items`).
    items: usize,
    clients: HashMap<u64, ClientEntry>,
    /// BCAST prefix → subscribed client ids.
    prefixes: BTreeMap<Bytes, Vec<u64>>,
    /// Keys written under some prefix since the last broadcast, with their writer.
    pending: Vec<(Bytes, u64)>,
}

/// The tracking table, the client modes and the mailboxes.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Clients with tracking on; everything is skipped while it is zero.
    active: AtomicUsize,
    table: Mutex<Table>,
    mailboxes: RwLock<HashMap<u64, Arc<Mailbox>>>,
    /// Pub/sub subscriptions (they share the mailboxes).
    pub pubsub: crate::pubsub::PubSub,
    /// The background expiry cycle was started (see [`Tracking::start_expiry_cycle`]).
    cycle: AtomicBool,
    /// `client-output-buffer-limit`, shared by every mailbox.
    pub limits: Arc<Limits>,
}

impl Tracking {
    /// Registers a connection's mailbox.
    pub fn connect(&self, id: u64) -> Arc<Mailbox> {
        let mb = Arc::new(Mailbox::new(self.limits.clone()));
        self.mailboxes.write().insert(id, mb.clone());
        mb
    }

    /// Forgets a connection: tracking off, subscriptions dropped, mailbox gone.
    pub fn disconnect(&self, id: u64) {
        self.disable(id);
        self.pubsub.unsubscribe_all(id);
        self.mailboxes.write().remove(&id);
    }

    /// The mailbox of a connected client.
    pub fn mailbox(&self, id: u64) -> Option<Arc<Mailbox>> {
        self.mailboxes.read().get(&id).cloned()
    }

    /// Number of clients with tracking on (INFO `tracking_clients`).
    pub fn clients(&self) -> usize {
        self.active.load(Relaxed)
    }

    /// INFO counters: tracked keys, (key, client) items, broadcast prefixes.
    pub fn counts(&self) -> (usize, usize, usize) {
        let t = self.table.lock();
        (t.keys.len(), t.items, t.prefixes.len())
    }

    /// Turns tracking on (or changes its options) for `id`; the caller validated the options.
    /// New BCAST prefixes add to the ones already set (none means every key, the empty prefix).
    pub fn enable(&self, id: u64, mode: Mode, prefixes: &[Bytes]) {
        let mut t = self.table.lock();
        if !t.clients.contains_key(&id) {
            self.active.fetch_add(1, Relaxed);
        }
        let bcast = mode.bcast;
        if let Some(mb) = self.mailboxes.read().get(&id) {
            mb.broken_redirect.store(false, Relaxed);
        }
        let entry = t.clients.entry(id).or_default();
        entry.mode = mode;
        entry.broken_redirect = false;
        if bcast {
            let new: Vec<Bytes> = if prefixes.is_empty() { vec![Bytes::new()] } else { prefixes.to_vec() };
            let added: Vec<Bytes> = new.into_iter().filter(|p| entry.prefixes.insert(p.clone())).collect();
            for p in added {
                t.prefixes.entry(p).or_default().push(id);
            }
        }
    }

    /// Turns tracking off for `id` (CLIENT TRACKING OFF, RESET, disconnect).
    pub fn disable(&self, id: u64) {
        let mut t = self.table.lock();
        let Some(entry) = t.clients.remove(&id) else { return };
        if let Some(mb) = self.mailboxes.read().get(&id) {
            mb.broken_redirect.store(false, Relaxed);
        }
        for p in entry.prefixes {
            if let Some(ids) = t.prefixes.get_mut(&p) {
                ids.retain(|&c| c != id);
                if ids.is_empty() {
                    t.prefixes.remove(&p);
                }
            }
        }
        if self.active.fetch_sub(1, Relaxed) == 1 {
            // Nobody tracks: writes stop looking at the table, so drop what it remembers.
            t.keys.clear();
            t.items = 0;
            t.pending.clear();
        }
    }

    /// The tracking state of `id` for CLIENT TRACKINGINFO / GETREDIR.
    pub fn info(&self, id: u64) -> Info {
        let t = self.table.lock();
        match t.clients.get(&id) {
            None => Info::default(),
            Some(e) => Info {
                mode: Some(e.mode.clone()),
                broken_redirect: e.broken_redirect,
                prefixes: e.prefixes.iter().cloned().collect(),
            },
        }
    }

    /// The first of `new` that overlaps a prefix `id` already has or a later one of `new`, as
    /// Redis's error text wants it.
    pub fn prefix_collision(&self, id: u64, new: &[Bytes]) -> Option<String> {
        let t = self.table.lock();
        let overlaps = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
        let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        for (i, p) in new.iter().enumerate() {
            if let Some(old) = t.clients.get(&id).and_then(|e| e.prefixes.iter().find(|o| overlaps(o, p))) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    show(p),
                    show(old)
                ));
            }
            if let Some(other) = new[i + 1..].iter().find(|o| overlaps(o, p)) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    show(p),
                    show(other)
                ));
            }
        }
        None
    }

    /// Remembers that client `id` read `keys` (default mode), then invalidates tracked keys while
    /// the table holds more than `max_keys` (0 = no bound).
    pub fn remember<'a>(&self, id: u64, keys: impl Iterator<Item = &'a Bytes>, max_keys: usize) {
        let mut t = self.table.lock();
        for k in keys {
            let ids = t.keys.entry(k.clone()).or_default();
            if !ids.contains(&id) {
                ids.push(id);
                t.items += 1;
            }
        }
        while max_keys > 0 && t.keys.len() > max_keys {
            let Some(victim) = t.keys.keys().next().cloned() else { break };
            self.invalidate_locked(&mut t, &victim, 0);
        }
    }

    /// A key changed (write, expiry, eviction): tell whoever tracks it. One relaxed load when
    /// nobody tracks.
    #[inline]
    pub fn modified(&self, key: &[u8]) {
        if self.active.load(Relaxed) != 0 {
            self.modified_tracked(key);
        }
    }

    #[cold]
    fn modified_tracked(&self, key: &[u8]) {
        let writer = current_client();
        let mut t = self.table.lock();
        self.invalidate_locked(&mut t, key, writer);
        if !t.pending.is_empty() && writer == 0 {
            self.broadcast_locked(&mut t);
        }
    }

    /// Sends the broadcast (BCAST) messages batched during a command; called when it ends.
    #[inline]
    pub fn flush_broadcast(&self) {
        if self.active.load(Relaxed) != 0 {
            self.flush_broadcast_tracked();
        }
    }

    #[cold]
    fn flush_broadcast_tracked(&self) {
        let mut t = self.table.lock();
        if !t.pending.is_empty() {
            self.broadcast_locked(&mut t);
        }
    }

    /// FLUSHDB / FLUSHALL: a null invalidation to every tracking client; the table is emptied.
    pub fn flush(&self) {
        if self.active.load(Relaxed) == 0 {
            return;
        }
        let mut t = self.table.lock();
        let mut ids: Vec<u64> = t.clients.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.send(&mut t, id, None);
        }
        t.keys.clear();
        t.items = 0;
    }

    fn invalidate_locked(&self, t: &mut Table, key: &[u8], writer: u64) {
        if !t.prefixes.is_empty() && t.prefixes.keys().any(|p| key.starts_with(p)) {
            t.pending.push((Bytes::copy_from_slice(key), writer));
        }
        let Some(ids) = t.keys.remove(key) else { return };
        t.items -= ids.len();
        let key = Bytes::copy_from_slice(key);
        for id in ids {
            let Some(e) = t.clients.get(&id) else { continue };
            if e.mode.bcast || (e.mode.noloop && id == writer) {
                continue;
            }
            self.send(t, id, Some(vec![key.clone()]));
        }
    }

    fn broadcast_locked(&self, t: &mut Table) {
        let mut pending = std::mem::take(&mut t.pending);
        // One message per prefix and client, keys sorted and unique (the last writer wins), as
        // Redis builds them from its per-prefix radix trees.
        pending.sort_by(|a, b| a.0.cmp(&b.0));
        pending.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 = later.1;
            }
            same
        });
        let mut sends = Vec::new();
        for (prefix, ids) in &t.prefixes {
            let matching: Vec<&(Bytes, u64)> = pending.iter().filter(|(k, _)| k.starts_with(prefix)).collect();
            if matching.is_empty() {
                continue;
            }
            for &id in ids {
                let noloop = t.clients.get(&id).is_some_and(|e| e.mode.noloop);
                let keys: Vec<Bytes> =
                    matching.iter().filter(|(_, w)| !(noloop && *w == id)).map(|(k, _)| k.clone()).collect();
                if !keys.is_empty() {
                    sends.push((id, keys));
                }
            }
        }
        for (id, keys) in sends {
            self.send(t, id, Some(keys));
        }
    }

    /// Delivers one invalidation for tracking client `id`, through its REDIRECT target if any.
    fn send(&self, t: &mut Table, id: u64, keys: Option<Vec<Bytes>>) {
        let Some(e) = t.clients.get_mut(&id) else { return };
        let boxes = self.mailboxes.read();
        let Some(own) = boxes.get(&id) else { return };
        let null_resp3 = own.resp3.load(Relaxed);
        let redirect = e.mode.redirect;
        if redirect == 0 {
            own.push(Push::Invalidate { keys, null_resp3, redirected: false });
            return;
        }
        match boxes.get(&redirect) {
            Some(target) => target.push(Push::Invalidate { keys, null_resp3, redirected: true }),
            None => {
                e.broken_redirect = true;
                own.broken_redirect.store(true, Relaxed);
                own.push(Push::RedirBroken(redirect));
            }
        }
    }

    /// Delivers a pub/sub message; returns how many subscriptions received it (PUBLISH).
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let receivers = self.pubsub.receivers(channel);
        let boxes = self.mailboxes.read();
        let mut n = 0;
        for (id, pattern) in receivers {
            if let Some(mb) = boxes.get(&id) {
                mb.push(Push::Message { pattern, channel: channel.clone(), payload: payload.clone() });
                n += 1;
            }
        }
        n
    }

    /// Starts (once) the active expiry cycle: every 100 ms (Redis's `hz 10`) expired entries are
    /// reclaimed without being touched, so memory comes back, `expired_keys` and `expired`
    /// events follow the clock and a tracked key is invalidated on time. Each cycle runs on a
    /// blocking thread: it takes every shard's lock in turn, and a shard held long (a BGSAVE
    /// copy, a long command) must not hold up a worker's other connections. `reclaim` is the
    /// keyspace's reclaim call; the task ends with the server (a weak handle).
    pub fn start_expiry_cycle<F: Fn() + Send + Sync + 'static>(self: &Arc<Self>, make_reclaim: impl FnOnce() -> F) {
        if tokio::runtime::Handle::try_current().is_err() || self.cycle.swap(true, Relaxed) {
            return;
        }
        let reclaim = Arc::new(make_reclaim());
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if weak.strong_count() == 0 {
                    return;
                }
                let reclaim = reclaim.clone();
                if tokio::task::spawn_blocking(move || reclaim()).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests;
