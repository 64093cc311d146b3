//! CONFIG, INFO and LATENCY against a real redis-server 7.0.15: CONFIG SET of several parameters
//! (all-or-nothing, Redis's error texts and their order), CONFIG GET of several patterns (each
//! name once), CONFIG RESETSTAT, the field names of every INFO section, LATENCY after a slow
//! script, and — with the binary — starting from the stock redis.conf, refusing a misspelt
//! directive with Redis's fatal-error shape, and a CONFIG REWRITE round trip. Replies whose
//! values legitimately differ (defaults such as `maxmemory`, timings) are compared by shape.
//! Bounds: each test sends fewer than 200 requests; the slow script runs ~0.1 s per server.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use cache_tests::ServerOpts;
use cache_tests::ours::{OurProcess, real_server_binary};
use cache_tests::peer::found_or_skip;
use cache_tests::port::{free_port, loopback, wait_for_port};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn};
use cache_tests::scratch::Scratch;

/// A CONFIG GET reply (RESP2 flat array) as name → value.
fn pairs(f: Frame) -> BTreeMap<String, String> {
    let Frame::Array(Some(v)) = f else { panic!("CONFIG GET reply {f:?}") };
    v.chunks(2).map(|p| (p[0].text(), p[1].text())).collect()
}

/// A CONFIG GET reply as sorted `(name, value)` pairs, repeats kept.
fn pair_list(f: Frame) -> Vec<(String, String)> {
    let Frame::Array(Some(v)) = f else { panic!("CONFIG GET reply {f:?}") };
    let mut l: Vec<(String, String)> = v.chunks(2).map(|p| (p[0].text(), p[1].text())).collect();
    l.sort();
    l
}

/// Both servers, or `None` (test skipped) without redis-server. Ours runs as a process of its
/// own: command statistics are process-wide, and the tests here count and reset them.
fn both() -> Option<(RedisServer, OurProcess)> {
    let redis = RedisServer::start::<&str>(&[])?;
    Some((redis, OurProcess::start(&ServerOpts::default())))
}

fn conns(redis: &RedisServer, ours: &OurProcess) -> (RawConn, RawConn) {
    (RawConn::connect(redis.addr()).expect("connect redis"), RawConn::connect(ours.addr()).expect("connect ours"))
}

#[test]
fn config_set_is_all_or_nothing_with_redis_errors() {
    let Some((redis, ours)) = both() else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    // Same replies, byte for byte (the error texts and which argument they name).
    let same: &[&[&str]] = &[
        &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
        &["CONFIG", "SET", "timeout", "7", "slowlog-max-len", "99"],
        &["CONFIG", "SET", "maxmemory", "10mb", "maxmemory", "20mb"],
        &["CONFIG", "SET", "Maxmemory", "10mb", "foo", "1"],
        &["CONFIG", "SET", "daemonize", "no", "nosuch", "1"],
        &["CONFIG", "SET", "timeout", "1", "daemonize", "no"],
        &["CONFIG", "SET", "dir", "/tmp"],
        &["CONFIG", "SET", "timeout", "1", "maxmemory-policy", "bogus"],
        &["CONFIG", "SET", "timeout", "1", "appendonly", "maybe"],
        &["CONFIG", "SET", "hz", "x"],
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "50 101"],
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "50 x"],
        &["CONFIG", "SET", "maxmemory"],
        &["CONFIG", "SET", "timeout", "1", "slowlog-max-len"],
        &["CONFIG", "SET", "appendfsync", "always", "hash-max-ziplist-entries", "5", "hash-max-listpack-entries", "6"],
        &["CONFIG", "GET", "timeout", "slowlog-max-len", "appendfsync", "hash-max-ziplist-entries"],
        &["CONFIG", "GET", "MAXMEMORY-POLICY", "maxmemory-policy", "maxmemory-p*"],
        &["CONFIG", "GET", "nosuch"],
        &["CONFIG", "HELP"],
        &["SLOWLOG", "HELP"],
    ];
    for args in same {
        let (a, b) = (r.call(args), o.call(args));
        if args[1] == "GET" {
            assert_eq!(pair_list(a), pair_list(b), "{args:?}");
        } else {
            assert_eq!(a, b, "{args:?}");
        }
    }
    // The failed multi-sets above changed nothing.
    for c in [&mut r, &mut o] {
        let got = pairs(c.call(&["CONFIG", "GET", "timeout", "maxmemory-policy", "hz"]));
        assert_eq!(got["timeout"], "7");
        assert_eq!(got["maxmemory-policy"], "noeviction");
        assert_eq!(got["hz"], "10");
    }
}

