//! Server configuration: the [`Config`] struct, its defaults, and the one place that parses
//! directives — from a redis.conf-style file, from command-line flags (`--port 7000`), and from
//! `CONFIG SET` — so all three accept the same names and values and fail the same clear way.
//! It owns no sockets and no cache; `server.rs` and `db.rs` read it.
//!
//! A stock Redis 7.0 redis.conf starts the server: the directives we implement ([`DIRECTIVES`])
//! apply; every other Redis directive ([`redis::REDIS`], aliases included) is checked as Redis
//! checks it, kept in [`Config::inert`] (CONFIG GET shows it, CONFIG SET changes it, CONFIG
//! REWRITE writes it) and reported once through [`Config::take_warnings`]; `include` files are
//! applied in place; any other word stops the server with Redis's `*** FATAL CONFIG FILE ERROR
//! ***` text naming the line. [`rewrite`] owns CONFIG REWRITE.

use std::collections::BTreeMap;
use std::fmt;

pub mod redis;
pub mod rewrite;

/// `maxmemory-policy`: what happens when the memory budget is full (see the crate docs for the
/// exact mapping onto the core's policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MaxMemoryPolicy {
    /// Evict any key, W-TinyLFU (the default).
    AllKeysLfu,
    /// Evict any key, LRU.
    AllKeysLru,
    /// Evict any key, at random.
    AllKeysRandom,
    /// Evict only keys with a TTL, W-TinyLFU; `-OOM` when none is left.
    VolatileLfu,
    /// Evict only keys with a TTL, LRU; `-OOM` when none is left.
    VolatileLru,
    /// Evict only keys with a TTL, at random; `-OOM` when none is left.
    VolatileRandom,
    /// Evict only keys with a TTL, nearest expiry first (sampled); `-OOM` when none is left.
    VolatileTtl,
    /// Never evict; writes that would exceed the budget fail with `-OOM`.
    NoEviction,
}

impl MaxMemoryPolicy {
    /// The Redis spelling, e.g. `allkeys-lfu`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllKeysLfu => "allkeys-lfu",
            Self::AllKeysLru => "allkeys-lru",
            Self::AllKeysRandom => "allkeys-random",
            Self::VolatileLfu => "volatile-lfu",
            Self::VolatileLru => "volatile-lru",
            Self::VolatileRandom => "volatile-random",
            Self::VolatileTtl => "volatile-ttl",
            Self::NoEviction => "noeviction",
        }
    }

    /// Parses the Redis spelling (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "allkeys-lfu" => Self::AllKeysLfu,
            "allkeys-lru" => Self::AllKeysLru,
            "allkeys-random" => Self::AllKeysRandom,
            "volatile-lfu" => Self::VolatileLfu,
            "volatile-lru" => Self::VolatileLru,
            "volatile-random" => Self::VolatileRandom,
            "volatile-ttl" => Self::VolatileTtl,
            "noeviction" => Self::NoEviction,
            _ => return None,
        })
    }

    /// The eviction algorithm the core runs for this policy: `"lfu"`, `"lru"`, `"random"`,
    /// `"ttl"` or `"none"`. The cache is built with one; a running server switches freely between
    /// the `allkeys-` and `volatile-` policies of its algorithm and `noeviction` (see the crate docs).
    pub fn algorithm(self) -> &'static str {
        match self {
            Self::AllKeysLfu | Self::VolatileLfu => "lfu",
            Self::AllKeysLru | Self::VolatileLru => "lru",
            Self::AllKeysRandom | Self::VolatileRandom => "random",
            Self::VolatileTtl => "ttl",
            Self::NoEviction => "none",
        }
    }

    /// True for the `volatile-*` policies: only keys with a TTL are evicted.
    pub fn is_volatile(self) -> bool {
        matches!(self, Self::VolatileLfu | Self::VolatileLru | Self::VolatileRandom | Self::VolatileTtl)
    }
}

