//! [`Node`]: everything the client keeps per server — its connection pool, its circuit breaker,
//! and (with a near-cache) its tracking connection. [`Node::call`] is the one place a command
//! meets the network: breaker check, connection, request, outcome reported to the breaker.
//! Retries and routing live above it, in the client.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::breaker::Breaker;
use crate::codec::Protocol;
use crate::connection::{ConnectOptions, Connection, PushHandler};
use crate::error::{Error, Result};
use crate::near_cache::{NearCache, TrackingHandler};
use crate::pool::{Pool, Slot};
use crate::value::Value;

/// One server.
#[derive(Debug)]
pub struct Node {
    pub(crate) pool: Arc<Pool>,
    pub(crate) breaker: Breaker,
    pub(crate) name: String,
    /// Its index in the client's node list (stable: indexes are never reused).
    pub(crate) index: usize,
    /// The RESP3 connection that carries near-cache fills and receives their invalidations.
    tracking: Slot,
}

impl Node {
    pub(crate) fn new(index: usize, pool: Arc<Pool>, breaker: Breaker) -> Self {
        let name = pool.addr().name();
        Self { pool, breaker, name, index, tracking: Slot::default() }
    }

    /// Sends `args` on a pooled connection under the breaker.
    pub(crate) async fn call(&self, args: &[Bytes], timeout: Duration) -> Result<Value> {
        let permit = self.breaker.allow().ok_or_else(|| Error::NodeUnavailable(self.name.clone()))?;
        let result = match self.pool.get().await {
            Ok(conn) => {
                let r = conn.request(args, timeout).await;
                if matches!(r, Err(Error::ConnectionDropped)) && !conn.claim_drop_report() {
                    // Another request already reported this socket's loss.
                    self.breaker.release(permit);
                    return r;
                }
                r
            }
            Err(e) => Err(e),
        };
        self.breaker.record(permit, !matches!(&result, Err(e) if e.is_node_failure()));
        result
    }

    /// A pooled connection under the breaker, for pipelines (the caller reports nothing: a
    /// broken pipeline shows up on the next call).
    pub(crate) async fn connection(&self) -> Result<Connection> {
        let permit = self.breaker.allow().ok_or_else(|| Error::NodeUnavailable(self.name.clone()))?;
        let result = self.pool.get().await;
        self.breaker.record(permit, result.is_ok());
        result
    }

    /// An exclusive connection (see [`Pool::checkout`]) under the breaker, for transactions.
    pub(crate) async fn exclusive(&self) -> Result<Connection> {
        let permit = self.breaker.allow().ok_or_else(|| Error::NodeUnavailable(self.name.clone()))?;
        let result = self.pool.checkout().await;
        self.breaker.record(permit, !matches!(&result, Err(e) if e.is_node_failure()));
        result
    }

    /// The tracking connection, (re)established with `CLIENT TRACKING on` on demand.
    pub(crate) async fn tracking(&self, near: &Arc<NearCache>, timeout: Duration) -> Result<Connection> {
        let opts = ConnectOptions { resp3: true, ..self.pool.options().clone() };
        let addr = self.pool.addr();
        let index = self.index;
        self.tracking
            .get(self.pool.backoff(), || async move {
                let handler: Arc<dyn PushHandler> = Arc::new(TrackingHandler::new(Arc::clone(near), index));
                let conn = Connection::connect(addr, &opts, Some(handler)).await?;
                if conn.protocol() != Protocol::Resp3 {
                    return Err(Error::Protocol(format!(
                        "{}: the near-cache needs RESP3 (HELLO 3 was refused)",
                        addr.name()
                    )));
                }
                conn.request(&[&b"CLIENT"[..], b"TRACKING", b"on"], timeout).await?.expect_ok()?;
                Ok(conn)
            })
            .await
    }
}
