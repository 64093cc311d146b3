//! Loopback ports for the servers a test starts: picking a free one and waiting for one to listen.
//!
//! Waiting is the only place in this crate that pauses: a bounded retry loop while a freshly spawned
//! process binds its port. Nothing here knows which server it is waiting for.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long a spawned server gets to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A port on 127.0.0.1 that was free a moment ago. The OS picks it (bind to port 0), so parallel tests
/// do not collide; there is a small window in which another process could take it, which the
/// spawners cover by retrying with a fresh port.
#[must_use]
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// The loopback address for `port`.
#[must_use]
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Polls `addr` until it accepts a TCP connection, for at most [`START_TIMEOUT`], while `alive`
/// reports that the process that should bind it is still running. Returns whether it is listening.
pub fn wait_for_port(addr: SocketAddr, mut alive: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if !alive() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// What the server answering on `addr` said of itself, by its INFO `process_id`: a free port can
/// be taken by another test's server between [`free_port`] and the spawn, and that server would
/// answer for ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    /// Process `pid` answers.
    By(bool),
    /// An error reply (a password it did not get, a refused INFO): it cannot tell.
    Refused,
    /// No complete answer in time (a busy machine), or no connection at all.
    Silent,
}

fn served_by(addr: SocketAddr, pid: u32, password: Option<&str>) -> Served {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else { return Served::Silent };
    let mut req = Vec::new();
    if let Some(p) = password {
        req.extend_from_slice(format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{p}\r\n", p.len()).as_bytes());
    }
    req.extend_from_slice(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n");
    if s.set_read_timeout(Some(Duration::from_secs(2))).is_err() || s.write_all(&req).is_err() {
        return Served::Silent;
    }
    let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let Some(n) = s.read(&mut chunk).ok().filter(|&n| n > 0) else { return Served::Silent };
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(line) = text.lines().find_map(|l| l.strip_prefix("process_id:")) {
            return Served::By(line.trim().parse::<u32>().is_ok_and(|p| p == pid));
        }
        if text.contains("\r\n-") || text.starts_with('-') {
            return Served::Refused;
        }
    }
    Served::Silent
}

/// Waits until the freshly spawned process `pid` answers on `addr`, and says whether it is what
/// answers there. A server that says it is another process is not; one that refuses to say is
/// taken at its word while `alive` (as before a password); while nothing listens yet, or what
/// listens stays silent, it asks again while `alive`, for at most [`START_TIMEOUT`] — a busy
/// machine can take seconds to answer, and a spawn that lost its port to another test's server
/// exits meanwhile.
pub fn answers_as(addr: SocketAddr, pid: u32, password: Option<&str>, mut alive: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match served_by(addr, pid, password) {
            Served::By(ours) => return ours,
            Served::Refused => return alive(),
            Served::Silent if !alive() || Instant::now() >= deadline => return false,
            Served::Silent => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
