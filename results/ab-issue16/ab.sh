#!/usr/bin/env bash
# Issue 16's reshaping must cost nothing: Riptide before it (OLD_BIN, built from 26cdede) and
# after it (target/release/riptide), both --shards 1 pinned to CPU 0 and running at once,
# loadgen pinned to CPU 1. pub, pubsub and fanout 1 x 4 at 128 B and 16 KiB, plus
# request/reply latency; REPS repetitions, which binary goes first alternating. Prints one
# line per run; summarize with summary.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${OLD_BIN:?OLD_BIN must name the riptide binary built from 26cdede}"
REPS=${REPS:-5}
NEW=target/release/riptide; LG=target/release/loadgen
taskset -c 0 $NEW -a 127.0.0.1 -p 4561 --shards 1 >/dev/null 2>&1 & NP=$!
taskset -c 0 "$OLD_BIN" -a 127.0.0.1 -p 4562 --shards 1 >/dev/null 2>&1 & OP=$!
trap 'kill $NP $OP' EXIT
sleep 1
one() { # which scenario size flags...
  local which=$1 scen=$2 size=$3; shift 3
  local port=4561; [ "$which" = old ] && port=4562
  local msgs=2000000; [ "$size" -gt 1024 ] && msgs=200000
  taskset -c 1 $LG "$scen" --server nats://127.0.0.1:$port --size "$size" --msgs $msgs "$@" \
    --quiet --json /tmp/ab16-$which.json >/dev/null 2>&1
  python3 -c "import json;d=json.load(open('/tmp/ab16-$which.json'));print('$scen $size $*'.strip(), '$which', round(d.get('sub_msgs_per_s') or d.get('pub_msgs_per_s')))"
}
lat() { # which
  local port=4561; [ "$1" = old ] && port=4562
  taskset -c 1 $LG reqrep --server nats://127.0.0.1:$port --size 128 --clients 4 --responders 2 \
    --rate 5000 --duration 3s --quiet --json /tmp/ab16-$1.json >/dev/null 2>&1
  python3 -c "import json;d=json.load(open('/tmp/ab16-$1.json'));l=d['latency_us'];print('reqrep p50_us', '$1', l['p50']);print('reqrep p99_us', '$1', l['p99'])"
}
for r in $(seq 1 "$REPS"); do
  order="new old"; [ $((r % 2)) = 0 ] && order="old new"
  for size in 128 16384; do
    for which in $order; do one $which pub $size; done
    for which in $order; do one $which pubsub $size --pubs 1 --subs 1; done
    for which in $order; do one $which fanout $size --subs 4; done
  done
  for which in $order; do lat $which; done
done
