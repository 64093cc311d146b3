//! Request bytes → exact reply bytes, per command and error path, against a server on
//! 127.0.0.1 port 0 (the expected bytes are memcached 1.6.18's; CAS uniques start at 1 per server).

use crate::Config;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(config: Config) -> (SocketAddr, SocketAddr) {
    let resp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addrs = (mc.local_addr().unwrap(), resp.local_addr().unwrap());
    tokio::spawn(crate::run_with(config, resp, Some(mc), std::future::pending()));
    addrs
}

/// Sends `req` then `mn\r\n` and returns everything before the final `MN\r\n`.
async fn ask(c: &mut TcpStream, req: &[u8]) -> String {
    c.write_all(&[req, b"mn\r\n"].concat()).await.unwrap();
    let mut buf = Vec::new();
    while !buf.ends_with(b"MN\r\n") {
        let mut chunk = [0u8; 4096];
        let n = c.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed after {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf[..buf.len() - 4]).into_owned()
}

async fn table(cases: &[(&str, &str)]) {
    let (addr, _) = start(Config::default()).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    for (req, want) in cases {
        assert_eq!(ask(&mut c, req.as_bytes()).await, *want, "request {req:?}");
    }
}

#[tokio::test]
async fn storage_and_retrieval() {
    table(&[
        ("set a 5 0 2\r\nhi\r\n", "STORED\r\n"),
        ("get a b\r\n", "VALUE a 5 2\r\nhi\r\nEND\r\n"),
        ("gets a\r\n", "VALUE a 5 2 1\r\nhi\r\nEND\r\n"),
        ("add a 0 0 1\r\nx\r\n", "NOT_STORED\r\n"),
        ("add b 0 0 1\r\nx\r\n", "STORED\r\n"),
        ("replace c 0 0 1\r\nx\r\n", "NOT_STORED\r\n"),
        ("replace b 7 0 1\r\ny\r\n", "STORED\r\n"),
        ("append a 9 0 2\r\n!!\r\n", "STORED\r\n"),
        ("prepend a 9 0 2\r\n<<\r\n", "STORED\r\n"),
        ("append zz 0 0 1\r\nx\r\n", "NOT_STORED\r\n"),
        ("gets a\r\n", "VALUE a 5 6 5\r\n<<hi!!\r\nEND\r\n"),
        ("cas a 1 0 1 4\r\nx\r\n", "EXISTS\r\n"),
        ("cas a 1 0 1 5\r\nx\r\n", "STORED\r\n"),
        ("cas nope 1 0 1 5\r\nx\r\n", "NOT_FOUND\r\n"),
        ("set n 0 0 1 noreply\r\n1\r\n", ""),
        ("get a n\r\n", "VALUE a 1 1\r\nx\r\nVALUE n 0 1\r\n1\r\nEND\r\n"),
        ("set e 0 -1 1\r\nx\r\nget e\r\n", "STORED\r\nEND\r\n"),
        ("set e 0 1000000000 1\r\nx\r\nget e\r\n", "STORED\r\nEND\r\n"),
        ("touch a -1\r\nget a\r\n", "TOUCHED\r\nEND\r\n"),
        ("touch a 10\r\n", "NOT_FOUND\r\n"),
        ("gat 100 n\r\n", "VALUE n 0 1\r\n1\r\nEND\r\n"),
        ("gats 0 n\r\n", "VALUE n 0 1 7\r\n1\r\nEND\r\n"),
        ("delete n\r\ndelete n\r\ndelete b noreply\r\nget b\r\n", "DELETED\r\nNOT_FOUND\r\nEND\r\n"),
        (
            "delete b 0\r\ndelete b 5\r\n",
            "NOT_FOUND\r\nCLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
        ),
    ])
    .await;
}

#[tokio::test]
async fn incr_decr_flush_and_misc() {
    table(&[
        ("set n 3 0 2\r\n10\r\n", "STORED\r\n"),
        ("decr n 1\r\nget n\r\n", "9\r\nVALUE n 3 2\r\n9 \r\nEND\r\n"),
        ("incr n 18446744073709551615\r\n", "8\r\n"),
        ("decr n 100\r\nincr n 2 noreply\r\nget n\r\n", "0\r\nVALUE n 3 2\r\n2 \r\nEND\r\n"),
        ("incr n abc\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"),
        ("incr x 1\r\n", "NOT_FOUND\r\n"),
        (
            "set s 0 0 1\r\nx\r\nincr s 1\r\n",
            "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
        ("version\r\n", "VERSION 1.6.18\r\n"),
        ("verbosity 1\r\nverbosity\r\n", "OK\r\nERROR\r\n"),
        ("flush_all\r\nget n\r\n", "OK\r\nEND\r\n"),
        ("flush_all noreply\r\nflush_all 0\r\nflush_all 10 noreply\r\n", "OK\r\n"),
        ("bogus\r\n\r\nx\r\nget\r\n", "ERROR\r\nERROR\r\nERROR\r\nERROR\r\n"),
        ("stats reset\r\n", "RESET\r\n"),
    ])
    .await;
}

#[tokio::test]
async fn errors_and_limits() {
    let long = "k".repeat(251);
    table(&[
        (&format!("get {long}\r\n"), "CLIENT_ERROR bad command line format\r\n"),
        (&format!("set {long} 0 0 1\r\nx\r\n"), "CLIENT_ERROR bad command line format\r\nERROR\r\n"),
        ("get a\x01b\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("set k 0 0 3\r\nabcde\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"),
        ("set k 0 0 3 noreply\r\nabcde\r\n", "ERROR\r\n"),
        ("set k x 0 1\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("set k 0 x 1\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("set k 0 0 -1\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("set k 0 0\r\n", "ERROR\r\n"),
        ("touch k x\r\n", "CLIENT_ERROR invalid exptime argument\r\n"),
        ("gat x k\r\n", "CLIENT_ERROR invalid exptime argument\r\n"),
    ])
    .await;
}

#[tokio::test]
async fn long_line_closes_and_oversized_data_is_swallowed() {
    let (addr, _) = start(Config::default()).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut req = b"set big 0 0 1100000\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'v', 1_100_000));
    req.extend_from_slice(b"\r\nget big\r\n");
    assert_eq!(ask(&mut c, &req).await, "SERVER_ERROR object too large for cache\r\nEND\r\n");
    c.write_all(&[b'x'; 3000]).await.unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    let mut d = TcpStream::connect(addr).await.unwrap();
    assert_eq!(ask(&mut d, b"version\r\n").await, "VERSION 1.6.18\r\n");
}

#[tokio::test]
async fn meta_commands() {
    table(&[
        ("ms mk 2 T0 F5\r\nhi\r\n", "HD\r\n"),
        ("mg mk v k f t c s O123 q\r\n", "VA 2 kmk f5 t-1 c1 s2 O123\r\nhi\r\n"),
        ("mg nokey v q\r\nmg nokey v\r\n", "EN\r\n"),
        ("md mk q\r\nmd mk\r\n", "NF\r\n"),
        ("ma cnt\r\nma cnt N0 J5 v\r\nma cnt v MD D2\r\n", "NF\r\nVA 1\r\n5\r\nVA 1\r\n3\r\n"),
        ("ms mk 2 MA\r\nxx\r\nms mk 2 I\r\nxx\r\nmg mk s v t\r\n", "NS\r\nHD\r\nVA 2 s2 t-1\r\nxx\r\n"),
        ("mg mk zz\r\nmg mk v v\r\n", "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\n"),
        ("ms mk 2 c\r\nab\r\nms mk 2 C1\r\nzz\r\n", "HD c5\r\nEX\r\n"),
        ("md mk I T30\r\nmg mk v c\r\nmg mk v c\r\n", "HD\r\nVA 2 c6 X W\r\nab\r\nVA 2 c6 Z X\r\nab\r\n"),
        ("mg new v N30\r\nmg new v N30\r\n", "VA 0 W\r\n\r\nVA 0 Z\r\n\r\n"),
        (
            "ms x 1 MX\r\nx\r\nms x S1\r\n",
            "CLIENT_ERROR invalid mode for ms M token\r\nCLIENT_ERROR bad command line format\r\n",
        ),
        ("me nope\r\nmn\r\n", "EN\r\nMN\r\n"),
    ])
    .await;
}

#[tokio::test]
async fn resp_and_memcached_share_keys() {
    let (addr, resp) = start(Config::default()).await;
    let mut r = TcpStream::connect(resp).await.unwrap();
    r.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n41\r\n").await.unwrap();
    let mut buf = [0u8; 5];
    r.read_exact(&mut buf).await.unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    assert_eq!(ask(&mut c, b"get k\r\nincr k 1\r\n").await, "VALUE k 0 2\r\n41\r\nEND\r\n42\r\n");
}

/// Memcached's fetch bookkeeping (the fetched bit, last access, the win token) is not a write: a
/// RESP client's WATCH on the key survives `get`, `mg … h l` and a win token handed out, while a
/// real Memcached write (`touch`) aborts the transaction.
#[tokio::test]
async fn fetch_bookkeeping_is_not_a_write() {
    let (addr, resp) = start(Config::default()).await;
    let mut r = TcpStream::connect(resp).await.unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        ask(&mut c, b"set k 0 0 1\r\nx\r\nmd w I\r\nset w 0 0 1\r\ny\r\nmd w I\r\n").await,
        "STORED\r\nNF\r\nSTORED\r\nHD\r\n"
    );
    async fn resp_cmd(r: &mut TcpStream, cmd: &[u8], want: &[u8]) {
        r.write_all(cmd).await.unwrap();
        let mut buf = vec![0u8; want.len()];
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&buf), String::from_utf8_lossy(want));
    }
    for (reads, exec) in
        [(&b"get k\r\nget k\r\nmg k h l v\r\nmg w v\r\n"[..], &b"*1\r\n+OK\r\n"[..]), (b"touch k 100\r\n", b"*-1\r\n")]
    {
        resp_cmd(&mut r, b"*3\r\n$5\r\nWATCH\r\n$1\r\nk\r\n$1\r\nw\r\n", b"+OK\r\n").await;
        ask(&mut c, reads).await;
        resp_cmd(&mut r, b"*1\r\n$5\r\nMULTI\r\n", b"+OK\r\n").await;
        resp_cmd(&mut r, b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n1\r\n", b"+QUEUED\r\n").await;
        resp_cmd(&mut r, b"*1\r\n$4\r\nEXEC\r\n", exec).await;
    }
    assert_eq!(ask(&mut c, b"mg k h\r\nmg w\r\n").await, "HD h1\r\nHD Z X\r\n");
}

/// A local address other than loopback (the interface a route would use), if the host has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("198.51.100.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Protected mode on the Memcached port: without a password a non-loopback client is refused; a
/// password lets it connect but it must authenticate before anything else (a password never
/// widens what an unauthenticated client may do).
#[tokio::test]
async fn protected_mode_and_password_for_non_loopback_clients() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("SKIPPED: no non-loopback address on this host");
        return;
    };
    for password in [None, Some("pw")] {
        let resp = TcpListener::bind("0.0.0.0:0").await.unwrap();
        let mc = TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = mc.local_addr().unwrap().port();
        let config = Config { requirepass: password.map(str::to_owned), ..Config::default() };
        tokio::spawn(crate::run_with(config, resp, Some(mc), std::future::pending()));
        let mut c = TcpStream::connect((ip, port)).await.unwrap();
        c.write_all(b"get a\r\nflush_all\r\n").await.unwrap();
        let mut got = Vec::new();
        let want: &[u8] = match password {
            None => b"SERVER_ERROR protected mode: only loopback clients are accepted\r\n",
            Some(_) => b"CLIENT_ERROR unauthenticated\r\nCLIENT_ERROR unauthenticated\r\n",
        };
        while got.len() < want.len() {
            let mut chunk = [0u8; 256];
            let n = tokio::time::timeout(std::time::Duration::from_secs(5), c.read(&mut chunk)).await.unwrap().unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want), "password {password:?}");
    }
}
