#!/usr/bin/env bash
# Soak test: the release riptide on loopback under mixed traffic for a long time, sampled
# every interval, to catch slow leaks (RSS, fds, threads), stuck connections or
# subscriptions, and crashes that short tests never see.
#
# Traffic, all at once for the whole run (each kind restarted in a loop):
#   steady   open-loop loadgen runs of STEADY_RUN_S each: pubsub (2 x 2, 128 B) on
#            soak.busy, and fanout (1 KiB, 4 subs) alternating with a queue group (8 KiB,
#            4 members, so the referenced large-payload path runs too);
#   churn    short closed-loop loadgen runs (pubsub, queue, reqrep, subjects) one after the
#            other, each on a fresh subject soak.churn.<n>, so clients connect, subscribe,
#            exchange a few hundred messages and leave all the time, and the subject index
#            keeps adding and removing subjects (plus `loadgen connect` runs if this
#            loadgen has that scenario);
#   slow     a stdlib Python client that subscribes to soak.> and reads almost nothing,
#            recreated as soon as the server cuts it off; max_pending is small (config
#            file in the output folder) so that happens every few seconds.
# Samples (VmRSS, open fds and threads from /proc; connections, subscriptions, message
# counters and slow consumers from /varz) go to samples.csv; perf/soak_plot.py draws
# soak.svg and writes summary.md; README.md records the command, commit, versions and
# machine. If riptide dies, restarts or does not exit cleanly on SIGTERM at the end, the
# script says so loudly and exits 1.
#
# Usage: perf/soak.sh [--duration 5m] [--interval 5s] [--warmup D] [--shards N]
#                     [--out DIR] [--build]
#   durations: 90, 90s, 5m, 1h. --warmup (default: a fifth of the run, at most 2m) is left
#   out of the RSS/fd figures and slope. --build rebuilds the release binaries first
#   (niced); without it they are built only when missing.
#   Rates can be changed from the environment: PUBSUB_RATE, FANOUT_RATE, QUEUE_RATE.
set -euo pipefail
cd "$(dirname "$0")/.."
COMMAND="perf/soak.sh${*:+ $*}"

# seconds from 90, 90s, 5m or 1h
to_seconds() {
  case "$1" in
    *h) echo $(("${1%h}" * 3600)) ;;
    *m) echo $(("${1%m}" * 60)) ;;
    *s) echo $(("${1%s}")) ;;
    *) echo $(("$1")) ;;
  esac
}

DURATION=5m
INTERVAL=5s
WARMUP=""
SHARDS=""
OUT=""
BUILD=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --interval) INTERVAL="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --shards) SHARDS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --build) BUILD=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
DURATION_S=$(to_seconds "$DURATION")
INTERVAL_S=$(to_seconds "$INTERVAL")
if [ -n "$WARMUP" ]; then
  WARMUP_S=$(to_seconds "$WARMUP")
else
  WARMUP_S=$((DURATION_S / 5))
  [ "$WARMUP_S" -gt 120 ] && WARMUP_S=120
fi
if [ "$DURATION_S" -lt 30 ] || [ "$INTERVAL_S" -lt 1 ]; then
  echo "need --duration of at least 30s and --interval of at least 1s" >&2
  exit 2
fi

# Traffic. Modest on purpose: a soak looks for drift over time, not for capacity, and the
# machine is shared; the whole mix keeps well under one core of loadgen.
PUBSUB_RATE=${PUBSUB_RATE:-5000}   # msgs/s offered, 2 pubs x 2 subs, 128 B
FANOUT_RATE=${FANOUT_RATE:-1000}   # msgs/s offered, 1 pub x 4 subs, 1 KiB
QUEUE_RATE=${QUEUE_RATE:-300}      # msgs/s offered, 1 pub -> group of 4, 8 KiB
STEADY_RUN_S=60                    # each steady loadgen run; a fresh one follows at once
CHURN_MSGS=500                     # messages (requests for reqrep) per churn run
CHURN_PAUSE=0.2                    # seconds between churn runs, so churn takes a slice of a core, not one
CONNECT_MSGS=500                   # connections per `loadgen connect` run, when loadgen has
                                   # it: a count, not a duration, since it connects as fast
                                   # as it can (thousands a second) and would hog the CPU
