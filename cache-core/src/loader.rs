//! Read-through loading: one loader per missing key, every concurrent caller of that key waits
//! for its result.
//!
//! The first caller to miss a key registers a [`Waiter`] in the shard's `loading` table (under
//! the shard lock) and runs the loader with no lock held; later callers find the waiter and
//! block on it (or `.await` it: `event-listener` serves both). The leader publishes a value
//! (inserted into the cache first), or an error that every waiter receives and that is not
//! cached. If the leader panics, or its future is dropped, a guard marks the load abandoned and
//! wakes the waiters, who retry — one of them becomes the new leader. No waiter can hang on a
//! load that nobody runs.

use crate::sync::Mutex;
use event_listener::{Event, EventListener, Listener as _};
use hashbrown::HashTable;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// An error shared by every caller of a failed load (`Arc<E>` behind `Any`).
pub(crate) type SharedError = Arc<dyn Any + Send + Sync>;

/// What a waiter learns when the load it waited for ends.
#[derive(Clone)]
pub(crate) enum Outcome<V> {
    Loading,
    Ready(V),
    Failed(SharedError),
    Abandoned,
}

/// The rendezvous of one in-flight load.
pub(crate) struct Waiter<V> {
    outcome: Mutex<Outcome<V>>,
    event: Event,
}

impl<V: Clone> Waiter<V> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self { outcome: Mutex::new(Outcome::Loading), event: Event::new() })
    }

    /// Publishes the end of the load and wakes every waiter.
    pub(crate) fn finish(&self, outcome: Outcome<V>) {
        *self.outcome.lock() = outcome;
        self.event.notify(usize::MAX);
    }

    /// The outcome if the load ended, else a listener to wait on (registered before the
    /// second check, so no wake-up can slip between them).
    fn poll(&self) -> Result<Outcome<V>, EventListener> {
        let check = || match &*self.outcome.lock() {
            Outcome::Loading => None,
            done => Some(done.clone()),
        };
        if let Some(done) = check() {
            return Ok(done);
        }
        let listener = self.event.listen();
        check().ok_or(listener)
    }

    /// Blocks until the load ends.
    pub(crate) fn wait(&self) -> Outcome<V> {
        loop {
            match self.poll() {
                Ok(done) => return done,
                Err(listener) => listener.wait(),
            }
        }
    }

    /// Waits asynchronously until the load ends.
    #[cfg(feature = "async")]
    pub(crate) async fn wait_async(&self) -> Outcome<V> {
        loop {
            match self.poll() {
                Ok(done) => return done,
                Err(listener) => listener.await,
            }
        }
    }
}

impl<V> fmt::Debug for Waiter<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}

/// The in-flight loads of one shard, keyed like the shard's index.
pub(crate) struct Loading<K, V> {
    table: HashTable<(u64, K, Arc<Waiter<V>>)>,
}

impl<K, V> Default for Loading<K, V> {
    fn default() -> Self {
        Self { table: HashTable::new() }
    }
}

impl<K, V> fmt::Debug for Loading<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loading").field("in_flight", &self.table.len()).finish()
    }
}

/// Whether the caller runs the load or waits for another's.
pub(crate) enum Role<V> {
    Leader(Arc<Waiter<V>>),
    Follower(Arc<Waiter<V>>),
}

impl<K: Eq, V: Clone> Loading<K, V> {
    /// Joins the load of `key`, or registers a new one led by the caller.
    pub(crate) fn join(&mut self, hash: u64, key: &K, make_key: impl FnOnce() -> K) -> Role<V> {
        if let Some((_, _, waiter)) = self.table.find(hash, |(_, k, _)| k == key) {
            return Role::Follower(waiter.clone());
        }
        let waiter = Waiter::new();
        self.table.insert_unique(hash, (hash, make_key(), waiter.clone()), |(h, _, _)| *h);
        Role::Leader(waiter)
    }

    /// Unregisters `waiter`'s load of `key` (if it is still the registered one).
    pub(crate) fn leave(&mut self, hash: u64, key: &K, waiter: &Arc<Waiter<V>>) {
        if let Ok(entry) = self.table.find_entry(hash, |(_, k, w)| k == key && Arc::ptr_eq(w, waiter)) {
            entry.remove();
        }
    }
}

#[cfg(loom)]
mod loom_tests {
    use super::*;
    use loom::thread;

    fn handoff(outcome: Outcome<u32>, waiters: usize) {
        // Two preemptions cover every interleaving of "check, listen, check, wait" against
        // "publish, notify"; more only multiplies the states of event-listener's internals.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(move || {
            let waiter: Arc<Waiter<u32>> = Waiter::new();
            let handles: Vec<_> = (0..waiters)
                .map(|_| {
                    let waiter = waiter.clone();
                    thread::spawn(move || waiter.wait())
                })
                .collect();
            waiter.finish(outcome.clone());
            for handle in handles {
                let seen = handle.join().expect("waiter panicked");
                assert!(!matches!(seen, Outcome::Loading), "a waiter woke before the load ended");
            }
        });
    }

    #[test]
    fn loom_a_finished_load_wakes_its_waiter() {
        handoff(Outcome::Ready(7), 1);
    }

    #[test]
    fn loom_an_abandoned_load_wakes_its_waiter() {
        handoff(Outcome::Abandoned, 1);
    }

    #[test]
    fn loom_a_failed_load_wakes_its_waiter() {
        let error: SharedError = Arc::new(Arc::new("down"));
        handoff(Outcome::Failed(error), 1);
    }
}
