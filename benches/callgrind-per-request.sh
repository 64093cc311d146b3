#!/usr/bin/env bash
# Instructions per request of a server binary on the hot path, counted by callgrind (repeatable on a
# busy machine, unlike ops/s). Runs the server under valgrind twice per workload, sending SMALL and
# then LARGE requests with the load generator (pipeline 16, 100k keys), and prints
# (instructions(LARGE) - instructions(SMALL)) / (LARGE - SMALL): start-up, prefill and shutdown cancel.
#
# usage: benches/callgrind-per-request.sh [SERVER_BINARY] [LOADGEN_BINARY]
#   defaults: target/release/cache-server, target/release/loadgen (cargo build --release first)
#   SERVER_ARGS: extra server flags (an A/B of one binary: `SERVER_ARGS="--latency-tracking no"`)
#   ATTACH: redis-cli arguments of a client kept attached during the load, whose work then counts
#           too (`ATTACH=monitor`, `ATTACH="psubscribe __key*__:*"` with keyspace events on)
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-target/release/cache-server}
loadgen=${2:-target/release/loadgen}
small=${SMALL:-50000}
large=${LARGE:-250000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# instructions <ratio> <requests> <prefill: yes|no>
instructions() {
  local ratio=$1 requests=$2 prefill=$3 port out
  port=$(free_port)
  out="$work/cg.$ratio.$requests"
  # shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
  valgrind --tool=callgrind --callgrind-out-file="$out" "$server" --port "$port" ${SERVER_ARGS:-} >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do
    if (echo PING >/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  local attached=
  if [ -n "${ATTACH:-}" ]; then
    # shellcheck disable=SC2086 # ATTACH is a redis-cli argument list
    redis-cli -p "$port" $ATTACH >/dev/null &
    attached=$!
  fi
  local args=(-s "127.0.0.1:$port" -c 50 --pipeline 16 -k 100000 -r "$ratio" -n "$requests" --warmup 0s --duration 600s)
  if [ "$prefill" = yes ]; then args+=(--prefill); fi
  "$loadgen" "${args[@]}" >/dev/null
  if [ -n "$attached" ]; then kill "$attached"; fi
  kill -INT "$pid"
  wait "$pid" || true
  grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
}

for w in "SET 1:0 no" "GET 0:1 yes"; do
  set -- $w
  a=$(instructions "$2" "$small" "$3")
  b=$(instructions "$2" "$large" "$3")
  echo "$1: $(( (b - a) / (large - small) )) instructions per request"
done
