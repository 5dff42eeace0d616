#!/usr/bin/env bash
# Riptide vs the Go nats-server for JetStream, side by side in one run.
#
# Throughput: four servers run at once on loopback, all pinned to core 0 (Go with
# GOMAXPROCS=1, Riptide with --shards 1), each with its own fresh store directory under one
# temporary directory in /tmp, so all store on the same filesystem: Go and Riptide with
# the default sync (Go's sync_interval, 2 minutes), and Go and Riptide with
# `sync_interval: always` (an fsync before every ack). loadgen, pinned to the other core(s),
# runs `jspub` (one publisher, 256 acks outstanding, file storage, the stream deleted and
# created again before each run) at 128 B and 16 KiB against each for RUN_DURATION,
# interleaved (which server goes first alternates per repetition), REPS times; the summary
# has the medians of acked msgs/s and of publish-to-ack latency, and the Riptide/Go ratios.
# Runs last a fixed time rather than a message count: with an fsync per ack one server can
# be tens of times faster than the other, and a count that keeps the slower one busy for a
# few seconds would be over in a fraction of a second on the faster one.
#
# Recovery: per server and repetition, a fresh store, a stream filled with RECOVERY_MSGS x
# 128 B messages (loadgen jspub), SIGKILL, and a restart timed from the process's start to
# `Server is ready` in its log; then STREAM.INFO must still count every acked message.
#
# Everything lands in results/<date>-<commit>-js/: raw loadgen JSON/.hgrm/text, the
# servers' logs and config files, recovery.tsv, meta.json (commands, versions, machine,
# filesystem) and summary.md.
#
# --recovery-only skips the throughput runs (a 10M-message recovery takes minutes).
#
# Usage: perf/js_compare.sh [--reps N] [--quick] [--recovery-msgs N] [--recovery-only]
#                           [--out DIR] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=3
QUICK=0
RECOVERY_MSGS=""
OUT=""
BUILD=1
THROUGHPUT=1
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --recovery-msgs) RECOVERY_MSGS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --recovery-only) THROUGHPUT=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
# 1M x 128 B is a 128 MB stream: recovery has real work; --quick keeps it to 100k.
if [ -z "$RECOVERY_MSGS" ]; then
  RECOVERY_MSGS=1000000
  [ "$QUICK" = 1 ] && RECOVERY_MSGS=100000
fi

. perf/js_servers.sh
js_setup js

RUN_DURATION=5s
[ "$QUICK" = 1 ] && RUN_DURATION=1s

if [ "$THROUGHPUT" = 1 ]; then
declare -A PORT
SYNCS="default always"
for sync in $SYNCS; do
  for kind in go riptide; do
    name=$kind-$sync
    PORT[$name]=$(free_port)
    # shellcheck disable=SC2046
    start_server "$OUT/servers/$name.log" $(server_cmd "$kind" "$(config "$name" "$sync")" "${PORT[$name]}") \
      || { echo "$name did not start:"; tail "$OUT/servers/$name.log"; exit 1; }
    SERVER_PIDS+=("$SERVER_PID")
  done
done

SIZES="128 16384"

run_one() { # kind sync size rep
  local kind=$1 sync=$2 size=$3 rep=$4 tag
  tag="jspub-$size-$sync-$kind-r$rep"
  taskset -c "$LOADGEN_CPUS" target/release/loadgen jspub --server "nats://127.0.0.1:${PORT[$kind-$sync]}" \
    --size "$size" --duration "$RUN_DURATION" --js-storage file \
    --quiet --json "$OUT/raw/$tag.json" --hgrm "$OUT/raw/$tag.hgrm" >"$OUT/raw/$tag.txt" 2>&1 \
    || failed "$tag"
  echo "  $tag: done"
}

for rep in $(seq 1 "$REPS"); do
  echo "repetition $rep/$REPS"
  for sync in $SYNCS; do
    for size in $SIZES; do
      alternate "$rep" "run_one go $sync $size $rep" "run_one riptide $sync $size $rep"
    done
  done
done
kill "${SERVER_PIDS[@]}" 2>/dev/null || true
wait "${SERVER_PIDS[@]}" 2>/dev/null || true
SERVER_PIDS=()
fi

