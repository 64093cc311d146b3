//! SAVE, BGSAVE \[SCHEDULE\] and LASTSAVE: the snapshot commands, over [`crate::persistence::save`]
//! (which owns when and how a snapshot is written). SHUTDOWN's save lives with SHUTDOWN
//! (`server.rs`). Replies and errors are Redis 7.0.15's (BGSAVE inside MULTI/EXEC is scheduled,
//! as there).

use super::{CmdResult, CommandSpec, Ctx, SYNTAX, is, spec};
use crate::persistence::save::{self, SaveError};
use bytes::Bytes;

const G: &str = "server";

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "save",
        1,
        &["admin", "noscript", "no_async_loading", "no_multi"],
        (0, 0, 0),
        G,
        "Synchronously save the dataset to disk",
        "1.0.0",
        save_cmd,
    ),
    spec(
        "bgsave",
        -1,
        &["admin", "noscript", "no_async_loading"],
        (0, 0, 0),
        G,
        "Asynchronously save the dataset to disk",
        "1.0.0",
        bgsave,
    ),
    spec(
        "lastsave",
        1,
        &["loading", "stale", "fast"],
        (0, 0, 0),
        G,
        "Get the UNIX time stamp of the last successful save to disk",
        "1.0.0",
        lastsave,
    ),
];

fn save_cmd(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let shared = ctx.shared;
    match ctx.long(usize::MAX, |_| save::save(shared)) {
        Ok(_) => ctx.out.ok(),
        Err(e @ SaveError::InProgress) => return Err(e.to_string().into()),
        // Redis replies a bare `-ERR` and logs the reason.
        Err(SaveError::Io { .. }) => return Err("ERR".into()),
    }
    Ok(())
}

fn bgsave(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let schedule = match a.get(1) {
        None => false,
        Some(s) if a.len() == 2 && is(s, "schedule") => true,
        Some(_) => return Err(SYNTAX.into()),
    };
    let shared = ctx.shared;
    if shared.persistence.busy() {
        if schedule {
            save::schedule(shared);
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(SaveError::InProgress.to_string().into());
    }
    // Inside EXEC, as Redis 7.0 does, the save is scheduled: it starts after EXEC (within 100 ms)
    // and includes the whole transaction. (Here it must: EXEC holds shard locks the copy needs.)
    if ctx.scope.is_some() {
        save::schedule(shared);
        ctx.out.simple("Background saving scheduled");
        return Ok(());
    }
    let keys = shared.db.len() as usize;
    match ctx.long(keys, |_| save::bgsave(shared)) {
        Ok(()) => ctx.out.simple("Background saving started"),
        Err(e @ SaveError::InProgress) => return Err(e.to_string().into()),
        Err(e @ SaveError::Io { .. }) => return Err(format!("ERR {e}").into()),
    }
    Ok(())
}

fn lastsave(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.shared.persistence.lastsave.load(std::sync::atomic::Ordering::Relaxed) as i64);
    Ok(())
}
