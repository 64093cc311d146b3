"""The Celery app and its tasks for celery_queue.py, in a module of their own so that a worker
finds them by name (a message carries `celery_tasks.add`, not the function). The broker and result
backend URLs are set by celery_queue.py before anything connects.

The tasks are deterministic: what one returns or raises depends only on its arguments and on
counters and lists kept in the server (never in this process's memory), so a worker elsewhere
would do the same.
"""

from celery import Celery

app = Celery("celery_tasks")


def server():
    """A redis-py client of the server under test: the result backend's own connection pool
    (per thread), so a task needs no address of its own."""
    return app.backend.client


@app.task
def add(a, b):
    return a + b


@app.task
def mul(a, b):
    return a * b


@app.task
def tsum(numbers):
    return sum(numbers)


@app.task
def collect(items):
    """A chord body that returns its header's results as it got them (their order included)."""
    return list(items)


@app.task
def fail(message):
    raise ValueError(message)


@app.task
def record(key, item):
    """Appends `item` to a list in the server: the order in which tasks ran, read back later."""
    server().rpush(key, item)
    return item


@app.task(ignore_result=True)
def record_quietly(key, item):
    """Like `record`, but the result backend keeps nothing of it."""
    server().rpush(key, item)
    return item


@app.task(autoretry_for=(RuntimeError,), retry_kwargs={"max_retries": 3, "countdown": 0.2}, retry_backoff=False)
def flaky(key, failures):
    """Fails `failures` times (counted in the server under `key`), then returns the attempt;
    Celery retries it on RuntimeError by itself (`autoretry_for`)."""
    attempt = server().incr(key)
    if attempt <= failures:
        raise RuntimeError(f"attempt {attempt} failed")
    return f"succeeded on attempt {attempt}"


@app.task(bind=True, max_retries=3)
def flaky_bound(self, key, failures):
    """Like `flaky`, retrying explicitly with `self.retry` and returning the retry count Celery
    kept in the message."""
    attempt = server().incr(key)
    if attempt <= failures:
        raise self.retry(exc=RuntimeError(f"attempt {attempt} failed"), countdown=0.2)
    return f"succeeded on attempt {attempt} after {self.request.retries} retries"


@app.task(bind=True, max_retries=1)
def hopeless(self, key):
    """Always fails: one retry, then the original exception is the task's failure."""
    attempt = server().incr(key)
    raise self.retry(exc=RuntimeError(f"attempt {attempt} failed"), countdown=0.1)
