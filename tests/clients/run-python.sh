#!/usr/bin/env bash
# Runs python_client.py (nats-py) against a fresh Riptide on a free loopback port, its
# TLS checks against two more with certificates made here (INFO first, and TLS first), and
# its cluster check against a three-node cluster (two Riptide nodes and the Go server).
# Skips (exit 0) when nats-py cannot be installed, e.g. on an offline machine; skips the TLS
# checks alone without openssl.
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"   # RIPTIDE_BIN may be relative to the repo root, like test.sh's paths
VENV="$ROOT/.venv-clients"

WORK="$(mktemp -d)"
SERVER_PID=""
SEED_PID=""
PIDS=()
cleanup() {
  # Only the PIDs this script started, never a name match.
  for pid in "${PIDS[@]}" $SEED_PID; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "python-client: FAIL: $*" >&2
  for log in "$WORK"/*.log; do
    [ -s "$log" ] || continue
    echo "--- last lines of $(basename "$log") ---" >&2
    tail -n 20 "$log" >&2
  done
  echo "python-client: 0 passed, 1 failed"
  exit 1
}

# make_certs DIR: a CA (ca.pem) and a certificate it signed for localhost and 127.0.0.1
# (server.pem, server-key.pem).
make_certs() {
  local d=$1 ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=riptide test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$d/ca-key.pem" -out "$d/ca.pem" &&
  openssl req "${ec[@]}" -subj "/CN=localhost" -keyout "$d/server-key.pem" -out "$d/server.csr" &&
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$d/server.ext" &&
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" \
    -CAcreateserial -days 2 -extfile "$d/server.ext" -out "$d/server.pem"
}

skip() {
  echo "python-client: skipped ($*)"
  exit 0
}

command -v python3 >/dev/null 2>&1 || skip "python3 not found"
if ! "$VENV/bin/python" -c 'import nats' 2>/dev/null; then
  python3 -m venv "$VENV" >/dev/null 2>&1 || skip "could not create $VENV"
  "$VENV/bin/pip" install -q nats-py >"$WORK/pip.log" 2>&1 \
    || skip "could not install nats-py: $(tail -n 1 "$WORK/pip.log")"
fi

BIN="${RIPTIDE_BIN:-target/release/riptide}"
[ -x "$BIN" ] || fail "riptide binary not found at $BIN (run cargo build --release)"

. "$ROOT/scripts/server.sh"
PORT="$(free_port)" || fail "could not pick a free port"
# Two shards so that connections land on different shards and cross-shard delivery is tested.
# JetStream on, in this run's own store directory.
start_server "$WORK/server.log" "$BIN" -a 127.0.0.1 -p "$PORT" --shards 2 -js -sd "$WORK/js" \
  || fail "riptide did not start"
PIDS+=("$SERVER_PID")

if ! command -v openssl >/dev/null 2>&1; then
  echo "python-client: TLS checks skipped (openssl not found)"
elif ! make_certs "$WORK" >"$WORK/openssl.log" 2>&1; then
  fail "could not make test certificates: $(tail -n 1 "$WORK/openssl.log")"
else
  export NATS_TLS_CA="$WORK/ca.pem"
  TLS_PORT="$(free_port)" || fail "could not pick a free port"
  start_server "$WORK/server-tls.log" "$BIN" -a 127.0.0.1 -p "$TLS_PORT" --shards 2 \
    --tls --tlscert "$WORK/server.pem" --tlskey "$WORK/server-key.pem" \
    || fail "riptide with TLS did not start"
  PIDS+=("$SERVER_PID")
  export NATS_TLS_URL="tls://127.0.0.1:$TLS_PORT"
  FIRST_PORT="$(free_port)" || fail "could not pick a free port"
  printf 'tls {\n  cert_file: "%s"\n  key_file: "%s"\n  handshake_first: true\n}\n' \
    "$WORK/server.pem" "$WORK/server-key.pem" >"$WORK/tls-first.conf"
  start_server "$WORK/server-tls-first.log" "$BIN" -c "$WORK/tls-first.conf" \
    -a 127.0.0.1 -p "$FIRST_PORT" --shards 2 || fail "riptide with TLS first did not start"
  PIDS+=("$SERVER_PID")
  export NATS_TLS_FIRST_URL="tls://127.0.0.1:$FIRST_PORT"
fi

# A three-node cluster for the discovery and failover check: Riptide A (the seed the client
# dials, killed by the check), Riptide B and, where it is installed, the Go server C, both
# routed to A. A is left out of the liveness check below.
cluster_node() {  # LOG CLIENT_PORT CLUSTER_PORT BIN [ARGS...]
  local log=$1 port=$2 cport=$3 bin=$4
  shift 4
  start_server "$WORK/$log" "$bin" -a 127.0.0.1 -p "$port" --cluster_name py \
    --cluster "nats://127.0.0.1:$cport" "$@"
}
SEED_PORT="$(free_port)" && SEED_CPORT="$(free_port)" || fail "could not pick a free port"
cluster_node cluster-a.log "$SEED_PORT" "$SEED_CPORT" "$BIN" --shards 2 \
  || fail "riptide cluster node A did not start"
SEED_PID=$SERVER_PID
OTHERS=()
B_PORT="$(free_port)" && B_CPORT="$(free_port)" || fail "could not pick a free port"
cluster_node cluster-b.log "$B_PORT" "$B_CPORT" "$BIN" --shards 2 \
  --routes "nats://127.0.0.1:$SEED_CPORT" || fail "riptide cluster node B did not start"
PIDS+=("$SERVER_PID")
OTHERS+=("nats://127.0.0.1:$B_PORT")
if [ -x .venv/bin/nats-server ]; then
  C_PORT="$(free_port)" && C_CPORT="$(free_port)" || fail "could not pick a free port"
  cluster_node cluster-c-go.log "$C_PORT" "$C_CPORT" .venv/bin/nats-server \
    --routes "nats://127.0.0.1:$SEED_CPORT" || fail "Go cluster node C did not start"
  PIDS+=("$SERVER_PID")
  OTHERS+=("nats://127.0.0.1:$C_PORT")
else
  echo "python-client: the cluster runs without a Go node (no .venv/bin/nats-server)"
fi
export NATS_CLUSTER_SEED="nats://127.0.0.1:$SEED_PORT" NATS_CLUSTER_SEED_PID="$SEED_PID"
NATS_CLUSTER_OTHERS="$(IFS=,; echo "${OTHERS[*]}")"
export NATS_CLUSTER_OTHERS

# The script prints its own per-check lines and the summary line.
timeout 120 "$VENV/bin/python" "$HERE/python_client.py" "nats://127.0.0.1:$PORT"
RC=$?
for pid in "${PIDS[@]}"; do
  kill -0 "$pid" 2>/dev/null || fail "riptide died during the run"
done
if [ "$RC" -ne 0 ]; then
  [ "$RC" -eq 124 ] && echo "python-client: 0 passed, 1 failed (timed out)"
  exit 1
fi
