"""Job functions for job_queues.py's RQ workers, in a module of their own so that a worker can
import them by name (RQ stores `rq_jobs.add`, not the function). They are deterministic: what a
job returns or raises depends only on its arguments and on counters kept in the server.
"""

import time

from rq import get_current_job


def add(a, b):
    return a + b


def shout(word):
    return word.upper() + "!"


def fail(message):
    raise ValueError(message)


def flaky(key, failures):
    """Fails `failures` times (counted in the server under `key`), then returns the attempt."""
    attempt = get_current_job().connection.incr(key)
    if attempt <= failures:
        raise RuntimeError(f"attempt {attempt} failed")
    return f"succeeded on attempt {attempt}"


def append(key, item):
    """Appends `item` to a list in the server: the order in which jobs ran, read back later."""
    job = get_current_job()
    job.connection.rpush(key, item)
    return item


def note_meta(progress):
    """Saves `progress` in the running job's meta and returns what it saved."""
    job = get_current_job()
    job.meta["progress"] = progress
    job.save_meta()
    return job.meta["progress"]


def nothing():
    return None


def sleepy(seconds):
    time.sleep(seconds)
    return seconds
