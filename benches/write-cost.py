#!/usr/bin/env python3
"""What one write costs on a large value, for servers given as host:port (issue: "writes copy the
whole value"). Per server, on a fresh connection and a flushed keyspace:

  hset_1m_ms       mean latency of one HSET (new field) on a 1,000,000-field hash (100 round trips)
  append_128mb_ms  latency of the first 10 B APPEND to a 128 MiB string just SET, then the mean
                   of the next 20
  build_32mb_s     seconds to build 32 MiB by 512 APPENDs of 64 KiB (one round trip each)

Usage: benches/write-cost.py NAME=HOST:PORT [NAME=HOST:PORT ...]   (stdlib only; prints a table)
"""
import socket
import sys
import time


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb", buffering=1 << 20)

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        return rest

    def cmd(self, *args):
        self.send(encode(*args))
        return self.reply()


def measure(addr):
    c = Conn(addr)
    c.cmd("FLUSHALL")
    # 1M fields in 10 HSETs of 100k fields (few commands, so the old copy-per-write code loads too).
    for b in range(10):
        args = ["HSET", "h"]
        for f in range(b * 100_000, (b + 1) * 100_000):
            args += [b"f%d" % f, b"v"]
        c.cmd(*args)
    assert c.cmd("HLEN", "h") == 1_000_000
    t = time.perf_counter()
    for i in range(100):
        c.cmd("HSET", "h", "new%d" % i, "x")
    hset = (time.perf_counter() - t) / 100 * 1e3

    c.cmd("SET", "s", b"x" * (128 << 20))
    t = time.perf_counter()
    c.cmd("APPEND", "s", "0123456789")
    first = (time.perf_counter() - t) * 1e3
    t = time.perf_counter()
    for _ in range(20):
        c.cmd("APPEND", "s", "0123456789")
    append = (first, (time.perf_counter() - t) / 20 * 1e3)

    chunk = b"y" * (64 << 10)
    t = time.perf_counter()
    for _ in range(512):
        c.cmd("APPEND", "b", chunk)
    build = time.perf_counter() - t
    assert c.cmd("STRLEN", "b") == 32 << 20
    c.cmd("FLUSHALL")
    return hset, append, build


def main():
    rows = []
    for arg in sys.argv[1:]:
        name, addr = arg.split("=", 1)
        rows.append((name, *measure(addr)))
    print("| server | HSET on a 1M-field hash (ms) | APPEND 10 B to 128 MiB: first / next (ms) | 32 MiB by 64 KiB APPENDs (s) |")
    print("|---|---|---|---|")
    for name, hset, (first, append), build in rows:
        print(f"| {name} | {hset:.3f} | {first:.3f} / {append:.3f} | {build:.3f} |")


if __name__ == "__main__":
    main()
