//! The one place that picks the lock used by the loader hand-off, so that loom can model it.
//!
//! Under `--cfg loom` the waiter's mutex is loom's, and `event-listener` is built with its loom
//! feature; everywhere else it is `parking_lot`'s. Shard locks are not swapped: the loom model
//! covers the wake-up protocol between a loader and its waiters, which is where a lost
//! notification would hang a caller.

#[cfg(not(loom))]
pub(crate) use parking_lot::Mutex;

#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(loom::sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().expect("a loom mutex is never poisoned in these models")
    }
}
