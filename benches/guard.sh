#!/usr/bin/env bash
# Side by side on the same real RocketMQ 4.9.6 broker with 1,000 consumer groups x 1 topic x 8 queues,
# every group behind: `rocketmq-sidecar scale-in check` versus what the addon's remove-broker.sh runs
# (`mqadmin brokerConsumeStats`, one JVM) and the per-group way (`mqadmin consumerProgress -g G`, one JVM
# per group: measured per call over MQ_RUNS calls, multiplied by the group count).
# With TOPICS, that many more topics (one queue each, one group at offset 0 on each) join the broker:
# the cost curve in topics, apart from groups.
# Usage: benches/guard.sh [RUNS] [GROUPS] [TOPICS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
RUNS=${1:-11}; GROUPS_N=${2:-1000}; TOPICS_N=${3:-0}; MQ_RUNS=${MQ_RUNS:-3}
cargo build --release --locked -q --examples --bins
SIDECAR=$ROOT/target/release/rocketmq-sidecar
WORK=$(mktemp -d)
cluster_up "$WORK/cluster" --no-acl
target/release/examples/guard_bench setup "$MASTER" "$GROUPS_N"
[ "$TOPICS_N" -gt 0 ] && target/release/examples/guard_bench setup-topics "$MASTER" "$TOPICS_N"
scripts/rocketmq.sh client produce "$NAMESRV" BenchGuard8 16 | grep -c '^ok' | xargs echo "messages produced:"
for _ in $(seq 1 20); do "$SIDECAR" config get --broker "$MASTER" >/dev/null; done
json=$(target/release/examples/guard_bench time "$MASTER" "$RUNS" "$SIDECAR")
ours_us=$(sed -E 's/.*"medianUs": ([0-9]+).*/\1/' <<<"$json"); rows=$(sed -E 's/.*"rows": ([0-9]+).*/\1/' <<<"$json")
bcs_us=$(median_of scripts/rocketmq.sh mqadmin brokerConsumeStats -b "$MASTER" -n "$NAMESRV")
cp_us=$(median_of scripts/rocketmq.sh mqadmin consumerProgress -g BenchGroup0000 -n "$NAMESRV")
awk -v o="$ours_us" -v b="$bcs_us" -v c="$cp_us" -v g="$GROUPS_N" -v t="$TOPICS_N" -v r="$RUNS" -v rows="$rows" 'BEGIN {
  printf "| scale-in check, %d groups x 1 topic x 8 queues, all behind%s | median wall time |\n|---|---|\n", g, (t > 0 ? sprintf(", plus %d topics", t) : "")
  printf "| `rocketmq-sidecar scale-in check` (%d runs, %d rows reported) | %.0f ms |\n", r, rows, o/1000
  printf "| `mqadmin brokerConsumeStats` (the addon'"'"'s remove-broker.sh, one JVM) | %.0f ms |\n", b/1000
  printf "| `mqadmin consumerProgress -g G`, one JVM per group (%.0f ms x %d) | %.0f s |\n", c/1000, g, c*g/1e6
  printf "| ratio vs brokerConsumeStats / vs consumerProgress per group | **%.0fx** / **%.0fx faster** |\n", b/o, c*g/o
}'
