#!/usr/bin/env python3
"""Is memory given back? Starts each server, loads 1,000,000 keys (16 B keys, 32 B values,
pipelined 1,000 at a time over 4 concurrent connections, so several server threads allocate),
FLUSHALLs, waits 2 s, and reads VmRSS: fresh, loaded, after FLUSHALL; three rounds, so a ratchet
shows. Then stops the server.

Usage: benches/flush-rss.py NAME='COMMAND WITH {port}' [...]
  e.g. benches/flush-rss.py ours='target/release/cache-server --port {port}' \
                            redis='redis-server --port {port} --save "" --appendonly no'
"""
import os
import shlex
import socket
import subprocess
import sys
import threading
import time


CONNS = 4


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def wait_port(port):
    for _ in range(100):
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not listen")


def read_replies(f, n):
    for _ in range(n):
        line = f.readline()
        if line[:1] == b"-":
            raise RuntimeError(line)


def measure(cmdline, port):
    proc = subprocess.Popen(shlex.split(cmdline.format(port=port)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        s = wait_port(port)
        f = s.makefile("rb")
        conns = [s] + [wait_port(port) for _ in range(CONNS - 1)]
        time.sleep(0.5)
        fresh = rss(proc.pid)
        rounds = []
        value = b"v" * 32

        def load(c, first):
            cf = c.makefile("rb")
            for b in range(first, 1000, CONNS):
                batch = b"".join(encode(b"SET", b"key:%012d" % i, value) for i in range(b * 1000, (b + 1) * 1000))
                c.sendall(batch)
                read_replies(cf, 1000)

        for _ in range(3):
            threads = [threading.Thread(target=load, args=(c, n)) for n, c in enumerate(conns)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            loaded = rss(proc.pid)
            s.sendall(encode(b"FLUSHALL"))
            read_replies(f, 1)
            time.sleep(2)
            rounds.append((loaded, rss(proc.pid)))
        return fresh, rounds
    finally:
        proc.terminate()
        proc.wait()


def main():
    mb = lambda b: f"{b / 1048576:.1f}"
    print("| server | fresh RSS (MB) | 1M keys (MB) | after FLUSHALL, rounds 1 / 2 / 3 (MB) | after ÷ fresh |")
    print("|---|---|---|---|---|")
    for i, arg in enumerate(sys.argv[1:]):
        name, cmdline = arg.split("=", 1)
        fresh, rounds = measure(cmdline, 16400 + i)
        after = " / ".join(mb(a) for _, a in rounds)
        print(f"| {name} | {mb(fresh)} | {mb(rounds[0][0])} | {after} | {rounds[-1][1] / fresh:.2f} |")


if __name__ == "__main__":
    main()
