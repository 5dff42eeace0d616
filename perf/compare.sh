#!/usr/bin/env bash
# Riptide vs the Go nats-server, side by side in one run.
#
# Both servers run at once on loopback, pinned to the same core (GOMAXPROCS=1 for Go,
# --shards 1 for Riptide); loadgen is pinned to the other core(s). With --shards N both get
# cores 0..N-1 (GOMAXPROCS=N, --shards N) and loadgen the rest, or all of them when none is
# left; that is how cross-shard costs show (the `flush` scenario's fences). The scenario matrix runs
# against both servers interleaved (which server goes first alternates per repetition), REPS
# times, and the summary reports medians and Riptide/Go ratios. Everything lands in
# results/<date>-<commit>/ with the raw JSON, .hgrm files and the machine facts.
#
# Usage: perf/compare.sh [--reps N] [--quick] [--shards N] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

REPS=3
QUICK=0
SHARDS=1
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --shards) SHARDS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

. scripts/server.sh
ensure_go_server
cargo build --release -q -p riptide -p loadgen --bins

NCPU=$(nproc)
SERVER_CPU=0-$((SHARDS - 1))
LOADGEN_CPUS=$SHARDS-$((NCPU - 1))
[ "$NCPU" -le "$SHARDS" ] && LOADGEN_CPUS=0-$((NCPU - 1))
COMMIT=$(git rev-parse --short HEAD)
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
OUT=${OUT:-results/$STAMP-$COMMIT}
mkdir -p "$OUT/raw"


start_pair "$OUT" "$SERVER_CPU" "$SHARDS"

# scenario | loadgen flags. Counts shrink with size so each run takes a few seconds.
msgs_for() { case "$1" in 16|128) echo 1000000 ;; 1024) echo 400000 ;; *) echo 60000 ;; esac; }
SIZES="16 128 1024 16384"
SCENARIOS="pub pubsub fanout fanin queue flush"
if [ "$QUICK" = 1 ]; then SIZES="16 128"; SCENARIOS="pub pubsub fanout flush"; fi
# flush: fanout whose publisher waits for a PONG every 100 messages, as a client calling
# flush(); with several shards each PONG waits for a fence to the subscribers' shards.
FLUSH_EVERY=100
loadgen_scenario() { case "$1" in flush) echo fanout ;; *) echo "$1" ;; esac; }
flags_for() { # scenario
  case "$1" in
    flush) echo "--subs 4 --flush $FLUSH_EVERY" ;;
    pub) echo "--pubs 1" ;;
    pubsub) echo "--pubs 1 --subs 1" ;;
    fanout) echo "--subs 4" ;;
    fanin) echo "--pubs 4" ;;
    queue) echo "--subs 4" ;;
  esac
}
# Request/reply latency: open loop at a fixed offered rate, coordinated-omission corrected.
# 5,000/s keeps the loadgen's own core at about a third busy; at 20,000/s it was 80% busy
# and the tail latencies measured its queueing more than the servers'.
REQREP_RATE=${REQREP_RATE:-5000}
REQREP_DURATION=${REQREP_DURATION:-5s}
[ "$QUICK" = 1 ] && REQREP_DURATION=2s

# A run that fails (e.g. a server cut a client off) is recorded, not fatal: its JSON still
# counts what was lost, and the summary shows it.
failed() { echo "  $1: loadgen failed, see raw/$1.txt"; echo "$1" >>"$OUT/failed.txt"; }

run_one() { # server-name port scenario size rep
  local name=$1 port=$2 scen=$3 size=$4 rep=$5 tag
  tag="$scen-$size-$name-r$rep"
  if [ "$scen" = reqrep ]; then
    taskset -c "$LOADGEN_CPUS" target/release/loadgen reqrep --server "nats://127.0.0.1:$port" \
      --size "$size" --clients 4 --responders 2 --rate "$REQREP_RATE" --duration "$REQREP_DURATION" \
      --quiet --json "$OUT/raw/$tag.json" --hgrm "$OUT/raw/$tag.hgrm" >"$OUT/raw/$tag.txt" 2>&1 \
      || failed "$tag"
  else
    # shellcheck disable=SC2046
    taskset -c "$LOADGEN_CPUS" target/release/loadgen "$(loadgen_scenario "$scen")" --server "nats://127.0.0.1:$port" \
      --size "$size" --msgs "$(msgs_for "$size")" $(flags_for "$scen") \
      --quiet --json "$OUT/raw/$tag.json" >"$OUT/raw/$tag.txt" 2>&1 \
      || failed "$tag"
  fi
  echo "  $tag: done"
}

for rep in $(seq 1 "$REPS"); do
  echo "repetition $rep/$REPS"
  for scen in $SCENARIOS reqrep; do
    sizes=$SIZES
    [ "$scen" = reqrep ] && sizes=128
    for size in $sizes; do
      alternate "$rep" "run_one go $GO_PORT $scen $size $rep" "run_one riptide $RT_PORT $scen $size $rep"
    done
  done
done

echo "memory"
python3 perf/memory.py --go-pid "$GO_PID" --go-port "$GO_PORT" --riptide-pid "$RT_PID" \
  --riptide-port "$RT_PORT" --json "$OUT/memory.json"

cat >"$OUT/meta.json" <<META
{
  "command": "perf/compare.sh --reps $REPS$([ "$QUICK" = 1 ] && echo ' --quick') --shards $SHARDS",
$(machine_facts "$STAMP" "$NCPU")
  "pinning": "servers on CPUs $SERVER_CPU (Go with GOMAXPROCS=$SHARDS, Riptide with --shards $SHARDS), loadgen on CPUs $LOADGEN_CPUS",
  "reps": $REPS
}
META
python3 perf/summarize.py "$OUT" | tee "$OUT/summary.md"
echo "results in $OUT"
