//! [`Breaker`]: a per-node circuit breaker.
//!
//! ```text
//!   Closed ──K consecutive failures──► Open ──cool-down elapsed──► HalfOpen (one probe)
//!     ▲                                  ▲                            │
//!     └────────────── probe succeeds ────┼────────────────────────────┘
//!                                        └────── probe fails ─────────┘
//! ```
//! While open, calls fail fast without touching the network. Time comes from an injected
//! [`cache_core::Clock`] so tests drive it with a mock. It decides nothing about what counts as
//! a failure (the caller reports only node failures: connection loss and timeouts).

use std::sync::Arc;
use std::time::Duration;

use cache_core::Clock;
use parking_lot::Mutex;

/// The breaker's state, as reported by [`Breaker::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls flow; `failures` consecutive failures so far.
    Closed {
        /// Consecutive failures.
        failures: u32,
    },
    /// Calls fail fast until the cool-down ends.
    Open,
    /// The cool-down ended: one probe call is allowed through.
    HalfOpen {
        /// Whether the probe is out.
        probing: bool,
    },
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: u64 },
    HalfOpen { probing: bool },
}

/// A circuit breaker for one node.
pub struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    cooldown: u64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker").field("state", &self.state()).field("threshold", &self.threshold).finish()
    }
}

/// Permission to make one call; report its outcome with [`Breaker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Permit {
    probe: bool,
}

impl Breaker {
    /// Opens after `threshold` consecutive failures; stays open for `cooldown`.
    #[must_use]
    pub fn new(threshold: u32, cooldown: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
            threshold: threshold.max(1),
            cooldown: u64::try_from(cooldown.as_nanos()).unwrap_or(u64::MAX),
            clock,
        }
    }

    /// Asks to make a call: `None` means fail fast.
    pub fn allow(&self) -> Option<Permit> {
        let mut s = self.state.lock();
        match *s {
            State::Closed { .. } => Some(Permit { probe: false }),
            State::Open { until } if self.clock.now_nanos() >= until => {
                *s = State::HalfOpen { probing: true };
                Some(Permit { probe: true })
            }
            State::Open { .. } | State::HalfOpen { probing: true } => None,
            State::HalfOpen { probing: false } => {
                *s = State::HalfOpen { probing: true };
                Some(Permit { probe: true })
            }
        }
    }

    /// Reports the outcome of a permitted call (`ok = false` only for node failures).
    pub fn record(&self, permit: Permit, ok: bool) {
        let mut s = self.state.lock();
        let now = self.clock.now_nanos();
        let open = State::Open { until: now.saturating_add(self.cooldown) };
        *s = match (&*s, ok) {
            (_, true) if permit.probe => State::Closed { failures: 0 },
            (State::Closed { .. }, true) => State::Closed { failures: 0 },
            (_, false) if permit.probe => open,
            (State::Closed { failures }, false) => {
                let failures = failures + 1;
                if failures >= self.threshold { open } else { State::Closed { failures } }
            }
            // A late outcome of a call permitted before the state changed: it says nothing new.
            (State::Open { until }, _) => State::Open { until: *until },
            (State::HalfOpen { probing }, _) => State::HalfOpen { probing: *probing },
        };
    }

    /// Gives back a permit whose call never reached the node (it neither proves nor disproves
    /// its health): a probe slot is released for the next caller.
    pub fn release(&self, permit: Permit) {
        let mut s = self.state.lock();
        if permit.probe && matches!(*s, State::HalfOpen { probing: true }) {
            *s = State::HalfOpen { probing: false };
        }
    }

    /// The current state (an open breaker whose cool-down ended reports half-open).
    #[must_use]
    pub fn state(&self) -> BreakerState {
        match *self.state.lock() {
            State::Closed { failures } => BreakerState::Closed { failures },
            State::Open { until } if self.clock.now_nanos() >= until => BreakerState::HalfOpen { probing: false },
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { probing } => BreakerState::HalfOpen { probing },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cache_core::MockClock;

    fn breaker() -> (Breaker, MockClock) {
        let clock = MockClock::new();
        (Breaker::new(3, Duration::from_secs(1), Arc::new(clock.clone())), clock)
    }

    #[test]
    fn opens_after_k_consecutive_failures_and_a_success_resets() {
        let (b, _) = breaker();
        for _ in 0..2 {
            let p = b.allow().unwrap();
            b.record(p, false);
        }
        assert_eq!(b.state(), BreakerState::Closed { failures: 2 });
        let p = b.allow().unwrap();
        b.record(p, true);
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        for _ in 0..3 {
            let p = b.allow().unwrap();
            b.record(p, false);
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.allow().is_none());
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let (b, clock) = breaker();
        for _ in 0..3 {
            let p = b.allow().unwrap();
            b.record(p, false);
        }
        clock.advance(Duration::from_millis(999));
        assert!(b.allow().is_none());
        clock.advance(Duration::from_millis(1));
        let probe = b.allow().expect("the probe");
        assert!(b.allow().is_none(), "only one probe at a time");
        b.record(probe, false);
        assert_eq!(b.state(), BreakerState::Open, "a failed probe reopens");
        clock.advance(Duration::from_secs(1));
        let probe = b.allow().unwrap();
        b.release(probe);
        let probe = b.allow().expect("a released probe slot is reusable");
        b.record(probe, true);
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        assert!(b.allow().is_some());
    }

    #[test]
    fn late_outcomes_do_not_flip_an_open_breaker() {
        let (b, _) = breaker();
        let early = b.allow().unwrap();
        for _ in 0..3 {
            let p = b.allow().unwrap();
            b.record(p, false);
        }
        b.record(early, true);
        assert_eq!(b.state(), BreakerState::Open);
    }
}
