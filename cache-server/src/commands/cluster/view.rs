//! What a node reports of the cluster: INFO, MYID, NODES, SLOTS, SHARDS, LINKS and HELP, in
//! Redis 7.0.15's shapes (RESP2 and RESP3: SLOTS' per-node metadata is an empty map in RESP3,
//! SHARDS' and LINKS' entries are maps). These only read the state.

use super::{CmdResult, Ctx, cluster};
use crate::cluster::nodes_conf;
use crate::cluster::state::{Node, State, ranges};
use bytes::Bytes;
use std::fmt::Write as _;

pub(super) fn help(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ADDSLOTS <slot> [<slot> ...]",
        "    Assign slots to current node.",
        "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Assign slots which are between <start-slot> and <end-slot> to current node.",
        "BUMPEPOCH",
        "    Advance the cluster config epoch.",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return number of failure reports for <node-id>.",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "DELSLOTS <slot> [<slot> ...]",
        "    Delete slots information from current node.",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
        "FAILOVER [FORCE|TAKEOVER]",
        "    Promote current replica node to being a master.",
        "FORGET <node-id>",
        "    Remove a node from the cluster.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "FLUSHSLOTS",
        "    Delete current node own slots information.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MEET <ip> <port> [<bus-port>]",
        "    Connect nodes into a working cluster.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICATE <node-id>",
        "    Configure current node as replica to <node-id>.",
        "RESET [HARD|SOFT]",
        "    Reset current node (default: soft).",
        "SET-CONFIG-EPOCH <epoch>",
        "    Set config epoch of current node.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
        "    Set slot state.",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SAVECONFIG",
        "    Force saving cluster configuration on disk.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "LINKS",
        "    Return information about all network links between this node and its peers.",
        "    Output format is an array where each array element is a map containing attributes of a link",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.simple_lines(LINES);
    Ok(())
}

/// CLUSTER INFO's text (`\r\n` line ends, as Redis).
pub(crate) fn info_text(st: &State) -> String {
    let assigned = st.owners.iter().filter(|o| o.is_some()).count();
    let (mut pfail, mut fail) = (0, 0);
    for o in st.owners.iter().flatten() {
        match st.nodes.get(o) {
            Some(n) if n.failed() => fail += 1,
            Some(n) if n.pfail => pfail += 1,
            _ => {}
        }
    }
    let me = st.me();
    let my_epoch = me.replica_of.and_then(|p| st.nodes.get(&p)).map_or(me.config_epoch, |p| p.config_epoch);
    let mut s = String::new();
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(s, "{k}:{v}\r\n");
    };
    line("cluster_state", &if st.ok { "ok" } else { "fail" });
    line("cluster_slots_assigned", &assigned);
    line("cluster_slots_ok", &(assigned - pfail - fail));
    line("cluster_slots_pfail", &pfail);
    line("cluster_slots_fail", &fail);
    line("cluster_known_nodes", &st.nodes.len());
    line("cluster_size", &st.size());
    line("cluster_current_epoch", &st.current_epoch);
    line("cluster_my_epoch", &my_epoch);
    const KINDS: &[&str] = &["ping", "pong", "meet", "fail", "update"];
    for (dir, counts) in [("sent", &st.stats.sent), ("received", &st.stats.received)] {
        for k in KINDS {
            if let Some(n) = counts.get(k).filter(|n| **n > 0) {
                line(&format!("cluster_stats_messages_{k}_{dir}"), n);
            }
        }
        line(&format!("cluster_stats_messages_{dir}"), &counts.values().sum::<u64>());
    }
    line("total_cluster_links_buffer_limit_exceeded", &0);
    s
}

