//! The one place that picks the synchronization primitives loom can model.
//!
//! Under `--cfg loom` the waiter's mutex is loom's, `event-listener` is built with its loom
//! feature, and the read buffers' atomics are loom's; everywhere else they are `parking_lot`'s
//! and `std`'s. Shard locks are not swapped: the loom models cover the wake-up protocol between
//! a loader and its waiters (where a lost notification would hang a caller) and the lossy
//! record/drain protocol of the read buffer (where a torn slot would corrupt the policy).

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

/// The atomics of the shards' read buffers, swapped for loom's under `--cfg loom` so that the
/// buffer's record/drain protocol can be model-checked (see `read_buffer.rs`).
pub(crate) mod atomic {
    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize};
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize};
}
