# What the JetStream side-by-side scripts (perf/js_compare.sh, perf/js_consume_compare.sh)
# share: their setup, a config file per server with its own store, the pinned command that
# runs each, and how a failed loadgen run is recorded. Source it from the repository root.

. scripts/server.sh

# js_setup SUFFIX: the Go server installed, the binaries built (unless BUILD=0), the pinning
# (SERVER_CPU 0, LOADGEN_CPUS the rest), COMMIT and STAMP, OUT defaulting to
# results/<date>-<commit>-SUFFIX with raw/ and servers/ in it, and a fresh STORES directory
# in /tmp; the servers in SERVER_PIDS are stopped, and STORES removed, on exit.
js_setup() {
  ensure_go_server
  # BUILD=0 (--no-build): the binaries as they are, when another build holds cargo's lock.
  if [ "$BUILD" = 1 ]; then cargo build --release -q -p riptide -p loadgen --bins; fi
  NCPU=$(nproc)
  SERVER_CPU=0
  LOADGEN_CPUS=1-$((NCPU - 1))
  [ "$NCPU" -lt 2 ] && LOADGEN_CPUS=0
  COMMIT=$(git rev-parse --short HEAD)
  STAMP=$(date -u +%Y-%m-%dT%H%MZ)
  OUT=${OUT:-results/$STAMP-$COMMIT-$1}
  mkdir -p "$OUT/raw" "$OUT/servers"
  STORES=$(mktemp -d "/tmp/$1-compare.XXXXXX")
  SERVER_PIDS=()
  trap stop_all EXIT
}

stop_all() {
  [ ${#SERVER_PIDS[@]} -gt 0 ] && kill "${SERVER_PIDS[@]}" 2>/dev/null || true
  rm -rf "$STORES"
}

# failed TAG: a loadgen run that exited non-zero, named in failed.txt.
failed() { echo "  $1: loadgen failed, see raw/$1.txt"; echo "$1" >>"$OUT/failed.txt"; }

# config NAME SYNC: a config file with NAME's own, fresh store directory; SYNC is `default`
# or `always`.
config() {
  local file=$OUT/servers/$1.conf
  rm -rf "${STORES:?}/$1"
  mkdir -p "$STORES/$1"
  {
    echo "jetstream {"
    echo "  store_dir: \"$STORES/$1\""
    [ "$2" = always ] && echo "  sync_interval: always"
    echo "}"
  } >"$file"
  echo "$file"
}

# The command that runs server KIND (go or riptide) with CONFIG on PORT, pinned to one core:
# Go with GOMAXPROCS=1, Riptide with one shard.
server_cmd() { # kind config port
  case "$1" in
    go) echo "env GOMAXPROCS=1 taskset -c $SERVER_CPU .venv/bin/nats-server -c $2 -a 127.0.0.1 -p $3" ;;
    riptide) echo "taskset -c $SERVER_CPU target/release/riptide -c $2 -a 127.0.0.1 -p $3 --shards 1" ;;
  esac
}
