//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP).
//!
//! A blocking handler is written once, as its non-blocking form plus one call: it tries the keys
//! [`Ctx::candidates`] gives it and, if none can serve it, calls [`Ctx::block`]. What `block` does
//! depends on where the command runs ([`BlockMode`]):
//!
//! - from a client's request: the client is parked (see the registry below) and the command's
//!   reply comes later;
//! - inside MULTI/EXEC or a script: it replies nil at once, like the non-blocking form;
//! - when a push to one of its keys re-runs it for a parked client ([`BlockMode::Serving`]):
//!   `candidates` yields just the key that became ready, and `block` records that the client
//!   stays parked.
//!
//! # Parking and waking
//!
//! A parked client holds no lock and no thread: its connection task awaits its [`Waiter`] (with
//! its timeout, its socket, CLIENT KILL / UNBLOCK and shutdown), and the [`Registry`] keeps it in a
//! first-come queue per key. Thousands of parked clients cost their queue entries and idle tasks.
//!
//! Any write that leaves a list or sorted set at a key someone waits on (a push from any
//! connection, a command inside EXEC or a script, RENAME, MOVE, …) notes the key as ready
//! ([`note_write`], called by the keyspace while it holds the key). When the outermost command
//! ends — after EXEC or a script, once their locks are released — the writer's thread serves the
//! ready keys ([`Registry::serve`]): for each, the clients parked on it are taken first come, first
//! served, and each one's command is re-run in [`BlockMode::Serving`], until one finds nothing.
//! Its reply is encoded in its own protocol and handed to its connection. A served BLMOVE pushes to
//! its destination, which makes that key ready in turn, so an element handed on reaches the next
//! client in the same pass — Redis's order, on whichever thread wrote.
//!
//! A waiter is claimed under its state's lock before its command runs, so a timeout, CLIENT UNBLOCK
//! or a disconnect racing with a serve either wins before the pop (the client gets nil, nothing is
//! popped) or waits for the served reply.

use crate::commands::{CmdError, CmdResult, Ctx};
use crate::connection::ClientHandle;
use crate::entry::{Key, with_encoded};
use bytes::Bytes;
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::time::Duration;
use tokio::sync::Notify;

/// How a blocking command behaves when it finds nothing to serve it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BlockMode {
    /// Run from a client's request: park the client.
    #[default]
    Allowed,
    /// Inside MULTI/EXEC or a script: reply nil at once.
    Never,
    /// Re-run for a parked client because `key` became ready.
    Serving {
        /// The key a write made ready.
        key: Bytes,
        /// Set by [`Ctx::block`]: the command found nothing, the client stays parked.
        still_blocked: bool,
    },
}

/// What a blocking command replies when it never blocks (MULTI, a script) and finds nothing. A
/// parked client that times out always gets a null array, as from Redis 7.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nil {
    /// A null array (`*-1` in RESP2): BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
    Array,
    /// A null bulk string (`$-1` in RESP2): BLMOVE, BRPOPLPUSH.
    Bulk,
}

/// A client's request to wait: what the connection parks on ([`Ctx::block`] fills the keys,
/// the dispatcher the command).
#[derive(Debug, Clone)]
pub struct BlockRequest {
    /// The blocking command's registry row and arguments, re-run when a key is ready.
    pub command: Option<(usize, Vec<Bytes>)>,
    /// The database the keys belong to.
    pub db: u32,
    /// The keys, in the command's order.
    pub keys: Vec<Bytes>,
    /// `None` = wait for ever.
    pub timeout: Option<Duration>,
}

