//! COMMAND and its subcommands (COUNT INFO DOCS LIST GETKEYS GETKEYSANDFLAGS): what the command
//! table says about itself, in Redis's reply shapes. It reads the table only
//! ([`super::registry`]); it owns the ACL categories a row maps to, and (in `getkeys`) the key
//! positions and key-spec flags of a full request.

pub(crate) mod getkeys;
mod tips;

use super::server::help;
use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, is, registry, spec};
use crate::glob;
use bytes::Bytes;

const G: &str = "server";

const COMMAND_SUBS: &[CommandSpec] = &[
    spec("count", 2, &["loading", "stale"], (0, 0, 0), G, "Returns a count of commands.", "2.8.13", command_count),
    spec(
        "info",
        -2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Returns information about one, multiple or all commands.",
        "2.8.13",
        command_info,
    ),
    spec(
        "docs",
        -2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Returns documentary information about one, multiple or all commands.",
        "7.0.0",
        command_docs,
    ),
    spec("list", -2, &["loading", "stale"], (0, 0, 0), G, "Returns a list of command names.", "7.0.0", command_list),
    spec(
        "getkeys",
        -4,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Extract keys given a full Redis command",
        "2.8.13",
        command_getkeys,
    ),
    spec(
        "getkeysandflags",
        -4,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Extract keys and access flags given a full Redis command",
        "7.0.0",
        command_getkeysandflags,
    ),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        help,
    ),
];

/// The COMMAND row.
pub const COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "command",
    arity: -1,
    flags: &["loading", "stale"],
    keys: (0, 0, 0),
    group: G,
    summary: "Returns detailed information about all commands.",
    since: "2.8.13",
    handler: command_all,
    subcommands: COMMAND_SUBS,
}];

/// ACL categories in the order Redis 7.0 prints them (its category bits).
pub(crate) const CATEGORY_ORDER: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

/// The ACL categories of command `full` (its row is `s`).
pub(crate) fn acl_categories(full: &str, s: &CommandSpec) -> Vec<String> {
    let mut v = acl_categories_unordered(s);
    // COMMAND's subcommands are connection commands to ACLs, though COMMAND is a server one.
    if full.starts_with("command|") {
        v.push("@connection".into());
    }
    if let Some((_, extra)) = EXTRA_CATEGORIES.iter().find(|(n, _)| *n == full) {
        v.extend(extra.iter().map(|c| (*c).to_string()).filter(|c| !v.contains(c)).collect::<Vec<_>>());
    }
    v.sort_by_key(|c| CATEGORY_ORDER.iter().position(|o| o == c).unwrap_or(usize::MAX));
    v
}

/// Categories Redis's command table gives explicitly beyond what the group implies (full names).
const EXTRA_CATEGORIES: &[(&str, &[&str])] = &[
    ("flushall", &["@keyspace", "@dangerous"]),
    ("flushdb", &["@keyspace", "@dangerous"]),
    ("swapdb", &["@keyspace", "@dangerous"]),
    ("info", &["@dangerous"]),
    ("keys", &["@dangerous"]),
    ("restore", &["@dangerous"]),
    ("role", &["@admin", "@dangerous"]),
    ("dbsize", &["@keyspace"]),
    ("command", &["@connection"]),
    // The cluster's connection flags, and the commands that write keys from serialized payloads.
    ("asking", &["@connection"]),
    ("readonly", &["@connection"]),
    ("readwrite", &["@connection"]),
    ("restore-asking", &["@keyspace", "@dangerous"]),
    ("migrate", &["@dangerous"]),
];

fn acl_categories_unordered(s: &CommandSpec) -> Vec<String> {
    // A pure container (CLIENT, OBJECT, CONFIG, …) is only `@slow`; its subcommands carry the rest.
    if s.flags.is_empty() && !s.subcommands.is_empty() {
        return vec!["@slow".into()];
    }
    let mut v = Vec::new();
    // Implied by the flags, as Redis's setImplicitACLCategories: scripts are never `@read`.
    if s.has("write") {
        v.push("@write".to_string());
    }
    if s.has("readonly") && s.group != "scripting" {
        v.push("@read".into());
    }
    if s.has("pubsub") {
        v.push("@pubsub".into());
    }
    // Given by the group.
    match s.group {
        "string" => v.push("@string".into()),
        "hash" => v.push("@hash".into()),
        "list" => v.push("@list".into()),
        "set" => v.push("@set".into()),
        "sorted-set" | "sorted_set" => v.push("@sortedset".into()),
        // Containers (XGROUP, XINFO) carry no data-type category, as in Redis.
        "geo" | "stream" | "bitmap" | "hyperloglog" if s.subcommands.is_empty() => v.push(format!("@{}", s.group)),
        // SORT reads all three collection types, and BY/GET patterns reach any key.
        "generic" if s.name.starts_with("sort") => {
            v.extend(["@set", "@sortedset", "@list", "@slow", "@dangerous"].map(String::from));
            return v;
        }
        "generic" => v.push("@keyspace".into()),
        "connection" => v.push("@connection".into()),
        "transactions" => v.push("@transaction".into()),
        "scripting" => v.push("@scripting".into()),
        _ => {}
    }
    // LASTSAVE is declared @admin @dangerous in Redis without the admin flag.
    if s.has("admin") || s.name == "lastsave" {
        v.push("@admin".into());
        v.push("@dangerous".into());
    }
    v.push(if s.has("fast") { "@fast".into() } else { "@slow".into() });
    if s.has("blocking") {
        v.push("@blocking".into());
    }
    v.dedup();
    v
}

