#!/usr/bin/env python3
"""Lists, sets and sorted sets side by side with redis-server (issue 11's bars).

Throughput: redis-benchmark's own workloads at pipeline 16 on one server core (server pinned to
CPU 0, redis-benchmark to CPU 1, 50 connections): LPUSH then RPOP on one list, SADD then
SISMEMBER on one set, ZADD then ZRANGEBYSCORE on one sorted set (members `element:__rand_int__`,
100,000 random ints). Each round starts both servers fresh and alternates them; the report is the
median ops/s per workload, the ratio ours / redis of the same round, and the server's CPU time
per operation (utime + stime from /proc, which a busy machine disturbs less than wall time).

Memory per element: for each type, a fresh server gets one key of 1,000,000 elements ("large"),
then another fresh server 100,000 keys of 10 elements ("small"), loaded pipelined; bytes per
element are the VmRSS growth over the empty server (and `used_memory` growth, as each server
reports it) divided by the element count. Elements: list values `v:%07d`, set members
`element:%07d`, sorted-set members `element:%07d` with score = index.

usage: benches/collections.py [--rounds N] [--quick] [OURS_BINARY]
       (OURS_BINARY defaults to target/release/cache-server; build it with
        `cargo build --release -p cache-server`)
"""
import argparse
import os
import re
import shlex
import socket
import statistics
import subprocess
import time

WORKLOADS = [
    # (name, redis-benchmark arguments; -t workloads use their own keys, custom ones run a command)
    ("LPUSH", ["-t", "lpush"]),
    ("RPOP", ["-t", "rpop"]),
    ("SADD", ["-t", "sadd"]),
    ("SISMEMBER", ["sismember", "myset", "element:__rand_int__"]),
    ("ZADD", ["-t", "zadd"]),
    ("ZRANGEBYSCORE", ["zrangebyscore", "myzset", "0", "__rand_int__", "LIMIT", "0", "10"]),
]


def servers(ours):
    return {
        "ours": f"{ours} --port {{port}} --maxmemory 0",
        "redis": "redis-server --port {port} --save '' --appendonly no",
    }


def start(cmdline, port):
    proc = subprocess.Popen(
        ["taskset", "-c", "0"] + shlex.split(cmdline.format(port=port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmdline} did not listen")


def stop(proc):
    proc.kill()
    proc.wait()


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def send(self, commands):
        self.s.sendall(b"".join(encode(*c) for c in commands))
        for _ in commands:
            self.reply()

    def reply(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"*":
            return [self.reply() for _ in range(max(int(rest), 0))]
        return rest

    def info(self, field):
        text = self.reply_to("INFO", "memory").decode()
        return int(re.search(rf"^{field}:(\d+)", text, re.M).group(1))

    def reply_to(self, *args):
        self.s.sendall(encode(*args))
        return self.reply()


def load(port, kind, keys, per_key):
    c = Conn(port)
    batch = []
    for k in range(keys):
        key = f"{kind}:{k}"
        for first in range(0, per_key, 1000):
            n = min(1000, per_key - first)
            if kind == "list":
                cmd = ["RPUSH", key] + [f"v:{i:07d}" for i in range(first, first + n)]
            elif kind == "set":
                cmd = ["SADD", key] + [f"element:{i:07d}" for i in range(first, first + n)]
            else:
                cmd = ["ZADD", key]
                for i in range(first, first + n):
                    cmd += [str(i), f"element:{i:07d}"]
            batch.append(cmd)
            if len(batch) >= 100:
                c.send(batch)
                batch = []
    if batch:
        c.send(batch)
    return c


def memory(cmdlines, quick):
    shapes = [("large", 1, 100_000 if quick else 1_000_000), ("small", 10_000 if quick else 100_000, 10)]
    rows = []
    for kind in ["list", "set", "zset"]:
        for shape, keys, per_key in shapes:
            row = {"type": kind, "shape": f"{shape} ({keys} x {per_key})"}
            for name, cmdline in cmdlines.items():
                port = 30000 + os.getpid() % 20000
                proc = start(cmdline, port)
                try:
                    probe = Conn(port)
                    time.sleep(0.3)
                    rss0, used0 = rss(proc.pid), probe.info("used_memory")
                    load(port, kind, keys, per_key)
                    time.sleep(0.7)
                    elements = keys * per_key
                    row[f"{name} rss B/elem"] = (rss(proc.pid) - rss0) / elements
                    row[f"{name} used B/elem"] = (probe.info("used_memory") - used0) / elements
                finally:
                    stop(proc)
            row["rss ratio"] = row["ours rss B/elem"] / row["redis rss B/elem"]
            rows.append(row)
            print(
                f"{kind:5} {row['shape']:24} ours {row['ours rss B/elem']:7.1f} B/elem RSS "
                f"({row['ours used B/elem']:6.1f} used) | redis {row['redis rss B/elem']:7.1f} "
                f"({row['redis used B/elem']:6.1f} used) | ours/redis {row['rss ratio']:.2f}",
                flush=True,
            )
    return rows


def throughput(cmdlines, rounds, quick):
    requests = 200_000 if quick else 1_000_000
    results = {(w, s): [] for w, _ in WORKLOADS for s in cmdlines}
    cpu = {(w, s): [] for w, _ in WORKLOADS for s in cmdlines}
    ratios = {w: [] for w, _ in WORKLOADS}
    for r in range(rounds):
        order = list(cmdlines.items())
        if r % 2:
            order.reverse()
        got = {}
        for name, cmdline in order:
            port = 30000 + (os.getpid() + r * 7 + len(got)) % 20000
            proc = start(cmdline, port)
            try:
                for w, args in WORKLOADS:
                    cpu0 = cpu_seconds(proc.pid)
                    out = subprocess.run(
                        ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-c", "50", "-P", "16",
                         "-n", str(requests), "-r", "100000", "--csv", "-q"] + args,
                        capture_output=True, text=True, check=True,
                    ).stdout
                    last = [l for l in out.splitlines() if l.strip()][-1]
                    ops = float(last.split(",")[1].strip('"'))
                    got[(w, name)] = ops
                    results[(w, name)].append(ops)
                    cpu[(w, name)].append((cpu_seconds(proc.pid) - cpu0) / requests * 1e6)
            finally:
                stop(proc)
        for w, _ in WORKLOADS:
            ratios[w].append(got[(w, "ours")] / got[(w, "redis")])
        print(f"round {r + 1}: " + ", ".join(f"{w} {ratios[w][-1]:.2f}x" for w, _ in WORKLOADS), flush=True)
    print()
    print("| workload (pipeline 16, 50 conns, 1 server core) | ours ops/s | redis ops/s | ours / redis (per round) "
          "| server CPU µs/op ours / redis |")
    print("|---|---:|---:|---|---|")
    for w, _ in WORKLOADS:
        o, r = statistics.median(results[(w, "ours")]), statistics.median(results[(w, "redis")])
        per = ", ".join(f"{x:.2f}" for x in ratios[w])
        co, cr = statistics.median(cpu[(w, "ours")]), statistics.median(cpu[(w, "redis")])
        print(f"| {w} | {o:,.0f} | {r:,.0f} | {statistics.median(ratios[w]):.2f}x ({per}) | {co:.2f} / {cr:.2f} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ours", nargs="?", default="target/release/cache-server")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=["memory", "throughput"])
    a = p.parse_args()
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    cmdlines = servers(a.ours)
    if a.only != "throughput":
        memory(cmdlines, a.quick)
    if a.only != "memory":
        throughput(cmdlines, a.rounds, a.quick)


if __name__ == "__main__":
    main()
