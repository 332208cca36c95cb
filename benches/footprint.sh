#!/usr/bin/env bash
# What watching a broker costs the broker: its JVM's own CPU time (utime + stime from /proc) over a
# window, with nothing watching it (idle) and with each watcher, windows alternating so that drift in
# the idle baseline shows up as spread instead of as a cost. Same real broker, same machine.
#
# Watchers (what the master broker pays; the name servers' share is not counted):
#  - `serve` at its defaults beside the master and beside its slave, as a shard's sidecar containers
#    run (role poll every 1 s with the name-server cross-check, broker metrics every 15 s; the slave's
#    sidecar samples its lag from the master's runtime info on the lag cadence);
#  - the same plus the exec variant's roleProbe (`role --timeout 1s` every 2 s on the master), as a
#    pod runs both;
#  - the addon's roleProbe: get-role.sh every 5 s, one GET_BROKER_CONFIG each (sent here with
#    `rocketmq-sidecar config get`, the same request).
# Then what single requests cost the broker (examples/request_cost.rs: 2,000 back to back on one
# connection, minus the broker's idle burn over as long), which explains the windows and gives
# rocketmq-exporter's cost from its request mix (its source: every collector runs once a minute;
# per broker one GET_BROKER_RUNTIME_INFO, plus per topic and per group requests, counted here at the
# cheapest request's cost, so the figure is a lower bound).
#
# Usage: [ROCKETMQ_VERSION=5.5.0] [WINDOW=30] [ROUNDS=5] benches/footprint.sh
# Prints, per watcher, the broker CPU it adds in % of one core: median and range over the rounds.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
WINDOW=${WINDOW:-30}
ROUNDS=${ROUNDS:-5}
cargo build --release --locked -q --bin rocketmq-sidecar --example request_cost
SIDECAR=$ROOT/target/release/rocketmq-sidecar
WORK=$(mktemp -d)
cluster_up "$WORK/cluster" --no-acl
BROKER_PID=${CLUSTER_PIDS[1]}
TICKS=$(getconf CLK_TCK)
WATCHER_PIDS=()
stop_watchers() { for p in "${WATCHER_PIDS[@]+"${WATCHER_PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; WATCHER_PIDS=(); SERVE_PORTS=(); }
trap 'stop_watchers; cluster_down' EXIT

# The broker JVM's CPU ticks: "WHOLE SERVING", the whole process and only the threads that serve
# requests (the admin pool, Netty's codec and I/O threads) plus the garbage collector's. An idle 5.x
# broker burns 20-30 % of a core in its own services (the timer wheel's flush thread above all), and
# that moves by several % from one window to the next: the serving threads show a watcher's cost
# without that noise.
SERVING='^(AdminBrokerThre|NettyServer|GC Thread|G1 |VM Thread)'
broker_ticks() {
  local t whole=0 serving=0 n comm
  whole=$(jvm_ticks "$BROKER_PID")
  for t in /proc/"$BROKER_PID"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    [[ $comm =~ $SERVING ]] || continue
    n=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null) || continue
    serving=$((serving + n))
  done
  echo "$whole $serving"
}

# The broker's CPU over one window, in % of one core: "WHOLE SERVING".
window_cpu() {
  local a b
  a=$(broker_ticks); sleep "$WINDOW"; b=$(broker_ticks)
  awk -v a="$a" -v b="$b" -v t="$TICKS" -v w="$WINDOW" 'BEGIN {
    split(a, x, " "); split(b, y, " "); printf "%.2f %.2f", (y[1] - x[1]) / t / w * 100, (y[2] - x[2]) / t / w * 100 }'
}

every() { # SECONDS CMD...: runs CMD every SECONDS in the background
  local period=$1; shift
  ( while true; do "$@" >/dev/null 2>&1 || true; sleep "$period"; done ) &
  WATCHER_PIDS+=("$!")
}

SERVE_PORTS=()
start_serve() { # BROKER
  local port; port=$(free_port)
  "$SIDECAR" serve --broker "$1" --namesrv "$NAMESRV" --listen "127.0.0.1:$port" --log warn &
  WATCHER_PIDS+=("$!"); SERVE_PORTS+=("$port")
}

# How many requests of each kind a serve has sent: "KIND COUNT" lines from its own metrics.
request_counts() { # PORT
  curl -sf "http://127.0.0.1:$1/metrics" | sed -nE 's/^rocketmq_sidecar_request_duration_seconds_count\{request="([A-Z_]+)"\} ([0-9]+)$/\1 \2/p'
}

# Request counts of both sidecars, one "SIDE KIND COUNT" line each.
both_counts() {
  request_counts "${SERVE_PORTS[0]}" | sed 's/^/master /'
  request_counts "${SERVE_PORTS[1]}" | sed 's/^/slave /'
}

