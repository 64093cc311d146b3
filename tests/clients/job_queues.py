"""RQ (Redis Queue) as a real job queue on a server: what its users do, end to end.

- enqueue with explicit job ids, a SimpleWorker in burst mode running them: statuses before and
  after, return values (job.return_value(), kept in a stream per job), a job that raises (the
  FailedJobRegistry, the first and last lines of its traceback), requeue of a failed job,
  Retry(max=2) on a job that fails twice then succeeds, depends_on chains (deferred, then run in
  order; the dependent of a failed job stays deferred), job.meta, result_ttl (0, kept, forever),
  job_timeout, cancel, at_front, queue.count / is_empty() / empty();
- queues with priorities: a worker listening on [high, default, low] takes high first;
- scheduling made deterministic: enqueue_at a date long past runs in the next burst (the worker's
  scheduler moves it), enqueue_in an hour stays scheduled;
- a non-burst worker blocked in a dequeue (BLMOVE for one queue, BLPOP for several) while another
  thread enqueues after 0.3 s: it wakes and runs the job.

Prints one line per step: `<step> <repr(result or exception)>`, for RESP2 then RESP3.
tests/tests/job_queues.rs runs this against two servers and compares the transcripts line by line,
so the script asserts nothing itself. Nothing random or time-dependent is printed: job ids and
worker names are fixed, timestamps are never shown, TTLs and wait times only as comparisons. Every
wait is bounded: a worker that is never woken gives up after its idle limit (5 s).

usage: job_queues.py HOST PORT
"""

import logging
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

from python_clients import step  # the same transcript line format

import rq_jobs


def status(job):
    got = job.get_status()
    return got.value if got is not None else None


def statuses(queue, *ids):
    from rq.job import Job

    return {i: status(Job.fetch(i, connection=queue.connection)) for i in ids}


def burst(queues, name, r, **kwargs):
    """Runs every job waiting on `queues` with a SimpleWorker in burst mode (the jobs run in this
    process, so their functions see this script's module path)."""
    from rq import SimpleWorker

    worker = SimpleWorker(queues, name=name, connection=r)
    return worker.work(burst=True, logging_level="WARNING", **kwargs)


def lines(text):
    """The first and last lines of a traceback: the header and the exception (the frames between
    carry file paths and line numbers)."""
    if text is None:
        return None
    parts = text.strip().splitlines()
    return (parts[0], parts[-1])


