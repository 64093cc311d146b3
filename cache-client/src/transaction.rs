//! [`Transaction`]: `WATCH` / `MULTI` / `EXEC` on one node over one connection that nobody else
//! uses meanwhile, and [`Client::transact`], the optimistic-locking retry loop (redis-py's
//! `transaction(func, *watches)`). Owns the exchange and the reading of `EXEC`'s reply; routing is
//! the ring's, connections are the pool's, scripts are `script.rs`'s.
//!
//! ```text
//!  Client::transaction(keys) ── all keys → one node (ring, {hash tags}) ── Pool::checkout ─┐
//!                                                                                           │ exclusive conn
//!  watch(keys) ─ WATCH ─────────────────────────────────────────────────────────────────────┤ (round trips)
//!  cmd / get  ─ immediate reads, on the watched connection ─────────────────────────────────┤
//!  queue(...) ─ kept locally                                                                │
//!  exec()     ─ [SCRIPT EXISTS/LOAD] ─ MULTI (awaited) ─ queued… EXEC (one write) ─────────┘
//!                 └─ Committed(per-command results) | Conflict (EXEC nil) | Err(ExecAbort)
//!  drop       ─ clean (nothing watched, no exchange cut short) → Pool::checkin; else the
//!               socket closes and the server forgets its WATCHes
//! ```
//!
//! Why an exclusive connection: the pool's connections are multiplexed, so other tasks' requests
//! would land between `WATCH` and `EXEC` and inside `MULTI` on the same server-side client. The
//! transaction checks a connection out of the node's pool instead, and gives it back only when no
//! server-side state is left on it.
//!
//! Why `MULTI` is awaited before the queued commands are sent: on a server that refuses `MULTI`
//! (an unknown command, an ACL), a pipelined batch would run the queued writes one by one, outside
//! any transaction. One more round trip buys the guarantee that queued commands only ever run
//! inside `MULTI`.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::client::{Client, Route};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::script::Script;
use crate::value::Value;

/// What `EXEC` did.
#[derive(Debug)]
#[non_exhaustive]
#[must_use]
pub enum ExecOutcome {
    /// The queued commands ran, atomically; one result per command, in queue order. A command
    /// that failed while running (`WRONGTYPE`, not an integer) is an [`Error::Server`] here and
    /// did not stop the others (Redis has no rollback).
    Committed(Vec<Result<Value>>),
    /// A watched key changed before `EXEC` (it answered nil): nothing ran.
    Conflict,
}

impl ExecOutcome {
    /// The per-command results, or `None` after a conflict.
    #[must_use]
    pub fn committed(self) -> Option<Vec<Result<Value>>> {
        match self {
            Self::Committed(r) => Some(r),
            Self::Conflict => None,
        }
    }

    /// Whether a watched key changed.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict)
    }
}

/// What [`Client::transact`] returns once `EXEC` committed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Committed<T> {
    /// What the closure returned on the attempt that committed.
    pub value: T,
    /// `EXEC`'s per-command results.
    pub replies: Vec<Result<Value>>,
    /// Attempts made (1 when no watched key changed).
    pub attempts: u32,
}

/// The future a [`Client::transact`] closure returns (boxed so that it may borrow the
/// transaction and still be `Send`).
pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 't>>;

/// One transaction on one node: an exclusive connection, the keys it may touch, and the commands
/// queued for `EXEC`. Reusable: after [`exec`](Self::exec) or [`discard`](Self::discard) a new
/// round may start with [`watch`](Self::watch).
///
/// # Examples
///
/// ```no_run
/// # async fn demo(client: cache_client::Client) -> cache_client::Result<()> {
/// use cache_client::ExecOutcome;
///
/// let mut tx = client.transaction(&["{acct:7}:balance", "{acct:7}:log"]).await?;
/// tx.watch(&["{acct:7}:balance"]).await?;
/// let balance: i64 = tx.get("{acct:7}:balance").await?.map_or(Ok(0), |v| {
///     std::str::from_utf8(&v).unwrap_or("0").parse().map_err(|_| cache_client::Error::Protocol("nan".into()))
/// })?;
/// tx.queue(&["SET", "{acct:7}:balance", &(balance - 10).to_string()])?;
/// tx.queue(&["APPEND", "{acct:7}:log", "-10;"])?;
/// match tx.exec().await? {
///     ExecOutcome::Committed(results) => assert_eq!(results.len(), 2),
///     ExecOutcome::Conflict => { /* someone else changed the balance: read again */ }
///     _ => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a transaction does nothing until exec()"]
pub struct Transaction {
    client: Client,
    node: usize,
    /// In cluster mode, the hash slot every key must share (`None`: ring mode, or no keys).
    slot: Option<u16>,
    /// `None` only while being dropped.
    conn: Option<Connection>,
    queued: Vec<Vec<Bytes>>,
    /// Scripts of queued `EVALSHA`s, loaded on the node before `MULTI`.
    scripts: Vec<Script>,
    /// Keys this round writes (or may): dropped from the near-cache after `EXEC`.
    touched: Vec<Bytes>,
    /// A `WATCH` may be in force on the server.
    watching: bool,
    /// An exchange was cut short (timeout, lost connection): the server-side state is unknown,
    /// so the connection is never given back.
    broken: bool,
    /// A command changed the connection itself (`SELECT`, `CLIENT TRACKING`, ...): it is closed
    /// at the end instead of going back to the pool.
    tainted: bool,
}

