//! A software prefetch: asks the CPU to start loading the cache line of a reference, without
//! waiting for it and without any effect on the program's meaning.
//!
//! Draining a read buffer touches, for each buffered read, lines no earlier read has touched (the
//! node, its list neighbours, its frequency-sketch line). Demand loads issued a few reads ahead
//! stall the drain once the out-of-order window fills; prefetches retire at once, so the misses of
//! several reads overlap in the memory system.

/// Starts loading the cache line holding `target` into every cache level.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn prefetch<T>(target: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it is in the target's
    // baseline features). A prefetch is a hint: it never faults, reads nothing the program
    // observes and writes nothing, whatever the address; here it is a live reference besides.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(std::ptr::from_ref(target).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = target;
}

#[cfg(test)]
mod tests {
    /// Prefetching any live reference, of any size or alignment, changes nothing.
    #[test]
    fn prefetching_changes_nothing() {
        let words = vec![1u64, 2, 3];
        let bytes = [0u8; 3];
        for w in &words {
            super::prefetch(w);
        }
        super::prefetch(&bytes[1]);
        super::prefetch(&());
        assert_eq!((words, bytes), (vec![1, 2, 3], [0; 3]));
    }
}
