//! COMMAND GETKEYS / GETKEYSANDFLAGS: which arguments of a full request are keys, and how the
//! command uses each (Redis 7.0's key-spec flags: `RO`/`RW`/`OW`/`RM`, `access`, `update`,
//! `insert`, `delete`). Positions come from the table's (first, last, step) and, for the commands
//! whose keys move (`numkeys`, `STORE`, `STREAMS`, `KEYS`), from the same parsing Redis's
//! `getkeys` procedures do. The flags table below is Redis 7.0.15's, per command; commands it does
//! not list answer from their own flags (`RO access` or `RW update`).

use super::super::{CommandSpec, is};
use crate::frame::parse_i64;
use bytes::Bytes;

/// Commands whose keys follow a `numkeys` argument: (name, position of numkeys, destination key
/// position before it or 0).
const NUMKEYS: &[(&str, usize, usize)] = &[
    ("eval", 2, 0),
    ("evalsha", 2, 0),
    ("eval_ro", 2, 0),
    ("evalsha_ro", 2, 0),
    ("fcall", 2, 0),
    ("fcall_ro", 2, 0),
    ("sintercard", 1, 0),
    ("zinter", 1, 0),
    ("zunion", 1, 0),
    ("zdiff", 1, 0),
    ("zintercard", 1, 0),
    ("lmpop", 1, 0),
    ("zmpop", 1, 0),
    ("blmpop", 2, 0),
    ("bzmpop", 2, 0),
    ("zunionstore", 2, 1),
    ("zinterstore", 2, 1),
    ("zdiffstore", 2, 1),
];

/// Scripts may declare no keys (`no_mandatory_keys`): an empty answer rather than an error.
const NO_MANDATORY_KEYS: &[&str] = &["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"];

/// Commands whose key specs name channels only.
const NOT_KEYS: &[&str] = &["spublish", "ssubscribe", "sunsubscribe"];

/// Commands with keys found by parsing (besides [`NUMKEYS`]).
const PARSED: &[&str] = &["sort", "sort_ro", "xread", "xreadgroup", "georadius", "georadiusbymember", "migrate"];

/// True if command `full` takes key arguments at all (checked before its arity, as Redis does).
pub(crate) fn has_keys(full: &str, spec: &CommandSpec) -> bool {
    !NOT_KEYS.contains(&full) && (spec.keys.0 > 0 || PARSED.contains(&full) || NUMKEYS.iter().any(|(n, ..)| *n == full))
}

/// The positions in `args` (`args[0]` is the command's name) of the keys of `full`, in Redis's
/// order; `None` when the arguments name none (Redis's "Invalid arguments specified").
pub(crate) fn positions(full: &str, spec: &CommandSpec, args: &[Bytes]) -> Option<Vec<usize>> {
    let argc = args.len();
    let keys = if let Some(&(_, at, dest)) = NUMKEYS.iter().find(|(n, ..)| *n == full) {
        let n = args.get(at).and_then(|a| parse_i64(a)).filter(|n| *n >= 1 && (*n as usize) < argc - at);
        match n {
            Some(n) => (dest > 0).then_some(dest).into_iter().chain(at + 1..=at + n as usize).collect(),
            None => Vec::new(),
        }
    } else {
        match full {
            "sort" | "sort_ro" => sort(full, args),
            "xread" | "xreadgroup" => streams(args),
            "georadius" | "georadiusbymember" => {
                let from = if full == "georadius" { 6 } else { 5 };
                let mut keys = vec![1];
                for word in ["store", "storedist"] {
                    keys.extend((from..argc.saturating_sub(1)).find(|&i| is(&args[i], word)).map(|i| i + 1));
                }
                keys
            }
            "migrate" => match (6..argc).find(|&i| is(&args[i], "keys")) {
                Some(i) => (i + 1..argc).collect(),
                None => vec![3],
            },
            _ => {
                let (first, last, step) = spec.keys;
                let last = if last < 0 { argc as i32 + last } else { last };
                if first <= 0 || last >= argc as i32 || last < first {
                    Vec::new()
                } else {
                    (first as usize..=last as usize).step_by(step.max(1) as usize).collect()
                }
            }
        }
    };
    (!keys.is_empty() || NO_MANDATORY_KEYS.contains(&full)).then_some(keys)
}