impl Client {
    /// Starts a transaction on the node that owns `keys` (node 0 when empty), on a connection
    /// checked out of that node's pool for this transaction alone.
    ///
    /// Every key the transaction watches or queues must live on that node (in cluster mode: in
    /// that hash slot); keys sharing a hash tag (`{user:42}:a`, `{user:42}:b`) always do.
    ///
    /// # Errors
    ///
    /// [`Error::CrossNode`] when `keys` span nodes ([`Error::CrossSlot`] when they span slots, in
    /// cluster mode); [`Error::NodeUnavailable`] or a connect error when no connection can be had.
    pub async fn transaction<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Transaction> {
        let (node, slot) = match self.route_of_keys(keys)? {
            Route::Node(n) => (n, None),
            Route::Slot(slot) => (self.owner_or_refresh(slot).await?, Some(slot)),
        };
        let conn = self.inner.node(node).exclusive().await?;
        Ok(Transaction {
            client: self.clone(),
            node,
            slot,
            conn: Some(conn),
            queued: Vec::new(),
            scripts: Vec::new(),
            touched: Vec::new(),
            watching: false,
            broken: false,
            tainted: false,
        })
    }

    /// Optimistic locking with retries, as redis-py's `transaction(func, *watches)`: `WATCH`
    /// `watch`, run `f` (which reads through the transaction and queues commands), `EXEC`; when a
    /// watched key changed in between, do it all again, at most `max_attempts` times. The keys of
    /// `watch` choose the node. In cluster mode, a `-MOVED` answer to `WATCH` (the slot moved
    /// since the map was read) starts over on the new owner, within the redirect bound.
    ///
    /// ```no_run
    /// # async fn demo(client: cache_client::Client) -> cache_client::Result<()> {
    /// let done = client
    ///     .transact(&["{c}:n"], 5, |tx| {
    ///         Box::pin(async move {
    ///             let n: i64 = tx.get("{c}:n").await?.and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok()).unwrap_or(0);
    ///             tx.queue(&["SET", "{c}:n", &(n * 2 + 1).to_string()])?;
    ///             Ok(n)
    ///         })
    ///     })
    ///     .await?;
    /// println!("read {} after {} attempt(s)", done.value, done.attempts);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::WatchConflict`] after `max_attempts` conflicts; the closure's error (the round is
    /// discarded, not retried); any error of [`Client::transaction`] and [`Transaction::exec`].
    pub async fn transact<K, T, F>(&self, watch: &[K], max_attempts: u32, mut f: F) -> Result<Committed<T>>
    where
        K: AsRef<[u8]>,
        F: for<'t> FnMut(&'t mut Transaction) -> TxFuture<'t, T>,
    {
        let mut tx = self.transaction(watch).await?;
        let max_attempts = max_attempts.max(1);
        let mut redirects = 0;
        for attempt in 1..=max_attempts {
            loop {
                match tx.watch(watch).await {
                    // Nothing ran: the map has learnt the new owner; start over there.
                    Err(e) if e.server_code() == Some("MOVED") && redirects < self.max_redirects() => {
                        redirects += 1;
                        drop(tx);
                        tx = self.transaction(watch).await?;
                    }
                    r => break r?,
                }
            }
            let value = match f(&mut tx).await {
                Ok(v) => v,
                Err(e) => {
                    // Best effort: a failed UNWATCH marks the connection broken, so it is not reused.
                    let _ = tx.discard().await;
                    return Err(e);
                }
            };
            if let ExecOutcome::Committed(replies) = tx.exec().await? {
                return Ok(Committed { value, replies, attempts: attempt });
            }
        }
        Err(Error::WatchConflict { attempts: max_attempts })
    }
}

