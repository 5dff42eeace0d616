#!/usr/bin/env bash
# Runs python_client.py (nats-py) against a fresh Riptide on a free loopback port.
# Skips (exit 0) when nats-py cannot be installed, e.g. on an offline machine.
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"   # RIPTIDE_BIN may be relative to the repo root, like test.sh's paths
VENV="$ROOT/.venv-clients"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  # Only the PID this script started, never a name match.
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "python-client: FAIL: $*" >&2
  if [ -s "$WORK/server.log" ]; then
    echo "--- last lines of server.log ---" >&2
    tail -n 20 "$WORK/server.log" >&2
  fi
  echo "python-client: 0 passed, 1 failed"
  exit 1
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
start_server "$WORK/server.log" "$BIN" -a 127.0.0.1 -p "$PORT" --shards 2 || fail "riptide did not start"

# The script prints its own per-check lines and the summary line.
timeout 120 "$VENV/bin/python" "$HERE/python_client.py" "nats://127.0.0.1:$PORT"
RC=$?
kill -0 "$SERVER_PID" 2>/dev/null || fail "riptide died during the run"
if [ "$RC" -ne 0 ]; then
  [ "$RC" -eq 124 ] && echo "python-client: 0 passed, 1 failed (timed out)"
  exit 1
fi