# The slow consumer: a 4 KiB receive buffer so the backlog piles up in the server (not in
# the kernel), a small max_pending so the server cuts it off within seconds, and a cap on
# how long one lives in case it is never cut (the summary counts those). 2 MB, not less:
# with 256 KB the server also cut off loadgen's own (healthy) subscribers whenever this
# shared 2-core VM stalled them for a few hundred ms; the slow consumer, fed everything on
# soak.> (about 2-4 MB/s), is still cut every few seconds.
MAX_PENDING=2MB
SLOW_RCVBUF=4096
SLOW_READ_BYTES=1024               # read per SLOW_TICK_S: far less than the traffic
SLOW_TICK_S=0.5
SLOW_LIFE_S=30
SLOW_PAUSE=1                       # seconds before the next slow consumer
GRACE_S=20                         # after the deadline, for the last runs to finish
STOP_TIMEOUT_S=15                  # riptide must exit this long after SIGTERM
MAX_FAILURE_LOGS=20                # loadgen outputs kept per driver when a run fails

if [ "$BUILD" = 1 ] || [ ! -x target/release/riptide ] || [ ! -x target/release/loadgen ]; then
  nice -n 10 cargo build --release --workspace --bins
fi
# A soak of an old binary says nothing about the tree: say so up front (and in README.md).
STALE=$(find src build.rs Cargo.toml Cargo.lock -newer target/release/riptide -print -quit)
STALE_LG=$(find loadgen -name '*.rs' -newer target/release/loadgen -print -quit)
if [ -n "$STALE" ] || [ -n "$STALE_LG" ]; then
  echo "warning: ${STALE:-$STALE_LG} is newer than the binary built from it; run with --build to soak the current tree" >&2
fi

COMMIT=$(git rev-parse --short HEAD)
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
OUT=${OUT:-results/soak/$STAMP-$COMMIT}
mkdir -p "$OUT/runs" "$OUT/failures"

. scripts/server.sh
PORT=$(free_port)
HTTP=$(free_port)
URL="nats://127.0.0.1:$PORT"
cat >"$OUT/riptide.conf" <<CONF
# written by perf/soak.sh: small max_pending so the slow consumers are cut off quickly
max_pending: $MAX_PENDING
CONF

PIDS=()      # driver loops, killed by PID on exit (each kills its own current child)
RT_PID=""
NAP_PID=""   # the main loop's sleep between samples
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$NAP_PID" ]; then kill "$NAP_PID" 2>/dev/null || true; fi
  if [ -n "$RT_PID" ]; then kill "$RT_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

shard_flag=()
[ -n "$SHARDS" ] && shard_flag=(--shards "$SHARDS")
if ! start_server "$OUT/riptide.log" target/release/riptide -a 127.0.0.1 -p "$PORT" -m "$HTTP" \
  -c "$OUT/riptide.conf" "${shard_flag[@]}"; then
  echo "FAIL: riptide did not start, see $OUT/riptide.log" >&2
  exit 1
