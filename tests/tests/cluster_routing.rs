//! Cluster redirections, differential against real `redis-server` 7.0 nodes: the same two-node
//! cluster is built of Redis nodes and of ours (CLUSTER MEET, ADDSLOTSRANGE, a range left
//! unassigned), and one script runs on both — MOVED, CROSSSLOT, `Hash slot not served`, keyless
//! commands, EVAL keys, MULTI/EXEC queued against the slot map, READONLY/READWRITE/ASKING,
//! CLUSTER KEYSLOT/COUNTKEYSINSLOT/GETKEYSINSLOT, a slot migrated by hand (SETSLOT MIGRATING and
//! IMPORTING: ASK, TRYAGAIN, ASKING for one command, MIGRATE … KEYS, SETSLOT NODE), a client
//! parked in BLPOP on the migrated slot (redirected with MOVED), and the cluster going down
//! (B stopped: A is a minority; `cluster-allow-reads-when-down` yes, then no). Every reply
//! must be the same bytes once node ports are written as `A` and `B`.
//!
//! Bounded: about 80 commands; waits for the nodes to agree poll at most 20 s each.
//!
//! Not covered here (unit tests in `cluster/route` cover the decision): a replica serving reads
//! after READONLY (our nodes have no replicas yet).

use std::time::{Duration, Instant};

use cache_tests::cluster::{Cluster, ClusterSpec, NodeProgram};
use cache_tests::port::loopback;
use cache_tests::resp::{RawConn, escape};

/// Two nodes of one kind, alone (the script joins them with CLUSTER MEET).
fn start(redis: bool) -> Option<Cluster> {
    let program = if redis { NodeProgram::redis()? } else { NodeProgram::ours() };
    let extra = ["--cluster-require-full-coverage", "no", "--cluster-allow-reads-when-down", "yes"];
    let spec =
        ClusterSpec { nodes: 2, node_timeout_ms: 3000, extra: extra.map(String::from).to_vec(), ..Default::default() };
    Some(Cluster::launch(program, spec).expect("start two nodes"))
}

fn cmd(c: &mut RawConn, line: &str) -> String {
    let words: Vec<&str> = split(line);
    let (_, raw) = c.cmd_raw(&words).unwrap_or_else(|e| panic!("{line}: {e}"));
    escape(&raw)
}

