//! Configuration: [`NodeAddr`] (a parsed `redis://` URL) and [`Config`], the knobs of the client
//! with their defaults. Pure data and parsing; nothing here opens a socket.

use std::time::Duration;

use crate::error::{Error, Result};

/// One node, parsed from `redis://[[user]:password@]host:port[/db][?weight=n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeAddr {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (6379 when the URL has none).
    pub port: u16,
    /// ACL user name (`AUTH user password`); `None` is the default user.
    pub username: Option<String>,
    /// Password (`AUTH`).
    pub password: Option<String>,
    /// Database index (`SELECT`), 0 by default.
    pub db: u32,
    /// Consistent-hashing weight (points on the ring are proportional to it); 1 by default.
    pub weight: u32,
}

impl NodeAddr {
    /// Parses a `redis://` URL.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] on another scheme, a bad port, database or weight.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| Error::Config(format!("bad node URL {url:?}: {why}"));
        let rest = url.strip_prefix("redis://").ok_or_else(|| bad("expected the redis:// scheme"))?;
        let (rest, query) = rest.split_once('?').map_or((rest, None), |(r, q)| (r, Some(q)));
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let (userinfo, hostport) = authority.rsplit_once('@').map_or((None, authority), |(u, h)| (Some(u), h));
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => {
                    ((!user.is_empty()).then(|| decode(user)), (!pass.is_empty()).then(|| decode(pass)))
                }
                None => (None, Some(decode(u))),
            },
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad("bad port"))?)
            }
            _ => (hostport, 6379),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let db = if path.is_empty() { 0 } else { path.parse().map_err(|_| bad("bad database index"))? };
        let mut weight = 1;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("weight", w)) => weight = w.parse().ok().filter(|&w| w > 0).ok_or_else(|| bad("bad weight"))?,
                _ => return Err(bad("unknown query parameter")),
            }
        }
        Ok(Self { host: host.to_owned(), port, username, password, db, weight })
    }

    /// `host:port`: the name of this node on the hash ring and in errors.
    #[must_use]
    pub fn name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Percent-decoding for user names and passwords (`%40` → `@`).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Near-cache settings. See [`crate::NearCache`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NearCacheConfig {
    /// The bound: this many entries, or (with `weigh_bytes`) this many bytes of key + value.
    pub capacity: u64,
    /// Whether `capacity` counts bytes instead of entries.
    pub weigh_bytes: bool,
    /// The longest an entry lives locally; it also dies at the server's TTL if that is sooner.
    pub local_ttl: Duration,
}

impl NearCacheConfig {
    /// At most `entries` entries, each living at most `local_ttl`.
    #[must_use]
    pub fn entries(entries: u64, local_ttl: Duration) -> Self {
        Self { capacity: entries, weigh_bytes: false, local_ttl }
    }

    /// At most `bytes` bytes of keys and values, each entry living at most `local_ttl`.
    #[must_use]
    pub fn bytes(bytes: u64, local_ttl: Duration) -> Self {
        Self { capacity: bytes, weigh_bytes: true, local_ttl }
    }
}

/// Cross-instance stampede protection for `get_or_load`: a short lease (`SET lock:{key} token NX
/// PX lease`) taken by one instance; the others poll the key with bounded backoff.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LeaseConfig {
    /// How long the lease holds; past it, a waiter loads by itself.
    pub lease: Duration,
    /// The first poll interval, doubled up to `max_poll`.
    pub first_poll: Duration,
    /// The longest poll interval.
    pub max_poll: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(2),
            first_poll: Duration::from_millis(2),
            max_poll: Duration::from_millis(50),
        }
    }
}