/// Everything the server can be configured with. Build it with `Config::default()` and set fields,
/// or with [`Config::set`] for Redis directive names.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Address to listen on (the binary's; `run` uses the listener it is given).
    pub bind: String,
    /// TCP port (the binary's).
    pub port: u16,
    /// Password of the `default` user; `None` means no AUTH needed.
    pub requirepass: Option<String>,
    /// Memory budget in bytes for keys + values + per-entry overhead; 0 means "no limit".
    pub maxmemory: u64,
    /// What to do when the budget is full.
    pub maxmemory_policy: MaxMemoryPolicy,
    /// Number of logical databases for SELECT.
    pub databases: usize,
    /// Close clients idle for this many seconds (0 = never).
    pub timeout: u64,
    /// TCP keepalive period in seconds (0 = off).
    pub tcp_keepalive: u64,
    /// Maximum simultaneous clients; the next one gets `-ERR max number of clients reached`.
    pub maxclients: usize,
    /// `debug`, `verbose`, `notice` or `warning` (the binary maps it onto tracing levels).
    pub loglevel: String,
    /// Refuse non-loopback clients when no password is set.
    pub protected_mode: bool,
    /// Largest bulk string a client may send.
    pub proto_max_bulk_len: u64,
    /// Largest unparsed input a client may accumulate before it is disconnected.
    pub client_query_buffer_limit: u64,
    /// Longest inline (telnet-style) request line.
    pub inline_max_size: u64,
    /// Most arguments in one request before AUTH succeeds (requirepass set).
    pub unauth_max_multibulk_len: u64,
    /// Largest bulk before AUTH succeeds (requirepass set).
    pub unauth_max_bulk_len: u64,
    /// Commands slower than this many microseconds go to the SLOWLOG (negative disables).
    pub slowlog_log_slower_than: i64,
    /// SLOWLOG capacity.
    pub slowlog_max_len: u64,
    /// Tokio worker threads for the binary (0 = one per CPU).
    pub threads: usize,
    /// Path of the config file the binary read, for INFO.
    pub config_file: String,
    /// TCP port of the Memcached text/meta listener (0 = off, the default; 11211 is the usual one).
    pub memcached_port: u16,
    /// Largest Memcached item (key + value + header), like memcached's `-I` (default 1 MB).
    pub memcached_max_item_size: u64,
    /// Most keys the client-side caching table remembers before it invalidates some (0 = no bound).
    pub tracking_table_max_keys: u64,
    /// `client-output-buffer-limit` per class: normal, replica, pubsub (see [`crate::output`]).
    pub client_output_buffer_limit: [crate::output::Limit; 3],
    /// Length of the listen queue (`tcp-backlog`; the kernel caps it at `somaxconn`).
    pub tcp_backlog: u32,
    /// Milliseconds a script or function runs before other clients get `-BUSY` and SCRIPT KILL /
    /// FUNCTION KILL may stop it (`busy-reply-threshold`, alias `lua-time-limit`; 0 = never).
    pub busy_reply_threshold: u64,
    /// Bytes of script bodies the EVAL/SCRIPT LOAD cache keeps (see [`crate::scripting::Scripts`]).
    pub script_cache_max_memory: u64,
    /// When collections switch to their general encoding (`*-max-listpack-*`, …).
    pub encodings: crate::types::Thresholds,
    /// `notify-keyspace-events` as bits (see [`crate::notify`]; default off).
    pub notify_keyspace_events: u32,
    /// Commands (and other events) at least this many milliseconds long are recorded by the
    /// latency monitor (`latency-monitor-threshold`; 0 = off).
    pub latency_monitor_threshold: u64,
    /// Values of Redis directives we accept without implementing them ([`redis::REDIS`]), by
    /// canonical name; only those set from the file, the flags or CONFIG SET (the others show
    /// Redis's default).
    pub inert: BTreeMap<String, String>,
    /// Warnings about accepted-but-inert directives, for the binary to log once logging is up.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            port: 6379,
            requirepass: None,
            maxmemory: default_maxmemory(),
            maxmemory_policy: MaxMemoryPolicy::AllKeysLfu,
            databases: 16,
            timeout: 0,
            tcp_keepalive: 300,
            maxclients: 10_000,
            loglevel: "notice".into(),
            protected_mode: true,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            inline_max_size: 64 * 1024,
            unauth_max_multibulk_len: 10,
            unauth_max_bulk_len: 16 * 1024,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            threads: 0,
            config_file: String::new(),
            memcached_port: 0,
            memcached_max_item_size: 1024 * 1024,
            tracking_table_max_keys: 1_000_000,
            client_output_buffer_limit: crate::output::DEFAULT_LIMITS,
            tcp_backlog: 511,
            busy_reply_threshold: 5000,
            script_cache_max_memory: 64 * 1024 * 1024,
            encodings: Default::default(),
            notify_keyspace_events: 0,
            latency_monitor_threshold: 0,
            inert: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }
}

