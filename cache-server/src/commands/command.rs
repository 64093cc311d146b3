//! COMMAND and its subcommands (COUNT INFO DOCS LIST): what the command table says about itself,
//! in Redis's reply shapes. It reads the table only ([`super::registry`]); it owns the ACL
//! categories a row maps to.

use super::server::help;
use super::{CmdResult, CommandSpec, Ctx, SYNTAX, is, registry, spec};
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

fn acl_categories(s: &CommandSpec) -> Vec<String> {
    let mut v = Vec::new();
    if s.has("write") {
        v.push("@write".to_string());
    }
    if s.has("readonly") {
        v.push("@read".into());
    }
    match s.group {
        "string" => v.push("@string".into()),
        "hash" => v.push("@hash".into()),
        "list" => v.push("@list".into()),
        "set" => v.push("@set".into()),
        "sorted-set" | "sorted_set" => v.push("@sortedset".into()),
        "stream" if s.subcommands.is_empty() => v.push("@stream".into()),
        // SORT reads all three collection types, and BY/GET patterns reach any key.
        "generic" if s.name.starts_with("sort") => {
            v.extend(["@set", "@sortedset", "@list", "@slow", "@dangerous"].map(String::from));
            return v;
        }
        "generic" => v.push("@keyspace".into()),
        "connection" => v.push("@connection".into()),
        _ => {}
    }
    if s.has("admin") {
        v.push("@admin".into());
        v.push("@dangerous".into());
    }
    v.push(if s.has("fast") { "@fast".into() } else { "@slow".into() });
    if s.has("blocking") {
        v.push("@blocking".into());
    }
    v
}

fn write_info(ctx: &mut Ctx<'_>, full: &str, s: &CommandSpec) {
    let out = &mut *ctx.out;
    out.array(10);
    out.bulk(full.as_bytes());
    out.int(i64::from(s.arity));
    out.set(s.flags.len());
    for f in s.flags {
        out.simple(f);
    }
    out.int(i64::from(s.keys.0));
    out.int(i64::from(s.keys.1));
    out.int(i64::from(s.keys.2));
    let cats = acl_categories(s);
    out.set(cats.len());
    for c in &cats {
        out.simple(c);
    }
    out.array(0);
    out.array(0);
    out.array(s.subcommands.len());
    for sub in s.subcommands {
        write_info(ctx, &format!("{full}|{}", sub.name), sub);
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

fn lookup_top(name: &[u8]) -> Option<&'static CommandSpec> {
    let n = String::from_utf8_lossy(name).to_ascii_lowercase();
    registry().top.iter().copied().find(|s| s.name == n)
}

fn command_info(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() == 2 {
        return command_all(ctx, a);
    }
    ctx.out.array(a.len() - 2);
    for n in &a[2..] {
        match lookup_top(n) {
            Some(s) => write_info(ctx, s.name, s),
            None => ctx.out.null_array(),
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
    let specs: Vec<&'static CommandSpec> =
        if a.len() == 2 { registry().top.clone() } else { a[2..].iter().filter_map(|n| lookup_top(n)).collect() };
    ctx.out.map(specs.len());
    for s in specs {
        write_docs(ctx, s, s.name);
    }
    Ok(())
}

fn command_list(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let mut pattern: Option<&[u8]> = None;
    let mut none = false;
    if a.len() > 2 {
        if a.len() != 5 || !is(&a[2], "filterby") {
            return Err(SYNTAX.into());
        }
        if is(&a[3], "pattern") {
            pattern = Some(&a[4]);
        } else if is(&a[3], "module") {
            none = true;
        } else if is(&a[3], "aclcat") {
            let cat = format!("@{}", String::from_utf8_lossy(&a[4]).to_ascii_lowercase());
            let names: Vec<&str> =
                registry().top.iter().filter(|s| acl_categories(s).contains(&cat)).map(|s| s.name).collect();
            ctx.out.bulks(names);
            return Ok(());
        } else {
            return Err(SYNTAX.into());
        }
    }
    let names: Vec<&str> = registry()
        .top
        .iter()
        .filter(|s| !none && pattern.is_none_or(|p| glob::matches(p, s.name.as_bytes(), true)))
        .map(|s| s.name)
        .collect();
    ctx.out.bulks(names);
    Ok(())
}
