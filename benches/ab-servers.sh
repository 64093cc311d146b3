#!/usr/bin/env bash
# Interleaved A/B throughput of two (or more) server binaries speaking RESP: each run pins the
# server to CPU 0 and the load generator to CPU 1, prefills 100k keys, then measures GET and SET at
# pipeline 1 and 16 (50 connections, 5 s after a 1 s warm-up). Prints one line per run and, at the
# end, the median ops/s of each binary per workload. Rounds alternate the binaries so that the
# machine's drift hits both alike.
#
# usage: ROUNDS=3 benches/ab-servers.sh BINARY_A BINARY_B [...]   (loadgen: target/release/loadgen)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
loadgen=${LOADGEN:-target/release/loadgen}
bins=("$@")
port=$((20000 + RANDOM % 20000))
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  for bin in "${bins[@]}"; do
    port=$((port + 1))
    taskset -c 0 "$bin" --port "$port" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do (echo PING >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
    taskset -c 1 "$loadgen" -s "127.0.0.1:$port" -k 100000 --prefill-only >/dev/null
    for w in "GET 0:1 1" "GET 0:1 16" "SET 1:0 1" "SET 1:0 16"; do
      read -r name ratio depth <<<"$w"
      n=$(taskset -c 1 "$loadgen" -s "127.0.0.1:$port" -c 50 -k 100000 -r "$ratio" --pipeline "$depth" \
        --duration 5s --warmup 1s 2>/dev/null | grep -oE '^[0-9]+ requests in' | grep -oE '^[0-9]+')
      echo "round $r | $bin | $name p$depth | $((n / 5)) ops/s" | tee -a "$out"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  done
done
echo
for bin in "${bins[@]}"; do
  for w in "GET p1" "GET p16" "SET p1" "SET p16"; do
    median=$(grep -F "| $bin | $w |" "$out" | awk '{print $(NF-1)}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    echo "median | $bin | $w | $median ops/s"
  done
done
