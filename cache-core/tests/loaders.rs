//! Read-through loaders under concurrency: one load per key, shared errors, panics that wake
//! their waiters, and the async variants. Every loop is bounded.

use cache_core::Cache;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

const THREADS: usize = 8;

/// Runs `call(cache, loads)` on [`THREADS`] threads released together; returns their results.
fn on_threads<T: Send + 'static>(
    cache: &Cache<u32, u64>,
    loads: &Arc<AtomicUsize>,
    call: fn(&Cache<u32, u64>, &AtomicUsize) -> T,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (cache, loads, barrier) = (cache.clone(), loads.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                call(&cache, &loads)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn concurrent_misses_run_one_loader() {
    let cache: Cache<u32, u64> = Cache::new(1000);
    let loads = Arc::new(AtomicUsize::new(0));
    let values = on_threads(&cache, &loads, |cache, loads| {
        cache.get_with(7, || {
            loads.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(50));
            42
        })
    });
    assert!(values.iter().all(|&v| v == 42), "{values:?}");
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(cache.get(&7), Some(42));
}

#[test]
fn an_error_reaches_every_waiter_and_is_not_cached() {
    let cache: Cache<u32, u64> = Cache::builder().max_capacity(1000).record_stats().build();
    let loads = Arc::new(AtomicUsize::new(0));
    let results = on_threads(&cache, &loads, |cache, loads| {
        cache.try_get_with(1, || {
            loads.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(50));
            Err::<u64, String>("backend down".into())
        })
    });
    let errors: Vec<Arc<String>> = results.into_iter().map(Result::unwrap_err).collect();
    let loads = loads.load(Ordering::SeqCst);
    assert!((1..THREADS).contains(&loads), "{loads} loads for {THREADS} callers");
    assert!(errors.iter().all(|e| e.as_str() == "backend down"));
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.try_get_with(1, || Ok::<_, String>(5)), Ok(5));
    assert!(cache.stats().load_failures >= 1);
}

#[test]
fn a_panicking_loader_wakes_its_waiters() {
    let cache: Cache<u32, u64> = Cache::new(1000);
    let started = Arc::new(Barrier::new(2));
    let leader = {
        let (cache, started) = (cache.clone(), started.clone());
        thread::spawn(move || {
            cache.get_with(3, || {
                started.wait();
                thread::sleep(Duration::from_millis(50));
                panic!("loader failed");
            })
        })
    };
    started.wait();
    // This caller joins the in-flight load, is woken by the panic, and loads for itself.
    let value = cache.get_with(3, || 9);
    assert_eq!(value, 9);
    assert!(leader.join().is_err());
    assert_eq!(cache.get(&3), Some(9));
}

#[cfg(feature = "async")]
#[test]
fn async_loaders_coalesce_and_survive_cancellation() {
    use futures_lite::future;
    let cache: Cache<u32, u64> = Cache::new(100);
    let loads = Arc::new(AtomicUsize::new(0));
    future::block_on(async {
        let a = cache.get_with_async(1, async {
            loads.fetch_add(1, Ordering::SeqCst);
            future::yield_now().await;
            10
        });
        let b = cache.get_with_async(1, async {
            loads.fetch_add(1, Ordering::SeqCst);
            11
        });
        let (a, b) = future::zip(a, b).await;
        assert_eq!((a, b), (10, 10));
    });
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    // A leader whose future is dropped mid-load hands over to the next caller.
    future::block_on(async {
        let pending = cache.get_with_async(2, future::pending::<u64>());
        let mut pending = Box::pin(pending);
        assert!(future::poll_once(&mut pending).await.is_none());
        drop(pending);
        assert_eq!(cache.get_with_async(2, async { 20 }).await, 20);
        let err = cache.try_get_with_async(3, async { Err::<u64, &str>("nope") }).await;
        assert_eq!(*err.unwrap_err(), "nope");
    });
}
