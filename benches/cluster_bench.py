#!/usr/bin/env python3
"""Cluster benchmark (issue 13), our nodes and redis-server 7.0 nodes in the same run.

1. GET and SET throughput and p99 through `loadgen --cluster` (slot routing, one socket per node
   per connection) over clusters of 1, 2 and 3 primaries of each kind (slots split evenly with
   ADDSLOTSRANGE, joined with CLUSTER MEET), plus `--pipeline 16` runs for the client's fan-out.
2. Gossip: bytes sent per bus message (TCP bytes_sent of the node's sockets from `ss -ti`, and
   CLUSTER INFO's message counters, over an idle window) with 3 and 9 nodes, so the per-node term can be solved for.
3. Slot migration speed: MIGRATE ... KEYS (100 keys a call) of N MB from one node to another.
4. A whole `redis-cli --cluster rebalance` onto an empty fourth primary (4096 slots).

Every server is a child of this script, on /dev/shm config files, killed at the end; every
phase is bounded (loadgen --time-limit, socket timeouts). Prints a Markdown report. `--quick`
measures 1 s cells and a 2 s gossip window: a smoke run, too short for the figures. Usage:
    benches/cluster-bench.sh [--quick]
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

QUICK = "--quick" in sys.argv
TARGET = os.environ.get("CARGO_TARGET_DIR", "target") + "/release"
OURS = os.path.join(TARGET, "cache-server")
LOADGEN = os.path.join(TARGET, "loadgen")
SECONDS = "1s" if QUICK else "3s"
KEYS = 100_000
MIGRATE_MB = 8 if QUICK else 32
DIR = tempfile.mkdtemp(prefix="cluster-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
children = []


def free_pair():
    """A port whose bus port (+10000) is free too."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p >= 55000:
            continue
        b = socket.socket()
        try:
            b.bind(("127.0.0.1", p + 10000))
            return p
        except OSError:
            pass
        finally:
            b.close()


def cmd(port, *args, timeout=60.0):
    """One command over a fresh connection; returns the decoded reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        f = s.makefile("rb")
        return read(f)


def read(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [read(f) for _ in range(n)]
    raise RuntimeError("bad reply %r" % line)


def start(kind, cluster=True):
    port = free_pair()
    conf = os.path.join(DIR, "nodes-%d.conf" % port)
    flags = ["--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    if cluster:
        flags += ["--cluster-enabled", "yes", "--cluster-config-file", conf, "--cluster-node-timeout", "5000"]
    if kind == "redis":
        argv = ["redis-server"] + flags + ["--appendonly", "no", "--loglevel", "warning", "--dir", DIR]
    else:
        argv = [OURS] + flags
    env = dict(os.environ, RUST_LOG="warn")
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    children.append(p)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            cmd(port, "PING", timeout=1)
            return port, p
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not start on %d" % (kind, port))


def stop(nodes):
    for _, p in nodes:
        p.kill()
        p.wait()
        children.remove(p)


def cluster(kind, n):
    """n primaries of `kind`, slots split evenly, all agreeing and ok."""
    nodes = [start(kind) for _ in range(n)]
    for i, (port, _) in enumerate(nodes):
        cmd(port, "CLUSTER", "ADDSLOTSRANGE", 16384 * i // n, 16384 * (i + 1) // n - 1)
        if i:
            cmd(nodes[0][0], "CLUSTER", "MEET", "127.0.0.1", port, port + 10000)
    deadline = time.time() + 30
    while time.time() < deadline:
        infos = [cmd(p, "CLUSTER", "INFO") for p, _ in nodes]
        if all("cluster_state:ok" in i and "cluster_known_nodes:%d\r" % n in i for i in infos):
            return nodes
        time.sleep(0.1)
    raise RuntimeError("%d %s nodes did not agree" % (n, kind))


def loadgen(port, *extra):
    argv = [LOADGEN, "-s", "127.0.0.1:%d" % port, "--json", "--time-limit", "120s", "--warmup", "1s",
            "--duration", SECONDS, "-k", str(KEYS), "-c", "50"] + list(extra)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=150, check=True).stdout
    r = json.loads(out)
    return r


def ops(r):
    return r.get("ops_per_sec") or r.get("throughput") or r["ops"] / max(r["seconds"], 1e-9)


def p99(r):
    lat = r["latency_us"] if "latency_us" in r else r["latency"]
    return lat.get("p99") if isinstance(lat, dict) else lat


def throughput():
    rows = []
    for n in (1, 2, 3):
        for kind in ("redis", "ours"):
            nodes = cluster(kind, n)
            port = nodes[0][0]
            loadgen(port, "--cluster", "--prefill", "--prefill-only")
            res = {}
            for op, ratio in (("GET", "0:1"), ("SET", "1:0")):
                r = loadgen(port, "--cluster", "-r", ratio)
                assert r["errors"] == 0, r
                res[op] = r
            r = loadgen(port, "--cluster", "-r", "0:1", "--pipeline", "16")
            res["GET p16"] = r
            rows.append((n, kind, res))
            stop(nodes)
    return rows


def bytes_sent(pid):
    """TCP bytes sent by `pid`'s established sockets (`ss -ti`: bus links and clients alike)."""
    out = subprocess.run(["ss", "-tinpH", "state", "established"], capture_output=True, text=True).stdout
    total, mine = 0, False
    for line in out.splitlines():
        if not line.startswith("\t") and not line.startswith(" "):
            mine = ("pid=%d," % pid) in line
        elif mine:
            for word in line.split():
                if word.startswith("bytes_sent:"):
                    total += int(word.split(":")[1])
    return total