# timed_start LOG CMD...: starts CMD with its output in LOG and prints its pid and the
# seconds from its start to `Server is ready` in LOG (polled every millisecond), or exits 1
# after RECOVERY_TIMEOUT_S or if CMD exits first.
RECOVERY_TIMEOUT_S=300
timed_start() {
  python3 - "$RECOVERY_TIMEOUT_S" "$@" <<'PY'
import subprocess, sys, time
timeout, log, cmd = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
with open(log, "wb") as out:
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
seen = b""
with open(log, "rb") as f:
    while time.monotonic() - started < timeout and proc.poll() is None:
        seen = seen[-64:] + f.read()
        if b"Server is ready" in seen:
            print(proc.pid, f"{time.monotonic() - started:.4f}")
            sys.exit(0)
        time.sleep(0.001)
sys.exit(1)
PY
}

RECOVERY_STREAM=RECOVER
printf 'server\trep\tmsgs\tacked\tempty_start_s\trecovery_s\tmessages_after\n' >"$OUT/recovery.tsv"

recover_one() { # kind rep
  local kind=$1 rep=$2 name port conf started pid empty_s recovery_s acked after
  name=$kind-recovery
  port=$(free_port)
  conf=$(config "$name" default)
  # shellcheck disable=SC2046
  started=$(timed_start "$OUT/servers/$name-r$rep-empty.log" $(server_cmd "$kind" "$conf" "$port")) \
    || { echo "$name did not start"; exit 1; }
  read -r pid empty_s <<<"$started"
  SERVER_PIDS=("$pid")
  taskset -c "$LOADGEN_CPUS" target/release/loadgen jspub --server "nats://127.0.0.1:$port" \
    --size 128 --msgs "$RECOVERY_MSGS" --js-stream "$RECOVERY_STREAM" --subject recover.js \
    --quiet --json "$OUT/raw/recovery-fill-$kind-r$rep.json" >"$OUT/raw/recovery-fill-$kind-r$rep.txt" 2>&1 \
    || failed "recovery-fill-$kind-r$rep"
  acked=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jetstream"]["acked"])' \
    "$OUT/raw/recovery-fill-$kind-r$rep.json")
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
  # shellcheck disable=SC2046
  started=$(timed_start "$OUT/servers/$name-r$rep-restart.log" $(server_cmd "$kind" "$conf" "$port")) \
    || { echo "$name did not restart, see servers/$name-r$rep-restart.log"; exit 1; }
  read -r pid recovery_s <<<"$started"
  SERVER_PIDS=("$pid")
  after=$(python3 perf/js_crash_client.py info --port "$port" --stream "$RECOVERY_STREAM" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"]["messages"])')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$rep" "$RECOVERY_MSGS" "$acked" "$empty_s" "$recovery_s" "$after" \
    >>"$OUT/recovery.tsv"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  SERVER_PIDS=()
  rm -rf "${STORES:?}/$name"
  echo "  recovery-$kind-r$rep: $acked acked, restart ${recovery_s}s, $after messages after"
}

echo "recovery ($RECOVERY_MSGS x 128 B)"
for rep in $(seq 1 "$REPS"); do
  alternate "$rep" "recover_one go $rep" "recover_one riptide $rep"
done

STORE_FS=$(df -PT "$STORES" | awk 'NR == 2 {print $1 " (" $2 ")"}')
cat >"$OUT/meta.json" <<META
{
  "command": "perf/js_compare.sh --reps $REPS$([ "$QUICK" = 1 ] && echo ' --quick') --recovery-msgs $RECOVERY_MSGS$([ "$THROUGHPUT" = 0 ] && echo ' --recovery-only')$([ "$BUILD" = 0 ] && echo ' --no-build')",
$(machine_facts "$STAMP" "$NCPU")
  "pinning": "servers on CPU $SERVER_CPU (Go with GOMAXPROCS=1, Riptide with --shards 1), loadgen on CPUs $LOADGEN_CPUS",
  "store_filesystem": "$STORE_FS, stores under $STORES",
  "server_commands": {
    "go": "$(server_cmd go CONFIG PORT)",
    "riptide": "$(server_cmd riptide CONFIG PORT)"
  },
  "loadgen_command": "taskset -c $LOADGEN_CPUS target/release/loadgen jspub --server nats://127.0.0.1:PORT --size SIZE --duration $RUN_DURATION --js-storage file --quiet --json FILE --hgrm FILE",
  "run_duration": "$RUN_DURATION",
  "recovery_msgs": $RECOVERY_MSGS,
  "reps": $REPS
}
META

python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import csv, glob, json, os, re, statistics, sys
out = sys.argv[1]
meta = json.load(open(os.path.join(out, "meta.json")))
runs = {}
for path in glob.glob(os.path.join(out, "raw", "jspub-*.json")):
    m = re.match(r"jspub-(\d+)-(default|always)-(go|riptide)-r(\d+)\.json", os.path.basename(path))
    size, sync, server, _ = m.groups()
    runs.setdefault((sync, int(size)), {}).setdefault(server, []).append(json.load(open(path)))
med = lambda xs: statistics.median(xs) if xs else float("nan")

print(f"# JetStream: Riptide vs nats-server, {meta['date_utc']}\n")
print(f"`{meta['command']}` at commit `{meta['commit'][:10]}`{' (dirty)' if meta['dirty'] else ''}; "
      f"{meta['riptide']}; {meta['go_server']}; {meta['rustc']}; kernel {meta['kernel']}; "
      f"{meta['cpu']}, {meta['cores']} cores; {meta['pinning']}; stores on {meta['store_filesystem']}. "
      f"Medians of {meta['reps']} interleaved repetitions.\n")
if runs:
    print(f"## jspub: acked msgs/s and publish-to-ack latency (1 publisher, 256 acks outstanding, file storage, {meta['run_duration']} per run)\n")
    print("| sync | size | Go msgs/s | Riptide msgs/s | Riptide/Go | Go p50 / p99 µs | Riptide p50 / p99 µs | not acked |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for sync in ("default", "always"):
        for size in (128, 16384):
            r = runs.get((sync, size), {})
            g, t = r.get("go", []), r.get("riptide", [])
            rate = lambda ds: med([d["sub_msgs_per_s"] for d in ds])
            lat = lambda ds, p: med([d["latency_us"][p] for d in ds if d.get("latency_us")])
            lost = sum(d["lost"] for ds in r.values() for d in ds)
            ratio = rate(t) / rate(g) if g and t and rate(g) else float("nan")
            print(f"| {sync} | {size} | {rate(g):,.0f} | {rate(t):,.0f} | {ratio:.2f}x | "
                  f"{lat(g, 'p50'):,.0f} / {lat(g, 'p99'):,.0f} | {lat(t, 'p50'):,.0f} / {lat(t, 'p99'):,.0f} | {lost} |")

rows = list(csv.DictReader(open(os.path.join(out, "recovery.tsv")), delimiter="\t"))
if rows:
    print(f"\n## Recovery after SIGKILL ({int(rows[0]['msgs']):,} x 128 B in one file stream)\n")
    print("Seconds from the process's start to `Server is ready`; `empty` is the first start on the fresh store.\n")
    print("| server | empty start s | restart after SIGKILL s | acked before / messages after |")
    print("| --- | ---: | ---: | --- |")
    rec = {}
    for s in ("go", "riptide"):
        rs = [x for x in rows if x["server"] == s]
        if not rs:
            continue
        rec[s] = med([float(x["recovery_s"]) for x in rs])
        counts = ", ".join(f"{int(x['acked']):,} / {int(x['messages_after']):,}" for x in rs)
        print(f"| {s} | {med([float(x['empty_start_s']) for x in rs]):.3f} | {rec[s]:.3f} | {counts} |")
    if len(rec) == 2:
        print(f"| Riptide/Go | | {rec['riptide'] / rec['go']:.2f}x | |")
failed = os.path.join(out, "failed.txt")
if os.path.exists(failed):
    print(f"\nFailed runs: {', '.join(open(failed).read().split())}")
PY
echo "results in $OUT"
