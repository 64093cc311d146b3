"""A redis-py RedisCluster client that keeps writing and reading while the cluster reshards.

Usage: cluster_reshard.py PORT STOP_FILE MAX_SECONDS

Half of its keys carry hash tags whose slots are the first ones of each primary's range (the
ones `redis-cli --cluster reshard --cluster-from all` moves first), so that writes land on slots
being migrated. Every write is read back at once; at the end every key must hold the last value
written. Prints one line of JSON; exits 1 if any error surfaced or any key was lost.

redis-py 6.4 cannot follow an ASK to a node missing from its topology cache: its
`get_node(node_name=...)` returns None and the command fails with an AttributeError before anything
is sent (redis/redis-py#2432). The node added just before the reshard is such a node until the
client's first MOVED refreshes the cache, against redis-server as against us. The client here
refreshes its topology and sends the command again in that one case, and reports how often it did
(`unknown_ask_target`); every other exception counts as an error.
"""

import json
import os
import random
import sys
import time

from redis.cluster import RedisCluster
from redis.crc import key_slot


def tags_in(slots, wanted):
    """`wanted` hash tags whose slots are in `slots`."""
    found, i = [], 0
    while len(found) < wanted:
        tag = f"t{i}"
        if key_slot(tag.encode()) in slots:
            found.append(tag)
        i += 1
    return found


REDIS_PY_UNKNOWN_ASK_TARGET = "'NoneType' object has no attribute 'redis_connection'"


def call(rc, counts, fn, *args):
    """`fn(*args)`, sent again after a topology refresh if redis-py could not reach an ASK target."""
    try:
        return fn(*args)
    except AttributeError as e:
        if REDIS_PY_UNKNOWN_ASK_TARGET not in str(e):
            raise
        counts["unknown_ask_target"] += 1
        rc.nodes_manager.initialize()
        return fn(*args)


def main():
    port, stop_file, max_seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    rc = RedisCluster(host="127.0.0.1", port=port, decode_responses=True)
    moving = set(range(0, 40)) | set(range(5461, 5501)) | set(range(10923, 10963))
    keys = [f"k:{i}" for i in range(400)]
    keys += [f"{{{tag}}}:{j}" for tag in tags_in(moving, 40) for j in range(5)]
    expected, errors, mismatches, ops = {}, [], 0, 0
    counts = {"unknown_ask_target": 0}
    rng = random.Random(7)
    for k in keys:
        rc.set(k, "0")
        expected[k] = "0"
    started = time.monotonic()
    while not os.path.exists(stop_file) and time.monotonic() - started < max_seconds:
        k = rng.choice(keys)
        value = str(ops)
        try:
            call(rc, counts, rc.set, k, value)
            expected[k] = value
            if call(rc, counts, rc.get, k) != value:
                mismatches += 1
        except Exception as e:  # noqa: BLE001 - every error that surfaces counts
            errors.append(f"{type(e).__name__}: {e}")
        ops += 1
    lost = [k for k in keys if rc.get(k) != expected[k]]
    print(json.dumps({"ops": ops, "keys": len(keys), "errors": errors[:10], "error_count": len(errors),
                      "mismatches": mismatches, "lost": lost[:10], "lost_count": len(lost), **counts}))
    sys.exit(1 if errors or mismatches or lost else 0)


if __name__ == "__main__":
    main()
