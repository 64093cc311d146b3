#!/usr/bin/env bash
# Cluster benchmark (issue 13): builds the release server and loadgen, then runs
# benches/cluster_bench.py, which starts clusters of 1, 2 and 3 primaries of our server and of
# redis-server (cluster-enabled, config files on /dev/shm), drives GET and SET through
# `loadgen --cluster`, measures gossip bytes per bus message and MIGRATE speed, and prints
# Markdown tables, then times a full `--cluster rebalance` onto an empty fourth primary of each
# kind. Bounded: about 3 minutes (`--quick`: about 2), `timeout 600` overall. Installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
for program in redis-server python3; do
    command -v "$program" >/dev/null || { echo "missing: $program" >&2; exit 2; }
done
cargo build --release -p cache-server -p cache-bench --bin cache-server --bin loadgen
exec timeout 600 python3 benches/cluster_bench.py "$@"