#[test]
fn config_get_lists_each_name_once_and_every_redis_directive() {
    let Some((redis, ours)) = both() else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    // Several patterns overlapping: one entry per name, the same set as Redis (defaults equal).
    let args = ["CONFIG", "GET", "slave-*", "replica-*", "replica-read-only", "z*-ziplist-*", "latency-*"];
    let (a, b) = (pairs(r.call(&args)), pairs(o.call(&args)));
    assert_eq!(a, b);
    let Frame::Array(Some(flat)) = o.call(&args) else { panic!() };
    assert_eq!(flat.len(), 2 * b.len(), "a name listed twice");
    // Every directive Redis lists is known to us (values may differ: our defaults, ports, dir).
    let redis_names: BTreeSet<String> = pairs(r.call(&["CONFIG", "GET", "*"])).into_keys().collect();
    let our_names: BTreeSet<String> = pairs(o.call(&["CONFIG", "GET", "*"])).into_keys().collect();
    let missing: Vec<&String> = redis_names.difference(&our_names).collect();
    assert!(missing.is_empty(), "CONFIG GET * lacks {missing:?}");
    // Hidden ones answer to their exact name only.
    for c in [&mut r, &mut o] {
        assert_eq!(pairs(c.call(&["CONFIG", "GET", "key-load-delay"])).len(), 1);
        assert!(!pairs(c.call(&["CONFIG", "GET", "key-load-*"])).contains_key("key-load-delay"));
    }
}

/// INFO text as section → field names (per-command and per-database lines left out).
fn info_fields(c: &mut RawConn, args: &[&str]) -> BTreeMap<String, Vec<String>> {
    let t = c.call(args).text();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in t.lines() {
        if let Some(s) = line.strip_prefix("# ") {
            section = s.to_string();
            out.entry(section.clone()).or_default();
        } else if let Some((k, _)) = line.split_once(':') {
            let per_item = ["cmdstat_", "errorstat_", "latency_percentiles_usec_", "db"];
            if !per_item.iter().any(|p| k.starts_with(p)) {
                out.entry(section.clone()).or_default().push(k.to_string());
            }
        }
    }
    out
}

#[test]
fn info_sections_have_every_redis_field_in_redis_order() {
    let Some((redis, ours)) = both() else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    for c in [&mut r, &mut o] {
        c.call(&["SET", "k", "v"]);
        c.call(&["GET", "k"]);
        c.call(&["NOSUCHCOMMAND"]);
    }
    for args in
        [&["INFO"][..], &["INFO", "everything"], &["INFO", "all"], &["INFO", "default"], &["INFO", "server", "CPU"]]
    {
        let (a, b) = (info_fields(&mut r, args), info_fields(&mut o, args));
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{args:?}: sections");
        for (section, fields) in &a {
            // Ours may add fields (cache-server's own); Redis's come first-to-last in its order.
            let ours_known: Vec<&String> = b[section].iter().filter(|f| fields.contains(f)).collect();
            assert_eq!(ours_known, fields.iter().collect::<Vec<_>>(), "{args:?}: {section}");
        }
    }
    // The per-item lines exporters parse, in Redis's shapes.
    let t = o.call(&["INFO", "everything"]).text();
    let line = |prefix: &str| t.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix}"));
    let get = line("cmdstat_get:");
    assert!(get.starts_with("cmdstat_get:calls=1,usec=") && get.contains(",rejected_calls=0,failed_calls=0"), "{get}");
    assert_eq!(line("errorstat_ERR:"), "errorstat_ERR:count=1");
    let lat = line("latency_percentiles_usec_get:");
    assert!(lat.contains(":p50=") && lat.contains(",p99=") && lat.contains(",p99.9="), "{lat}");
    assert_eq!(line("db0:"), "db0:keys=1,expires=0,avg_ttl=0");
    // RESETSTAT zeroes what INFO counts.
    for c in [&mut r, &mut o] {
        assert_eq!(c.call(&["CONFIG", "RESETSTAT"]), Frame::Simple(b"OK".to_vec()));
        let t = c.call(&["INFO", "everything"]).text();
        for zero in ["keyspace_hits:0", "keyspace_misses:0", "total_error_replies:0", "expired_keys:0"] {
            assert!(t.lines().any(|l| l == zero), "{zero} after RESETSTAT");
        }
        assert!(!t.contains("cmdstat_get:") && !t.contains("errorstat_ERR") && !t.contains("usec_get:"));
        // The percentiles INFO prints follow latency-tracking-info-percentiles.
        c.call(&["CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.99"]);
        c.call(&["GET", "k"]);
        let t = c.call(&["INFO", "latencystats"]).text();
        let get = t.lines().find(|l| l.starts_with("latency_percentiles_usec_get:")).expect("get's percentiles");
        let names: Vec<&str> = get.split([':', ',']).skip(1).map(|kv| kv.split('=').next().unwrap_or("")).collect();
        assert_eq!(names, ["p50", "p99.99"], "{get}");
        // One GET's sample as HdrHistogram (2 significant figures, in ns) reports it: the highest
        // value of its slot, in µs to the ns (Redis prints 6.015 for 6 µs).
        let p50 = get.split("p50=").nth(1).and_then(|v| v.split(',').next()).unwrap_or("");
        let (whole, frac) = p50.split_once('.').unwrap_or_else(|| panic!("{get}"));
        let ns: u64 = format!("{whole}{frac}").parse().unwrap_or_else(|_| panic!("{get}"));
        let slot_width = (ns.next_power_of_two() / 256).max(1);
        assert!(frac.len() == 3 && ns >= 1000 && (ns + 1) % slot_width == 0, "{get}");
        // Since RESETSTAT: five requests read (this INFO included), five replies written (RESETSTAT's
        // own included, this one's not yet), one socket read and one write each, on either server.
        let t = c.call(&["INFO", "stats"]).text();
        for want in ["total_reads_processed:5", "total_writes_processed:5"] {
            assert!(t.lines().any(|l| l == want), "{want} in\n{t}");
        }
    }
}

