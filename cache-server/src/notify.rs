//! Keyspace notifications (`notify-keyspace-events`): a write names its event and class, and
//! this module publishes it on `__keyspace@<db>__:<key>` (payload: the event) and
//! `__keyevent@<db>__:<event>` (payload: the key) when the class is enabled, through the ordinary
//! pub/sub delivery (mailboxes; RESP3 clients get pushes). Handlers call [`Ctx::notify`] after a
//! successful write; the keyspace layer (`db.rs`) emits `new` on key creation, `expired` on lazy
//! and active expiry, `evicted` on eviction and `keymiss` on read misses, through [`emit`].
//!
//! It owns the flags (parsing and rendering Redis's class letters, and their live copy in
//! [`crate::pubsub::PubSub`]); it must not touch the keyspace. Cost when notifications are off:
//! one relaxed atomic load per event site.
//!
//! ```text
//!  handler ── ctx.notify(class, "lpush", key) ─┐
//!  db.rs on_slot ── "expired" (lazy), "new" ───┤  flags & class? (one relaxed load) ── no ──► done
//!  db.rs Db::get ── "keymiss" ─────────────────┤        │ yes
//!  core eviction listener ── "evicted" / ──────┘   __keyspace@db__:key  ← event   (K)
//!      "expired" (active)                          __keyevent@db__:event ← key    (E)
//!                                                  └─► Tracking::publish → mailboxes
//! ```
//!
//! Order: a key found expired publishes `expired` before the command's own events, and `new`
//! comes before the event of the write that created the key, as in Redis. While `x` is on, the
//! active expiry cycle runs (as for tracking clients), so an untouched key's `expired` comes
//! within about 100 ms of its deadline. Known gaps: which key an eviction picks is our policy's
//! choice (the `evicted` messages are Redis's in form, not in keys); a write so large that the
//! core rejects it publishes `evicted` for it; Memcached writes publish only `new`, `expired` and
//! `evicted` (they have no Redis event names).

use crate::commands::Ctx;
use crate::config::ConfigError;
use crate::tracking::Tracking;
use bytes::{BufMut, Bytes, BytesMut};

/// `K`: publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `d`: module events (none here; the letter is kept for CONFIG round trips).
const MODULE: u32 = 1 << 13;
/// `A`: every class but `m` and `n` (Redis's `NOTIFY_ALL`).
const ALL: u32 = class_bits(&[
    Class::Generic,
    Class::String,
    Class::List,
    Class::Set,
    Class::Hash,
    Class::ZSet,
    Class::Expired,
    Class::Evicted,
    Class::Stream,
]) | MODULE;

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

impl Class {
    /// The class's bit in the flags (Redis's `NOTIFY_*` values).
    pub const fn bit(self) -> u32 {
        match self {
            Class::Generic => 1 << 2,
            Class::String => 1 << 3,
            Class::List => 1 << 4,
            Class::Set => 1 << 5,
            Class::Hash => 1 << 6,
            Class::ZSet => 1 << 7,
            Class::Expired => 1 << 8,
            Class::Evicted => 1 << 9,
            Class::Stream => 1 << 10,
            Class::KeyMiss => 1 << 11,
            Class::New => 1 << 14,
        }
    }
}

const fn class_bits(classes: &[Class]) -> u32 {
    let mut bits = 0;
    let mut i = 0;
    while i < classes.len() {
        bits |= classes[i].bit();
        i += 1;
    }
    bits
}

/// The letters of the classes below `A`, in the order CONFIG GET renders them.
const LETTERS: [(u8, u32); 11] = [
    (b'g', Class::Generic.bit()),
    (b'$', Class::String.bit()),
    (b'l', Class::List.bit()),
    (b's', Class::Set.bit()),
    (b'h', Class::Hash.bit()),
    (b'z', Class::ZSet.bit()),
    (b'x', Class::Expired.bit()),
    (b'e', Class::Evicted.bit()),
    (b't', Class::Stream.bit()),
    (b'd', MODULE),
    (b'n', Class::New.bit()),
];

/// Parses a `notify-keyspace-events` value (Redis's letters, any order, repeats allowed).
///
/// # Errors
/// [`ConfigError::Invalid`] with Redis's message for any other character.
pub fn parse_flags(s: &str) -> Result<u32, ConfigError> {
    let mut flags = 0;
    for c in s.bytes() {
        flags |= match c {
            b'A' => ALL,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b'm' => Class::KeyMiss.bit(),
            _ => match LETTERS.iter().find(|(l, _)| *l == c) {
                Some((_, bit)) => *bit,
                None => {
                    return Err(ConfigError::Invalid("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()));
                }
            },
        };
    }
    Ok(flags)
}

/// CONFIG GET's rendering: `A` when every class of `A` is on (then `n` is not shown, as in
/// Redis), else the class letters in Redis's order; then `K`, `E`, `m`.
pub fn render_flags(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        s.extend(LETTERS.iter().filter(|(_, bit)| flags & bit != 0).map(|(l, _)| char::from(*l)));
    }
    for (bit, l) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (Class::KeyMiss.bit(), 'm')] {
        if flags & bit != 0 {
            s.push(l);
        }
    }
    s
}

