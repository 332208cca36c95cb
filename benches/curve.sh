#!/usr/bin/env bash
# How the sidecar's cost grows with the broker: one real RocketMQ 4.9.6 broker grown to 1,000, 2,000,
# 5,000 and 10,000 consumer groups (1 topic x 8 queues, every group behind), or with AXIS=topics to as
# many topics (one queue each, one group at offset 0 on every one of them, beside 1 group behind on the
# 8-queue topic), and at each size:
#  - `scale-in check`: median wall time of 3, and the broker CPU (its JVM's utime + stime) one scan costs;
#    beside it, unless MQADMIN=0, one `mqadmin brokerConsumeStats` (what the addon's remove-broker.sh runs);
#  - `serve`'s metrics refresh: its duration (rocketmq_sidecar_broker_metrics_refresh_seconds) just
#    after start (every minute statistic asked for) and, unless STEADY=0, once the offsets have been
#    still for more than 2 minutes (statistics known to be 0 are not asked: src/metrics/quiet.rs):
#    the median and the longest of a minute of refreshes with nothing put (each keeps the topic
#    stats it has and reads a share of the topics again: src/guard/kept.rs), and of 6 refreshes
#    while a producer puts 2 messages a second (most catch the kept stats up from the entries put since:
#    src/guard/catch_up.rs); the series it renders, and serve's peak RSS (VmHWM) over the whole run;
#  - with STEADY=1, the broker CPU one steady refresh costs (watched rate less unwatched rate).
# METRICS_INTERVAL (seconds, default 5) is serve's --metrics-interval; "a minute" of steady refreshes
# is as many as fit in 60 s (at least 4).
# Usage: [AXIS=groups|topics] [SIZES="1000 2000 5000 10000"] [STEADY=1] [MQADMIN=1] [GLIBC=0]
#        [METRICS_INTERVAL=5] benches/curve.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
SIZES=${SIZES:-1000 2000 5000 10000}
AXIS=${AXIS:-groups}
METRICS_INTERVAL=${METRICS_INTERVAL:-5}
STEADY_REFRESHES=$(( 60 / METRICS_INTERVAL > 4 ? 60 / METRICS_INTERVAL : 4 ))
case "$AXIS" in groups) grow=setup ;; topics) grow=setup-topics ;; *) echo "AXIS is groups or topics" >&2; exit 64 ;; esac
cargo build --release --locked -q --examples --bins
SIDECAR=$ROOT/target/release/rocketmq-sidecar
# The image's binary (static musl: deploy/Dockerfile) when that target and its C compiler (for ring)
# are installed (scripts/test.sh installs both): its allocator is the one whose peak RSS a pod shows.
# GLIBC=1 keeps the glibc build (its arenas hold more).
if [ "${GLIBC:-0}" != 1 ] && command -v x86_64-linux-musl-gcc >/dev/null \
  && rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  cargo build --release --locked -q --target x86_64-unknown-linux-musl --bin rocketmq-sidecar
  SIDECAR=$ROOT/target/x86_64-unknown-linux-musl/release/rocketmq-sidecar
fi
echo "measuring $SIDECAR" >&2
WORK=$(mktemp -d)
cluster_up "$WORK/cluster" --no-acl
BROKER_PID=${CLUSTER_PIDS[1]}
target/release/examples/guard_bench setup "$MASTER" 1 >/dev/null
scripts/rocketmq.sh client produce "$NAMESRV" BenchGuard8 16 | grep -c '^ok' | xargs echo "messages produced:" >&2
ticks() { jvm_ticks "$BROKER_PID"; }

