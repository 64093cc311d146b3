//! Memcached 1.6.18's meta commands (`mg ms md ma mn me`) over the same items as the text
//! commands, reply for reply: `flags.rs` decodes the flags, `get.rs` serves `mg` and `me`,
//! `write.rs` serves `ms`, `md` and `ma`. This file checks what every meta command checks first
//! (a key, its length, the number of flags) and dispatches.
//!
//! The anti-stampede protocol lives in the items themselves (`item.rs`'s meta word), changed
//! only under the key's shard lock (`Db::update`, the core's per-key compute), so that of any
//! number of clients missing the same key at once exactly one wins:
//!
//! ```text
//!   mg k N30 ─ miss ─► create an empty item, WIN_SENT ─► "… W"      (the winner recomputes)
//!   mg k N30 ─ hit, WIN_SENT ───────────────────────► "… Z"          (others: wait or use stale)
//!   md k I   ─ hit ─► STALE, WIN_SENT cleared, new CAS ─► next mg: "… X W", then "… Z X"
//!   mg k R30 ─ hit, TTL < 30 s, no WIN_SENT ─► WIN_SENT ─► "… W"     (early recache)
//!   ms k …   ─► a fresh item: no STALE, no WIN_SENT                   (everyone hits again)
//! ```
//!
//! cache-core's coalescing loaders are not used for this: they make waiters block on the winner's
//! future, while memcached's clients must get an immediate answer (`Z`) and decide themselves.
//!
//! memcached 1.6.18 has no `E` (explicit CAS) and no `x` (md keeps the item): like it, they are
//! refused as `invalid flag`.

mod flags;
mod get;
mod write;

use super::McState;
use super::parse::{BAD_FORMAT, KEY_MAX, META_MAX_TOKENS, MetaData};
use crate::server::Shared;
use bytes::Bytes;

pub use flags::Flags;

/// What a meta handler answers when it does not write its own reply: an error line.
pub(crate) type Res = Result<(), &'static str>;

/// Executes one meta command, appending its reply to `out`.
pub fn execute(shared: &Shared, mc: &McState, cmd: u8, tokens: &[Bytes], data: MetaData, now: u64, out: &mut Vec<u8>) {
    if cmd == b'n' {
        out.extend_from_slice(b"MN\r\n");
        return;
    }
    let Some(key) = tokens.first() else {
        out.extend_from_slice(if cmd == b'e' { b"CLIENT_ERROR bad command line format\r\n" } else { b"ERROR\r\n" });
        return;
    };
    let r = if key.len() > KEY_MAX {
        Err(BAD_FORMAT)
    } else if cmd == b'e' {
        get::me(shared, mc, key, &tokens[1..], now, out)
    } else if tokens.len() > META_MAX_TOKENS {
        Err(if cmd == b'g' { "CLIENT_ERROR options flags are too long" } else { "CLIENT_ERROR options flags too long" })
    } else {
        match cmd {
            b'g' => get::mg(shared, mc, key, &tokens[1..], now, out),
            b's' => write::ms(shared, mc, key, &tokens[2..], data, now, out),
            b'd' => write::md(shared, mc, key, &tokens[1..], now, out),
            _ => write::ma(shared, mc, key, &tokens[1..], now, out),
        }
    };
    if let Err(msg) = r {
        out.extend_from_slice(msg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Seconds of TTL left as `t` shows it: -1 for none, else rounded up.
pub(crate) fn ttl_secs(expire_at: u64, now: u64) -> i64 {
    if expire_at == 0 { -1 } else { expire_at.saturating_sub(now).div_ceil(1000) as i64 }
}

/// A status line: `code`, the flags, CRLF.
pub(crate) fn status(out: &mut Vec<u8>, code: &str, flags: &[u8]) {
    out.extend_from_slice(code.as_bytes());
    out.extend_from_slice(flags);
    out.extend_from_slice(b"\r\n");
}