/// Words of `line`; `"…"` quotes one word with spaces.
fn split(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if let Some(body) = rest.strip_prefix('"') {
            let end = body.find('"').expect("closing quote");
            out.push(&body[..end]);
            rest = body[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
    }
    out
}

/// Polls `line` on `c` until its reply contains `want` (20 s at most).
fn wait_for(c: &mut RawConn, line: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = cmd(c, line);
        if got.contains(want) {
            return;
        }
        assert!(Instant::now() < deadline, "waited 20 s for {line} to answer {want}; last: {got}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a step does.
enum Step {
    /// Run on node A or B (`{A}`, `{B}`, `{Aid}`, `{Bid}`, `{Bport}` substituted) and record the reply.
    Run(char, &'static str),
    /// Poll on a node until the reply contains the text (not recorded).
    Wait(char, &'static str, &'static str),
    /// Send a command on A's second connection without reading its reply (waits until A counts
    /// it in `blocked_clients`).
    Park(&'static str),
    /// Read the reply of the parked command and record it.
    Unpark,
    /// Stop node B.
    KillB,
    /// Record the `flags=` of the node's CLIENT INFO for this connection.
    Flags(char),
}

use Step::{Flags, KillB, Park, Run, Unpark, Wait};

/// `bar` (5061), `b` (3300), `hello` (866) are A's; `foo` (12182) and `a` (15495) are B's; `x`
/// (16287) is in the unassigned range.
const SCRIPT: &[Step] = &[
    Run('A', "set bar 1"),
    Run('A', "set {bar}1 1"),
    Run('A', "set hello h"),
    Run('A', "get bar"),
    Run('A', "get foo"),
    Run('A', "set a 1"),
    Run('A', "get x"),
    Run('A', "mget bar hello"),
    Run('A', "mget bar foo"),
    Run('A', "mget foo bar"),
    Run('A', "mget x foo"),
    Run('A', "mget bar {bar}1"),
    Run('A', "ping"),
    Run('A', "dbsize"),
    Run('A', "eval \"return 1\" 0"),
    Run('A', "eval \"return 1\" 2 bar foo"),
    Run('A', "eval \"return redis.call('get', KEYS[1])\" 1 foo"),
    Run('A', "eval \"return redis.call('get', KEYS[1])\" 1 bar"),
    // Keys a script touches without declaring them: local, one slot (or allow-cross-slot-keys).
    Run('A', "eval \"return redis.call('get', 'foo')\" 0"),
    Run('A', "eval \"return redis.call('get', 'bar')\" 0"),
    Run('A', "eval \"redis.call('get', 'bar'); return redis.call('get', 'hello')\" 0"),
    Run('A', "eval \"#!lua\nredis.call('get', 'bar'); return redis.call('get', 'hello')\" 0"),
    Run(
        'A',
        "eval \"#!lua flags=allow-cross-slot-keys\nredis.call('get', 'bar'); return redis.call('get', 'hello')\" 0",
    ),
    Run('A', "eval \"#!lua\nreturn redis.call('get', 'hello')\" 1 bar"),
    Run('A', "eval \"#!lua\nreturn redis.call('get', '{bar}1')\" 1 bar"),
    Run('A', "eval \"#!lua flags=no-cluster\nreturn 1\" 0"),
    Run('A', "eval \"return redis.call('set', 'foo', 1)\" 0"),
    Run('A', "eval \"return redis.pcall('get', 'foo')\" 0"),
    Run(
        'A',
        "function load \"#!lua name=lib\nredis.register_function('f', function(keys) return redis.call('get', keys[1]) .. redis.call('get', 'hello') end)\"",
    ),
    Run('A', "fcall f 1 bar"),
    Run('A', "fcall f 1 hello"),
    Run('A', "fcall f 1 foo"),
    Run('A', "object encoding foo"),
    Run('A', "zunionstore bar 2 {bar}1 foo"),
    Run('A', "multi"),
    Run('A', "set bar 2"),
    Run('A', "get foo"),
    Run('A', "exec"),
    Run('A', "multi"),
    Run('A', "set bar 3"),
    Run('A', "get {bar}1"),
    Run('A', "exec"),
    Run('A', "cluster keyslot {user1000}.following"),
    Run('A', "cluster countkeysinslot 5061"),
    Run('A', "cluster countkeysinslot 12182"),
    Run('A', "cluster getkeysinslot 866 10"),
    Run('A', "cluster getkeysinslot 866 0"),
    Run('A', "cluster countkeysinslot 16384"),
    Run('A', "cluster getkeysinslot 1 -1"),
    Run('A', "spublish foo m"),
    Run('A', "spublish bar m"),
    Run('A', "ssubscribe bar hello"),
    Run('A', "ssubscribe foo"),
    Run('A', "select 1"),
    Run('A', "select 0"),
    Run('A', "select x"),
    Run('A', "move bar 1"),
    Run('A', "swapdb 0 1"),
    Run('A', "copy bar {bar}c db 1"),
    Run('A', "copy bar {bar}c db 0"),
    Run('A', "copy bar {bar}c db 99"),
    Run('A', "del {bar}c"),
    Run('A', "readonly"),
    Flags('A'),
    Run('A', "readwrite"),
    Flags('A'),
    Run('A', "asking"),
    Run('A', "get foo"),
    // Slot 5061 moves from A to B by hand, as redis-cli --cluster reshard does it, while a
    // client waits in BLPOP on a key of it.
    Park("blpop {bar}q 0"),
    Run('B', "cluster setslot 5061 importing {Aid}"),
    Run('A', "cluster setslot 5061 migrating {Bid}"),
    Run('A', "get bar"),
    Run('A', "get {bar}2"),
    Run('A', "set {bar}2 x"),
    Run('A', "mget bar {bar}2"),
    Run('A', "mget {bar}2 {bar}3"),
    Run('A', "exists bar"),
    Run('B', "get bar"),
    Run('B', "asking"),
    Run('B', "get bar"),
    Run('B', "get bar"),
    Run('B', "asking"),
    Run('B', "get"),
    Run('B', "get bar"),
    Run('B', "asking"),
    Run('B', "mget bar {bar}1"),
    Run('B', "asking"),
    Run('B', "set {bar}new n"),
    Run('B', "get {bar}new"),
    Run('B', "multi"),
    Run('B', "asking"),
    Run('B', "get {bar}new"),
    Run('B', "exec"),
    Run('A', "migrate 127.0.0.1 {Bport} \"\" 0 5000 KEYS {bar}1"),
    Run('A', "get {bar}1"),
    Run('A', "migrate 127.0.0.1 {Bport} bar 0 5000"),
    Run('A', "migrate 127.0.0.1 {Bport} bar 0 5000"),
    Run('A', "cluster countkeysinslot 5061"),
    Run('B', "cluster countkeysinslot 5061"),
    Run('A', "cluster setslot 5061 node {Bid}"),
    Run('B', "cluster setslot 5061 node {Bid}"),
    Unpark,
    Run('A', "get bar"),
    Run('B', "get bar"),
    Run('B', "get {bar}1"),
    // B dies: A alone is a minority of the primaries and calls the cluster down (after
    // cluster-node-timeout); it was started with cluster-allow-reads-when-down yes.
    KillB,
    Wait('A', "cluster info", "cluster_state:fail"),
    Run('A', "get hello"),
    Run('A', "set hello 2"),
    Run('A', "get foo"),
    Run('A', "get x"),
    Run('A', "ping"),
    Run('A', "config set cluster-allow-reads-when-down no"),
    Run('A', "get hello"),
    Run('A', "set hello 3"),
    Run('A', "get x"),
    Run('A', "eval \"return 1\" 0"),
    Run('A', "spublish hello m"),
];

/// Builds the two-node cluster of one kind and plays [`SCRIPT`] on it.
fn play(redis: bool) -> Option<Vec<String>> {
    let mut c = start(redis)?;
    let (a_port, b_port) = (c.nodes[0].port, c.nodes[1].port);
    let (a_addr, b_addr) = (loopback(a_port), loopback(b_port));
    let b_bus = b_port + 10_000;
    let (mut ca, mut cb) = (RawConn::connect(a_addr).expect("A"), RawConn::connect(b_addr).expect("B"));
    let mut parked = RawConn::connect(a_addr).expect("A again");
    let a_id = cmd(&mut ca, "cluster myid");
    let b_id = cmd(&mut cb, "cluster myid");
    let id = |raw: &str| raw.rsplit("\\r\\n").nth(1).expect("a bulk id").to_owned();
    let (a_id, b_id) = (id(&a_id), id(&b_id));
    assert_eq!(cmd(&mut ca, &format!("cluster meet 127.0.0.1 {b_port} {b_bus}")), "+OK\\r\\n");
    assert_eq!(cmd(&mut ca, "cluster addslotsrange 0 8191"), "+OK\\r\\n");
    assert_eq!(cmd(&mut cb, "cluster addslotsrange 8192 16000"), "+OK\\r\\n");
    // Both nodes see both ranges and call the cluster ok.
    wait_for(&mut ca, "get foo", "MOVED");
    wait_for(&mut cb, "get bar", "MOVED");
    wait_for(&mut ca, "cluster info", "cluster_state:ok");
    wait_for(&mut cb, "cluster info", "cluster_state:ok");
    let subst =
        |line: &str| line.replace("{Aid}", &a_id).replace("{Bid}", &b_id).replace("{Bport}", &b_port.to_string());
    let norm =
        |reply: String| reply.replace(&format!("127.0.0.1:{a_port}"), "A").replace(&format!("127.0.0.1:{b_port}"), "B");
    let mut log = Vec::new();
    for step in SCRIPT {
        match step {
            Run(node, line) => {
                let c = if *node == 'A' { &mut ca } else { &mut cb };
                log.push(format!("{node} {} -> {}", line.replace('\n', "\\n"), norm(cmd(c, &subst(line)))));
            }
            Wait(node, line, want) => wait_for(if *node == 'A' { &mut ca } else { &mut cb }, line, want),
            Park(line) => {
                parked.send_raw(&cache_tests::resp::encode_command(&split(line))).expect("park");
                // Parked before the next step runs: the connections are independent, and a BLPOP
                // that arrived after SETSLOT MIGRATING would be answered -ASK at once.
                wait_for(&mut ca, "info clients", "blocked_clients:1");
            }
            Unpark => {
                let (_, raw) = parked.read_frame_raw().expect("the parked client's reply");
                log.push(format!("parked -> {}", norm(escape(&raw))));
            }
            KillB => c.kill(1),
            Flags(node) => {
                let info = cmd(if *node == 'A' { &mut ca } else { &mut cb }, "client info");
                let flags = info.split(' ').find(|w| w.starts_with("flags=")).unwrap_or("no flags").to_owned();
                log.push(format!("{node} client info -> {flags}"));
            }
        }
    }
    drop(c);
    Some(log)
}

#[test]
fn redirections_match_redis() {
    let Some(want) = play(true) else { return };
    let got = play(false).expect("our nodes");
    let mut diffs = Vec::new();
    for (w, g) in want.iter().zip(&got) {
        if w != g {
            diffs.push(format!("redis: {w}\n ours: {g}"));
        }
    }
    assert_eq!(want.len(), got.len());
    assert!(diffs.is_empty(), "{} of {} replies differ:\n{}", diffs.len(), want.len(), diffs.join("\n"));
    println!("{} replies compared:\n{}", got.len(), got.join("\n"));
}
