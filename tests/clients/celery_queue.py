"""Celery with its Redis broker (kombu) and Redis result backend on a server: what its users do,
end to end, with a worker started in this process (a thread, the solo pool).

- before the worker starts: tasks sent with priorities 0..9 wait in one list per priority
  (`celery`, `celery:3`, ...); the worker then runs them highest first (kombu's BRPOP lists the
  keys in priority order); a queue no worker consumes is purged;
- delay / apply_async with explicit task ids, AsyncResult.get with a timeout (the result backend
  SETEXes the result and PUBLISHes it; get() SUBSCRIBEs and reads it), the stored meta and its TTL
  (result_expires), a task that raises (FAILURE, the exception's type and message), ignore_result,
  forget;
- retries: autoretry_for and self.retry with short countdowns, succeeding on a later attempt
  (attempts counted with INCR in the server), and a task whose retries run out;
- ETA: a countdown task runs after one sent later without one; a task revoked while it waits for
  its countdown, and one that expires before it, never run (REVOKED);
- canvas: chains (and a failure that fails the rest of the chain), groups (saved and restored),
  chords (the result backend's Lua scripts count the parts in a sorted set, claim the callback,
  then clean up), a chord whose header fails (ChordError);
- remote control over the broker's pub/sub (PSUBSCRIBE on the pidbox, replies in a list):
  inspect ping / registered / active_queues / revoked, revoke with a reply;
- the keys Celery leaves, by type, with the random ids masked.

Prints one line per step: `<step> <repr(result or exception)>`. tests/tests/job_queues.rs runs this
against two servers and compares the transcripts line by line, so the script asserts nothing
itself. Nothing random or time-dependent is printed: task ids are fixed where printed (and masked
in key names where Celery makes them up), the worker's name is fixed, timestamps and durations only
appear as comparisons. Every wait is bounded: get() has a timeout, and a watchdog ends the script
(exit 3) after 60 s.

usage: celery_queue.py HOST PORT
"""

import json
import os
import re
import sys
import threading
import time

from python_clients import step  # the same transcript line format

# Bounds, in seconds.
WATCHDOG = 60
GET = 10
WORKER = "tests@celery"
PRIORITIES = [("p9", 9), ("p0-a", 0), ("p5", 5), ("default", None), ("p3", 3), ("p0-b", 0), ("p7", 7)]


def watchdog():
    def expire():
        print(f"celery_queue.py: still running after {WATCHDOG} s, giving up", file=sys.stderr, flush=True)
        os._exit(3)

    timer = threading.Timer(WATCHDOG, expire)
    timer.daemon = True
    timer.start()


def configure(app, host, port):
    url = f"redis://{host}:{port}/0"
    app.conf.update(
        broker_url=url,
        result_backend=url,
        result_expires=100,
        result_extended=True,
        broker_connection_retry_on_startup=True,
        # One list per priority 0..9, named `celery:N`; 0 (`celery`) is taken first.
        broker_transport_options={"priority_steps": list(range(10)), "sep": ":", "queue_order_strategy": "priority"},
        worker_prefetch_multiplier=1,
        task_default_queue="celery",
    )