#[test]
fn latency_monitor_records_a_slow_script() {
    let Some((redis, ours)) = both() else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    for c in [&mut r, &mut o] {
        assert_eq!(c.call(&["LATENCY", "LATEST"]), Frame::Array(Some(vec![])));
        c.call(&["CONFIG", "SET", "latency-monitor-threshold", "1"]);
        let eval = c.call(&["EVAL", "local i=0 while i<3000000 do i=i+1 end return i", "0"]);
        assert_eq!(eval, Frame::Integer(3_000_000));
        let Frame::Array(Some(latest)) = c.call(&["LATENCY", "LATEST"]) else { panic!("LATEST shape") };
        let Some(Frame::Array(Some(row))) =
            latest.iter().find(|e| matches!(e, Frame::Array(Some(r)) if r[0].text() == "command"))
        else {
            panic!("no `command` event in {latest:?}")
        };
        assert!(
            matches!(row[..], [_, Frame::Integer(t), Frame::Integer(ms), Frame::Integer(max)] if t > 1_600_000_000 && ms >= 1 && max >= ms)
        );
        let Frame::Array(Some(hist)) = c.call(&["LATENCY", "HISTORY", "command"]) else { panic!("HISTORY shape") };
        assert!(matches!(&hist[..], [Frame::Array(Some(s))] if s.len() == 2));
        assert!(c.call(&["LATENCY", "DOCTOR"]).text().contains("1. command: 1 latency spikes"));
        // One sample: the header, 80 dashes, three empty rows, `_`, a blank and its label ("0s").
        let graph = c.call(&["LATENCY", "GRAPH", "command"]).text();
        let lines: Vec<&str> = graph.lines().collect();
        assert!(lines[0].starts_with("command - high ") && lines[1] == "-".repeat(80), "{graph}");
        assert_eq!(lines[2..].iter().map(|l| l.len()).collect::<Vec<_>>(), [1; 7], "{graph}");
        assert_eq!((lines[5], lines[8]), ("_", "s"), "{graph}");
        let err = c.call(&["LATENCY", "GRAPH", "nosuch"]).error_text();
        assert_eq!(err.as_deref(), Some("ERR No samples available for event 'nosuch'"));
        assert_eq!(c.call(&["LATENCY", "RESET", "command", "nosuch"]), Frame::Integer(1));
        assert_eq!(c.call(&["LATENCY", "HISTORY", "command"]), Frame::Array(Some(vec![])));
    }
    assert_eq!(r.call(&["LATENCY", "HELP"]), o.call(&["LATENCY", "HELP"]));
    // HISTOGRAM: command → {calls, histogram_usec: {2^k: samples so far}}, the same shape.
    for c in [&mut r, &mut o] {
        c.call(&["SET", "h", "1"]);
        c.call(&["SET", "h", "2"]);
        let Frame::Array(Some(top)) = c.call(&["LATENCY", "HISTOGRAM", "set", "nosuch"]) else { panic!("shape") };
        assert_eq!(top.len(), 2, "{top:?}");
        assert_eq!(top[0].text(), "set");
        let Frame::Array(Some(inner)) = &top[1] else { panic!("{top:?}") };
        let Frame::Integer(calls) = inner[1] else { panic!("{inner:?}") };
        assert!(calls == 2 && inner[0].text() == "calls" && inner[2].text() == "histogram_usec", "{inner:?}");
        let Frame::Array(Some(buckets)) = &inner[3] else { panic!("{inner:?}") };
        let pairs: Vec<(i64, i64)> = buckets
            .chunks(2)
            .map(|p| match p {
                [Frame::Integer(b), Frame::Integer(n)] => (*b, *n),
                other => panic!("{other:?}"),
            })
            .collect();
        // HdrHistogram's levels, 1024 × 2^k ns, each labelled with the highest value of its
        // slot (two significant figures) in whole µs: 1, 2, 4, 8, 16, 33, 66, 132, 264, …
        let levels: Vec<i64> = (0..20).map(|k| ((1024i64 << k) + (8 << k) - 1) / 1000).collect();
        assert!(pairs.iter().all(|(b, _)| levels.contains(b)), "{pairs:?} not among {levels:?}");
        assert!(
            pairs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1) && pairs.last().unwrap().1 == calls,
            "{pairs:?}"
        );
    }
}