impl Transaction {
    /// The node it runs on (see [`Client::node_name`]).
    #[must_use]
    pub fn node(&self) -> usize {
        self.node
    }

    /// Checks that `keys` live on this transaction's node.
    ///
    /// # Errors
    ///
    /// [`Error::CrossNode`] otherwise.
    pub fn check_keys<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<()> {
        for k in keys {
            if let (Some(mine), Route::Slot(slot)) = (self.slot, self.client.route(k.as_ref())) {
                if slot != mine {
                    return Err(Error::CrossSlot {
                        first: "(the transaction's keys)".to_owned(),
                        first_slot: mine,
                        other: String::from_utf8_lossy(k.as_ref()).into_owned(),
                        other_slot: slot,
                    });
                }
                continue;
            }
            let node = self.client.node_of(k);
            if node != self.node {
                return Err(Error::CrossNode {
                    first: format!("(the transaction's keys on {})", self.client.node_name(self.node)),
                    first_node: self.client.node_name(self.node).to_owned(),
                    other: String::from_utf8_lossy(k.as_ref()).into_owned(),
                    other_node: self.client.node_name(node).to_owned(),
                });
            }
        }
        Ok(())
    }

    /// `WATCH keys`: `EXEC` will answer [`ExecOutcome::Conflict`] if any of them changes first.
    ///
    /// # Errors
    ///
    /// [`Error::CrossNode`], the server's error reply, or a transport error.
    pub async fn watch<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<()> {
        self.check_keys(keys)?;
        if keys.is_empty() {
            return Ok(());
        }
        let mut args = vec![Bytes::from_static(b"WATCH")];
        args.extend(keys.iter().map(|k| Bytes::copy_from_slice(k.as_ref())));
        self.watching = true;
        self.request(&args).await?.expect_ok()
    }

    /// `UNWATCH`.
    ///
    /// # Errors
    ///
    /// A transport error.
    pub async fn unwatch(&mut self) -> Result<()> {
        if self.watching {
            self.request(&[Bytes::from_static(b"UNWATCH")]).await?.expect_ok()?;
            self.watching = false;
        }
        Ok(())
    }

    /// Runs one command now, on the transaction's connection (not queued): the reads between
    /// `WATCH` and `EXEC`. The first argument after the name is taken as its key and checked, as
    /// [`Client::cmd`] routes by it; use [`cmd_unchecked`](Self::cmd_unchecked) for commands
    /// whose second word is not a key.
    ///
    /// # Errors
    ///
    /// [`Error::CrossNode`], the server's error reply, or a transport error.
    pub async fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value> {
        self.check_keys(args.get(1..2).unwrap_or_default())?;
        self.cmd_unchecked(args).await
    }

