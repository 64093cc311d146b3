//! Operator commands against a real redis-server 7.0.15, in RESP2 and RESP3: CLIENT REPLY
//! sequences (pipelined, replies compared byte for byte), CLIENT LIST / INFO field names and the
//! values both servers must agree on, CLIENT PAUSE WRITE letting reads through while writes and
//! PUBLISH wait (and ALL holding everything until its deadline), COMMAND GETKEYS /
//! GETKEYSANDFLAGS / INFO (flags, ACL categories, tips, key specs) / LIST over many commands,
//! DEBUG and LOLWUT. Waits are bounded: a held command is "held" if it has not answered within
//! a second, and every pause is lifted or ends within seconds.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cache_tests::ServerOpts;
use cache_tests::ours::OurServer;
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, encode_command, escape};

/// Both servers, or `None` (the test is skipped) without redis-server.
fn servers() -> Option<(RedisServer, OurServer)> {
    let redis = RedisServer::start(&["--enable-debug-command", "yes"])?;
    let opts = ServerOpts { directives: vec![("enable-debug-command".into(), "yes".into())], ..ServerOpts::default() };
    Some((redis, OurServer::start(&opts)))
}

fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| if w == "\"\"" { Vec::new() } else { w.as_bytes().to_vec() }).collect()
}

fn connect(addr: SocketAddr, resp3: bool) -> RawConn {
    let mut c = RawConn::connect(addr).expect("connect");
    if resp3 {
        c.cmd(&["HELLO", "3"]).expect("HELLO 3");
    }
    c
}

/// Sends each line to both servers (one connection each) and lists the replies that differ.
fn same_replies(redis: SocketAddr, ours: SocketAddr, resp3: bool, lines: &[&str]) {
    let (mut r, mut o) = (connect(redis, resp3), connect(ours, resp3));
    let mut diffs = Vec::new();
    for line in lines {
        let args = words(line);
        let (_, want) = r.cmd_raw(&args).expect("redis reply");
        let (_, got) = o.cmd_raw(&args).expect("our reply");
        if want != got {
            diffs.push(format!("{line}\n  redis: {}\n  ours:  {}", escape(&want), escape(&got)));
        }
    }
    assert!(diffs.is_empty(), "RESP{} replies differ:\n{}", if resp3 { 3 } else { 2 }, diffs.join("\n"));
}

/// Pipelines `lines` then `ECHO end` and returns every reply up to that echo, raw.
fn pipelined(addr: SocketAddr, lines: &[&str]) -> Vec<Vec<u8>> {
    let mut c = connect(addr, false);
    let mut bytes = Vec::new();
    for line in lines.iter().chain(&["CLIENT REPLY ON", "ECHO end"]) {
        bytes.extend(encode_command(&words(line)));
    }
    c.send_raw(&bytes).expect("send");
    let mut replies = Vec::new();
    for _ in 0..lines.len() + 2 {
        let (frame, raw) = c.read_frame_raw().expect("reply");
        if frame == Frame::Bulk(Some(b"end".to_vec())) {
            return replies;
        }
        replies.push(raw);
    }
    panic!("no reply to the closing ECHO");
}

#[test]
fn client_reply_sequences_match_redis() {
    let Some((redis, ours)) = servers() else { return };
    let sequences: &[&[&str]] = &[
        &["CLIENT REPLY OFF", "PING", "GET x", "NOSUCH", "GET", "CLIENT REPLY ON", "PING"],
        &["CLIENT REPLY SKIP", "PING a", "PING b", "CLIENT REPLY SKIP", "CLIENT REPLY SKIP", "PING c", "PING d"],
        &["CLIENT REPLY OFF", "CLIENT REPLY SKIP", "PING a", "CLIENT REPLY foo", "CLIENT REPLY ON", "PING b"],
        &["CLIENT REPLY SKIP", "GET", "CLIENT REPLY SKIP", "MULTI", "PING", "EXEC", "PING e"],
        &["CLIENT REPLY SKIP", "SET k v", "GET k", "CLIENT REPLY", "CLIENT REPLY on extra"],
    ];
    for seq in sequences {
        assert_eq!(pipelined(redis.addr(), seq), pipelined(ours.addr(), seq), "sequence {seq:?}");
    }
    // A skipped reply of a blocking command is the one it gives when served.
    for addr in [redis.addr(), ours.addr()] {
        let replies = pipelined(addr, &["DEL q", "CLIENT REPLY SKIP", "BLPOP q 0.05", "PING x"]);
        let want: Vec<Vec<u8>> = [&b":0\r\n"[..], b"$1\r\nx\r\n", b"+OK\r\n"].iter().map(|r| r.to_vec()).collect();
        assert_eq!(replies, want, "{addr}");
    }
}

