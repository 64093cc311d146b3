//! Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET and CLIENT (ID SETNAME GETNAME
//! SETINFO LIST INFO KILL UNBLOCK REPLY NO-EVICT PAUSE UNPAUSE HELP, and the client-side caching
//! ones: TRACKING CACHING GETREDIR TRACKINGINFO, handled in `tracking.rs`). REPLY and PAUSE only
//! set state here: the connection loop drops replies and waits out pauses (`crate::connection`,
//! `crate::pause`). They change this connection's state (`ClientState`) or read the
//! client registry; they never touch keys.

use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, arg_i64, container_row, is, spec};
use crate::REDIS_VERSION;
use crate::connection::{ClientHandle, SelfView};
use bytes::Bytes;
use std::sync::Arc;

const G: &str = "connection";
/// Redis 7.0's flags of the CLIENT subcommands any client may run.
const CF: &[&str] = &["noscript", "loading", "stale"];
const NA: &[&str] = &["noscript", "loading", "stale", "fast", "no-auth", "allow_busy"];

/// CLIENT subcommands.
const CLIENT_SUBS: &[CommandSpec] = &[
    spec("id", 2, CF, (0, 0, 0), G, "Returns the unique client ID of the connection.", "5.0.0", client_id),
    spec("setname", 3, CF, (0, 0, 0), G, "Sets the connection name.", "2.6.9", client_setname),
    spec("getname", 2, CF, (0, 0, 0), G, "Returns the name of the connection.", "2.6.9", client_getname),
    spec(
        "setinfo",
        4,
        CF,
        (0, 0, 0),
        G,
        "Sets information specific to the client or connection.",
        "7.2.0",
        client_setinfo,
    ),
    spec(
        "list",
        -2,
        &["admin", "noscript", "loading", "stale"],
        (0, 0, 0),
        G,
        "Lists open connections.",
        "2.4.0",
        client_list,
    ),
    spec("info", 2, CF, (0, 0, 0), G, "Returns information about the connection.", "6.2.0", client_info),
    spec(
        "kill",
        -3,
        &["admin", "noscript", "loading", "stale"],
        (0, 0, 0),
        G,
        "Terminates open connections.",
        "2.4.0",
        client_kill,
    ),
    spec(
        "unblock",
        -3,
        &["admin", "noscript", "loading", "stale"],
        (0, 0, 0),
        G,
        "Unblocks a client blocked by a blocking command from a different connection.",
        "5.0.0",
        client_unblock,
    ),
    spec(
        "tracking",
        -3,
        CF,
        (0, 0, 0),
        G,
        "Controls server-assisted client-side caching for the connection.",
        "6.0.0",
        super::tracking::client_tracking,
    ),
    spec(
        "caching",
        3,
        CF,
        (0, 0, 0),
        G,
        "Instructs the server whether to track the keys in the next request.",
        "6.0.0",
        super::tracking::client_caching,
    ),
    spec(
        "getredir",
        2,
        CF,
        (0, 0, 0),
        G,
        "Returns the client ID to which the connection's tracking notifications are redirected.",
        "6.0.0",
        super::tracking::client_getredir,
    ),
    spec(
        "trackinginfo",
        2,
        CF,
        (0, 0, 0),
        G,
        "Returns information about server-assisted client-side caching for the connection.",
        "6.2.0",
        super::tracking::client_trackinginfo,
    ),
    spec("reply", 3, CF, (0, 0, 0), G, "Instruct the server whether to reply to commands", "3.2.0", client_reply),
    spec(
        "no-evict",
        3,
        AD,
        (0, 0, 0),
        G,
        "Set client eviction mode for the current connection",
        "7.0.0",
        client_no_evict,
    ),
    spec("pause", -3, AD, (0, 0, 0), G, "Stop processing commands from clients for some time", "2.9.50", client_pause),
    spec("unpause", 2, AD, (0, 0, 0), G, "Resume processing of clients that were paused", "6.2.0", client_unpause),
    spec(
        "help",
        2,
        &["loading", "stale"],
        (0, 0, 0),
        G,
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        client_help,
    ),
];

/// Flags of the admin CLIENT subcommands.
const AD: &[&str] = &["admin", "noscript", "loading", "stale"];