/// What the binary does when `loglevel` changes at run time (CONFIG SET): it installs a hook that
/// swaps its tracing filter; a library user without one keeps its own logging.
static LOGLEVEL_HOOK: std::sync::OnceLock<LoglevelHook> = std::sync::OnceLock::new();

/// See [`on_loglevel_change`].
pub type LoglevelHook = Box<dyn Fn(&str) + Send + Sync>;

/// Installs the hook called with the `tracing` level ([`tracing_level`]) whenever CONFIG SET
/// changes `loglevel`. The first installation wins.
pub fn on_loglevel_change(hook: LoglevelHook) {
    let _ = LOGLEVEL_HOOK.set(hook);
}

/// Tells the installed hook (if any) that `loglevel` is now `loglevel`.
pub fn loglevel_changed(loglevel: &str) {
    if let Some(hook) = LOGLEVEL_HOOK.get() {
        hook(tracing_level(loglevel));
    }
}

/// The `tracing` filter level for a Redis `loglevel`.
pub fn tracing_level(loglevel: &str) -> &'static str {
    match loglevel {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    }
}

/// A quarter of physical memory (from `/proc/meminfo`), or 1 GiB when that cannot be read.
fn default_maxmemory() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    });
    total.map_or(1 << 30, |kb| kb * 1024 / 4)
}

/// A directive that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not a directive we know.
    #[error("Bad directive or wrong number of arguments")]
    Unknown,
    /// Known directive, bad value; the text says what was expected.
    #[error("{0}")]
    Invalid(String),
    /// Cannot change after start.
    #[error("can't set immutable config")]
    Immutable,
    /// A problem at a line of a config file.
    #[error(
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{source}"
    )]
    File {
        /// 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
        /// What was wrong with it.
        source: Box<ConfigError>,
    },
    /// The config file could not be read.
    #[error("cannot read config file {0}: {1}")]
    Io(String, String),
}

/// Every directive CONFIG GET knows, in the order it lists them.
pub const DIRECTIVES: &[&str] = &[
    "bind",
    "port",
    "requirepass",
    "maxmemory",
    "maxmemory-policy",
    "databases",
    "timeout",
    "tcp-keepalive",
    "maxclients",
    "loglevel",
    "protected-mode",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "inline-max-size",
    "unauth-max-multibulk-len",
    "unauth-max-bulk-len",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "threads",
    "memcached-port",
    "memcached-max-item-size",
    "tracking-table-max-keys",
    "client-output-buffer-limit",
    "tcp-backlog",
    "busy-reply-threshold",
    "lua-time-limit",
    "script-cache-max-memory",
    "list-max-listpack-size",
    "list-compress-depth",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "notify-keyspace-events",
];

/// Parses a Redis memory value: `100`, `1k` (1000), `1kb` (1024), `5m`, `5mb`, `2g`, `2gb`.
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1024 * 1024,
        "g" => 1_000_000_000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

fn parse_bool(s: &str) -> Result<bool, ConfigError> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(ConfigError::Invalid("argument must be 'yes' or 'no'".into())),
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, ConfigError> {
    s.parse::<T>().map_err(|_| ConfigError::Invalid("argument couldn't be parsed into an integer".into()))
}

fn mem(s: &str) -> Result<u64, ConfigError> {
    parse_memory(s).ok_or_else(|| ConfigError::Invalid("argument must be a memory value".into()))
}

