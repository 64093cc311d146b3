#!/usr/bin/env bash
# Throughput of cache-server builds that differ only in their allocator, side by side: each server
# pinned to CPU 0 (taskset), the release loadgen on CPU 1, GET/SET 10:1 over 100k keys (32 B
# values, prefilled), 50 connections, pipeline 1 and 16, ROUNDS interleaved rounds of SECS seconds;
# prints ops/s and server CPU µs/op per run (take the medians). Used to choose the allocator
# (BENCHMARKS.md, "Allocator"); compare-servers.sh is the full comparison with the peers.
#
# Usage: benches/alloc-throughput.sh NAME=BINARY [NAME=BINARY ...]
#   e.g. glibc=/tmp/cs-glibc jemalloc=target/release/cache-server mimalloc=/tmp/cs-mimalloc
# Env: ROUNDS (3), SECS (4), RATIO (SET:GET, 1:10), SIZE (value bytes, 32), LOADGEN (target/release/loadgen).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
secs=${SECS:-4}
loadgen=${LOADGEN:-target/release/loadgen}
port=16700
for round in $(seq 1 "$rounds"); do
    for spec in "$@"; do
        name=${spec%%=*}
        bin=${spec#*=}
        for pipeline in 1 16; do
            port=$((port + 1))
            taskset -c 0 "$bin" --port "$port" >/dev/null 2>&1 &
            pid=$!
            sleep 0.5
            out=$(taskset -c 1 "$loadgen" -s "127.0.0.1:$port" -c 50 --pipeline "$pipeline" -k 100000 \
                --ratio ${RATIO:-1:10} --data-size ${SIZE:-32} --prefill --duration "${secs}s" --warmup 1s --server-pid "$pid" 2>&1 | tail -2)
            kill "$pid"
            wait "$pid" 2>/dev/null || true
            ops=$(echo "$out" | awk '/^\| total/ {print $4}')
            cpu=$(echo "$out" | grep -o '= [0-9.]* µs/op' | tr -d '= µs/op')
            echo "round $round $name pipeline $pipeline: $ops ops/s, $cpu µs/op"
        done
    done
done
