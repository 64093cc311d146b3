"""Real libraries that need transactions and Lua scripts.

- redis-py's Lock (redis.lock.Lock: SET NX PX plus Lua release/extend/reacquire);
- limits (its Redis storage: FixedWindow is INCRBY + EXPIRE in Lua, SlidingWindowCounter is
  GET/PTTL/RENAME/SET PX in Lua, MovingWindow a list of timestamps (LPUSH/LTRIM/LINDEX in Lua),
  reset() is KEYS + DEL in Lua);
- redis-py pipelines with transaction=True (MULTI/EXEC), WATCH, and r.transaction(func, *watches)
  retried after a second client writes between WATCH and EXEC;
- redis-py's Script (EVALSHA, reloaded after SCRIPT FLUSH).

Prints one line per step: `<step> <repr(result or exception)>`, for RESP2 then RESP3.
tests/tests/client_libraries.rs runs this against two servers and compares the transcripts line by
line, so the script asserts nothing itself. Nothing time-dependent is printed: TTLs only as
comparisons, tokens and reset times never. Waits are short sleeps past a 1-2 s expiry, chosen so
that each printed outcome holds for any scheduling delay up to about half a second.

usage: libraries.py HOST PORT
"""

import sys
import threading
import time

from python_clients import step  # the same transcript line format


def lock_session(r, other, p):
    # thread_local=False: the holder hands the lock over from a timer thread below.
    a = r.lock("lock:report", timeout=10, blocking_timeout=0.3, thread_local=False)
    b = other.lock("lock:report", timeout=10, blocking_timeout=0.3)
    step(f"{p} lock acquire", lambda: a.acquire())
    step(f"{p} lock state", lambda: (a.locked(), a.owned(), b.locked(), b.owned()))
    step(f"{p} lock contended nonblocking", lambda: b.acquire(blocking=False))
    step(f"{p} lock contended timeout", lambda: b.acquire())
    step(f"{p} lock release unacquired", lambda: b.release())
    step(f"{p} lock extend", lambda: (a.extend(20), 20_000 < r.pttl("lock:report") <= 30_000))
    step(f"{p} lock extend replace", lambda: (a.extend(5, replace_ttl=True), r.pttl("lock:report") <= 5_000))
    step(f"{p} lock reacquire", lambda: (a.reacquire(), 5_000 < r.pttl("lock:report") <= 10_000))
    step(f"{p} lock release", lambda: (a.release(), a.locked(), r.exists("lock:report")))
    step(f"{p} lock release twice", lambda: a.release())

    # The holder releases from another thread while a waiter blocks: the waiter gets it.
    def handover():
        step(f"{p} lock holder", lambda: a.acquire())
        t = threading.Timer(0.2, a.release)
        t.start()
        got = b.acquire(blocking_timeout=5)
        t.join()
        return (got, b.owned(), a.owned())

    step(f"{p} lock handover", handover)
    step(f"{p} lock handover release", lambda: b.release())

    # An abandoned lock expires; its old holder then owns nothing and cannot release or extend.
    short = r.lock("lock:job", timeout=0.5)
    step(f"{p} lock abandon", lambda: short.acquire(blocking=False))
    step(f"{p} lock expired", lambda: (time.sleep(0.8), short.locked())[1])
    taker = other.lock("lock:job", timeout=10)
    step(f"{p} lock taken over", lambda: taker.acquire(blocking=False))
    step(f"{p} lock extend not owner", lambda: short.extend(5))
    step(f"{p} lock reacquire not owner", lambda: short.reacquire())
    step(f"{p} lock release not owner", lambda: short.release())
    step(f"{p} lock release forgotten", lambda: short.release())
    step(f"{p} lock still taker's", lambda: (taker.owned(), taker.release()))

    def with_lock():
        with r.lock("lock:with", timeout=5) as held:
            inside = (held.owned(), r.exists("lock:with"))
        return (inside, r.exists("lock:with"))

    step(f"{p} lock with", with_lock)

    def with_contended():
        with other.lock("lock:with", timeout=5):
            with r.lock("lock:with", timeout=5, blocking_timeout=0.2):
                return "entered"

    step(f"{p} lock with contended", with_contended)


