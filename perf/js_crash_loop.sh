#!/usr/bin/env bash
# Crash loop: is every message Riptide acked still there after a kill -9?
#
# Starts target/release/riptide with JetStream on a fresh store directory, creates the file
# stream CRASH on crash.data, and then ITER times: a publisher (perf/js_crash_client.py)
# publishes continuously with acks, appending every acked (seq, payload) to acked.txt; after
# a random 50-500 ms the server gets SIGKILL; it is started again on the same store, and
# the client checks through $JS.API.STREAM.MSG.GET.CRASH that every message acked so far
# (in every iteration) is there with its payload, through $JS.API.STREAM.INFO.CRASH that
# state.last_seq is at least the highest acked seq (and that the stream has no holes), and
# that the acked seqs are unique and increasing. Beside the publisher, a consumer pulls
# from the durable pull consumer WORKER and acks what it gets (recording each seq whose ack
# the server answered in consumed.txt); after the last iteration a drain pulls what WORKER
# has left, redeliveries of what the kills left unacked included, and every acked publish
# must have been consumed at least once. The first violation stops the loop with
# exit 1 and names the seq. A restart that does not reach `Server is ready` or a log with a
# panic stops it too (exit 2). The server's logs, the publishers' and checks' output and
# the acked file land in --out; after a failure the store directory is kept too (its path
# is printed) for a post-mortem.
#
# --max-payload N draws payload sizes from 1..N bytes (256 by default); larger ones fill
# the store's 8 MiB blocks sooner, so kills land around block rolls too.
#
# Usage: perf/js_crash_loop.sh [--iter N] [--seed N] [--sync-always] [--window N] [--max-payload N] [--out DIR] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

ITER=100
SEED=$RANDOM
SYNC_ALWAYS=0
# Publishes awaiting their ack: several per group commit, while keeping the publisher (and so
# what every later verify reads back) to about 30,000 messages/s.
WINDOW=16
MAX_PAYLOAD=256
OUT=""
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --iter) ITER="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --sync-always) SYNC_ALWAYS=1; shift ;;
    --window) WINDOW="$2"; shift 2 ;;
    --max-payload) MAX_PAYLOAD="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

. scripts/server.sh
# --no-build: use the binaries as they are, when another build holds cargo's lock.
if [ "$BUILD" = 1 ]; then cargo build --release -q -p riptide --bins; fi

COMMIT=$(git rev-parse --short HEAD)
OUT=${OUT:-results/js-crash-$(date -u +%Y-%m-%dT%H%MZ)-$COMMIT}
mkdir -p "$OUT"
STORE=$(mktemp -d /tmp/js-crash-store.XXXXXX)
ACKED=$OUT/acked.txt
: >"$ACKED"
CONSUMED=$OUT/consumed.txt
: >"$CONSUMED"
STREAM=CRASH
SUBJECT=crash.data
# Random kill points, reproducible with --seed.
RANDOM=$SEED
KILL_MIN_MS=50
KILL_SPREAD_MS=450
# How long the publisher may take to connect and send its first publishes.
PUBLISHER_START_TIMEOUT_S=10

CONFIG=$OUT/riptide.conf
{
  echo "jetstream {"
  echo "  store_dir: \"$STORE\""
  [ "$SYNC_ALWAYS" = 1 ] && echo "  sync_interval: always"
  echo "}"
} >"$CONFIG"

PORT=$(free_port)
SERVER_PID=""
PUB_PID=""
CONSUMER_PID=""
cleanup() {
  [ -n "$PUB_PID" ] && kill "$PUB_PID" 2>/dev/null || true
  [ -n "$CONSUMER_PID" ] && kill "$CONSUMER_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
}
trap cleanup EXIT

client() { python3 perf/js_crash_client.py "$@" --port "$PORT"; }

# start LOG: Riptide on the store, ready, and no panic in its log; exit 2 otherwise.
start() {
  if ! start_server "$1" target/release/riptide -c "$CONFIG" -a 127.0.0.1 -p "$PORT" --shards 1; then
    echo "FAIL: riptide did not become ready; $1:" >&2
    tail -20 "$1" >&2
    exit 2
  fi
  if grep -q "panicked" "$1"; then
    echo "FAIL: riptide panicked; $1:" >&2
    tail -20 "$1" >&2
    exit 2
  fi
}

# check ITERATION: the client's verify; a violation ends the loop with exit 1.
check() {
  local rc=0
  client verify --stream "$STREAM" --acked "$ACKED" >"$OUT/verify-$1.txt" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    cat "$OUT/verify-$1.txt" >&2
    echo "FAIL after restart $1 (seed $SEED): see $OUT and the store $STORE" >&2
    summary "$1" "$((rc == 1 ? 1 : 0))"
    exit "$rc"
  fi
}

summary() { # iterations violations
  echo "js_crash_loop: $1 iterations, $(wc -l <"$ACKED") acked messages, $2 violations (seed $SEED$([ "$SYNC_ALWAYS" = 1 ] && echo ', sync_interval: always'), $OUT)"
}

echo "riptide on 127.0.0.1:$PORT, store $STORE, $ITER iterations, seed $SEED"
start "$OUT/server-0.log"
client create --stream "$STREAM" --subject "$SUBJECT"

for i in $(seq 1 "$ITER"); do
  started=$OUT/publisher-$i.started
  client publish --subject "$SUBJECT" --acked "$ACKED" --window "$WINDOW" --max-payload "$MAX_PAYLOAD" --started "$started" \
    >"$OUT/publisher-$i.txt" 2>&1 &
  PUB_PID=$!
  client consume --stream "$STREAM" --consumed "$CONSUMED" >"$OUT/consumer-$i.txt" 2>&1 &
  CONSUMER_PID=$!
  for _ in $(seq $((PUBLISHER_START_TIMEOUT_S * 100))); do
    [ -e "$started" ] && break
    kill -0 "$PUB_PID" 2>/dev/null || break
    sleep 0.01
  done
  if [ ! -e "$started" ]; then
    echo "FAIL: the publisher did not start:" >&2
    cat "$OUT/publisher-$i.txt" >&2
    exit 2
  fi
  sleep "$(printf '0.%03d' $((KILL_MIN_MS + RANDOM % KILL_SPREAD_MS)))"
  kill -9 "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  # The publisher ends when its connection does; 2 is an error ack or a protocol error.
  if ! wait "$PUB_PID"; then
    echo "FAIL: publisher $i:" >&2
    cat "$OUT/publisher-$i.txt" >&2
    exit 2
  fi
  PUB_PID=""
  # The consumer too ends with its connection; 2 is a protocol or API error.
  if ! wait "$CONSUMER_PID"; then
    echo "FAIL: consumer $i:" >&2
    cat "$OUT/consumer-$i.txt" >&2
    exit 2
  fi
  CONSUMER_PID=""
  start "$OUT/server-$i.log"
  check "$i"
  echo "  $i: $(cat "$OUT/publisher-$i.txt"); $(cat "$OUT/consumer-$i.txt"); $(cat "$OUT/verify-$i.txt")"
done

rc=0
client drain --stream "$STREAM" --acked "$ACKED" --consumed "$CONSUMED" >"$OUT/drain.txt" 2>&1 || rc=$?
cat "$OUT/drain.txt"
if [ "$rc" != 0 ]; then
  echo "FAIL: the consumer's drain (seed $SEED): see $OUT and the store $STORE" >&2
  summary "$ITER" "$((rc == 1 ? 1 : 0))"
  exit "$rc"
fi

summary "$ITER" 0
rm -rf "$STORE"
