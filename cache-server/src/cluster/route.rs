//! The redirect check: may this node run a command on its keys, or must the client go elsewhere?
//! Redis's `getNodeByQuery` (cluster.c) and its call in `processCommand`, in the same order:
//!
//! ```text
//!   keys of the command (of every queued command, for EXEC) ── none ──► run here
//!     │ first key's slot unassigned ─────────────────────────► -CLUSTERDOWN Hash slot not served
//!     │ a key in another slot ───────────────────────────────► -CROSSSLOT
//!     │ cluster state not ok (reads-when-down: writes only;
//!     │   shard channels stay served) ───────────────────────► -CLUSTERDOWN The cluster is down…
//!     │ MIGRATE on a migrating / importing slot ─────────────► run here
//!     │ slot MIGRATING here, some key missing ── some found ─► -TRYAGAIN
//!     │                                       └─ none found ─► -ASK slot target
//!     │ slot IMPORTING, ASKING (or RESTORE-ASKING) ── multi-key with one missing ► -TRYAGAIN
//!     │                                            └─ otherwise ─► run here
//!     └ owner is another node ───────────────────────────────► -MOVED slot owner
//! ```
//!
//! Only the dispatcher calls it, and only when `Shared::cluster` is set. It reads the
//! [`Table`] under its read lock and looks keys up without touching them (no hit, miss, LRU or
//! notification), as Redis's `LOOKUP_NOTOUCH | LOOKUP_NONOTIFY` lookups do.

use super::slot::key_slot;
use super::{Owner, Table};
use crate::commands::command::getkeys;
use crate::commands::{CommandSpec, Registry};
use crate::connection::ClientState;
use crate::server::Shared;
use bytes::Bytes;

/// [`ClientState::cluster`] bit: ASKING ran (it lasts one command, or one transaction).
pub const ASKING: u8 = 1;
/// [`ClientState::cluster`] bit: READONLY ran (reads may be served by a replica).
pub const READONLY: u8 = 2;

/// Why a command is not run here: the error reply, in Redis's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// `-CROSSSLOT`.
    CrossSlot,
    /// `-TRYAGAIN`: a multi-key request on a slot being migrated, with some keys missing.
    TryAgain,
    /// `-CLUSTERDOWN The cluster is down`.
    Down,
    /// `-CLUSTERDOWN … only accepts read commands` (`cluster-allow-reads-when-down yes`).
    DownReadOnly,
    /// `-CLUSTERDOWN Hash slot not served`.
    Unbound,
    /// `-MOVED slot host:port`.
    Moved(u16, String),
    /// `-ASK slot host:port`.
    Ask(u16, String),
}

impl Redirect {
    /// The error text (without the leading `-`).
    pub fn message(&self) -> String {
        match self {
            Self::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Self::TryAgain => "TRYAGAIN Multiple keys request during rehashing of slot".into(),
            Self::Down => "CLUSTERDOWN The cluster is down".into(),
            Self::DownReadOnly => "CLUSTERDOWN The cluster is down and only accepts read commands".into(),
            Self::Unbound => "CLUSTERDOWN Hash slot not served".into(),
            Self::Moved(slot, to) => format!("MOVED {slot} {to}"),
            Self::Ask(slot, to) => format!("ASK {slot} {to}"),
        }
    }
}

/// One command of the request as the check sees it.
struct Cmd<'a> {
    full: &'a str,
    spec: &'static CommandSpec,
    args: &'a [Bytes],
}