/// Parses a blocking command's timeout: seconds as a double, 0 = for ever, with Redis 7.0's
/// arithmetic and errors: the milliseconds are truncated (`0.0001` waits for ever), and a value
/// whose milliseconds do not fit in 64 bits (`inf`, `1e30`) converts to the most negative integer
/// on x86, which Redis then calls negative.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs =
        crate::commands::parse_f64(arg).ok_or_else(|| CmdError::from("ERR timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    // 2^63 ms: from there on, the conversion to a 64-bit integer fails.
    if !(0.0..9_223_372_036_854_775_808.0).contains(&ms) {
        return Err("ERR timeout is negative".into());
    }
    let ms = ms as u64;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    if ms > i64::MAX as u64 - now {
        return Err("ERR timeout is out of range".into());
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

impl Ctx<'_> {
    /// The keys a blocking command should try, in order: all of `keys`, or when serving a parked
    /// client, only the one that became ready (if it is among them).
    pub fn candidates<'k>(&self, keys: &'k [Bytes]) -> Vec<&'k Bytes> {
        match &self.block {
            BlockMode::Serving { key, .. } => keys.iter().filter(|k| *k == key).take(1).collect(),
            _ => keys.iter().collect(),
        }
    }

    /// Called by a blocking command that found nothing to serve it on `keys` (see the module
    /// docs). Writes nothing when it parks the client; replies `nil` in MULTI or a script.
    pub fn block(&mut self, keys: &[Bytes], timeout: Option<Duration>, nil: Nil) -> CmdResult {
        self.block_rerun(keys, timeout, nil, None)
    }

    /// [`Ctx::block`] for a command whose re-run must see other arguments than the request's:
    /// XREAD's `$` stands for the stream's last id *when the client blocked*, so XREAD passes its
    /// arguments with `$` replaced by that id.
    pub fn block_rerun(
        &mut self,
        keys: &[Bytes],
        timeout: Option<Duration>,
        nil: Nil,
        rerun: Option<Vec<Bytes>>,
    ) -> CmdResult {
        match &mut self.block {
            BlockMode::Serving { still_blocked, .. } => {
                *still_blocked = true;
            }
            BlockMode::Never => self.reply_nil(nil),
            BlockMode::Allowed => {
                let command = rerun.and_then(|args| Some((crate::commands::registry().find(self.name)?, args)));
                self.client.blocked = Some(BlockRequest { command, db: self.client.db, keys: keys.to_vec(), timeout });
            }
        }
        Ok(())
    }

    fn reply_nil(&mut self, nil: Nil) {
        match nil {
            Nil::Array => self.out.null_array(),
            Nil::Bulk => self.out.null(),
        }
    }
}

/// Parked clients, process-wide: a writer reads it (one relaxed load) to know whether anyone
/// could care about the key it just wrote.
static PARKED: AtomicUsize = AtomicUsize::new(0);

/// Whether any client is parked anywhere (one relaxed load): writers and the dispatcher skip the
/// ready-key bookkeeping otherwise.
#[inline]
pub fn anyone_parked() -> bool {
    PARKED.load(Relaxed) != 0
}

/// The keys one command made ready: in the order they became ready (the order they are served
/// in), and as a set, so a command writing many keys notes each in O(1).
#[derive(Default)]
struct Ready {
    order: Vec<Key>,
    seen: HashSet<Key, ahash::RandomState>,
}

thread_local! {
    /// Keys this thread's current command made ready (served when it ends).
    static READY: RefCell<Ready> = RefCell::new(Ready::default());
}

/// Called by the keyspace after a write while it holds the key, when [`anyone_parked`]: notes
/// `(db, key)` as ready if the write left a list, sorted set or stream there, or deleted the key
/// or replaced it with a string (a parked XREADGROUP is then unblocked with an error, as in Redis
/// 7.0; the other blocking commands find nothing and stay parked).
pub fn note_write(db: u32, key: &[u8], value: Option<&crate::entry::Value>) {
    use crate::entry::Value;
    if !matches!(value, None | Some(Value::List(_) | Value::ZSet(_) | Value::Stream(_) | Value::Str(_))) {
        return;
    }
    READY.with(|r| {
        let mut r = r.borrow_mut();
        if !with_encoded(db, key, |k| r.seen.contains(k)) {
            let k = Key::new(db, key);
            r.seen.insert(k.clone());
            r.order.push(k);
        }
    });
}

/// Runs `f` without letting its writes make keys ready: for a write that changes a value but gives
/// a parked client nothing to take (XSETID: Redis signals the key modified, not ready). Keys made
/// ready before `f` stay ready.
pub fn quietly<R>(f: impl FnOnce() -> R) -> R {
    let before = READY.with(|r| r.borrow().order.len());
    let out = f();
    READY.with(|r| {
        let mut r = r.borrow_mut();
        let added: Vec<Key> = r.order.drain(before..).collect();
        for k in &added {
            r.seen.remove(k);
        }
    });
    out
}

/// Takes the keys this thread's command made ready.
pub(crate) fn take_ready() -> Vec<(u32, Bytes)> {
    READY.with(|r| {
        let mut r = r.borrow_mut();
        r.seen.clear();
        r.order.drain(..).map(|k| (k.db(), Bytes::copy_from_slice(k.key()))).collect()
    })
}

/// How a parked client's wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Served: the command's reply, encoded in the client's protocol.
    Served(Vec<u8>),
    /// Timed out, or CLIENT UNBLOCK … TIMEOUT: the command's nil.
    TimedOut,
    /// CLIENT UNBLOCK … ERROR.
    Unblocked,
    /// Its keys' slot is no longer served here (cluster mode): this error (`MOVED …`,
    /// `CLUSTERDOWN …`), as Redis's `clusterRedirectBlockedClientIfNeeded` sends.
    Redirected(String),
}

#[derive(Debug)]
enum State {
    Waiting,
    /// A serving thread claimed it and is running its command.
    Claimed,
    Done(Outcome),
    /// Its connection went away (or the outcome was taken).
    Gone,
}

