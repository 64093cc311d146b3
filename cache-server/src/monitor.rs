//! MONITOR: the clients that watch every command, and the lines they receive, in Redis 7.0's
//! format: `+1700000000.123456 [0 127.0.0.1:5555] "set" "k" "v"` (`[0 lua]` for a command a
//! script ran). It owns the list of monitoring mailboxes and the line encoding; the dispatcher
//! (`commands::run`) calls [`feed_start`] / [`Feed::finish`] around each command.
//!
//! ```text
//!  commands::run ── active? (one relaxed load) ── no ──► nothing
//!        │ yes
//!        ├─ EVAL / EVALSHA / FCALL: line before the script runs (its calls follow it)
//!        ├─ handler (a script's calls see the "in a script" mark: `[db lua]`)
//!        └─ any other command but `admin` ones: line after it ran (EXEC after its queue)
//!              └──► Push::Monitor(line) into each monitor's mailbox (output limits apply)
//! ```
//!
//! Like Redis, AUTH's arguments, HELLO's AUTH pair and MIGRATE's AUTH / AUTH2 passwords show as
//! `"(redacted)"`; requests refused before they run (unknown, arity, NOAUTH, OOM) and commands
//! queued by MULTI are not shown (the queue shows when EXEC runs it); MONITOR itself is `admin`.

use crate::commands::CommandSpec;
use crate::connection::ClientState;
use crate::server::Shared;
use crate::tracking::{Mailbox, Push};
use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::RwLock;
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

thread_local! {
    /// Set while a script command (EVAL, FCALL, …) runs on this thread: its calls show as `lua`.
    static IN_SCRIPT: Cell<bool> = const { Cell::new(false) };
}

/// The clients in MONITOR mode.
#[derive(Debug, Default)]
pub struct Monitors {
    /// Mirrors `boxes.len()`, so the dispatcher checks it with one relaxed load.
    active: AtomicUsize,
    boxes: RwLock<Vec<(u64, Arc<Mailbox>)>>,
}

impl Monitors {
    /// Adds a monitor; false if `id` monitors already.
    pub fn add(&self, id: u64, mailbox: Arc<Mailbox>) -> bool {
        let mut b = self.boxes.write();
        if b.iter().any(|(i, _)| *i == id) {
            return false;
        }
        b.push((id, mailbox));
        self.active.store(b.len(), Relaxed);
        true
    }

    /// Removes a monitor (RESET, disconnect); nothing if `id` does not monitor.
    pub fn remove(&self, id: u64) {
        if self.active.load(Relaxed) == 0 {
            return;
        }
        let mut b = self.boxes.write();
        b.retain(|(i, _)| *i != id);
        self.active.store(b.len(), Relaxed);
    }

    /// True if `id` monitors.
    pub fn contains(&self, id: u64) -> bool {
        self.active.load(Relaxed) > 0 && self.boxes.read().iter().any(|(i, _)| *i == id)
    }

    /// Number of monitors.
    pub fn len(&self) -> usize {
        self.active.load(Relaxed)
    }

    /// True when nobody monitors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn send(&self, line: Bytes) {
        for (_, mb) in self.boxes.read().iter() {
            mb.push(Push::Monitor(line.clone()));
        }
    }
}

/// A command being monitored: [`Feed::finish`] after it ran.
#[derive(Debug)]
#[must_use]
pub struct Feed {
    was_in_script: bool,
    after: bool,
}

/// Before a command runs: `None` when nobody monitors (one relaxed load). A script command's
/// line goes out now, and its calls are marked as coming from a script until it ends.
#[inline]
pub fn feed_start(shared: &Shared, client: &ClientState, spec: &CommandSpec, args: &[Bytes]) -> Option<Feed> {
    let monitors = &shared.db.tracking.pubsub.monitors;
    if monitors.is_empty() {
        return None;
    }
    Some(start_slow(shared, client, spec, args))
}

#[cold]
fn start_slow(shared: &Shared, client: &ClientState, spec: &CommandSpec, args: &[Bytes]) -> Feed {
    let script = spec.has("skip_monitor");
    let was_in_script = IN_SCRIPT.with(Cell::get);
    if script {
        send(shared, client, args, was_in_script);
        IN_SCRIPT.with(|c| c.set(true));
    }
    Feed { was_in_script, after: !script && !spec.has("admin") }
}