/// SORT's key and its last `STORE` target (Redis's `sortGetKeys`: LIMIT skips two arguments,
/// BY and GET one).
fn sort(full: &str, args: &[Bytes]) -> Vec<usize> {
    let (mut store, mut i) = (None, 2);
    while i < args.len() {
        if is(&args[i], "limit") {
            i += 2;
        } else if is(&args[i], "get") || is(&args[i], "by") {
            i += 1;
        } else if full == "sort" && is(&args[i], "store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    std::iter::once(1).chain(store).collect()
}

/// XREAD / XREADGROUP: the first half of what follows `STREAMS`.
fn streams(args: &[Bytes]) -> Vec<usize> {
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if is(a, "block") || is(a, "count") {
            i += 1;
        } else if is(a, "group") {
            i += 2;
        } else if is(a, "streams") {
            let n = args.len() - i - 1;
            return if n == 0 || n % 2 != 0 { Vec::new() } else { (i + 1..=i + n / 2).collect() };
        }
        i += 1;
    }
    Vec::new()
}

/// The key-spec flags of each key of `full` at `positions` (same order).
pub(super) fn flags(full: &str, spec: &CommandSpec, args: &[Bytes], positions: &[usize]) -> Vec<&'static str> {
    let variable = match full {
        // SET with GET reads the old value; BITFIELD with only GET subcommands writes nothing.
        "set" => Some(if args[3..].iter().any(|a| is(a, "get")) { "RW access update" } else { "OW update" }),
        "bitfield" => {
            let writes = args[2..].iter().any(|a| is(a, "set") || is(a, "incrby"));
            Some(if writes { "RW access update" } else { "RO access" })
        }
        _ => None,
    };
    if let Some(f) = variable {
        return vec![f; positions.len()];
    }
    if let Some((_, specs)) = SPECS.iter().find(|(n, _)| *n == full) {
        let first = positions.iter().copied().min().unwrap_or(0);
        return positions
            .iter()
            .map(|&p| match full {
                "sort" | "georadius" | "georadiusbymember" => specs[if p == 1 { 0 } else { specs.len() - 1 }],
                _ => specs[usize::from(p != first).min(specs.len() - 1)],
            })
            .collect();
    }
    let one = ONE_SPEC.iter().find(|(_, names)| names.contains(&full)).map(|(f, _)| *f);
    let f = one.unwrap_or(if spec.has("write") { "RW update" } else { "RO access" });
    vec![f; positions.len()]
}

/// One key spec as COMMAND INFO shows it (Redis 7.0's `keySpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeySpec {
    /// Redis's explanation of the flags, or empty.
    pub notes: &'static str,
    /// Key-spec flags, space separated (`RW access delete`).
    pub flags: &'static str,
    /// Where the search for keys starts.
    pub begin: Begin,
    /// How the keys are found from there.
    pub find: Find,
}

/// A key spec's `begin_search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Begin {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the end).
    Keyword(&'static str, i32),
    /// Not expressible (SORT's BY / GET / STORE).
    Unknown,
}

/// A key spec's `find_keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Find {
    /// Keys up to `lastkey` (relative to the begin; negative: from the end) every `keystep`;
    /// `limit` > 1 takes only 1/limit of what remains.
    Range { lastkey: i32, keystep: i32, limit: i32 },
    /// The argument at `keynumidx` (relative to the begin) says how many keys follow, from
    /// `firstkey` (relative to the begin) every `keystep`.
    Keynum { keynumidx: i32, firstkey: i32, keystep: i32 },
    /// Not expressible.
    Unknown,
}

const fn range(lastkey: i32) -> Find {
    Find::Range { lastkey, keystep: 1, limit: 0 }
}

/// `numkeys` at the begin, the keys right after it.
const KEYNUM: Find = Find::Keynum { keynumidx: 0, firstkey: 1, keystep: 1 };

const fn ks(flags: &'static str, begin: Begin, find: Find) -> KeySpec {
    KeySpec { notes: "", flags, begin, find }
}

const fn noted(notes: &'static str, flags: &'static str, begin: Begin, find: Find) -> KeySpec {
    KeySpec { notes, flags, begin, find }
}

const WORST_RW: &str = "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE";
const WORST_RO: &str = "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS";
const SORT_BY_GET: &str = "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort";
const SORT_STORE: &str = "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array";

