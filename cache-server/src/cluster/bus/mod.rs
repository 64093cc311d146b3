//! The cluster bus: a TCP listener on the cluster port (`cluster-port`, default port + 10000) and
//! one outgoing link per known node, speaking the framed messages of [`message`].
//!
//! ```text
//!  cron (every 100 ms, or woken by a change) ──► failure::check ──► links: connect / ping / drop
//!     │  MEETs: connect, send MEET, read the PONG ──► gossip::receive (adds the node)
//!     ▼
//!  link to node X:  writer ◄── mpsc ◄── cron (PING, broadcast PONG, FAIL)
//!                   reader ──► gossip::receive ──► replies (UPDATE) back on the link
//!  listener ──► one task per incoming connection: read ──► gossip::receive ──► write PONG / UPDATE
//! ```
//!
//! Each node pings every other node as soon as its link is up, then every
//! `min(node-timeout / 4, 1 s)` after the last answer; a change to the
//! slot map or the epochs is pushed to every node at once as a PONG (so receivers do not
//! answer), which is what makes `redis-cli --cluster create` converge in a fraction of a second
//! on loopback. A link whose ping went unanswered for half the timeout is dropped and redialled.

pub mod message;

use super::Cluster;
use super::gossip::{self, Origin};
use super::state::{NodeId, now_ms};
use bytes::BytesMut;
use message::{Kind, MAX_FRAME, Message};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// How often the cron runs when nothing wakes it.
const TICK: Duration = Duration::from_millis(100);

/// Binds the bus on `addr` and spawns its tasks (they stop when `stop` turns true).
///
/// # Errors
/// The bind error.
pub async fn start(cluster: Arc<Cluster>, addr: SocketAddr, stop: watch::Receiver<bool>) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(address = %addr, "cluster bus listening");
    tokio::spawn(accept(cluster.clone(), listener, stop.clone()));
    tokio::spawn(cron(cluster, stop));
    Ok(())
}

async fn accept(cluster: Arc<Cluster>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        if let Ok((stream, _)) = accepted {
            let _ = stream.set_nodelay(true);
            tokio::spawn(inbound(cluster.clone(), stream));
        }
    }
}

/// Reads one frame; `None` on EOF, error or a bad frame (the connection is then dropped).
async fn read_frame(r: &mut (impl AsyncReadExt + Unpin)) -> Option<Message> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.ok()?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return None;
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.ok()?;
    Message::decode(&body)
}

fn origin(stream: &TcpStream, meet_reply: bool) -> Origin {
    let ip = |a: std::io::Result<SocketAddr>| a.map(|a| a.ip().to_string()).unwrap_or_default();
    Origin { peer_ip: ip(stream.peer_addr()), local_ip: ip(stream.local_addr()), meet_reply }
}

/// Applies a received message and returns the encoded replies.
fn handle(cluster: &Cluster, msg: &Message, from: &Origin) -> Vec<BytesMut> {
    let mut st = cluster.state.lock();
    let replies = gossip::receive(&mut st, msg, from);
    cluster.commit(&mut st);
    replies.iter().map(Message::encode).collect()
}

async fn inbound(cluster: Arc<Cluster>, mut stream: TcpStream) {
    let from = origin(&stream, false);
    let since = now_ms();
    let mut peer = None;
    'read: while let Some(msg) = read_frame(&mut stream).await {
        let replies = handle(&cluster, &msg, &from);
        if peer.is_none() {
            // CLUSTER LINKS lists the connection as "from" its sender once the sender is known.
            let mut st = cluster.state.lock();
            if st.nodes.contains_key(&msg.header.sender) {
                st.inbound.insert(msg.header.sender, since);
                peer = Some(msg.header.sender);
            }
        }
        for reply in replies {
            if stream.write_all(&reply).await.is_err() {
                break 'read;
            }
        }
    }
    if let Some(p) = peer {
        let mut st = cluster.state.lock();
        if st.inbound.get(&p) == Some(&since) {
            st.inbound.remove(&p);
        }
    }
}

