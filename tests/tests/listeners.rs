//! The listening side of the real binary: `bind` with several addresses, `::` serving IPv4 clients
//! too (dual-stack), and `tcp-backlog` (CONFIG GET shows it; the listen queue uses it).
//!
//! Bounds: each server starts within the harness's start timeout; one PING per address.

use std::net::{Ipv6Addr, SocketAddr, TcpListener};

use cache_tests::ServerOpts;
use cache_tests::ours::OurProcess;
use cache_tests::peer::skip_unless;
use cache_tests::resp::{Frame, RawConn};

/// Whether `::1` can be bound, else the test of `what` skips; CI's machines have it, so there a
/// missing one fails the test.
fn ipv6_loopback_available(what: &str) -> bool {
    let ok = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    skip_unless(ok, || format!("this host has no IPv6 loopback (::1), so {what} cannot be tested"))
}

/// The two tests bind the same port on several families (one on `::`, which takes IPv4 too):
/// run one at a time, so that one's free-port pick cannot land on the port the other just bound.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn pong(addr: SocketAddr) -> Frame {
    RawConn::connect(addr).and_then(|mut c| c.cmd(&["PING"])).unwrap_or_else(|e| panic!("PING {addr}: {e}"))
}

fn directives(list: &[(&str, &str)]) -> ServerOpts {
    ServerOpts {
        directives: list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        ..ServerOpts::default()
    }
}

#[test]
fn bind_serves_every_address_given() {
    if !ipv6_loopback_available("two-family bind") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let ours = OurProcess::start(&directives(&[("bind", "127.0.0.1 ::1"), ("tcp-backlog", "1024")]));
    let port = ours.addr().port();
    let want = Frame::Simple(b"PONG".to_vec());
    assert_eq!(pong(SocketAddr::from(([127, 0, 0, 1], port))), want);
    assert_eq!(pong(SocketAddr::from((Ipv6Addr::LOCALHOST, port))), want);
    let mut c = RawConn::connect(ours.addr()).unwrap();
    let got = c.cmd(&["CONFIG", "GET", "tcp-backlog"]).unwrap();
    let bulk = |s: &str| Frame::Bulk(Some(s.as_bytes().to_vec()));
    assert_eq!(got, Frame::Array(Some(vec![bulk("tcp-backlog"), bulk("1024")])));
    let set = c.cmd(&["CONFIG", "SET", "tcp-backlog", "5"]).unwrap();
    assert!(set.error_text().is_some_and(|e| e.contains("immutable")), "{set:?}");
}

#[test]
fn unspecified_ipv6_serves_ipv4_loopback_too() {
    if !ipv6_loopback_available("`bind ::`") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let ours = OurProcess::start(&directives(&[("bind", "::")]));
    let port = ours.addr().port();
    let want = Frame::Simple(b"PONG".to_vec());
    assert_eq!(pong(SocketAddr::from(([127, 0, 0, 1], port))), want, "IPv4 client on `bind ::`");
    assert_eq!(pong(SocketAddr::from((Ipv6Addr::LOCALHOST, port))), want);
}