/// Decides whether `full` (`args`) may run on this node; `Err` is the redirection to reply. Also
/// consumes the connection's ASKING flag as Redis does after each command (outside MULTI, and
/// but for ASKING itself).
pub fn check(
    shared: &Shared,
    table: &Table,
    client: &mut ClientState,
    reg: &'static Registry,
    idx: usize,
    args: &[Bytes],
) -> Result<(), Redirect> {
    let full = reg.entries[idx].0.as_str();
    let asking = client.cluster & ASKING != 0;
    let in_multi = client.tx.in_multi();
    let keeps_asking = full == "asking" || full == "multi" || (in_multi && full != "exec" && full != "discard");
    if asking && !keeps_asking {
        client.cluster &= !ASKING;
    }
    let one = [Cmd { full, spec: reg.entries[idx].1, args }];
    let queued: Vec<Cmd<'_>>;
    let cmds: &[Cmd<'_>] = if full == "exec" {
        if !in_multi {
            return Ok(());
        }
        queued = client
            .tx
            .queued()
            .map(|(i, a)| Cmd { full: reg.entries[i].0.as_str(), spec: reg.entries[i].1, args: a })
            .collect();
        &queued
    } else {
        &one
    };
    decide(table, cmds, asking, |key| shared.db.peek(client.db, key, shared.db.clock.now_ms()).is_some()).map(drop)
}

/// The cluster check of a command a script runs (Redis's `scriptVerifyClusterState`): its keys
/// must be served here, and — unless the script may cross slots (`allow-cross-slot-keys`, or an
/// EVAL without shebang) — be in the slot of the script's first key (declared, or else the
/// first one it touched: `slot`). `flags` are the calling connection's ([`ASKING`]); `exists`
/// looks a key up under the script's locks. The error is the text Redis raises in the script.
pub fn script_check(
    table: &Table,
    flags: u8,
    cmd: (&str, &'static CommandSpec, &[Bytes]),
    slot: &mut Option<u16>,
    cross_slot: bool,
    exists: impl FnMut(&[u8]) -> bool,
) -> Result<(), &'static str> {
    let one = [Cmd { full: cmd.0, spec: cmd.1, args: cmd.2 }];
    match decide(table, &one, flags & ASKING != 0, exists) {
        Err(Redirect::DownReadOnly) => {
            Err("ERR Script attempted to execute a write command while the cluster is down and readonly")
        }
        Err(Redirect::Down) => Err("ERR Script attempted to execute a command while the cluster is down"),
        Err(_) => Err("ERR Script attempted to access a non local key in a cluster node"),
        Ok(Some(s)) if !cross_slot => match slot {
            Some(first) if *first != s => Err("ERR Script attempted to access keys that do not hash to the same slot"),
            _ => {
                *slot = Some(s);
                Ok(())
            }
        },
        Ok(_) => Ok(()),
    }
}

