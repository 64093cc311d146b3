//! The per-slot key index behind CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT (and so behind
//! `redis-cli --cluster reshard`, which migrates a slot by asking for its keys): for each of the
//! 16384 slots, the keys of that slot that the cache holds. It exists only when the cluster is
//! enabled ([`crate::db::Db::enable_slot_index`]); a plain server pays one atomic load per key
//! write for it.
//!
//! ```text
//!   Db::on_slot (under the key's shard lock) ── absent → present ──► added(key)   (+1)
//!                                           └─ present → absent ──► removed(key) (−1)
//!   core eviction listener (after the lock)  ── Size / Expired ─────► removed(key) (−1)
//!   FLUSHDB / FLUSHALL                       ─────────────────────► clear(db)
//! ```
//!
//! Each key maps to a count rather than being a set member: the core hands evictions and
//! expirations to the listener after releasing the shard lock, so a key evicted and written again
//! at once is seen `+1 (write) −1 (listener)` in either order and stays indexed.
//!
//! Memory: one `(Key, u32)` bucket (32 B) plus a control byte per key in a hash table at most
//! 7/8 full, with the key inline up to 22 bytes (longer ones on the heap, as in the cache):
//! [`INDEX_ENTRY_OVERHEAD`] (52 B) is what each key is charged towards `maxmemory` when the index
//! is on, measured (see the test `index_bytes_per_key`); about 650 KB more is fixed (16384 locks
//! and empty tables).

use super::SLOTS;
use super::slot::key_slot;
use crate::entry::Key;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;

/// Bytes charged per key for the index, on top of [`crate::db::ENTRY_OVERHEAD`], when the
/// cluster is enabled. A key takes a 32 B bucket and a control byte in its slot's table, which
/// hashbrown keeps between 7/16 and 7/8 full: 38 to 75 B per key depending on where the tables
/// are in their growth. Measured (`index_bytes_per_key`, resident memory, 0.4M to 2M keys of 16
/// bytes): 44 to 67 B, 53 B on average. Redis 7.0 pays 16 B (two pointers in each dict entry's
/// metadata); ours cannot live inside the core's entries without changing the core.
pub const INDEX_ENTRY_OVERHEAD: u64 = 52;

type Keys = HashMap<Key, u32, ahash::RandomState>;

/// Keys of database 0 by hash slot (a cluster node serves database 0 only: SELECT, MOVE, SWAPDB
/// and COPY … DB are refused in cluster mode).
pub struct SlotIndex {
    slots: Box<[Mutex<Keys>]>,
}

impl std::fmt::Debug for SlotIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotIndex").finish_non_exhaustive()
    }
}

impl Default for SlotIndex {
    fn default() -> Self {
        let state = ahash::RandomState::new();
        Self { slots: (0..SLOTS).map(|_| Mutex::new(Keys::with_hasher(state.clone()))).collect() }
    }
}

impl SlotIndex {
    fn of(&self, key: &Key) -> &Mutex<Keys> {
        &self.slots[usize::from(key_slot(key.key()))]
    }

    /// `key` now exists in the cache (keys of databases other than 0, which a cluster node does
    /// not serve, are not indexed).
    pub fn added(&self, key: Key) {
        if key.db() == 0 {
            *self.of(&key).lock().entry(key).or_insert(0) += 1;
        }
    }

