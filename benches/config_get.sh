#!/usr/bin/env bash
# Side by side on the same real RocketMQ 4.9.6 broker: `rocketmq-sidecar config get` versus what the addon
# runs today, `mqadmin getBrokerConfig` (one JVM per call, launched with the distribution's tools.sh flags).
# Prints wall-time medians, max RSS and the ratio as a Markdown table.   Usage: benches/config_get.sh [RUNS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
RUNS=${1:-15}; MQ_RUNS=${MQ_RUNS:-5}
cargo build --release --locked -q
SIDECAR=$ROOT/target/release/rocketmq-sidecar
cluster_up "$(mktemp -d)" --no-acl

# measure RUNS CMD... -> prints "median_us max_rss_kib" (wall time from plain runs; RSS from one run under GNU time)
measure() {
  local runs=$1; shift
  local times=() i start end rssfile; rssfile=$(mktemp)
  for i in $(seq 1 "$runs"); do
    start=$(date +%s%N); "$@" >/dev/null 2>&1; end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  /usr/bin/time -o "$rssfile" -f '%M' "$@" >/dev/null 2>&1
  local med; med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$med $(tail -1 "$rssfile")"; rm -f "$rssfile"
}

"$SIDECAR" config get --broker "$MASTER" | grep -q brokerRole= || { echo "sidecar cannot read the broker" >&2; exit 1; }
# Warm the freshly started JVMs up first: a production broker has been running for a while.
for _ in $(seq 1 50); do "$SIDECAR" config get --broker "$MASTER" >/dev/null; done
read -r ours_us ours_rss < <(measure "$RUNS" "$SIDECAR" config get --broker "$MASTER")
read -r mq_us mq_rss < <(measure "$MQ_RUNS" scripts/rocketmq.sh mqadmin getBrokerConfig -b "$MASTER" -n "$NAMESRV")
awk -v o="$ours_us" -v m="$mq_us" -v orss="$ours_rss" -v mrss="$mq_rss" -v r="$RUNS" -v mr="$MQ_RUNS" 'BEGIN {
  printf "| read the live broker config | median wall time | max RSS |\n|---|---|---|\n"
  printf "| `rocketmq-sidecar config get` (%d runs) | %.1f ms | %.1f MiB |\n", r, o/1000, orss/1024
  printf "| `mqadmin getBrokerConfig` (%d runs) | %.0f ms | %.0f MiB |\n", mr, m/1000, mrss/1024
  printf "| ratio | **%.0f× faster** | **%.0f× less memory** |\n", m/o, mrss/orss
}'