/// `key=value` fields of one CLIENT LIST line, in order.
fn fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .filter(|(k, _)| k != "lib-name" && k != "lib-ver")
        .collect()
}

fn text(f: Frame) -> String {
    match f {
        Frame::Bulk(Some(b)) | Frame::Verbatim(_, b) => String::from_utf8(b).expect("utf-8"),
        other => panic!("expected text, got {other:?}"),
    }
}

/// What both servers must agree on in CLIENT LIST: the field names in order, and the values that
/// do not depend on ids, ports, buffer sizes or allocator details.
const SAME_VALUE: &[&str] = &[
    "name", "flags", "db", "sub", "psub", "ssub", "multi", "qbuf", "argv-mem", "obl", "oll", "omem", "events", "cmd",
    "user", "redir", "resp",
];

/// One CLIENT LIST snapshot: a named client in MULTI with two queued commands in db 2, a
/// subscriber, and the caller; the lines by client name (the caller is "me").
fn client_list_snapshot(addr: SocketAddr, resp3: bool) -> Vec<(String, Vec<(String, String)>)> {
    let mut busy = connect(addr, false);
    for line in ["CLIENT SETNAME busy", "SELECT 2", "MULTI", "SET a 1", "CLIENT NO-EVICT on"] {
        busy.cmd(&words(line)).expect("busy");
    }
    let mut sub = connect(addr, false);
    sub.cmd(&["CLIENT", "SETNAME", "sub"]).expect("setname");
    sub.cmd(&["SUBSCRIBE", "ch"]).expect("subscribe");
    let mut me = connect(addr, resp3);
    me.cmd(&["CLIENT", "SETNAME", "me"]).expect("setname");
    me.cmd(&["CLIENT", "NO-EVICT", "on"]).expect("no-evict");
    let mut lines: Vec<(String, Vec<(String, String)>)> = text(me.cmd(&["CLIENT", "LIST"]).expect("CLIENT LIST"))
        .lines()
        .map(fields)
        .map(|f| (f.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone()).unwrap_or_default(), f))
        .filter(|(name, _)| !name.is_empty())
        .collect();
    let info = fields(text(me.cmd(&["CLIENT", "INFO"]).expect("CLIENT INFO")).trim_end());
    lines.push(("info".to_owned(), info));
    let pubsub = text(me.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]).expect("TYPE pubsub"));
    lines.push(("type-pubsub".to_owned(), vec![("count".to_owned(), pubsub.lines().count().to_string())]));
    lines.sort();
    lines
}

