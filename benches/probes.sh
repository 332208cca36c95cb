#!/usr/bin/env bash
# /role's latency while the agent works hardest. One real RocketMQ 4.9.6 broker with N_GROUPS consumer
# groups (default 10,000; 1 topic x 8 queues, every group behind); `serve` refreshes its broker
# metrics every 10 s (a refresh at 10,000 groups decodes the broker's largest answers) while a caller
# asks /scale-in back to back (a scan about every second), and a second process sends GET /role at
# RATE req/s (default 200) for SECS seconds (default 40) over 4 keep-alive connections. Latency
# counts from when each request was due (open loop), so queueing behind other work shows.
#
# Prints p50 / p99 / max for /role on an idle `serve` and under that load; with OLD=/path/to/an/older
# rocketmq-sidecar the same for that build, against the same broker in the same run.
# Usage: [N_GROUPS=10000] [RATE=200] [SECS=40] [OLD=binary] benches/probes.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
GROUPS_N=${N_GROUPS:-10000} # not GROUPS: bash sets that to the user's group ids
RATE=${RATE:-200}
SECS=${SECS:-40}
cargo build --release --locked -q --examples --bins
SIDECAR=$ROOT/target/release/rocketmq-sidecar
LOAD=$ROOT/target/release/examples/http_load
WORK=$(mktemp -d)
cluster_up "$WORK/cluster" --no-acl
trap cluster_down EXIT
target/release/examples/guard_bench setup "$MASTER" "$GROUPS_N" >&2
scripts/rocketmq.sh client produce "$NAMESRV" BenchGuard8 16 | grep -c '^ok' | xargs echo "messages produced:" >&2

# measure BINARY LABEL: one table row for idle, one under the refresh + scan load.
measure() {
  local bin=$1 label=$2 port pid scanner idle busy refresh scans
  rm -f "$WORK/scale-in-answers"
  port=$(free_port)
  "$bin" serve --broker "$MASTER" --namesrv "$NAMESRV" --listen "127.0.0.1:$port" --metrics-interval 10s \
    --log warn &
  pid=$!
  metric() { curl -s "127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
  for _ in $(seq 1 600); do [ "$(metric rocketmq_sidecar_broker_metrics_series)" ] && break; sleep 0.2; done
  idle=$("$LOAD" "127.0.0.1:$port" /role "$RATE" 10 4)
  (n=0; while kill -0 "$pid" 2>/dev/null; do
    curl -s -o /dev/null "127.0.0.1:$port/scale-in"; n=$((n + 1)); echo "$n" >"$WORK/scale-in-answers"
  done) &
  scanner=$!
  busy=$("$LOAD" "127.0.0.1:$port" /role "$RATE" "$SECS" 4)
  refresh=$(metric rocketmq_sidecar_broker_metrics_refresh_seconds | awk '{printf "%.0f", $1 * 1000}')
  scans=$(cat "$WORK/scale-in-answers" 2>/dev/null || echo 0)
  kill "$scanner" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  row() { echo "$2" | awk -v l="$label" -v w="$1" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "| %s | %s | %s | %s | %s | %s |\n", l, w, v["p50_ms"] " ms", v["p99_ms"] " ms", v["max_ms"] " ms", v["non200"] }'; }
  row "idle" "$idle"
  row "a ${refresh} ms metrics refresh every 10 s; /scale-in back to back ($scans answers)" "$busy"
}

echo "GET /role at $RATE req/s, $GROUPS_N groups (one run, $(date -u +%F), $(nproc) cores):"
echo
echo "| build | while | p50 | p99 | max | non-200 |"
echo "|---|---|---|---|---|---|"
measure "$SIDECAR" "this tree"
if [ -n "${OLD:-}" ]; then measure "$OLD" "OLD ($(basename "$OLD"))"; fi