/// The connection family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec("ping", -1, &["fast"], (0, 0, 0), G, "Returns the server's liveliness response.", "1.0.0", ping),
    spec("echo", 2, &["loading", "stale", "fast"], (0, 0, 0), G, "Returns the given string.", "1.0.0", echo),
    spec("hello", -1, NA, (0, 0, 0), G, "Handshakes with the Redis server.", "6.0.0", hello),
    spec("auth", -2, NA, (0, 0, 0), G, "Authenticates the connection.", "1.0.0", auth),
    spec("select", 2, &["loading", "stale", "fast"], (0, 0, 0), G, "Changes the selected database.", "1.0.0", select),
    spec("quit", -1, NA, (0, 0, 0), G, "Closes the connection.", "1.0.0", quit),
    spec("reset", 1, NA, (0, 0, 0), G, "Resets the connection.", "6.2.0", reset),
    container_row("client", G, "A container for client connection commands.", "2.4.0", CLIENT_SUBS),
];

fn ping(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if ctx.client.subscriptions > 0 && !ctx.out.resp3 && a.len() <= 2 {
        // RESP2 subscribe mode answers in the message shape.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(a.get(1).map_or(&b""[..], |b| &b[..]));
        return Ok(());
    }
    match a.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&a[1]),
        _ => return Err("ERR wrong number of arguments for 'ping' command".into()),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&a[1]);
    Ok(())
}

/// Checks `user`/`pass` against `requirepass` (only the `default` user exists).
fn check_credentials(ctx: &Ctx<'_>, user: &[u8], pass: &[u8]) -> bool {
    crate::auth::credentials_match(ctx.shared.config.read().requirepass.as_deref(), user, pass)
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(SYNTAX.into());
    }
    let (user, pass): (&[u8], &[u8]) = if a.len() == 2 {
        if ctx.shared.config.read().requirepass.is_none() {
            return Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into());
        }
        (b"default", &a[1])
    } else {
        (&a[1], &a[2])
    };
    if !check_credentials(ctx, user, pass) {
        return Err(WRONGPASS.into());
    }
    ctx.client.authenticated = true;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let mut ver = None;
    let mut j = 1;
    if a.len() >= 2 {
        let v = super::arg_i64(&a[1])
            .map_err(|_| CmdError::from("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err("NOPROTO unsupported protocol version".into());
        }
        ver = Some(v);
        j = 2;
    }
    let (mut creds, mut name) = (None, None);
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(&a[j], "auth") && more >= 2 {
            creds = Some((&a[j + 1], &a[j + 2]));
            j += 2;
        } else if is(&a[j], "setname") && more >= 1 {
            name = Some(&a[j + 1]);
            j += 1;
        } else {
            return Err(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&a[j])).into());
        }
        j += 1;
    }
    if let Some((u, p)) = creds {
        if !check_credentials(ctx, u, p) {
            return Err(WRONGPASS.into());
        }
        ctx.client.authenticated = true;
    }
    if ctx.client.needs_auth(ctx.shared) {
        return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
    }
    if let Some(n) = name {
        set_name(ctx, n)?;
    }
    if let Some(v) = ver {
        ctx.out.resp3 = v == 3;
        ctx.client.mailbox.resp3.store(v == 3, std::sync::atomic::Ordering::Relaxed);
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.handle.id as i64);
    out.bulk(b"mode");
    out.bulk(if ctx.shared.cluster.is_some() { b"cluster" } else { b"standalone" });
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let n = arg_i64(&a[1])?;
    if i32::try_from(n).is_err() {
        return Err(super::NOT_INT.into());
    }
    if ctx.shared.cluster.is_some() && n != 0 {
        return Err("ERR SELECT is not allowed in cluster mode".into());
    }
    if n < 0 || n as usize >= ctx.db().databases() {
        return Err("ERR DB index is out of range".into());
    }
    ctx.client.db = n as u32;
    ctx.out.ok();
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.out.ok();
    ctx.client.close = true;
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.client.tx.reset();
    ctx.client.db = 0;
    ctx.out.resp3 = false;
    ctx.client.mailbox.resp3.store(false, std::sync::atomic::Ordering::Relaxed);
    let id = ctx.client.handle.id;
    ctx.shared.db.tracking.disable(id);
    ctx.shared.db.tracking.pubsub.unsubscribe_all(id);
    ctx.client.tracking = None;
    ctx.client.caching = false;
    ctx.client.subscriptions = 0;
    ctx.client.subscribed = (0, 0, 0);
    // CLIENT REPLY and NO-EVICT go back to their defaults, as Redis's RESET does.
    ctx.client.hooks &= !(crate::connection::hook::REPLY_OFF | crate::connection::hook::REPLY_SKIP_NEXT);
    ctx.client.no_evict = false;
    ctx.client.monitoring = false;
    // READONLY and ASKING end too (Redis's clearClientConnectionState).
    ctx.client.cluster = 0;
    ctx.client.authenticated = !ctx.shared.auth_required();
    ctx.client.handle.meta.lock().name = Bytes::new();
    ctx.out.simple("RESET");
    Ok(())
}

