//! The collection types behind lists, sets and sorted sets: their byte layouts, their
//! weights for the memory budget and the encoding Redis 7.0 would report for them. Keyspace
//! operations stay in [`crate::db`]; commands in `commands/{lists,sets,zsets,streams}.rs`. Streams
//! have one encoding and no thresholds.
//!
//! Redis switches a collection between a compact and a general encoding at thresholds an
//! operator can change (`set-max-intset-entries`, `zset-max-listpack-entries`, …). The
//! thresholds are part of the configuration ([`Thresholds`]) and [`publish`]ed to one
//! process-wide copy that collections read without a lock as they are written: CONFIG SET changes
//! them for writes after it, as in Redis.

pub mod geohash;
pub mod hll;
pub mod list;
pub mod set;
pub mod stream;
pub mod zset;

use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering::Relaxed;

/// The directives, their old (`ziplist`) aliases and Redis 7.0's defaults, in CONFIG GET order.
pub const DIRECTIVES: [(&str, Option<&str>, i64); 7] = [
    ("list-max-listpack-size", Some("list-max-ziplist-size"), -2),
    ("list-compress-depth", None, 0),
    ("set-max-intset-entries", None, 512),
    ("zset-max-listpack-entries", Some("zset-max-ziplist-entries"), 128),
    ("zset-max-listpack-value", Some("zset-max-ziplist-value"), 64),
    ("hash-max-listpack-entries", Some("hash-max-ziplist-entries"), 512),
    ("hash-max-listpack-value", Some("hash-max-ziplist-value"), 64),
];

/// The encoding thresholds as configured (part of `Config`; see [`publish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds(pub [i64; 7]);

impl Default for Thresholds {
    fn default() -> Self {
        Self(DIRECTIVES.map(|(_, _, v)| v))
    }
}

impl Thresholds {
    fn index(name: &str) -> Option<usize> {
        DIRECTIVES.iter().position(|(n, alias, _)| *n == name || *alias == Some(name))
    }

    /// True if `name` (or its alias) is one of the thresholds.
    pub fn knows(name: &str) -> bool {
        Self::index(name).is_some()
    }

    /// A threshold's value by directive name.
    pub fn get(&self, name: &str) -> Option<i64> {
        Self::index(name).map(|i| self.0[i])
    }

    /// Sets a threshold from its text; `Err` holds Redis's complaint.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let i = Self::index(name).ok_or("Bad directive or wrong number of arguments")?;
        let v: i64 = value.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
        let (lo, hi) = match i {
            0 => (i64::from(i32::MIN), i64::from(i32::MAX)),
            1 => (0, i64::from(i32::MAX)),
            _ => (0, i64::MAX),
        };
        if !(lo..=hi).contains(&v) {
            return Err(format!("argument must be between {lo} and {hi} inclusive"));
        }
        self.0[i] = v;
        Ok(())
    }
}

/// The thresholds in force, read by the collections as they are written; Redis's defaults until
/// the first [`publish`] (a collection built outside a server).
static IN_FORCE: [AtomicI64; 7] = {
    let mut slots = [const { AtomicI64::new(0) }; 7];
    let mut i = 0;
    while i < slots.len() {
        slots[i] = AtomicI64::new(DIRECTIVES[i].2);
        i += 1;
    }
    slots
};

/// Makes `t` the thresholds in force (at start and on CONFIG SET). They are process-wide: two
/// servers in one process (tests) share them.
pub fn publish(t: &Thresholds) {
    for (slot, v) in IN_FORCE.iter().zip(t.0) {
        slot.store(v, Relaxed);
    }
}

fn in_force(i: usize) -> i64 {
    IN_FORCE[i].load(Relaxed)
}

/// `list-max-listpack-size` in force.
pub fn list_max_listpack_size() -> i64 {
    in_force(0)
}

/// `set-max-intset-entries` in force.
pub fn set_max_intset_entries() -> usize {
    in_force(2).max(0) as usize
}

/// `(zset-max-listpack-entries, zset-max-listpack-value)` in force.
pub fn zset_listpack_limits() -> (usize, usize) {
    (in_force(3).max(0) as usize, in_force(4).max(0) as usize)
}

/// `(hash-max-listpack-entries, hash-max-listpack-value)` in force.
pub fn hash_listpack_limits() -> (usize, usize) {
    (in_force(5).max(0) as usize, in_force(6).max(0) as usize)
}
