//! Index-linked doubly linked lists: the queues of every policy and the buckets of the timer wheel.
//!
//! A [`Deque`] is just two `u32` ends; the links live inside the nodes of whatever storage
//! implements [`Links`] (a shared entry slab, whose links are relaxed atomics, or `&mut` the
//! timer table). Moving an entry between queues is a
//! few index writes, with no allocation and no `unsafe`. The front is the oldest element (the
//! eviction end), the back the newest. This module knows nothing of keys, values or time.

/// The "no node" index.
pub(crate) const NIL: u32 = u32::MAX;

/// Storage whose nodes carry `prev`/`next` links for a [`Deque`].
pub(crate) trait Links {
    fn prev(&self, idx: u32) -> u32;
    fn next(&self, idx: u32) -> u32;
    fn set_prev(&mut self, idx: u32, prev: u32);
    fn set_next(&mut self, idx: u32, next: u32);
}

impl<L: Links> Links for &mut L {
    fn prev(&self, idx: u32) -> u32 {
        (**self).prev(idx)
    }
    fn next(&self, idx: u32) -> u32 {
        (**self).next(idx)
    }
    fn set_prev(&mut self, idx: u32, prev: u32) {
        (**self).set_prev(idx, prev);
    }
    fn set_next(&mut self, idx: u32, next: u32) {
        (**self).set_next(idx, next);
    }
}

/// A doubly linked list threaded through a [`Links`] store. Front = oldest, back = newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deque {
    pub(crate) front: u32,
    pub(crate) back: u32,
}

impl Default for Deque {
    fn default() -> Self {
        Self { front: NIL, back: NIL }
    }
}

impl Deque {
    pub(crate) fn is_empty(&self) -> bool {
        self.front == NIL
    }

    /// Appends `idx` (which must not be linked anywhere) at the back.
    pub(crate) fn push_back(&mut self, mut store: impl Links, idx: u32) {
        store.set_prev(idx, self.back);
        store.set_next(idx, NIL);
        if self.back == NIL {
            self.front = idx;
        } else {
            store.set_next(self.back, idx);
        }
        self.back = idx;
    }

    /// Removes `idx`, which must be linked in this deque.
    pub(crate) fn unlink(&mut self, mut store: impl Links, idx: u32) {
        let prev = store.prev(idx);
        let next = store.next(idx);
        if prev == NIL {
            debug_assert_eq!(self.front, idx, "unlinking a node that is not in this deque");
            self.front = next;
        } else {
            store.set_next(prev, next);
        }
        if next == NIL {
            debug_assert_eq!(self.back, idx, "unlinking a node that is not in this deque");
            self.back = prev;
        } else {
            store.set_prev(next, prev);
        }
        store.set_prev(idx, NIL);
        store.set_next(idx, NIL);
    }

    /// Moves `idx`, linked in this deque, to the back.
    pub(crate) fn move_to_back(&mut self, mut store: impl Links, idx: u32) {
        if self.back != idx {
            self.unlink(&mut store, idx);
            self.push_back(store, idx);
        }
    }

    /// Collects the indices front to back, checking that every `prev` link mirrors the `next`
    /// link before it (which also rules out a cycle) and that the back end is the last node
    /// (tests: a torn relink fails here).
    #[cfg(test)]
    pub(crate) fn to_vec(self, store: impl Links) -> Vec<u32> {
        let mut out = Vec::new();
        let (mut at, mut before) = (self.front, NIL);
        while at != NIL {
            assert_eq!(store.prev(at), before, "node {at}: prev link does not mirror next");
            out.push(at);
            (before, at) = (at, store.next(at));
        }
        assert_eq!(self.back, before, "the back end is not the last node");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Store(Vec<(u32, u32)>);

    impl Links for Store {
        fn prev(&self, idx: u32) -> u32 {
            self.0[idx as usize].0
        }
        fn next(&self, idx: u32) -> u32 {
            self.0[idx as usize].1
        }
        fn set_prev(&mut self, idx: u32, prev: u32) {
            self.0[idx as usize].0 = prev;
        }
        fn set_next(&mut self, idx: u32, next: u32) {
            self.0[idx as usize].1 = next;
        }
    }

    fn backwards(d: Deque, s: &Store) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = d.back;
        while at != NIL {
            out.push(at);
            at = s.prev(at);
        }
        out.reverse();
        out
    }

    #[test]
    fn push_unlink_and_move_keep_both_directions_consistent() {
        let mut s = Store(vec![(NIL, NIL); 5]);
        let mut d = Deque::default();
        assert!(d.is_empty());
        for i in 0..5 {
            d.push_back(&mut s, i);
        }
        assert_eq!(d.to_vec(&mut s), [0, 1, 2, 3, 4]);
        d.unlink(&mut s, 2);
        assert_eq!(d.to_vec(&mut s), [0, 1, 3, 4]);
        d.move_to_back(&mut s, 0);
        assert_eq!(d.to_vec(&mut s), [1, 3, 4, 0]);
        d.move_to_back(&mut s, 0);
        assert_eq!(d.to_vec(&mut s), [1, 3, 4, 0]);
        d.unlink(&mut s, 0);
        d.unlink(&mut s, 1);
        assert_eq!(d.to_vec(&mut s), [3, 4]);
        assert_eq!(backwards(d, &s), [3, 4]);
        d.unlink(&mut s, 3);
        d.unlink(&mut s, 4);
        assert!(d.is_empty());
        assert_eq!(d.back, NIL);
    }
}
