//! Time as the cache sees it: a monotonic nanosecond counter behind the [`Clock`] trait.
//!
//! Owns the clock abstraction and its two implementations: [`SystemClock`] (the default, backed
//! by [`std::time::Instant`]) and [`MockClock`] (moved by hand in tests). Nothing else in the crate
//! reads the system time for expiry decisions, so every TTL test can run without sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic source of time for expiry, idle and refresh decisions.
///
/// Implementations return nanoseconds elapsed since an arbitrary origin fixed at their creation.
/// The value must never go backwards.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since this clock's origin.
    fn now_nanos(&self) -> u64;
}

/// The default clock: [`Instant`] relative to the moment the clock was created.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    #[must_use]
    pub fn new() -> Self {
        Self { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        // u64 nanoseconds last 584 years; saturate rather than wrap.
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cache_core::{Cache, MockClock};
///
/// let clock = MockClock::new();
/// let cache: Cache<u32, u32> = Cache::builder()
///     .max_capacity(100)
///     .time_to_live(Duration::from_secs(10))
///     .clock(clock.clone())
///     .build();
/// cache.insert(1, 1);
/// clock.advance(Duration::from_secs(11));
/// assert_eq!(cache.get(&1), None);
/// ```
#[derive(Clone, Default)]
pub struct MockClock {
    nanos: Arc<AtomicU64>,
}

impl MockClock {
    /// A mock clock standing at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }

    /// The current reading, as elapsed time since the origin.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

impl Clock for MockClock {
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for MockClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockClock").field("elapsed", &self.elapsed()).finish()
    }
}

/// Converts a duration to nanoseconds, saturating at `u64::MAX` ("never").
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_clock_moves_only_when_advanced_and_clones_share_time() {
        let clock = MockClock::new();
        let other = clock.clone();
        assert_eq!(clock.now_nanos(), 0);
        other.advance(Duration::from_millis(5));
        assert_eq!(clock.now_nanos(), 5_000_000);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let clock = SystemClock::new();
        let a = clock.now_nanos();
        let b = clock.now_nanos();
        assert!(b >= a);
    }

    #[test]
    fn nanos_saturates() {
        assert_eq!(nanos(Duration::MAX), u64::MAX);
        assert_eq!(nanos(Duration::from_secs(1)), 1_000_000_000);
    }
}
