//! One load-generating connection: send a batch of `pipeline` requests in one write, read until every
//! reply of the batch is decoded, record, repeat — closed loop, like redis-benchmark and memtier,
//! optionally paced to a fixed request rate.
//!
//! Owns the socket loop and the per-thread [`Tally`]; deciding how many connections run, when the
//! phases start and stop, and what is reported belongs to [`mod@super::run`].
//!
//! Latency of a request is the time from the batch's write to the read that completed its reply
//! (one clock read per `read`, not per reply). Only batches written inside the measured window are
//! recorded, so warm-up traffic never reaches the histogram.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::keys::{KeyPicker, write_key};
use super::proto::{Op, Outcome, ProtoError, Protocol};

/// Highest latency the histogram tracks exactly; slower replies are recorded as this.
pub const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// Reply counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// GETs answered.
    pub gets: u64,
    /// SETs answered.
    pub sets: u64,
    /// GETs that returned a value.
    pub hits: u64,
    /// GETs that found nothing.
    pub misses: u64,
    /// Error replies, or replies that do not answer the request.
    pub errors: u64,
}

impl Counts {
    pub(super) fn add(&mut self, o: Self) {
        self.gets += o.gets;
        self.sets += o.sets;
        self.hits += o.hits;
        self.misses += o.misses;
        self.errors += o.errors;
    }

    pub(super) fn count(&mut self, op: Op, outcome: Outcome) {
        match op {
            Op::Get => self.gets += 1,
            Op::Set => self.sets += 1,
        }
        match outcome {
            Outcome::Hit => self.hits += 1,
            Outcome::Miss => self.misses += 1,
            Outcome::Stored => {}
            Outcome::Error => self.errors += 1,
        }
    }
}

/// Counters and the latency histogram of the requests measured so far (one per thread).
#[derive(Debug)]
pub struct Tally {
    /// Replies by kind.
    pub counts: Counts,
    /// Request latency in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// When the last measured reply arrived: the end of the measured window.
    pub last_reply: Option<Instant>,
}

impl Tally {
    /// An empty tally.
    ///
    /// # Panics
    /// Never: the histogram bounds are constants that hdrhistogram accepts.
    #[must_use]
    pub fn new() -> Self {
        Self {
            counts: Counts::default(),
            latency_ns: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid histogram bounds"),
            last_reply: None,
        }
    }