impl Config {
    /// Applies one directive, e.g. `set("maxmemory", &["100mb"])`. Names are case-insensitive.
    ///
    /// # Errors
    /// [`ConfigError::Unknown`] for an unknown name or wrong argument count,
    /// [`ConfigError::Invalid`] for a bad value.
    pub fn set(&mut self, name: &str, args: &[&str]) -> Result<(), ConfigError> {
        let name = name.to_ascii_lowercase();
        if name == "bind" && !args.is_empty() {
            self.bind = args.join(" ");
            return Ok(());
        }
        if name == "client-output-buffer-limit" {
            return crate::output::parse_limits(args, &mut self.client_output_buffer_limit);
        }
        if !DIRECTIVES.contains(&name.as_str()) && !crate::types::Thresholds::knows(&name) {
            return self.set_inert(&name, args);
        }
        if name == "requirepass" && args.len() == 1 {
            self.requirepass = (!args[0].is_empty()).then(|| args[0].to_string());
            return Ok(());
        }
        let [v] = args else {
            return Err(ConfigError::Unknown);
        };
        if crate::types::Thresholds::knows(&name) {
            return self.encodings.set(&name, v).map_err(ConfigError::Invalid);
        }
        match name.as_str() {
            "port" => self.port = num(v)?,
            "maxmemory" => self.maxmemory = mem(v)?,
            "maxmemory-policy" => {
                self.maxmemory_policy = MaxMemoryPolicy::parse(v)
                    .ok_or_else(|| ConfigError::Invalid("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction".into()))?;
            }
            "databases" => {
                let n: usize = num(v)?;
                if n == 0 || n > 1 << 20 {
                    return Err(ConfigError::Invalid("argument must be between 1 and 1048576 inclusive".into()));
                }
                self.databases = n;
            }
            "timeout" => self.timeout = num(v)?,
            "tcp-keepalive" => self.tcp_keepalive = num(v)?,
            "maxclients" => {
                let n: usize = num(v)?;
                if n == 0 {
                    return Err(ConfigError::Invalid("argument must be between 1 and 4294967295 inclusive".into()));
                }
                self.maxclients = n;
            }
            "loglevel" => {
                let l = v.to_ascii_lowercase();
                if !["debug", "verbose", "notice", "warning", "nothing"].contains(&l.as_str()) {
                    return Err(ConfigError::Invalid(
                        "argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into(),
                    ));
                }
                self.loglevel = l;
            }
            "protected-mode" => self.protected_mode = parse_bool(v)?,
            "proto-max-bulk-len" => self.proto_max_bulk_len = mem(v)?.max(1024 * 1024),
            "client-query-buffer-limit" => self.client_query_buffer_limit = mem(v)?.max(1024 * 1024),
            "inline-max-size" => self.inline_max_size = mem(v)?.max(64),
            "unauth-max-multibulk-len" => self.unauth_max_multibulk_len = num(v)?,
            "unauth-max-bulk-len" => self.unauth_max_bulk_len = mem(v)?,
            "slowlog-log-slower-than" => self.slowlog_log_slower_than = num(v)?,
            "slowlog-max-len" => self.slowlog_max_len = num(v)?,
            "latency-monitor-threshold" => self.latency_monitor_threshold = num(v)?,
            "threads" => self.threads = num(v)?,
            "memcached-port" => self.memcached_port = num(v)?,
            "memcached-max-item-size" => {
                let m = mem(v)?;
                if !(1024..=1024 * 1024 * 1024).contains(&m) {
                    return Err(ConfigError::Invalid("argument must be between 1kb and 1gb".into()));
                }
                self.memcached_max_item_size = m;
            }
            "tracking-table-max-keys" => self.tracking_table_max_keys = num(v)?,
            "tcp-backlog" => self.tcp_backlog = num(v)?,
            "busy-reply-threshold" | "lua-time-limit" => self.busy_reply_threshold = num(v)?,
            "script-cache-max-memory" => self.script_cache_max_memory = mem(v)?,
            "notify-keyspace-events" => self.notify_keyspace_events = crate::notify::parse_flags(v)?,
            _ => return Err(ConfigError::Unknown),
        }
        Ok(())
    }