/// COMMAND INFO's flag order (Redis's flag bits).
const FLAG_ORDER: &[&str] = &[
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
];

fn write_info(ctx: &mut Ctx<'_>, full: &str, s: &CommandSpec) {
    let out = &mut *ctx.out;
    out.array(10);
    out.bulk(full.as_bytes());
    out.int(i64::from(s.arity));
    // Redis 7.0 keeps `may_replicate` to itself (CLIENT PAUSE WRITE reads it); it never shows.
    // The table spells `no-auth` as the dispatcher reads it; Redis prints `no_auth`.
    let mut shown: Vec<&str> = s
        .flags
        .iter()
        .filter(|f| **f != "may_replicate")
        .map(|f| if *f == "no-auth" { "no_auth" } else { f })
        .collect();
    shown.sort_by_key(|f| FLAG_ORDER.iter().position(|o| o == f).unwrap_or(usize::MAX));
    out.set(shown.len());
    for f in shown {
        out.simple(f);
    }
    out.int(i64::from(s.keys.0));
    out.int(i64::from(s.keys.1));
    out.int(i64::from(s.keys.2));
    let cats = acl_categories(full, s);
    out.set(cats.len());
    for c in &cats {
        out.simple(c);
    }
    // Tips, key specs, then the subcommands: sets in RESP3 when empty, as Redis writes them.
    let tips = tips::of(full);
    out.set(tips.len());
    for t in tips {
        out.bulk(t.as_bytes());
    }
    let specs = getkeys::key_specs(full, s);
    out.set(specs.len());
    for k in &specs {
        write_key_spec(out, k);
    }
    if s.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(s.subcommands.len());
    }
    for sub in s.subcommands {
        write_info(ctx, &format!("{full}|{}", sub.name), sub);
    }
}

/// One key spec as Redis writes it: a map of notes (if any), flags, begin_search, find_keys.
fn write_key_spec(out: &mut crate::reply::Reply, k: &getkeys::KeySpec) {
    use getkeys::{Begin, Find};
    let words: Vec<&str> = k.flags.split(' ').collect();
    out.map(if k.notes.is_empty() { 3 } else { 4 });
    if !k.notes.is_empty() {
        out.bulk(b"notes");
        out.bulk(k.notes.as_bytes());
    }
    out.bulk(b"flags");
    out.set(words.len());
    for w in words {
        out.simple(w);
    }
    let int_map = |out: &mut crate::reply::Reply, fields: &[(&str, i32)]| {
        out.map(fields.len());
        for (name, v) in fields {
            out.bulk(name.as_bytes());
            out.int(i64::from(*v));
        }
    };
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match k.begin {
        Begin::Index(index) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            int_map(out, &[("index", index)]);
        }
        Begin::Keyword(keyword, startfrom) => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(keyword.as_bytes());
            out.bulk(b"startfrom");
            out.int(i64::from(startfrom));
        }
        Begin::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    match k.find {
        Find::Range { lastkey, keystep, limit } => {
            out.bulk(b"range");
            out.bulk(b"spec");
            int_map(out, &[("lastkey", lastkey), ("keystep", keystep), ("limit", limit)]);
        }
        Find::Keynum { keynumidx, firstkey, keystep } => {
            out.bulk(b"keynum");
            out.bulk(b"spec");
            int_map(out, &[("keynumidx", keynumidx), ("firstkey", firstkey), ("keystep", keystep)]);
        }
        Find::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
}

fn command_all(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let reg = registry();
    ctx.out.array(reg.top.len());
    for s in &reg.top {
        write_info(ctx, s.name, s);
    }
    Ok(())
}

fn command_count(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.out.int(registry().top.len() as i64);
    Ok(())
}

