//! Unit tests of cluster mode's send loop (`cluster.rs`) against fake nodes on loopback that
//! answer what each case needs (RESP2, no peer server): `-MOVED`, `-ASK` with `ASKING`,
//! `-TRYAGAIN` / `-CLUSTERDOWN` bounds, redirect loops, empty maps, the `CLUSTER SHARDS` fallback.

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::codec::{Protocol, decode_reply};
use crate::config::ClusterConfig;

/// What a fake node answers: `(args, whether ASKING preceded on this connection)` → RESP.
type Answer = Arc<dyn Fn(&[Bytes], bool) -> String + Send + Sync>;

async fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn serve(l: TcpListener, answer: Answer) {
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = l.accept().await {
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                let mut asking = false;
                while sock.read_buf(&mut buf).await.is_ok_and(|n| n > 0) {
                    while let Ok(Some(Ok(Value::Array(items)))) = decode_reply(&mut buf, Protocol::Resp2) {
                        let args: Vec<Bytes> = items.into_iter().filter_map(|v| v.into_opt_bytes().ok()?).collect();
                        // ASKING holds for the next command only, as in Redis.
                        let was_asking = std::mem::take(&mut asking);
                        let out = if args[0].eq_ignore_ascii_case(b"ASKING") {
                            asking = true;
                            "+OK\r\n".to_owned()
                        } else {
                            answer(&args, was_asking)
                        };
                        if sock.write_all(out.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
}

fn slots_of(port: u16) -> String {
    format!("*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$2\r\nid\r\n")
}

fn client(port: u16, cfg: ClusterConfig) -> Client {
    Client::builder().node(format!("redis://127.0.0.1:{port}")).resp3(false).cluster(cfg).build().unwrap()
}

fn fast() -> ClusterConfig {
    ClusterConfig {
        busy_base: Duration::from_millis(1),
        busy_max: Duration::from_millis(2),
        ..ClusterConfig::default()
    }
}

#[tokio::test]
async fn moved_updates_the_map_and_ask_does_not() {
    let ((la, a), (lb, b)) = (listener().await, listener().await);
    let slot = crate::slot::key_slot(b"k");
    // A owns everything per its map, but `k` moved to B; `j` is being migrated to B (ASK).
    serve(
        la,
        Arc::new(move |args, _| match &args[0][..] {
            b"CLUSTER" => slots_of(a),
            b"GET" if &args[1][..] == b"k" => format!("-MOVED {slot} 127.0.0.1:{b}\r\n"),
            b"GET" => format!("-ASK {} :{b}\r\n", crate::slot::key_slot(&args[1])),
            _ => "-ERR unexpected\r\n".into(),
        }),
    );
    serve(
        lb,
        Arc::new(move |args, asking| match &args[0][..] {
            b"GET" if &args[1][..] == b"k" || asking => "$1\r\nv\r\n".into(),
            b"GET" => format!("-MOVED {} 127.0.0.1:{a}\r\n", crate::slot::key_slot(&args[1])),
            _ => "-ERR unexpected\r\n".into(),
        }),
    );
    let c = client(a, fast());
    assert_eq!(c.get("j").await.unwrap().as_deref(), Some(&b"v"[..]), "ASK followed with ASKING");
    let s = c.cluster_stats().unwrap();
    assert_eq!((s.asked, s.moved), (1, 0));
    assert_eq!(c.slot_owner(crate::slot::key_slot(b"j")), Some(0), "ASK leaves the map alone");
    assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(c.cluster_stats().unwrap().moved, 1);
    assert_eq!(c.node_name(c.slot_owner(slot).unwrap()), format!("127.0.0.1:{b}"), "MOVED updated the map");
}

#[tokio::test]
async fn shards_are_read_where_slots_is_refused() {
    let (l, a) = listener().await;
    serve(
        l,
        Arc::new(move |args, _| match (&args[0][..], args.get(1).map(|b| &b[..])) {
            (b"CLUSTER", Some(b"SLOTS")) => "-ERR unknown subcommand 'SLOTS'\r\n".into(),
            (b"CLUSTER", Some(b"SHARDS")) => format!(
                "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*6\r\n\
                 $2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n:{a}\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
            ),
            (b"GET", _) => "$1\r\nv\r\n".into(),
            _ => "-ERR unexpected\r\n".into(),
        }),
    );
    let c = client(a, fast());
    assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(c.slot_owner(16383), Some(0));
    assert_eq!(c.cluster_stats().unwrap().refreshes, 1);
}

#[tokio::test]
async fn tryagain_and_clusterdown_are_retried_a_bounded_number_of_times() {
    let (l, a) = listener().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    serve(
        l,
        Arc::new(move |args, _| match &args[0][..] {
            b"CLUSTER" => slots_of(a),
            // Not idempotent, but -TRYAGAIN proves it did not run: resent anyway.
            b"INCR" if seen.fetch_add(1, Ordering::Relaxed) < 2 => {
                "-TRYAGAIN Multiple keys request during rehashing of slot\r\n".into()
            }
            b"INCR" => ":1\r\n".into(),
            _ => "-CLUSTERDOWN The cluster is down\r\n".into(),
        }),
    );
    let c = client(a, fast());
    assert_eq!(c.incr("n").await.unwrap(), 1);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    let e = c.strlen("n").await.unwrap_err();
    assert_eq!(e.server_code(), Some("CLUSTERDOWN"), "{e}");
    assert_eq!(c.cluster_stats().unwrap().busy_retries, 2 + u64::from(fast().busy_retries));
}

#[tokio::test]
async fn a_redirect_loop_ends_with_its_error_and_an_empty_map_is_refused() {
    let ((la, a), (lb, b)) = (listener().await, listener().await);
    serve(
        la,
        Arc::new(move |args, _| match &args[0][..] {
            b"CLUSTER" => "*0\r\n".to_owned(),
            _ => format!("-MOVED {} 127.0.0.1:{b}\r\n", crate::slot::key_slot(&args[1])),
        }),
    );
    serve(lb, Arc::new(move |args, _| format!("-MOVED {} 127.0.0.1:{a}\r\n", crate::slot::key_slot(&args[1]))));
    let c = client(a, fast());
    // A map that names no slot: nothing to route by.
    assert!(matches!(c.get("x").await, Err(Error::Protocol(_))), "an empty CLUSTER SLOTS is no map");
    c.cluster().map.write().set(crate::slot::key_slot(b"x"), 0);
    let e = c.get("x").await.unwrap_err();
    assert_eq!(e.server_code(), Some("MOVED"));
    assert_eq!(c.cluster_stats().unwrap().moved, u64::from(fast().max_redirects) + 1);
}
