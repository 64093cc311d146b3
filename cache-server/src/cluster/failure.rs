//! Failure detection, Redis's two steps: a node that has not answered our pings for
//! `cluster-node-timeout` is PFAIL (our opinion, shown as `fail?`); a PFAIL node reported failing
//! by a majority of the primaries that serve slots (their gossip within twice the timeout, our
//! own opinion included when we are a primary) becomes FAIL, and we tell every node so they agree
//! at once. FAIL is undone when the node answers again (`gossip.rs`).

use super::state::{NodeId, State};

/// Runs the checks at `now` (unix ms); the nodes newly marked FAIL are queued in
/// `announce_fail` for the bus to broadcast.
pub fn check(st: &mut State, now: u64) {
    let timeout = st.settings.node_timeout;
    let me = st.myself;
    for n in st.nodes.values_mut().filter(|n| n.id != me) {
        if !n.pfail && !n.failed() && now.saturating_sub(n.pong_received) > timeout {
            n.pfail = true;
            tracing::info!("cluster: node {} is possibly failing (no answer for {timeout} ms)", n.id);
        }
    }
    let quorum = st.size() / 2 + 1;
    let suspects: Vec<NodeId> = st.nodes.values().filter(|n| n.pfail && !n.failed()).map(|n| n.id).collect();
    let i_vote = u64::from(st.me().is_primary()) as usize;
    for id in suspects {
        let reports = st.valid_reports(&id, now) + i_vote;
        if reports >= quorum {
            if let Some(n) = st.nodes.get_mut(&id) {
                n.fail_time = now;
                n.pfail = false;
            }
            st.announce_fail.push(id);
            st.dirty = true;
            tracing::warn!("cluster: marking node {id} as failing (quorum of {reports} reached)");
        }
    }
    let ttl = timeout * 2;
    for n in st.nodes.values_mut() {
        n.reports.retain(|_, t| now.saturating_sub(*t) <= ttl);
    }
    st.forgotten.retain(|_, until| *until > now);
    st.update_ok();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::state::{Node, Settings};

    fn id(c: u8) -> NodeId {
        NodeId([c; 40])
    }

    /// Three primaries a, b, c with a slot each; this node is a.
    fn three() -> State {
        let settings = Settings { node_timeout: 1000, ..Settings::default() };
        let mut st = State::new(id(b'a'), "127.0.0.1".into(), 1, 2, settings);
        for (i, c) in [b'a', b'b', b'c'].into_iter().enumerate() {
            if c != b'a' {
                st.nodes.insert(id(c), Node::new(id(c), "127.0.0.1".into(), 3, 4, 0));
            }
            st.assign(i, Some(id(c)));
        }
        st
    }

    #[test]
    fn silence_makes_pfail_and_a_majority_makes_fail() {
        let mut st = three();
        st.settings.require_full_coverage = false;
        st.nodes.get_mut(&id(b'b')).unwrap().pong_received = 10_000;
        st.nodes.get_mut(&id(b'c')).unwrap().pong_received = 9_800;
        check(&mut st, 10_500);
        assert!(!st.nodes[&id(b'c')].pfail);
        st.nodes.get_mut(&id(b'b')).unwrap().pong_received = 11_000;
        check(&mut st, 11_100);
        let c = &st.nodes[&id(b'c')];
        assert!(c.pfail && !c.failed(), "our opinion alone is 1 of a quorum of 2");
        // b reports c too: 2 of 3 primaries.
        st.nodes.get_mut(&id(b'c')).unwrap().reports.insert(id(b'b'), 11_050);
        check(&mut st, 11_200);
        assert!(st.nodes[&id(b'c')].failed());
        assert_eq!(st.announce_fail, vec![id(b'c')]);
        assert!(st.ok, "without full coverage the other slots keep the cluster up");
        st.settings.require_full_coverage = true;
        st.update_ok();
        assert!(!st.ok);
        // Old reports expire (2 × timeout).
        st.nodes.get_mut(&id(b'b')).unwrap().reports.insert(id(b'c'), 11_000);
        st.nodes.get_mut(&id(b'b')).unwrap().pong_received = 13_400;
        check(&mut st, 13_500);
        assert!(st.nodes[&id(b'b')].reports.is_empty());
    }
}
