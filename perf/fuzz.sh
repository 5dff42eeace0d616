#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for SECONDS each, one after the other (fuzz/README.md).
# Usage: perf/fuzz.sh [SECONDS] [TARGET...]     (default 60 s, all targets)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parser sublist config monitor_request)

export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
# cargo-fuzz passes -Z sanitizer flags; this lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O

mkdir -p target/logs
status=0
for t in "${targets[@]}"; do
    mkdir -p "target/corpus/$t" "artifacts/$t"
    echo "== $t: ${seconds}s"
    if ! cargo fuzz run -O "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"target/logs/$t.log" 2>&1; then
        status=1
        echo "   FAILED: see fuzz/target/logs/$t.log and fuzz/artifacts/$t/"
    fi
    grep -E '^#[0-9]+.*(DONE|pulse)' "target/logs/$t.log" | tail -n 1 | sed 's/^/   /'
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "target/logs/$t.log" | sed 's/^/   /'
    echo "   corpus: $(find "target/corpus/$t" -type f | wc -l) inputs; artifacts: $(find "artifacts/$t" -type f | wc -l)"
done
exit $status