fn client_id(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.client.handle.id as i64);
    Ok(())
}

fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn set_name(ctx: &mut Ctx<'_>, n: &Bytes) -> CmdResult {
    if !valid_name(n) {
        return Err("ERR Client names cannot contain spaces, newlines or special characters.".into());
    }
    ctx.client.handle.meta.lock().name = Bytes::copy_from_slice(n);
    Ok(())
}

fn client_setname(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    set_name(ctx, &a[2])?;
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let name = ctx.client.handle.meta.lock().name.clone();
    if name.is_empty() {
        ctx.out.null()
    } else {
        ctx.out.bulk(&name)
    }
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let attr = String::from_utf8_lossy(&a[2]).to_ascii_lowercase();
    if attr != "lib-name" && attr != "lib-ver" {
        return Err(format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(&a[2])).into());
    }
    if !valid_name(&a[3]) {
        return Err(format!("ERR {attr} cannot contain spaces, newlines or special characters.").into());
    }
    let mut m = ctx.client.handle.meta.lock();
    if attr == "lib-name" {
        m.lib_name = a[3].clone()
    } else {
        m.lib_ver = a[3].clone()
    }
    drop(m);
    ctx.out.ok();
    Ok(())
}

/// Redis's client types (`getClientTypeByName`); `None` for an unknown name.
fn client_type(name: &[u8]) -> Option<ClientType> {
    match String::from_utf8_lossy(name).to_ascii_lowercase().as_str() {
        "normal" => Some(ClientType::Normal),
        "pubsub" => Some(ClientType::PubSub),
        "slave" | "replica" | "master" => Some(ClientType::Replication),
        _ => None,
    }
}

/// A client's type for CLIENT LIST / KILL TYPE: no replication links exist here, so every
/// client is `normal` or (subscribed to something) `pubsub`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    PubSub,
    Replication,
}

fn type_of(c: &ClientHandle) -> ClientType {
    if c.meta.lock().flags & crate::connection::flag::PUBSUB != 0 { ClientType::PubSub } else { ClientType::Normal }
}

fn unknown_type(name: &[u8]) -> CmdError {
    format!("ERR Unknown client type '{}'", String::from_utf8_lossy(name)).into()
}

/// CLIENT LIST lines of `clients`, the caller's own line completed with what only its task
/// knows mid-batch (query buffer, arguments, this command as `cmd=`).
fn describe_clients(ctx: &mut Ctx<'_>, a: &[Bytes], clients: &[Arc<ClientHandle>]) -> String {
    let reg = super::registry();
    let me = ctx.client.handle.id;
    ctx.client.sync_meta();
    {
        let mut m = ctx.client.handle.meta.lock();
        m.resp = if ctx.out.resp3 { 3 } else { 2 };
        m.last_cmd = reg.entries.iter().position(|e| e.0 == ctx.name).unwrap_or(m.last_cmd);
    }
    let view = SelfView {
        qbuf: ctx.client.view.qbuf,
        qbuf_free: ctx.client.view.qbuf_free,
        argv_mem: a.iter().map(|x| x.len()).sum(),
        obl: ctx.out.buf.len(),
    };
    let mut text = String::new();
    for c in clients {
        let name = |i: usize| reg.entries.get(i).map_or("NULL", |e| e.0.as_str());
        text.push_str(&c.describe(name, (c.id == me).then_some(view)));
    }
    text
}