/// The key specs that do not follow from (first, last, step): keyword and `numkeys` searches,
/// notes, variable flags. Redis 7.0.15's, per command.
#[rustfmt::skip]
const DECLARED: &[(&str, &[KeySpec])] = &[
    ("bitfield", &[noted("This command allows both access and modification of the key", "RW access update variable_flags", Begin::Index(1), range(0))]),
    ("blmpop", &[ks("RW access delete", Begin::Index(2), KEYNUM)]),
    ("bzmpop", &[ks("RW access delete", Begin::Index(2), KEYNUM)]),
    ("eval", &[noted(WORST_RW, "RW access update", Begin::Index(2), KEYNUM)]),
    ("eval_ro", &[noted(WORST_RO, "RO access", Begin::Index(2), KEYNUM)]),
    ("evalsha", &[ks("RW access update", Begin::Index(2), KEYNUM)]),
    ("evalsha_ro", &[ks("RO access", Begin::Index(2), KEYNUM)]),
    ("fcall", &[noted(WORST_RW, "RW access update", Begin::Index(2), KEYNUM)]),
    ("fcall_ro", &[noted(WORST_RO, "RO access", Begin::Index(2), KEYNUM)]),
    ("georadius", &[
        ks("RO access", Begin::Index(1), range(0)),
        ks("OW update", Begin::Keyword("STORE", 6), range(0)),
        ks("OW update", Begin::Keyword("STOREDIST", 6), range(0)),
    ]),
    ("georadiusbymember", &[
        ks("RO access", Begin::Index(1), range(0)),
        ks("OW update", Begin::Keyword("STORE", 5), range(0)),
        ks("OW update", Begin::Keyword("STOREDIST", 5), range(0)),
    ]),
    ("getex", &[noted("RW and UPDATE because it changes the TTL", "RW access update", Begin::Index(1), range(0))]),
    ("lmpop", &[ks("RW access delete", Begin::Index(1), KEYNUM)]),
    ("migrate", &[
        ks("RW access delete", Begin::Index(3), range(0)),
        ks("RW access delete incomplete", Begin::Keyword("KEYS", -2), range(-1)),
    ]),
    ("pfcount", &[noted("RW because it may change the internal representation of the key, and propagate to replicas", "RW access", Begin::Index(1), range(-1))]),
    ("set", &[noted("RW and ACCESS due to the optional `GET` argument", "RW access update variable_flags", Begin::Index(1), range(0))]),
    ("sintercard", &[ks("RO access", Begin::Index(1), KEYNUM)]),
    ("sort", &[
        ks("RO access", Begin::Index(1), range(0)),
        noted(SORT_BY_GET, "RO access", Begin::Unknown, Find::Unknown),
        noted(SORT_STORE, "OW update", Begin::Unknown, Find::Unknown),
    ]),
    ("sort_ro", &[
        ks("RO access", Begin::Index(1), range(0)),
        noted(SORT_BY_GET, "RO access", Begin::Unknown, Find::Unknown),
    ]),
    ("spublish", &[ks("not_key", Begin::Index(1), range(0))]),
    ("ssubscribe", &[ks("not_key", Begin::Index(1), range(-1))]),
    ("sunsubscribe", &[ks("not_key", Begin::Index(1), range(-1))]),
    ("xadd", &[noted("UPDATE instead of INSERT because of the optional trimming feature", "RW update", Begin::Index(1), range(0))]),
    ("xread", &[ks("RO access", Begin::Keyword("STREAMS", 1), Find::Range { lastkey: -1, keystep: 1, limit: 2 })]),
    ("xreadgroup", &[ks("RO access", Begin::Keyword("STREAMS", 4), Find::Range { lastkey: -1, keystep: 1, limit: 2 })]),
    ("zdiff", &[ks("RO access", Begin::Index(1), KEYNUM)]),
    ("zdiffstore", &[ks("OW update", Begin::Index(1), range(0)), ks("RO access", Begin::Index(2), KEYNUM)]),
    ("zinter", &[ks("RO access", Begin::Index(1), KEYNUM)]),
    ("zintercard", &[ks("RO access", Begin::Index(1), KEYNUM)]),
    ("zinterstore", &[ks("OW update", Begin::Index(1), range(0)), ks("RO access", Begin::Index(2), KEYNUM)]),
    ("zmpop", &[ks("RW access delete", Begin::Index(1), KEYNUM)]),
    ("zunion", &[ks("RO access", Begin::Index(1), KEYNUM)]),
    ("zunionstore", &[ks("OW update", Begin::Index(1), range(0)), ks("RO access", Begin::Index(2), KEYNUM)]),
];

