//! Every directive Redis 7.0.15 knows, as data: name, Redis's default, value kind and whether a
//! running server may change it (the `standardConfig` table of Redis's config.c, read from
//! `CONFIG GET *` and `CONFIG SET` of a real 7.0.15), its old aliases, and the file-only
//! directives (`include`, `rename-command`, …). [`super::Config`] uses it to accept a stock
//! redis.conf: directives we implement apply, the others are kept *inert* (stored, shown by
//! CONFIG GET, rewritten by CONFIG REWRITE, no effect) and logged once; any other word is a
//! fatal error, as in Redis. This file owns no behaviour, only the table.

/// The kind of value a directive takes, for validating inert ones as Redis would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// A signed integer.
    Int,
    /// A memory value (`100mb`).
    Mem,
    /// A memory value or a percentage (`maxmemory-clients`).
    MemOrPercent,
    /// Free text (quoted by CONFIG REWRITE).
    Str,
    /// One of these words.
    Enum(&'static [&'static str]),
    /// Several words (`save 3600 1`, `bind a b`, `oom-score-adj-values 0 200 800`).
    Words,
}

/// Whether a running server may change the directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// CONFIG SET may change it.
    Mut,
    /// Only the config file or the command line set it (`can't set immutable config`).
    Immutable,
    /// Redis refuses it unless `enable-protected-configs` (`can't set protected config`).
    Protected,
    /// Settable, but listed by CONFIG GET only when asked by its exact name.
    Hidden,
}

/// One Redis directive.
#[derive(Debug, Clone, Copy)]
pub struct Directive {
    /// Its name, lowercase.
    pub name: &'static str,
    /// Redis's default as CONFIG GET prints it (ours where it differs truthfully: `save ""`, as
    /// a cache snapshots only when asked to; `dir` is the working directory, filled at run time).
    pub default: &'static str,
    /// The value's kind.
    pub kind: Kind,
    /// Runtime mutability.
    pub access: Access,
}

const fn d(name: &'static str, default: &'static str, kind: Kind, access: Access) -> Directive {
    Directive { name, default, kind, access }
}

use Access::{Hidden, Immutable, Mut, Protected};
use Kind::{Bool, Enum, Int, Mem, MemOrPercent, Str, Words};

