//! CLIENT PAUSE for Memcached clients. Redis's rule is that a pause keeps the dataset static: a
//! WRITE pause holds every request that may change it, an ALL pause every request (see
//! `crate::pause`). Memcached requests share the keyspace, so they follow the same rule: while a
//! pause may be in force (one relaxed load), the connection loop calls [`wait`] before running a
//! request, which flushes the replies already queued and waits, holding no lock, until the pause
//! lets the request run. A held client counts in INFO `blocked_clients`.
//!
//! What writes: storage, arithmetic, delete, touch and flush commands, `gat`/`gats`, `mg` with a
//! `T` (touch) or `N` (vivify) flag, `ms`/`md`/`ma`; oversized stores too (a `set` deletes the
//! old value). Retrievals, `stats`, `version`, `verbosity`, `mn`/`me` and errors do not.

use super::binary::Op;
use super::parse::Request;
use crate::server::Shared;
use std::sync::atomic::Ordering::Relaxed;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Whether a text or meta request may change the dataset.
pub(super) fn text_writes(req: &Request) -> bool {
    match req {
        Request::Get { touch, .. } => touch.is_some(),
        Request::Meta { cmd: b'g', tokens, .. } => {
            tokens.iter().skip(1).any(|t| matches!(t.first(), Some(b'T' | b'N')))
        }
        Request::Meta { cmd, .. } => matches!(cmd, b's' | b'd' | b'a'),
        Request::Version | Request::Verbosity { .. } | Request::Stats(_) | Request::Quit | Request::Fail { .. } => {
            false
        }
        _ => true,
    }
}

/// Whether a binary request may change the dataset.
pub(super) fn binary_writes(op: &Op) -> bool {
    match op {
        Op::Get { touch, .. } => touch.is_some(),
        Op::Error { .. } | Op::Stat { .. } | Op::Noop | Op::Version | Op::Quit { .. } => false,
        _ => true,
    }
}

/// Waits while a pause holds a request (`writes`: it may change the dataset), after flushing the
/// replies queued in `out`. False when the connection must end (write error, shutdown). The
/// caller asks `shared.pause.maybe_on()` first, so that no pause costs one relaxed load.
pub(super) async fn wait(
    shared: &Shared,
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    stop: &mut watch::Receiver<bool>,
    writes: bool,
) -> bool {
    if !shared.pause.holds("", writes, false) {
        return true;
    }
    if !out.is_empty() && super::write(shared, stream, out).await.is_err() {
        return false;
    }
    shared.pause.waiting.fetch_add(1, Relaxed);
    let go_on = loop {
        if !shared.pause.holds("", writes, false) {
            break true;
        }
        tokio::select! {
            () = shared.pause.wait() => {}
            _ = stop.wait_for(|s| *s) => break false,
        }
    };
    shared.pause.waiting.fetch_sub(1, Relaxed);
    go_on
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn writes_are_told_from_reads() {
        let meta = |cmd: u8, tokens: &[&str]| Request::Meta {
            cmd,
            tokens: tokens.iter().map(|t| Bytes::copy_from_slice(t.as_bytes())).collect(),
            data: super::super::parse::MetaData::None,
        };
        assert!(!text_writes(&Request::Get { keys: vec![], cas: false, touch: None }));
        assert!(text_writes(&Request::Get { keys: vec![], cas: true, touch: Some(10) }));
        assert!(text_writes(&Request::Delete { key: Bytes::new(), noreply: false }));
        assert!(!text_writes(&meta(b'g', &["Tkey", "v", "k"])), "the key is not a flag");
        assert!(text_writes(&meta(b'g', &["key", "v", "T30"])));
        assert!(text_writes(&meta(b's', &["key", "S1"])));
        assert!(!text_writes(&meta(b'n', &[])));
        assert!(!text_writes(&Request::Stats(vec![])));
        assert!(binary_writes(&Op::Flush { delay: 0, quiet: false }));
        assert!(!binary_writes(&Op::Noop));
    }
}