def limits_session(host, port, protocol, p):
    from limits import parse, strategies
    from limits.storage import RedisStorage

    storage = RedisStorage(f"redis://{host}:{port}", protocol=protocol, socket_timeout=10)
    step(f"{p} limits check", lambda: storage.check())

    fixed = strategies.FixedWindowRateLimiter(storage)
    per2s = parse("3/2 seconds")
    step(f"{p} fixed hits", lambda: [fixed.hit(per2s, "user", "1") for _ in range(4)])
    step(f"{p} fixed test", lambda: (fixed.test(per2s, "user", "1"), fixed.test(per2s, "user", "2")))
    step(f"{p} fixed remaining", lambda: fixed.get_window_stats(per2s, "user", "1").remaining)
    step(f"{p} fixed other user", lambda: fixed.hit(per2s, "user", "2"))
    step(f"{p} fixed cost", lambda: (fixed.hit(per2s, "user", "3", cost=2), fixed.hit(per2s, "user", "3", cost=2)))
    step(f"{p} fixed window ttl", lambda: 0 < r_pttl(storage, per2s, "user", "1") <= 2000)
    step(f"{p} fixed window reset", lambda: (time.sleep(2.3), fixed.hit(per2s, "user", "1"))[1])
    step(f"{p} fixed remaining after reset", lambda: fixed.get_window_stats(per2s, "user", "1").remaining)
    step(f"{p} fixed clear", lambda: (fixed.clear(per2s, "user", "1"), fixed.test(per2s, "user", "1")))

    sliding = strategies.SlidingWindowCounterRateLimiter(storage)
    step(f"{p} sliding hits", lambda: [sliding.hit(per2s, "api", "k") for _ in range(4)])
    step(f"{p} sliding test", lambda: sliding.test(per2s, "api", "k"))
    step(f"{p} sliding remaining", lambda: sliding.get_window_stats(per2s, "api", "k").remaining)
    # Past one window the counter shifts to "previous" with under a window to live, so its weight
    # is below 3 and one more hit fits (the weighted count is floor(3 × ttl / 2 s) + 1 ≤ 3).
    step(f"{p} sliding shift", lambda: (time.sleep(2.2), sliding.hit(per2s, "api", "k"))[1])
    step(f"{p} sliding clear", lambda: (sliding.clear(per2s, "api", "k"), sliding.test(per2s, "api", "k")))
    step(f"{p} sliding after clear", lambda: [sliding.hit(per2s, "api", "k") for _ in range(4)])

    # The moving window keeps a list of hit timestamps (LPUSH + LTRIM + LINDEX in Lua).
    moving = strategies.MovingWindowRateLimiter(storage)
    step(f"{p} moving hits", lambda: [moving.hit(per2s, "win", "k") for _ in range(4)])
    step(f"{p} moving test", lambda: (moving.test(per2s, "win", "k"), moving.test(per2s, "win", "other")))
    step(f"{p} moving remaining", lambda: moving.get_window_stats(per2s, "win", "k").remaining)
    step(f"{p} moving cost", lambda: (moving.hit(per2s, "win", "c", cost=2), moving.hit(per2s, "win", "c", cost=2)))
    step(f"{p} moving slides", lambda: (time.sleep(2.2), moving.hit(per2s, "win", "k"))[1])
    step(f"{p} moving clear", lambda: (moving.clear(per2s, "win", "k"), moving.get_window_stats(per2s, "win", "k").remaining))
    step(f"{p} limits keys", lambda: sorted(k.decode() for k in storage.storage.keys("LIMITS:*")))
    step(f"{p} limits reset", lambda: storage.reset())
    step(f"{p} limits keys after reset", lambda: storage.storage.keys("LIMITS:*"))


def r_pttl(storage, item, *ids):
    return storage.storage.pttl(f"{storage.key_prefix}:{item.key_for(*ids)}")


