#!/usr/bin/env bash
# What polling the monitoring port costs the message path, for Riptide and the Go server
# side by side in one run. Each server is pinned to core 0 (one shard / GOMAXPROCS=1) with
# its monitor on; loadgen (pubsub, 128 B, closed loop) on the other core(s). Each repetition
# runs both servers with and without a poller that fetches /varz, /connz?subs=1 and /subsz
# (plus /metrics for Riptide) every 100 ms, in alternating order, 3 s per run.
#
# Usage: perf/monitor_overhead.sh [--reps N] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=3
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
. scripts/server.sh
ensure_go_server
cargo build --release -q -p riptide -p loadgen --bins
COMMIT=$(git rev-parse --short HEAD)
OUT=${OUT:-results/monitor-overhead-$COMMIT}
mkdir -p "$OUT/raw"
NCPU=$(nproc)
LOADGEN_CPUS=1-$((NCPU - 1))
[ "$NCPU" -lt 2 ] && LOADGEN_CPUS=0

GO_PORT=$(free_port); GO_HTTP=$(free_port); RT_PORT=$(free_port); RT_HTTP=$(free_port)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start_server "$OUT/go-server.log" env GOMAXPROCS=1 taskset -c 0 .venv/bin/nats-server -a 127.0.0.1 -p "$GO_PORT" -m "$GO_HTTP"
PIDS+=("$SERVER_PID")
start_server "$OUT/riptide-server.log" taskset -c 0 target/release/riptide -a 127.0.0.1 -p "$RT_PORT" -m "$RT_HTTP" --shards 1
PIDS+=("$SERVER_PID")

# One light process (no curl per request) so the poller takes little of loadgen's core.
POLLER='import sys, time, urllib.request
port, paths = sys.argv[1], sys.argv[2:]
while True:
    for p in paths:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/{p}").read()
    time.sleep(0.1)'

run() { # NAME PORT HTTP POLL(0|1) REP
  local name=$1 port=$2 http=$3 poll=$4 rep=$5 ppid=""
  if [ "$poll" = 1 ]; then
    local paths="varz connz?subs=1 subsz"
    [ "$name" = riptide ] && paths="$paths metrics"
    # shellcheck disable=SC2086
    taskset -c "$LOADGEN_CPUS" python3 -c "$POLLER" "$http" $paths &
    ppid=$!
  fi
  taskset -c "$LOADGEN_CPUS" target/release/loadgen pubsub --server "127.0.0.1:$port" \
    --pubs 1 --subs 1 --size 128 --duration 3s --quiet \
    --json "$OUT/raw/$name-poll$poll-rep$rep.json" >/dev/null
  if [ -n "$ppid" ]; then
    kill "$ppid"
    wait "$ppid" 2>/dev/null || true
  fi
}

for rep in $(seq "$REPS"); do
  for poll in 0 1; do
    alternate "$rep" "run riptide $RT_PORT $RT_HTTP $poll $rep" "run go $GO_PORT $GO_HTTP $poll $rep"
  done
done

python3 - "$OUT" "$REPS" <<'PY'
import json, statistics, sys, pathlib
out, reps = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def rate(name, poll, rep):
    d = json.loads((out / "raw" / f"{name}-poll{poll}-rep{rep}.json").read_text())
    return d["sub_msgs_per_s"]
lines = ["| server | delivered msgs/s, no poller (median) | msgs/s, polled at 10 Hz (median) | polled / not polled (median of per-rep ratios) |", "| --- | --- | --- | --- |"]
for name in ["riptide", "go"]:
    a = [rate(name, 0, r) for r in range(1, reps + 1)]
    b = [rate(name, 1, r) for r in range(1, reps + 1)]
    ratio = statistics.median(y / x for x, y in zip(a, b))
    lines.append(f"| {name} | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} | {ratio:.3f} |")
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