/// One parked client.
#[derive(Debug)]
pub struct Waiter {
    /// The connection.
    pub handle: Arc<ClientHandle>,
    /// What it waits for.
    pub request: BlockRequest,
    /// Its protocol (the served reply is encoded in it).
    pub resp3: bool,
    state: Mutex<State>,
    done: Notify,
}

/// The clients parked on one key, in the order they parked.
type Queue = VecDeque<Arc<Waiter>>;

/// Parked clients by key, first come first served, and by client id (CLIENT UNBLOCK).
#[derive(Debug, Default)]
pub struct Registry {
    keys: Mutex<HashMap<(u32, Bytes), Queue>>,
    clients: Mutex<HashMap<u64, Arc<Waiter>>>,
    /// Keys made ready by writers that found another thread serving.
    pending: Mutex<Vec<(u32, Bytes)>>,
    serving: Mutex<()>,
}

impl Registry {
    /// Number of parked clients (INFO `blocked_clients`).
    pub fn parked(&self) -> usize {
        self.clients.lock().len()
    }

    /// True if client `id` is parked (CLIENT LIST flag `b`).
    pub fn is_parked(&self, id: u64) -> bool {
        self.clients.lock().contains_key(&id)
    }

    /// Parks a client: queues it on each of its keys.
    pub fn park(&self, handle: Arc<ClientHandle>, request: BlockRequest, resp3: bool) -> Arc<Waiter> {
        let w = Arc::new(Waiter { handle, request, resp3, state: Mutex::new(State::Waiting), done: Notify::new() });
        {
            let mut keys = self.keys.lock();
            for k in &w.request.keys {
                let queue = keys.entry((w.request.db, k.clone())).or_default();
                // BLPOP k k waits once on k.
                if !queue.iter().any(|o| Arc::ptr_eq(o, &w)) {
                    queue.push_back(w.clone());
                }
            }
        }
        self.clients.lock().insert(w.handle.id, w.clone());
        PARKED.fetch_add(1, Release);
        w
    }

    /// Removes a waiter from every queue (its wait is over).
    fn forget(&self, w: &Arc<Waiter>) {
        let mut keys = self.keys.lock();
        for k in &w.request.keys {
            let slot = (w.request.db, k.clone());
            if let Some(q) = keys.get_mut(&slot) {
                q.retain(|o| !Arc::ptr_eq(o, w));
                if q.is_empty() {
                    keys.remove(&slot);
                }
            }
        }
        drop(keys);
        let mut clients = self.clients.lock();
        if clients.get(&w.handle.id).is_some_and(|o| Arc::ptr_eq(o, w)) {
            clients.remove(&w.handle.id);
            PARKED.fetch_sub(1, Release);
        }
    }

    /// Ends a wait from outside (timeout, CLIENT UNBLOCK): true if the waiter was still waiting.
    /// One that a serving thread claimed is left to finish.
    pub fn end(&self, w: &Arc<Waiter>, outcome: Outcome) -> bool {
        let mut st = w.state.lock();
        if !matches!(*st, State::Waiting) {
            return false;
        }
        *st = State::Done(outcome);
        drop(st);
        self.forget(w);
        w.done.notify_one();
        true
    }

    /// CLIENT UNBLOCK: ends client `id`'s wait with nil (`error` false) or `-UNBLOCKED`; false if
    /// it is not parked (or is being served right now).
    pub fn unblock(&self, id: u64, error: bool) -> bool {
        let Some(w) = self.clients.lock().get(&id).cloned() else { return false };
        self.end(&w, if error { Outcome::Unblocked } else { Outcome::TimedOut })
    }

