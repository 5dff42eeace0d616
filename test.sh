#!/usr/bin/env bash
# The test command: every Rust test (unit, property, raw protocol, async-nats, stress), then
# the other real clients (nats-py, and the Node.js example with the npm `nats` package),
# each of which skips itself when its runtime is missing, and the monitoring checks (the Go
# server side by side, a Prometheus parser, the dashboard in headless Chromium).
set -euo pipefail
cd "$(dirname "$0")"
# The Go server is the oracle some Rust tests compare against (the config corpus, operator
# mode, cross-shard ordering); it is installed first, and once it is, a test that cannot
# find it fails instead of skipping. CI must not skip them.
. scripts/server.sh
if ensure_go_server; then
  # Installed, so a comparison that cannot find it is a failure, not a skip.
  export RIPTIDE_REQUIRE_GO=1
else
  [ -n "${RIPTIDE_REQUIRE_MONITOR_DEPS:-}" ] && { echo "test.sh: the Go nats-server could not be installed" >&2; exit 1; }
  echo "test.sh: no Go nats-server; the tests that compare with it skip themselves" >&2
fi
cargo test --release --workspace "$@"
cargo build --release --workspace --bins
export RIPTIDE_BIN=target/release/riptide LOADGEN_BIN=target/release/loadgen
tests/clients/run-python.sh
examples/node-orders/run-test.sh
tests/monitor/run.sh
tests/browser/run.sh