    /// [`cmd`](Self::cmd) without the key check.
    ///
    /// `WATCH` and `UNWATCH` sent this way are tracked like [`watch`](Self::watch) and
    /// [`unwatch`](Self::unwatch). A command that changes the connection itself (`SELECT`, `AUTH`,
    /// `HELLO`, `RESET`, `CLIENT` other than `ID`/`INFO`/`GETNAME`, subscriptions, `MONITOR`)
    /// keeps the connection from going back to the pool.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for `MULTI`, `EXEC` and `DISCARD`, which the transaction sends itself
    /// ([`exec`](Self::exec), [`discard`](Self::discard)); the server's error reply, or a
    /// transport error.
    pub async fn cmd_unchecked<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value> {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_ref())).collect();
        let name = args.first().map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default();
        let sub = args.get(1).map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default();
        match name.as_str() {
            "MULTI" | "EXEC" | "DISCARD" => {
                return Err(Error::Config(format!("{name} is sent by the transaction itself: use queue/exec/discard")));
            }
            "WATCH" => self.watching = true,
            "SELECT" | "AUTH" | "HELLO" | "RESET" | "MONITOR" | "SUBSCRIBE" | "PSUBSCRIBE" | "SSUBSCRIBE" => {
                self.tainted = true;
            }
            "CLIENT" if !matches!(sub.as_str(), "ID" | "INFO" | "GETNAME") => self.tainted = true,
            _ => {}
        }
        let r = self.request(&args).await;
        if name == "UNWATCH" && r.is_ok() {
            self.watching = false;
        }
        r
    }

    /// `GET key`, now, on the transaction's connection (never from the near-cache).
    ///
    /// # Errors
    ///
    /// As [`cmd`](Self::cmd).
    pub async fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.cmd(&[b"GET".as_slice(), key.as_ref()]).await?.into_opt_bytes()
    }

    /// Queues a command for `EXEC` (nothing is sent yet). The first argument after the name is
    /// taken as its key and checked; see [`queue_unchecked`](Self::queue_unchecked) for other
    /// shapes (`MSET k1 v1 k2 v2`: check the keys with [`check_keys`](Self::check_keys) first).
    ///
    /// # Errors
    ///
    /// [`Error::CrossNode`] (nothing is queued then).
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<&mut Self> {
        let key = args.get(1).map(|k| Bytes::copy_from_slice(k.as_ref()));
        self.check_keys(key.as_slice())?;
        self.touched.extend(key);
        Ok(self.queue_unchecked(args))
    }

    /// Queues a command without checking any key.
    pub fn queue_unchecked<A: AsRef<[u8]>>(&mut self, args: &[A]) -> &mut Self {
        self.queued.push(args.iter().map(|a| Bytes::copy_from_slice(a.as_ref())).collect());
        self
    }

    /// Queues `EVALSHA` of `script`; `exec` loads the script on the node first if it lacks it, so
    /// `NOSCRIPT` cannot fail the transaction.
    ///
    /// # Errors
    ///
    /// [`Error::CrossNode`] when `keys` are not on this node.
    pub fn queue_script<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &mut self,
        script: &Script,
        keys: &[K],
        args: &[A],
    ) -> Result<&mut Self> {
        self.check_keys(keys)?;
        self.touched.extend(keys.iter().map(|k| Bytes::copy_from_slice(k.as_ref())));
        if !self.scripts.iter().any(|s| s.sha() == script.sha()) {
            self.scripts.push(script.clone());
        }
        self.queued.push(script.evalsha_args(keys, args));
        Ok(self)
    }

    /// How many commands are queued.
    #[must_use]
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether nothing is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Drops the queued commands and any `WATCH`.
    ///
    /// # Errors
    ///
    /// A transport error from `UNWATCH` (the connection is then not reused).
    pub async fn discard(&mut self) -> Result<()> {
        self.queued.clear();
        self.scripts.clear();
        self.touched.clear();
        self.unwatch().await
    }

    /// Sends `MULTI`, the queued commands and `EXEC`, and reads the outcome. The queue and the
    /// `WATCH`es are cleared whatever the outcome, so the transaction can start another round.
    ///
    /// # Errors
    ///
    /// [`Error::ExecAbort`] when the server refused a command while queueing it (nothing ran);
    /// [`Error::Server`] when it refused `MULTI` (nothing was sent after it) or answered `EXEC`
    /// with another error; a transport error, after which the outcome is unknown and the
    /// connection is dropped.
    pub async fn exec(&mut self) -> Result<ExecOutcome> {
        let queued = std::mem::take(&mut self.queued);
        let scripts = std::mem::take(&mut self.scripts);
        let touched = std::mem::take(&mut self.touched);
        let result = self.run(queued, &scripts).await;
        for k in touched {
            self.client.forget(&k);
        }
        result
    }

    async fn run(&mut self, queued: Vec<Vec<Bytes>>, scripts: &[Script]) -> Result<ExecOutcome> {
        self.load_scripts(scripts).await?;
        self.request(&[Bytes::from_static(b"MULTI")]).await?.expect_ok()?;
        // Broken until EXEC's reply is in: the server is inside MULTI meanwhile.
        self.broken = true;
        let node = self.client.inner.node(self.node);
        let permit = node.breaker.allow().ok_or_else(|| Error::NodeUnavailable(node.name.clone()))?;
        let conn = self.conn.clone().expect("a live transaction has its connection");
        let batch = send_batch(&conn, &queued, self.client.inner.cfg.request_timeout).await;
        node.breaker.record(permit, !matches!(&batch, Err(e) if e.is_node_failure()));
        // Cut short: whether EXEC ran is unknown, and the connection stays broken.
        let (rejected, exec) = batch?;
        // Every reply arrived: the server is out of MULTI, and EXEC (or its abort) ended the WATCHes.
        self.broken = false;
        self.watching = false;
        outcome(exec, rejected)
    }

    /// Makes sure the node has every queued script (`SCRIPT EXISTS`, then `SCRIPT LOAD` of the
    /// missing), on this connection, before `MULTI`.
    async fn load_scripts(&mut self, scripts: &[Script]) -> Result<()> {
        if scripts.is_empty() {
            return Ok(());
        }
        let mut args = vec![Bytes::from_static(b"SCRIPT"), Bytes::from_static(b"EXISTS")];
        args.extend(scripts.iter().map(|s| Bytes::copy_from_slice(s.sha().as_bytes())));
        let Value::Array(found) = self.request(&args).await? else {
            return Err(Error::Protocol("SCRIPT EXISTS did not answer an array".into()));
        };
        for (script, there) in scripts.iter().zip(found) {
            if !there.into_bool()? {
                let load = [Bytes::from_static(b"SCRIPT"), Bytes::from_static(b"LOAD"), script.source_bytes()];
                self.request(&load).await?;
            }
        }
        Ok(())
    }

    /// One request on the connection, under the node's breaker (as `Node::call`); a transport
    /// failure marks the connection broken.
    async fn request(&mut self, args: &[Bytes]) -> Result<Value> {
        let node = self.client.inner.node(self.node);
        let permit = node.breaker.allow().ok_or_else(|| Error::NodeUnavailable(node.name.clone()))?;
        let conn = self.conn.as_ref().expect("a live transaction has its connection");
        let r = conn.request(args, self.client.inner.cfg.request_timeout).await;
        node.breaker.record(permit, !matches!(&r, Err(e) if e.is_node_failure()));
        if let Err(Error::Server(text)) = &r {
            // Cluster mode: a -MOVED teaches the map where the slot went (the caller sees the
            // error; `transact` starts over there).
            self.client.note_redirect(text, &node);
        }
        if matches!(&r, Err(e) if !matches!(e, Error::Server(_))) {
            self.broken = true;
        }
        r
    }
}

