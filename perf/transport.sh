#!/usr/bin/env bash
# What TLS and WebSocket cost, Riptide vs the Go nats-server, side by side in one run.
#
# Each server runs twice from the same config syntax: once with a plain client port and a
# `websocket { no_tls: true }` port (tcp, ws), once with `tls {}` on the client port and a
# TLS WebSocket port (tls, wss); certificates are made here with openssl. Servers are pinned
# to CPU 0 (Go with GOMAXPROCS=1, Riptide with shards: 1), loadgen to the other CPU(s). Per
# transport, `loadgen pubsub` runs against both servers, alternating which goes first, REPS
# times; the summary gives median delivered msgs/s and the Riptide/Go ratio, plus each
# transport's rate relative to plain TCP on the same server.
#
# Usage: perf/transport.sh [--reps N] [--size BYTES] [--msgs N] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=3
SIZE=128
MSGS=300000
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;;
    --msgs) MSGS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

. scripts/server.sh
ensure_go_server
cargo build --release -q -p riptide -p loadgen --bins

NCPU=$(nproc)
LOADGEN_CPUS=1-$((NCPU - 1))
[ "$NCPU" -lt 2 ] && LOADGEN_CPUS=0
COMMIT=$(git rev-parse --short HEAD)
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
OUT=${OUT:-results/transport/$STAMP-$COMMIT}
mkdir -p "$OUT/raw"
CERTS="$(mktemp -d)"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$CERTS"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=riptide bench CA" \
  -keyout "$CERTS/ca-key.pem" -out "$CERTS/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$CERTS/key.pem" -out "$CERTS/req.pem" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$CERTS/san.ext"
openssl x509 -req -in "$CERTS/req.pem" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca-key.pem" \
  -CAcreateserial -days 1 -extfile "$CERTS/san.ext" -out "$CERTS/cert.pem" 2>/dev/null
TLS_BLOCK="tls { cert_file: \"$CERTS/cert.pem\", key_file: \"$CERTS/key.pem\" }"

# config NAME SECURE: a config file for one server instance; prints "client_port ws_port".
config() {
  local name=$1 secure=$2 port ws extra ws_tls
  port=$(free_port)
  ws=$(free_port)
  extra=""
  ws_tls="no_tls: true"
  if [ "$secure" = 1 ]; then
    extra=$TLS_BLOCK
    ws_tls=$TLS_BLOCK
  fi
  [ "$name" = riptide ] && extra="$extra
shards: 1"
  cat >"$OUT/$name-$secure.conf" <<CONF
listen: 127.0.0.1:$port
$extra
websocket { host: 127.0.0.1, port: $ws, $ws_tls }
CONF
  echo "$port $ws"
}

declare -A URL
for secure in 0 1; do
  read -r gp gw < <(config go $secure)
  start_server "$OUT/go-$secure.log" env GOMAXPROCS=1 taskset -c 0 \
    .venv/bin/nats-server -c "$OUT/go-$secure.conf" || { cat "$OUT/go-$secure.log"; exit 1; }
  PIDS+=("$SERVER_PID")
  read -r rp rw < <(config riptide $secure)
  start_server "$OUT/riptide-$secure.log" taskset -c 0 \
    target/release/riptide -c "$OUT/riptide-$secure.conf" || { cat "$OUT/riptide-$secure.log"; exit 1; }
  PIDS+=("$SERVER_PID")
  if [ "$secure" = 0 ]; then
    URL[go-tcp]="nats://127.0.0.1:$gp"; URL[go-ws]="ws://127.0.0.1:$gw"
    URL[riptide-tcp]="nats://127.0.0.1:$rp"; URL[riptide-ws]="ws://127.0.0.1:$rw"
  else
    URL[go-tls]="tls://localhost:$gp"; URL[go-wss]="wss://localhost:$gw"
    URL[riptide-tls]="tls://localhost:$rp"; URL[riptide-wss]="wss://localhost:$rw"
  fi
done

run_one() { # server transport rep
  local tag="$2-$1-r$3"
  taskset -c "$LOADGEN_CPUS" target/release/loadgen pubsub --server "${URL[$1-$2]}" \
    --tls-ca "$CERTS/ca.pem" --pubs 1 --subs 1 --size "$SIZE" --msgs "$MSGS" \
    --quiet --json "$OUT/raw/$tag.json" >"$OUT/raw/$tag.txt" 2>&1 \
    || echo "  $tag: loadgen failed, see raw/$tag.txt"
  echo "  $tag: done"
}

for rep in $(seq 1 "$REPS"); do
  echo "repetition $rep/$REPS"
  for t in tcp tls ws wss; do
    alternate "$rep" "run_one go $t $rep" "run_one riptide $t $rep"
  done
done

cat >"$OUT/meta.json" <<META
{
  "command": "perf/transport.sh --reps $REPS --size $SIZE --msgs $MSGS",
  "commit": "$(git rev-parse HEAD)",
  "date_utc": "$STAMP",
  "riptide": "$(target/release/riptide --version)",
  "go_server": "$(.venv/bin/nats-server --version)",
  "kernel": "$(uname -r)",
  "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')",
  "cores": $NCPU,
  "pinning": "servers on CPU 0 (Go GOMAXPROCS=1, Riptide shards: 1), loadgen on CPUs $LOADGEN_CPUS"
}
META
python3 - "$OUT" "$REPS" <<'PY' | tee "$OUT/summary.md"
import json, statistics, sys, os
out, reps = sys.argv[1], int(sys.argv[2])
def med(server, t):
    v = []
    for r in range(1, reps + 1):
        p = os.path.join(out, "raw", f"{t}-{server}-r{r}.json")
        if os.path.exists(p):
            d = json.load(open(p))
            if d.get("lost", 0) == 0:
                v.append(d["sub_msgs_per_s"])
    return statistics.median(v) if v else float("nan")
meta = json.load(open(os.path.join(out, "meta.json")))
print(f"# TLS and WebSocket vs TCP, Riptide and Go ({meta['command']})\n")
print(f"commit {meta['commit'][:10]}, {meta['riptide']}, {meta['go_server']}, {meta['cpu']}, {meta['pinning']}\n")
print("| transport | Go msgs/s | Riptide msgs/s | Riptide/Go | Go vs own TCP | Riptide vs own TCP |")
print("|---|---:|---:|---:|---:|---:|")
base = {s: med(s, "tcp") for s in ("go", "riptide")}
for t in ("tcp", "tls", "ws", "wss"):
    g, r = med("go", t), med("riptide", t)
    print(f"| {t} | {g:,.0f} | {r:,.0f} | {r / g:.2f}x | {g / base['go']:.2f} | {r / base['riptide']:.2f} |")
print(f"\nMedians of {reps} runs of `loadgen pubsub --pubs 1 --subs 1` (delivered msgs/s); runs with losses are left out.")
PY
echo "results in $OUT"