/// Redis 7.0.15's directives (aliases apart), sorted by name, hidden ones last.
pub const REDIS: &[Directive] = &[
    d("acl-pubsub-default", "resetchannels", Enum(&["allchannels", "resetchannels"]), Mut),
    d("aclfile", "", Str, Immutable),
    d("acllog-max-len", "128", Int, Mut),
    d("active-defrag-cycle-max", "25", Int, Mut),
    d("active-defrag-cycle-min", "1", Int, Mut),
    d("active-defrag-ignore-bytes", "104857600", Mem, Mut),
    d("active-defrag-max-scan-fields", "1000", Int, Mut),
    d("active-defrag-threshold-lower", "10", Int, Mut),
    d("active-defrag-threshold-upper", "100", Int, Mut),
    d("active-expire-effort", "1", Int, Mut),
    d("activedefrag", "no", Bool, Mut),
    d("activerehashing", "yes", Bool, Mut),
    d("always-show-logo", "no", Bool, Immutable),
    d("aof-disable-auto-gc", "no", Bool, Mut),
    d("aof-load-truncated", "yes", Bool, Mut),
    d("aof-rewrite-incremental-fsync", "yes", Bool, Mut),
    d("aof-timestamp-enabled", "no", Bool, Mut),
    d("aof-use-rdb-preamble", "yes", Bool, Mut),
    d("aof_rewrite_cpulist", "", Str, Immutable),
    d("appenddirname", "appendonlydir", Str, Immutable),
    d("appendfilename", "appendonly.aof", Str, Immutable),
    d("appendfsync", "everysec", Enum(&["everysec", "always", "no"]), Mut),
    d("appendonly", "no", Bool, Mut),
    d("auto-aof-rewrite-min-size", "67108864", Mem, Mut),
    d("auto-aof-rewrite-percentage", "100", Int, Mut),
    d("bgsave_cpulist", "", Str, Immutable),
    d("bind", "* -::*", Words, Mut),
    d("bind-source-addr", "", Str, Mut),
    d("bio_cpulist", "", Str, Immutable),
    d("busy-reply-threshold", "5000", Int, Mut),
    d("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", Words, Mut),
    d("client-query-buffer-limit", "1073741824", Mem, Mut),
    d("cluster-allow-pubsubshard-when-down", "yes", Bool, Mut),
    d("cluster-allow-reads-when-down", "no", Bool, Mut),
    d("cluster-allow-replica-migration", "yes", Bool, Mut),
    d("cluster-announce-bus-port", "0", Int, Mut),
    d("cluster-announce-hostname", "", Str, Mut),
    d("cluster-announce-ip", "", Str, Mut),
    d("cluster-announce-port", "0", Int, Mut),
    d("cluster-announce-tls-port", "0", Int, Mut),
    d("cluster-config-file", "nodes.conf", Str, Immutable),
    d("cluster-enabled", "no", Bool, Immutable),
    d("cluster-link-sendbuf-limit", "0", Mem, Mut),
    d("cluster-migration-barrier", "1", Int, Mut),
    d("cluster-node-timeout", "15000", Int, Mut),
    d("cluster-port", "0", Int, Immutable),
    d("cluster-preferred-endpoint-type", "ip", Enum(&["ip", "hostname", "unknown-endpoint"]), Mut),
    d("cluster-replica-no-failover", "no", Bool, Mut),
    d("cluster-replica-validity-factor", "10", Int, Mut),
    d("cluster-require-full-coverage", "yes", Bool, Mut),
    d("crash-log-enabled", "yes", Bool, Mut),
    d("crash-memcheck-enabled", "yes", Bool, Mut),
    d("daemonize", "no", Bool, Immutable),
    d("databases", "16", Int, Immutable),
    d("dbfilename", "dump.rdb", Str, Protected),
    d("dir", "", Str, Protected),
    d("disable-thp", "yes", Bool, Immutable),
    d("dynamic-hz", "yes", Bool, Mut),
    d("enable-debug-command", "no", Enum(&["no", "yes", "local"]), Immutable),
    d("enable-module-command", "no", Enum(&["no", "yes", "local"]), Immutable),
    d("enable-protected-configs", "no", Enum(&["no", "yes", "local"]), Immutable),
    d("hash-max-listpack-entries", "512", Int, Mut),
    d("hash-max-listpack-value", "64", Mem, Mut),
    d("hll-sparse-max-bytes", "3000", Mem, Mut),
    d("hz", "10", Int, Mut),
    d("ignore-warnings", "", Str, Mut),
    d("io-threads", "1", Int, Immutable),
    d("io-threads-do-reads", "no", Bool, Immutable),
    d("jemalloc-bg-thread", "yes", Bool, Mut),
    d("latency-monitor-threshold", "0", Int, Mut),
    d("latency-tracking", "yes", Bool, Mut),
    d("latency-tracking-info-percentiles", "50 99 99.9", Words, Mut),
    d("lazyfree-lazy-eviction", "no", Bool, Mut),
    d("lazyfree-lazy-expire", "no", Bool, Mut),
    d("lazyfree-lazy-server-del", "no", Bool, Mut),
    d("lazyfree-lazy-user-del", "no", Bool, Mut),
    d("lazyfree-lazy-user-flush", "no", Bool, Mut),
    d("lfu-decay-time", "1", Int, Mut),
    d("lfu-log-factor", "10", Int, Mut),
    d("list-compress-depth", "0", Int, Mut),
    d("list-max-listpack-size", "-2", Int, Mut),
    d("logfile", "", Str, Immutable),
    d("loglevel", "notice", Enum(&["debug", "verbose", "notice", "warning"]), Mut),
    d("masterauth", "", Str, Mut),
    d("masteruser", "", Str, Mut),
    d("maxclients", "10000", Int, Mut),
    d("maxmemory", "0", Mem, Mut),
    d("maxmemory-clients", "0", MemOrPercent, Mut),
    d("maxmemory-eviction-tenacity", "10", Int, Mut),
    d(
        "maxmemory-policy",
        "noeviction",
        Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        Mut,
    ),
    d("maxmemory-samples", "5", Int, Mut),
    d("min-replicas-max-lag", "10", Int, Mut),
    d("min-replicas-to-write", "0", Int, Mut),
    d("no-appendfsync-on-rewrite", "no", Bool, Mut),
    d("notify-keyspace-events", "", Str, Mut),
    d("oom-score-adj", "no", Enum(&["no", "yes", "relative", "absolute"]), Mut),
    d("oom-score-adj-values", "0 200 800", Words, Mut),
    d("pidfile", "", Str, Immutable),
    d("port", "6379", Int, Mut),
    d("proc-title-template", "{title} {listen-addr} {server-mode}", Str, Mut),
    d("propagation-error-behavior", "ignore", Enum(&["ignore", "panic", "panic-on-replicas"]), Mut),
    d("protected-mode", "yes", Bool, Mut),
    d("proto-max-bulk-len", "536870912", Mem, Mut),
    d("rdb-del-sync-files", "no", Bool, Mut),
    d("rdb-save-incremental-fsync", "yes", Bool, Mut),
    d("rdbchecksum", "yes", Bool, Immutable),
    d("rdbcompression", "yes", Bool, Mut),
    d("repl-backlog-size", "1048576", Mem, Mut),
    d("repl-backlog-ttl", "3600", Int, Mut),
    d("repl-disable-tcp-nodelay", "no", Bool, Mut),
    d("repl-diskless-load", "disabled", Enum(&["disabled", "on-empty-db", "swapdb"]), Mut),
    d("repl-diskless-sync", "yes", Bool, Mut),
    d("repl-diskless-sync-delay", "5", Int, Mut),
    d("repl-diskless-sync-max-replicas", "0", Int, Mut),
    d("repl-ping-replica-period", "10", Int, Mut),
    d("repl-timeout", "60", Int, Mut),
    d("replica-announce-ip", "", Str, Mut),
    d("replica-announce-port", "0", Int, Mut),
    d("replica-announced", "yes", Bool, Mut),
    d("replica-ignore-disk-write-errors", "no", Bool, Mut),
    d("replica-ignore-maxmemory", "yes", Bool, Mut),
    d("replica-lazy-flush", "no", Bool, Mut),
    d("replica-priority", "100", Int, Mut),
    d("replica-read-only", "yes", Bool, Mut),
    d("replica-serve-stale-data", "yes", Bool, Mut),
    d("replicaof", "", Str, Immutable),
    d("requirepass", "", Str, Mut),
    d("sanitize-dump-payload", "no", Enum(&["no", "yes", "clients"]), Mut),
    d("save", "", Words, Mut),
    d("server_cpulist", "", Str, Immutable),
    d("set-max-intset-entries", "512", Int, Mut),
    d("set-proc-title", "yes", Bool, Immutable),
    d("shutdown-on-sigint", "default", Enum(&["default", "save", "nosave", "now", "force"]), Mut),
    d("shutdown-on-sigterm", "default", Enum(&["default", "save", "nosave", "now", "force"]), Mut),
    d("shutdown-timeout", "10", Int, Mut),
    d("slowlog-log-slower-than", "10000", Int, Mut),
    d("slowlog-max-len", "128", Int, Mut),
    d("socket-mark-id", "0", Int, Immutable),
    d("stop-writes-on-bgsave-error", "yes", Bool, Mut),
    d("stream-node-max-bytes", "4096", Mem, Mut),
    d("stream-node-max-entries", "100", Int, Mut),
    d("supervised", "no", Bool, Immutable),
    d("syslog-enabled", "no", Bool, Immutable),
    d("syslog-facility", "local0", Str, Immutable),
    d("syslog-ident", "redis", Str, Immutable),
    d("tcp-backlog", "511", Int, Immutable),
    d("tcp-keepalive", "300", Int, Mut),
    d("timeout", "0", Int, Mut),
    d("tls-auth-clients", "yes", Enum(&["no", "yes", "optional"]), Mut),
    d("tls-ca-cert-dir", "", Str, Mut),
    d("tls-ca-cert-file", "", Str, Mut),
    d("tls-cert-file", "", Str, Mut),
    d("tls-ciphers", "", Str, Mut),
    d("tls-ciphersuites", "", Str, Mut),
    d("tls-client-cert-file", "", Str, Mut),
    d("tls-client-key-file", "", Str, Mut),
    d("tls-client-key-file-pass", "", Str, Mut),
    d("tls-cluster", "no", Bool, Mut),
    d("tls-dh-params-file", "", Str, Mut),
    d("tls-key-file", "", Str, Mut),
    d("tls-key-file-pass", "", Str, Mut),
    d("tls-port", "0", Int, Mut),
    d("tls-prefer-server-ciphers", "no", Bool, Mut),
    d("tls-protocols", "", Str, Mut),
    d("tls-replication", "no", Bool, Mut),
    d("tls-session-cache-size", "20480", Int, Mut),
    d("tls-session-cache-timeout", "300", Int, Mut),
    d("tls-session-caching", "yes", Bool, Mut),
    d("tracking-table-max-keys", "1000000", Int, Mut),
    d("unixsocket", "", Str, Immutable),
    d("unixsocketperm", "0", Int, Immutable),
    d("zset-max-listpack-entries", "128", Int, Mut),
    d("zset-max-listpack-value", "64", Mem, Mut),
    d("key-load-delay", "0", Int, Hidden),
    d("rdb-key-save-delay", "0", Int, Hidden),
    d("loading-process-events-interval-bytes", "2097152", Int, Hidden),
    d("use-exit-on-panic", "no", Bool, Hidden),
];