#[test]
fn client_list_fields_and_values_match_redis() {
    let Some((redis, ours)) = servers() else { return };
    for resp3 in [false, true] {
        let want = client_list_snapshot(redis.addr(), resp3);
        // Another connection's `omem` counts a reply until its task has seen the write finish:
        // the snapshot is taken again (bounded) while only such a lag can explain a difference.
        let mut attempts = 0;
        let got = loop {
            let got = client_list_snapshot(ours.addr(), resp3);
            attempts += 1;
            let lagging = want.iter().zip(&got).any(|((wn, w), (_, g))| {
                wn != "me" && wn != "info" && w.iter().zip(g).any(|((k, wv), (_, gv))| k == "omem" && wv != gv)
            });
            if !lagging || attempts == 10 {
                break got;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert_eq!(want.len(), got.len(), "clients listed: {want:?} vs {got:?}");
        for ((wn, w), (gn, g)) in want.iter().zip(&got) {
            assert_eq!(wn, gn);
            let names = |f: &[(String, String)]| f.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
            assert_eq!(names(w), names(g), "field names of {wn}");
            for ((k, wv), (_, gv)) in w.iter().zip(g) {
                if SAME_VALUE.contains(&k.as_str()) {
                    assert_eq!(wv, gv, "{k} of {wn} (RESP{})", if resp3 { 3 } else { 2 });
                } else if !["addr", "laddr"].contains(&k.as_str()) {
                    assert!(gv.parse::<i64>().is_ok(), "{k}={gv} of {wn} is no number");
                }
            }
        }
    }
    same_replies(
        redis.addr(),
        ours.addr(),
        false,
        &[
            "CLIENT LIST TYPE",
            "CLIENT LIST TYPE foo",
            "CLIENT LIST TYPE master",
            "CLIENT LIST TYPE replica",
            "CLIENT LIST ID",
            "CLIENT LIST ID abc",
            "CLIENT LIST ID 0 -5",
            "CLIENT LIST foo",
            "CLIENT LIST TYPE normal ID 3",
            "CLIENT INFO x",
            "CLIENT KILL ID 0",
            "CLIENT KILL ID abc",
            "CLIENT KILL MAXAGE 1",
            "CLIENT KILL TYPE foo",
            "CLIENT KILL USER nobody",
            "CLIENT KILL USER default SKIPME yes ADDR 1.1.1.1:1",
            "CLIENT KILL TYPE master",
            "CLIENT KILL SKIPME maybe",
            "CLIENT KILL 1.2.3.4:5",
            "CLIENT NO-EVICT",
            "CLIENT NO-EVICT maybe",
            "CLIENT NO-EVICT off",
            "CLIENT PAUSE",
            "CLIENT PAUSE -1",
            "CLIENT PAUSE abc",
            "CLIENT PAUSE 10 foo",
            "CLIENT PAUSE abc foo",
            "CLIENT PAUSE 10 write extra",
            "CLIENT UNPAUSE x",
            "CLIENT UNPAUSE",
            "CLIENT HELP",
        ],
    );
}

/// The next reply on `c` if it comes within a second (a loaded machine answers well within it;
/// a held command never does).
fn answers(c: &mut RawConn) -> Option<Frame> {
    c.stream().set_read_timeout(Some(Duration::from_millis(1000))).expect("timeout");
    let r = c.read_frame().ok();
    c.stream().set_read_timeout(Some(cache_tests::resp::REPLY_TIMEOUT)).expect("timeout");
    r
}

/// Which commands a WRITE pause holds, and that UNPAUSE releases them in order.
fn pause_outcome(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr, false);
    let mut log = Vec::new();
    admin.cmd(&["SET", "k", "v"]).expect("SET");
    admin.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"]).expect("PAUSE");
    // `;` separates commands sent first (and answered) on the same connection.
    for line in
        ["GET k", "PING", "EVAL_RO return 0", "SET k held", "MULTI;SET k queued", "PUBLISH ch m", "EVAL return 0"]
    {
        let mut c = connect(addr, false);
        let mut parts: Vec<&str> = line.split(';').collect();
        let last = parts.pop().expect("a command");
        for p in parts {
            c.cmd(&words(p)).expect("setup");
        }
        c.send_raw(&encode_command(&words(last))).expect("send");
        match answers(&mut c) {
            Some(f) => log.push(format!("{line}: answered {f:?}")),
            None => {
                log.push(format!("{line}: held"));
                let list = text(admin.cmd(&["CLIENT", "LIST"]).expect("CLIENT LIST"));
                for l in list.lines().filter(|l| l.contains(" flags=b ")) {
                    let f = fields(l);
                    let pick = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                    log.push(format!("  held: argv-mem={} cmd={}", pick("argv-mem"), pick("cmd")));
                }
                admin.cmd(&["CLIENT", "UNPAUSE"]).expect("UNPAUSE");
                log.push(format!("  after UNPAUSE: {:?}", answers(&mut c)));
                admin.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"]).expect("PAUSE");
            }
        }
    }
    admin.cmd(&["CLIENT", "UNPAUSE"]).expect("UNPAUSE");
    // ALL holds every command, UNPAUSE included, until the deadline.
    admin.cmd(&["CLIENT", "PAUSE", "3000", "ALL"]).expect("PAUSE ALL");
    let start = Instant::now();
    let mut other = connect(addr, false);
    other.send_raw(&encode_command(&["GET", "k"])).expect("send");
    log.push(format!("ALL: GET held: {}", answers(&mut other).is_none()));
    admin.send_raw(&encode_command(&["CLIENT", "UNPAUSE"])).expect("send");
    log.push(format!("ALL: UNPAUSE held: {}", answers(&mut admin).is_none()));
    let got = other.read_frame().expect("GET after the deadline");
    let waited = start.elapsed();
    log.push(format!("ALL: then {got:?}, after the deadline: {}", waited >= Duration::from_millis(2900)));
    assert!(waited < Duration::from_secs(8), "the pause outlived its deadline: {waited:?}");
    log
}

#[test]
fn client_pause_write_lets_reads_through_and_holds_writes_like_redis() {
    let Some((redis, ours)) = servers() else { return };
    let want = pause_outcome(redis.addr());
    let got = pause_outcome(ours.addr());
    assert_eq!(want, got, "\nredis: {want:#?}\nours: {got:#?}");
}

/// GETKEYS requests over many command families; the replies must match byte for byte.
const GETKEYS: &[&str] = &[
    "COMMAND GETKEYS nosuch a",
    "COMMAND GETKEYS get a b",
    "COMMAND GETKEYS get a",
    "COMMAND GETKEYS mset a b c",
    "COMMAND GETKEYS mset a b c d e",
    "COMMAND GETKEYS eval x 0",
    "COMMAND GETKEYS eval x 3 a",
    "COMMAND GETKEYS eval x -1 a",
    "COMMAND GETKEYS eval x 1 a b",
    "COMMAND GETKEYS evalsha x 2 a b c",
    "COMMAND GETKEYS fcall f 1 k a",
    "COMMAND GETKEYS zunionstore d 3 a b",
    "COMMAND GETKEYS zunionstore d 0 a",
    "COMMAND GETKEYS zunion 0 a",
    "COMMAND GETKEYS zunion 2 a b",
    "COMMAND GETKEYS zunionstore d 2 a b weights 1 2",
    "COMMAND GETKEYS zinterstore d x a",
    "COMMAND GETKEYS sort s by x store d get y store e limit 0 1",
    "COMMAND GETKEYS sort s limit 0",
    "COMMAND GETKEYS sort s store",
    "COMMAND GETKEYS sort_ro s by x",
    "COMMAND GETKEYS object encoding k",
    "COMMAND GETKEYS object help",
    "COMMAND GETKEYS object nosuch k",
    "COMMAND GETKEYS lmpop 2 a b left",
    "COMMAND GETKEYS blmpop 0 5 a left",
    "COMMAND GETKEYS blmpop 0 2 a b left",
    "COMMAND GETKEYS sintercard 2 a b limit 1",
    "COMMAND GETKEYS client list",
    "COMMAND GETKEYS config get x",
    "COMMAND GETKEYS ping x",
    "COMMAND GETKEYS get",
    "COMMAND GETKEYSANDFLAGS lmove a b left right",
    "COMMAND GETKEYSANDFLAGS set k v",
    "COMMAND GETKEYSANDFLAGS set k v get",
    "COMMAND GETKEYSANDFLAGS set k v nx",
    "COMMAND GETKEYSANDFLAGS sort s store d",
    "COMMAND GETKEYSANDFLAGS del a b c",
    "COMMAND GETKEYSANDFLAGS unlink a",
    "COMMAND GETKEYSANDFLAGS rename a b",
    "COMMAND GETKEYSANDFLAGS renamenx a b",
    "COMMAND GETKEYSANDFLAGS copy a b",
    "COMMAND GETKEYSANDFLAGS smove a b m",
    "COMMAND GETKEYSANDFLAGS sinterstore d a b",
    "COMMAND GETKEYSANDFLAGS sunionstore d a b",
    "COMMAND GETKEYSANDFLAGS zrangestore d a 0 1",
    "COMMAND GETKEYSANDFLAGS rpoplpush a b",
    "COMMAND GETKEYSANDFLAGS blmove a b left left 0",
    "COMMAND GETKEYSANDFLAGS incr a",
    "COMMAND GETKEYSANDFLAGS append a b",
    "COMMAND GETKEYSANDFLAGS hset h f v",
    "COMMAND GETKEYSANDFLAGS hget h f",
    "COMMAND GETKEYSANDFLAGS lpush l a",
    "COMMAND GETKEYSANDFLAGS blpop a b 0",
    "COMMAND GETKEYSANDFLAGS zadd z 1 m",
    "COMMAND GETKEYSANDFLAGS zpopmin z",
    "COMMAND GETKEYSANDFLAGS exists a b",
    "COMMAND GETKEYSANDFLAGS expire a 1",
    "COMMAND GETKEYSANDFLAGS setnx a 1",
    "COMMAND GETKEYSANDFLAGS msetnx a 1 b 2",
    "COMMAND GETKEYSANDFLAGS getex a",
    "COMMAND GETKEYSANDFLAGS watch a b",
    "COMMAND GETKEYSANDFLAGS object freq a",
    "COMMAND GETKEYSANDFLAGS eval x 2 a b",
    "COMMAND GETKEYSANDFLAGS move a 1",
    "COMMAND GETKEYSANDFLAGS bzmpop 0 1 a min",
    "COMMAND GETKEYSANDFLAGS zunionstore d 2 a b",
    "COMMAND GETKEYSANDFLAGS ltrim l 0 1",
    "COMMAND GETKEYSANDFLAGS hincrbyfloat h f 1",
    "COMMAND INFO client|setname CLIENT|SETNAME nosuch client|nosuch client|pause client|reply",
    "COMMAND INFO command|getkeys debug lolwut",
    "COMMAND INFO get mget mset del lmove sinterstore hset ttl object|encoding client|info rename copy echo",
    "COMMAND LIST FILTERBY MODULE x",
    "COMMAND LIST FILTERBY foo x",
    "COMMAND LIST FILTERBY",
];

#[test]
fn command_getkeys_info_and_list_match_redis() {
    let Some((redis, ours)) = servers() else { return };
    for resp3 in [false, true] {
        same_replies(redis.addr(), ours.addr(), resp3, GETKEYS);
    }
    // COMMAND LIST names subcommands too; every name we list under a filter is one Redis lists.
    for filter in [
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "client*"][..],
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"],
    ] {
        let names = |addr| -> BTreeSet<Vec<u8>> {
            match connect(addr, false).cmd(filter).expect("COMMAND LIST") {
                Frame::Array(Some(v)) => {
                    v.into_iter().map(|f| if let Frame::Bulk(Some(b)) = f { b } else { panic!("{f:?}") }).collect()
                }
                other => panic!("{other:?}"),
            }
        };
        let (want, mut got) = (names(redis.addr()), names(ours.addr()));
        // CLIENT SETINFO is Redis 7.2's; we take it for the clients that send it.
        got.remove(&b"client|setinfo"[..]);
        assert!(got.contains(&b"client|list"[..]), "{filter:?}: {got:?}");
        assert!(
            got.is_subset(&want),
            "{filter:?} lists more than Redis: {:?}",
            got.difference(&want).collect::<Vec<_>>()
        );
    }
}