def transaction_session(r, other, p):
    def multi_exec():
        with r.pipeline() as pipe:
            return pipe.set("acct:1", 100).incrby("acct:1", -30).get("acct:1").hset("h", "f", "v").execute()

    step(f"{p} tx multi-exec", multi_exec)

    def runtime_error(raise_on_error):
        with r.pipeline() as pipe:
            pipe.set("txt", "abc").incr("txt").set("after", "1").hincrby("h", "f", 1).get("after")
            return pipe.execute(raise_on_error=raise_on_error)

    step(f"{p} tx runtime error raise", lambda: runtime_error(True))
    step(f"{p} tx runtime error collect", lambda: runtime_error(False))
    step(f"{p} tx runtime error applied", lambda: r.mget("txt", "after"))

    def exec_abort():
        with r.pipeline() as pipe:
            pipe.set("abort", "1").execute_command("SET", "abort").incr("abort")
            return pipe.execute()

    step(f"{p} tx execabort", exec_abort)
    step(f"{p} tx execabort nothing ran", lambda: r.exists("abort"))

    def unknown_in_multi():
        with r.pipeline() as pipe:
            pipe.set("abort", "1").execute_command("NOSUCHCOMMAND", "x")
            return pipe.execute()

    step(f"{p} tx unknown command", unknown_in_multi)

    def watched(write_between):
        with r.pipeline() as pipe:
            pipe.watch("acct:1")
            balance = int(pipe.get("acct:1"))
            if write_between:
                other.set("acct:1", 500)
            pipe.multi()
            pipe.set("acct:1", balance - 10)
            return pipe.execute()

    step(f"{p} tx watch clean", lambda: (watched(False), r.get("acct:1")))
    step(f"{p} tx watch conflict", lambda: watched(True))
    step(f"{p} tx watch conflict value", lambda: r.get("acct:1"))

    def unwatched():
        with r.pipeline() as pipe:
            pipe.watch("acct:1")
            pipe.unwatch()
            other.set("acct:1", 7)
            pipe.multi()
            pipe.incr("acct:1")
            return pipe.execute()

    step(f"{p} tx unwatch", unwatched)

    attempts = []

    def transfer(pipe):
        src, dst = (int(v or 0) for v in pipe.mget("acct:{x}:a", "acct:{x}:b"))
        attempts.append((src, dst))
        if len(attempts) == 1:
            other.incrby("acct:{x}:a", 5)  # a concurrent writer between WATCH and EXEC
        pipe.multi()
        pipe.set("acct:{x}:a", src - 20)
        pipe.set("acct:{x}:b", dst + 20)
        return src

    def retried():
        r.mset({"acct:{x}:a": 100, "acct:{x}:b": 0})
        got = r.transaction(transfer, "acct:{x}:a", "acct:{x}:b", value_from_callable=True)
        return (got, attempts, r.mget("acct:{x}:a", "acct:{x}:b"))

    step(f"{p} tx transaction retry", retried)

    def exec_results():
        return r.transaction(lambda pipe: (pipe.multi(), pipe.incr("n"), pipe.hset("h", "g", "1")), "n")

    step(f"{p} tx transaction results", exec_results)

    def flushed_script():
        s = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        first = s(keys=["counter"], args=[2])
        r.script_flush()
        after_flush = s(keys=["counter"], args=[3])
        with r.pipeline() as pipe:  # redis-py loads the pipeline's scripts before MULTI
            s(keys=["counter"], args=[1], client=pipe)
            pipe.get("counter")
            piped = pipe.execute()
        return (first, after_flush, piped, r.script_exists(s.sha))

    step(f"{p} tx script", flushed_script)


def main():
    import redis

    host, port = sys.argv[1], int(sys.argv[2])
    for protocol in (2, 3):
        p = f"resp{protocol}"
        r = redis.Redis(host=host, port=port, protocol=protocol, socket_timeout=10)
        other = redis.Redis(host=host, port=port, protocol=protocol, socket_timeout=10)
        step(f"{p} flushall", lambda: r.flushall())
        lock_session(r, other, p)
        limits_session(host, port, protocol, p)
        transaction_session(r, other, p)
        r.close()
        other.close()


if __name__ == "__main__":
    main()