def basics(r, p):
    from rq import Queue, Retry
    from rq.job import Job
    from rq.registry import DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry

    q = Queue("default", connection=r)
    step(f"{p} rq empty queue", lambda: (q.count, q.is_empty(), q.job_ids))

    def enqueue():
        job = q.enqueue(rq_jobs.add, 2, 3, job_id="add")
        return (job.id, job.func_name, job.args, status(job), q.count, q.job_ids)

    step(f"{p} rq enqueue", enqueue)
    def fetch():
        job = Job.fetch("add", connection=r)
        return (job.id, job.func_name, job.args, job.origin, status(job))

    step(f"{p} rq fetch", fetch)
    step(f"{p} rq exists", lambda: (Job.exists("add", connection=r), Job.exists("missing", connection=r)))
    step(f"{p} rq fetch missing", lambda: Job.fetch("missing", connection=r))
    step(f"{p} rq enqueue kwargs", lambda: q.enqueue(rq_jobs.shout, word="queue", job_id="shout").kwargs)
    step(f"{p} rq enqueue fail", lambda: status(q.enqueue(rq_jobs.fail, "bad input 7", job_id="boom")))
    step(
        f"{p} rq enqueue retry",
        lambda: (lambda j: (j.retries_left, status(j)))(
            q.enqueue(rq_jobs.flaky, "rq:test:flaky", 2, job_id="flaky", retry=Retry(max=2))
        ),
    )
    step(f"{p} rq enqueue once", lambda: status(q.enqueue(rq_jobs.flaky, "rq:test:once", 1, job_id="once")))
    step(
        f"{p} rq enqueue meta",
        lambda: q.enqueue(rq_jobs.note_meta, "half", job_id="meta", meta={"owner": "tests"}).meta,
    )
    step(f"{p} rq enqueue result_ttl", lambda: [
        q.enqueue(rq_jobs.nothing, job_id="gone", result_ttl=0).id,
        q.enqueue(rq_jobs.add, 1, 1, job_id="kept", result_ttl=100).id,
        q.enqueue(rq_jobs.add, 2, 2, job_id="forever", result_ttl=-1).id,
    ])
    step(f"{p} rq enqueue timeout", lambda: q.enqueue(rq_jobs.sleepy, 3, job_id="slow", job_timeout=1).timeout)

    def chain():
        a = q.enqueue(rq_jobs.append, "rq:test:chain", "a", job_id="chain-a")
        b = q.enqueue(rq_jobs.append, "rq:test:chain", "b", job_id="chain-b", depends_on=a)
        c = q.enqueue(rq_jobs.append, "rq:test:chain", "c", job_id="chain-c", depends_on=[b])
        orphan = q.enqueue(rq_jobs.add, 0, 0, job_id="orphan", depends_on="boom")
        deferred = sorted(DeferredJobRegistry(queue=q).get_job_ids())
        return ([status(j) for j in (a, b, c, orphan)], c.dependency_ids, deferred)

    step(f"{p} rq depends_on", chain)

    def front():
        q.enqueue(rq_jobs.add, 10, 10, job_id="front", at_front=True)
        return q.job_ids[:2]

    step(f"{p} rq at_front", front)

    def cancel():
        job = q.enqueue(rq_jobs.add, 9, 9, job_id="canceled")
        job.cancel()
        return (status(job), "canceled" in q.job_ids, q.canceled_job_registry.get_job_ids())

    step(f"{p} rq cancel", cancel)
    step(f"{p} rq count before work", lambda: (q.count, q.is_empty()))
    step(f"{p} rq burst work", lambda: burst([q], f"{p}-burst", r))
    step(f"{p} rq count after work", lambda: (q.count, q.is_empty(), q.job_ids))
    ran = ("add", "shout", "boom", "flaky", "once", "meta", "kept", "forever", "slow", "front")
    step(f"{p} rq statuses", lambda: statuses(q, *ran, "chain-a", "chain-b", "chain-c", "orphan", "canceled"))
    returned = ("add", "shout", "flaky", "meta", "kept", "forever", "front", "boom")
    step(f"{p} rq return values", lambda: [Job.fetch(i, connection=r).return_value() for i in returned])
    step(f"{p} rq chain order", lambda: r.lrange("rq:test:chain", 0, -1))
    step(f"{p} rq orphan deferred", lambda: sorted(DeferredJobRegistry(queue=q).get_job_ids()))
    step(f"{p} rq failed registry", lambda: sorted(FailedJobRegistry(queue=q).get_job_ids()))
    step(f"{p} rq finished registry", lambda: sorted(FinishedJobRegistry(queue=q).get_job_ids()))
    step(f"{p} rq exc_info", lambda: lines(Job.fetch("boom", connection=r).exc_info))
    step(f"{p} rq timeout exc_info", lambda: lines(Job.fetch("slow", connection=r).latest_result().exc_string))
    def retries():
        job = Job.fetch("flaky", connection=r)
        return (job.retries_left, [res.type.name for res in job.results()])

    step(f"{p} rq retries", retries)
    step(f"{p} rq retry attempts", lambda: r.get("rq:test:flaky"))
    step(f"{p} rq meta", lambda: Job.fetch("meta", connection=r).meta)
    step(f"{p} rq result_ttl 0", lambda: Job.exists("gone", connection=r))
    step(f"{p} rq result_ttl 100", lambda: 90 < r.ttl("rq:job:kept") <= 100)
    step(f"{p} rq result_ttl -1", lambda: r.ttl("rq:job:forever"))

    def requeue():
        registry = FailedJobRegistry(queue=q)
        registry.requeue("once")
        queued = (status(Job.fetch("once", connection=r)), q.job_ids, sorted(registry.get_job_ids()))
        worked = burst([q], f"{p}-requeue", r)
        job = Job.fetch("once", connection=r)
        return (queued, worked, status(job), job.return_value(), sorted(registry.get_job_ids()))

    step(f"{p} rq requeue failed", requeue)
    step(f"{p} rq requeue missing", lambda: FailedJobRegistry(queue=q).requeue("add"))

    def empty():
        for i in range(3):
            q.enqueue(rq_jobs.add, i, i, job_id=f"dropped-{i}")
        before = q.count
        q.empty()
        return (before, q.count, q.is_empty(), Job.exists("dropped-0", connection=r))

    step(f"{p} rq empty()", empty)


