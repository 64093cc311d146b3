//! CLIENT PAUSE / UNPAUSE: the server-wide pause and the wait of the clients it holds. It owns the
//! pause state only; the dispatcher asks [`Pause::holds`] before running a command, and the
//! connection task waits in [`Pause::wait`] — holding no lock and no thread — then runs it.
//!
//! ```text
//!   CLIENT PAUSE 500 WRITE ──► Pause { mode, end } ──► watch channel ─┐
//!   execute(): mode == 0? ── yes (one relaxed load) ──► run           │ changed / deadline
//!              └─ no ─► holds(cmd)? ─► client.postponed ──► task awaits wait() ──► execute again
//! ```
//!
//! Redis's rules: `ALL` holds every command of normal and pub/sub clients, `WRITE` holds those
//! that may change the dataset or replicate (write commands, EXEC of a transaction with one,
//! EVAL/EVALSHA/FCALL, PUBLISH, PFCOUNT, SCRIPT LOAD/FLUSH…). A second PAUSE keeps the more
//! restrictive mode and the later end. The pause ends at its deadline or at CLIENT UNPAUSE; the
//! held clients then run their commands in their own order. A held client shows flag `b` in
//! CLIENT LIST; [`Pause::waiting`] counts them for INFO's `blocked_clients`.
//!
//! As in Redis 7.0 (`checkClientPauseTimeoutAndReturnIfPaused` in expire.c, db.c, evict.c), a
//! pause of either mode also keeps the dataset static: [`Pause::pause`] and [`Pause::unpause`]
//! flip the keyspace's switch ([`Pause::with_keyspace`], `Db::pause_switch`), which pauses the
//! core's maintenance until the pause's end (`cache_core::Cache::pause_maintenance`). Until
//! then no key expires — neither by the active cycle nor on access: a read of an expired key
//! answers nil and leaves it, so DBSIZE, INFO `expired_keys` and `expired` notifications stay
//! put — and nothing is evicted, not even by a smaller `maxmemory` (CONFIG SET is not held):
//! its evictions wait for the end. At UNPAUSE a catch-up cycle reclaims and evicts at once
//! (at a deadline the core resumes by itself, and the next operations or cycle catch up).

use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// What a pause holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Mode {
    /// No pause.
    Off = 0,
    /// Commands that may write or replicate.
    Write = 1,
    /// Every command.
    All = 2,
}

/// The keyspace's switch: `Some(ms)` when a pause starts or is extended (ms left), `None` when
/// it ends.
pub type Switch = Box<dyn Fn(Option<u64>) + Send + Sync>;

/// The server-wide pause (one per server, in `Shared`).
pub struct Pause {
    /// [`Mode`] as a byte: the dispatcher's only look on the fast path.
    mode: AtomicU8,
    /// Unix ms when the pause ends.
    end: AtomicU64,
    /// Bumped at every change, so held clients wake at UNPAUSE or a new deadline.
    changed: watch::Sender<u64>,
    /// Clients held now (Redis counts them in INFO `blocked_clients`).
    pub waiting: AtomicUsize,
    /// Freezes and thaws the keyspace's expiry and eviction (lock-free: PAUSE may run in EXEC).
    keyspace: Option<Switch>,
}

impl std::fmt::Debug for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pause").field("mode", &self.mode).field("end", &self.end).finish_non_exhaustive()
    }
}