    /// Adds `other` into `self`.
    ///
    /// # Panics
    /// Never: every tally's histogram has the same bounds.
    pub fn merge(&mut self, other: &Self) {
        self.counts.add(other.counts);
        self.latency_ns.add(&other.latency_ns).expect("histograms with equal bounds merge");
        self.last_reply = self.last_reply.max(other.last_reply);
    }
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a connection stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Connecting, reading or writing failed.
    #[error("connection to {addr}: {source}")]
    Io {
        /// The server address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The server closed the connection with replies outstanding.
    #[error("{addr} closed the connection with {outstanding} replies outstanding")]
    Closed {
        /// The server address.
        addr: SocketAddr,
        /// Replies still expected.
        outstanding: usize,
    },
    /// The server sent bytes that are not a reply.
    #[error("{addr}: {source}")]
    Protocol {
        /// The server address.
        addr: SocketAddr,
        /// What was wrong.
        source: ProtoError,
    },
}

/// What one connection does.
#[derive(Debug)]
pub struct Plan {
    /// Server address.
    pub addr: SocketAddr,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Requests per batch.
    pub pipeline: usize,
    /// Probability that a request is a SET.
    pub set_share: f64,
    /// The value every SET writes.
    pub value: Rc<[u8]>,
    /// Where keys come from (a sequential picker ends the connection when exhausted).
    pub picker: KeyPicker,
    /// Measured requests this connection may send, if bounded by count.
    pub budget: Option<u64>,
    /// Time between batches when paced to a rate, and the first batch's send time.
    pub pacing: Option<(Duration, Instant)>,
    /// Batches written at or after this instant are measured.
    pub measure_from: Instant,
    /// No batch is written at or after this instant.
    pub stop_at: Instant,
    /// With `--cluster`: the slot map; the connection then holds a socket per node
    /// ([`super::cluster::drive`]) and `addr` only names the seed node.
    pub cluster: Option<super::cluster::SlotMap>,
}

impl Plan {
    /// Waits for the next batch's send time (when paced). `None` once the run is over (its time
    /// or its budget), else the batch's start and whether it falls in the measured window.
    pub(super) async fn next_batch(&self, next_send: Option<Instant>) -> Option<(Instant, bool)> {
        if let Some(at) = next_send {
            tokio::time::sleep_until(at.into()).await;
        }
        let t0 = Instant::now();
        if t0 >= self.stop_at || self.budget == Some(0) {
            return None;
        }
        Some((t0, t0 >= self.measure_from))
    }
}

/// Runs `plan` to its end, adding measured requests to `tally`.
///
/// # Errors
/// On a socket error, an early close, or a protocol violation by the server.
pub async fn drive(mut plan: Plan, tally: Rc<RefCell<Tally>>) -> Result<(), ConnError> {
    if let Some(map) = plan.cluster.take() {
        return super::cluster::drive(plan, map, tally).await;
    }
    let addr = plan.addr;
    let io = |source| ConnError::Io { addr, source };
    let mut stream = TcpStream::connect(addr).await.map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    let (mut wbuf, mut rbuf, mut key) = (Vec::with_capacity(4096), Vec::with_capacity(16 * 1024), Vec::new());
    let mut ops: Vec<Op> = Vec::with_capacity(plan.pipeline);
    let mut lat: Vec<u64> = Vec::with_capacity(plan.pipeline);
    let mut next_send = plan.pacing.map(|(_, first)| first);
    loop {
        let Some((t0, measured)) = plan.next_batch(next_send).await else { return Ok(()) };
        fill_batch(&mut plan, measured, &mut ops, &mut wbuf, &mut key);
        if ops.is_empty() {
            return Ok(());
        }
        if let (Some(at), Some((interval, _))) = (&mut next_send, plan.pacing) {
            *at += interval;
        }
        stream.write_all(&wbuf).await.map_err(io)?;
        let mut batch = Counts::default();
        lat.clear();
        let (mut pos, mut now) = (0, t0);
        while lat.len() < ops.len() {
            let op = ops[lat.len()];
            match plan.protocol.decode(op, &rbuf[pos..]).map_err(|source| ConnError::Protocol { addr, source })? {
                Some((outcome, used)) => {
                    pos += used;
                    lat.push(now.duration_since(t0).as_nanos() as u64);
                    batch.count(op, outcome);
                }
                None => {
                    rbuf.drain(..pos);
                    pos = 0;
                    rbuf.reserve(16 * 1024);
                    let n = stream.read_buf(&mut rbuf).await.map_err(io)?;
                    if n == 0 {
                        return Err(ConnError::Closed { addr, outstanding: ops.len() - lat.len() });
                    }
                    now = Instant::now();
                }
            }
        }
        rbuf.drain(..pos);
        if measured {
            let mut t = tally.borrow_mut();
            for &ns in &lat {
                t.latency_ns.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
            }
            t.counts.add(batch);
            t.last_reply = t.last_reply.max(Some(now));
        }
    }
}

/// Encodes up to `pipeline` requests into `wbuf` (cleared first), their kinds into `ops`.
fn fill_batch(plan: &mut Plan, measured: bool, ops: &mut Vec<Op>, wbuf: &mut Vec<u8>, key: &mut Vec<u8>) {
    ops.clear();
    wbuf.clear();
    let room = match plan.budget {
        Some(left) if measured => plan.pipeline.min(usize::try_from(left).unwrap_or(usize::MAX)),
        _ => plan.pipeline,
    };
    for _ in 0..room {
        let Some(id) = plan.picker.next_key() else { break };
        let op = if plan.picker.chance(plan.set_share) { Op::Set } else { Op::Get };
        key.clear();
        write_key(key, id);
        plan.protocol.encode(op, key, &plan.value, wbuf);
        ops.push(op);
    }
    if let (true, Some(left)) = (measured, &mut plan.budget) {
        *left -= ops.len() as u64;
    }
}