    /// `key` left the cache.
    pub fn removed(&self, key: &Key) {
        if key.db() != 0 {
            return;
        }
        let mut keys = self.of(key).lock();
        if let Some(n) = keys.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                keys.remove(key);
            }
        }
    }

    /// Forgets the keys of database `db` (every database: `None`).
    pub fn clear(&self, db: Option<u32>) {
        if db.is_some_and(|d| d != 0) {
            return;
        }
        for slot in self.slots.iter() {
            let mut keys = slot.lock();
            *keys = Keys::with_hasher(keys.hasher().clone());
        }
    }

    /// How many keys of database `db` hash to `slot` (0 but for database 0).
    pub fn count(&self, db: u32, slot: u16) -> usize {
        if db != 0 {
            return 0;
        }
        self.slots[usize::from(slot)].lock().len()
    }

    /// Up to `max` keys of database `db` that hash to `slot` (none but for database 0).
    pub fn keys(&self, db: u32, slot: u16, max: usize) -> Vec<Bytes> {
        if db != 0 {
            return Vec::new();
        }
        let keys = self.slots[usize::from(slot)].lock();
        keys.keys().take(max).map(|k| Bytes::copy_from_slice(k.key())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_adds_and_removes_in_any_order() {
        let ix = SlotIndex::default();
        let k = |s: &str| Key::new(0, s.as_bytes());
        let slot = key_slot(b"foo");
        ix.added(k("foo"));
        assert_eq!(ix.count(0, slot), 1);
        assert_eq!(ix.keys(0, slot, 10), vec![Bytes::from_static(b"foo")]);
        // Evicted (listener pending), written again, then the listener's news arrives.
        ix.added(k("foo"));
        ix.removed(&k("foo"));
        assert_eq!(ix.count(0, slot), 1);
        ix.removed(&k("foo"));
        assert_eq!(ix.count(0, slot), 0);
        ix.removed(&k("foo"));
        assert_eq!(ix.count(0, slot), 0);
        ix.added(k("{foo}a"));
        ix.added(k("{foo}b"));
        ix.added(Key::new(1, b"foo"));
        assert_eq!(ix.count(0, slot), 2);
        assert_eq!(ix.count(1, slot), 0);
        assert_eq!(ix.keys(0, slot, 1).len(), 1);
        ix.clear(Some(1));
        assert_eq!(ix.count(0, slot), 2);
        ix.clear(None);
        assert_eq!(ix.count(0, slot), 0);
    }

    /// What a key costs in the index: resident memory grown by indexing 16-byte keys, at sizes
    /// that put the per-slot tables at different points of their growth
    /// (`cargo test -p cache-server --lib index_bytes_per_key -- --ignored --nocapture`).
    #[test]
    #[ignore = "a measurement: run by hand"]
    fn index_bytes_per_key() {
        let rss = || {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
            statm.split(' ').nth(1).unwrap().parse::<u64>().unwrap() * 4096
        };
        let mut all = Vec::new();
        for n in [400_000u64, 700_000, 1_000_000, 1_500_000, 2_000_000] {
            let ix = SlotIndex::default();
            let before = rss();
            for i in 0..n {
                ix.added(Key::new(0, format!("key:{i:012}").as_bytes()));
            }
            let per_key = (rss() - before) as f64 / n as f64;
            println!("slot index: {per_key:.1} bytes per key ({n} keys of 16 bytes)");
            all.push(per_key);
        }
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        println!("slot index: {mean:.1} bytes per key on average");
        assert!((mean - INDEX_ENTRY_OVERHEAD as f64).abs() < INDEX_ENTRY_OVERHEAD as f64 * 0.3);
    }

    /// The index follows the keyspace: writes, deletes, lazy and active expiry, eviction, flushes.
    #[tokio::test(start_paused = true)]
    async fn the_keyspace_keeps_the_index() {
        use crate::config::Config;
        use crate::db::{Db, Entry, Value};
        let db = Db::new(&Config { maxmemory: 200_000, ..Config::default() });
        let now = db.clock.now_ms();
        db.set(0, b"early", Entry::new(Value::str(b"v")), now);
        db.enable_slot_index();
        let ix = db.slot_index().unwrap();
        let count = |k: &[u8]| ix.count(0, key_slot(k));
        assert_eq!(count(b"early"), 1);
        db.set(0, b"{t}a", Entry::new(Value::str(b"v")), now);
        db.set(0, b"{t}b", Entry::expiring(Value::str(b"v"), now + 50), now);
        db.set(0, b"{t}a", Entry::new(Value::str(b"w")), now);
        assert_eq!(count(b"t"), 2);
        assert!(db.remove(0, b"{t}a", now));
        assert_eq!(count(b"t"), 1);
        tokio::time::advance(std::time::Duration::from_millis(60)).await;
        assert!(db.peek(0, b"{t}b", db.clock.now_ms()).is_none());
        assert_eq!(count(b"t"), 0);
        // Eviction (the listener's news) keeps the index to what the cache holds.
        let now = db.clock.now_ms();
        for i in 0..5_000 {
            db.set(0, format!("k{i}").as_bytes(), Entry::new(Value::str(&[b'x'; 32])), now);
        }
        let held = db.len() as usize;
        assert!(held < 5_000);
        let indexed: usize = (0..SLOTS as u16).map(|s| ix.count(0, s)).sum();
        assert_eq!(indexed, held);
        db.flush(None);
        assert_eq!((0..SLOTS as u16).map(|s| ix.count(0, s)).sum::<usize>(), 0);
    }
}
