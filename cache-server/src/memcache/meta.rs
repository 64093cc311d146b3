//! Memcached meta commands (`mg ms md ma mn me`).

use super::McState;
use crate::server::Shared;
use bytes::Bytes;

/// Executes one meta command.
pub fn execute(
    _shared: &Shared,
    _mc: &McState,
    _cmd: u8,
    _tokens: &[Bytes],
    _data: Option<Bytes>,
    _now: u64,
    out: &mut Vec<u8>,
) {
    if _cmd == b'n' {
        out.extend_from_slice(b"MN\r\n");
    } else {
        out.extend_from_slice(b"ERROR\r\n");
    }
}