impl Default for Pause {
    fn default() -> Self {
        Self {
            mode: AtomicU8::new(0),
            end: AtomicU64::new(0),
            changed: watch::channel(0).0,
            waiting: AtomicUsize::new(0),
            keyspace: None,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Commands Redis 7.0 flags `may_replicate` (held by a WRITE pause although they are no writes).
pub const MAY_REPLICATE: &[&str] = &[
    "eval",
    "evalsha",
    "fcall",
    "publish",
    "spublish",
    "pfcount",
    "script|load",
    "script|flush",
    "function|load",
    "function|delete",
    "function|flush",
    "function|restore",
];

impl Pause {
    /// A pause that also freezes the keyspace's expiry and eviction through `switch`.
    pub fn with_keyspace(switch: Switch) -> Self {
        Self { keyspace: Some(switch), ..Self::default() }
    }

    /// True while a pause may be in force (one relaxed load: the dispatcher's fast path).
    #[inline(always)]
    pub fn maybe_on(&self) -> bool {
        self.mode.load(Relaxed) != 0
    }

    /// The mode in force now (a pause past its deadline ends here).
    pub fn mode(&self) -> Mode {
        match self.mode.load(Relaxed) {
            0 => Mode::Off,
            m => {
                if now_ms() >= self.end.load(Relaxed) {
                    self.unpause();
                    Mode::Off
                } else if m == 1 {
                    Mode::Write
                } else {
                    Mode::All
                }
            }
        }
    }

    /// Milliseconds until the pause ends (0 when none).
    pub fn remaining_ms(&self) -> u64 {
        if self.mode() == Mode::Off { 0 } else { self.end.load(Relaxed).saturating_sub(now_ms()) }
    }

    /// CLIENT PAUSE: the stricter of the two modes and the later of the two ends.
    pub fn pause(&self, mode: Mode, ms: u64) {
        let end = now_ms().saturating_add(ms);
        let was = self.mode();
        if was == Mode::Off {
            self.end.store(end, Relaxed);
        } else {
            self.end.fetch_max(end, Relaxed);
        }
        self.mode.store(was.max(mode) as u8, Relaxed);
        if let Some(switch) = &self.keyspace {
            switch(Some(self.end.load(Relaxed).saturating_sub(now_ms())));
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// CLIENT UNPAUSE (or the deadline): every held client goes on.
    pub fn unpause(&self) {
        if self.mode.swap(0, Relaxed) != 0 {
            if let Some(switch) = &self.keyspace {
                switch(None);
            }
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// True if the pause holds command `full` (`write`: the row has the `write` flag; `exec_writes`:
    /// EXEC of a queue with a write or may-replicate command).
    pub fn holds(&self, full: &str, write: bool, exec_writes: bool) -> bool {
        match self.mode() {
            Mode::Off => false,
            Mode::All => true,
            Mode::Write => write || exec_writes || MAY_REPLICATE.contains(&full),
        }
    }

    /// Waits until the pause changes or reaches its deadline (the caller then asks again).
    pub async fn wait(&self) {
        let mut rx = self.changed.subscribe();
        if self.mode() == Mode::Off {
            return;
        }
        let left = self.end.load(Relaxed).saturating_sub(now_ms());
        tokio::select! {
            _ = rx.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(left.max(1))) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stricter_mode_and_later_end_win_and_unpause_clears() {
        let p = Pause::default();
        assert!(!p.maybe_on());
        assert!(!p.holds("set", true, false));
        p.pause(Mode::Write, 60_000);
        assert!(p.holds("set", true, false));
        assert!(p.holds("publish", false, false));
        assert!(p.holds("exec", false, true));
        assert!(!p.holds("get", false, false));
        p.pause(Mode::All, 10);
        assert_eq!(p.mode(), Mode::All);
        assert!(p.remaining_ms() > 10_000, "the later end stays");
        p.unpause();
        assert!(!p.maybe_on());
        assert_eq!(p.remaining_ms(), 0);
    }

    #[test]
    fn the_keyspace_switch_follows_the_pause() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let p = Pause::with_keyspace(Box::new(move |left| log.lock().unwrap().push(left.map(|ms| ms > 50_000))));
        p.pause(Mode::Write, 60_000);
        p.pause(Mode::All, 10);
        p.unpause();
        p.unpause();
        p.pause(Mode::All, 0);
        assert_eq!(p.mode(), Mode::Off);
        assert_eq!(*seen.lock().unwrap(), [Some(true), Some(true), None, Some(false), None]);
    }

    #[test]
    fn a_pause_ends_at_its_deadline() {
        let p = Pause::default();
        p.pause(Mode::All, 0);
        assert_eq!(p.mode(), Mode::Off);
        assert!(!p.maybe_on());
    }
}