/// The decision of [`check`] over the commands of a request (one, or EXEC's queue): the slot of
/// their keys (`None`: no keys) when they run here. `exists` looks a key up here.
fn decide(
    table: &Table,
    cmds: &[Cmd<'_>],
    asking: bool,
    mut exists: impl FnMut(&[u8]) -> bool,
) -> Result<Option<u16>, Redirect> {
    let mut first: Option<(&Bytes, u16)> = None;
    let (mut migrating, mut importing, mut multiple) = (false, false, false);
    let (mut missing, mut existing) = (0usize, 0usize);
    let (mut writes, mut restore_asking, mut migrate) = (false, false, false);
    // Shard channels (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE) route like keys, but are never looked
    // up, and `cluster-allow-pubsubshard-when-down` (default yes) keeps them served when down.
    let mut shard_channels = false;
    for cmd in cmds {
        writes |= cmd.spec.has("write");
        let positions = match cmd.full {
            "spublish" => vec![1],
            "ssubscribe" | "sunsubscribe" => (1..cmd.args.len()).collect(),
            _ if !getkeys::has_keys(cmd.full, cmd.spec) => continue,
            _ => getkeys::positions(cmd.full, cmd.spec, cmd.args).unwrap_or_default(),
        };
        shard_channels |= matches!(cmd.full, "spublish" | "ssubscribe" | "sunsubscribe") && !positions.is_empty();
        restore_asking |= cmd.full == "restore-asking";
        migrate |= cmd.full == "migrate";
        for p in positions {
            let Some(key) = cmd.args.get(p) else { continue };
            match first {
                None => {
                    let slot = key_slot(key);
                    first = Some((key, slot));
                    match table.owners[usize::from(slot)] {
                        Owner::Unassigned => return Err(Redirect::Unbound),
                        Owner::Me if table.migrating.contains_key(&slot) => migrating = true,
                        _ => importing = table.importing.contains_key(&slot),
                    }
                }
                Some((k, slot)) => {
                    if k != key {
                        if key_slot(key) != slot {
                            return Err(Redirect::CrossSlot);
                        }
                        multiple = true;
                    }
                }
            }
            if (migrating || importing) && !shard_channels {
                if exists(key) { existing += 1 } else { missing += 1 }
            }
        }
    }
    let Some((_, slot)) = first else { return Ok(None) };
    if !table.ok && !shard_channels {
        if !table.reads_when_down {
            return Err(Redirect::Down);
        }
        if writes {
            return Err(Redirect::DownReadOnly);
        }
    }
    if (migrating || importing) && migrate {
        return Ok(Some(slot));
    }
    let endpoint = |node: u16| table.endpoint(node).map(ToString::to_string);
    if migrating && missing > 0 {
        if existing > 0 {
            return Err(Redirect::TryAgain);
        }
        if let Some(to) = table.migrating.get(&slot).and_then(|&n| endpoint(n)) {
            return Err(Redirect::Ask(slot, to));
        }
    }
    if importing && (asking || restore_asking) {
        return if multiple && missing > 0 { Err(Redirect::TryAgain) } else { Ok(Some(slot)) };
    }
    match table.owners[usize::from(slot)] {
        Owner::Node(n) => match endpoint(n) {
            Some(to) => Err(Redirect::Moved(slot, to)),
            None => Err(Redirect::Unbound),
        },
        _ => Ok(Some(slot)),
    }
}

/// How often a parked client's slot is checked (Redis checks its blocked clients from its
/// clients cron, about every 100 ms).
const BLOCKED_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits for a parked client's outcome as [`crate::blocking::Registry::wait`] does, and ends the
/// wait with a redirection if its keys' slot stops being served here meanwhile (resharding, a
/// failover, the cluster going down): a BLPOP would otherwise wait for a push that can never
/// reach this node.
pub async fn wait_or_redirect(
    cluster: &super::Cluster,
    registry: &crate::blocking::Registry,
    w: &std::sync::Arc<crate::blocking::Waiter>,
) -> crate::blocking::Outcome {
    let waiting = registry.wait(w);
    tokio::pin!(waiting);
    let mut tick = tokio::time::interval(BLOCKED_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            outcome = &mut waiting => return outcome,
            _ = tick.tick() => {
                let redirect = blocked_redirect(&cluster.table(), &w.request.keys);
                if let Some(r) = redirect {
                    // Lost to a serve or a timeout that came first: that outcome stands.
                    registry.end(w, crate::blocking::Outcome::Redirected(r.message()));
                }
            }
        }
    }
}

/// The redirection for a client parked on `keys` (all in one slot, so the first decides), if
/// this node no longer serves them: Redis's `clusterRedirectBlockedClientIfNeeded`.
pub fn blocked_redirect(table: &Table, keys: &[Bytes]) -> Option<Redirect> {
    if !table.ok {
        return Some(Redirect::Down);
    }
    let slot = key_slot(keys.first()?);
    if table.importing.contains_key(&slot) {
        return None;
    }
    match table.owners[usize::from(slot)] {
        Owner::Me => None,
        Owner::Unassigned => Some(Redirect::Unbound),
        Owner::Node(n) => Some(table.endpoint(n).map_or(Redirect::Unbound, |e| Redirect::Moved(slot, e.to_string()))),
    }
}

#[cfg(test)]
mod tests;