/// Old names Redis 7.0 still accepts, and the directive each one stands for. CONFIG GET lists
/// both names.
pub const ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("slaveof", "replicaof"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-read-only", "replica-read-only"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-priority", "replica-priority"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("cluster-slave-validity-factor", "cluster-replica-validity-factor"),
    ("cluster-slave-no-failover", "cluster-replica-no-failover"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
];

/// Directives Redis 7.0 accepts in a file and ignores (deprecated), without a CONFIG GET entry.
pub const DEPRECATED: &[&str] = &["list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"];

/// Directives only a config file takes (they are not in Redis's table): `include` is applied by
/// [`super::Config::apply_file`]; the others are accepted with a warning.
pub const FILE_ONLY: &[&str] = &["include", "rename-command", "user", "loadmodule"];

/// Redis directives kept in [`super::Config::inert`] that the server does read (INFO
/// latencystats, HyperLogLog's sparse limit, DUMP's compression, DEBUG's gate): no "without effect" warning
/// for them.
pub const HONOURED: &[&str] = &[
    "latency-tracking",
    "latency-tracking-info-percentiles",
    "hll-sparse-max-bytes",
    "rdbcompression",
    "enable-debug-command",
    "save",
    "dir",
    "dbfilename",
    "rdbchecksum",
    "enable-protected-configs",
    "stop-writes-on-bgsave-error",
    "cluster-enabled",
    "cluster-config-file",
    "cluster-node-timeout",
    "cluster-port",
    "cluster-announce-ip",
    "cluster-announce-port",
    "cluster-announce-bus-port",
    "cluster-require-full-coverage",
    "cluster-allow-reads-when-down",
];

/// The Redis directive called `name` (lowercase), through its alias if it is one.
pub fn find(name: &str) -> Option<&'static Directive> {
    let canonical = ALIASES.iter().find(|(a, _)| *a == name).map_or(name, |(_, c)| c);
    REDIS.iter().find(|d| d.name == canonical)
}

