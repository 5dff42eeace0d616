#!/usr/bin/env bash
# Instructions per message under valgrind --tool=callgrind: stable on a noisy machine, so
# before/after comparisons of a change are meaningful even when timings are not.
#
# The broker runs one shard under callgrind twice: once with a tiny run (start-up, connect,
# shutdown) and once with MSGS messages; the difference in instructions divided by MSGS is
# the cost of one message through parse, match, fan-out and write.
#
# Usage: perf/callgrind.sh [SCENARIO] [MSGS] [SIZE]   (default: pubsub 200000 128)
set -euo pipefail
cd "$(dirname "$0")/.."
SCEN=${1:-pubsub}
MSGS=${2:-200000}
SIZE=${3:-128}
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p riptide -p loadgen --bins
. scripts/server.sh
OUT=results/callgrind-$(git rev-parse --short HEAD)
mkdir -p "$OUT"

run() { # msgs -> prints total Ir of the broker
  local msgs=$1 port
  port=$(free_port)
  # Valgrind starts slowly; wait longer than start_server does.
  valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$SCEN.$msgs.out" \
    target/release/riptide -a 127.0.0.1 -p "$port" --shards 1 >"$OUT/riptide-$msgs.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do grep -q "Server is ready" "$OUT/riptide-$msgs.log" && break; sleep 0.1; done
  if ! grep -q "Server is ready" "$OUT/riptide-$msgs.log"; then
    # Seen with valgrind 3.19 (Debian 12): the shard threads never come up under it, and the
    # process ignores SIGINT, so give up instead of hanging.
    kill -9 "$pid" 2>/dev/null
    echo "riptide did not start under $(valgrind --version): this valgrind cannot run its io_uring reactor" >&2
    exit 1
  fi
  target/release/loadgen "$SCEN" --server "nats://127.0.0.1:$port" --msgs "$msgs" --size "$SIZE" --quiet \
    >"$OUT/loadgen-$msgs.txt" 2>&1
  kill -INT $pid
  wait $pid || true
  callgrind_annotate "$OUT/callgrind.$SCEN.$msgs.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1; exit}'
}
BASE=$(run 1)
LOAD=$(run "$MSGS")
python3 - "$BASE" "$LOAD" "$MSGS" "$SCEN" "$SIZE" <<'PY' | tee "$OUT/summary.txt"
import sys
base, load, msgs, scen, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"{scen} {size}B: {(load - base) / msgs:.0f} instructions per published message "
      f"({load:,} total, {base:,} baseline, {msgs:,} messages)")
PY
echo "annotate: callgrind_annotate $OUT/callgrind.$SCEN.$MSGS.out"
