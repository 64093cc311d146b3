//! The Memcached front end: a second listener that speaks the Memcached text, meta and binary
//! protocols over the same keyspace (Redis database 0), store and memory budget as RESP. This file
//! owns the accept loop and the connection loop; `parse` decodes text requests, `commands` runs the
//! text commands, `meta` the meta commands, `binary` the binary protocol, `item` the per-item
//! meta state (win / stale / fetched bits, last access) and memcached's base64, `stats` and
//! `detail` the `stats` groups, `auth` the password exchange. It never touches cache-core:
//! everything goes through `db.rs`.
//!
//! ```text
//!  run() ──spawn──► memcache::listen ──accept──► maxclients / protected mode ──► serve (one task)
//!    serve: requirepass set? ── yes ─► auth::next until `set` + "default <password>" ─┐
//!                             └─ no ─► first byte 0x80? ─ yes ─► binary::next/execute  │
//!                                                     └─ no ──► parse::next ◄──────────┘
//!                                                                 ─► commands / meta ─► one write per batch
//!                                     (a multi-key get is written out every FLUSH_AT bytes)
//! ```
//!
//! Enable it with `--memcached-port 11211` (11211 is memcached's usual port; 0, the default, keeps
//! it off). The bind address, protected mode and `maxclients` are those of the RESP listener. With
//! `requirepass` set a client must first authenticate as memcached 1.6's `-Y` ASCII
//! authentication has it (username `default`, see `auth.rs`), so a password never lets an
//! unauthenticated client do anything; without one, protected mode refuses non-loopback clients.
//! No reply is built whole in memory: replies are flushed to the socket once `FLUSH_AT` bytes
//! are queued, and a `get` of many keys is flushed key by key, waiting for the client to read.

pub mod auth;
pub mod binary;
pub mod commands;
pub mod detail;
mod hold;
pub mod item;
pub mod meta;
pub mod parse;
pub mod stats;

use crate::server::Shared;
use bytes::{Buf, BytesMut};
use parse::Next;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Replies are flushed mid-batch once this many bytes are queued.
const FLUSH_AT: usize = 256 * 1024;
/// Smallest read we ask the kernel for.
const READ_CHUNK: usize = 16 * 1024;

/// Counters `stats` reports (memcached's names).
#[derive(Debug, Default)]
#[allow(missing_docs)]
pub struct McStats {
    pub curr_connections: AtomicU64,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub cmd_get: AtomicU64,
    pub cmd_set: AtomicU64,
    pub cmd_flush: AtomicU64,
    pub cmd_touch: AtomicU64,
    pub cmd_meta: AtomicU64,
    pub get_hits: AtomicU64,
    pub get_misses: AtomicU64,
    pub get_expired: AtomicU64,
    pub get_flushed: AtomicU64,
    pub delete_hits: AtomicU64,
    pub delete_misses: AtomicU64,
    pub incr_hits: AtomicU64,
    pub incr_misses: AtomicU64,
    pub decr_hits: AtomicU64,
    pub decr_misses: AtomicU64,
    pub cas_hits: AtomicU64,
    pub cas_misses: AtomicU64,
    pub cas_badval: AtomicU64,
    pub touch_hits: AtomicU64,
    pub touch_misses: AtomicU64,
    pub store_too_large: AtomicU64,
    pub store_no_memory: AtomicU64,
    pub total_items: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub auth_cmds: AtomicU64,
    pub auth_errors: AtomicU64,
}

/// Memcached-side state shared by the Memcached connections.
#[derive(Debug, Default)]
pub struct McState {
    /// Counters.
    pub stats: McStats,
    /// Bumped by every `flush_all`, so a newer one cancels a pending delayed flush.
    flush_generation: AtomicU64,
    /// `stats detail` prefix counters.
    pub detail: detail::Detail,
    /// `verbosity` level (0..=2; nothing here logs by it, `stats settings` reports it).
    pub verbosity: AtomicU32,
    /// Seconds after start before which items count as flushed (`stats settings` `oldest`).
    pub oldest: AtomicU64,
    /// The port the Memcached listener is bound to (`stats settings` `tcpport`).
    pub port: AtomicU32,
}

