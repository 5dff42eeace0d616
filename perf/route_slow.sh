#!/usr/bin/env bash
# Memory with a slow subscriber across a route: a publisher on one server at full speed,
# a healthy subscriber (loadgen) and a subscriber that hardly reads on the other server,
# for the pairings G->G, R->R, R->G and G->R (publisher's server -> subscribers' server;
# R = Riptide, G = the Go nats-server), in one run. perf/route_slow_probe.py samples both
# servers' VmRSS every 100 ms and reports when the slow subscriber was cut off; bounded
# memory means the subscribers' server stays near its start plus max_pending (64 MB, the
# Go default, on both) and the publisher's server near its start.
#
# Usage: perf/route_slow.sh [--seconds N] [--size BYTES] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_RUN=15
SIZE=1024
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_RUN="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

. scripts/server.sh
ensure_go_server
cargo build --release -q -p riptide -p loadgen --bins

NCPU=$(nproc)
COMMIT=$(git rev-parse --short HEAD)
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
OUT=${OUT:-results/$STAMP-$COMMIT-route-slow}
mkdir -p "$OUT/raw"

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
declare -A PORT PID

# start NAME KIND [ROUTE_TO_NAME], as perf/route_compare.sh starts its servers (unpinned).
start() {
  local name=$1 kind=$2 to=${3:-} port rport routes=() bin=target/release/riptide
  port=$(free_port)
  rport=$(free_port)
  PORT[$name]=$port
  PORT[$name-route]=$rport
  [ -n "$to" ] && routes=(--routes "nats-route://127.0.0.1:${PORT[$to-route]}")
  [ "$kind" = go ] && bin=.venv/bin/nats-server
  start_server "$OUT/$name.log" "$bin" -a 127.0.0.1 -p "$port" \
    --cluster "nats://127.0.0.1:$rport" --cluster_name "slow-${name%?}" "${routes[@]}"
  PID[$name]=$SERVER_PID
  PIDS+=("$SERVER_PID")
}

run_case() { # pairing: "FROM TO" names
  local pairing=$1 from=$2 to=$3 probe
  sleep 2
  python3 perf/route_slow_probe.py "${PORT[$to]}" "${PID[$from]}" "${PID[$to]}" \
    "$((SECONDS_RUN + 5))" "slow.>" >"$OUT/raw/$pairing.probe.json" &
  probe=$!
  sleep 1
  target/release/loadgen pubsub --server "nats://127.0.0.1:${PORT[$from]}" \
    --sub-server "nats://127.0.0.1:${PORT[$to]}" --subject slow.x --size "$SIZE" \
    --duration "${SECONDS_RUN}s" --quiet --json "$OUT/raw/$pairing.json" \
    >"$OUT/raw/$pairing.txt" 2>&1 || echo "  $pairing: loadgen failed"
  wait "$probe"
  echo "  $pairing: $(cat "$OUT/raw/$pairing.probe.json")"
}

# Each pairing gets its own fresh pair, so one run's memory does not carry into the next.
for pairing in G-G R-R R-G G-R; do
  a=${pairing%-*}; b=${pairing#*-}
  kind() { [ "$1" = G ] && echo go || echo riptide; }
  start "p${pairing}1" "$(kind "$a")"
  start "p${pairing}2" "$(kind "$b")" "p${pairing}1"
  run_case "$pairing" "p${pairing}1" "p${pairing}2"
  kill "${PID[p${pairing}1]}" "${PID[p${pairing}2]}" 2>/dev/null || true
  wait "${PID[p${pairing}1]}" "${PID[p${pairing}2]}" 2>/dev/null || true
done

cat >"$OUT/meta.json" <<META
{
  "command": "perf/route_slow.sh --seconds $SECONDS_RUN --size $SIZE",
$(machine_facts "$STAMP" "$NCPU")
  "setup": "per pairing a fresh two-node cluster, unpinned; loadgen pubsub (publisher on the first server, subscriber on the second) for ${SECONDS_RUN}s at $SIZE B, and a subscriber on slow.> on the second server with a 4 KiB receive buffer reading 1 KiB every 0.5 s; max_pending 64 MB (default) on both"
}
META
python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print("| pairing | rate (msgs/s) | lost | pub server RSS start / peak / end (MiB) | sub server RSS start / peak / end (MiB) | slow consumers cut (sub server) | route closed |")
print("| --- | ---: | ---: | --- | --- | --- | --- |")
for p in ["G-G", "R-R", "R-G", "G-R"]:
    probe = json.loads((out / "raw" / f"{p}.probe.json").read_text())
    try:
        lg = json.loads((out / "raw" / f"{p}.json").read_text())
    except (OSError, ValueError):
        lg = {}
    rate = lg.get("sub_msgs_per_s")
    rate = f"{rate:,.0f}" if rate is not None else None
    lost = lg.get("lost")
    mib = lambda k, w: f"{probe[w][k] / 1024:.0f}"
    pub = " / ".join(mib("pub_kib", w) for w in ("start", "peak", "last"))
    sub = " / ".join(mib("sub_kib", w) for w in ("start", "peak", "last"))
    logs = [(out / f"p{p}{i}.log").read_text(errors="replace") for i in (1, 2)]
    cut = sum(1 for l in logs[1].splitlines() if "cid:" in l and "Slow Consumer Detected: MaxPending" in l)
    closed = "yes" if any("Router connection closed: Slow Consumer" in l for l in logs) else "no"
    print(f"| {p.replace('-', '->')} | {rate if rate is not None else '?'} | {lost if lost is not None else '?'} | {pub} | {sub} | {cut} | {closed} |")
PY
echo "results in $OUT"
