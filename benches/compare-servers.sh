#!/usr/bin/env bash
# Side-by-side comparison of our cache-server with redis-server and memcached (issue #5): builds the
# release binaries, then runs `compare` (benches/src/bin/compare.rs), which pins each server to CPU 0
# and the load generator to the other CPUs, interleaves the workloads over rounds, and writes
# benches/results/servers.{json,svg,md}. Installs nothing. Pass --quick for a short smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for program in redis-server memcached taskset; do
    command -v "$program" >/dev/null || missing+=("$program")
done
if ((${#missing[@]})); then
    echo "missing: ${missing[*]}; install with: apt-get install redis-server memcached util-linux" >&2
    exit 2
fi
cargo build --release -p cache-server -p cache-bench --bin cache-server --bin loadgen --bin compare
exec "${CARGO_TARGET_DIR:-target}/release/compare" "$@"