/// The key specs of `full`: declared ([`DECLARED`]) or following from the table's key positions —
/// one range spec, or (for a destination and sources, a source and a destination) a first key
/// and the rest. Empty for commands without keys.
pub(super) fn key_specs(full: &str, spec: &CommandSpec) -> Vec<KeySpec> {
    if let Some((_, declared)) = DECLARED.iter().find(|(n, _)| *n == full) {
        return declared.to_vec();
    }
    let (first, last, step) = spec.keys;
    if first <= 0 || PARSED.contains(&full) {
        return Vec::new();
    }
    let rel = |from: i32| if last < 0 { last } else { last - from };
    let spec_at = |flags, index, lastkey, keystep| KeySpec {
        notes: "",
        flags,
        begin: Begin::Index(index),
        find: Find::Range { lastkey, keystep, limit: 0 },
    };
    if let Some((_, specs)) = SPECS.iter().find(|(n, _)| *n == full) {
        if specs.len() != 2 || (last >= 0 && last <= first) {
            return Vec::new();
        }
        return vec![spec_at(specs[0], first, 0, 1), spec_at(specs[1], first + 1, rel(first + 1), step)];
    }
    let flags = ONE_SPEC
        .iter()
        .find(|(_, names)| names.contains(&full))
        .map_or(if spec.has("write") { "RW update" } else { "RO access" }, |(f, _)| *f);
    vec![spec_at(flags, first, rel(first), step)]
}

/// Key-spec flags of the commands with one key spec (every key of the command has them).
const ONE_SPEC: &[(&str, &[&str])] = &[
    (
        "RO access",
        &[
            "bitcount",
            "bitfield_ro",
            "bitpos",
            "dump",
            "eval_ro",
            "evalsha_ro",
            "expiretime",
            "fcall_ro",
            "geodist",
            "geohash",
            "geopos",
            "georadius_ro",
            "georadiusbymember_ro",
            "geosearch",
            "get",
            "getbit",
            "getrange",
            "hget",
            "hgetall",
            "hkeys",
            "hmget",
            "hrandfield",
            "hscan",
            "hvals",
            "lcs",
            "lindex",
            "lpos",
            "lrange",
            "mget",
            "pexpiretime",
            "pttl",
            "sdiff",
            "sinter",
            "sintercard",
            "smembers",
            "smismember",
            "srandmember",
            "sscan",
            "substr",
            "sunion",
            "ttl",
            "xinfo|consumers",
            "xinfo|groups",
            "xinfo|stream",
            "xpending",
            "xrange",
            "xread",
            "xreadgroup",
            "xrevrange",
            "zcount",
            "zdiff",
            "zinter",
            "zintercard",
            "zlexcount",
            "zmscore",
            "zrandmember",
            "zrange",
            "zrangebylex",
            "zrangebyscore",
            "zrank",
            "zrevrange",
            "zrevrangebylex",
            "zrevrangebyscore",
            "zrevrank",
            "zscan",
            "zscore",
            "zunion",
        ],
    ),
    (
        "RO",
        &[
            "exists",
            "hexists",
            "hlen",
            "hstrlen",
            "llen",
            "memory|usage",
            "object|encoding",
            "object|freq",
            "object|idletime",
            "object|refcount",
            "scard",
            "sismember",
            "strlen",
            "touch",
            "type",
            "watch",
            "xlen",
            "zcard",
        ],
    ),
    (
        "RW access update",
        &[
            "bitfield",
            "decr",
            "decrby",
            "eval",
            "evalsha",
            "fcall",
            "getex",
            "getset",
            "hincrby",
            "hincrbyfloat",
            "incr",
            "incrby",
            "incrbyfloat",
            "move",
            "set",
            "setbit",
            "zincrby",
        ],
    ),
    (
        "RW update",
        &[
            "expire",
            "expireat",
            "geoadd",
            "hmset",
            "hset",
            "lset",
            "persist",
            "pexpire",
            "pexpireat",
            "setrange",
            "xack",
            "xadd",
            "xclaim",
            "xgroup|setid",
            "xsetid",
            "zadd",
        ],
    ),
    (
        "RW access delete",
        &[
            "blmpop", "blpop", "brpop", "bzmpop", "bzpopmax", "bzpopmin", "getdel", "lmpop", "lpop", "rpop", "spop",
            "zmpop", "zpopmax", "zpopmin",
        ],
    ),
    (
        "RW delete",
        &[
            "hdel",
            "lrem",
            "ltrim",
            "srem",
            "xautoclaim",
            "xdel",
            "xgroup|delconsumer",
            "xgroup|destroy",
            "xtrim",
            "zrem",
            "zremrangebylex",
            "zremrangebyrank",
            "zremrangebyscore",
        ],
    ),
    (
        "RW insert",
        &[
            "append",
            "hsetnx",
            "linsert",
            "lpush",
            "lpushx",
            "pfadd",
            "rpush",
            "rpushx",
            "sadd",
            "xgroup|create",
            "xgroup|createconsumer",
        ],
    ),
    ("OW update", &["mset", "psetex", "restore", "restore-asking", "setex"]),
    ("RW access", &["pfcount", "pfdebug"]),
    ("OW insert", &["msetnx", "setnx"]),
    ("RM delete", &["del", "unlink"]),
];

