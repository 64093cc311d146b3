//! Socket options applied to every accepted client connection (both protocols): TCP keepalive
//! as Redis's `anetKeepAlive` sets it. It owns nothing else; the listeners call it after accept.

use socket2::{SockRef, TcpKeepalive};
use std::time::Duration;
use tokio::net::TcpStream;

/// Turns on TCP keepalive for `stream` when `secs > 0`, like Redis's `tcp-keepalive`: the first
/// probe after `secs` idle seconds, then every `secs / 3` seconds (at least 1), dead after 3 unanswered.
pub fn set_keepalive(stream: &TcpStream, secs: u64) -> std::io::Result<()> {
    if secs == 0 {
        return Ok(());
    }
    let ka = TcpKeepalive::new()
        .with_time(Duration::from_secs(secs))
        .with_interval(Duration::from_secs((secs / 3).max(1)))
        .with_retries(3);
    SockRef::from(stream).set_tcp_keepalive(&ka)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keepalive_is_set_on_the_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        set_keepalive(&server, 0).unwrap();
        assert!(!SockRef::from(&server).keepalive().unwrap());
        set_keepalive(&server, 60).unwrap();
        let s = SockRef::from(&server);
        assert!(s.keepalive().unwrap());
        assert_eq!(s.tcp_keepalive_time().unwrap(), Duration::from_secs(60));
        assert_eq!(s.tcp_keepalive_interval().unwrap(), Duration::from_secs(20));
        assert_eq!(s.tcp_keepalive_retries().unwrap(), 3);
        drop(client);
    }
}