def masked(key):
    """A key name with the ids Celery made up replaced by `<id>`."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", key)


def key_types(r):
    """Every key, by type, with made-up ids masked: how many of each name."""
    keys = {}
    for k in r.scan_iter(count=1000):
        names = keys.setdefault(r.type(k).decode(), {})
        name = masked(k.decode())
        names[name] = names.get(name, 0) + 1
    return {kind: sorted(names.items()) for kind, names in sorted(keys.items())}


def before_worker(r):
    from celery.result import AsyncResult

    import celery_tasks as t

    def send():
        for name, priority in PRIORITIES:
            t.record.apply_async(("celery:order", name), task_id=f"prio-{name}", priority=priority)
        return sorted((k.decode(), r.llen(k)) for k in r.scan_iter(match="celery*") if r.type(k) == b"list")

    step("celery priorities sent", send)

    def purge():
        # A queue no worker consumes: its messages wait in `idle`, `idle:5` and `idle:9` until
        # purged (kombu LLENs and DELs every priority list of the queue).
        for priority in (0, 5, 9, 9):
            t.add.apply_async((1, 1), queue="idle", priority=priority)
        lengths = [r.llen(k) for k in ("idle", "idle:5", "idle:9")]
        with t.app.connection_for_write() as conn:
            purged = conn.default_channel.queue_purge("idle")
        return (lengths, purged, r.exists("idle", "idle:5", "idle:9"))

    step("celery purge", purge)
    step("celery pending state", lambda: [AsyncResult(f"prio-{n}").state for n, _ in PRIORITIES])
    step("celery keys before worker", lambda: key_types(r))


def basics(r):
    from celery.result import AsyncResult

    import celery_tasks as t

    def priorities():
        results = [AsyncResult(f"prio-{n}").get(timeout=GET) for n, _ in PRIORITIES]
        return (results, r.lrange("celery:order", 0, -1))

    step("celery priorities order", priorities)
    step("celery delay", lambda: t.add.delay(2, 3).get(timeout=GET))

    def apply_async():
        res = t.add.apply_async((20, 22), task_id="add-1")
        got = res.get(timeout=GET)
        return (res.id, got, res.state, res.successful(), res.ready(), res.name, res.args, res.kwargs)

    step("celery apply_async", apply_async)

    def meta():
        raw = r.get("celery-task-meta-add-1")
        stored = json.loads(raw)
        fields = ("status", "result", "traceback", "children", "task_id", "name", "args", "kwargs", "queue",
                  "retries")
        ttl = r.ttl("celery-task-meta-add-1")
        return (r.type("celery-task-meta-add-1"), sorted(stored), [stored[f] for f in fields], 90 < ttl <= 100)

    step("celery result meta", meta)
    step("celery kwargs", lambda: t.mul.apply_async(kwargs={"a": 6, "b": 7}, task_id="mul-1").get(timeout=GET))

    def failure():
        res = t.fail.apply_async(("bad input 7",), task_id="fail-1")
        exc = res.get(timeout=GET, propagate=False)
        return (res.state, res.failed(), type(exc).__name__, str(exc), res.traceback.strip().splitlines()[-1])

    step("celery failure", failure)
    step("celery failure raises", lambda: t.fail.AsyncResult("fail-1").get(timeout=GET))
    step("celery pending unknown", lambda: (AsyncResult("never-sent").state, AsyncResult("never-sent").result))

    def ignored():
        t.record_quietly.apply_async(("celery:quiet", "done"), task_id="quiet-1")
        got = r.blpop("celery:quiet", timeout=GET)
        return (got, r.exists("celery-task-meta-quiet-1"), AsyncResult("quiet-1").state)

    step("celery ignore_result", ignored)

    def forget():
        res = t.add.apply_async((1, 1), task_id="forget-1")
        got = res.get(timeout=GET)
        before = r.exists("celery-task-meta-forget-1")
        res.forget()
        return (got, before, r.exists("celery-task-meta-forget-1"), AsyncResult("forget-1").state)

    step("celery forget", forget)


def retries(r):
    import celery_tasks as t

    def autoretry():
        res = t.flaky.apply_async(("celery:flaky", 2), task_id="flaky-1")
        return (res.get(timeout=GET), res.state, res.retries, r.get("celery:flaky"))

    step("celery autoretry_for", autoretry)

    def bound():
        res = t.flaky_bound.apply_async(("celery:bound", 2), task_id="bound-1")
        return (res.get(timeout=GET), res.state, r.get("celery:bound"))

    step("celery self.retry", bound)

    def exhausted():
        res = t.hopeless.apply_async(("celery:hopeless",), task_id="hopeless-1")
        exc = res.get(timeout=GET, propagate=False)
        return (res.state, type(exc).__name__, str(exc), r.get("celery:hopeless"))

    step("celery retries exhausted", exhausted)


def timing(r, app):
    from celery.result import AsyncResult

    import celery_tasks as t

    def countdown():
        started = time.monotonic()
        later = t.record.apply_async(("celery:eta", "later"), countdown=1.5, task_id="eta-later")
        now = t.record.apply_async(("celery:eta", "now"), task_id="eta-now")
        got = (now.get(timeout=GET), later.get(timeout=GET))
        waited = time.monotonic() - started
        return (got, r.lrange("celery:eta", 0, -1), 1.4 < waited < GET)

    step("celery countdown", countdown)

    def revoke():
        res = t.record.apply_async(("celery:revoked", "ran"), countdown=2, task_id="revoked-1")
        replies = app.control.revoke("revoked-1", reply=True, timeout=GET, limit=1)
        exc = res.get(timeout=GET, propagate=False)
        return (replies, res.state, type(exc).__name__, str(exc), r.lrange("celery:revoked", 0, -1))

    step("celery revoke pending", revoke)
    step("celery revoked raises", lambda: AsyncResult("revoked-1").get(timeout=GET))

    def expires():
        res = t.record.apply_async(("celery:expired", "ran"), countdown=1, expires=0.5, task_id="expired-1")
        exc = res.get(timeout=GET, propagate=False)
        return (res.state, type(exc).__name__, str(exc), r.lrange("celery:expired", 0, -1))

    step("celery expires", expires)


def canvas(r):
    from celery import chain, chord, group
    from celery.result import GroupResult

    import celery_tasks as t

    def chained():
        res = chain(
            t.add.s(1, 2).set(task_id="chain-1"), t.add.s(3).set(task_id="chain-2"), t.mul.s(10).set(task_id="chain-3")
        ).apply_async()
        got = res.get(timeout=GET)
        return (got, res.id, res.parent.id, res.parent.get(timeout=GET), res.parent.parent.get(timeout=GET))

    step("celery chain", chained)

    def chain_failure():
        res = chain(
            t.add.si(1, 1).set(task_id="chain-ok"),
            t.fail.si("in chain").set(task_id="chain-fail"),
            t.add.si(2, 2).set(task_id="chain-never"),
        ).apply_async()
        exc = res.get(timeout=GET, propagate=False)
        return (res.id, res.state, type(exc).__name__, str(exc), res.parent.state, res.parent.parent.state)

    step("celery chain failure", chain_failure)

    def grouped():
        res = group(t.add.s(i, i) for i in range(5)).apply_async()
        got = res.get(timeout=GET)
        return (got, res.ready(), res.successful(), res.completed_count(), len(res))

    step("celery group", grouped)

    def saved():
        res = group(t.mul.s(i, 3).set(task_id=f"saved-{i}") for i in range(3)).apply_async()
        res.save()
        restored = GroupResult.restore(res.id)
        return ([c.id for c in restored.results], restored.get(timeout=GET),
                r.type(f"celery-taskset-meta-{res.id}"), 90 < r.ttl(f"celery-taskset-meta-{res.id}") <= 100)

    step("celery group save/restore", saved)

    def chorded():
        res = chord((t.add.s(i, i) for i in range(5)), t.tsum.s())()
        got = res.get(timeout=GET)
        group_id = res.parent.id
        keys = {s: r.type(f"celery-taskset-meta-{group_id}{s}").decode() for s in (".j", ".t", ".s", ".d", ".c")}
        claim = f"celery-taskset-meta-{group_id}.c"
        return (got, keys, r.get(claim), 290 < r.ttl(claim) <= 300)

    step("celery chord", chorded)

    def ordered():
        header = [t.record.s("celery:chord-order", str(i)).set(task_id=f"ordered-{i}") for i in range(4)]
        res = chord(header, t.collect.s())()
        return (res.get(timeout=GET), r.lrange("celery:chord-order", 0, -1))

    step("celery chord ordered", ordered)

    def chord_failure():
        header = [t.add.si(1, 1).set(task_id="chord-ok"), t.fail.si("in chord").set(task_id="chord-fail")]
        res = chord(header, t.tsum.s())()
        exc = res.get(timeout=GET, propagate=False)
        return (res.state, type(exc).__name__, str(exc))

    step("celery chord failure", chord_failure)


def control(app):
    def inspect():
        return app.control.inspect(destination=[WORKER], timeout=GET, limit=1)

    step("celery inspect ping", lambda: inspect().ping())
    step("celery inspect registered", lambda: inspect().registered())
    step("celery inspect active_queues", lambda: inspect().active_queues())
    step("celery inspect revoked", lambda: {k: sorted(v) for k, v in inspect().revoked().items()})


def main():
    import redis
    from celery.contrib.testing.worker import start_worker

    from celery_tasks import app

    watchdog()
    host, port = sys.argv[1], int(sys.argv[2])
    r = redis.Redis(host=host, port=port, socket_timeout=GET)
    step("celery flushall", lambda: r.flushall())
    configure(app, host, port)
    before_worker(r)
    with start_worker(app, pool="solo", concurrency=1, loglevel="WARNING", perform_ping_check=False,
                      hostname=WORKER, shutdown_timeout=GET):
        basics(r)
        retries(r)
        timing(r, app)
        canvas(r)
        control(app)
    step("celery queues left", lambda: sorted(
        (k.decode(), r.llen(k)) for k in r.scan_iter(match="celery*") if r.type(k) == b"list"))
    step("celery keys after", lambda: key_types(r))
    r.close()


if __name__ == "__main__":
    main()