/// Installs new flags (CONFIG SET, startup). `expired` events need the active expiry cycle, so
/// that they come without a read, as in Redis: a server runs it from its start, and a keyspace
/// used without one (unit tests) starts it here when `x` goes on.
pub fn configure(db: &crate::db::Db, flags: u32) {
    db.tracking.pubsub.set_notify_flags(flags);
    if flags & Class::Expired.bit() != 0 && flags & (KEYSPACE | KEYEVENT) != 0 {
        db.tracking.start_expiry_cycle(|| db.reclaim_expired_fn());
    }
}

impl Ctx<'_> {
    /// Publishes `event` on `key` of the selected database, if `class` is enabled.
    #[inline]
    pub fn notify(&mut self, class: Class, event: &'static str, key: &[u8]) {
        emit(&self.shared.db.tracking, self.client.db, class, event, key);
    }

    /// [`Ctx::notify`], then `del` if the write left the collection at `key` empty (so removed),
    /// as Redis's collection commands do.
    pub fn notify_then_del(&mut self, class: Class, event: &'static str, key: &[u8]) {
        self.notify(class, event, key);
        if enabled(&self.shared.db.tracking, Class::Generic) && self.peek(key).is_none() {
            self.notify(Class::Generic, "del", key);
        }
    }
}

/// True if events of `class` are published (one relaxed load).
#[inline]
pub fn enabled(tracking: &Tracking, class: Class) -> bool {
    let flags = tracking.pubsub.notify_flags();
    flags & class.bit() != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// Publishes `event` on `key` of database `db`, if `class` is enabled.
#[inline]
pub fn emit(tracking: &Tracking, db: u32, class: Class, event: &str, key: &[u8]) {
    let flags = tracking.pubsub.notify_flags();
    if flags & class.bit() != 0 {
        publish(tracking, flags, db, event, key);
    }
}

/// The keyspace layer, before a keyed write runs: `expired` for a key found expired (Redis
/// deletes it at lookup, before the command's own events); true if the key is absent, so that
/// the caller emits `new` should the write create it.
#[inline]
pub fn before_write(tracking: &Tracking, db: u32, key: &[u8], expired: bool, vacant: bool) -> bool {
    let flags = tracking.pubsub.notify_flags();
    if flags == 0 {
        return false;
    }
    if expired {
        emit(tracking, db, Class::Expired, "expired", key);
    }
    flags & Class::New.bit() != 0 && (expired || vacant)
}

/// The keyspace layer, when the cache removed a key on its own: `evicted` (size) or `expired`.
pub fn removed(tracking: &Tracking, db: u32, key: &[u8], evicted: bool) {
    if evicted {
        emit(tracking, db, Class::Evicted, "evicted", key);
    } else {
        emit(tracking, db, Class::Expired, "expired", key);
    }
}

thread_local! {
    /// Above zero while a [`Quiet`] guard lives on this thread.
    static QUIET: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// While it lives, nothing is published from this thread: for work that moves keys without
/// Redis publishing anything (SWAPDB swaps two tables where we move every key).
#[derive(Debug)]
#[must_use]
pub struct Quiet(());

impl Quiet {
    /// Silences this thread until the guard drops.
    pub fn new() -> Self {
        QUIET.with(|q| q.set(q.get() + 1));
        Quiet(())
    }
}

impl Default for Quiet {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(q.get() - 1));
    }
}

#[cold]
fn publish(tracking: &Tracking, flags: u32, db: u32, event: &str, key: &[u8]) {
    // Nobody subscribed: nothing to format (this check made a SET with `KEA` and no listener
    // cost 3,900 instructions instead of 7,500; `benches/callgrind-per-request.sh`).
    if !tracking.pubsub.listening() || QUIET.with(std::cell::Cell::get) > 0 {
        return;
    }
    let channel = |kind: &str, name: &[u8]| {
        let mut c = BytesMut::with_capacity(24 + name.len());
        c.put_slice(b"__");
        c.put_slice(kind.as_bytes());
        c.put_u8(b'@');
        c.put_slice(db.to_string().as_bytes());
        c.put_slice(b"__:");
        c.put_slice(name);
        c.freeze()
    };
    if flags & KEYSPACE != 0 {
        tracking.publish(&channel("keyspace", key), &Bytes::copy_from_slice(event.as_bytes()));
    }
    if flags & KEYEVENT != 0 {
        tracking.publish(&channel("keyevent", event.as_bytes()), &Bytes::copy_from_slice(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_render_as_redis() {
        let round = |s: &str| render_flags(parse_flags(s).unwrap());
        for (given, shown) in [
            ("", ""),
            ("A", "A"),
            ("KA", "AK"),
            ("AKEmn", "AKEm"),
            ("ng", "gn"),
            ("$lshzxetdmn", "$lshzxetdnm"),
            ("g$lshzxetdKE", "AKE"),
            ("gzxKEA", "AKE"),
            ("x", "x"),
        ] {
            assert_eq!(round(given), shown, "{given}");
        }
        let err = parse_flags("KEA ").unwrap_err().to_string();
        assert_eq!(err, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    }
}