impl Feed {
    /// After the command ran: its line (unless it is `admin` or a script command).
    pub fn finish(self, shared: &Shared, client: &ClientState, args: &[Bytes]) {
        IN_SCRIPT.with(|c| c.set(self.was_in_script));
        if self.after {
            send(shared, client, args, self.was_in_script);
        }
    }
}

fn send(shared: &Shared, client: &ClientState, args: &[Bytes], lua: bool) {
    let origin = if lua { "lua".to_string() } else { client.handle.addr.to_string() };
    shared.db.tracking.pubsub.monitors.send(line(std::time::SystemTime::now(), client.db, &origin, args));
}

/// One MONITOR line, `+` to CRLF included.
pub fn line(at: std::time::SystemTime, db: u32, origin: &str, args: &[Bytes]) -> Bytes {
    let t = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut out = BytesMut::with_capacity(48 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    out.put_slice(format!("+{}.{:06} [{db} {origin}]", t.as_secs(), t.subsec_micros()).as_bytes());
    let redacted = redacted_from(args);
    for (i, a) in args.iter().enumerate() {
        out.put_u8(b' ');
        if redacted(i) {
            out.put_slice(b"\"(redacted)\"");
        } else {
            quote(&mut out, a);
        }
    }
    out.put_slice(b"\r\n");
    out.freeze()
}

/// Which arguments Redis 7.0 hides: every AUTH argument, HELLO's `AUTH user pass`, and MIGRATE's
/// `AUTH pass` / `AUTH2 user pass`.
fn redacted_from(args: &[Bytes]) -> impl Fn(usize) -> bool + '_ {
    let name = args.first().map(|a| a.to_ascii_lowercase()).unwrap_or_default();
    let mut hide = vec![false; args.len()];
    let mut after = |at: usize, n: usize| hide.iter_mut().skip(at + 1).take(n).for_each(|h| *h = true);
    match name.as_slice() {
        b"auth" => after(0, args.len()),
        b"hello" => {
            if let Some(i) = args.iter().skip(2).position(|a| a.eq_ignore_ascii_case(b"auth")) {
                after(i + 2, 2);
            }
        }
        b"migrate" => {
            for (i, a) in args.iter().enumerate().skip(6) {
                if a.eq_ignore_ascii_case(b"keys") {
                    break;
                }
                if a.eq_ignore_ascii_case(b"auth") {
                    after(i, 1);
                } else if a.eq_ignore_ascii_case(b"auth2") {
                    after(i, 2);
                }
            }
        }
        _ => {}
    }
    move |i| hide[i]
}

/// Redis's `sdscatrepr`: a quoted string with `\n \r \t \a \b \\ \"` and `\xHH` escapes.
fn quote(out: &mut BytesMut, s: &[u8]) {
    out.put_u8(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => out.put_slice(&[b'\\', c]),
            b'\n' => out.put_slice(b"\\n"),
            b'\r' => out.put_slice(b"\\r"),
            b'\t' => out.put_slice(b"\\t"),
            7 => out.put_slice(b"\\a"),
            8 => out.put_slice(b"\\b"),
            0x20..=0x7e => out.put_u8(c),
            _ => out.put_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(origin: &str, words: &[&[u8]]) -> String {
        let args: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w)).collect();
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_000_123);
        String::from_utf8(line(at, 0, origin, &args).to_vec()).unwrap()
    }

    #[test]
    fn lines_quote_and_redact_as_redis() {
        assert_eq!(
            show("127.0.0.1:5555", &[b"set", b"k", b"v"]),
            "+1700000000.000123 [0 127.0.0.1:5555] \"set\" \"k\" \"v\"\r\n"
        );
        assert_eq!(
            show("lua", &[b"set", b"x", b"y\n\"\\\x01\xff"]),
            "+1700000000.000123 [0 lua] \"set\" \"x\" \"y\\n\\\"\\\\\\x01\\xff\"\r\n"
        );
        assert_eq!(
            show("a", &[b"AUTH", b"u", b"p"]),
            "+1700000000.000123 [0 a] \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"
        );
        assert_eq!(
            show("a", &[b"hello", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"]),
            "+1700000000.000123 [0 a] \"hello\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
        );
        assert_eq!(
            show("a", &[b"migrate", b"h", b"1", b"", b"0", b"5", b"AUTH2", b"u", b"p", b"KEYS", b"auth"]),
            "+1700000000.000123 [0 a] \"migrate\" \"h\" \"1\" \"\" \"0\" \"5\" \"AUTH2\" \"(redacted)\" \"(redacted)\" \"KEYS\" \"auth\"\r\n"
        );
    }
}
