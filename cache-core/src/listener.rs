//! Why entries leave, and how the news reaches the eviction listener.
//!
//! Shard operations collect removed entries in a [`Removals`] buffer while they hold the shard
//! lock; the cache hands them to the listener only after the lock is released, so a listener
//! may call back into the cache. Without a listener the buffer drops entries on the spot.

/// Why an entry left the cache (or, for `Replaced`, why a value did).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// Evicted to keep the cache within its capacity, or rejected for being heavier than it.
    Size,
    /// Its time-to-live or time-to-idle ran out.
    Expired,
    /// Removed by `remove`, `invalidate_all`, `retain` or a `compute` that removed it.
    Explicit,
    /// Its value was overwritten by a newer one (the listener receives the old value).
    Replaced,
}

impl RemovalCause {
    /// Whether the cache removed the entry on its own (size or expiry), rather than the caller.
    #[must_use]
    pub fn was_evicted(self) -> bool {
        matches!(self, Self::Size | Self::Expired)
    }
}

/// The eviction listener: receives the key, the value and the cause, outside any lock.
pub(crate) type Listener<K, V> = Box<dyn Fn(K, V, RemovalCause) + Send + Sync>;

/// Entries removed under a shard lock, waiting for the listener.
#[derive(Debug)]
pub(crate) struct Removals<K, V> {
    items: Vec<(K, V, RemovalCause)>,
    keep: bool,
}

impl<K, V> Removals<K, V> {
    /// A buffer that keeps entries if `keep` (a listener exists), else drops them at once.
    pub(crate) fn new(keep: bool) -> Self {
        Self { items: Vec::new(), keep }
    }

    pub(crate) fn wants_values(&self) -> bool {
        self.keep
    }

    pub(crate) fn push(&mut self, key: K, value: V, cause: RemovalCause) {
        if self.keep {
            self.items.push((key, value, cause));
        }
    }

    /// Delivers every kept entry to `listener`.
    pub(crate) fn deliver(self, listener: Option<&Listener<K, V>>) {
        if let Some(listener) = listener {
            for (key, value, cause) in self.items {
                listener(key, value, cause);
            }
        }
    }
}
