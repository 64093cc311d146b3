//! COMMAND INFO tips: Redis 7.0.15's per-command hints to clients and proxies (output that
//! varies between calls, how a cluster proxy should fan a command out and merge its replies).
//! Data only, read by `super::write_info`.

/// Tips and the commands that carry them (Redis 7.0.15).
pub(super) const TIPS: &[(&[&str], &[&str])] = &[
    (
        &["nondeterministic_output"],
        &[
            "client|info",
            "client|list",
            "cluster|bumpepoch",
            "cluster|count-failure-reports",
            "cluster|getkeysinslot",
            "cluster|info",
            "cluster|links",
            "cluster|nodes",
            "cluster|replicas",
            "cluster|shards",
            "cluster|slaves",
            "cluster|slots",
            "dump",
            "hrandfield",
            "hscan",
            "lastsave",
            "migrate",
            "object|encoding",
            "object|freq",
            "object|idletime",
            "object|refcount",
            "pttl",
            "spop",
            "srandmember",
            "sscan",
            "time",
            "ttl",
            "xadd",
            "xautoclaim",
            "xclaim",
            "xinfo|consumers",
            "xpending",
            "xtrim",
            "zrandmember",
            "zscan",
        ],
    ),
    (
        &["request_policy:all_nodes", "response_policy:all_succeeded"],
        &["config|set", "latency|reset", "script|flush", "script|load", "slowlog|reset"],
    ),
    (&["request_policy:all_shards", "response_policy:one_succeeded"], &["function|kill", "script|kill"]),
    (
        &["request_policy:all_shards", "response_policy:all_succeeded"],
        &[
            "flushall",
            "flushdb",
            "function|delete",
            "function|flush",
            "function|load",
            "function|restore",
            "memory|purge",
            "ping",
        ],
    ),
    (
        &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        &["function|stats", "info", "memory|doctor", "memory|malloc-stats", "memory|stats"],
    ),
    (
        &["nondeterministic_output_order"],
        &[
            "command",
            "command|docs",
            "command|info",
            "command|list",
            "function|list",
            "hgetall",
            "hkeys",
            "hvals",
            "module|list",
            "sdiff",
            "sinter",
            "smembers",
            "sunion",
        ],
    ),
    (&["request_policy:all_shards", "response_policy:agg_min"], &["wait"]),
    (
        &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
        &["latency|doctor", "latency|graph", "latency|histogram", "latency|history", "latency|latest"],
    ),
    (&["request_policy:all_shards", "response_policy:agg_logical_and"], &["script|exists"]),
    (&["request_policy:multi_shard", "response_policy:agg_sum"], &["del", "exists", "touch", "unlink"]),
    (&["request_policy:all_shards", "nondeterministic_output"], &["randomkey"]),
    (&["request_policy:multi_shard", "response_policy:agg_min"], &["msetnx"]),
    (&["request_policy:multi_shard", "response_policy:all_succeeded"], &["mset"]),
    (&["request_policy:all_nodes", "nondeterministic_output"], &["slowlog|get"]),
    (&["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"], &["slowlog|len"]),
    (&["request_policy:all_shards", "nondeterministic_output_order"], &["keys"]),
    (&["request_policy:all_shards", "response_policy:agg_sum"], &["dbsize"]),
    (&["request_policy:multi_shard"], &["mget"]),
    (&["nondeterministic_output", "request_policy:special"], &["scan"]),
];

/// The tips of command `full` (none for most).
pub(super) fn of(full: &str) -> &'static [&'static str] {
    TIPS.iter().find(|(_, names)| names.contains(&full)).map_or(&[], |(tips, _)| tips)
}
