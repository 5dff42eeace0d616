#!/usr/bin/env bash
# Profiles a running Riptide under one loadgen scenario: `perf stat` software counters and a
# `perf record` CPU flame graph of the broker process.
#
# Usage: perf/profile.sh [--shards N] SCENARIO [loadgen flags...]
#   e.g. perf/profile.sh pubsub --size 128 --msgs 2000000
# Output: results/profile-<scenario>-<commit>/{perf-stat.txt,flame.svg,loadgen.txt}
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS=1
if [ "${1:-}" = --shards ]; then SHARDS=$2; shift 2; fi
SCEN=${1:?scenario}; shift
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 1; }
if ! command -v inferno-flamegraph >/dev/null; then cargo install -q inferno; fi
cargo build --release -q -p riptide -p loadgen --bins

OUT=results/profile-$SCEN-$(git rev-parse --short HEAD)
mkdir -p "$OUT"
. scripts/server.sh
PORT=$(free_port)
start_server "$OUT/riptide.log" taskset -c 0 target/release/riptide -a 127.0.0.1 -p "$PORT" --shards "$SHARDS"
RT=$SERVER_PID
trap 'kill $RT 2>/dev/null || true' EXIT

# Hardware counters are often missing in VMs; software events always work.
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$RT" -o "$OUT/perf-stat.txt" &
STAT=$!
perf record -F 999 -g -p "$RT" -o "$OUT/perf.data" 2>"$OUT/perf-record.log" &
REC=$!
sleep 0.3
taskset -c 1 target/release/loadgen "$SCEN" --server "nats://127.0.0.1:$PORT" --quiet "$@" | tee "$OUT/loadgen.txt"
kill -INT $STAT $REC
wait $STAT $REC 2>/dev/null || true
perf script -i "$OUT/perf.data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph >"$OUT/flame.svg"
cat "$OUT/perf-stat.txt"
echo "flame graph: $OUT/flame.svg"