impl McState {
    /// `flush_all [delay]`: empties database 0 now, or after `delay` seconds unless another
    /// `flush_all` comes first (memcached keeps one "oldest live" time, so the last call wins).
    pub fn flush_all(&self, shared: &Arc<Shared>, delay: i64) {
        self.stats.cmd_flush.fetch_add(1, Relaxed);
        let generation = self.flush_generation.fetch_add(1, Relaxed) + 1;
        let at = shared.started.elapsed().as_secs() + delay.max(0) as u64;
        self.oldest.store(at.saturating_sub(1), Relaxed);
        let flush = |shared: &Shared| {
            let all = shared.db.len() as usize;
            crate::commands::offload(all, || shared.db.flush(Some(commands::DB)));
        };
        if delay <= 0 {
            flush(shared);
            return;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(delay as u64)).await;
            if shared.memcache.flush_generation.load(Relaxed) == generation {
                flush(&shared);
            }
        });
    }
}

/// Accepts Memcached clients until shutdown, then waits (bounded by the caller) for them to finish.
pub async fn listen(shared: Arc<Shared>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    if let Ok(a) = listener.local_addr() {
        shared.memcache.port.store(u32::from(a.port()), Relaxed);
    }
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "memcached accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let _ = crate::sockopt::set_keepalive(&stream, shared.config.read().tcp_keepalive);
        let (maxclients, refused) = {
            let c = shared.config.read();
            (c.maxclients, crate::listener::protected_mode_refuses(&c, &peer))
        };
        let mc = &shared.memcache.stats;
        if shared.connected.load(Relaxed) >= maxclients {
            mc.rejected_connections.fetch_add(1, Relaxed);
            tasks.spawn(async move {
                let _ = stream.write_all(b"ERROR Too many open connections\r\n").await;
            });
            continue;
        }
        if refused {
            tasks.spawn(async move {
                let _ = stream.write_all(b"SERVER_ERROR protected mode: only loopback clients are accepted\r\n").await;
            });
            continue;
        }
        mc.total_connections.fetch_add(1, Relaxed);
        mc.curr_connections.fetch_add(1, Relaxed);
        shared.connected.fetch_add(1, Relaxed);
        let sh = shared.clone();
        let stop_rx = stop.clone();
        tasks.spawn(async move {
            serve(&sh, stream, stop_rx).await;
            sh.memcache.stats.curr_connections.fetch_sub(1, Relaxed);
            sh.connected.fetch_sub(1, Relaxed);
        });
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// Which protocol a connection speaks, decided by its first byte as memcached does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing read yet: 0x80 means binary, anything else text.
    Negotiating,
    /// `requirepass` is set and the client has not authenticated (see `auth.rs`).
    Unauthenticated,
    /// The text and meta protocols.
    Text,
    /// The binary protocol (see `binary.rs`).
    Binary,
}

