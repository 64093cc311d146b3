//! Per-entry expiry: the [`Expiry`] hook and the rules that combine it with the builder's
//! `time_to_live` and `time_to_idle`.
//!
//! An entry's *hard* deadline is set by writes: an explicit TTL (`insert_with_ttl`,
//! `set_ttl`, `Slot::set_with_ttl`) if given, otherwise the builder's `time_to_live` and the
//! hook's answer, whichever comes first. With `time_to_idle`, every read (and write) also moves
//! an idle deadline to `now + tti`; the entry expires at the lesser of the two.

use std::time::Duration;

/// A hook that decides each entry's time to live on creation, read and update.
///
/// Return `None` for "no expiry", or `Some(d)` for "expires `d` from now". `remaining` is the
/// time the entry has left before the call (`None`: no hard deadline). The defaults keep
/// whatever the entry had. The hook runs under the shard lock: keep it cheap and do not call
/// back into the cache.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cache_core::{Cache, Expiry};
///
/// struct ByLength;
/// impl Expiry<String, String> for ByLength {
///     fn expire_after_create(&self, _key: &String, value: &String) -> Option<Duration> {
///         Some(Duration::from_secs(value.len() as u64))
///     }
/// }
///
/// let cache: Cache<String, String> = Cache::builder().max_capacity(10).expiry(ByLength).build();
/// cache.insert("k".into(), "four".into());
/// assert!(cache.ttl("k").unwrap().unwrap() <= Duration::from_secs(4));
/// ```
pub trait Expiry<K, V>: Send + Sync + 'static {
    /// The time to live of a new entry.
    fn expire_after_create(&self, key: &K, value: &V) -> Option<Duration> {
        let _ = (key, value);
        None
    }

    /// The time to live after a read hit.
    fn expire_after_read(&self, key: &K, value: &V, remaining: Option<Duration>) -> Option<Duration> {
        let _ = (key, value);
        remaining
    }

    /// The time to live after the value was replaced.
    fn expire_after_update(&self, key: &K, value: &V, remaining: Option<Duration>) -> Option<Duration> {
        let _ = (key, value);
        remaining
    }
}

/// How a write sets the entry's hard deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TtlMode {
    /// The builder's `time_to_live` and the `Expiry` hook decide.
    Default,
    /// Keep the remaining time of an existing entry (new entries: `Default`).
    Keep,
    /// This TTL, in nanoseconds from now (`None`: no hard deadline).
    Explicit(Option<u64>),
}
