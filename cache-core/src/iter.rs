//! [`Iter`]: a weakly consistent iterator built on the cursor scan.

use crate::cache::Cache;
use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, Hash};

const PAGE: usize = 256;

/// Iterator over clones of a cache's entries; see [`Cache::iter`].
pub struct Iter<K, V, S> {
    cache: Cache<K, V, S>,
    cursor: u64,
    page: VecDeque<(K, V)>,
    done: bool,
}

impl<K, V, S> Iter<K, V, S> {
    pub(crate) fn new(cache: Cache<K, V, S>) -> Self {
        Self { cache, cursor: 0, page: VecDeque::new(), done: false }
    }
}

impl<K, V, S> Iterator for Iter<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        while self.page.is_empty() && !self.done {
            let (next, page) = self.cache.scan(self.cursor, PAGE);
            self.page.extend(page);
            self.cursor = next;
            self.done = next == 0;
        }
        self.page.pop_front()
    }
}

impl<K, V, S> fmt::Debug for Iter<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("cursor", &self.cursor).field("done", &self.done).finish_non_exhaustive()
    }
}
