"""redis-py (RESP2 and RESP3) and pymemcache as real clients of a server.

Prints one line per step: `<step> <repr(result or exception)>`. tests/tests/other_clients.rs runs
this against our server and against redis-server / memcached and compares the transcripts line by
line, so the script itself asserts nothing about the answers.

usage: python_clients.py redis HOST PORT | python_clients.py memcached HOST PORT
"""

import sys


def step(name, fn):
    try:
        out = fn()
    except Exception as e:  # the error text is part of the transcript
        out = f"{type(e).__name__}: {e}"
    print(f"{name} {out!r}", flush=True)


def redis_session(host, port, protocol):
    import redis

    r = redis.Redis(host=host, port=port, protocol=protocol, socket_timeout=10)
    p = f"resp{protocol}"
    step(f"{p} flushall", lambda: r.flushall())
    step(f"{p} set", lambda: r.set("user:1", "Ada", ex=60))
    step(f"{p} get", lambda: r.get("user:1"))
    step(f"{p} ttl", lambda: r.ttl("user:1"))
    step(f"{p} set-nx", lambda: r.set("user:1", "Bob", nx=True))
    step(f"{p} getset", lambda: r.set("user:1", "Cy", get=True))
    step(f"{p} incr", lambda: [r.incr("n"), r.incrby("n", 41), r.decr("n")])
    step(f"{p} incrbyfloat", lambda: r.incrbyfloat("f", 2.5))
    step(f"{p} mset-mget", lambda: (r.mset({"a": "1", "b": "2"}), r.mget("a", "b", "missing")))
    step(f"{p} hset", lambda: r.hset("session:9", mapping={"uid": "1", "cart": "3"}))
    step(f"{p} hgetall", lambda: sorted(r.hgetall("session:9").items()))
    step(f"{p} hincrby", lambda: r.hincrby("session:9", "cart", 2))
    step(f"{p} wrongtype", lambda: r.get("session:9"))
    step(f"{p} unknown", lambda: r.execute_command("NOSUCHCOMMAND", "x"))
    step(f"{p} expire", lambda: (r.expire("a", 100, nx=True), r.expire("a", 50, gt=True), r.pttl("a") > 0))
    step(f"{p} persist", lambda: (r.persist("a"), r.ttl("a")))
    step(f"{p} type", lambda: [r.type(k) for k in ("a", "session:9", "missing")])
    step(f"{p} exists-del", lambda: (r.exists("a", "b", "missing"), r.delete("a", "missing"), r.exists("a")))
    step(f"{p} scan", lambda: sorted(r.scan_iter(match="user:*", count=2)))

    def pipeline():
        with r.pipeline(transaction=False) as pipe:
            for i in range(100):
                pipe.set(f"k{i}", i)
            for i in range(100):
                pipe.get(f"k{i}")
            return pipe.execute()[-3:]

    step(f"{p} pipeline", pipeline)
    step(f"{p} dbsize", lambda: r.dbsize())
    step(f"{p} getrange", lambda: (r.append("s", "hello world"), r.getrange("s", 0, 4), r.strlen("s")))
    step(f"{p} ping-echo", lambda: (r.ping(), r.echo("hi")))
    r.close()


def memcached_session(host, port):
    from pymemcache.client.base import Client

    c = Client((host, port), connect_timeout=10, timeout=10, default_noreply=False)
    step("mc flush_all", lambda: c.flush_all())
    step("mc set", lambda: c.set("k", b"v", expire=60, flags=0))
    step("mc get", lambda: c.get("k"))
    step("mc add", lambda: (c.add("k", b"x"), c.add("k2", b"y")))
    step("mc replace", lambda: (c.replace("k", b"w"), c.replace("nope", b"z")))
    step("mc append-prepend", lambda: (c.append("k", b">"), c.prepend("k", b"<"), c.get("k")))
    step("mc get_many", lambda: sorted(c.get_many(["k", "k2", "nope"]).items()))

    def cas():
        value, token = c.gets("k")
        return (value, c.cas("k", b"new", token), c.cas("k", b"newer", token), c.get("k"))

    step("mc cas", cas)
    step("mc incr-decr", lambda: (c.set("n", b"10"), c.incr("n", 5), c.decr("n", 20), c.incr("nope", 1)))
    step("mc touch", lambda: (c.touch("k", 100), c.touch("nope", 100)))
    step("mc delete", lambda: (c.delete("k"), c.delete("k"), c.get("k")))
    step("mc noreply", lambda: (c.set("q", b"1", noreply=True), c.get("q")))
    step("mc big", lambda: len(c.get("big") or b"") if c.set("big", b"x" * 100_000) else None)
    step("mc bad key", lambda: c.get("bad key"))
    c.close()


def main():
    kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "redis":
        redis_session(host, port, 2)
        redis_session(host, port, 3)
    else:
        memcached_session(host, port)


if __name__ == "__main__":
    main()
