#!/usr/bin/env bash
# Side by side on the same real RocketMQ 4.9.6 broker: applying every parameter the reloader may send
# (~157 keys, each changed) with `rocketmq-sidecar reconfigure --file` (one update request + read-back
# verification) versus the addon's way, `mqadmin updateBrokerConfig -k KEY -v VALUE`: one JVM per key
# (measured per key over MQ_RUNS calls, multiplied by the key count).
# Usage: benches/reload.sh [RUNS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
RUNS=${1:-21}; MQ_RUNS=${MQ_RUNS:-5}
cargo build --release --locked -q --examples --bins
SIDECAR=$ROOT/target/release/rocketmq-sidecar
WORK=$(mktemp -d)
cluster_up "$WORK/cluster" --no-acl
# Warm the fresh broker JVM up (a production broker has been running for a while).
for _ in $(seq 1 50); do "$SIDECAR" config get --broker "$MASTER" >/dev/null; done
json=$(target/release/examples/reload_bench "$MASTER" "$RUNS" "$SIDECAR" "$WORK")
keys=$(sed -E 's/.*"keys": ([0-9]+).*/\1/' <<<"$json")
cli_us=$(sed -E 's/.*"cliMedianUs": ([0-9]+).*/\1/' <<<"$json")
lib_us=$(sed -E 's/.*"libMedianUs": ([0-9]+).*/\1/' <<<"$json")
times=()
for i in $(seq 1 "$MQ_RUNS"); do
  start=$(date +%s%N)
  scripts/rocketmq.sh mqadmin updateBrokerConfig -b "$MASTER" -n "$NAMESRV" -k waitTimeMillsInPullQueue -v $((5000 + i)) >/dev/null 2>&1
  end=$(date +%s%N); times+=($(( (end - start) / 1000 )))
done
mq_us=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
awk -v k="$keys" -v c="$cli_us" -v l="$lib_us" -v m="$mq_us" -v r="$RUNS" -v mr="$MQ_RUNS" 'BEGIN {
  printf "| apply %d changed parameters, verified | median wall time |\n|---|---|\n", k
  printf "| `rocketmq-sidecar reconfigure --file` (process, %d runs) | %.1f ms |\n", r, c/1000
  printf "| reloader inside `serve` (in-process, %d runs) | %.1f ms |\n", r, l/1000
  printf "| `mqadmin updateBrokerConfig`, one JVM per key (%.0f ms per key × %d, %d runs measured) | %.0f s |\n", m/1000, k, mr, m*k/1e6
  printf "| ratio (process vs process) | **%.0f× faster** |\n", m*k/c
}'
