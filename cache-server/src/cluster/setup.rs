//! Start-up: reads the `cluster-*` directives (`cluster-enabled`, `cluster-config-file`,
//! `cluster-node-timeout`, `cluster-announce-ip/port/bus-port`, `cluster-port`,
//! `cluster-require-full-coverage`, `cluster-allow-reads-when-down`) into a [`Cluster`] opened
//! on its nodes.conf, and says where the bus listens. A server without `cluster-enabled yes`
//! gets `None` and no bus.

use super::Cluster;
use super::state::Settings;

/// Applies the `cluster-*` directives CONFIG SET may change on a running node
/// (`cluster-node-timeout`, `cluster-require-full-coverage`, `cluster-allow-reads-when-down`).
pub fn reconfigure(cluster: &Cluster, config: &Config) {
    let get = |name: &str| config.get(name).unwrap_or_default();
    let mut st = cluster.state.lock();
    st.settings.node_timeout = get("cluster-node-timeout").parse::<u64>().unwrap_or(15_000).max(1);
    st.settings.require_full_coverage = get("cluster-require-full-coverage") == "yes";
    st.settings.reads_when_down = get("cluster-allow-reads-when-down") == "yes";
    st.dirty = true;
    cluster.commit(&mut st);
}
use crate::config::Config;
use std::net::SocketAddr;

/// The cluster of a server listening on `client`, and the address its bus binds; `None` unless
/// `cluster-enabled yes`.
///
/// # Errors
/// A message when nodes.conf is unreadable or corrupt, or a port is out of range.
pub fn open(config: &Config, client: SocketAddr) -> Result<Option<(Cluster, SocketAddr)>, String> {
    let get = |name: &str| config.get(name).unwrap_or_default();
    if get("cluster-enabled") != "yes" {
        return Ok(None);
    }
    let num = |name: &str| get(name).parse::<u64>().unwrap_or(0);
    let cport = match num("cluster-port") {
        0 => u64::from(client.port()) + 10_000,
        p => p,
    };
    let cport = u16::try_from(cport).map_err(|_| format!("cluster bus port {cport} is out of range"))?;
    let announced_port = match num("cluster-announce-port") {
        0 => client.port(),
        p => u16::try_from(p).map_err(|_| "cluster-announce-port is out of range".to_string())?,
    };
    let announced_cport = match num("cluster-announce-bus-port") {
        0 => cport,
        p => u16::try_from(p).map_err(|_| "cluster-announce-bus-port is out of range".to_string())?,
    };
    let settings = Settings {
        config_file: get("cluster-config-file"),
        node_timeout: num("cluster-node-timeout").max(1),
        require_full_coverage: get("cluster-require-full-coverage") == "yes",
        reads_when_down: get("cluster-allow-reads-when-down") == "yes",
        announce_ip: get("cluster-announce-ip"),
    };
    let cluster = Cluster::open(settings, announced_port, announced_cport)?;
    Ok(Some((cluster, SocketAddr::new(client.ip(), cport))))
}
