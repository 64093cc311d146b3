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
//! held clients then run their commands in their own order.

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

/// The server-wide pause (one per server, in `Shared`).
#[derive(Debug)]
pub struct Pause {
    /// [`Mode`] as a byte: the dispatcher's only look on the fast path.
    mode: AtomicU8,
    /// Unix ms when the pause ends.
    end: AtomicU64,
    /// Bumped at every change, so held clients wake at UNPAUSE or a new deadline.
    changed: watch::Sender<u64>,
    /// Clients held now (Redis counts them in INFO `blocked_clients`).
    pub waiting: AtomicUsize,
}

impl Default for Pause {
    fn default() -> Self {
        Self {
            mode: AtomicU8::new(0),
            end: AtomicU64::new(0),
            changed: watch::channel(0).0,
            waiting: AtomicUsize::new(0),
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
        self.changed.send_modify(|n| *n += 1);
    }

    /// CLIENT UNPAUSE (or the deadline): every held client goes on.
    pub fn unpause(&self) {
        if self.mode.swap(0, Relaxed) != 0 {
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
    fn a_pause_ends_at_its_deadline() {
        let p = Pause::default();
        p.pause(Mode::All, 0);
        assert_eq!(p.mode(), Mode::Off);
        assert!(!p.maybe_on());
    }
}
