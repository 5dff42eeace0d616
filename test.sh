#!/usr/bin/env bash
# The test command: every Rust test (unit, property, integration with async-nats), then the
# client-compatibility scripts for whichever runtimes this machine has.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --release --workspace "$@"
