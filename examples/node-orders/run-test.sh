#!/usr/bin/env bash
# End-to-end check of the node-orders example against a fresh Riptide on a free loopback port.
# Skips (exit 0) when node is not installed, so test.sh can call it on any machine.
set -uo pipefail

N=50
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"   # RIPTIDE_BIN may be relative to the repo root, like test.sh's paths

if ! command -v node >/dev/null 2>&1; then
  echo "node not found: skipping node-orders example"
  exit 0
fi

WORK="$(mktemp -d)"
SERVER_PID=""
INV_PID=""
cleanup() {
  # Only the PIDs this script started, never a name match.
  [ -n "$INV_PID" ] && kill "$INV_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "node-orders: FAIL: $*" >&2
  for f in server inventory publisher; do
    if [ -s "$WORK/$f.log" ]; then
      echo "--- last lines of $f.log ---" >&2
      tail -n 20 "$WORK/$f.log" >&2
    fi
  done
  echo "node-orders: 0 passed, 1 failed"
  exit 1
}

BIN="${RIPTIDE_BIN:-target/release/riptide}"
[ -x "$BIN" ] || fail "riptide binary not found at $BIN (run cargo build --release)"

if [ ! -d "$HERE/node_modules" ]; then
  (cd "$HERE" && npm ci --silent) || fail "npm ci failed"
fi

. "$ROOT/scripts/server.sh"
PORT="$(free_port)" || fail "could not pick a free port"
URL="nats://127.0.0.1:$PORT"
start_server "$WORK/server.log" "$BIN" -a 127.0.0.1 -p "$PORT" --shards 2 || fail "riptide did not start"

# The publisher must not start before inventory's subscriptions exist, or early orders
# would be dropped (core NATS has no persistence); inventory prints a line once flushed.
timeout 60 node "$HERE/inventory.js" "$N" "$URL" >"$WORK/inventory.log" 2>&1 &
INV_PID=$!
for _ in $(seq 100); do
  grep -q "inventory: ready" "$WORK/inventory.log" && break
  kill -0 "$INV_PID" 2>/dev/null || break
  sleep 0.1
done
grep -q "inventory: ready" "$WORK/inventory.log" || fail "inventory did not become ready"

timeout 60 node "$HERE/publisher.js" "$N" "$URL" >"$WORK/publisher.log" 2>&1
PUB_RC=$?
wait "$INV_PID"
INV_RC=$?
INV_PID=""

[ "$PUB_RC" -eq 0 ] || fail "publisher exited with $PUB_RC"
[ "$INV_RC" -eq 0 ] || fail "inventory exited with $INV_RC"
grep -q "^inventory: $N orders, $N reserved " "$WORK/inventory.log" \
  || fail "inventory summary does not show $N orders and $N reservations"
grep -q "^publisher: $N published, $N replies$" "$WORK/publisher.log" \
  || fail "publisher summary does not show $N replies"
REPLY_LINES="$(grep -c '"reserved":true' "$WORK/publisher.log")"
[ "$REPLY_LINES" -eq "$N" ] || fail "publisher printed $REPLY_LINES replies, expected $N"

grep "^inventory: $N orders" "$WORK/inventory.log"
tail -n 1 "$WORK/publisher.log"
echo "node-orders: 1 passed, 0 failed"
