//! The data path's cluster commands: CLUSTER KEYSLOT / COUNTKEYSINSLOT / GETKEYSINSLOT (rows of
//! the CLUSTER container in `commands/cluster.rs`) and the connection flags ASKING, READONLY, READWRITE
//! ([`COMMANDS`]), read by the redirect check ([`crate::cluster::route`]). Every one answers
//! `-ERR This instance has cluster support disabled` on a server without `cluster-enabled yes`,
//! as Redis does; KEYSLOT and the slot counts read [`crate::cluster::slot`] and the per-slot key
//! index ([`crate::cluster::index`]).

use crate::cluster::route::{ASKING, READONLY};
use crate::cluster::slot::key_slot;
use crate::commands::{CmdError, CmdResult, CommandSpec, Ctx, arg_i64, spec};
use bytes::Bytes;

const G: &str = "cluster";

/// Redis's reply to a cluster command on a server without cluster mode.
pub const DISABLED: &str = "ERR This instance has cluster support disabled";

/// Top-level rows: ASKING, READONLY, READWRITE.
pub const COMMANDS: &[CommandSpec] = &[
    spec("asking", 1, &["fast"], (0, 0, 0), G, "Sent by cluster clients after an -ASK redirect", "3.0.0", asking),
    spec(
        "readonly",
        1,
        &["loading", "stale", "fast"],
        (0, 0, 0),
        G,
        "Enables read queries for a connection to a cluster replica node",
        "3.0.0",
        readonly,
    ),
    spec(
        "readwrite",
        1,
        &["loading", "stale", "fast"],
        (0, 0, 0),
        G,
        "Disables read queries for a connection to a cluster replica node",
        "3.0.0",
        readwrite,
    ),
];

fn enabled(ctx: &Ctx<'_>) -> Result<(), CmdError> {
    if ctx.shared.cluster.is_some() { Ok(()) } else { Err(DISABLED.into()) }
}

fn flag(ctx: &mut Ctx<'_>, set: u8, clear: u8) -> CmdResult {
    enabled(ctx)?;
    ctx.client.cluster = (ctx.client.cluster | set) & !clear;
    ctx.out.simple("OK");
    Ok(())
}

fn asking(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    flag(ctx, ASKING, 0)
}

fn readonly(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    flag(ctx, READONLY, 0)
}

fn readwrite(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    flag(ctx, 0, READONLY)
}

pub(super) fn keyslot(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    enabled(ctx)?;
    ctx.out.int(i64::from(key_slot(&a[2])));
    Ok(())
}

fn slot_arg(a: &[u8], err: &'static str) -> Result<u16, CmdError> {
    u16::try_from(arg_i64(a)?).ok().filter(|&s| usize::from(s) < crate::cluster::SLOTS).ok_or_else(|| err.into())
}

pub(super) fn countkeysinslot(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    enabled(ctx)?;
    let slot = slot_arg(&a[2], "ERR Invalid slot")?;
    let n = ctx.shared.db.slot_index().map_or(0, |ix| ix.count(ctx.client.db, slot));
    ctx.out.int(n as i64);
    Ok(())
}

pub(super) fn getkeysinslot(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    enabled(ctx)?;
    const BAD: &str = "ERR Invalid slot or number of keys";
    let slot = arg_i64(&a[2])?;
    let max = arg_i64(&a[3])?;
    if !(0..crate::cluster::SLOTS as i64).contains(&slot) || max < 0 {
        return Err(BAD.into());
    }
    let keys =
        ctx.shared.db.slot_index().map(|ix| ix.keys(ctx.client.db, slot as u16, max as usize)).unwrap_or_default();
    ctx.out.bulks(&keys);
    Ok(())
}
