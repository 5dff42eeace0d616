#!/usr/bin/env bash
# Riptide vs the Go nats-server for JetStream consumers and key-value buckets, per core, side
# by side in one run (issue 18).
#
# Both servers run on loopback pinned to core 0 (Go with GOMAXPROCS=1, Riptide with
# --shards 1), each with its own fresh file store under one temporary directory in /tmp;
# loadgen runs pinned to the other core(s). Every case runs against both, interleaved (which
# server goes first alternates per repetition), REPS times:
#
# - jsfetch at 128 B and 16 KiB: a stream filled with N messages (loadgen's jspub path, not
#   measured), then a durable pull consumer fetching 100 at a time and acking each (as
#   `nats bench js fetch`); delivered msgs/s until all N are in.
# - jsordered at 128 B and 16 KiB: the same fill, then an ordered push consumer (flow
#   control answered, as nats.go and async-nats make one); delivered msgs/s.
# - kvput and kvget at 128 B on a bucket of KV_KEYS keys: puts awaiting their acks, direct
#   gets awaiting their replies, 256 outstanding; acked (answered) msgs/s.
# - A bucket of BIG_KEYS distinct keys (16 B values), per repetition on a freshly started
#   server: VmRSS from /proc before and 2 s after filling it, then the time from
#   CONSUMER.CREATE to its reply for WATCHES watches of one key each (an ordered consumer
#   filtered to the key, last value per subject, as kv.watch(key)), keys drawn from the
#   same seed for both servers; median over the watches, then over repetitions.
#
# Each throughput run also takes the server's CPU time over the measured phase (all its
# threads, perf/cpu_sampler.py): a server that waits on round trips uses less than its core,
# and msgs per server CPU second is its rate per core.
#
# Both servers must deliver the same counts: the summary lists them and flags a difference;
# a loadgen run that fails (a stall, a gap, a wrong reply) is named in failed.txt.
#
# Everything lands in results/<date>-<commit>-js-consume/: loadgen's JSON and text per run
# (raw/), the servers' logs and config files, bucket.tsv, meta.json (commands, versions,
# machine) and summary.md.
#
# Usage: perf/js_consume_compare.sh [--reps N] [--quick] [--big-keys N] [--out DIR]
#                                   [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=3
QUICK=0
BIG_KEYS=""
OUT=""
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --big-keys) BIG_KEYS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
# Message counts: a 128 B consumer run of 1M lasts about a second on the faster server (an
# ordered consumer), so the consumer's setup is noise and the CPU samples cover hundreds of
# intervals; 20k x 16 KiB is a 320 MB stream per server. --quick is a tenth of the 16 KiB
# and KV counts and a fiftieth of the 128 B ones, for checking the script.
SMALL_MSGS=1000000
LARGE_MSGS=20000
KV_MSGS=200000
KV_KEYS=10000
WATCHES=10
DEFAULT_BIG_KEYS=1000000
if [ "$QUICK" = 1 ]; then
  SMALL_MSGS=20000
  LARGE_MSGS=2000
  KV_MSGS=20000
  KV_KEYS=1000
  WATCHES=5
  DEFAULT_BIG_KEYS=100000
fi
BIG_KEYS=${BIG_KEYS:-$DEFAULT_BIG_KEYS}
# The big bucket's values: small, so that the keys, not the values, are what it holds.
BIG_VALUE_BYTES=16
# RSS is read this long after the fill, so that neither server is caught mid-write.
SETTLE_S=2

. perf/js_servers.sh
js_setup js-consume

# run_loadgen TAG PORT ARGS...: one pinned loadgen run, its JSON and text under raw/TAG.
run_loadgen() {
  local tag=$1 port=$2
  shift 2
  taskset -c "$LOADGEN_CPUS" target/release/loadgen "$@" --server "nats://127.0.0.1:$port" \
    --quiet --json "$OUT/raw/$tag.json" >"$OUT/raw/$tag.txt" 2>&1 || failed "$tag"
}