/// Our link to one node: connects, then writes what the cron queues and reads the answers.
async fn link(
    cluster: Arc<Cluster>,
    id: NodeId,
    addr: SocketAddr,
    tx: mpsc::UnboundedSender<BytesMut>,
    mut rx: mpsc::UnboundedReceiver<BytesMut>,
) {
    let timeout = Duration::from_millis(cluster.state.lock().settings.node_timeout.max(100));
    let Ok(Ok(stream)) = tokio::time::timeout(timeout, TcpStream::connect(addr)).await else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let from = origin(&stream, false);
    if let Some(n) = cluster.state.lock().nodes.get_mut(&id) {
        n.link_up = true;
        n.link_since = now_ms();
        n.ping_sent = 0;
    }
    cluster.wake.notify_one();
    let (mut r, mut w) = stream.into_split();
    let reader = {
        let cluster = cluster.clone();
        async move {
            while let Some(msg) = read_frame(&mut r).await {
                for reply in handle(&cluster, &msg, &from) {
                    let _ = tx.send(reply);
                }
            }
        }
    };
    let writer = async move {
        while let Some(frame) = rx.recv().await {
            if w.write_all(&frame).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = reader => {}
        _ = writer => {}
    }
    if let Some(n) = cluster.state.lock().nodes.get_mut(&id) {
        n.link_up = false;
    }
}

/// CLUSTER MEET: connect, send MEET, and let the PONG introduce the node.
async fn meet(cluster: Arc<Cluster>, addr: SocketAddr) {
    let timeout = Duration::from_millis(cluster.state.lock().settings.node_timeout.max(100));
    let Ok(Ok(mut stream)) = tokio::time::timeout(timeout, TcpStream::connect(addr)).await else {
        tracing::warn!(address = %addr, "cluster: MEET could not connect");
        return;
    };
    let frame = {
        let mut st = cluster.state.lock();
        st.count("meet", true);
        gossip::message(&st, Kind::Meet, None).encode()
    };
    if stream.write_all(&frame).await.is_err() {
        return;
    }
    let from = origin(&stream, true);
    let _ = tokio::time::timeout(timeout, async {
        while let Some(msg) = read_frame(&mut stream).await {
            let pong = msg.header.kind == Kind::Pong;
            handle(&cluster, &msg, &from);
            if pong {
                return;
            }
        }
    })
    .await;
}

/// A live link: its queue and its task (dropping the link ends the task).
struct Link {
    tx: mpsc::UnboundedSender<BytesMut>,
    task: tokio::task::AbortHandle,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn cron(cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    let mut links: HashMap<NodeId, Link> = HashMap::new();
    let mut dialled: HashMap<NodeId, u64> = HashMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = cluster.wake.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = now_ms();
        let mut sends: Vec<(NodeId, BytesMut)> = Vec::new();
        let mut dial: Vec<(NodeId, SocketAddr)> = Vec::new();
        let meets;
        {
            let mut st = cluster.state.lock();
            meets = std::mem::take(&mut st.meets);
            super::failure::check(&mut st, now);
            let timeout = st.settings.node_timeout;
            let every = (timeout / 4).clamp(50, 1000);
            links.retain(|id, l| st.nodes.contains_key(id) && !l.tx.is_closed());
            let broadcast = std::mem::take(&mut st.broadcast);
            let fails = std::mem::take(&mut st.announce_fail);
            let ids: Vec<NodeId> = st.nodes.keys().filter(|id| **id != st.myself).copied().collect();
            for id in ids {
                let n = &st.nodes[&id];
                if !links.contains_key(&id) {
                    let since = dialled.get(&id).copied().unwrap_or(0);
                    if let Ok(ip) = n.ip.parse::<std::net::IpAddr>() {
                        if now.saturating_sub(since) >= every {
                            dialled.insert(id, now);
                            dial.push((id, SocketAddr::new(ip, n.cport)));
                        }
                    }
                    continue;
                }
                if !n.link_up {
                    continue;
                }
                if n.ping_sent != 0 && now.saturating_sub(n.ping_sent) > timeout / 2 {
                    // Unanswered for half the timeout: drop the link and redial.
                    links.remove(&id);
                    if let Some(n) = st.nodes.get_mut(&id) {
                        n.link_up = false;
                    }
                    continue;
                }
                let mut kinds = Vec::new();
                if n.ping_sent == 0 && (now.saturating_sub(n.pong_received) >= every || n.link_since >= n.pong_received)
                {
                    kinds.push(Kind::Ping);
                } else if broadcast {
                    kinds.push(Kind::Pong);
                }
                for k in kinds {
                    if k == Kind::Ping {
                        if let Some(n) = st.nodes.get_mut(&id) {
                            n.ping_sent = now;
                        }
                    }
                    st.count(k.name(), true);
                    sends.push((id, gossip::message(&st, k, Some(id)).encode()));
                }
                for f in &fails {
                    if *f != id {
                        let mut m = gossip::message(&st, Kind::Fail, None);
                        m.about = Some(*f);
                        st.count("fail", true);
                        sends.push((id, m.encode()));
                    }
                }
            }
            cluster.commit(&mut st);
        }
        for (id, frame) in sends {
            if let Some(l) = links.get(&id) {
                let _ = l.tx.send(frame);
            }
        }
        for (id, addr) in dial {
            let (tx, rx) = mpsc::unbounded_channel();
            let task = tokio::spawn(link(cluster.clone(), id, addr, tx.clone(), rx)).abort_handle();
            links.insert(id, Link { tx, task });
        }
        for (ip, _port, cport) in meets {
            if let Ok(ip) = ip.parse::<std::net::IpAddr>() {
                tokio::spawn(meet(cluster.clone(), SocketAddr::new(ip, cport)));
            }
        }
    }
}
