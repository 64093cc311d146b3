//! [`Pool`]: a few multiplexed connections to one node, handed out round-robin, each
//! re-established lazily after it dies, with exponential backoff between failed attempts (a call
//! during the backoff fails fast with the last connect error instead of dialing again).
//! [`Slot`] is the reconnecting cell, reused for the near-cache's tracking connection. Beside the
//! shared connections the pool lends *exclusive* ones ([`Pool::checkout`] / [`Pool::checkin`]) to
//! callers that put per-connection state on the server (`WATCH`, `MULTI`): a checked-out
//! connection is used by nobody else until it comes back, and only a caller that left it clean
//! gives it back (otherwise it is dropped, which closes the socket and makes the server forget
//! that state). The pool knows nothing of breakers, retries or keys.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::time::Instant;

use crate::config::NodeAddr;
use crate::connection::{ConnectOptions, Connection};
use crate::error::{Error, Result};

/// Exponential reconnect backoff bounds.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay after `failures` consecutive failures (≥ 1).
    #[must_use]
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.base.saturating_mul(factor).min(self.max)
    }
}

#[derive(Debug, Default)]
struct Reconnect {
    failures: u32,
    retry_at: Option<Instant>,
    last: Option<Error>,
}

/// One connection that reconnects on demand.
#[derive(Debug, Default)]
pub struct Slot {
    conn: RwLock<Option<Connection>>,
    reconnect: tokio::sync::Mutex<Reconnect>,
}

impl Slot {
    /// The live connection, or a new one from `connect` (unless a backoff is running).
    ///
    /// # Errors
    ///
    /// The connect error (or, during backoff, the last one).
    pub async fn get<F>(&self, backoff: Backoff, connect: impl FnOnce() -> F) -> Result<Connection>
    where
        F: Future<Output = Result<Connection>>,
    {
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let mut state = self.reconnect.lock().await;
        if let Some(c) = self.live() {
            return Ok(c);
        }
        if let (Some(at), Some(last)) = (state.retry_at, &state.last) {
            if Instant::now() < at {
                return Err(last.clone());
            }
        }
        match connect().await {
            Ok(c) => {
                *state = Reconnect::default();
                *self.conn.write() = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                state.failures += 1;
                state.retry_at = Some(Instant::now() + backoff.delay(state.failures));
                state.last = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The current connection if it is alive.
    #[must_use]
    pub fn live(&self) -> Option<Connection> {
        self.conn.read().as_ref().filter(|c| c.is_alive()).cloned()
    }
}

/// The connections to one node.
#[derive(Debug)]
pub struct Pool {
    addr: NodeAddr,
    opts: ConnectOptions,
    backoff: Backoff,
    slots: Box<[Slot]>,
    next: AtomicUsize,
    /// Idle exclusive connections, at most `slots.len()` of them; never any of the `slots`'.
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    /// A pool of `size` (≥ 1) lazily opened connections to `addr`.
    #[must_use]
    pub fn new(addr: NodeAddr, size: usize, opts: ConnectOptions, backoff: Backoff) -> Arc<Self> {
        let slots = (0..size.max(1)).map(|_| Slot::default()).collect();
        Arc::new(Self { addr, opts, backoff, slots, next: AtomicUsize::new(0), idle: Mutex::new(Vec::new()) })
    }

    /// The node's address.
    #[must_use]
    pub fn addr(&self) -> &NodeAddr {
        &self.addr
    }

    /// The connect options (shared with the tracking connection).
    #[must_use]
    pub fn options(&self) -> &ConnectOptions {
        &self.opts
    }

    /// The reconnect backoff.
    #[must_use]
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// The next connection, round-robin.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when that slot cannot (re)connect.
    pub async fn get(&self) -> Result<Connection> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        self.slots[i].get(self.backoff, || Connection::connect(&self.addr, &self.opts, None)).await
    }

    /// An exclusive connection: an idle one given back earlier, or a new one. Nobody else sends
    /// on it until the caller gives it back with [`Pool::checkin`] (or drops it).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] or [`Error::Timeout`] when a new connection cannot be made.
    pub async fn checkout(&self) -> Result<Connection> {
        loop {
            let Some(conn) = self.idle.lock().pop() else { break };
            if conn.is_alive() {
                return Ok(conn);
            }
        }
        Connection::connect(&self.addr, &self.opts, None).await
    }

    /// Gives back a connection from [`Pool::checkout`]. The caller must have left no state on
    /// it (no `WATCH`, no open `MULTI`); a dead one, or one beyond the idle bound, is dropped.
    pub fn checkin(&self, conn: Connection) {
        let mut idle = self.idle.lock();
        if conn.is_alive() && idle.len() < self.slots.len() {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff { base: Duration::from_millis(10), max: Duration::from_millis(100) };
        let d: Vec<u128> = (1..=6).map(|f| b.delay(f).as_millis()).collect();
        assert_eq!(d, [10, 20, 40, 80, 100, 100]);
        assert_eq!(b.delay(1000), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_connect_backs_off_then_retries() {
        let slot = Slot::default();
        let backoff = Backoff { base: Duration::from_millis(50), max: Duration::from_secs(1) };
        let fail = || async { Err(Error::Connect { addr: "x:1".into(), reason: "refused".into() }) };
        let mut dials = 0;
        assert!(
            slot.get(backoff, || {
                dials += 1;
                fail()
            })
            .await
            .is_err()
        );
        assert!(
            slot.get(backoff, || {
                dials += 1;
                fail()
            })
            .await
            .is_err()
        );
        assert_eq!(dials, 1, "the second call fails fast during the backoff");
        tokio::time::advance(Duration::from_millis(51)).await;
        assert!(
            slot.get(backoff, || {
                dials += 1;
                fail()
            })
            .await
            .is_err()
        );
        assert_eq!(dials, 2);
    }
}