fi
RT_PID=$SERVER_PID
# The commit the binary was built from, as /varz reports it (it can lag HEAD).
BIN_COMMIT=$(python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/varz", timeout=5)).get("git_commit", "?"))' "$HTTP" 2>/dev/null || echo "?")

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
START_MS=$(now_ms)
END_MS=$((START_MS + DURATION_S * 1000))
elapsed() { local t; t=$(($(now_ms) - START_MS)); printf '%d.%03d' $((t / 1000)) $((t % 1000)); }
remaining_s() { echo $(((END_MS - $(now_ms)) / 1000)); }

# A zombie still answers kill -0, so look at the state.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# drivers.log: one line per client run, read by soak_plot.py.
printf 't_s\tdriver\tscenario\trc\tlost\tduplicates\tnote\n' >"$OUT/drivers.log"
log_run() { # driver scenario rc lost dups note
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(elapsed)" "$@" >>"$OUT/drivers.log"
}

# driver NAME FUNCTION: runs FUNCTION N (N = 1, 2, ...) in a background loop until the
# deadline. FUNCTION starts its client through `child`, so that a TERM from cleanup stops
# the loop and the client it is waiting on, by PID.
driver() {
  local name=$1 fn=$2
  (
    child=""
    trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 0' TERM
    n=0
    while [ "$(remaining_s)" -ge 2 ]; do
      n=$((n + 1))
      "$fn" "$name" "$n"
    done
  ) &
  PIDS+=($!)
}
# child CMD...: runs CMD in the background and waits for it, so a TERM is handled at once;
# sets RC.
child() {
  "$@" &
  child=$!
  RC=0
  wait "$child" || RC=$?
  child=""
}
nap() { child sleep "$1"; }

# loadgen_run DRIVER N SCENARIO SECONDS KEEP_JSON FLAGS...: one loadgen run, logged.
# A failed run (a lost connection, lost messages, a hang caught by timeout) is recorded,
# not fatal: the summary counts them.
loadgen_run() {
  local name=$1 n=$2 scen=$3 secs=$4 keep=$5 txt lost dups json=()
  shift 5
  txt="$OUT/runs/$name.last.txt"
  [ "$keep" = 1 ] && json=(--json "$OUT/runs/$name-$n.json")
  child timeout -k 5 "$((secs + 30))" target/release/loadgen "$scen" --server "$URL" --quiet \
    "${json[@]}" "$@" >"$txt" 2>&1
  read -r lost dups < <(sed -n 's/.*lost \([0-9,]*\), duplicates \([0-9,]*\).*/\1 \2/p' "$txt" | tr -d , ; echo)
  log_run "$name" "$scen" "$RC" "${lost:-}" "${dups:-}" ""
  if [ "$RC" != 0 ] && [ "$(ls "$OUT/failures" | grep -c "^$name-")" -lt "$MAX_FAILURE_LOGS" ]; then
    cp "$txt" "$OUT/failures/$name-$n.txt"
  fi
}

steady_secs() { local r; r=$(remaining_s); [ "$r" -gt "$STEADY_RUN_S" ] && r=$STEADY_RUN_S; echo "$r"; }

steady_pubsub() { # NAME N
  local s; s=$(steady_secs)
  loadgen_run "$1" "$2" pubsub "$s" 1 --pubs 2 --subs 2 --size 128 --rate "$PUBSUB_RATE" \
    --duration "${s}s" --subject soak.busy
}
steady_fanout_queue() { # NAME N: fanout on odd runs, queue on even ones
  local s; s=$(steady_secs)
  if [ $(($2 % 2)) = 1 ]; then
    loadgen_run "$1" "$2" fanout "$s" 1 --subs 4 --size 1024 --rate "$FANOUT_RATE" \
      --duration "${s}s" --subject soak.fanout
  else
    loadgen_run "$1" "$2" queue "$s" 1 --subs 4 --size 8192 --rate "$QUEUE_RATE" \
      --duration "${s}s" --subject soak.queue
  fi
}

# `loadgen connect` is being added separately; use it if this loadgen lists it, and fall
# back to the short runs alone if it refuses these flags (exit 2: bad command line).
HAVE_CONNECT=0
target/release/loadgen --help | grep -qE '^[[:space:]]+connect[[:space:]]' && HAVE_CONNECT=1
churn() { # NAME N: a rotation of short runs, each on its own subject
  local subj="soak.churn.$2"
  case $(($2 % 5)) in
    0) if [ "$HAVE_CONNECT" = 1 ]; then
         loadgen_run "$1" "$2" connect 10 0 --clients 2 --subs 2 --msgs "$CONNECT_MSGS" --subject "$subj"
         if [ "$RC" = 2 ]; then
           HAVE_CONNECT=0
           log_run "$1" connect 2 "" "" "loadgen connect refused the flags; short runs only"
         fi
       else
         loadgen_run "$1" "$2" pubsub 10 0 --pubs 2 --subs 2 --msgs "$CHURN_MSGS" --subject "$subj"
       fi ;;
    1) loadgen_run "$1" "$2" pubsub 10 0 --pubs 1 --subs 1 --msgs "$CHURN_MSGS" --subject "$subj" ;;
    2) loadgen_run "$1" "$2" queue 10 0 --subs 3 --msgs "$CHURN_MSGS" --subject "$subj" ;;
    3) loadgen_run "$1" "$2" reqrep 10 0 --clients 2 --responders 2 --msgs "$CHURN_MSGS" --subject "$subj" ;;
    4) loadgen_run "$1" "$2" subjects 10 0 --pubs 1 --subs 2 --subjects 8 --msgs "$CHURN_MSGS" --subject "$subj" ;;
  esac
  nap "$CHURN_PAUSE"
}

