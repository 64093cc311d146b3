//! Slot assignment: ADDSLOTS / DELSLOTS (and their RANGE forms), FLUSHSLOTS, and SETSLOT
//! IMPORTING / MIGRATING / STABLE / NODE, with Redis 7.0.15's checks in its order. Every change
//! goes through [`super::change`], so the table, nodes.conf and the other nodes hear of it.
//! SETSLOT NODE gives a slot we serve to another node only when the data path's slot index
//! counts no key left in it, as Redis refuses.

use super::{CmdResult, Ctx, change, cluster, slot_arg};
use crate::cluster::SLOTS;
use crate::cluster::state::State;
use bytes::Bytes;

/// Redis's `checkSlotAssignmentsOrReply` over `first..=last`: every slot must be free (adding) or
/// assigned (deleting), and named once.
fn check(st: &State, seen: &mut [bool], del: bool, first: usize, last: usize) -> CmdResult {
    for (s, seen) in seen.iter_mut().enumerate().take(last + 1).skip(first) {
        if del && st.owners[s].is_none() {
            return Err(format!("ERR Slot {s} is already unassigned").into());
        }
        if !del && st.owners[s].is_some() {
            return Err(format!("ERR Slot {s} is already busy").into());
        }
        if std::mem::replace(seen, true) {
            return Err(format!("ERR Slot {s} specified multiple times").into());
        }
    }
    Ok(())
}

/// ADDSLOTS / DELSLOTS / …RANGE: `ranges` are the parsed (first, last) pairs.
fn assign(ctx: &mut Ctx<'_>, a: &[Bytes], del: bool, range: bool) -> CmdResult {
    let c = cluster(ctx)?;
    if range && a.len() % 2 == 1 {
        return Err(format!("ERR wrong number of arguments for '{}' command", ctx.name).into());
    }
    change(&c, |st| -> CmdResult {
        let mut seen = vec![false; SLOTS];
        let step = if range { 2 } else { 1 };
        for pair in a[2..].chunks(step) {
            let first = slot_arg(&pair[0])?;
            let last = if range { slot_arg(&pair[1])? } else { first };
            if first > last {
                return Err(format!("ERR start slot number {first} is greater than end slot number {last}").into());
            }
            check(st, &mut seen, del, first, last)?;
        }
        let me = st.myself;
        for (s, _) in seen.iter().enumerate().filter(|(_, on)| **on) {
            if del {
                st.assign(s, None);
            } else {
                st.importing.remove(&(s as u16));
                st.assign(s, Some(me));
            }
        }
        Ok(())
    })?;
    ctx.out.ok();
    Ok(())
}

pub(super) fn addslots(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    assign(ctx, a, false, false)
}

pub(super) fn addslotsrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    assign(ctx, a, false, true)
}

pub(super) fn delslots(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    assign(ctx, a, true, false)
}

pub(super) fn delslotsrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    assign(ctx, a, true, true)
}

pub(super) fn flushslots(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    if ctx.shared.db.dbsize(0) != 0 {
        return Err("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.".into());
    }
    change(&c, |st| {
        let me = st.myself;
        for s in 0..SLOTS {
            if st.owners[s] == Some(me) {
                st.assign(s, None);
            }
        }
    });
    ctx.out.ok();
    Ok(())
}

const SETSLOT_SYNTAX: &str = "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP";

pub(super) fn setslot(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    // Keys of a slot, counted in db 0 as Redis's `countKeysInSlot` (cluster mode has one db).
    let db = &ctx.shared.db;
    let keys_in = |slot: u16| db.slot_index().map_or(0, |ix| ix.count(0, slot));
    change(&c, |st| -> CmdResult {
        if !st.me().is_primary() {
            return Err("ERR Please use SETSLOT only with masters.".into());
        }
        let slot = slot_arg(&a[2])?;
        let action = a[3].to_ascii_lowercase();
        let target = |st: &State, unknown: &str| {
            let name = String::from_utf8_lossy(&a[4]);
            let id = st.lookup(&a[4]).ok_or_else(|| format!("ERR {unknown} {name}"))?;
            if !st.nodes[&id].is_primary() {
                return Err("ERR Target node is not a master".to_string());
            }
            Ok(id)
        };
        let me = st.myself;
        let key = slot as u16;
        match (action.as_slice(), a.len()) {
            (b"migrating", 5) => {
                if st.owners[slot] != Some(me) {
                    return Err(format!("ERR I'm not the owner of hash slot {slot}").into());
                }
                let id = target(st, "I don't know about node")?;
                st.migrating.insert(key, id);
            }
            (b"importing", 5) => {
                if st.owners[slot] == Some(me) {
                    return Err(format!("ERR I'm already the owner of hash slot {slot}").into());
                }
                let id = target(st, "I don't know about node")?;
                st.importing.insert(key, id);
            }
            (b"stable", 4) => {
                st.migrating.remove(&key);
                st.importing.remove(&key);
            }
            (b"node", 5) => {
                let id = target(st, "Unknown node")?;
                // A slot we serve goes to another node only once its keys have left.
                if st.owners[slot] == Some(me) && id != me && keys_in(key) != 0 {
                    return Err(format!(
                        "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
                    )
                    .into());
                }
                if id != me {
                    st.migrating.remove(&key);
                }
                st.assign(slot, Some(id));
                if id == me && st.importing.remove(&key).is_some() {
                    // The claim must win over the source's: take a new epoch without agreement.
                    let (bumped, epoch) = st.bump_epoch();
                    if bumped {
                        tracing::info!(slot, epoch, "cluster: took a new config epoch for an imported slot");
                    }
                }
            }
            _ => return Err(SETSLOT_SYNTAX.into()),
        }
        st.dirty = true;
        st.broadcast = true;
        Ok(())
    })?;
    ctx.out.ok();
    Ok(())
}
