#!/usr/bin/env bash
# Throughput across one route: a publisher on one server, a subscriber on the other, for
# the four pairings R->R, R->G, G->R and G->G (R = Riptide, G = the Go nats-server), at
# 128 B and 16 KiB, in one run.
#
# Three two-node clusters run side by side: Go+Go, Riptide+Riptide and Riptide+Go. Every
# server is pinned to CPU 0 (Go with GOMAXPROCS=1, Riptide with --shards 1), loadgen and
# the CPU samplers to the other CPUs, as perf/compare.sh pins its pair. Each case runs
# loadgen pubsub with --sub-server, REPS times, pairings interleaved (the order rotates
# per repetition), and records the rate and the CPU time both servers of the pair spent
# over the measured phase (perf/cpu_sampler.py): msgs per server CPU second is the per-core
# figure the goals name (R->R >= 2x G->G per core; mixed pairs no slower than G->G).
#
# Usage: perf/route_compare.sh [--reps N] [--quick] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=3
QUICK=0
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

. scripts/server.sh
ensure_go_server
cargo build --release -q -p riptide -p loadgen --bins

NCPU=$(nproc)
SERVER_CPU=0
LOADGEN_CPUS=1-$((NCPU - 1))
[ "$NCPU" -le 1 ] && LOADGEN_CPUS=0
COMMIT=$(git rev-parse --short HEAD)
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
OUT=${OUT:-results/$STAMP-$COMMIT-routes}
mkdir -p "$OUT/raw"

SMALL_MSGS=2000000
LARGE_MSGS=200000
if [ "$QUICK" = 1 ]; then SMALL_MSGS=300000; LARGE_MSGS=30000; fi

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
declare -A PORT PID

# start NAME KIND [ROUTE_TO_NAME]: a server of KIND (go|riptide) on CPU 0 with a route
# listener, soliciting ROUTE_TO_NAME's route port when given.
start() {
  local name=$1 kind=$2 to=${3:-} port rport routes=()
  port=$(free_port)
  rport=$(free_port)
  PORT[$name]=$port
  PORT[$name-route]=$rport
  [ -n "$to" ] && routes=(--routes "nats-route://127.0.0.1:${PORT[$to-route]}")
  if [ "$kind" = go ]; then
    start_server "$OUT/$name.log" env GOMAXPROCS=1 taskset -c "$SERVER_CPU" .venv/bin/nats-server \
      -a 127.0.0.1 -p "$port" --cluster "nats://127.0.0.1:$rport" --cluster_name "bench-${name%?}" "${routes[@]}"
  else
    start_server "$OUT/$name.log" taskset -c "$SERVER_CPU" target/release/riptide --shards 1 \
      -a 127.0.0.1 -p "$port" --cluster "nats://127.0.0.1:$rport" --cluster_name "bench-${name%?}" "${routes[@]}"
  fi
  PID[$name]=$SERVER_PID
  PIDS+=("$SERVER_PID")
}

# Cluster names: gg1+gg2, rr1+rr2, rg1 (Riptide)+rg2 (Go).
start gg1 go
start gg2 go gg1
start rr1 riptide
start rr2 riptide rr1
start rg1 riptide
start rg2 go rg1
sleep 2

# pairing -> "publisher's server subscriber's server"
declare -A PAIR=([G-G]="gg1 gg2" [R-R]="rr1 rr2" [R-G]="rg1 rg2" [G-R]="rg2 rg1")
PAIRINGS="G-G R-R R-G G-R"

run_case() { # pairing size rep
  local pairing=$1 size=$2 rep=$3 from to tag msgs s1 s2
  read -r from to <<<"${PAIR[$pairing]}"
  tag=$pairing-$size-r$rep
  msgs=$SMALL_MSGS
  [ "$size" -gt 1024 ] && msgs=$LARGE_MSGS
  taskset -c "$LOADGEN_CPUS" python3 perf/cpu_sampler.py record "${PID[$from]}" "$OUT/raw/$tag.from.cpu" &
  s1=$!
  taskset -c "$LOADGEN_CPUS" python3 perf/cpu_sampler.py record "${PID[$to]}" "$OUT/raw/$tag.to.cpu" &
  s2=$!
  taskset -c "$LOADGEN_CPUS" target/release/loadgen pubsub --server "nats://127.0.0.1:${PORT[$from]}" \
    --sub-server "nats://127.0.0.1:${PORT[$to]}" --size "$size" --msgs "$msgs" \
    --quiet --json "$OUT/raw/$tag.json" >"$OUT/raw/$tag.txt" 2>&1 || echo "  $tag: loadgen failed"
  kill "$s1" "$s2"
  wait "$s1" "$s2" 2>/dev/null || true
  if [ -s "$OUT/raw/$tag.json" ]; then
    python3 perf/cpu_sampler.py window "$OUT/raw/$tag.from.cpu" "$OUT/raw/$tag.json" >"$OUT/raw/$tag.from.cpu_s"
    python3 perf/cpu_sampler.py window "$OUT/raw/$tag.to.cpu" "$OUT/raw/$tag.json" >"$OUT/raw/$tag.to.cpu_s"
  fi
  rm -f "$OUT/raw/$tag.from.cpu" "$OUT/raw/$tag.to.cpu"
  echo "  $tag: done"
}

for rep in $(seq 1 "$REPS"); do
  echo "repetition $rep/$REPS"
  # Rotate the order of the pairings each repetition, so none always runs first.
  set -- $PAIRINGS
  for _ in $(seq 2 "$rep"); do set -- "${@:2}" "$1"; done
  for size in 128 16384; do
    for pairing in "$@"; do run_case "$pairing" "$size" "$rep"; done
  done
done

cat >"$OUT/meta.json" <<META
{
  "command": "perf/route_compare.sh --reps $REPS$([ "$QUICK" = 1 ] && echo ' --quick')",
$(machine_facts "$STAMP" "$NCPU")
  "pinning": "all six servers on CPU $SERVER_CPU (Go with GOMAXPROCS=1, Riptide with --shards 1), loadgen and samplers on CPUs $LOADGEN_CPUS",
  "reps": $REPS
}
META
python3 perf/route_summary.py "$OUT" | tee "$OUT/summary.md"
echo "results in $OUT"
