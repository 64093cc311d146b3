//! [`Script`]: a Lua script known by its SHA-1, run with `EVALSHA` and, when the node answers
//! `NOSCRIPT`, with `EVAL` (which also loads it there). Each node keeps its own script cache
//! (and loses it on restart or `SCRIPT FLUSH`), so the fallback happens per node, on demand; the
//! script's keys choose the node, and must all live on it. Owns the two-step call and the
//! argument layout; routing is the ring's, sending is the client's.

use bytes::Bytes;

use crate::client::{Client, Route};
use crate::error::{Error, Result};
use crate::value::Value;

/// A Lua script and its SHA-1 (the name `EVALSHA` and `SCRIPT LOAD` know it by). Cheap to clone.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(client: cache_client::Client) -> cache_client::Result<()> {
/// use cache_client::Script;
///
/// // A fixed-window rate limiter: count a hit, start the window on the first one.
/// let hit = Script::new(
///     "local n = redis.call('INCR', KEYS[1]) \
///      if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
///      return n",
/// );
/// let n = hit.invoke(&client, &["rate:{user:42}"], &["60"]).await?.into_int()?;
/// # let _ = n; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Script {
    source: Bytes,
    /// Lower-case hex, as the server prints it.
    sha: String,
}

impl Script {
    /// A script from its source text.
    #[must_use]
    pub fn new(source: impl AsRef<[u8]>) -> Self {
        let source = Bytes::copy_from_slice(source.as_ref());
        let sha = sha1_smol::Sha1::from(&source[..]).digest().to_string();
        Self { source, sha }
    }

    /// The SHA-1 of the source, in lower-case hex.
    #[must_use]
    pub fn sha(&self) -> &str {
        &self.sha
    }

    /// The source text.
    #[must_use]
    pub fn source(&self) -> &[u8] {
        &self.source
    }

    pub(crate) fn source_bytes(&self) -> Bytes {
        self.source.clone()
    }

    /// `EVALSHA sha numkeys keys… args…`.
    pub(crate) fn evalsha_args<K: AsRef<[u8]>, A: AsRef<[u8]>>(&self, keys: &[K], args: &[A]) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(3 + keys.len() + args.len());
        out.extend([
            Bytes::from_static(b"EVALSHA"),
            Bytes::copy_from_slice(self.sha.as_bytes()),
            Bytes::from(keys.len().to_string()),
        ]);
        out.extend(keys.iter().map(|k| Bytes::copy_from_slice(k.as_ref())));
        out.extend(args.iter().map(|a| Bytes::copy_from_slice(a.as_ref())));
        out
    }

    /// Runs the script on the node that owns `keys` (node 0 when there are none): `EVALSHA`,
    /// then `EVAL` if that node answers `NOSCRIPT`. In cluster mode the keys must share a hash
    /// slot, and redirections are followed. Not retried on transport errors (a script
    /// may not be idempotent). The keys are dropped from the near-cache afterwards, as the
    /// script may have written them.
    ///
    /// # Errors
    ///
    /// [`Error::CrossNode`] when `keys` span nodes ([`Error::CrossSlot`] when they span slots,
    /// in cluster mode); the script's error, or the server's, as
    /// [`Error::Server`] verbatim; transport errors.
    pub async fn invoke<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        client: &Client,
        keys: &[K],
        args: &[A],
    ) -> Result<Value> {
        let route = client.route_of_keys(keys)?;
        self.run(client, route, keys, args).await
    }

    /// [`invoke`](Self::invoke) on node `node`, for scripts whose keys do not choose it.
    ///
    /// # Errors
    ///
    /// As [`invoke`](Self::invoke), without the key check.
    pub async fn invoke_on<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        client: &Client,
        node: usize,
        keys: &[K],
        args: &[A],
    ) -> Result<Value> {
        self.run(client, Route::Node(node), keys, args).await
    }

    async fn run<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        client: &Client,
        route: Route,
        keys: &[K],
        args: &[A],
    ) -> Result<Value> {
        let mut call = self.evalsha_args(keys, args);
        let mut r = client.call_route(route, &call, false).await;
        if matches!(&r, Err(Error::Server(text)) if text.starts_with("NOSCRIPT")) {
            // Nothing ran: the node does not know the script. EVAL runs it and caches it there.
            call[0] = Bytes::from_static(b"EVAL");
            call[1] = self.source.clone();
            r = client.call_route(route, &call, false).await;
        }
        for k in keys {
            client.forget(k.as_ref());
        }
        r
    }

    /// `SCRIPT LOAD` on node `node` (optional: [`invoke`](Self::invoke) loads on demand).
    ///
    /// # Errors
    ///
    /// The server's error reply (a script that does not compile), transport errors, or
    /// [`Error::Protocol`] when the node names another SHA-1.
    pub async fn load(&self, client: &Client, node: usize) -> Result<()> {
        let args = [Bytes::from_static(b"SCRIPT"), Bytes::from_static(b"LOAD"), self.source.clone()];
        let sha = client.call_node(node, &args, true).await?.into_opt_bytes()?.unwrap_or_default();
        if sha != self.sha.as_bytes() {
            return Err(Error::Protocol(format!("SCRIPT LOAD answered {sha:?}, expected {}", self.sha)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_is_the_servers_and_the_call_is_laid_out_for_evalsha() {
        // `redis-cli SCRIPT LOAD "return 1"` answers this digest.
        let s = Script::new("return 1");
        assert_eq!(s.sha(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        let args = s.evalsha_args(&["k1", "k2"], &["a"]);
        let args: Vec<&[u8]> = args.iter().map(|b| &b[..]).collect();
        assert_eq!(args, [&b"EVALSHA"[..], s.sha().as_bytes(), b"2", b"k1", b"k2", b"a"]);
    }
}