/// The canonical name of `name` (itself unless it is an alias).
pub fn canonical(name: &str) -> &str {
    ALIASES.iter().find(|(a, _)| *a == name).map_or(name, |(_, c)| c)
}

/// Checks an inert directive's value as Redis would, and returns it as CONFIG GET shows it.
///
/// # Errors
/// Redis's message for a bad value of that kind.
pub fn validate(d: &Directive, args: &[&str]) -> Result<String, String> {
    if d.kind == Words {
        let v = args.join(" ");
        if d.name == "save" && !(v.is_empty() || (args.len() % 2 == 0 && args.iter().all(|a| a.parse::<u64>().is_ok())))
        {
            return Err("Invalid save parameters".into());
        }
        if d.name == "latency-tracking-info-percentiles" {
            for a in args.iter().filter(|a| !a.is_empty()) {
                match a.parse::<f64>() {
                    Err(_) => return Err("Invalid latency-tracking-info-percentiles parameters".into()),
                    Ok(p) if !(0.0..=100.0).contains(&p) => {
                        return Err(
                            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into()
                        );
                    }
                    Ok(_) => {}
                }
            }
        }
        if d.name == "oom-score-adj-values" && (args.len() != 3 || args.iter().any(|a| a.parse::<i64>().is_err())) {
            return Err("Invalid oom-score-adj-values".into());
        }
        return Ok(v);
    }
    let [v] = args else {
        return Err("wrong number of arguments".into());
    };
    match d.kind {
        Bool => match v.to_ascii_lowercase().as_str() {
            b @ ("yes" | "no") => Ok(b.into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Int => {
            let n = v.parse::<i64>().map_err(|_| "argument couldn't be parsed into an integer")?;
            if matches!(d.name, "lfu-log-factor" | "lfu-decay-time") && !(0..=i64::from(i32::MAX)).contains(&n) {
                return Err("argument must be between 0 and 2147483647 inclusive".into());
            }
            Ok(n.to_string())
        }
        Mem => super::parse_memory(v).map(|n| n.to_string()).ok_or_else(|| "argument must be a memory value".into()),
        MemOrPercent => match v.strip_suffix('%') {
            Some(p) if p.parse::<u64>().is_ok() => Ok(v.to_string()),
            _ => super::parse_memory(v)
                .map(|n| n.to_string())
                .ok_or_else(|| "argument must be a memory or percent value".into()),
        },
        Enum(words) => {
            let l = v.to_ascii_lowercase();
            if words.contains(&l.as_str()) {
                Ok(l)
            } else {
                Err(format!("argument(s) must be one of the following: {}", words.join(", ")))
            }
        }
        Str | Words => Ok(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_aliases_resolve() {
        let names: Vec<&str> = REDIS.iter().filter(|d| d.access != Hidden).map(|d| d.name).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        assert_eq!(REDIS.len(), 177);
        for (alias, target) in ALIASES {
            assert!(find(alias).is_some_and(|d| d.name == *target), "{alias}");
        }
        assert_eq!(find("slave-read-only").unwrap().name, "replica-read-only");
        assert!(find("bogus").is_none());
    }

    #[test]
    fn values_are_checked_by_kind() {
        let v = |name: &str, args: &[&str]| validate(find(name).unwrap(), args);
        assert_eq!(v("appendonly", &["YES"]), Ok("yes".into()));
        assert_eq!(v("appendonly", &["1"]), Err("argument must be 'yes' or 'no'".into()));
        assert_eq!(v("hz", &["x"]), Err("argument couldn't be parsed into an integer".into()));
        assert_eq!(v("repl-backlog-size", &["1mb"]), Ok("1048576".into()));
        assert_eq!(v("save", &["900", "1", "300", "10"]), Ok("900 1 300 10".into()));
        assert_eq!(v("save", &[""]), Ok(String::new()));
        assert_eq!(v("save", &["900"]), Err("Invalid save parameters".into()));
        assert_eq!(v("maxmemory-clients", &["10%"]), Ok("10%".into()));
        assert_eq!(v("latency-tracking-info-percentiles", &["50", "99.99"]), Ok("50 99.99".into()));
        assert!(v("latency-tracking-info-percentiles", &["101"]).is_err());
        assert!(v("appendfsync", &["sometimes"]).unwrap_err().starts_with("argument(s) must be one of"));
    }
}