/// A command or subcommand by its name as COMMAND INFO / DOCS take it (`get`, `client|setname`,
/// any case), with its full name.
fn lookup_full(name: &[u8]) -> Option<(&'static str, &'static CommandSpec)> {
    let n = String::from_utf8_lossy(name).to_ascii_lowercase();
    registry().entries.iter().find(|e| e.0 == n).map(|e| (e.0.as_str(), e.1))
}

fn command_info(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() == 2 {
        return command_all(ctx, a);
    }
    ctx.out.array(a.len() - 2);
    for n in &a[2..] {
        match lookup_full(n) {
            Some((full, s)) => write_info(ctx, full, s),
            // Redis answers an unknown name with a null (a null bulk in RESP2).
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn write_docs(ctx: &mut Ctx<'_>, s: &CommandSpec, full: &str) {
    ctx.out.bulk(full.as_bytes());
    let has_subs = !s.subcommands.is_empty();
    ctx.out.map(if has_subs { 4 } else { 3 });
    ctx.out.bulk(b"summary");
    ctx.out.bulk(s.summary.as_bytes());
    ctx.out.bulk(b"since");
    ctx.out.bulk(s.since.as_bytes());
    ctx.out.bulk(b"group");
    ctx.out.bulk(s.group.as_bytes());
    if has_subs {
        ctx.out.bulk(b"subcommands");
        ctx.out.map(s.subcommands.len());
        for sub in s.subcommands {
            write_docs(ctx, sub, &format!("{full}|{}", sub.name));
        }
    }
}

fn command_docs(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let specs: Vec<(&str, &'static CommandSpec)> = if a.len() == 2 {
        registry().top.iter().map(|s| (s.name, *s)).collect()
    } else {
        a[2..].iter().filter_map(|n| lookup_full(n)).collect()
    };
    ctx.out.map(specs.len());
    for (full, s) in specs {
        write_docs(ctx, s, full);
    }
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p]: every command and subcommand
/// (`client|list`), as Redis 7.0 lists them.
fn command_list(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let entries = &registry().entries;
    let names: Vec<&str> = if a.len() == 2 {
        entries.iter().map(|e| e.0.as_str()).collect()
    } else if a.len() != 5 || !is(&a[2], "filterby") {
        return Err(SYNTAX.into());
    } else if is(&a[3], "pattern") {
        entries.iter().map(|e| e.0.as_str()).filter(|n| glob::matches(&a[4], n.as_bytes(), true)).collect()
    } else if is(&a[3], "module") {
        Vec::new()
    } else if is(&a[3], "aclcat") {
        let cat = format!("@{}", String::from_utf8_lossy(&a[4]).to_ascii_lowercase());
        entries.iter().filter(|e| acl_categories(&e.0, e.1).contains(&cat)).map(|e| e.0.as_str()).collect()
    } else {
        return Err(SYNTAX.into());
    };
    ctx.out.bulks(names);
    Ok(())
}

/// The row of the command a GETKEYS request names (`args[2..]`), subcommands included.
fn getkeys_target(a: &[Bytes]) -> Option<(&'static str, &'static CommandSpec)> {
    let (full, spec) = lookup_full(&a[2])?;
    if spec.subcommands.is_empty() || a.len() < 4 {
        return Some((full, spec));
    }
    let mut sub = full.to_string();
    sub.push('|');
    sub.push_str(&String::from_utf8_lossy(&a[3]));
    lookup_full(sub.as_bytes())
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS with Redis's checks in Redis's order: unknown command, a
/// command without keys, its arity, then the keys themselves.
fn getkeys_reply(ctx: &mut Ctx<'_>, a: &[Bytes], with_flags: bool) -> CmdResult {
    let (full, spec) = getkeys_target(a).ok_or("ERR Invalid command specified")?;
    if !getkeys::has_keys(full, spec) {
        return Err("ERR The command has no key arguments".into());
    }
    let args = &a[2..];
    let n = args.len();
    if (spec.arity > 0 && spec.arity as usize != n) || (n as i64) < -i64::from(spec.arity) {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    let positions =
        getkeys::positions(full, spec, args).ok_or(CmdError::from("ERR Invalid arguments specified for command"))?;
    let flags = if with_flags { getkeys::flags(full, spec, args, &positions) } else { Vec::new() };
    ctx.out.array(positions.len());
    for (i, &p) in positions.iter().enumerate() {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(&args[p]);
            let words: Vec<&str> = flags[i].split(' ').collect();
            ctx.out.set(words.len());
            for w in words {
                ctx.out.simple(w);
            }
        } else {
            ctx.out.bulk(&args[p]);
        }
    }
    Ok(())
}

fn command_getkeys(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    getkeys_reply(ctx, a, false)
}

fn command_getkeysandflags(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    getkeys_reply(ctx, a, true)
}
