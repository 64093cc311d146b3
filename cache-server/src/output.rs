//! Output buffers and `client-output-buffer-limit`: what each client has been sent but has not
//! read yet — replies waiting for its socket and pushes waiting in its mailbox — and the rule that
//! closes a client whose backlog passes a class's hard limit, or stays past its soft limit for
//! longer than the soft seconds (Redis's rule, Redis's defaults). It owns the accounting only; the
//! connection task reports its replies, the mailbox its pushes, and both act on the verdict.
//!
//! ```text
//!   other tasks ── push ──► Mailbox ── pushes bytes ──┐
//!                                                     ├─► Backlog::over(limit) ── yes ─► closed
//!   connection ── reply bytes waiting for the socket ─┘        (notify: the task stops writing)
//! ```
//!
//! Classes follow Redis: a RESP2 client subscribed to a channel or pattern is `pubsub`, everyone
//! else `normal` (no replicas yet, so `replica` is parsed and shown only). One departure: pushes
//! queued for a `normal` client (a RESP3 subscriber, a tracking client) are held to the `pubsub`
//! limits. They are not answers to its own requests, so the back-pressure that bounds a normal
//! client (its task stops reading once its socket is full) does not bound them, and Redis's
//! `normal 0 0 0` default would let them grow until the machine runs out of memory.

use crate::config::{ConfigError, parse_memory};
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Instant;
use tokio::sync::Notify;

/// A client class of `client-output-buffer-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Class {
    /// Every client that is not one of the others.
    Normal = 0,
    /// Replicas (none yet; the limits are kept for CONFIG compatibility).
    Replica = 1,
    /// RESP2 clients subscribed to channels or patterns.
    PubSub = 2,
}

impl Class {
    const NAMES: [&'static str; 3] = ["normal", "slave", "pubsub"];

    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Some(Self::Normal),
            "slave" | "replica" => Some(Self::Replica),
            "pubsub" => Some(Self::PubSub),
            _ => None,
        }
    }
}

/// The limits of one class; 0 disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Close at once past this many bytes.
    pub hard: u64,
    /// Close once past this many bytes for longer than `soft_seconds`.
    pub soft: u64,
    /// How long the soft limit may be exceeded.
    pub soft_seconds: u64,
}

/// Redis's defaults: `normal 0 0 0`, `replica 256mb 64mb 60`, `pubsub 32mb 8mb 60`.
pub const DEFAULT_LIMITS: [Limit; 3] = [
    Limit { hard: 0, soft: 0, soft_seconds: 0 },
    Limit { hard: 256 << 20, soft: 64 << 20, soft_seconds: 60 },
    Limit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 },
];