fn client_list(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let all: Vec<Arc<ClientHandle>> = {
        let mut v: Vec<_> = ctx.shared.clients.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    };
    let clients: Vec<Arc<ClientHandle>> = if a.len() == 4 && is(&a[2], "type") {
        let t = client_type(&a[3]).ok_or_else(|| unknown_type(&a[3]))?;
        all.into_iter().filter(|c| type_of(c) == t).collect()
    } else if a.len() > 3 && is(&a[2], "id") {
        let mut picked = Vec::new();
        for x in &a[3..] {
            let id = arg_i64(x).map_err(|_| CmdError::from("ERR Invalid client ID"))?;
            picked.extend(all.iter().filter(|c| c.id as i64 == id).cloned());
        }
        picked
    } else if a.len() != 2 {
        return Err(SYNTAX.into());
    } else {
        all
    };
    let text = describe_clients(ctx, a, &clients);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let me = ctx.client.handle.clone();
    let text = describe_clients(ctx, a, &[me]);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP: the connection loop drops the replies (see `connection::hook`).
fn client_reply(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    use crate::connection::hook::{REPLY_OFF, REPLY_SKIP, REPLY_SKIP_NEXT};
    let h = &mut ctx.client.hooks;
    if is(&a[2], "on") {
        *h &= !(REPLY_OFF | REPLY_SKIP | REPLY_SKIP_NEXT);
        ctx.out.ok();
    } else if is(&a[2], "off") {
        *h |= REPLY_OFF;
    } else if is(&a[2], "skip") {
        if *h & REPLY_OFF == 0 {
            *h |= REPLY_SKIP_NEXT;
        }
    } else {
        return Err(SYNTAX.into());
    }
    Ok(())
}

/// CLIENT NO-EVICT ON|OFF: kept and shown (flag `e`); clients are never evicted here, as no
/// `maxmemory-clients` budget exists.
fn client_no_evict(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ctx.client.no_evict = if is(&a[2], "on") {
        true
    } else if is(&a[2], "off") {
        false
    } else {
        return Err(SYNTAX.into());
    };
    ctx.out.ok();
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]: Redis's checks in Redis's order (mode, then timeout).
fn client_pause(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    use crate::pause::Mode;
    if a.len() > 4 {
        let sub = String::from_utf8_lossy(&a[1]);
        return Err(format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP.").into());
    }
    let mode = match a.get(3) {
        None => Mode::All,
        Some(m) if is(m, "write") => Mode::Write,
        Some(m) if is(m, "all") => Mode::All,
        Some(_) => return Err("ERR CLIENT PAUSE mode must be WRITE or ALL".into()),
    };
    let ms = arg_i64(&a[2]).map_err(|_| CmdError::from("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    ctx.shared.pause.pause(mode, ms as u64);
    ctx.out.ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.shared.pause.unpause();
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends a parked client's wait as a timeout (nil) or with
/// `-UNBLOCKED`; 1 if it was parked.
fn client_unblock(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let id = arg_i64(&a[2])?;
    let error = match a.get(3) {
        None => false,
        Some(m) if is(m, "timeout") => false,
        Some(m) if is(m, "error") => true,
        Some(_) => return Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into()),
    };
    if a.len() > 4 {
        return Err(SYNTAX.into());
    }
    let done = u64::try_from(id).is_ok_and(|id| ctx.shared.blocked.unblock(id, error));
    ctx.out.int(i64::from(done));
    Ok(())
}

fn client_kill(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() == 3 {
        let addr = String::from_utf8_lossy(&a[2]).into_owned();
        let n = ctx.shared.kill_clients(|c| c.addr.to_string() == addr, None);
        if n == 0 {
            return Err("ERR No such client".into());
        }
        ctx.out.ok();
        return Ok(());
    }
    let (mut id, mut addr, mut laddr, mut skipme, mut ctype) = (None, None, None, true, None);
    let mut i = 2;
    while i + 1 < a.len() {
        let v = &a[i + 1];
        if is(&a[i], "id") {
            match arg_i64(v) {
                Ok(n) if n > 0 => id = Some(n as u64),
                _ => return Err("ERR client-id should be greater than 0".into()),
            }
        } else if is(&a[i], "addr") {
            addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(&a[i], "laddr") {
            laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(&a[i], "skipme") {
            skipme = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return Err(SYNTAX.into());
            };
        } else if is(&a[i], "type") {
            ctype = Some(client_type(v).ok_or_else(|| unknown_type(v))?);
        } else if is(&a[i], "user") {
            // Only the default user exists: it matches every client.
            if !is(v, "default") {
                return Err(format!("ERR No such user '{}'", String::from_utf8_lossy(v)).into());
            }
        } else {
            return Err(SYNTAX.into());
        }
        i += 2;
    }
    if i != a.len() {
        return Err(SYNTAX.into());
    }
    let me = ctx.client.handle.id;
    let n = ctx.shared.kill_clients(
        |c| {
            id.is_none_or(|x| c.id == x)
                && addr.as_ref().is_none_or(|x| c.addr.to_string() == *x)
                && laddr.as_ref().is_none_or(|x| c.laddr.to_string() == *x)
                && ctype.is_none_or(|t| type_of(c) == t)
        },
        skipme.then_some(me),
    );
    ctx.out.int(n as i64);
    Ok(())
}

fn client_help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.simple_lines(LINES);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::{run_table, run_table_with};

    #[tokio::test]
    async fn connection_commands() {
        run_table(&[
            ("PING", "+PONG\r\n"),
            ("PING hi", "$2\r\nhi\r\n"),
            ("PING a b", "-ERR wrong number of arguments for 'ping' command\r\n"),
            ("ECHO x", "$1\r\nx\r\n"),
            ("NOSUCH a b", "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"),
            ("GET", "-ERR wrong number of arguments for 'get' command\r\n"),
            ("SELECT 16", "-ERR DB index is out of range\r\n"),
            ("SELECT -1", "-ERR DB index is out of range\r\n"),
            ("SELECT 2147483648", "-ERR value is not an integer or out of range\r\n"),
            ("SELECT x", "-ERR value is not an integer or out of range\r\n"),
            ("AUTH x", "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"),
            ("AUTH default x", "+OK\r\n"),
            ("AUTH bob x", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
            ("CLIENT ID", ":1\r\n"),
            ("CLIENT GETNAME", "$-1\r\n"),
            ("CLIENT SETNAME my-conn", "+OK\r\n"),
            ("CLIENT SETNAME \"a b\"", "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"),
            ("CLIENT GETNAME", "$7\r\nmy-conn\r\n"),
            ("CLIENT SETINFO lib-name redis-rs", "+OK\r\n"),
            ("CLIENT SETINFO foo x", "-ERR Unrecognized option 'foo'\r\n"),
            ("CLIENT FOO", "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"),
            ("CLIENT SETNAME", "-ERR wrong number of arguments for 'client|setname' command\r\n"),
            ("CLIENT INFO", "$...id=1 addr=127.0.0.1:"),
            ("CLIENT KILL 1.2.3.4:5", "-ERR No such client\r\n"),
            ("CLIENT KILL ID 999", ":0\r\n"),
            ("CLIENT KILL ID 0", "-ERR client-id should be greater than 0\r\n"),
            ("CLIENT KILL TYPE foo", "-ERR Unknown client type 'foo'\r\n"),
            ("CLIENT KILL USER nobody", "-ERR No such user 'nobody'\r\n"),
            ("CLIENT KILL TYPE master", ":0\r\n"),
            ("CLIENT KILL MAXAGE 1", "-ERR syntax error\r\n"),
            ("CLIENT LIST TYPE", "-ERR syntax error\r\n"),
            ("CLIENT LIST TYPE foo", "-ERR Unknown client type 'foo'\r\n"),
            ("CLIENT LIST TYPE pubsub", "$0\r\n\r\n"),
            ("CLIENT LIST ID abc", "-ERR Invalid client ID\r\n"),
            ("CLIENT LIST ID 0 7", "$0\r\n\r\n"),
            ("CLIENT LIST ID 1", "$...id=1 addr="),
            ("CLIENT NO-EVICT maybe", "-ERR syntax error\r\n"),
            ("CLIENT NO-EVICT on", "+OK\r\n"),
            ("CLIENT INFO", "$...flags=e db=0"),
            ("CLIENT PAUSE -1", "-ERR timeout is negative\r\n"),
            ("CLIENT PAUSE abc", "-ERR timeout is not an integer or out of range\r\n"),
            ("CLIENT PAUSE abc foo", "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"),
            ("CLIENT PAUSE 10 write x", "-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n"),
            ("CLIENT PAUSE 0 WRITE", "+OK\r\n"),
            ("CLIENT UNPAUSE", "+OK\r\n"),
            ("CLIENT REPLY foo", "-ERR syntax error\r\n"),
            ("CLIENT REPLY ON", "+OK\r\n"),
            ("CLIENT HELP", "*48\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n..."),
            ("HELLO 4", "-NOPROTO unsupported protocol version\r\n"),
            ("HELLO 3 FOO", "-ERR Syntax error in HELLO option 'FOO'\r\n"),
            ("HELLO 3", "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"),
            ("GET nokey", "_\r\n"),
            ("RESET", "+RESET\r\n"),
            ("GET nokey", "$-1\r\n"),
            ("QUIT", "+OK\r\n"),
        ])
        .await;
    }

    #[tokio::test]
    async fn requirepass() {
        run_table_with(
            |c| c.requirepass = Some("secret".into()),
            &[
                ("GET k", "-NOAUTH Authentication required.\r\n"),
                ("NOSUCH", "-ERR unknown command 'NOSUCH', with args beginning with: \r\n"),
                ("AUTH wrong", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
                ("HELLO 3", "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"),
                ("AUTH secret", "+OK\r\n"),
                ("GET k", "$-1\r\n"),
                ("RESET", "+RESET\r\n"),
                ("GET k", "-NOAUTH Authentication required.\r\n"),
                ("HELLO 2 AUTH default secret SETNAME x", "*14\r\n$6\r\nserver\r\n..."),
                ("CLIENT GETNAME", "$1\r\nx\r\n"),
            ],
        )
        .await;
    }
}
