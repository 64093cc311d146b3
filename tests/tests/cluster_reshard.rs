//! Growing a cluster of our nodes with the real tools while a real cluster client works: three
//! nodes made a cluster by `redis-cli --cluster create`, checked by `--cluster check`, a fourth
//! joined by `--cluster add-node` and given slots by `--cluster reshard --cluster-yes` (which
//! moves keys with CLUSTER SETSLOT, GETKEYSINSLOT and MIGRATE), while redis-py's `RedisCluster`
//! (`tests/clients/cluster_reshard.py`) keeps writing and reading back keys, half of them in the
//! slots being moved. No error may surface to the client, no read may miss its write, no key
//! may be lost, and the nodes must hold exactly the client's keys afterwards.
//!
//! Bounded: 60 slots moved (about 10 s of migration on a debug build), the client stops when
//! the reshard is done or after 240 s, every tool runs under `timeout`.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cache_tests::cluster::{Cluster, ClusterSpec, NodeProgram};
use cache_tests::peer::require_peer;
use cache_tests::port::loopback;
use cache_tests::resp::{Frame, RawConn};
use cache_tests::transcript::{clients_dir, require};

/// Slots moved to the new node.
const SLOTS_MOVED: u32 = 60;

/// Runs `redis-cli args…` (120 s at most) and returns its output; panics if it fails.
fn cli(args: &[String]) -> String {
    let out = Command::new("timeout")
        .arg("120")
        .arg("redis-cli")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "redis-cli {args:?} failed:\n{text}");
    text
}

/// Polls `addr` with CLUSTER INFO until it reports `cluster_state:ok` and `known` nodes.
fn wait_ok(addr: SocketAddr, known: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut c = RawConn::connect(addr).expect("connect");
    loop {
        let info = c.cmd(&["cluster", "info"]).expect("cluster info").text();
        if info.contains("cluster_state:ok") && info.contains(&format!("cluster_known_nodes:{known}\r")) {
            return;
        }
        assert!(Instant::now() < deadline, "{addr} not ok with {known} nodes after 30 s:\n{info}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn reshard_under_a_redis_py_cluster_client_loses_nothing() {
    if require_peer("redis-cli").is_none() {
        return;
    }
    let probe = &mut Command::new("python3");
    if !require(
        "python3 with redis-py",
        "pip install -r tests/clients/requirements.txt",
        probe.args(["-c", "import redis.cluster"]),
    ) {
        return;
    }
    let spec = ClusterSpec { nodes: 4, node_timeout_ms: 5000, ..ClusterSpec::default() };
    let c = Cluster::launch(NodeProgram::ours(), spec).expect("start four nodes");
    let addrs: Vec<SocketAddr> = c.nodes.iter().map(|n| loopback(n.port)).collect();
    let dir = c.dir().to_path_buf();
    let addr = |i: usize| addrs[i].to_string();
    let out = cli(&["--cluster".into(), "create".into(), addr(0), addr(1), addr(2), "--cluster-yes".into()]);
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    for &a in &addrs[..3] {
        wait_ok(a, 3);
    }
    let check = cli(&["--cluster".into(), "check".into(), addr(0)]);
    assert!(check.contains("[OK] All nodes agree about slots configuration."), "{check}");

    let stop = dir.join("stop");
    let client = Command::new("timeout")
        .arg("300")
        .arg("python3")
        .arg(clients_dir().join("cluster_reshard.py"))
        .args([addrs[0].port().to_string(), stop.display().to_string(), "240".into()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the cluster client");
    // Let it write its keys and run a while before the cluster changes.
    std::thread::sleep(Duration::from_secs(3));

    let out = cli(&["--cluster".into(), "add-node".into(), addr(3), addr(0)]);
    assert!(out.contains("[OK] New node added correctly."), "{out}");
    for &a in &addrs {
        wait_ok(a, 4);
    }
    let new_id = (RawConn::connect(addrs[3]).expect("connect").cmd(&["cluster", "myid"]).expect("myid")).text();
    let started = Instant::now();
    let out = cli(&[
        "--cluster".into(),
        "reshard".into(),
        addr(0),
        "--cluster-from".into(),
        "all".into(),
        "--cluster-to".into(),
        new_id.clone(),
        "--cluster-slots".into(),
        SLOTS_MOVED.to_string(),
        "--cluster-yes".into(),
    ]);
    let took = started.elapsed();
    assert!(!out.contains("[ERR]"), "{out}");
    let check = cli(&["--cluster".into(), "check".into(), addr(0)]);
    assert!(check.contains("[OK] All nodes agree about slots configuration."), "{check}");
    assert!(check.contains("[OK] All 16384 slots covered."), "{check}");
    // redis-cli rounds each source's share: the new node gets about SLOTS_MOVED slots.
    let served: u32 = check
        .split(&format!("M: {new_id}"))
        .nth(1)
        .and_then(|s| s.split(" slots)").next())
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.parse().ok())
        .expect("the new node's slot count in --cluster check");
    assert!(served + 3 >= SLOTS_MOVED && served <= SLOTS_MOVED, "the new node serves {served} slots:\n{check}");
    // Let the client run on the new map a little, then stop it.
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(&stop, b"").expect("stop file");
    let done = client.wait_with_output().expect("the client's exit");
    let report = String::from_utf8_lossy(&done.stdout).into_owned();
    println!("reshard of {SLOTS_MOVED} slots took {took:?}; client: {report}");
    assert!(
        done.status.success(),
        "the client saw errors or lost keys: {report}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    // The nodes hold the client's keys, no more, no less (each key once).
    let keys: u64 = report
        .split("\"keys\": ")
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|n| n.trim().parse().ok())
        .expect("the client's key count");
    let held: i64 = addrs
        .iter()
        .map(|&a| match RawConn::connect(a).expect("connect").cmd(&["dbsize"]).expect("dbsize") {
            Frame::Integer(i) => i,
            other => panic!("dbsize: {other:?}"),
        })
        .sum();
    assert_eq!(held, keys as i64, "keys held by the nodes");
    drop(c);
}
