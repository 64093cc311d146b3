//! The binary STAT command: the same groups as the text `stats` (`stats.rs` renders them), sent
//! as memcached does, one response packet per statistic (key = name, value = value) and an empty
//! packet to end. `detail dump` is one packet named `detailed`; `reset` and `detail on|off`
//! send only the end packet; a group memcached does not know is `Not found`.

use super::super::McState;
use super::{NOT_FOUND, error_text, put};
use crate::server::Shared;
use bytes::Bytes;

/// Writes the reply to a STAT request for `group` (empty: the general statistics).
pub fn stat(shared: &Shared, mc: &McState, opcode: u8, opaque: &[u8], group: &[u8], out: &mut Vec<u8>) {
    let packet = |out: &mut Vec<u8>, k: &[u8], v: &[u8]| put(out, opcode, 0, 0, &[], k, v, opaque);
    let args: Vec<Bytes> = group.split(|b| *b == b' ').filter(|t| !t.is_empty()).map(Bytes::copy_from_slice).collect();
    let mut text = Vec::new();
    super::super::stats::stats(shared, mc, &args, &mut text);
    match args.first().map(|a| a.as_ref()) {
        Some(b"detail") if args.get(1).is_some_and(|a| a.as_ref() == b"dump") => {
            packet(out, b"detailed", &text);
        }
        Some(b"detail") if !text.starts_with(b"OK") => {
            put(out, opcode, NOT_FOUND, 0, &[], &[], error_text(NOT_FOUND), opaque);
            return;
        }
        Some(b"reset" | b"detail") => {}
        _ if text.starts_with(b"ERROR") => {
            put(out, opcode, NOT_FOUND, 0, &[], &[], error_text(NOT_FOUND), opaque);
            return;
        }
        _ => {
            for line in text.split(|b| *b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let Some(rest) = line.strip_prefix(b"STAT ") else { continue };
                let (k, v) = match rest.iter().position(|b| *b == b' ') {
                    Some(i) => (&rest[..i], &rest[i + 1..]),
                    None => (rest, &b""[..]),
                };
                packet(out, k, v);
            }
        }
    }
    packet(out, &[], &[]);
}