/// Key-spec flags of the commands with several key specs, in spec order.
const SPECS: &[(&str, &[&str])] = &[
    ("bitop", &["OW update", "RO access"]),
    ("blmove", &["RW access delete", "RW insert"]),
    ("brpoplpush", &["RW access delete", "RW insert"]),
    ("copy", &["RO access", "OW update"]),
    ("georadius", &["RO access", "OW update", "OW update"]),
    ("georadiusbymember", &["RO access", "OW update", "OW update"]),
    ("geosearchstore", &["OW update", "RO access"]),
    ("lmove", &["RW access delete", "RW insert"]),
    ("migrate", &["RW access delete", "RW access delete"]),
    ("pfmerge", &["RW access insert", "RO access"]),
    ("rename", &["RW access delete", "OW update"]),
    ("renamenx", &["RW access delete", "OW insert"]),
    ("rpoplpush", &["RW access delete", "RW insert"]),
    ("sdiffstore", &["OW update", "RO access"]),
    ("sinterstore", &["RW update", "RO access"]),
    ("smove", &["RW access delete", "RW insert"]),
    ("sort", &["RO access", "RO access", "OW update"]),
    ("sort_ro", &["RO access", "RO access"]),
    ("sunionstore", &["OW update", "RO access"]),
    ("zdiffstore", &["OW update", "RO access"]),
    ("zinterstore", &["OW update", "RO access"]),
    ("zrangestore", &["OW update", "RO access"]),
    ("zunionstore", &["OW update", "RO access"]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::registry;

    fn keys(line: &str) -> Option<Vec<String>> {
        let args: Vec<Bytes> = line.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
        let reg = registry();
        let name = line.split(' ').next().unwrap().to_ascii_lowercase();
        let spec = reg.entries.iter().find(|e| e.0 == name).map(|e| e.1).expect("known command");
        let pos = positions(&name, spec, &args)?;
        let fl = flags(&name, spec, &args, &pos);
        Some(pos.iter().zip(fl).map(|(&p, f)| format!("{} {f}", String::from_utf8_lossy(&args[p]))).collect())
    }

    #[test]
    fn positions_and_flags_as_redis_7_0_reports_them() {
        let ok = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(keys("mset a 1 c 2 e"), ok(&["a OW update", "c OW update", "e OW update"]));
        assert_eq!(keys("lmove a b left right"), ok(&["a RW access delete", "b RW insert"]));
        assert_eq!(keys("set k v get"), ok(&["k RW access update"]));
        assert_eq!(keys("set k v nx"), ok(&["k OW update"]));
        assert_eq!(keys("zunionstore d 2 a b weights 1 2"), ok(&["d OW update", "a RO access", "b RO access"]));
        assert_eq!(keys("zunionstore d 3 a b"), None);
        assert_eq!(keys("zunion 0 a"), None);
        assert_eq!(keys("zunionstore d 0 a"), None);
        assert_eq!(keys("eval x 3 a"), ok(&[]));
        assert_eq!(keys("sort s by x store d get y store e limit 0 1"), ok(&["s RO access", "e OW update"]));
        assert_eq!(keys("sort_ro s store d"), ok(&["s RO access"]));
        assert_eq!(keys("hset h f v"), ok(&["h RW update"]));
        let specs = |name: &str| {
            let spec = registry().entries.iter().find(|e| e.0 == name).map(|e| e.1).expect("known command");
            key_specs(name, spec)
                .into_iter()
                .map(|k| match (k.begin, k.find) {
                    (Begin::Index(i), Find::Range { lastkey, keystep, .. }) => (k.flags, i, lastkey, keystep),
                    other => panic!("{name}: {other:?}"),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(specs("get"), vec![("RO access", 1, 0, 1)]);
        assert_eq!(specs("mset"), vec![("OW update", 1, -1, 2)]);
        assert_eq!(specs("lmove"), vec![("RW access delete", 1, 0, 1), ("RW insert", 2, 0, 1)]);
        assert_eq!(specs("sinterstore"), vec![("RW update", 1, 0, 1), ("RO access", 2, -1, 1)]);
        assert_eq!(specs("zadd"), vec![("RW update", 1, 0, 1)]);
        assert_eq!(keys("del a b"), ok(&["a RM delete", "b RM delete"]));
    }
}