# A client that subscribes to everything under soak. and reads a trickle. It sends a PING
# each tick: once the server has cut it off, a send or read fails, and it reports how long
# that took. Exit 0 either way; the note says which.
SLOW_CLIENT='import socket, sys, time
port, subject, rcvbuf, nread, tick, life = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
s.settimeout(5)
s.connect(("127.0.0.1", port))
head = b""
while b"\r\n" not in head:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("closed before INFO")
    head += chunk
s.sendall(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"soak-slow\"}\r\nSUB " + subject.encode() + b" 1\r\nPING\r\n")
s.setblocking(False)
start = time.monotonic()
while time.monotonic() - start < life:
    time.sleep(tick)
    try:
        if s.recv(nread) == b"":
            break
        s.send(b"PING\r\n")
    except BlockingIOError:
        pass
    except OSError:
        break
else:
    print(f"not cut off in {life:.0f}s")
    sys.exit(0)
print(f"cut off after {time.monotonic() - start:.1f}s")'
slow() { # NAME N
  local life note
  life=$(remaining_s)
  [ "$life" -gt "$SLOW_LIFE_S" ] && life=$SLOW_LIFE_S
  child python3 -c "$SLOW_CLIENT" "$PORT" 'soak.>' "$SLOW_RCVBUF" "$SLOW_READ_BYTES" \
    "$SLOW_TICK_S" "$life" >"$OUT/runs/$1.last.txt" 2>&1
  note=$(tail -n 1 "$OUT/runs/$1.last.txt")
  log_run "$1" slow "$RC" "" "" "$note"
  nap "$SLOW_PAUSE"
}

# One /varz fetch (no curl and no JSON tool needed): the counters the CSV keeps, or ERR.
VARZ='import json, sys, urllib.request
try:
    d = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/varz", timeout=5))
    print(" ".join(str(d[k]) for k in ["connections", "subscriptions", "total_connections", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "slow_consumers", "start"]))
except Exception as e:
    print("ERR", e)'

# fail REASON: riptide is gone or broken. Say so loudly, keep what we have, exit 1.
FAILED=""
fail() {
  FAILED=$1
  {
    echo
    echo "======================================================================"
    echo "FAIL: $1"
    echo "last lines of $OUT/riptide.log:"
    tail -n 20 "$OUT/riptide.log" | sed 's/^/    /'
    echo "======================================================================"
  } >&2
}

echo "soak: riptide pid $RT_PID on $URL, monitor http://127.0.0.1:$HTTP, ${DURATION_S}s, sampling every ${INTERVAL_S}s, output in $OUT"
driver steady-pubsub steady_pubsub
driver steady-fanout-queue steady_fanout_queue
driver churn churn
driver slow slow

