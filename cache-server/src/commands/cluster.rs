//! CLUSTER: the container row and its subcommands' table. The membership subcommands live in
//! `cluster/` (`view.rs`: what the node reports; `slots.rs`: slot assignment and migrations;
//! `members.rs`: MEET, FORGET, RESET, epochs, replicas), over the state of [`crate::cluster`].
//! KEYSLOT / COUNTKEYSINSLOT / GETKEYSINSLOT belong to the data path and join this table there.

pub mod keys;
mod members;
mod slots;
mod view;

use super::{CmdResult, CommandSpec, Ctx, container_row, spec};
use crate::cluster::Cluster;
use std::sync::Arc;

const G: &str = "cluster";
// `nondeterministic_output` is a tip, not a flag (see `command/tips.rs`).
const ADMIN: &[&str] = &["admin", "stale", "no_async_loading"];
const ADMIN_NOSCRIPT: &[&str] = &["admin", "noscript", "stale"];
const ADMIN_READ: &[&str] = &["admin", "stale"];
const STALE: &[&str] = &["stale"];
const HELP: &[&str] = &["loading", "stale"];

/// One row per line, sorted by name: other families add their rows without conflicts.
#[rustfmt::skip]
const SUBS: &[CommandSpec] = &[
    spec("addslots", -3, ADMIN, (0, 0, 0), G, "Assign new hash slots to receiving node", "3.0.0", slots::addslots),
    spec("addslotsrange", -4, ADMIN, (0, 0, 0), G, "Assign new hash slots to receiving node", "7.0.0", slots::addslotsrange),
    spec("bumpepoch", 2, ADMIN, (0, 0, 0), G, "Advance the cluster config epoch", "3.0.0", members::bumpepoch),
    spec("countkeysinslot", 3, STALE, (0, 0, 0), G, "Return the number of local keys in the specified hash slot", "3.0.0", keys::countkeysinslot),
    spec("count-failure-reports", 3, ADMIN_READ, (0, 0, 0), G, "Return the number of failure reports active for a given node", "3.0.0", members::count_failure_reports),
    spec("delslots", -3, ADMIN, (0, 0, 0), G, "Set hash slots as unbound in receiving node", "3.0.0", slots::delslots),
    spec("delslotsrange", -4, ADMIN, (0, 0, 0), G, "Set hash slots as unbound in receiving node", "7.0.0", slots::delslotsrange),
    spec("failover", -2, ADMIN, (0, 0, 0), G, "Forces a replica to perform a manual failover of its master.", "3.0.0", members::failover),
    spec("flushslots", 2, ADMIN, (0, 0, 0), G, "Delete a node's own slots information", "3.0.0", slots::flushslots),
    spec("forget", 3, ADMIN, (0, 0, 0), G, "Remove a node from the nodes table", "3.0.0", members::forget),
    spec("getkeysinslot", 4, STALE, (0, 0, 0), G, "Return local key names in the specified hash slot", "3.0.0", keys::getkeysinslot),
    spec("help", 2, HELP, (0, 0, 0), G, "Show helpful text about the different subcommands", "5.0.0", view::help),
    spec("info", 2, STALE, (0, 0, 0), G, "Provides info about Redis Cluster node state", "3.0.0", view::info),
    spec("keyslot", 3, STALE, (0, 0, 0), G, "Returns the hash slot of the specified key", "3.0.0", keys::keyslot),
    spec("links", 2, STALE, (0, 0, 0), G, "Returns a list of all TCP links to and from peer nodes in cluster", "7.0.0", view::links),
    spec("meet", -4, ADMIN, (0, 0, 0), G, "Force a node cluster to handshake with another node", "3.0.0", members::meet),
    spec("myid", 2, STALE, (0, 0, 0), G, "Return the node id", "3.0.0", view::myid),
    spec("nodes", 2, STALE, (0, 0, 0), G, "Get Cluster config for the node", "3.0.0", view::nodes),
    spec("replicas", 3, ADMIN_READ, (0, 0, 0), G, "List replica nodes of the specified master node", "5.0.0", members::replicas),
    spec("replicate", 3, ADMIN, (0, 0, 0), G, "Reconfigure a node as a replica of the specified master node", "3.0.0", members::replicate),
    spec("reset", -2, ADMIN_NOSCRIPT, (0, 0, 0), G, "Reset a Redis Cluster node", "3.0.0", members::reset),
    spec("saveconfig", 2, ADMIN, (0, 0, 0), G, "Forces the node to save cluster state on disk", "3.0.0", members::saveconfig),
    spec("set-config-epoch", 3, ADMIN, (0, 0, 0), G, "Set the configuration epoch in a new node", "3.0.0", members::set_config_epoch),
    spec("setslot", -4, ADMIN, (0, 0, 0), G, "Bind a hash slot to a specific node", "3.0.0", slots::setslot),
    spec("shards", 2, STALE, (0, 0, 0), G, "Get array of cluster slots to node mappings", "7.0.0", view::shards),
    spec("slaves", 3, ADMIN_READ, (0, 0, 0), G, "List replica nodes of the specified master node", "3.0.0", members::replicas),
    spec("slots", 2, STALE, (0, 0, 0), G, "Get array of Cluster slot to node mappings", "3.0.0", view::slots),
];

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[container_row("cluster", G, "A container for cluster commands", "3.0.0", SUBS)];

/// The node's cluster, or Redis's error for a server without `cluster-enabled yes`.
fn cluster(ctx: &Ctx<'_>) -> Result<Arc<Cluster>, super::CmdError> {
    ctx.shared.cluster.clone().ok_or_else(|| "ERR This instance has cluster support disabled".into())
}

/// A slot argument: Redis's `getSlotOrReply`.
fn slot_arg(a: &[u8]) -> Result<usize, super::CmdError> {
    std::str::from_utf8(a)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|s| (0..crate::cluster::SLOTS as i64).contains(s))
        .map(|s| s as usize)
        .ok_or_else(|| "ERR Invalid or out of range slot".into())
}

/// Runs `f` on the locked state, then publishes and persists what changed.
fn change<R>(c: &Cluster, f: impl FnOnce(&mut crate::cluster::state::State) -> R) -> R {
    let mut st = c.state.lock();
    let r = f(&mut st);
    c.commit(&mut st);
    r
}

#[cfg(test)]
mod tests;