    /// The current value of a directive as CONFIG GET shows it, or `None` if unknown.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "bind" => self.bind.clone(),
            "port" => self.port.to_string(),
            "requirepass" => self.requirepass.clone().unwrap_or_default(),
            "maxmemory" => self.maxmemory.to_string(),
            "maxmemory-policy" => self.maxmemory_policy.as_str().into(),
            "databases" => self.databases.to_string(),
            "timeout" => self.timeout.to_string(),
            "tcp-keepalive" => self.tcp_keepalive.to_string(),
            "maxclients" => self.maxclients.to_string(),
            "loglevel" => self.loglevel.clone(),
            "protected-mode" => if self.protected_mode { "yes" } else { "no" }.into(),
            "proto-max-bulk-len" => self.proto_max_bulk_len.to_string(),
            "client-query-buffer-limit" => self.client_query_buffer_limit.to_string(),
            "inline-max-size" => self.inline_max_size.to_string(),
            "unauth-max-multibulk-len" => self.unauth_max_multibulk_len.to_string(),
            "unauth-max-bulk-len" => self.unauth_max_bulk_len.to_string(),
            "slowlog-log-slower-than" => self.slowlog_log_slower_than.to_string(),
            "slowlog-max-len" => self.slowlog_max_len.to_string(),
            "latency-monitor-threshold" => self.latency_monitor_threshold.to_string(),
            "threads" => self.threads.to_string(),
            "memcached-port" => self.memcached_port.to_string(),
            "memcached-max-item-size" => self.memcached_max_item_size.to_string(),
            "tracking-table-max-keys" => self.tracking_table_max_keys.to_string(),
            "client-output-buffer-limit" => crate::output::format_limits(&self.client_output_buffer_limit),
            "tcp-backlog" => self.tcp_backlog.to_string(),
            "busy-reply-threshold" | "lua-time-limit" => self.busy_reply_threshold.to_string(),
            "script-cache-max-memory" => self.script_cache_max_memory.to_string(),
            "notify-keyspace-events" => crate::notify::render_flags(self.notify_keyspace_events),
            _ => return self.encodings.get(name).map(|v| v.to_string()).or_else(|| self.get_inert(name)),
        })
    }

    /// Stores a Redis directive we do not implement (checked as Redis checks it), or accepts a
    /// deprecated or file-only one, noting a warning; `Unknown` for any other word.
    fn set_inert(&mut self, name: &str, args: &[&str]) -> Result<(), ConfigError> {
        let warning = if name == "rename-command" {
            "'rename-command' is not supported: every command keeps its name (use requirepass to restrict access)"
                .to_string()
        } else if redis::DEPRECATED.contains(&name) || redis::FILE_ONLY.contains(&name) {
            format!("'{name}' is accepted for compatibility and ignored")
        } else {
            let d = redis::find(name).ok_or(ConfigError::Unknown)?;
            let value = redis::validate(d, args).map_err(ConfigError::Invalid)?;
            self.inert.insert(d.name.to_string(), value);
            if redis::HONOURED.contains(&d.name) {
                return Ok(());
            }
            format!("'{name}' is a Redis directive without effect in this server (value kept for CONFIG GET)")
        };
        // One warning per directive, however many lines it has.
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
        Ok(())
    }

    /// The value of a Redis directive we do not implement: as set, or Redis's default.
    fn get_inert(&self, name: &str) -> Option<String> {
        let d = redis::find(name)?;
        Some(match self.inert.get(d.name) {
            Some(v) => v.clone(),
            None if d.name == "dir" => std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            None => d.default.to_string(),
        })
    }

    /// True if `name` is a directive CONFIG GET / CONFIG SET know: ours, an alias, or Redis's.
    pub fn knows(name: &str) -> bool {
        DIRECTIVES.contains(&name) || crate::types::Thresholds::knows(name) || redis::find(name).is_some()
    }

    /// Every directive name CONFIG GET may list, ours first, each once; hidden ones are marked
    /// `true` (listed only when asked by exact name).
    pub fn all_names() -> Vec<(&'static str, bool)> {
        let aliases = crate::types::DIRECTIVES.iter().filter_map(|(_, alias, _)| *alias);
        let redis_names = redis::REDIS
            .iter()
            .map(|d| (d.name, d.access == redis::Access::Hidden))
            .chain(redis::ALIASES.iter().map(|(a, _)| (*a, false)));
        let mut names: Vec<(&'static str, bool)> =
            DIRECTIVES.iter().copied().chain(aliases).map(|n| (n, false)).collect();
        for (n, hidden) in redis_names {
            if !names.iter().any(|(m, _)| *m == n) {
                names.push((n, hidden));
            }
        }
        names
    }

    /// Takes the warnings noted while applying directives (inert or deprecated ones), once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Applies a redis.conf-style text: one directive per line, `#` comments, quoted arguments.
    ///
    /// # Errors
    /// [`ConfigError::File`] naming the first bad line.
    pub fn apply_file_text(&mut self, text: &str) -> Result<(), ConfigError> {
        self.apply_text(text, 0, &mut false)
    }

    /// `saved`: a `save` line was read already (in a file, `save` lines add up, as in Redis).
    fn apply_text(&mut self, text: &str, depth: usize, saved: &mut bool) -> Result<(), ConfigError> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |e: ConfigError| ConfigError::File { line: i + 1, text: line.into(), source: Box::new(e) };
            let words = crate::frame::split_args(line.as_bytes())
                .ok_or_else(|| fail(ConfigError::Invalid("Unbalanced quotes in configuration line".into())))?;
            let words: Vec<String> = words.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect();
            let Some(name) = words.first() else { continue };
            let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
            match name.to_ascii_lowercase().as_str() {
                "include" if args.len() == 1 && depth < 16 => {
                    let text = std::fs::read_to_string(args[0]).map_err(|e| {
                        fail(ConfigError::Invalid(format!("Fatal error, can't open config file '{}': {e}", args[0])))
                    })?;
                    self.apply_text(&text, depth + 1, saved)?;
                }
                "save" if args.len() > 1 => {
                    let before = self.inert.get("save").filter(|_| *saved).cloned().unwrap_or_default();
                    let all: Vec<&str> = before.split_whitespace().chain(args.iter().copied()).collect();
                    self.set("save", &all).map_err(fail)?;
                    *saved = true;
                }
                "sentinel" => {
                    return Err(fail(ConfigError::Invalid("sentinel directive while not in sentinel mode".into())));
                }
                _ => self.set(name, &args).map_err(fail)?,
            }
        }
        Ok(())
    }

    /// Reads and applies a config file.
    ///
    /// # Errors
    /// [`ConfigError::Io`] if unreadable, else as [`Config::apply_file_text`].
    pub fn apply_file(&mut self, path: &str) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io(path.into(), e.to_string()))?;
        // Absolute, as Redis keeps it: CONFIG REWRITE writes here whatever the working directory.
        self.config_file = std::fs::canonicalize(path).map_or_else(|_| path.into(), |p| p.display().to_string());
        self.apply_file_text(&text)
    }

    /// True for directives CONFIG SET may not change on a running server.
    pub fn is_immutable(name: &str) -> bool {
        matches!(name, "bind" | "port" | "databases" | "threads" | "memcached-port" | "tcp-backlog")
    }
}

