//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP).
//!
//! A blocking handler is written once, as its non-blocking form plus one call: it tries the keys
//! [`Ctx::candidates`] gives it and, if none can serve it, calls [`Ctx::block`]. What `block` does
//! depends on where the command runs ([`BlockMode`]):
//!
//! - from a client's request: the client is parked (see the registry below) and the command's
//!   reply comes later;
//! - inside MULTI/EXEC or a script: it replies nil at once, like the non-blocking form;
//! - when a push to one of its keys re-runs it for a parked client ([`BlockMode::Serving`]):
//!   `candidates` yields just the key that became ready, and `block` records that the client
//!   stays parked.

use crate::commands::{CmdError, CmdResult, Ctx};
use bytes::Bytes;
use std::time::Duration;

/// How a blocking command behaves when it finds nothing to serve it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BlockMode {
    /// Run from a client's request: park the client.
    #[default]
    Allowed,
    /// Inside MULTI/EXEC or a script: reply nil at once.
    Never,
    /// Re-run for a parked client because `key` became ready.
    Serving {
        /// The key a write made ready.
        key: Bytes,
        /// Set by [`Ctx::block`]: the command found nothing, the client stays parked.
        still_blocked: bool,
    },
}

/// What a blocking command replies when it times out (or never blocks and finds nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nil {
    /// A null array (`*-1` in RESP2): BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
    Array,
    /// A null bulk string (`$-1` in RESP2): BLMOVE, BRPOPLPUSH.
    Bulk,
}

/// A client's request to wait: what the connection parks on.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    /// The database the keys belong to.
    pub db: u32,
    /// The keys, in the command's order.
    pub keys: Vec<Bytes>,
    /// `None` = wait for ever.
    pub timeout: Option<Duration>,
    /// The reply on timeout.
    pub nil: Nil,
}

/// Parses a blocking command's timeout: seconds as a double, 0 = for ever (Redis's errors).
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = crate::commands::parse_f64(arg)
        .filter(|v| v.is_finite())
        .ok_or_else(|| CmdError::from("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err("ERR timeout is negative".into());
    }
    // Redis keeps the timeout in milliseconds (and refuses one that overflows them).
    let ms = (secs * 1000.0).round();
    if ms > i64::MAX as f64 / 2.0 {
        return Err("ERR timeout is out of range".into());
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

impl Ctx<'_> {
    /// The keys a blocking command should try, in order: all of `keys`, or when serving a parked
    /// client, only the one that became ready (if it is among them).
    pub fn candidates<'k>(&self, keys: &'k [Bytes]) -> Vec<&'k Bytes> {
        match &self.block {
            BlockMode::Serving { key, .. } => keys.iter().filter(|k| *k == key).take(1).collect(),
            _ => keys.iter().collect(),
        }
    }

    /// Called by a blocking command that found nothing to serve it on `keys` (see the module
    /// docs). Writes nothing when it parks the client; replies `nil` in MULTI or a script.
    pub fn block(&mut self, keys: &[Bytes], timeout: Option<Duration>, nil: Nil) -> CmdResult {
        match &mut self.block {
            BlockMode::Serving { still_blocked, .. } => {
                *still_blocked = true;
            }
            BlockMode::Never => self.reply_nil(nil),
            BlockMode::Allowed => {
                // Parking lands with the blocking machinery; until then, behave as in MULTI.
                let _ = BlockRequest { db: self.client.db, keys: keys.to_vec(), timeout, nil };
                self.reply_nil(nil);
            }
        }
        Ok(())
    }

    fn reply_nil(&mut self, nil: Nil) {
        match nil {
            Nil::Array => self.out.null_array(),
            Nil::Bulk => self.out.null(),
        }
    }
}