def priorities(r, p):
    from rq import Queue

    high, default, low = (Queue(name, connection=r) for name in ("high", "default", "low"))

    def enqueue():
        low.enqueue(rq_jobs.append, "rq:test:order", "low-1", job_id="low-1")
        default.enqueue(rq_jobs.append, "rq:test:order", "default-1", job_id="default-1")
        low.enqueue(rq_jobs.append, "rq:test:order", "low-2", job_id="low-2")
        high.enqueue(rq_jobs.append, "rq:test:order", "high-1", job_id="high-1")
        high.enqueue(rq_jobs.append, "rq:test:order", "high-2", job_id="high-2")
        return [x.count for x in (high, default, low)]

    step(f"{p} rq priorities enqueue", enqueue)
    step(f"{p} rq priorities work", lambda: burst([high, default, low], f"{p}-prio", r))
    step(f"{p} rq priorities order", lambda: r.lrange("rq:test:order", 0, -1))
    step(f"{p} rq priorities counts", lambda: [x.count for x in (high, default, low)])


def scheduling(r, p):
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    q = Queue("timed", connection=r)

    def schedule():
        past = q.enqueue_at(datetime(2000, 1, 1, tzinfo=timezone.utc), rq_jobs.shout, "late", job_id="past")
        later = q.enqueue_in(timedelta(hours=1), rq_jobs.shout, "later", job_id="later")
        return (status(past), status(later), q.count, sorted(ScheduledJobRegistry(queue=q).get_job_ids()))

    step(f"{p} rq schedule", schedule)
    step(f"{p} rq scheduled work", lambda: burst([q], f"{p}-sched", r, with_scheduler=True))
    step(f"{p} rq scheduled after", lambda: (
        statuses(q, "past", "later"),
        sorted(ScheduledJobRegistry(queue=q).get_job_ids()),
        q.fetch_job("past").return_value(),
    ))


def blocking_wake(r, other, p, names):
    """A worker blocks waiting on `names` (one queue: BLMOVE, several: BLPOP); another connection
    enqueues on the last of them at least 0.3 s later, once INFO shows a blocked client. The worker
    must wake, run the job, and stop (max_jobs=1). Were it never woken it would give up after
    max_idle_time (5 s), and the step would show it."""
    from rq import Queue, SimpleWorker

    label = "-".join(names)
    job_id = f"wake-{label}"
    worker = SimpleWorker([Queue(n, connection=r) for n in names], name=f"{p}-wake-{label}", connection=r,
                          worker_ttl=20)

    blocked = []

    def enqueue_later():
        # Enqueue only once the worker is parked in its blocking pop (bounded: 3 s), so that the
        # step shows a wake-up, not a job that was already waiting when the worker looked.
        deadline = time.monotonic() + 3
        while other.info("clients")["blocked_clients"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        blocked.append(other.info("clients")["blocked_clients"])
        Queue(names[-1], connection=other).enqueue(rq_jobs.add, 20, 22, job_id=job_id)

    def run():
        timer = threading.Timer(0.3, enqueue_later)
        started = time.monotonic()
        timer.start()
        worked = worker.work(burst=False, max_jobs=1, max_idle_time=5, logging_level="WARNING")
        waited = time.monotonic() - started
        timer.join()
        job = Queue(names[-1], connection=r).fetch_job(job_id)
        return (blocked, worked, 0.25 < waited < 4, status(job), job.return_value())

    step(f"{p} rq blocking wake {label}", run)


def key_types(r):
    """RQ's keys (and the jobs' own), sorted, by type: what RQ keeps where."""
    keys = {}
    for k in sorted(r.scan_iter(match="rq:*")):
        keys.setdefault(r.type(k).decode(), []).append(k.decode())
    return keys


def main():
    import redis
    from rq import Worker

    # RQ's worker logs below ERROR to stdout unless a handler is already in place: keep the
    # transcript clean by sending every log record to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    host, port = sys.argv[1], int(sys.argv[2])
    for protocol in (2, 3):
        p = f"resp{protocol}"
        r = redis.Redis(host=host, port=port, protocol=protocol, socket_timeout=10)
        other = redis.Redis(host=host, port=port, protocol=protocol, socket_timeout=10)
        step(f"{p} flushall", lambda: r.flushall())
        basics(r, p)
        priorities(r, p)
        scheduling(r, p)
        blocking_wake(r, other, p, ["wake"])
        blocking_wake(r, other, p, ["wake-high", "wake-low"])
        step(f"{p} rq workers left", lambda: [w.name for w in Worker.all(connection=r)])
        for kind in ("string", "list", "set", "zset", "hash", "stream"):
            step(f"{p} rq keys {kind}", lambda: key_types(r).get(kind, []))
        r.close()
        other.close()


if __name__ == "__main__":
    main()