pub(super) fn info(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let text = info_text(&c.state.lock());
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

pub(super) fn myid(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let id = c.state.lock().myself;
    ctx.out.bulk(&id.0);
    Ok(())
}

pub(super) fn nodes(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let text = nodes_conf::describe(&c.state.lock(), false);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// One node of a SLOTS entry: ip, port, id and the (empty) metadata.
fn slots_node(ctx: &mut Ctx<'_>, n: &Node) {
    ctx.out.array(4);
    ctx.out.bulk(n.ip.as_bytes());
    ctx.out.int(i64::from(n.port));
    ctx.out.bulk(&n.id.0);
    ctx.out.map(0);
}

pub(super) fn slots(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let st = c.state.lock();
    let mut runs: Vec<(usize, usize, &Node)> = Vec::new();
    for (slot, owner) in st.owners.iter().enumerate() {
        let Some(n) = owner.and_then(|o| st.nodes.get(&o)) else { continue };
        match runs.last_mut() {
            Some(r) if r.1 + 1 == slot && r.2.id == n.id => r.1 = slot,
            _ => runs.push((slot, slot, n)),
        }
    }
    ctx.out.array(runs.len());
    for (a, b, n) in runs {
        let replicas: Vec<&Node> = st.nodes.values().filter(|r| r.replica_of == Some(n.id) && !r.failed()).collect();
        ctx.out.array(3 + replicas.len());
        ctx.out.int(a as i64);
        ctx.out.int(b as i64);
        slots_node(ctx, n);
        for r in replicas {
            slots_node(ctx, r);
        }
    }
    Ok(())
}

/// One node of a SHARDS entry.
fn shard_node(ctx: &mut Ctx<'_>, n: &Node) {
    ctx.out.map(7);
    ctx.out.bulk(b"id");
    ctx.out.bulk(&n.id.0);
    ctx.out.bulk(b"port");
    ctx.out.int(i64::from(n.port));
    ctx.out.bulk(b"ip");
    ctx.out.bulk(n.ip.as_bytes());
    ctx.out.bulk(b"endpoint");
    ctx.out.bulk(n.ip.as_bytes());
    ctx.out.bulk(b"role");
    ctx.out.bulk(if n.is_primary() { b"master" } else { b"replica" });
    ctx.out.bulk(b"replication-offset");
    ctx.out.int(0);
    ctx.out.bulk(b"health");
    ctx.out.bulk(if n.failed() { b"fail" } else { b"online" });
}

pub(super) fn shards(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let st = c.state.lock();
    let primaries: Vec<&Node> = st.nodes.values().filter(|n| n.is_primary()).collect();
    ctx.out.array(primaries.len());
    for p in primaries {
        let runs = ranges(|s| st.owners[s] == Some(p.id));
        ctx.out.map(2);
        ctx.out.bulk(b"slots");
        ctx.out.array(runs.len() * 2);
        for (a, b) in runs {
            ctx.out.int(a as i64);
            ctx.out.int(b as i64);
        }
        ctx.out.bulk(b"nodes");
        let replicas: Vec<&Node> = st.nodes.values().filter(|r| r.replica_of == Some(p.id)).collect();
        ctx.out.array(1 + replicas.len());
        shard_node(ctx, p);
        for r in replicas {
            shard_node(ctx, r);
        }
    }
    Ok(())
}

pub(super) fn links(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let st = c.state.lock();
    let mut links: Vec<(&str, &Node, u64)> = Vec::new();
    for n in st.nodes.values().filter(|n| n.id != st.myself) {
        if n.link_up {
            links.push(("to", n, n.link_since));
        }
        if let Some(&since) = st.inbound.get(&n.id) {
            links.push(("from", n, since));
        }
    }
    ctx.out.array(links.len());
    for (direction, n, since) in links {
        ctx.out.map(6);
        ctx.out.bulk(b"direction");
        ctx.out.bulk(direction.as_bytes());
        ctx.out.bulk(b"node");
        ctx.out.bulk(&n.id.0);
        ctx.out.bulk(b"create-time");
        ctx.out.int(since as i64);
        ctx.out.bulk(b"events");
        ctx.out.bulk(b"r");
        ctx.out.bulk(b"send-buffer-allocated");
        ctx.out.int(0);
        ctx.out.bulk(b"send-buffer-used");
        ctx.out.int(0);
    }
    Ok(())
}