/// Applies `class hard soft seconds` groups (CONFIG SET, the config file, flags) onto `limits`;
/// nothing changes unless every group is valid.
///
/// # Errors
/// [`ConfigError::Invalid`] with Redis's message for a bad group.
pub fn parse_limits(args: &[&str], limits: &mut [Limit; 3]) -> Result<(), ConfigError> {
    let bad = || ConfigError::Invalid("Wrong number of arguments in buffer limit configuration.".into());
    if args.is_empty() || args.len() % 4 != 0 {
        return Err(bad());
    }
    let mut next = *limits;
    for group in args.chunks(4) {
        let class = Class::parse(group[0]).ok_or_else(|| {
            ConfigError::Invalid("Invalid client class specified in buffer limit configuration.".into())
        })?;
        let mem = |s: &str| {
            parse_memory(s).ok_or_else(|| {
                ConfigError::Invalid(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
                )
            })
        };
        let soft_seconds = group[3].parse::<u64>().map_err(|_| {
            ConfigError::Invalid("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into())
        })?;
        next[class as usize] = Limit { hard: mem(group[1])?, soft: mem(group[2])?, soft_seconds };
    }
    *limits = next;
    Ok(())
}

/// CONFIG GET's spelling: `normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60`.
pub fn format_limits(limits: &[Limit; 3]) -> String {
    let mut s = String::new();
    for (name, l) in Class::NAMES.iter().zip(limits) {
        let sep = if s.is_empty() { "" } else { " " };
        let _ = write!(s, "{sep}{name} {} {} {}", l.hard, l.soft, l.soft_seconds);
    }
    s
}

/// The live limits every client checks against (CONFIG SET stores new ones).
#[derive(Debug)]
pub struct Limits([[AtomicU64; 3]; 3]);

impl Default for Limits {
    fn default() -> Self {
        let l = Self(Default::default());
        l.store(&DEFAULT_LIMITS);
        l
    }
}

impl Limits {
    /// Installs new limits.
    pub fn store(&self, limits: &[Limit; 3]) {
        for (slot, l) in self.0.iter().zip(limits) {
            slot[0].store(l.hard, Relaxed);
            slot[1].store(l.soft, Relaxed);
            slot[2].store(l.soft_seconds, Relaxed);
        }
    }

    /// The limits of `class`.
    pub fn get(&self, class: Class) -> Limit {
        let slot = &self.0[class as usize];
        Limit { hard: slot[0].load(Relaxed), soft: slot[1].load(Relaxed), soft_seconds: slot[2].load(Relaxed) }
    }
}

/// Milliseconds since the first call: a cheap monotonic clock for the soft-limit timer.
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// One client's unread output and its verdict.
#[derive(Debug, Default)]
pub struct Backlog {
    /// Encoded bytes of the pushes queued in the mailbox.
    pushes: AtomicU64,
    /// Reply bytes the connection holds until its socket takes them.
    replies: AtomicU64,
    /// When the backlog went over the soft limit (`now_ms`), 0 while under it.
    soft_since: AtomicU64,
    /// The same for the pushes of a normal client against the pubsub limits.
    pushes_soft_since: AtomicU64,
    /// The client's class (`Class as u8`), kept by its connection.
    class: AtomicU8,
    /// Set once the client passed a limit; it is being closed.
    closing: AtomicBool,
    /// Wakes the connection when `closing` is set, even in the middle of a write.
    pub closed: Notify,
}

impl Backlog {
    /// Bytes not yet taken by the client (CLIENT LIST `omem`).
    pub fn bytes(&self) -> u64 {
        self.pushes.load(Relaxed) + self.replies.load(Relaxed)
    }

    /// The client's class.
    pub fn class(&self) -> Class {
        match self.class.load(Relaxed) {
            1 => Class::Replica,
            2 => Class::PubSub,
            _ => Class::Normal,
        }
    }

    /// Records the client's class (its connection does, after each batch).
    pub fn set_class(&self, class: Class) {
        self.class.store(class as u8, Relaxed);
    }

    /// True once a limit closed the client.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Relaxed)
    }

    /// Counts `n` more bytes of pushes, then judges the backlog (see [`Backlog::judge`]).
    pub fn add_pushes(&self, n: u64, limits: &Limits) -> bool {
        self.pushes.fetch_add(n, Relaxed);
        self.judge(limits)
    }

    /// The mailbox was drained into the connection's reply buffer.
    pub fn pushes_taken(&self) {
        self.pushes.store(0, Relaxed);
    }

    /// The connection holds `n` reply bytes for the socket (0 once written); judges the backlog.
    pub fn set_replies(&self, n: u64, limits: &Limits) -> bool {
        self.replies.store(n, Relaxed);
        n > 0 && self.judge(limits)
    }

    /// Checks the backlog against its limits; true exactly once, when it must close the client
    /// (it then wakes the connection through [`Backlog::closed`]). Pushes of a normal client are
    /// held to the pubsub limits as well (see the module docs).
    pub fn judge(&self, limits: &Limits) -> bool {
        self.judge_at(limits, now_ms)
    }

    /// [`Backlog::judge`] with the clock given (tests pass a fake one).
    fn judge_at(&self, limits: &Limits, now: fn() -> u64) -> bool {
        if self.is_closing() {
            return false;
        }
        let class = self.class();
        let mut closing = over(self.bytes(), limits.get(class), &self.soft_since, now);
        if class == Class::Normal && !closing {
            closing = over(self.pushes.load(Relaxed), limits.get(Class::PubSub), &self.pushes_soft_since, now);
        }
        if closing && !self.closing.swap(true, Relaxed) {
            self.closed.notify_one();
            return true;
        }
        false
    }
}