impl fmt::Display for MaxMemoryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2gb"), Some(2 << 30));
        assert_eq!(parse_memory("1x"), None);
        assert_eq!(parse_memory("-1"), None);
    }

    #[test]
    fn file_directives_and_errors() {
        let mut c = Config::default();
        c.apply_file_text("# comment\nport 7000\nmaxmemory 100mb\nmaxmemory-policy allkeys-lru\nrequirepass \"p w\"\n")
            .unwrap();
        assert_eq!((c.port, c.maxmemory, c.maxmemory_policy), (7000, 100 << 20, MaxMemoryPolicy::AllKeysLru));
        assert_eq!(c.requirepass.as_deref(), Some("p w"));
        let err = c.apply_file_text("port 1\nbogus 3\n").unwrap_err().to_string();
        assert!(err.contains("at line 2") && err.contains("Bad directive"), "{err}");
        let err = c.apply_file_text("maxmemory lots\n").unwrap_err().to_string();
        assert!(err.contains("memory value"), "{err}");
        assert!(c.apply_file_text("port 99999\n").is_err());
    }

    #[test]
    fn redis_directives_are_kept_inert_and_includes_apply() {
        let dir = std::env::temp_dir().join(format!("cache-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inc = dir.join("more.conf");
        std::fs::write(&inc, "maxmemory 2mb\nappendonly yes\n").unwrap();
        let mut c = Config::default();
        let text = format!(
            "include {}\nsave 900 1\nsave 300 10\nslave-read-only no\nrename-command FLUSHALL \"\"\nlist-max-ziplist-entries 5\nlatency-tracking no\n",
            inc.display()
        );
        c.apply_file_text(&text).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(c.maxmemory, 2 << 20);
        assert_eq!(c.get("appendonly").as_deref(), Some("yes"));
        assert_eq!(c.get("save").as_deref(), Some("900 1 300 10"));
        assert_eq!(c.get("replica-read-only").as_deref(), Some("no"));
        assert_eq!(c.get("slave-read-only").as_deref(), Some("no"));
        assert_eq!(c.get("hz").as_deref(), Some("10"));
        // One warning per inert, deprecated or file-only line; none for one the server reads
        // (`save`, `latency-tracking`).
        let w = c.take_warnings();
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].contains("'appendonly'"), "{w:?}");
        let err = c.apply_file_text("appendfsync sometimes\n").unwrap_err().to_string();
        assert!(
            err.contains(">>> 'appendfsync sometimes'\nargument(s) must be one of the following: everysec, always, no"),
            "{err}"
        );
        let err = c.apply_file_text("sentinel monitor m 127.0.0.1 6379 2\n").unwrap_err().to_string();
        assert!(err.contains("sentinel directive while not in sentinel mode"), "{err}");
    }
}