# start KIND NAME: a server of KIND on a fresh store NAME; sets PORT and PID.
start() {
  PORT=$(free_port)
  # shellcheck disable=SC2046
  start_server "$OUT/servers/$2.log" $(server_cmd "$1" "$(config "$2" default)" "$PORT") \
    || { echo "$2 did not start:"; tail "$OUT/servers/$2.log"; exit 1; }
  PID=$SERVER_PID
  SERVER_PIDS+=("$PID")
}

stop() { # pid
  kill "$1"
  wait "$1" 2>/dev/null || true
  SERVER_PIDS=()
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# The throughput cases: name, then loadgen's arguments (no spaces inside one argument).
declare -A CASE_ARGS=(
  [jsfetch-128]="jsfetch --size 128 --msgs $SMALL_MSGS"
  [jsfetch-16384]="jsfetch --size 16384 --msgs $LARGE_MSGS"
  [jsordered-128]="jsordered --size 128 --msgs $SMALL_MSGS"
  [jsordered-16384]="jsordered --size 16384 --msgs $LARGE_MSGS"
  [kvput-128]="kvput --size 128 --msgs $KV_MSGS --kv-keys $KV_KEYS"
  [kvget-128]="kvget --size 128 --msgs $KV_MSGS --kv-keys $KV_KEYS"
)
CASES="jsfetch-128 jsfetch-16384 jsordered-128 jsordered-16384 kvput-128 kvget-128"

declare -A RATE_PORT RATE_PID
for kind in go riptide; do
  start "$kind" "$kind-rate"
  RATE_PORT[$kind]=$PORT
  RATE_PID[$kind]=$PID
done

# One case against one server, with the server's CPU time sampled (on loadgen's CPUs) and
# taken over the measured phase into raw/TAG.cpu_s.
run_case() { # kind case rep
  local tag=$2-$1-r$3 sampler
  taskset -c "$LOADGEN_CPUS" python3 perf/cpu_sampler.py record "${RATE_PID[$1]}" "$OUT/raw/$tag.cpu" &
  sampler=$!
  # shellcheck disable=SC2086
  run_loadgen "$tag" "${RATE_PORT[$1]}" ${CASE_ARGS[$2]}
  kill "$sampler"
  wait "$sampler" 2>/dev/null || true
  if [ -s "$OUT/raw/$tag.json" ]; then
    python3 perf/cpu_sampler.py window "$OUT/raw/$tag.cpu" "$OUT/raw/$tag.json" >"$OUT/raw/$tag.cpu_s"
  fi
  rm -f "$OUT/raw/$tag.cpu"
  echo "  $tag: done"
}

for rep in $(seq 1 "$REPS"); do
  echo "repetition $rep/$REPS"
  for case in $CASES; do
    alternate "$rep" "run_case go $case $rep" "run_case riptide $case $rep"
  done
done
kill "${SERVER_PIDS[@]}" 2>/dev/null || true
wait "${SERVER_PIDS[@]}" 2>/dev/null || true
SERVER_PIDS=()

printf 'server\trep\tkeys\trss_empty_kb\trss_filled_kb\trss_after_watches_kb\n' >"$OUT/bucket.tsv"

bucket_one() { # kind rep
  local kind=$1 rep=$2 empty filled after
  start "$kind" "$kind-bucket"
  empty=$(rss_kb "$PID")
  run_loadgen "bucket-fill-$kind-r$rep" "$PORT" kvput --size "$BIG_VALUE_BYTES" \
    --msgs "$BIG_KEYS" --kv-keys "$BIG_KEYS"
  sleep "$SETTLE_S"
  filled=$(rss_kb "$PID")
  run_loadgen "bucket-watch-$kind-r$rep" "$PORT" kvwatch --kv-keys "$BIG_KEYS" --msgs "$WATCHES" \
    --seed "$rep"
  after=$(rss_kb "$PID")
  stop "$PID"
  rm -rf "${STORES:?}/$kind-bucket"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$rep" "$BIG_KEYS" "$empty" "$filled" "$after" >>"$OUT/bucket.tsv"
  echo "  bucket-$kind-r$rep: RSS ${empty} kB empty, ${filled} kB with $BIG_KEYS keys"
}

echo "bucket of $BIG_KEYS keys"
for rep in $(seq 1 "$REPS"); do
  alternate "$rep" "bucket_one go $rep" "bucket_one riptide $rep"
done

cat >"$OUT/meta.json" <<META
{
  "command": "perf/js_consume_compare.sh --reps $REPS$([ "$QUICK" = 1 ] && echo ' --quick') --big-keys $BIG_KEYS$([ "$BUILD" = 0 ] && echo ' --no-build')",
$(machine_facts "$STAMP" "$NCPU")
  "pinning": "servers on CPU $SERVER_CPU (Go with GOMAXPROCS=1, Riptide with --shards 1), loadgen on CPUs $LOADGEN_CPUS",
  "store_filesystem": "$(df -PT "$STORES" | awk 'NR == 2 {print $1 " (" $2 ")"}'), stores under $STORES",
  "server_commands": {
    "go": "$(server_cmd go CONFIG PORT)",
    "riptide": "$(server_cmd riptide CONFIG PORT)"
  },
  "loadgen_commands": {
$(for case in $CASES; do echo "    \"$case\": \"taskset -c $LOADGEN_CPUS target/release/loadgen ${CASE_ARGS[$case]} --server nats://127.0.0.1:PORT --quiet --json FILE\","; done)
    "bucket-fill": "taskset -c $LOADGEN_CPUS target/release/loadgen kvput --size $BIG_VALUE_BYTES --msgs $BIG_KEYS --kv-keys $BIG_KEYS --server nats://127.0.0.1:PORT --quiet --json FILE",
    "bucket-watch": "taskset -c $LOADGEN_CPUS target/release/loadgen kvwatch --kv-keys $BIG_KEYS --msgs $WATCHES --seed REP --server nats://127.0.0.1:PORT --quiet --json FILE"
  },
  "rss": "VmRSS of the server process from /proc/PID/status: on the fresh server, $SETTLE_S s after the fill, after the watches",
  "big_keys": $BIG_KEYS,
  "watches": $WATCHES,
  "reps": $REPS
}
META

python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import csv, glob, json, os, re, statistics, sys
out = sys.argv[1]
meta = json.load(open(os.path.join(out, "meta.json")))
med = lambda xs: statistics.median(xs) if xs else float("nan")
runs = {}
for path in glob.glob(os.path.join(out, "raw", "*.json")):
    m = re.match(r"(.+)-(go|riptide)-r(\d+)\.json", os.path.basename(path))
    runs.setdefault(m.group(1), {}).setdefault(m.group(2), []).append(json.load(open(path)))
ratio = lambda t, g: f"{t / g:.2f}x" if g and g == g and t == t else "-"

print(f"# JetStream consumers and KV: Riptide vs nats-server per core, {meta['date_utc']}\n")
print(f"`{meta['command']}` at commit `{meta['commit'][:10]}`{' (dirty)' if meta['dirty'] else ''}; "
      f"{meta['riptide']}; {meta['go_server']}; {meta['rustc']}; kernel {meta['kernel']}; "
      f"{meta['cpu']}, {meta['cores']} cores; {meta['pinning']}; file stores on {meta['store_filesystem']}. "
      f"Medians of {meta['reps']} interleaved repetitions; loadgen's exact commands are in meta.json.\n")
print("## Delivery and KV rates (msgs/s, one server core)\n")
print("Rates as loadgen measured them; server CPU per message is the server's CPU time over "
      "that phase (all its threads) over the messages, and the per-core ratio is Go's CPU per "
      "message over Riptide's (msgs per server CPU second, Riptide/Go).\n")
print("| case | size | Go msgs/s | Riptide msgs/s | Riptide/Go | Go server µs/msg | Riptide server µs/msg | per core Riptide/Go | counts Go / Riptide (per run) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
cpu = {}
for path in glob.glob(os.path.join(out, "raw", "*.cpu_s")):
    m = re.match(r"(.+)-(go|riptide)-r(\d+)\.cpu_s", os.path.basename(path))
    report = json.load(open(path[:-len(".cpu_s")] + ".json"))
    n = report["msgs_received"]
    if n:
        cpu.setdefault(m.group(1), {}).setdefault(m.group(2), []).append(
            float(open(path).read()) / n * 1e6)
mismatch = []
what = {"jsfetch": "pull consumer, batch 100, explicit acks", "jsordered": "ordered push consumer",
        "kvput": "KV put, 256 acks outstanding", "kvget": "KV direct get, 256 outstanding"}
for case in ("jsfetch-128", "jsfetch-16384", "jsordered-128", "jsordered-16384", "kvput-128", "kvget-128"):
    r = runs.get(case, {})
    g, t = r.get("go", []), r.get("riptide", [])
    rate = lambda ds: med([d["sub_msgs_per_s"] for d in ds])
    counts = lambda ds: sorted({d["msgs_received"] for d in ds})
    if counts(g) != counts(t) or len(counts(g)) > 1:
        mismatch.append(case)
    name, size = case.rsplit("-", 1)
    shown = lambda cs: ",".join(f"{c:,}" for c in cs) or "-"
    us_g, us_t = med(cpu.get(case, {}).get("go", [])), med(cpu.get(case, {}).get("riptide", []))
    print(f"| {name} ({what[name]}) | {int(size):,} | {rate(g):,.0f} | {rate(t):,.0f} | "
          f"{ratio(rate(t), rate(g))} | {us_g:.2f} | {us_t:.2f} | {ratio(us_g, us_t)} | "
          f"{shown(counts(g))} / {shown(counts(t))} |")

rows = list(csv.DictReader(open(os.path.join(out, "bucket.tsv")), delimiter="\t"))
if rows:
    keys = int(rows[0]["keys"])
    print(f"\n## A bucket of {keys:,} keys (16 B values, file storage)\n")
    print(f"VmRSS of the server: fresh, 2 s after the fill, after the watches; consumer create: "
          f"CONSUMER.CREATE request to reply for an ordered consumer filtered to one key, last "
          f"per subject (kv.watch(key)), median of {meta['watches']} watches per repetition.\n")
    print("| server | fill puts/s | RSS empty MB | RSS filled MB | RSS after watches MB | create p50 ms | create max ms | values received |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    figs = {}
    for s in ("go", "riptide"):
        rs = [x for x in rows if x["server"] == s]
        if not rs:
            continue
        mb = lambda col: med([int(x[col]) / 1024 for x in rs])
        fill = runs.get("bucket-fill", {}).get(s, [])
        watch = runs.get("bucket-watch", {}).get(s, [])
        p50 = med([d["latency_us"]["p50"] / 1000 for d in watch if d.get("latency_us")])
        mx = med([d["latency_us"]["max"] / 1000 for d in watch if d.get("latency_us")])
        values = sorted({d["msgs_received"] for d in watch})
        figs[s] = (mb("rss_filled_kb"), p50, med([d["sub_msgs_per_s"] for d in fill]))
        print(f"| {s} | {figs[s][2]:,.0f} | {mb('rss_empty_kb'):,.1f} | {figs[s][0]:,.1f} | "
              f"{mb('rss_after_watches_kb'):,.1f} | {p50:,.2f} | {mx:,.2f} | {','.join(map(str, values))} |")
    if len(figs) == 2:
        g, t = figs["go"], figs["riptide"]
        print(f"| Riptide/Go | {ratio(t[2], g[2])} | | {ratio(t[0], g[0])} | | {ratio(t[1], g[1])} | | |")
if mismatch:
    print(f"\nCounts differ between the servers or runs in: {', '.join(mismatch)}")
failed = os.path.join(out, "failed.txt")
if os.path.exists(failed):
    print(f"\nFailed runs: {', '.join(open(failed).read().split())}")
PY
echo "results in $OUT"
