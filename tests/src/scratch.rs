//! Scratch directories for tests that give a server a `dir` or write config files: a fresh
//! directory under the system's temporary directory, its name unique to the process and the
//! call, removed with everything in it on drop. It knows nothing of what the tests put there.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory, removed (with its contents) on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates `cache-tests-<tag>-<pid>-<n>` in the temporary directory (`tag` may hold spaces,
    /// to test paths that do).
    ///
    /// # Panics
    ///
    /// When the directory cannot be created.
    #[must_use]
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("cache-tests-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        Self(p)
    }

    /// Its path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Its path as one command-line argument.
    #[must_use]
    pub fn arg(&self) -> String {
        self.0.display().to_string()
    }

    /// Its path as a [`crate::ServerOpts`] directive value: one redis.conf word, spaces and all.
    #[must_use]
    pub fn conf_word(&self) -> String {
        crate::ours::conf_quote(&self.arg())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
