//! Membership commands: MEET (the bus does the handshake), FORGET, RESET, SET-CONFIG-EPOCH,
//! BUMPEPOCH, COUNT-FAILURE-REPORTS, SAVECONFIG, and the replica commands' error paths
//! (REPLICATE, REPLICAS / SLAVES, FAILOVER): nodes are all primaries until replication between
//! cluster nodes exists, so REPLICATE fails after Redis's own checks pass.

use super::{CmdResult, Ctx, change, cluster};
use crate::cluster::state::{NodeId, now_ms};
use crate::cluster::{SLOTS, nodes_conf};
use crate::commands::NOT_INT;
use bytes::Bytes;

/// How long a forgotten node may not come back through gossip (Redis: 60 s).
const FORGET_TTL_MS: u64 = 60_000;

pub(super) fn meet(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    if a.len() > 5 {
        return Err("ERR unknown subcommand or wrong number of arguments for 'meet'. Try CLUSTER HELP.".into());
    }
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let port: i64 = text(&a[3]).parse().map_err(|_| format!("ERR Invalid TCP base port specified: {}", text(&a[3])))?;
    let cport: i64 = match a.get(4) {
        Some(b) => text(b).parse().map_err(|_| format!("ERR Invalid TCP bus port specified: {}", text(b)))?,
        None => port + 10_000,
    };
    let ip = text(&a[2]);
    let valid = ip.parse::<std::net::IpAddr>().is_ok() && (1..=65535).contains(&port) && (1..=65535).contains(&cport);
    if !valid {
        return Err(format!("ERR Invalid node address specified: {ip}:{}", text(&a[3])).into());
    }
    change(&c, |st| st.meets.push((ip, port as u16, cport as u16)));
    ctx.out.ok();
    Ok(())
}

pub(super) fn forget(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    change(&c, |st| {
        let id = st.lookup(&a[2]).ok_or_else(|| format!("ERR Unknown node {}", String::from_utf8_lossy(&a[2])))?;
        if id == st.myself {
            return Err("ERR I tried hard but I can't forget myself...".to_string());
        }
        if st.me().replica_of == Some(id) {
            return Err("ERR Can't forget my master!".to_string());
        }
        st.forgotten.insert(id, now_ms() + FORGET_TTL_MS);
        st.remove_node(&id);
        Ok(())
    })?;
    ctx.out.ok();
    Ok(())
}

pub(super) fn reset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    if a.len() > 3 {
        return Err("ERR unknown subcommand or wrong number of arguments for 'reset'. Try CLUSTER HELP.".into());
    }
    let hard = match a.get(2).map(|w| w.to_ascii_lowercase()) {
        None => false,
        Some(w) if w == b"hard" => true,
        Some(w) if w == b"soft" => false,
        Some(_) => return Err(crate::commands::SYNTAX.into()),
    };
    if c.state.lock().me().is_primary() && ctx.shared.db.dbsize(0) != 0 {
        return Err("ERR CLUSTER RESET can't be called with master nodes containing keys".into());
    }
    change(&c, |st| {
        st.migrating.clear();
        st.importing.clear();
        for s in 0..SLOTS {
            st.assign(s, None);
        }
        let me = st.myself;
        let others: Vec<NodeId> = st.nodes.keys().filter(|id| **id != me).copied().collect();
        for id in others {
            st.remove_node(&id);
        }
        st.me_mut().replica_of = None;
        if hard {
            st.current_epoch = 0;
            st.last_vote_epoch = 0;
            let mut n = st.nodes.remove(&me).expect("myself is known");
            n.id = NodeId::random();
            n.config_epoch = 0;
            st.myself = n.id;
            st.nodes.insert(n.id, n);
            tracing::info!("cluster: hard reset, I'm now {}", st.myself);
        }
        st.dirty = true;
    });
    ctx.out.ok();
    Ok(())
}

pub(super) fn set_config_epoch(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let epoch: i64 = std::str::from_utf8(&a[2]).ok().and_then(|s| s.parse().ok()).ok_or(NOT_INT)?;
    change(&c, |st| {
        if epoch < 0 {
            return Err(format!("ERR Invalid config epoch specified: {epoch}"));
        }
        if st.nodes.len() > 1 {
            return Err(
                "ERR The user can assign a config epoch only when the node does not know any other node.".into()
            );
        }
        if st.me().config_epoch != 0 {
            return Err("ERR Node config epoch is already non-zero".into());
        }
        st.me_mut().config_epoch = epoch as u64;
        st.observe_epoch(epoch as u64);
        st.dirty = true;
        st.broadcast = true;
        Ok(())
    })?;
    ctx.out.ok();
    Ok(())
}

pub(super) fn bumpepoch(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let (bumped, epoch) = change(&c, |st| st.bump_epoch());
    ctx.out.simple(&format!("{} {epoch}", if bumped { "BUMPED" } else { "STILL" }));
    Ok(())
}

pub(super) fn count_failure_reports(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let st = c.state.lock();
    let id = st.lookup(&a[2]).ok_or_else(|| format!("ERR Unknown node {}", String::from_utf8_lossy(&a[2])))?;
    let n = st.valid_reports(&id, now_ms());
    drop(st);
    ctx.out.int(n as i64);
    Ok(())
}

pub(super) fn saveconfig(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let mut st = c.state.lock();
    nodes_conf::save(&mut st).map_err(|e| format!("ERR error saving the cluster node config: {e}"))?;
    drop(st);
    ctx.out.ok();
    Ok(())
}

pub(super) fn replicate(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let st = c.state.lock();
    let id = st.lookup(&a[2]).ok_or_else(|| format!("ERR Unknown node {}", String::from_utf8_lossy(&a[2])))?;
    if id == st.myself {
        return Err("ERR Can't replicate myself".into());
    }
    if !st.nodes[&id].is_primary() {
        return Err("ERR I can only replicate a master, not a replica.".into());
    }
    if st.me().is_primary() && (st.count_slots(&st.myself) != 0 || ctx.shared.db.dbsize(0) != 0) {
        return Err("ERR To set a master the node must be empty and without assigned slots.".into());
    }
    Err("ERR replicas are not supported by this server yet: every cluster node is a master".into())
}

pub(super) fn replicas(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    let st = c.state.lock();
    let id = st.lookup(&a[2]).ok_or_else(|| format!("ERR Unknown node {}", String::from_utf8_lossy(&a[2])))?;
    if !st.nodes[&id].is_primary() {
        return Err("ERR The specified node is not a master".into());
    }
    let lines: Vec<String> = st
        .nodes
        .values()
        .filter(|n| n.replica_of == Some(id))
        .map(|n| nodes_conf::line(&st, n, false).trim_end().to_string())
        .collect();
    drop(st);
    ctx.out.bulks(lines);
    Ok(())
}

pub(super) fn failover(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let c = cluster(ctx)?;
    if a.len() > 3 {
        return Err(crate::commands::SYNTAX.into());
    }
    if let Some(w) = a.get(2).map(|w| w.to_ascii_lowercase()) {
        if w != b"force" && w != b"takeover" {
            return Err(crate::commands::SYNTAX.into());
        }
    }
    if c.state.lock().me().is_primary() {
        return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
    }
    Err("ERR replicas are not supported by this server yet".into())
}