/// Cluster mode settings (see [`crate::ClientBuilder::cluster`]): how the slot map is kept
/// fresh and how long redirections and transient cluster errors are followed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The slot map is re-read (`CLUSTER SLOTS`) at least this often, by a background task
    /// that lives as long as the client.
    pub refresh_interval: Duration,
    /// Refreshes triggered by errors (`-MOVED`, a lost node, `-CLUSTERDOWN`) are coalesced and
    /// at most one starts per this interval.
    pub min_refresh_gap: Duration,
    /// Redirections (`-MOVED`, `-ASK`) followed for one command before its error is returned.
    pub max_redirects: u32,
    /// Retries of a command answered `-TRYAGAIN` or `-CLUSTERDOWN` (it did not run, so any
    /// command may be retried), with doubling delays from `busy_base` to `busy_max`.
    pub busy_retries: u32,
    /// First delay before such a retry.
    pub busy_base: Duration,
    /// Longest delay before such a retry.
    pub busy_max: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(10),
            min_refresh_gap: Duration::from_millis(100),
            max_redirects: 5,
            busy_retries: 6,
            busy_base: Duration::from_millis(10),
            busy_max: Duration::from_millis(320),
        }
    }
}

/// Every client setting; build one with [`crate::ClientBuilder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The nodes keys are spread over.
    pub nodes: Vec<NodeAddr>,
    /// Multiplexed connections per node (round-robin).
    pub pool_size: usize,
    /// Try `HELLO 3` first (falling back to RESP2 on an error reply).
    pub resp3: bool,
    /// Bound on establishing a connection, handshake included.
    pub connect_timeout: Duration,
    /// Bound on each request's reply.
    pub request_timeout: Duration,
    /// Retries for idempotent commands (0 = none).
    pub max_retries: u32,
    /// First retry delay (full jitter, doubling).
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// First reconnect delay after a failed connect (doubling).
    pub reconnect_base: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// Consecutive failures that open a node's breaker.
    pub breaker_failures: u32,
    /// How long an open breaker fails fast before letting one probe through.
    pub breaker_cooldown: Duration,
    /// Reads (GET, MGET, `get_or_load`) of keys on an unavailable node return a miss instead of
    /// an error.
    pub miss_on_unavailable: bool,
    /// The near-cache, if any.
    pub near_cache: Option<NearCacheConfig>,
    /// Cross-instance lease for `get_or_load`, if any.
    pub lease: Option<LeaseConfig>,
    /// Cluster mode: `nodes` are seeds, keys are routed by hash slot along the map read from
    /// the cluster (instead of the ring). `None`: ring mode.
    pub cluster: Option<ClusterConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            pool_size: 2,
            resp3: true,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            max_retries: 2,
            retry_base: Duration::from_millis(5),
            retry_max: Duration::from_millis(200),
            reconnect_base: Duration::from_millis(20),
            reconnect_max: Duration::from_secs(1),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_millis(500),
            miss_on_unavailable: false,
            near_cache: None,
            lease: None,
            cluster: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let a = NodeAddr::parse("redis://127.0.0.1:7000").unwrap();
        assert_eq!((a.host.as_str(), a.port, a.db, a.weight), ("127.0.0.1", 7000, 0, 1));
        assert_eq!((a.username, a.password), (None, None));
        let a = NodeAddr::parse("redis://:s%40cret@cache.local:6380/3").unwrap();
        assert_eq!((a.password.as_deref(), a.db, a.port), (Some("s@cret"), 3, 6380));
        let a = NodeAddr::parse("redis://alice:pw@h/2?weight=3").unwrap();
        assert_eq!(
            (a.username.as_deref(), a.password.as_deref(), a.port, a.db, a.weight),
            (Some("alice"), Some("pw"), 6379, 2, 3)
        );
        let a = NodeAddr::parse("redis://[::1]:7001").unwrap();
        assert_eq!((a.host.as_str(), a.port, a.name().as_str()), ("::1", 7001, "[::1]:7001"));
        for bad in
            ["http://h:1", "redis://h:notaport", "redis://h:1/x", "redis://:1", "redis://h?weight=0", "redis://h?x=1"]
        {
            assert!(NodeAddr::parse(bad).is_err(), "{bad}");
        }
    }
}
