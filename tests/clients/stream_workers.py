"""walrus consumer groups as a real stream worker pool on a server: what its users do, end to end.

- a group over two streams created by walrus (which makes each stream with XADD 0-1 + XDEL), jobs
  added with fixed ids, two workers reading their share with XREADGROUP `>` and COUNT and
  acknowledging with XACK;
- a worker that "crashes" (reads, never acks): its jobs show in XPENDING (summary and per
  consumer), a second worker takes them over with XCLAIM and with XAUTOCLAIM (cursor and all),
  processes and acks them; a pending job whose entry was deleted meanwhile is dropped by
  XAUTOCLAIM (7.0's third reply element);
- re-reading a consumer's own history (XREADGROUP with an id), SETID to replay, the group and
  consumer introspection a dashboard shows (XINFO GROUPS / CONSUMERS / STREAM, without times),
  DELCONSUMER, DESTROY, and the errors a worker meets (NOGROUP, BUSYGROUP);
- a worker blocked in XREADGROUP BLOCK while another thread adds a job after 0.3 s: it wakes with
  the job.

Prints one line per step: `<step> <repr(result or exception)>`, for RESP2 then RESP3.
tests/tests/stream_workers.rs runs this against two servers and compares the transcripts line by
line, so the script asserts nothing itself. Nothing time-dependent is printed: ids are explicit,
idle times and delivery times are left out. Every wait is bounded (the blocked read gives up after
5 s).

usage: stream_workers.py HOST PORT
"""

import sys
import threading
import time

from python_clients import step  # the same transcript line format


def plain(x):
    """A reply with RESP2/RESP3 container differences folded (dicts sorted, tuples as lists)."""
    if isinstance(x, dict):
        return sorted((plain(k), plain(v)) for k, v in x.items())
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


def without(d, *fields):
    return {k: v for k, v in d.items() if k not in fields}


def session(host, port, protocol):
    from walrus import Database

    db = Database(host=host, port=port, protocol=protocol, socket_timeout=10)
    p = f"resp{protocol}"
    step(f"{p} flushall", lambda: db.flushall())

    cg = db.consumer_group("workers", ["orders", "mails"], consumer="w1")
    step(f"{p} create", lambda: plain(cg.create()))
    step(f"{p} create again", lambda: plain(cg.create()))
    step(f"{p} stream after create", lambda: plain(without(cg.orders.info(), "radix-tree-keys", "radix-tree-nodes")))
    for i in range(1, 7):
        step(f"{p} add order {i}", lambda i=i: cg.orders.add({"order": str(i), "qty": str(i * 2)}, id=f"{i}-0"))
    for i in range(1, 4):
        step(f"{p} add mail {i}", lambda i=i: cg.mails.add({"to": f"user{i}"}, id=f"{i}-1"))

    # Two workers share the work.
    w1, w2 = cg, cg.consumer("w2")
    step(f"{p} w1 reads 2 per stream", lambda: plain(w1.read(count=2)))
    step(f"{p} w2 reads 2 per stream", lambda: plain(w2.read(count=2)))
    step(f"{p} w1 acks", lambda: (w1.orders.ack("1-0", "2-0"), w1.mails.ack("1-1", "2-1", "9-9")))
    step(f"{p} pending summary", lambda: plain(w1.orders.pending_info() if hasattr(w1.orders, "pending_info") else db.xpending("orders", "workers")))
    step(
        f"{p} pending of w2",
        lambda: [(m["message_id"], m["consumer"], m["times_delivered"]) for m in w2.orders.pending(consumer="w2")],
    )

    # w2 "crashes" holding its jobs; w1 takes some with XCLAIM, the rest with XAUTOCLAIM.
    step(f"{p} w1 claims 3-0", lambda: plain(w1.orders.claim("3-0")))
    step(f"{p} claim too fresh", lambda: plain(w1.orders.claim("4-0", min_idle_time=3600000)))
    step(f"{p} delete a pending mail", lambda: db.xdel("mails", "3-1"))
    step(f"{p} w1 autoclaims orders", lambda: plain(w1.orders.autoclaim("w1", 0, count=10)))
    step(f"{p} w1 autoclaims mails", lambda: plain(w1.mails.autoclaim("w1", 0, start_id="0-0")))
    step(
        f"{p} pending after claims",
        lambda: [(m["message_id"], m["consumer"], m["times_delivered"]) for m in w1.orders.pending()],
    )
    step(f"{p} w1 history", lambda: plain(db.xreadgroup("workers", "w1", {"orders": "0"})))
    step(f"{p} w1 acks the rest", lambda: w1.orders.ack("3-0", "4-0"))
    step(f"{p} w1 reads the rest", lambda: plain(w1.read()))
    step(f"{p} nothing new", lambda: plain(w1.read(count=5)))
    step(f"{p} w1 acks all", lambda: w1.orders.ack("5-0", "6-0"))

    # What a dashboard shows (no times).
    step(
        f"{p} groups info",
        lambda: [plain(without(g, "idle")) for g in w1.orders.groups_info()],
    )
    step(
        f"{p} consumers info",
        lambda: [(c["name"], c["pending"]) for c in w1.orders.consumers_info()],
    )
    step(
        f"{p} stream info",
        lambda: plain(without(w1.orders.info(), "radix-tree-keys", "radix-tree-nodes")),
    )

    # Replay from the start, then clean up a consumer and the group.
    step(f"{p} set id 0", lambda: plain(cg.set_id("0")))
    step(f"{p} replay 3", lambda: plain(db.xreadgroup("workers", "w2", {"orders": ">"}, count=3)))
    step(f"{p} del consumer w2", lambda: w1.orders.delete_consumer("w2"))
    step(f"{p} create consumer", lambda: db.xgroup_createconsumer("orders", "workers", "w3"))
    step(f"{p} busygroup", lambda: db.xgroup_create("orders", "workers", id="$"))
    step(f"{p} nogroup", lambda: db.xreadgroup("nope", "w1", {"orders": ">"}))

    # A worker parked in XREADGROUP BLOCK wakes when a job arrives.
    step(f"{p} set id $", lambda: plain(cg.set_id("$")))

    def later():
        time.sleep(0.3)
        Database(host=host, port=port, protocol=protocol).xadd("orders", {"order": "late"}, id="100-0")

    t = threading.Thread(target=later)
    t.start()
    started = time.monotonic()
    step(
        f"{p} blocked worker wakes",
        lambda: plain(db.xreadgroup("workers", "w1", {"orders": ">"}, count=1, block=5000)),
    )
    t.join()
    step(f"{p} woke in time", lambda: time.monotonic() - started < 4)
    step(f"{p} destroy", lambda: plain(cg.destroy()))
    step(f"{p} groups after destroy", lambda: plain(db.xinfo_groups("orders")))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    for protocol in (2, 3):
        session(host, port, protocol)


if __name__ == "__main__":
    main()