/// Our binary started from `conf` (port, bind and dir adjusted by the caller); killed on drop.
struct FromFile(std::process::Child, SocketAddr);

impl Drop for FromFile {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_from(bin: &std::path::Path, conf: &std::path::Path, port: u16) -> FromFile {
    let mut child = Command::new(bin)
        .arg(conf)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cache-server");
    let addr = loopback(port);
    assert!(wait_for_port(addr, || matches!(child.try_wait(), Ok(None))), "did not start from {}", conf.display());
    FromFile(child, addr)
}

/// The stock redis.conf (Debian's package installs it), made runnable here.
fn stock_conf(dir: &std::path::Path, port: u16) -> Option<String> {
    let stock = found_or_skip(std::fs::read_to_string("/etc/redis/redis.conf").ok(), || {
        "no /etc/redis/redis.conf (the redis-server package installs it)".into()
    })?;
    let lines: Vec<String> = stock
        .lines()
        .map(|l| match l.split_whitespace().next() {
            Some("port") => format!("port {port}"),
            Some("bind") => "bind 127.0.0.1".into(),
            Some("daemonize") => "daemonize no".into(),
            Some("dir") => format!("dir {}", dir.display()),
            Some("logfile") => "logfile \"\"".into(),
            Some("pidfile") => format!("pidfile {}/redis.pid", dir.display()),
            _ => l.to_string(),
        })
        .collect();
    Some(lines.join("\n") + "\n")
}

#[test]
fn the_stock_redis_conf_starts_us_and_a_misspelt_directive_stops_us() {
    let Some(bin) = real_server_binary() else { return };
    let scratch = Scratch::new("stock");
    let port = free_port();
    let Some(text) = stock_conf(scratch.path(), port) else { return };
    let conf = scratch.path().join("redis.conf");
    std::fs::write(&conf, &text).expect("write conf");
    {
        let s = start_from(&bin, &conf, port);
        let mut c = RawConn::connect(s.1).expect("connect");
        let got = pairs(c.call(&["CONFIG", "GET", "appendonly", "dbfilename", "hz", "port", "maxmemory-policy"]));
        assert_eq!(got["appendonly"], "no");
        assert_eq!(got["dbfilename"], "dump.rdb");
        assert_eq!(got["port"], port.to_string());
        // The stock file leaves it commented out, so our default stays.
        assert_eq!(got["maxmemory-policy"], "allkeys-lfu");
        assert_eq!(
            text_of_info_field(&mut c, "config_file"),
            std::fs::canonicalize(&conf).unwrap().display().to_string()
        );
    }
    // A typo: the server refuses to start, naming the line as Redis does.
    let bad = text.replacen("\ntimeout 0\n", "\ntimeuot 0\n", 1);
    let line = bad.lines().position(|l| l == "timeuot 0").expect("stock conf has `timeout 0`") + 1;
    std::fs::write(&conf, &bad).expect("write conf");
    let out = Command::new(&bin).arg(&conf).stdin(Stdio::null()).output().expect("run cache-server");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> 'timeuot 0'\nBad directive or wrong number of arguments"
    );
    assert!(err.contains(&want), "{err}");
}

