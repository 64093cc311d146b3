//! Threads started together, for the concurrency tests.

use std::sync::{Arc, Barrier};

/// Runs `work(thread)` on `n` threads released together; returns their results in order.
///
/// # Panics
///
/// When a worker panics (its panic is the test's failure).
pub fn in_parallel<T: Send + 'static>(n: usize, work: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let work = Arc::new(work);
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|t| {
            let (work, barrier) = (Arc::clone(&work), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                work(t)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("worker thread")).collect()
}