/// Redis's rule (`checkClientOutputBufferLimits`): past `hard` at once; past `soft` once it has
/// been so for more than `soft_seconds` (`since` keeps when that started, 0 while under it).
fn over(bytes: u64, l: Limit, since: &AtomicU64, now: fn() -> u64) -> bool {
    if l.hard > 0 && bytes >= l.hard {
        return true;
    }
    if l.soft == 0 || bytes < l.soft {
        since.store(0, Relaxed);
        return false;
    }
    let now = now();
    match since.compare_exchange(0, now, Relaxed, Relaxed) {
        Ok(_) => false,
        Err(started) => now.saturating_sub(started) > l.soft_seconds * 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_like_redis() {
        let mut l = DEFAULT_LIMITS;
        assert_eq!(format_limits(&l), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
        parse_limits(&["pubsub", "1mb", "512kb", "5", "replica", "1", "2", "3"], &mut l).unwrap();
        assert_eq!(l[2], Limit { hard: 1 << 20, soft: 512 << 10, soft_seconds: 5 });
        assert_eq!(l[1], Limit { hard: 1, soft: 2, soft_seconds: 3 });
        let before = l;
        assert!(parse_limits(&["pubsub", "1mb", "1mb"], &mut l).is_err());
        assert!(parse_limits(&["normal", "0", "0", "0", "bogus", "1", "1", "1"], &mut l).is_err());
        assert!(parse_limits(&["normal", "x", "0", "0"], &mut l).is_err());
        assert_eq!(l, before, "a bad group changes nothing");
    }

    #[test]
    fn hard_limit_closes_once_and_soft_limit_needs_its_seconds() {
        let limits = Limits::default();
        limits.store(&[
            Limit { hard: 0, soft: 0, soft_seconds: 0 },
            DEFAULT_LIMITS[1],
            Limit { hard: 1000, soft: 100, soft_seconds: 3600 },
        ]);
        let b = Backlog::default();
        b.set_class(Class::PubSub);
        assert!(!b.add_pushes(500, &limits), "over soft, but not for an hour");
        assert!(b.add_pushes(500, &limits), "at the hard limit");
        assert!(b.is_closing());
        assert!(!b.add_pushes(1, &limits), "the verdict is given once");

        // A normal client has no limit of its own by default, but its pushes have the pubsub one.
        let n = Backlog::default();
        assert!(!n.set_replies(1 << 30, &limits), "normal replies are unlimited by default");
        assert!(n.add_pushes(1000, &limits), "normal pushes are held to the pubsub limit");

        // A fake clock: 1 ms, then 2,001 ms, then 4,001 ms, ...
        static TICK: AtomicU64 = AtomicU64::new(0);
        fn clock() -> u64 {
            TICK.fetch_add(2000, Relaxed) + 1
        }
        limits.store(&[Limit { hard: 0, soft: 10, soft_seconds: 1 }, DEFAULT_LIMITS[1], DEFAULT_LIMITS[2]]);
        let s = Backlog::default();
        s.replies.store(20, Relaxed);
        assert!(!s.judge_at(&limits, clock), "first time over the soft limit starts its timer");
        assert!(s.judge_at(&limits, clock), "still over it 2 s later, past soft_seconds");
        let r = Backlog::default();
        r.replies.store(20, Relaxed);
        assert!(!r.judge_at(&limits, clock));
        r.replies.store(5, Relaxed);
        assert!(!r.judge_at(&limits, clock), "back under the soft limit resets the timer");
        r.replies.store(20, Relaxed);
        assert!(!r.judge_at(&limits, clock), "over again: a new timer");
    }
}