fn text_of_info_field(c: &mut RawConn, name: &str) -> String {
    let t = c.call(&["INFO", "server"]).text();
    t.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).unwrap_or_default().to_string()
}

#[test]
fn config_rewrite_round_trip() {
    let Some(bin) = real_server_binary() else { return };
    let scratch = Scratch::new("rewrite");
    let port = free_port();
    let conf = scratch.path().join("cache.conf");
    let original = format!(
        "# keep me\nport {port}\nbind 127.0.0.1\nmaxmemory 100mb\nmaxmemory-policy noeviction\ntimeout 0\nhz 10\nhz 12\nsave \"\"\n# and me\n"
    );
    std::fs::write(&conf, &original).expect("write conf");
    {
        let s = start_from(&bin, &conf, port);
        let mut c = RawConn::connect(s.1).expect("connect");
        let set =
            ["CONFIG", "SET", "maxmemory", "200mb", "timeout", "5", "appendfsync", "always", "save", "900 1 300 10"];
        assert_eq!(c.call(&set), Frame::Simple(b"OK".to_vec()));
        assert_eq!(c.call(&["CONFIG", "REWRITE"]), Frame::Simple(b"OK".to_vec()));
    }
    let rewritten = std::fs::read_to_string(&conf).expect("read conf");
    let want = format!(
        "# keep me\nport {port}\nbind 127.0.0.1\nmaxmemory 200mb\nmaxmemory-policy noeviction\ntimeout 5\nhz 12\n\nsave 900 1\n# and me\n# Generated by CONFIG REWRITE\nappendfsync always\nsave 300 10\n"
    );
    assert_eq!(rewritten, want);
    // Started again from the rewritten file, the values are back.
    let s = start_from(&bin, &conf, port);
    let mut c = RawConn::connect(s.1).expect("connect");
    let got = pairs(c.call(&["CONFIG", "GET", "maxmemory", "timeout", "appendfsync", "save", "hz"]));
    let want: BTreeMap<String, String> = [
        ("maxmemory", "209715200"),
        ("timeout", "5"),
        ("appendfsync", "always"),
        ("save", "900 1 300 10"),
        ("hz", "12"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn config_rewrite_without_a_file_is_refused_as_redis() {
    let Some((redis, ours)) = both() else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    let want = Frame::Error(b"ERR The server is running without a config file".to_vec());
    assert_eq!(r.call(&["CONFIG", "REWRITE"]), want);
    assert_eq!(o.call(&["CONFIG", "REWRITE"]), want);
}

/// SWAPDB (checked here with the operator commands): errors, a WATCH on a key of a swapped
/// database fails the transaction, a client blocked in one database is served by a list the
/// swap brings in — the same on both servers.
#[test]
fn swapdb_touches_watches_and_serves_blocked_clients_as_redis() {
    let Some((redis, ours)) = both() else { return };
    for addr in [redis.addr(), ours.addr()] {
        let mut a = RawConn::connect(addr).expect("connect");
        let mut b = RawConn::connect(addr).expect("connect");
        let err = |f: Frame| f.error_text().unwrap_or_default();
        assert_eq!(err(a.call(&["SWAPDB", "0", "16"])), "ERR DB index is out of range");
        assert_eq!(err(a.call(&["SWAPDB", "x", "1"])), "ERR invalid first DB index");
        assert_eq!(err(a.call(&["SWAPDB", "0", "x"])), "ERR invalid second DB index");
        a.call(&["FLUSHALL"]);
        a.call(&["SET", "k", "0"]);
        a.call(&["SELECT", "1"]);
        a.call(&["SET", "k", "1"]);
        a.call(&["EXPIRE", "k", "100"]);
        a.call(&["SELECT", "0"]);
        a.call(&["WATCH", "k"]);
        assert_eq!(b.call(&["SWAPDB", "0", "1"]), Frame::Simple(b"OK".to_vec()));
        a.call(&["MULTI"]);
        a.call(&["GET", "k"]);
        assert_eq!(a.call(&["EXEC"]), Frame::Array(None), "{addr}: EXEC after SWAPDB");
        assert_eq!(a.call(&["GET", "k"]).text(), "1");
        assert!(matches!(a.call(&["TTL", "k"]), Frame::Integer(t) if t > 90));
        // A client blocked on `l` in db 1 is served when the swap brings a list there.
        a.call(&["RPUSH", "l", "x"]);
        let mut c = RawConn::connect(addr).expect("connect");
        c.call(&["SELECT", "1"]);
        c.send_raw(&cache_tests::resp::encode_command(&["BLPOP", "l", "5"])).expect("send BLPOP");
        std::thread::sleep(std::time::Duration::from_millis(100));
        b.call(&["SWAPDB", "0", "1"]);
        let served = c.read_frame().expect("BLPOP reply");
        assert_eq!(
            served,
            Frame::Array(Some(vec![Frame::Bulk(Some(b"l".to_vec())), Frame::Bulk(Some(b"x".to_vec()))]))
        );
    }
}

/// The same commands in RESP3: CONFIG GET is a map (each name once), INFO and LATENCY DOCTOR
/// verbatim text, LATENCY HISTOGRAM nested maps, CONFIG SET errors unchanged.
#[test]
fn resp3_shapes_match_redis() {
    let Some((redis, ours)) = both() else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    for c in [&mut r, &mut o] {
        assert!(matches!(c.call(&["HELLO", "3"]), Frame::Map(_)));
        c.call(&["SET", "k", "v"]);
    }
    let map_keys = |f: Frame| match f {
        Frame::Map(pairs) => pairs.into_iter().map(|(k, v)| (k.text(), v.text())).collect::<BTreeMap<_, _>>(),
        other => panic!("expected a map, got {other:?}"),
    };
    let get = ["CONFIG", "GET", "timeout", "slowlog-*", "slowlog-max-len", "appendonly"];
    assert_eq!(map_keys(r.call(&get)), map_keys(o.call(&get)));
    for args in [
        &["CONFIG", "SET", "timeout", "1", "appendonly", "maybe"][..],
        &["CONFIG", "SET", "timeout", "1", "timeout", "2"],
    ] {
        assert_eq!(r.call(args), o.call(args), "{args:?}");
    }
    for c in [&mut r, &mut o] {
        assert!(
            matches!(c.call(&["INFO", "keyspace"]), Frame::Verbatim(f, t) if f == b"txt" && t.starts_with(b"# Keyspace\r\ndb0:keys=1,"))
        );
        assert!(matches!(c.call(&["LATENCY", "DOCTOR"]), Frame::Verbatim(f, _) if f == b"txt"));
        assert_eq!(c.call(&["LATENCY", "LATEST"]), Frame::Array(Some(vec![])));
        let Frame::Map(rows) = c.call(&["LATENCY", "HISTOGRAM", "set"]) else { panic!("HISTOGRAM is a map") };
        assert!(matches!(&rows[..], [(Frame::Bulk(Some(n)), Frame::Map(inner))] if n == b"set" && inner.len() == 2));
    }
}

/// The CONFIG SET / GET script of [`config_set_is_all_or_nothing_with_redis_errors`] in one
/// pipeline: the same replies in the same order.
#[test]
fn config_pipelined_matches_redis() {
    let Some((redis, ours)) = both() else { return };
    let (mut r, mut o) = conns(&redis, &ours);
    let script: Vec<Vec<&str>> = vec![
        vec!["CONFIG", "SET", "maxmemory-policy", "noeviction", "timeout", "3"],
        vec!["CONFIG", "SET", "timeout", "4", "appendonly", "maybe"],
        vec!["CONFIG", "GET", "timeout"],
        vec!["CONFIG", "SET", "timeout", "5", "timeout", "6"],
        vec!["CONFIG", "SET", "hz", "11", "timeout", "8", "appendfsync", "no"],
        vec!["CONFIG", "GET", "hz"],
        vec!["CONFIG", "GET", "timeout"],
        vec!["CONFIG", "GET", "appendfsync"],
        vec!["LATENCY", "RESET"],
    ];
    let (a, b) = (r.pipeline(&script).expect("redis pipeline"), o.pipeline(&script).expect("our pipeline"));
    assert_eq!(a, b);
}
