//! CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO: parse and validate a client's
//! client-side caching options with Redis 7.0's checks and error texts, then hand them to
//! [`crate::tracking::Tracking`]. The rows live in `connection.rs`'s CLIENT table; what happens
//! on reads and writes lives in the dispatcher and `tracking.rs`.

use super::{CmdResult, Ctx, SYNTAX, arg_i64, is};
use crate::tracking::Mode;
use bytes::Bytes;

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`.
pub fn client_tracking(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let mut mode = Mode::default();
    let mut prefixes = Vec::new();
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        if is(&a[j], "redirect") && more {
            j += 1;
            if mode.redirect != 0 {
                return Err("ERR A client can only redirect to a single other client".into());
            }
            let id = arg_i64(&a[j])?;
            if id <= 0 || ctx.db().tracking.mailbox(id as u64).is_none() {
                return Err("ERR The client ID you want redirect to does not exist".into());
            }
            mode.redirect = id as u64;
        } else if is(&a[j], "bcast") {
            mode.bcast = true;
        } else if is(&a[j], "optin") {
            mode.optin = true;
        } else if is(&a[j], "optout") {
            mode.optout = true;
        } else if is(&a[j], "noloop") {
            mode.noloop = true;
        } else if is(&a[j], "prefix") && more {
            j += 1;
            prefixes.push(a[j].clone());
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let id = ctx.client.handle.id;
    let tracking = &ctx.shared.db.tracking;
    if is(&a[2], "on") {
        if !mode.bcast && !prefixes.is_empty() {
            return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
        }
        if let Some(old) = &ctx.client.tracking {
            if old.bcast != mode.bcast {
                return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
            }
        }
        if mode.bcast && (mode.optin || mode.optout) {
            return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
        }
        if mode.optin && mode.optout {
            return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
        }
        if let Some(old) = &ctx.client.tracking {
            if (mode.optin && old.optout) || (mode.optout && old.optin) {
                return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
            }
        }
        if mode.bcast {
            if let Some(msg) = tracking.prefix_collision(id, &prefixes) {
                return Err(msg.into());
            }
        }
        tracking.enable(id, mode.clone(), &prefixes);
        let db = &ctx.shared.db;
        tracking.start_expiry_cycle(|| db.reclaim_expired_fn());
        ctx.client.tracking = Some(mode);
    } else if is(&a[2], "off") {
        tracking.disable(id);
        ctx.client.tracking = None;
        ctx.client.caching = false;
    } else {
        return Err(SYNTAX.into());
    }
    ctx.out.ok();
    Ok(())
}

/// `CLIENT CACHING YES|NO`: the next command is (OPTIN) or is not (OPTOUT) tracked.
pub fn client_caching(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let Some(mode) = &ctx.client.tracking else {
        return Err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled".into());
    };
    if is(&a[2], "yes") {
        if !mode.optin {
            return Err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.".into());
        }
    } else if is(&a[2], "no") {
        if !mode.optout {
            return Err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.".into());
        }
    } else {
        return Err(SYNTAX.into());
    }
    ctx.client.caching = true;
    ctx.out.ok();
    Ok(())
}

/// `CLIENT GETREDIR`: the REDIRECT id, 0 without one, -1 when tracking is off.
pub fn client_getredir(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let redir = ctx.client.tracking.as_ref().map_or(-1, |m| m.redirect as i64);
    ctx.out.int(redir);
    Ok(())
}

/// `CLIENT TRACKINGINFO`: flags (a set), redirect, prefixes — in Redis's order.
pub fn client_trackinginfo(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let info = ctx.shared.db.tracking.info(ctx.client.handle.id);
    let mut flags: Vec<&str> = Vec::new();
    match &info.mode {
        None => flags.push("off"),
        Some(m) => {
            flags.push("on");
            if m.bcast {
                flags.push("bcast");
            }
            if m.optin {
                flags.push("optin");
                if ctx.client.caching {
                    flags.push("caching-yes");
                }
            }
            if m.optout {
                flags.push("optout");
                if ctx.client.caching {
                    flags.push("caching-no");
                }
            }
            if m.noloop {
                flags.push("noloop");
            }
            if info.broken_redirect {
                flags.push("broken_redirect");
            }
        }
    }
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(info.mode.as_ref().map_or(-1, |m| m.redirect as i64));
    out.bulk(b"prefixes");
    out.bulks(&info.prefixes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::{encode, read_reply};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// Memcached writes share the keyspace, so they invalidate what a RESP3 client tracks.
    #[tokio::test]
    async fn memcached_writes_invalidate_tracked_keys() {
        let resp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (raddr, maddr) = (resp.local_addr().unwrap(), mc.local_addr().unwrap());
        tokio::spawn(crate::run_with(crate::Config::default(), resp, Some(mc), std::future::pending()));
        let mut r = TcpStream::connect(raddr).await.unwrap();
        let mut buf = Vec::new();
        for line in ["HELLO 3", "CLIENT TRACKING on", "GET mk", "GET other"] {
            r.write_all(&encode(line)).await.unwrap();
            read_reply(&mut r, &mut buf).await;
        }
        let mut m = TcpStream::connect(maddr).await.unwrap();
        m.write_all(b"set mk 0 0 1\r\nx\r\nset other2 0 0 1\r\ny\r\ndelete other\r\n").await.unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"STORED\r\nSTORED\r\nNOT_FOUND\r\n") {
            let mut chunk = [0u8; 256];
            let n = m.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&chunk[..n]);
        }
        r.write_all(&encode("PING")).await.unwrap();
        assert_eq!(read_reply(&mut r, &mut buf).await, b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nmk\r\n");
        assert_eq!(read_reply(&mut r, &mut buf).await, b"+PONG\r\n");
    }
}