/// Every command both servers know describes itself as Redis does in COMMAND INFO — arity, flags
/// in Redis's order, key positions, ACL categories, tips, key specs (keyword and numkeys searches,
/// notes) — in both protocols. Subcommands are compared as a set: Redis lists them in its hash
/// table's order.
#[test]
fn command_info_of_every_shared_command_matches_redis() {
    let Some((redis, ours)) = servers() else { return };
    let list = |c: &mut RawConn| -> BTreeSet<Vec<u8>> {
        match c.cmd(&["COMMAND", "LIST"]).expect("COMMAND LIST") {
            Frame::Array(Some(v)) => {
                v.into_iter().map(|f| if let Frame::Bulk(Some(b)) = f { b } else { panic!("{f:?}") }).collect()
            }
            other => panic!("{other:?}"),
        }
    };
    for resp3 in [false, true] {
        let (mut r, mut o) = (connect(redis.addr(), resp3), connect(ours.addr(), resp3));
        let (theirs, mine) = (list(&mut r), list(&mut o));
        let shared: Vec<String> = theirs.intersection(&mine).map(|n| String::from_utf8_lossy(n).into_owned()).collect();
        assert!(shared.len() > 200, "{} commands in common", shared.len());
        let known = |f: &Frame| match f {
            Frame::Array(Some(row)) => {
                matches!(row.first(), Some(Frame::Bulk(Some(n))) if theirs.contains(n) && mine.contains(n))
            }
            _ => false,
        };
        let info = |c: &mut RawConn, name: &str| -> Vec<Frame> {
            let Ok(Frame::Array(Some(mut rows))) = c.cmd(&["COMMAND", "INFO", name]) else {
                panic!("COMMAND INFO {name}")
            };
            let Some(Frame::Array(Some(mut row))) = rows.pop() else { panic!("{name}: no row") };
            // The subcommands (last) that both servers know, sorted by their debug form.
            if let Some(Frame::Array(Some(subs))) = row.last_mut() {
                subs.retain(known);
                subs.sort_by_key(|f| format!("{f:?}"));
            }
            row
        };
        for name in &shared {
            assert_eq!(info(&mut r, name), info(&mut o, name), "COMMAND INFO {name} (RESP3: {resp3})");
        }
    }
}