    /// Waits until the wait is over: served, timed out at `deadline`, or unblocked. The caller
    /// (the connection) races this with its socket, kill and shutdown, and calls
    /// [`Registry::leave`] if it gives up.
    pub async fn wait(&self, w: &Arc<Waiter>) -> Outcome {
        let deadline = w.request.timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let notified = w.done.notified();
            if let State::Done(_) = &*w.state.lock() {
                break;
            }
            match deadline {
                Some(d) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(d) => { self.end(w, Outcome::TimedOut); }
                    }
                }
                None => notified.await,
            }
        }
        match std::mem::replace(&mut *w.state.lock(), State::Gone) {
            State::Done(o) => o,
            _ => unreachable!("checked to be done above"),
        }
    }

    /// The connection gave up on its wait (disconnect, kill, shutdown): forget it. A reply being
    /// served to it right now is lost with the connection, as in Redis.
    pub fn leave(&self, w: &Arc<Waiter>) {
        *w.state.lock() = State::Gone;
        self.forget(w);
    }

    /// Serves the keys this thread's command made ready (see the module docs). `run` re-runs a
    /// waiter's command in [`BlockMode::Serving`] for `key` and returns its reply, or `None` if
    /// it found nothing. Only one thread serves at a time; a writer that finds it busy leaves
    /// its keys to it.
    pub fn serve(&self, ready: Vec<(u32, Bytes)>, run: &mut dyn FnMut(&Waiter, &Bytes) -> Option<Vec<u8>>) {
        self.pending.lock().extend(ready);
        loop {
            let Some(_serving) = self.serving.try_lock() else { return };
            loop {
                let batch = std::mem::take(&mut *self.pending.lock());
                if batch.is_empty() {
                    break;
                }
                let mut seen: Vec<&(u32, Bytes)> = Vec::new();
                for slot in &batch {
                    if seen.contains(&slot) {
                        continue;
                    }
                    seen.push(slot);
                    self.serve_key(slot, run);
                    // A served BLMOVE made its destination ready: serve it in this pass.
                    self.pending.lock().extend(take_ready());
                }
            }
            drop(_serving);
            // A writer may have added keys after the last look and found the lock taken.
            if self.pending.lock().is_empty() {
                return;
            }
        }
    }

    fn serve_key(&self, slot: &(u32, Bytes), run: &mut dyn FnMut(&Waiter, &Bytes) -> Option<Vec<u8>>) {
        let mut skip = 0;
        loop {
            let Some(w) = self.keys.lock().get(slot).and_then(|q| q.get(skip).cloned()) else { return };
            {
                let mut st = w.state.lock();
                if !matches!(*st, State::Waiting) {
                    // Ending elsewhere right now; it leaves the queue by itself.
                    skip += 1;
                    continue;
                }
                *st = State::Claimed;
            }
            match run(&w, &slot.1) {
                Some(reply) => {
                    *w.state.lock() = State::Done(Outcome::Served(reply));
                    self.forget(&w);
                    w.done.notify_one();
                }
                None => {
                    let mut st = w.state.lock();
                    if matches!(*st, State::Claimed) {
                        *st = State::Waiting;
                    }
                    // The key cannot serve the first in line: it serves nobody behind it either.
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(id: u64) -> Arc<ClientHandle> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        Arc::new(ClientHandle::new(id, addr, addr, Default::default()))
    }

    fn request(keys: &[&str], timeout: Option<Duration>) -> BlockRequest {
        BlockRequest {
            command: None,
            db: 0,
            keys: keys.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect(),
            timeout,
        }
    }

    #[tokio::test]
    async fn first_parked_first_served_until_the_key_runs_dry() {
        let reg = Registry::default();
        let a = reg.park(handle(1), request(&["q"], None), false);
        let b = reg.park(handle(2), request(&["other", "q"], None), false);
        let c = reg.park(handle(3), request(&["q"], None), false);
        assert_eq!(reg.parked(), 3);
        // The key holds two elements: the first two in line get them, the third keeps waiting.
        let mut stock = vec![b"y".to_vec(), b"x".to_vec()];
        let mut order = Vec::new();
        reg.serve(vec![(0, Bytes::from_static(b"q"))], &mut |w, key| {
            assert_eq!(key, "q");
            order.push(w.handle.id);
            stock.pop()
        });
        assert_eq!(order, [1, 2, 3]);
        assert_eq!(reg.wait(&a).await, Outcome::Served(b"x".to_vec()));
        assert_eq!(reg.wait(&b).await, Outcome::Served(b"y".to_vec()));
        assert!(reg.is_parked(3) && !reg.is_parked(1) && !reg.is_parked(2));
        // CLIENT UNBLOCK ends the rest; a second one finds nobody.
        assert!(reg.unblock(3, true));
        assert!(!reg.unblock(3, true));
        assert_eq!(reg.wait(&c).await, Outcome::Unblocked);
        assert_eq!(reg.parked(), 0);
        assert!(reg.keys.lock().is_empty(), "no queue left behind");
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_ends_the_wait_and_leaves_no_trace() {
        let reg = Registry::default();
        let w = reg.park(handle(7), request(&["q", "q"], Some(Duration::from_millis(100))), true);
        assert_eq!(reg.keys.lock()[&(0, Bytes::from_static(b"q"))].len(), 1, "one queue entry for a repeated key");
        assert_eq!(reg.wait(&w).await, Outcome::TimedOut);
        assert_eq!(reg.parked(), 0);
        reg.serve(vec![(0, Bytes::from_static(b"q"))], &mut |_, _| panic!("nobody is waiting"));
        let gone = reg.park(handle(8), request(&["q"], None), false);
        reg.leave(&gone);
        assert_eq!(reg.parked(), 0);
        assert!(reg.keys.lock().is_empty());
    }
}