/// Sends the queued commands and `EXEC` back to back (one write) and waits for every reply,
/// under one deadline. Returns the commands refused while queueing and `EXEC`'s own reply; a
/// transport error means the outcome is unknown.
async fn send_batch(
    conn: &Connection,
    queued: &[Vec<Bytes>],
    timeout: std::time::Duration,
) -> Result<(Vec<(usize, String)>, Result<Value>)> {
    let exec = [Bytes::from_static(b"EXEC")];
    let mut pending = Vec::with_capacity(queued.len() + 1);
    for args in queued {
        pending.push(conn.submit(args).await?);
    }
    let exec_reply = conn.submit(&exec).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut rejected = Vec::new();
    for (i, p) in pending.into_iter().enumerate() {
        match p.wait_until(deadline, timeout).await {
            Ok(_) => {}
            Err(Error::Server(text)) => rejected.push((i, text)),
            Err(e) => return Err(e),
        }
    }
    match exec_reply.wait_until(deadline, timeout).await {
        Err(e) if !matches!(e, Error::Server(_)) => Err(e),
        exec => Ok((rejected, exec)),
    }
}

/// Reads `EXEC`'s reply: an array is a commit (nested errors are that command's failure), nil a
/// watched-key conflict, `EXECABORT` an abort that carries the queue-time refusals.
fn outcome(exec: Result<Value>, rejected: Vec<(usize, String)>) -> Result<ExecOutcome> {
    match exec {
        Ok(Value::Nil) => Ok(ExecOutcome::Conflict),
        Ok(Value::Array(items)) => Ok(ExecOutcome::Committed(
            items
                .into_iter()
                .map(|v| match v {
                    Value::Error(text) => Err(Error::Server(text)),
                    v => Ok(v),
                })
                .collect(),
        )),
        Ok(other) => Err(Error::Protocol(format!("EXEC answered {other:?}"))),
        Err(Error::Server(reply)) if reply.starts_with("EXECABORT") => Err(Error::ExecAbort { reply, rejected }),
        Err(e) => Err(e),
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.watching && !self.broken && !self.tainted {
                self.client.inner.node(self.node).pool.checkin(conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_replies_map_to_outcomes() {
        let r = outcome(Ok(Value::Array(vec![Value::Int(1), Value::Error("ERR boom".into())])), vec![]).unwrap();
        let ExecOutcome::Committed(items) = r else { panic!("a commit") };
        assert!(matches!(items.as_slice(), [Ok(Value::Int(1)), Err(Error::Server(t))] if t == "ERR boom"));
        assert!(outcome(Ok(Value::Nil), vec![]).unwrap().is_conflict());
        let abort = "EXECABORT Transaction discarded because of previous errors.".to_owned();
        let e = outcome(Err(Error::Server(abort.clone())), vec![(1, "ERR x".into())]).unwrap_err();
        assert!(matches!(&e, Error::ExecAbort { reply, rejected } if *reply == abort && rejected.len() == 1));
        assert_eq!(e.server_code(), Some("EXECABORT"));
        assert!(matches!(outcome(Err(Error::Server("ERR other".into())), vec![]), Err(Error::Server(_))));
        assert!(matches!(outcome(Ok(Value::Int(3)), vec![]), Err(Error::Protocol(_))));
    }
}
