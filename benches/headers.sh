#!/usr/bin/env bash
# What the request header format costs the broker: one real RocketMQ 4.9.6 broker grown to N consumer
# groups (default 10,000; 1 topic x 8 queues, every group behind, as in benches/curve.sh), then
# `scale-in check` run ROUNDS times (default 6) with `--header-format binary` and `--header-format json`
# in turn, on the same broker. Per run: the wall time and the broker JVM's CPU (utime + stime, 10 ms
# ticks) over it; then the median and range of each format. Alternating keeps a machine that slows
# down during the bench from favouring either side.
# Usage: [N=10000] [ROUNDS=6] benches/headers.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
N=${N:-10000}
ROUNDS=${ROUNDS:-6}
cargo build --release --locked -q --examples --bins
SIDECAR=$ROOT/target/release/rocketmq-sidecar
WORK=$(mktemp -d)
cluster_up "$WORK/cluster" --no-acl
BROKER_PID=${CLUSTER_PIDS[1]}
target/release/examples/guard_bench setup "$MASTER" "$N" 1 >&2
scripts/rocketmq.sh client produce "$NAMESRV" BenchGuard8 16 | grep -c '^ok' | xargs echo "messages produced:" >&2
wait_settled "$BROKER_PID" # its table persists and JIT after the growth are not the sidecar's cost
hz=$(getconf CLK_TCK)
: >"$WORK/runs"
for round in $(seq 1 "$ROUNDS"); do
  for format in binary json; do
    a=$(jvm_ticks "$BROKER_PID"); s=$(date +%s%N)
    "$SIDECAR" scale-in check --broker "$MASTER" --quiet-window 0s --timeout 10s --header-format "$format" \
      >"$WORK/check.out" 2>&1 || true
    e=$(date +%s%N); b=$(jvm_ticks "$BROKER_PID")
    grep -q "not safe to remove" "$WORK/check.out" || { echo "unexpected answer: $(cat "$WORK/check.out")" >&2; exit 1; }
    echo "$format $(( (e - s) / 1000000 )) $(( (b - a) * 1000 / hz ))" | tee -a "$WORK/runs" >&2
  done
done
summary() { # $1 format, $2 column (2 wall, 3 broker CPU)
  awk -v f="$1" '$1 == f {print $'"$2"'}' "$WORK/runs" | sort -n |
    awk '{a[NR]=$1} END {printf "%d ms (%d to %d)", (a[int((NR+1)/2)] + a[int(NR/2)+1]) / 2, a[1], a[NR]}'
}
echo "| $N groups, $ROUNDS checks each | wall: median (range) | broker CPU per check: median (range) |"
echo "|---|---|---|"
for format in binary json; do
  echo "| \`--header-format $format\` | $(summary "$format" 2) | $(summary "$format" 3) |"
done