# The durations of the next N refreshes (each time the last-success time moves), as
# "median ms (max N)"; gives up after 3 minutes.
refreshes() {
  local n=$1 last="" now durations=() deadline=$((SECONDS + 180))
  while [ ${#durations[@]} -lt "$n" ] && [ $SECONDS -lt $deadline ]; do
    now=$(metric rocketmq_sidecar_broker_metrics_last_success_timestamp_seconds)
    [ -n "$last" ] && [ "$now" != "$last" ] && durations+=("$(ms)")
    last=$now; sleep 0.3
  done
  printf '%s\n' "${durations[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%d ms (max %d)", a[int((NR+1)/2)], a[NR]}'
}
# The same while a producer puts 2 messages a second on the 8-queue topic: no refresh can keep
# the topic stats then. Timed once the producer's JVM has settled.
refreshes_while_producing() {
  # The producer runs until its standard input closes: a pipe this shell holds open (fd 3).
  rm -f "$WORK/loop.in"; mkfifo "$WORK/loop.in"
  scripts/rocketmq.sh client produce-loop "$NAMESRV" BenchGuard8 2 600 <"$WORK/loop.in" >"$WORK/loop.out" 2>&1 &
  local loop=$! java_pid deadline=$((SECONDS + 60))
  exec 3>"$WORK/loop.in"
  until grep -q '^ok' "$WORK/loop.out" || [ $SECONDS -ge $deadline ]; do sleep 0.5; done
  java_pid=$(pgrep -f 'TestClient produce-loop' | head -1)
  [ -n "$java_pid" ] && wait_settled "$java_pid"
  refreshes "$1"
  echo " $(grep -c '^ok' "$WORK/loop.out") messages put" >&2
  exec 3>&-
  wait "$loop" 2>/dev/null || true
}

STEADY=${STEADY:-1}
MQADMIN=${MQADMIN:-1}
echo "| $AXIS | scale-in check (median of 3) | broker CPU per scan | \`mqadmin brokerConsumeStats\` | metrics refresh: first | steady, nothing put | broker CPU per steady refresh | steady, 2 puts a second | series | serve peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|"
have=1 # groups (or topics) below this number exist already
[ "$AXIS" = topics ] && have=0
for n in $SIZES; do
  target/release/examples/guard_bench "$grow" "$MASTER" "$n" "$have" >&2; have=$n
  wait_settled "$BROKER_PID" # its table persists and JIT after the growth are not the sidecar's cost
  times=(); cpu=(); verdicts=""
  for _ in 1 2 3; do
    a=$(ticks); s=$(date +%s%N)
    rc=0; "$SIDECAR" scale-in check --broker "$MASTER" --quiet-window 0s --timeout 10s >/dev/null 2>"$WORK/check.err" || rc=$?
    e=$(date +%s%N); b=$(ticks)
    times+=($(( (e - s) / 1000000 ))); cpu+=($(( (b - a) * 1000 / $(getconf CLK_TCK) )))
    # A group is behind at every size, so each check must answer "not safe" (exit 1): a check that
    # failed fast would otherwise read as a fast scan.
    [ "$rc" = 1 ] || verdicts=" (exit $rc: $(head -c 120 "$WORK/check.err" | tr '\n' ' '))"
  done
  scan=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p); scan_cpu=$(printf '%s\n' "${cpu[@]}" | sort -n | sed -n 2p)
  scan="$scan ms$verdicts"
  # What the addon's remove-broker.sh runs for the same question: one JVM, one run.
  mq=-
  if [ "$MQADMIN" = 1 ]; then
    s=$(date +%s%N)
    if scripts/rocketmq.sh mqadmin brokerConsumeStats -b "$MASTER" -n "$NAMESRV" >"$WORK/bcs.out" 2>&1; then why=""
    else why=" (failed: $(grep -m1 -iE 'exception|error' "$WORK/bcs.out" | cut -c1-80))"; fi
    mq="$(( ($(date +%s%N) - s) / 1000000 )) ms$why"
  fi
  port=$(free_port)
  "$SIDECAR" serve --broker "$MASTER" --namesrv "$NAMESRV" --listen "127.0.0.1:$port" --metrics-interval "${METRICS_INTERVAL}s" --log warn &
  pid=$!
  metric() { curl -s "127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
  for _ in $(seq 1 600); do [ "$(metric rocketmq_sidecar_broker_metrics_series)" ] && break; sleep 0.2; done
  sleep $(( 2 * METRICS_INTERVAL + 1 )) # two more refreshes
  ms() { metric rocketmq_sidecar_broker_metrics_refresh_seconds | awk '{printf "%.0f", $1 * 1000}'; }
  refresh=$(ms); steady=-; per_refresh=-; busy=-
  if [ "$STEADY" = 1 ]; then
    sleep 130
    # A minute of refreshes with nothing put: each keeps the topic stats it has and reads a share
    # of the topics again, every topic once a minute (src/guard/kept.rs).
    w0=$(ticks); t0=$(date +%s%N); steady=$(refreshes "$STEADY_REFRESHES"); w1=$(ticks); t1=$(date +%s%N)
    kept0=$(metric rocketmq_sidecar_broker_metrics_topic_stats_kept_total)
    caught0=$(metric rocketmq_sidecar_broker_metrics_topic_stats_caught_up_total)
    busy=$(refreshes_while_producing 6)
    kept1=$(metric rocketmq_sidecar_broker_metrics_topic_stats_kept_total)
    caught1=$(metric rocketmq_sidecar_broker_metrics_topic_stats_caught_up_total)
    # How those refreshes got their topic stats: caught up from the entries put since the last
    # read, kept (nothing put in between), or read from every topic.
    busy="$busy ($(awk -v k="$((kept1 - kept0))" -v c="$((caught1 - caught0))" \
      'BEGIN { printf "%d caught up, %d kept", c, k }'))"
  fi
  series=$(metric rocketmq_sidecar_broker_metrics_series)
  rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if [ "$STEADY" = 1 ]; then
    # The broker's CPU per steady refresh: its CPU over the minute watched (its refreshes plus the
    # role poll) less what it spends unwatched in as long (measured over 30 s), per refresh.
    i0=$(ticks); sleep 30; i1=$(ticks)
    per_refresh=$(awk -v w=$((w1 - w0)) -v i=$((i1 - i0)) -v hz="$(getconf CLK_TCK)" -v watched_ms=$(( (t1 - t0) / 1000000 )) \
      -v n="$STEADY_REFRESHES" 'BEGIN { printf "%.0f ms", (w - i * watched_ms / 30000) / n * 1000 / hz }')
  fi
  echo "| $n | $scan | $scan_cpu ms | $mq | $refresh ms | $steady | $per_refresh | $busy | $series | $rss MiB |"
done
