//! ACL, as far as our one-user model goes, and ROLE.
//!
//! The server has one user, `default`, who may run every command and whose password (if any) is
//! `requirepass`: ACL WHOAMI, USERS, LIST, GETUSER, CAT, DRYRUN and GENPASS answer for that model
//! in Redis 7.0's shapes, so tools that inspect users work. Creating or changing users (SETUSER,
//! DELUSER, LOAD, SAVE) and the denial log (LOG) are not implemented: they answer Redis's unknown
//! subcommand error. ROLE reports a primary without replicas (there is no replication).

use super::command::{CATEGORY_ORDER, acl_categories};
use super::server::help;
use super::{CmdError, CmdResult, CommandSpec, Ctx, arg_i64, container_row, registry, spec};
use bytes::Bytes;
use sha2::{Digest, Sha256};

const G: &str = "server";
const ADM: &[&str] = &["admin", "noscript", "loading", "stale"];
const ANY: &[&str] = &["noscript", "loading", "stale"];

const ACL_SUBS: &[CommandSpec] = &[
    spec(
        "whoami",
        2,
        ANY,
        (0, 0, 0),
        G,
        "Returns the authenticated username of the current connection.",
        "6.0.0",
        whoami,
    ),
    spec("users", 2, ADM, (0, 0, 0), G, "Lists all ACL users.", "6.0.0", users),
    spec("list", 2, ADM, (0, 0, 0), G, "Dumps the effective rules in ACL file format.", "6.0.0", list),
    spec("getuser", 3, ADM, (0, 0, 0), G, "Lists the ACL rules of a user.", "6.0.0", getuser),
    spec("cat", -2, ANY, (0, 0, 0), G, "Lists the ACL categories, or the commands inside a category.", "6.0.0", cat),
    spec(
        "dryrun",
        -4,
        ADM,
        (0, 0, 0),
        G,
        "Simulates the execution of a command by a user, without executing the command.",
        "7.0.0",
        dryrun,
    ),
    spec(
        "genpass",
        -2,
        ANY,
        (0, 0, 0),
        G,
        "Generates a pseudorandom, secure password that can be used to identify ACL users.",
        "6.0.0",
        genpass,
    ),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Returns helpful text about the different subcommands.",
        "6.0.0",
        help,
    ),
];

/// The ACL and ROLE rows.
pub const COMMANDS: &[CommandSpec] = &[
    container_row("acl", G, "A container for Access List Control commands.", "6.0.0", ACL_SUBS),
    spec(
        "role",
        1,
        &["noscript", "loading", "stale", "fast"],
        (0, 0, 0),
        G,
        "Returns the replication role.",
        "2.8.12",
        role,
    ),
];

fn whoami(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.out.bulk(b"default");
    Ok(())
}

fn users(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.out.bulks([b"default"]);
    Ok(())
}

/// The SHA-256 of `requirepass` in hex, as ACL prints passwords; `None` without one.
fn password_hash(ctx: &Ctx<'_>) -> Option<String> {
    let pass = ctx.shared.config.read().requirepass.clone()?;
    Some(Sha256::digest(pass.as_bytes()).iter().map(|b| format!("{b:02x}")).collect())
}

fn list(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let pass = password_hash(ctx).map_or_else(|| "nopass".to_string(), |h| format!("#{h}"));
    ctx.out.bulks([format!("user default on {pass} ~* &* +@all")]);
    Ok(())
}

fn getuser(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a[2].as_ref() != b"default" {
        ctx.out.null();
        return Ok(());
    }
    let hash = password_hash(ctx);
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    out.array(if hash.is_some() { 1 } else { 2 });
    out.bulk(b"on");
    if hash.is_none() {
        out.bulk(b"nopass");
    }
    out.bulk(b"passwords");
    out.bulks(hash.iter());
    for (k, v) in [("commands", "+@all"), ("keys", "~*"), ("channels", "&*")] {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
    out.bulk(b"selectors");
    out.array(0);
    Ok(())
}

fn cat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let names = || CATEGORY_ORDER.iter().map(|c| &c[1..]);
    match a.get(2) {
        None => ctx.out.bulks(names()),
        Some(c) => {
            let wanted = String::from_utf8_lossy(c).to_ascii_lowercase();
            if !names().any(|n| n == wanted) {
                return Err(format!("ERR Unknown category '{}'", String::from_utf8_lossy(c)).into());
            }
            let tag = format!("@{wanted}");
            let reg = registry();
            let found = reg
                .entries
                .iter()
                .filter(|(_, s)| s.subcommands.is_empty() && acl_categories(s).contains(&tag))
                .map(|(n, _)| n.as_str());
            ctx.out.bulks(found.collect::<Vec<_>>());
        }
    }
    Ok(())
}

fn dryrun(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a[2].as_ref() != b"default" {
        return Err(format!("ERR User '{}' not found", String::from_utf8_lossy(&a[2])).into());
    }
    let name = String::from_utf8_lossy(&a[3]).to_ascii_lowercase();
    let Some(i) = registry().find(&name) else {
        return Err(format!("ERR Command '{name}' not found").into());
    };
    let arity = registry().entries[i].1.arity;
    let n = a.len() - 3;
    if (arity > 0 && n != arity as usize) || (arity < 0 && n < (-arity) as usize) {
        return Err(format!("ERR wrong number of arguments for '{name}' command").into());
    }
    ctx.out.ok();
    Ok(())
}

fn genpass(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let bits = match a.get(2) {
        None => 256,
        Some(b) => match arg_i64(b) {
            Ok(n @ 1..=4096) => n as usize,
            _ => {
                return Err(CmdError::from(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                ));
            }
        },
    };
    let chars = bits.div_ceil(4);
    // SipHash under the keys std draws from the OS's generator is a pseudorandom function: its
    // outputs for a counter are unpredictable without the keys.
    use std::hash::{BuildHasher, Hasher};
    let keys = std::hash::RandomState::new();
    let mut hex = String::with_capacity(chars + 16);
    for i in 0usize.. {
        if hex.len() >= chars {
            break;
        }
        let mut h = keys.build_hasher();
        h.write_usize(i);
        hex.push_str(&format!("{:016x}", h.finish()));
    }
    hex.truncate(chars);
    ctx.out.bulk(hex.as_bytes());
    Ok(())
}

fn role(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(0);
    ctx.out.array(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    #[tokio::test]
    async fn acl_answers_for_the_default_user() {
        run_table(&[
            ("ACL WHOAMI", "$7\r\ndefault\r\n"),
            ("ACL USERS", "*1\r\n$7\r\ndefault\r\n"),
            ("ACL LIST", "*1\r\n$34\r\nuser default on nopass ~* &* +@all\r\n"),
            ("ACL GETUSER nobody", "$-1\r\n"),
            ("ACL CAT nope", "-ERR Unknown category 'nope'\r\n"),
            ("ACL DRYRUN default get k", "+OK\r\n"),
            ("ACL DRYRUN default get", "-ERR wrong number of arguments for 'get' command\r\n"),
            ("ACL DRYRUN bob get k", "-ERR User 'bob' not found\r\n"),
            ("ACL GENPASS 0", "-ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096\r\n"),
            ("ACL SETUSER bob", "-ERR unknown subcommand 'SETUSER'. Try ACL HELP.\r\n"),
            ("ROLE", "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"),
        ])
        .await;
    }
}