# The master's CPU that the two sidecars' requests between two counts (files) account for, in %
# of one core over SECONDS: each kind's count times what one costs. The master's sidecar: its
# broker requests; the slave's sidecar: half its runtime-info requests (the other half are its own
# broker's, for the lag).
accounted_cpu() { # BEFORE AFTER SECONDS
  join -a 2 -e 0 -o 2.1,1.2,2.2 <(awk '{print $1"/"$2, $3}' "$1" | sort) <(awk '{print $1"/"$2, $3}' "$2" | sort) |
    awk -v s="$3" -v cfg="${cost[config]}" -v rt="${cost[runtime]}" -v small="${cost[topics]}" '
      { split($1, k, "/"); side = k[1]; kind = k[2]; n = $3 - $2 }
      kind == "GET_BROKER_CLUSTER_INFO" || kind == "GET_ROUTEINFO_BY_TOPIC" { next } # the name servers
      side == "slave" && kind == "GET_BROKER_RUNTIME_INFO" { ms += n / 2 * rt; next }
      side == "slave" { next }
      kind == "GET_BROKER_CONFIG" { ms += n * cfg; next }
      kind == "GET_BROKER_RUNTIME_INFO" { ms += n * rt; next }
      { ms += n * small }
      END { printf "%.2f", ms / (s * 1000) * 100 }'
}

start_watchers() {
  case "$1" in
    serve) start_serve "$MASTER"; start_serve "$SLAVE" ;;
    serve+roleProbe) start_serve "$MASTER"; start_serve "$SLAVE"; every 2 "$SIDECAR" role --broker "$MASTER" --namesrv "$NAMESRV" --timeout 1s ;;
    addon-roleProbe) every 5 "$SIDECAR" config get --broker "$MASTER" ;;
  esac
  # Past start-up, so the window measures the steady state: a sidecar's first two runtime-info
  # samples (the lag's and the metrics') come at once, the cadence is set from the second.
  case "$1" in serve*) sleep 20 ;; *) sleep 3 ;; esac
}

# Warm the freshly started JVM up: a production broker has been running for a while.
for _ in $(seq 1 30); do "$SIDECAR" role --broker "$MASTER" --namesrv "$NAMESRV" >/dev/null; done
sleep 5

# What single requests cost the broker, in ms of its CPU each.
declare -A cost
for kind in config runtime topics offsets; do
  n=2000; [ "$kind" = runtime ] && n=200 # enough of each that the idle burn subtracted is noise
  json=$(target/release/examples/request_cost "$MASTER" "$BROKER_PID" "$kind" "$n")
  cost[$kind]=$(sed -E 's/.*"brokerCpuMsPerRequest": (-?[0-9.]+).*/\1/' <<<"$json")
  echo "per request: $json" >&2
  [ "$kind" = topics ] && TOPICS=$(sed -E 's/.*"topics": ([0-9]+).*/\1/' <<<"$json")
done

declare -A added serving
WATCHERS=(serve serve+roleProbe addon-roleProbe)
for round in $(seq 1 "$ROUNDS"); do
  for w in "${WATCHERS[@]}"; do
    idle=$(window_cpu)
    start_watchers "$w"
    [ "$w" = serve ] && both_counts >"$WORK/before"
    busy=$(window_cpu)
    if [ "$w" = serve ]; then both_counts >"$WORK/after"; accounted="${accounted:-} $(accounted_cpu "$WORK/before" "$WORK/after" "$WINDOW")"; fi
    stop_watchers
    d=$(awk -v b="${busy% *}" -v i="${idle% *}" 'BEGIN { printf "%.2f", b - i }')
    ds=$(awk -v b="${busy#* }" -v i="${idle#* }" 'BEGIN { printf "%.2f", b - i }')
    added[$w]="${added[$w]:-} $d"; serving[$w]="${serving[$w]:-} $ds"
    echo "round $round, $w: whole JVM idle ${idle% *} %, watched ${busy% *} %, added $d %; serving threads idle ${idle#* } %, watched ${busy#* } %, added $ds % of one core" >&2
  done
done

echo "Broker CPU added by each watcher (RocketMQ ${ROCKETMQ_VERSION:-4.9.6}, ${ROUNDS} rounds of ${WINDOW} s idle vs ${WINDOW} s watched, % of one core):"
echo
echo "| watcher | serving threads: median | range | whole JVM: median | range |"
echo "|---|---|---|---|---|"
spread() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END { printf "%.2f %% | %.2f to %.2f %%", a[int((NR+1)/2)], a[1], a[NR] }'; }
for w in "${WATCHERS[@]}"; do
  echo "| $w | $(spread ${serving[$w]}) | $(spread ${added[$w]}) |"
done
echo "| serve, by its requests: each kind counted (its own metrics) times what one costs the broker (below) | $(spread $accounted) | | |"
echo
echo "What single requests cost this broker (ms of its CPU each, 2,000 back to back, runtime info 200): GET_BROKER_CONFIG ${cost[config]}, GET_BROKER_RUNTIME_INFO ${cost[runtime]}, GET_ALL_TOPIC_CONFIG ${cost[topics]}, GET_ALL_CONSUMER_OFFSET ${cost[offsets]}."
awk -v rt="${cost[runtime]}" -v small="${cost[offsets]}" -v t="$TOPICS" 'BEGIN {
  # rocketmq-exporter, once a minute: runtime info, and per topic its stats, its consumers and its
  # put statistics (3 requests), counted at the cheapest request cost.
  printf "rocketmq-exporter at its defaults (one collection a minute, %d topics): at least %.2f %% of one core\n", t, (rt + 3 * t * small) / 60000 * 100
}'