/// Serves one Memcached client until it quits, errs, or the server shuts down. When a password
/// is set at connect time the client must authenticate first (`auth.rs`); a later `CONFIG SET
/// requirepass` applies to new connections.
pub async fn serve(shared: &Arc<Shared>, mut stream: TcpStream, mut stop: watch::Receiver<bool>) {
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Vec::new();
    // Bytes of a too-large data block still to discard as they arrive.
    let mut swallow = 0usize;
    let mut mode = if shared.auth_required() { Mode::Unauthenticated } else { Mode::Negotiating };
    let mut first = true;
    loop {
        let max_item = shared.config.read().memcached_max_item_size as usize;
        let mut close = false;
        loop {
            if swallow > 0 {
                let n = swallow.min(rbuf.len());
                rbuf.advance(n);
                swallow -= n;
                if swallow > 0 {
                    break;
                }
            }
            if rbuf.is_empty() {
                break;
            }
            let was_first = std::mem::replace(&mut first, false);
            match mode {
                Mode::Negotiating => {
                    mode = if rbuf[0] == binary::REQUEST_MAGIC { Mode::Binary } else { Mode::Text };
                }
                Mode::Unauthenticated if was_first && rbuf[0] == binary::REQUEST_MAGIC => {
                    // A binary client cannot authenticate here: answer it (once its header is in)
                    // and close.
                    first = true;
                    if rbuf.len() < 24 {
                        break;
                    }
                    out.extend_from_slice(&auth::binary_auth_failure(&rbuf));
                    close = true;
                    break;
                }
                Mode::Unauthenticated => match auth::next(&rbuf) {
                    auth::Step::Incomplete => break,
                    auth::Step::Close => {
                        close = true;
                        break;
                    }
                    auth::Step::Reply { msg, consumed } => {
                        rbuf.advance(consumed);
                        commands::line(&mut out, msg);
                    }
                    auth::Step::Credentials { user, pass, consumed } => {
                        rbuf.advance(consumed);
                        let password = shared.config.read().requirepass.clone();
                        let ok = auth::check(&user, &pass, password.as_deref());
                        let mc = &shared.memcache.stats;
                        mc.auth_cmds.fetch_add(1, Relaxed);
                        if ok {
                            mode = Mode::Text;
                            commands::line(&mut out, "STORED");
                        } else {
                            mc.auth_errors.fetch_add(1, Relaxed);
                            commands::line(&mut out, auth::FAILURE);
                        }
                    }
                },
                Mode::Binary => match binary::next(&rbuf, max_item) {
                    binary::Next::Incomplete => break,
                    binary::Next::Close => {
                        close = true;
                        break;
                    }
                    binary::Next::Ready { req, consumed, swallow: s } => {
                        rbuf.advance(consumed);
                        swallow = s;
                        if shared.pause.maybe_on()
                            && !hold::wait(shared, &mut stream, &mut out, &mut stop, hold::binary_writes(&req.op)).await
                        {
                            return;
                        }
                        if binary::execute(shared, &shared.memcache, req, &mut out) == commands::After::Close {
                            close = true;
                            break;
                        }
                    }
                },
                Mode::Text => match parse::next(&rbuf, max_item) {
                    Next::Incomplete => break,
                    Next::Close => {
                        // memcached closes without writing what it had not sent yet.
                        out.clear();
                        close = true;
                        break;
                    }
                    Next::Ready { req: parse::Request::Get { keys, cas, touch }, consumed, .. } => {
                        rbuf.advance(consumed);
                        if shared.pause.maybe_on()
                            && !hold::wait(shared, &mut stream, &mut out, &mut stop, touch.is_some()).await
                        {
                            return;
                        }
                        if stream_get(shared, &mut stream, &mut out, &keys, cas, touch).await.is_err() {
                            return;
                        }
                    }
                    Next::Ready { req, consumed, swallow: s } => {
                        rbuf.advance(consumed);
                        swallow = s;
                        if shared.pause.maybe_on()
                            && !hold::wait(shared, &mut stream, &mut out, &mut stop, hold::text_writes(&req)).await
                        {
                            return;
                        }
                        if commands::execute(shared, &shared.memcache, req, &mut out) == commands::After::Close {
                            close = true;
                            break;
                        }
                    }
                },
            }
            if out.len() >= FLUSH_AT && write(shared, &mut stream, &mut out).await.is_err() {
                return;
            }
        }
        if !out.is_empty() && write(shared, &mut stream, &mut out).await.is_err() {
            return;
        }
        if close || *stop.borrow() {
            let _ = stream.shutdown().await;
            return;
        }
        rbuf.reserve(READ_CHUNK);
        let n = tokio::select! {
            r = stream.read_buf(&mut rbuf) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match n {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                shared.memcache.stats.bytes_read.fetch_add(n as u64, Relaxed);
            }
        }
    }
}

/// A `get`/`gets`/`gat`/`gats` whose reply is written out whenever [`FLUSH_AT`] bytes are queued,
/// so one request naming a large item many times never holds more than about `FLUSH_AT` plus one
/// item in memory, and a client that does not read stalls only itself (the write waits).
async fn stream_get(
    shared: &Shared,
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    keys: &[bytes::Bytes],
    cas: bool,
    touch: Option<i64>,
) -> std::io::Result<()> {
    let mc = &shared.memcache;
    let now = shared.db.clock.now_ms();
    if let Some(bad) = commands::first_bad_key(keys) {
        // memcached looks up (and for gat touches) the keys before the bad one, then replaces
        // the whole reply with the error: do the lookups for their side effects only.
        for key in &keys[..bad] {
            commands::get_key(shared, mc, key, cas, touch, now, None);
        }
        commands::line(out, parse::BAD_FORMAT);
        return Ok(());
    }
    for key in keys {
        commands::get_key(shared, mc, key, cas, touch, now, Some(out));
        if out.len() >= FLUSH_AT {
            write(shared, stream, out).await?;
        }
    }
    out.extend_from_slice(b"END\r\n");
    Ok(())
}

async fn write(shared: &Shared, stream: &mut TcpStream, out: &mut Vec<u8>) -> std::io::Result<()> {
    shared.memcache.stats.bytes_written.fetch_add(out.len() as u64, Relaxed);
    let r = stream.write_all(out).await;
    out.clear();
    r
}

#[cfg(test)]
mod tests;