CSV="$OUT/samples.csv"
echo "timestamp,elapsed_s,phase,rss_kib,fds,threads,connections,subscriptions,total_connections,in_msgs,out_msgs,in_msgs_per_s,out_msgs_per_s,in_bytes,out_bytes,slow_consumers,varz_ok" >"$CSV"
prev_ms="" prev_in="" prev_out="" first_start="" prev_total=""
# sample PHASE: appends one CSV row; calls fail (and returns 1) if riptide is gone,
# restarted or its counters went backwards.
sample() {
  local phase=$1 t_ms status rss thr fds v c s tc im om ib ob sc st ir="" or="" ok=1
  t_ms=$(now_ms)
  # One read of the status file, so a death between two reads cannot slip past.
  status=$(cat "/proc/$RT_PID/status" 2>/dev/null || true)
  rss=$(awk '/^VmRSS:/ {print $2}' <<<"$status")
  thr=$(awk '/^Threads:/ {print $2}' <<<"$status")
  if [ -z "$rss" ] || grep -q '^State:[[:space:]]*Z' <<<"$status"; then
    local rc=0
    wait "$RT_PID" || rc=$?
    RT_PID=""
    fail "riptide died at $(elapsed)s (exit status $rc)"
    return 1
  fi
  fds=$(find "/proc/$RT_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  v=$(python3 -c "$VARZ" "$HTTP")
  if [ "${v%% *}" = ERR ]; then
    ok=0 c="" s="" tc="" im="" om="" ib="" ob="" sc=""
    echo "  $(elapsed)s: /varz failed: $v" >&2
  else
    read -r c s tc im om ib ob sc st <<<"$v"
    first_start=${first_start:-$st}
    if [ "$st" != "$first_start" ]; then
      fail "riptide restarted: /varz start went from $first_start to $st"
      return 1
    fi
    if [ -n "$prev_total" ] && { [ "$tc" -lt "$prev_total" ] || [ "$im" -lt "$prev_in" ]; }; then
      fail "riptide counters went backwards (total_connections $prev_total -> $tc, in_msgs $prev_in -> $im)"
      return 1
    fi
    if [ -n "$prev_ms" ] && [ "$t_ms" -gt "$prev_ms" ]; then
      ir=$(((im - prev_in) * 1000 / (t_ms - prev_ms)))
      or=$(((om - prev_out) * 1000 / (t_ms - prev_ms)))
    fi
    prev_ms=$t_ms prev_in=$im prev_out=$om prev_total=$tc
  fi
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$(elapsed),$phase,$rss,$fds,$thr,$c,$s,$tc,$im,$om,$ir,$or,$ib,$ob,$sc,$ok" >>"$CSV"
}

# Sample on a fixed schedule (tick k at START + k * INTERVAL), so slow ticks do not drift.
k=0
while [ -z "$FAILED" ]; do
  sample soak || break
  k=$((k + 1))
  next_ms=$((START_MS + k * INTERVAL_S * 1000))
  [ "$next_ms" -gt "$END_MS" ] && break
  wait_ms=$((next_ms - $(now_ms)))
  if [ "$wait_ms" -gt 0 ]; then
    sleep "$((wait_ms / 1000)).$(printf '%03d' $((wait_ms % 1000)))" &
    NAP_PID=$!
    wait "$NAP_PID" || true
    NAP_PID=""
  fi
done

if [ -z "$FAILED" ]; then
  # Let the last runs finish on their own (each was sized to end by the deadline), then
  # stop whatever is left.
  for _ in $(seq $((GRACE_S * 10))); do
    busy=0
    for p in "${PIDS[@]}"; do alive "$p" && busy=1; done
    [ "$busy" = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  # With every client gone, connections and subscriptions must be back to 0: one more
  # sample shows that, and the RSS the server keeps once idle.
  sleep 2
  sample idle || true
fi

if [ -z "$FAILED" ]; then
  kill -TERM "$RT_PID"
  for _ in $(seq $((STOP_TIMEOUT_S * 10))); do alive "$RT_PID" || break; sleep 0.1; done
  if alive "$RT_PID"; then
    kill -KILL "$RT_PID" 2>/dev/null || true
    wait "$RT_PID" 2>/dev/null || true
    RT_PID=""
    fail "riptide did not exit within ${STOP_TIMEOUT_S}s of SIGTERM (killed)"
  else
    rc=0
    wait "$RT_PID" || rc=$?
    RT_PID=""
    [ "$rc" = 0 ] || fail "riptide exited with status $rc on SIGTERM (expected 0)"
  fi
fi
if grep -qE 'panicked|\[FTL\]' "$OUT/riptide.log"; then
  [ -n "$FAILED" ] || fail "riptide logged a panic or [FTL] line"
fi

# Stop the drivers if a failure cut the run short (cleanup would too; this keeps the
# output files complete before the summary reads them).
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
dirty=""
[ -n "$(git status --porcelain --untracked-files=no)" ] && dirty=" (with uncommitted changes)"
cat >"$OUT/README.md" <<README
# Soak run, $STAMP

\`\`\`sh
$COMMAND
\`\`\`

- Result: **${FAILED:+FAIL: }${FAILED:-PASS}** (see \`summary.md\`).
- Commit: \`$COMMIT\`$dirty. The binary reports git commit \`$BIN_COMMIT\`${STALE:+; \`$STALE\` was newer than target/release/riptide at the start, so the binary may not be this tree}${STALE_LG:+; \`$STALE_LG\` was newer than target/release/loadgen}.
- Versions: $(target/release/riptide --version); $(target/release/loadgen --version); $(rustc --version 2>/dev/null || echo "rustc unknown"); $(python3 --version).
- Machine: $(nproc) cores, $cpu, Linux $(uname -r); shared with other work, not pinned.
- Server: \`riptide -a 127.0.0.1 -p $PORT -m $HTTP -c riptide.conf${SHARDS:+ --shards $SHARDS}\` (\`max_pending: $MAX_PENDING\`).
- Run: ${DURATION_S}s, sampled every ${INTERVAL_S}s, first ${WARMUP_S}s treated as warm-up.
- Traffic (\`perf/soak.sh\` header): steady pubsub 2 x 2, 128 B at $PUBSUB_RATE msgs/s on
  \`soak.busy\`; fanout 1 KiB x 4 subs at $FANOUT_RATE msgs/s alternating with a queue group of
  4, 8 KiB at $QUEUE_RATE msgs/s, in ${STEADY_RUN_S}s loadgen runs; churn: short closed-loop runs of
  $CHURN_MSGS msgs (pubsub, queue, reqrep, subjects$([ "$HAVE_CONNECT" = 1 ] && echo "; loadgen connect of $CONNECT_MSGS connections with 2 SUBs each")) each on a new subject,
  ${CHURN_PAUSE}s apart; slow consumers on \`soak.>\` (4 KiB receive buffer, reading $SLOW_READ_BYTES B per
  ${SLOW_TICK_S}s), one at a time, recreated ${SLOW_PAUSE}s after each is cut off.

Files: \`samples.csv\` (one row per sample; \`phase\` idle is the row after all clients left),
\`soak.svg\`, \`summary.md\`, \`drivers.log\` (one line per client run), \`runs/\` (steady runs'
loadgen JSON), \`failures/\` (output of failed client runs), \`riptide.log\`, \`riptide.conf\`.
README

python3 perf/soak_plot.py "$OUT" --warmup "$WARMUP_S" --verdict "${FAILED:-PASS}"
cat "$OUT/summary.md"
echo "results in $OUT"
if [ -n "$FAILED" ]; then
  echo "FAIL: $FAILED" >&2
  exit 1
fi