#[test]
fn debug_and_lolwut_match_redis() {
    let Some((redis, ours)) = servers() else { return };
    let lines = [
        "SET k 100",
        "SET s hello",
        "DEBUG OBJECT nokey",
        "DEBUG OBJECT",
        "DEBUG nosuch",
        "DEBUG OBJECT k x",
        "DEBUG SLEEP 0",
        "DEBUG SLEEP x",
        "DEBUG SET-ACTIVE-EXPIRE 1",
        "DEBUG ERROR hello",
        "DEBUG LOG hi",
        "DEBUG PROTOCOL string",
        "DEBUG PROTOCOL integer",
        "DEBUG PROTOCOL double",
        "DEBUG PROTOCOL bignum",
        "DEBUG PROTOCOL null",
        "DEBUG PROTOCOL array",
        "DEBUG PROTOCOL set",
        "DEBUG PROTOCOL map",
        "DEBUG PROTOCOL attrib",
        "DEBUG PROTOCOL push",
        "DEBUG PROTOCOL verbatim",
        "DEBUG PROTOCOL true",
        "DEBUG PROTOCOL nosuch",
        "LOLWUT",
        "LOLWUT VERSION 7",
        "LOLWUT VERSION 1",
        "LOLWUT VERSION x",
        "LOLWUT foo",
        "LOLWUT VERSION",
        "LOLWUT VERSION 6 a b c",
        "OBJECT FREQ nokey",
        "OBJECT IDLETIME nokey",
        "OBJECT REFCOUNT k",
        "OBJECT REFCOUNT s",
    ];
    for resp3 in [false, true] {
        same_replies(redis.addr(), ours.addr(), resp3, &lines);
    }
    // DEBUG OBJECT: Redis's field names, and the values we can know (serializedlength is the
    // size of the RDB encoding, collections and LZF-compressed strings included).
    let big = "a".repeat(64);
    let setup = ["RPUSH dl a b c 1 2 3", "HSET dh f v g w", "ZADD dz 1 a 2 b", "SADD ds 1 2 3", "XADD dx 1-1 f v"];
    for addr in [redis.addr(), ours.addr()] {
        let mut c = connect(addr, false);
        for line in setup {
            c.cmd(&words(line)).expect("setup");
        }
        c.cmd(&["SET", "dbig", &big]).expect("SET");
    }
    for key in ["k", "s", "dl", "dh", "dz", "ds", "dx", "dbig"] {
        let line = |addr| match connect(addr, false).cmd(&["DEBUG", "OBJECT", key]).expect("DEBUG OBJECT") {
            Frame::Simple(s) => String::from_utf8(s).expect("utf-8"),
            other => panic!("{other:?}"),
        };
        let pick = |l: String| -> Vec<String> {
            l.split(' ')
                .filter(|f| {
                    ["refcount", "encoding", "serializedlength"].iter().any(|k| f.starts_with(&format!("{k}:")))
                })
                .map(str::to_owned)
                .collect()
        };
        let (want, got) = (line(redis.addr()), line(ours.addr()));
        assert!(got.starts_with("Value at:0x") && got.contains(" lru:") && got.contains(" lru_seconds_idle:"), "{got}");
        assert_eq!(pick(want), pick(got), "DEBUG OBJECT {key}");
    }
    // DEBUG SLEEP delays its caller only.
    let mut sleeper = connect(ours.addr(), false);
    sleeper.send_raw(&encode_command(&["DEBUG", "SLEEP", "2"])).expect("send");
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let mut other = connect(ours.addr(), false);
    assert_eq!(other.cmd(&["PING"]).expect("PING"), Frame::Simple(b"PONG".to_vec()));
    assert!(start.elapsed() < Duration::from_millis(1500), "PING waited for DEBUG SLEEP: {:?}", start.elapsed());
    assert_eq!(sleeper.read_frame().expect("OK"), Frame::Simple(b"OK".to_vec()));
}