def sent(port):
    info = cmd(port, "CLUSTER", "INFO")
    return sum(int(l.split(":")[1]) for l in info.split("\r\n") if l.startswith("cluster_stats_messages_sent:"))


def gossip(kind, n, window):
    nodes = cluster(kind, n)
    time.sleep(1)
    port, p = nodes[0]
    w0, m0 = bytes_sent(p.pid), sent(port)
    time.sleep(window)
    m1 = sent(port)
    w1 = bytes_sent(p.pid)
    stop(nodes)
    # Only bus links are open in the window (each CLUSTER INFO connection is closed before).
    return (w1 - w0) / max(m1 - m0, 1), (m1 - m0) / window


def migrate(kind):
    (src, sp), (dst, dp) = start(kind, cluster=False), start(kind, cluster=False)
    keys = MIGRATE_MB * 256  # 4 KiB values
    subprocess.run([LOADGEN, "-s", "127.0.0.1:%d" % src, "--prefill-only", "-k", str(keys), "-d", "4096",
                    "-c", "4", "--time-limit", "60s"], capture_output=True, check=True, timeout=90)
    names = ["key:%012d" % i for i in range(keys)]
    t0 = time.time()
    for i in range(0, keys, 100):
        cmd(src, "MIGRATE", "127.0.0.1", dst, "", 0, 10000, "KEYS", *names[i:i + 100])
    took = time.time() - t0
    assert cmd(src, "DBSIZE") == 0 and cmd(dst, "DBSIZE") == keys
    stop([(src, sp), (dst, dp)])
    return MIGRATE_MB / took, took


def rebalance(kind):
    """3 primaries with KEYS keys, a 4th empty one met, then `redis-cli --cluster rebalance
    --cluster-use-empty-masters` (4096 slots move): seconds taken."""
    nodes = cluster(kind, 3)
    port = nodes[0][0]
    subprocess.run([LOADGEN, "-s", "127.0.0.1:%d" % port, "--cluster", "--prefill-only", "-k", str(KEYS),
                    "-c", "8", "--time-limit", "60s"], capture_output=True, check=True, timeout=90)
    new = start(kind)
    nodes.append(new)
    cmd(port, "CLUSTER", "MEET", "127.0.0.1", new[0], new[0] + 10000)
    deadline = time.time() + 30
    while not all("cluster_known_nodes:4\r" in cmd(p, "CLUSTER", "INFO") and "cluster_state:ok" in cmd(p, "CLUSTER", "INFO")
                  for p, _ in nodes):
        if time.time() > deadline:
            raise RuntimeError("the fourth node did not join")
        time.sleep(0.1)
    t0 = time.time()
    out = subprocess.run(["redis-cli", "--cluster", "rebalance", "127.0.0.1:%d" % port, "--cluster-use-empty-masters"],
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    took = time.time() - t0
    assert out.returncode == 0 and "[ERR]" not in out.stdout, out.stdout[-2000:]
    assert sum(cmd(p, "DBSIZE") for p, _ in nodes) == KEYS
    stop(nodes)
    return took


def main():
    for prog in (OURS, LOADGEN):
        if not os.access(prog, os.X_OK):
            sys.exit("missing %s: cargo build --release -p cache-server -p cache-bench" % prog)
    if not shutil.which("redis-server"):
        sys.exit("missing redis-server (apt-get install redis-server)")
    started = time.time()
    print("load average before: %s" % open("/proc/loadavg").read().split()[:3])
    if os.environ.get("CLUSTER_BENCH_ONLY") == "rebalance":
        return print_rebalance()
    rows = throughput()
    print("\n| primaries | server | GET ops/s | GET p99 µs | SET ops/s | SET p99 µs | GET ops/s, pipeline 16 |")
    print("|---|---|---|---|---|---|---|")
    base = {}
    for n, kind, res in rows:
        cells = []
        for op in ("GET", "SET", "GET p16"):
            v = ops(res[op])
            if kind == "redis":
                base[(n, op)] = v
                cells.append("%.0f" % v)
            else:
                cells.append("%.0f (%.2f×)" % (v, v / base[(n, op)]))
            if op != "GET p16":
                cells.append("%s" % p99(res[op]))
        print("| %d | %s | %s |" % (n, kind, " | ".join(cells)))
    window = 2 if QUICK else 5
    print("\n| server | nodes | bytes written per bus message | messages sent per second by one node |")
    print("|---|---|---|---|")
    for kind in ("redis", "ours"):
        for n in (3, 9):
            per, rate = gossip(kind, n, window)
            print("| %s | %d | %.0f | %.1f |" % (kind, n, per, rate))
    print("\n| server | MIGRATE of %d MB (4 KiB values, 100 keys a call) | MB/s |" % MIGRATE_MB)
    print("|---|---|---|")
    for kind in ("redis", "ours"):
        mbs, took = migrate(kind)
        print("| %s | %.2f s | %.1f |" % (kind, took, mbs))
    print_rebalance()
    print("\nload average after: %s; took %.0f s" % (open("/proc/loadavg").read().split()[:3], time.time() - started))


def print_rebalance():
    print("\n| server | `--cluster rebalance --cluster-use-empty-masters`, 3 → 4 primaries, %d keys | ms per slot |" % KEYS)
    print("|---|---|---|")
    for kind in ("redis", "ours"):
        took = rebalance(kind)
        print("| %s | %.1f s for 4096 slots | %.1f |" % (kind, took, took * 1000 / 4096))


try:
    main()
finally:
    for c in children:
        c.kill()
    shutil.rmtree(DIR, ignore_errors=True)
