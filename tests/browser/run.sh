#!/usr/bin/env bash
# The browser test: the official nats.ws client (npm, pinned in package.json, bundled into a
# locally served page: no CDN) in Debian's headless Chromium exchanges messages with a TCP
# client through Riptide's WebSocket listener, over ws:// and wss://.
#
# Installs what it needs (npm packages here, the shared Playwright venv, chromium). With
# RIPTIDE_REQUIRE_MONITOR_DEPS=1 (set by .ci/run) a missing dependency fails the run;
# otherwise it skips, e.g. on an offline machine.
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-monitor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fail() { echo "browser: FAIL: $*" >&2; exit 1; }
skip() {
  [ "${RIPTIDE_REQUIRE_MONITOR_DEPS:-0}" = 1 ] && fail "$*"
  echo "browser: skipped ($*)"
  exit 0
}

command -v python3 >/dev/null 2>&1 || skip "python3 not found"
command -v npm >/dev/null 2>&1 || skip "npm not found"
. "$ROOT/scripts/browser_deps.sh"
ensure_browser_venv "$VENV" "$WORK/pip.log" \
  || skip "pip install failed: $(tail -n 1 "$WORK/pip.log")"
ensure_chromium "$WORK/apt.log" || skip "could not install chromium: $(tail -n 1 "$WORK/apt.log")"
BUNDLE="$HERE/node_modules/nats.ws/esm/nats.js"
if [ ! -f "$BUNDLE" ]; then
  (cd "$HERE" && npm ci --silent >"$WORK/npm.log" 2>&1) \
    || skip "npm ci failed: $(tail -n 1 "$WORK/npm.log")"
fi

BIN="${RIPTIDE_BIN:-target/release/riptide}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
[ -x "$BIN" ] || fail "riptide binary not found at $BIN"
timeout 240 "$VENV/bin/python" "$HERE/browser.py" "$CHROMIUM" "$BIN" "$BUNDLE" \
  "$ROOT/target/browser" || fail "nats.ws in headless Chromium"
echo "browser: all checks passed (screenshots: target/browser/)"
