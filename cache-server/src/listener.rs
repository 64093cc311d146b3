//! The listening sockets: `bind` (one or more addresses, as in redis.conf), `port` and
//! `tcp-backlog` turned into tokio listeners, and the one-future accept over all of them. It owns
//! no client state; [`crate::server`] serves what these accept.
//!
//! `bind` follows Redis: a list of addresses; `*` is every IPv4 address and `::*` every IPv6 one;
//! a leading `-` marks an address that may be unavailable (skipped with a warning, as `-::1` on a
//! host without IPv6). `::` (or `::*`) alone listens on both families: the socket is dual-stack
//! unless an IPv4 address is bound too, so `bind ::` serves `127.0.0.1` clients as well.

use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::Poll;
use tokio::net::{TcpListener, TcpStream};

/// One `bind` address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindAddr {
    /// The address.
    pub ip: IpAddr,
    /// Written with a leading `-`: skip it if it cannot be bound.
    pub optional: bool,
}

/// Parses a `bind` value (`127.0.0.1 -::1`, `*`, `::*`).
///
/// # Errors
/// The word that is not an address.
pub fn parse_bind(bind: &str) -> Result<Vec<BindAddr>, String> {
    bind.split_whitespace()
        .map(|word| {
            let (optional, addr) = match word.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, word),
            };
            let ip = match addr {
                "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                "::*" => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                _ => addr.parse().map_err(|_| format!("invalid bind address '{word}'"))?,
            };
            Ok(BindAddr { ip, optional })
        })
        .collect()
}

/// Binds `port` on every address of `bind` with a listen queue of `backlog` (tokio runtime
/// needed). Optional addresses that fail are skipped with a warning.
///
/// # Errors
/// A bad `bind` value, no address bound at all, or a required address that cannot be bound.
pub fn bind_all(bind: &str, port: u16, backlog: u32) -> io::Result<Vec<TcpListener>> {
    let addrs = parse_bind(bind).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let any_v4 = addrs.iter().any(|a| a.ip.is_ipv4());
    let mut out = Vec::new();
    for a in &addrs {
        match bind_one(SocketAddr::new(a.ip, port), backlog, any_v4) {
            Ok(l) => out.push(l),
            Err(e) if a.optional => tracing::warn!(address = %a.ip, error = %e, "skipping optional bind address"),
            Err(e) => {
                return Err(io::Error::new(e.kind(), format!("cannot listen on {}: {e}", SocketAddr::new(a.ip, port))));
            }
        }
    }
    if out.is_empty() {
        return Err(io::Error::new(io::ErrorKind::AddrNotAvailable, format!("no bind address available in '{bind}'")));
    }
    Ok(out)
}

fn bind_one(addr: SocketAddr, backlog: u32, any_v4: bool) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // Dual-stack for `::` alone; an IPv4 address bound beside it keeps IPv4 for itself.
        socket.set_only_v6(any_v4 || !addr.ip().is_unspecified())?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    TcpListener::from_std(socket.into())
}

/// Accepts the next connection on whichever listener has one.
pub async fn accept_any(listeners: &[TcpListener]) -> io::Result<(TcpStream, SocketAddr)> {
    poll_fn(|cx| {
        for l in listeners {
            if let Poll::Ready(r) = l.poll_accept(cx) {
                return Poll::Ready(r);
            }
        }
        Poll::Pending
    })
    .await
}

/// True for a loopback peer, IPv4-mapped IPv6 included (`::ffff:127.0.0.1` on a dual-stack socket).
pub fn is_loopback(peer: &SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

/// Protected mode, the same on both ports: with it on and no password set, only loopback peers
/// may connect. A password lets any peer connect (it must then authenticate).
pub fn protected_mode_refuses(config: &crate::Config, peer: &SocketAddr) -> bool {
    config.protected_mode && config.requirepass.is_none() && !is_loopback(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_mode_refuses_only_remote_peers_without_a_password() {
        let mut c = crate::Config::default();
        let remote: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert!(protected_mode_refuses(&c, &remote));
        assert!(!protected_mode_refuses(&c, &mapped));
        c.requirepass = Some("pw".into());
        assert!(!protected_mode_refuses(&c, &remote), "a password admits remote peers (to authenticate)");
        c.requirepass = None;
        c.protected_mode = false;
        assert!(!protected_mode_refuses(&c, &remote));
    }

    #[test]
    fn bind_values_parse_like_redis() {
        let a = parse_bind("127.0.0.1 -::1 * ::*").unwrap();
        let ips: Vec<String> = a.iter().map(|a| a.ip.to_string()).collect();
        assert_eq!(ips, ["127.0.0.1", "::1", "0.0.0.0", "::"]);
        assert_eq!(a.iter().map(|a| a.optional).collect::<Vec<_>>(), [false, true, false, false]);
        assert!(parse_bind("localhost").is_err());
    }

    #[tokio::test]
    async fn several_addresses_and_dual_stack() {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        // `::` alone serves IPv4 clients too. A host without IPv6 cannot show it: said, and an
        // error under CI, whose machines have IPv6.
        match bind_all("::", port, 16) {
            Ok(ls) => {
                let client = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                let (_, peer) = accept_any(&ls).await.unwrap();
                assert!(is_loopback(&peer), "{peer} from {:?}", client.local_addr());
            }
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "CI and no IPv6 to bind `::`: {e}");
                eprintln!("SKIPPED dual-stack check: cannot bind `::` here ({e})");
            }
        }
        let ls = bind_all("127.0.0.1 -::1 -192.0.2.1", port, 16).unwrap();
        assert!(!ls.is_empty() && ls.len() <= 2);
        let _c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        accept_any(&ls).await.unwrap();
        assert!(bind_all("192.0.2.1", port, 16).is_err(), "a required address that is not ours fails");
    }
}
