#!/usr/bin/env bash
# /metrics with 1,000 consumer groups x 1 topic x 8 queues (every group behind), side by side on the same
# real RocketMQ 4.9.6 broker with what can read the same lag without the sidecar:
#  - `rocketmq-sidecar serve` GET /metrics: median scrape time, the background refresh's duration, and
#    the agent's peak RSS (VmHWM);
#  - `mqadmin brokerConsumeStats` (one JVM: every group's lag on the broker) and `mqadmin consumerProgress -g G`
#    (one JVM per group, measured per call and multiplied by the group count).
# apache/rocketmq-exporter is not published on Maven Central (it is built from source), so it is not run here.
# Usage: benches/metrics.sh [SCRAPES] [GROUPS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
SCRAPES=${1:-51}; GROUPS_N=${2:-1000}; MQ_RUNS=${MQ_RUNS:-3}
cargo build --release --locked -q --examples --bins
SIDECAR=$ROOT/target/release/rocketmq-sidecar
WORK=$(mktemp -d)
cluster_up "$WORK/cluster" --no-acl
target/release/examples/guard_bench setup "$MASTER" "$GROUPS_N"
scripts/rocketmq.sh client produce "$NAMESRV" BenchGuard8 16 | grep -c '^ok' | xargs echo "messages produced:"

port=$(free_port)
"$SIDECAR" serve --broker "$MASTER" --namesrv "$NAMESRV" --listen "127.0.0.1:$port" --metrics-interval 5s \
  >"$WORK/serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true; cluster_down' EXIT
metric() { curl -s "127.0.0.1:$port/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
for _ in $(seq 1 300); do
  s=$(metric rocketmq_sidecar_broker_metrics_series); [ "${s:-0}" -gt "$GROUPS_N" ] 2>/dev/null && break; sleep 0.2
done
series=$(metric rocketmq_sidecar_broker_metrics_series)
[ "${series:-0}" -gt "$GROUPS_N" ] || { echo "no broker metrics after 60 s" >&2; cat "$WORK/serve.log" >&2; exit 1; }
sleep 12 # two more refreshes, so the peak RSS includes steady-state refreshing
times=()
for _ in $(seq 1 "$SCRAPES"); do
  t=$(curl -s -o "$WORK/page" -w '%{time_total}' "127.0.0.1:$port/metrics"); times+=("$t")
done
scrape_ms=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]*1000}')
bytes=$(wc -c <"$WORK/page"); lines=$(grep -vc '^#' "$WORK/page")
refresh_ms=$(metric rocketmq_sidecar_broker_metrics_refresh_seconds | awk '{printf "%.0f", $1*1000}')
diffs=$(grep -c '^rocketmq_group_diff{' "$WORK/page")
rss_mb=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$serve_pid/status")

bcs_us=$(median_of scripts/rocketmq.sh mqadmin brokerConsumeStats -b "$MASTER" -n "$NAMESRV")
cp_us=$(median_of scripts/rocketmq.sh mqadmin consumerProgress -g BenchGroup0000 -n "$NAMESRV")
awk -v s="$scrape_ms" -v r="$refresh_ms" -v rss="$rss_mb" -v b="$bcs_us" -v c="$cp_us" -v g="$GROUPS_N" \
    -v n="$SCRAPES" -v lines="$lines" -v bytes="$bytes" -v d="$diffs" 'BEGIN {
  printf "| metrics, %d groups x 1 topic x 8 queues, all behind | time | ratio |\n|---|---|---|\n", g
  printf "| `GET /metrics` scrape (median of %d; %d series, %d group_diff, %.0f KiB) | %.1f ms | 1 |\n", n, lines, d, bytes/1024, s
  printf "| the background refresh behind it (every --metrics-interval) | %d ms | |\n", r
  printf "| `mqadmin brokerConsumeStats` (one JVM, lag only) | %.0f ms | **%.0fx slower** than a scrape, %.1fx than a refresh |\n", b/1000, b/1000/s, b/1000/r
  printf "| `mqadmin consumerProgress -g G`, one JVM per group (%.0f ms x %d) | %.0f s | **%.0fx slower** than a refresh |\n", c/1000, g, c*g/1e6, c*g/1000/r
  printf "| agent peak RSS (VmHWM) while serving and refreshing | %s MB | |\n", rss
}'
