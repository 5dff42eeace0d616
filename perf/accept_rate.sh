#!/usr/bin/env bash
# Accept rate: how fast Riptide and the Go nats-server take new clients, side by side in one
# run. Both servers run at once on loopback, pinned to core 0 (Go with GOMAXPROCS=1, Riptide
# with --shards 1) as in perf/compare.sh, and `loadgen connect` runs on the other core(s)
# against one of them at a time: CONNS connections from CLIENTS concurrent clients, each a
# TCP connect, INFO, CONNECT (and SUBS SUBs), PING, PONG and a close (FIN). Which server goes
# first alternates per repetition. Per server: the medians over repetitions of connections/s,
# p50 and p99 handshake latency (connect() to PONG), the server's CPU time per connection
# (from /proc/PID/stat; it still compares the servers when loadgen's core is the limit) and
# loadgen's CPU; and the Riptide/Go ratios of those medians. Raw loadgen JSON, .hgrm and
# text, both servers' logs, meta.json and summary.md land in --out.
#
# Usage: perf/accept_rate.sh [--reps N] [--conns N] [--clients N] [--subs N] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=5
CONNS=20000
CLIENTS=16
SUBS=0
OUT=results/storms/accept
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --conns) CONNS="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --subs) SUBS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

. scripts/server.sh
ensure_go_server
cargo build --release -q -p riptide -p loadgen --bins

# A client holds one connection at a time, but a server holds each until it has handled the
# close, and a storm's closes can queue up; so the soft fd limit goes up to the hard one, as
# the Go runtime does for itself, for both servers and loadgen.
ulimit -n "$(ulimit -Hn)"

NCPU=$(nproc)
SERVER_CPU=0
LOADGEN_CPUS=1-$((NCPU - 1))
[ "$NCPU" -lt 2 ] && LOADGEN_CPUS=0
mkdir -p "$OUT"
# Per-run files are overwritten; these two are appended to.
: >"$OUT/server_cpu.tsv"
rm -f "$OUT/failed.txt"

start_pair "$OUT" "$SERVER_CPU"

# User plus system CPU of every thread of process $1, in clock ticks (fields 14 and 15).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# A failed run (refused or timed-out connections) is recorded, not fatal: its JSON counts them.
failed() { echo "  $1: loadgen failed, see $1.txt"; echo "$1" >>"$OUT/failed.txt"; }

run_one() { # server-name port pid rep
  local name=$1 port=$2 pid=$3 rep=$4 tag before
  tag="$name-r$rep"
  before=$(cpu_ticks "$pid")
  taskset -c "$LOADGEN_CPUS" target/release/loadgen connect --server "nats://127.0.0.1:$port" \
    --clients "$CLIENTS" --subs "$SUBS" --msgs "$CONNS" \
    --quiet --json "$OUT/$tag.json" --hgrm "$OUT/$tag.hgrm" >"$OUT/$tag.txt" 2>&1 \
    || failed "$tag"
  printf '%s\t%s\t%s\n' "$name" "$rep" "$(($(cpu_ticks "$pid") - before))" >>"$OUT/server_cpu.tsv"
  echo "  $tag: done"
}

for rep in $(seq 1 "$REPS"); do
  echo "repetition $rep/$REPS"
  alternate "$rep" "run_one go $GO_PORT $GO_PID $rep" "run_one riptide $RT_PORT $RT_PID $rep"
done

cat >"$OUT/meta.json" <<META
{
  "command": "perf/accept_rate.sh --reps $REPS --conns $CONNS --clients $CLIENTS --subs $SUBS",
  "commit": "$(git rev-parse HEAD)",
  "dirty": $([ -n "$(git status --porcelain --untracked-files=no)" ] && echo true || echo false),
  "date_utc": "$(date -u +%Y-%m-%dT%H%MZ)",
  "riptide": "$(target/release/riptide --version)",
  "go_server": "$(.venv/bin/nats-server --version)",
  "rustc": "$(rustc --version)",
  "kernel": "$(uname -r)",
  "cpu": "$(lscpu | grep -m1 'Model name' | cut -d: -f2 | sed 's/^ *//')",
  "cores": $NCPU,
  "pinning": "servers on CPU $SERVER_CPU (Go with GOMAXPROCS=1, Riptide with --shards 1), loadgen on CPUs $LOADGEN_CPUS",
  "fd_limit": $(ulimit -n),
  "clock_ticks_per_s": $(getconf CLK_TCK),
  "tcp_tw_reuse": $(cat /proc/sys/net/ipv4/tcp_tw_reuse),
  "ephemeral_ports": "$(tr '\t' - </proc/sys/net/ipv4/ip_local_port_range)",
  "somaxconn": $(cat /proc/sys/net/core/somaxconn),
  "reps": $REPS
}
META

python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import json, statistics, sys, pathlib
out = pathlib.Path(sys.argv[1])
meta = json.loads((out / "meta.json").read_text())
reps = range(1, meta["reps"] + 1)
runs = {(n, r): json.loads((out / f"{n}-r{r}.json").read_text()) for n in ("go", "riptide") for r in reps}
ticks = {}
for line in (out / "server_cpu.tsv").read_text().splitlines():
    name, rep, t = line.split("\t")
    ticks[(name, int(rep))] = int(t)

def cpu_us_per_conn(n, r):
    done = runs[(n, r)]["connections"]["completed"]
    return ticks[(n, r)] * 1e6 / meta["clock_ticks_per_s"] / max(done, 1)

metrics = [  # label, per-run value, format
    ("connections/s", lambda n, r: runs[(n, r)]["connections"]["per_s"], "{:,.0f}"),
    ("handshake p50 (µs)", lambda n, r: runs[(n, r)]["latency_us"]["p50"], "{:,.0f}"),
    ("handshake p99 (µs)", lambda n, r: runs[(n, r)]["latency_us"]["p99"], "{:,.0f}"),
    ("server CPU per connection (µs)", cpu_us_per_conn, "{:.1f}"),
    ("loadgen CPU (cores)", lambda n, r: runs[(n, r)]["loadgen_cpu_cores"], "{:.2f}"),
]
print(f"`{meta['command']}` at commit `{meta['commit'][:10]}`{' (dirty tree)' if meta['dirty'] else ''}; "
      f"{meta['riptide']}; {meta['go_server']}; {meta['rustc']}; kernel {meta['kernel']}; {meta['cpu']}, "
      f"{meta['cores']} cores; {meta['pinning']}.\n")
print(f"Medians of {meta['reps']} interleaved repetitions; ratios are Riptide's median over Go's "
      "(above 1 is more connections/s, or more latency and CPU).\n")
print("| | Go | Riptide | Riptide/Go |")
print("| --- | ---: | ---: | ---: |")
for label, value, fmt in metrics:
    g = statistics.median(value("go", r) for r in reps)
    t = statistics.median(value("riptide", r) for r in reps)
    print(f"| {label} | {fmt.format(g)} | {fmt.format(t)} | {t / g:.2f} |")
failed = {n: sum(runs[(n, r)]["connections"]["failed"] for r in reps) for n in ("go", "riptide")}
print(f"\nFailed connection attempts over all repetitions: Go {failed['go']}, Riptide {failed['riptide']}.\n")
print("Per repetition, connections/s / p50 µs / p99 µs / server CPU µs per connection:\n")
print("| rep | Go | Riptide |")
print("| --- | --- | --- |")
for r in reps:
    cells = [" / ".join(fmt.format(value(n, r)) for _, value, fmt in metrics[:4]) for n in ("go", "riptide")]
    print(f"| {r} | {cells[0]} | {cells[1]} |")
PY
echo "results in $OUT"
