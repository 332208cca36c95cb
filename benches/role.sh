#!/usr/bin/env bash
# Role probe, side by side on the same real RocketMQ master (4.9.6; ROCKETMQ_VERSION=5.5.0 for 5.x):
#  - one-shot `rocketmq-sidecar role` (process start to exit) vs `mqadmin getBrokerConfig` (what an operator runs
#    to read brokerRole) and, when GET_ROLE_SH points at the addon's scripts/get-role.sh, vs that script;
#  - the same against the broker's cheapest answer: `rocketmq-sidecar config get`, one process and one
#    GET_BROKER_CONFIG (the role costs what it has to: the goal is at most 2 ms more);
#  - GET /role on `serve` under 1,000 req/s for 10 s from a second process (examples/http_load.rs);
#  - the agent's RSS while serving under that load.
# Usage: [GET_ROLE_SH=/path/to/get-role.sh] benches/role.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
cargo build --release --locked -q --bin rocketmq-sidecar --example http_load
SIDECAR=$ROOT/target/release/rocketmq-sidecar
LOAD=$ROOT/target/release/examples/http_load
cluster_up "$(mktemp -d)" --no-acl

median_ms() { # RUNS CMD... -> median wall ms
  local runs=$1; shift; local t=() i s e
  for i in $(seq 1 "$runs"); do s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); t+=($(( (e - s) / 1000 ))); done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

[ "$("$SIDECAR" role --broker "$MASTER" --namesrv "$NAMESRV")" = master ] || { echo "role probe failed" >&2; exit 1; }
# Let the freshly started JVMs finish starting, then warm both request paths up: a production broker
# has been running for a while (in a 5.x broker's first seconds both answers are 3x slower).
wait_settled
for _ in $(seq 1 150); do
  "$SIDECAR" role --broker "$MASTER" --namesrv "$NAMESRV" >/dev/null; "$SIDECAR" config get --broker "$MASTER" >/dev/null
done
# 101 pairs, alternating so that drift on a busy machine hits both alike, each timed from its fork
# to its exit by one timer process (timed from bash, each sample also carries two `date` forks,
# whose jitter is as large as the gap measured).
read -r ours cheapest < <(python3 - "$SIDECAR" "$MASTER" "$NAMESRV" <<'PY'
import statistics, subprocess, sys, time
sidecar, broker, namesrv = sys.argv[1:]
runs = {"role": [sidecar, "role", "--broker", broker, "--namesrv", namesrv],
        "cheapest": [sidecar, "config", "get", "--broker", broker]}
took = {name: [] for name in runs}
for _ in range(101):
    for name, argv in runs.items():
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took[name].append((time.perf_counter() - start) * 1000)
print("%.2f %.2f" % (statistics.median(took["role"]), statistics.median(took["cheapest"])))
PY
)
mq=$(median_ms 5 scripts/rocketmq.sh mqadmin getBrokerConfig -b "$MASTER" -n "$NAMESRV")
echo "| one-shot role probe, process start to exit (median) | time | ratio |"
echo "|---|---|---|"
echo "| \`rocketmq-sidecar role\` (with name-server cross-check; RocketMQ ${ROCKETMQ_VERSION:-4.9.6}) | $ours ms | 1 |"
awk -v c="$cheapest" -v o="$ours" 'BEGIN { printf "| the broker'"'"'s cheapest answer: `rocketmq-sidecar config get` (one GET_BROKER_CONFIG) | %.2f ms | role takes %+.2f ms more |\n", c, o - c }'
awk -v m="$mq" -v o="$ours" 'BEGIN { printf "| `mqadmin getBrokerConfig` | %.0f ms | **%.0f× slower** |\n", m, m/o }'
if [ -n "${GET_ROLE_SH:-}" ] && [ -f "$GET_ROLE_SH" ]; then
  port=${MASTER##*:}
  gr=$(BROKER_PORT=$port median_ms 11 bash "$GET_ROLE_SH")
  awk -v g="$gr" -v o="$ours" 'BEGIN { printf "| addon `get-role.sh` | %.0f ms | **%.0f× slower** |\n", g, g/o }'
  dead=$(free_port)
  echo
  echo "Against a stopped broker: rocketmq-sidecar role -> exit $("$SIDECAR" role --broker "127.0.0.1:$dead" >/dev/null 2>&1; echo $?)," \
       "get-role.sh prints '$(BROKER_PORT=$dead bash "$GET_ROLE_SH" 2>/dev/null)' (exit $(BROKER_PORT=$dead bash "$GET_ROLE_SH" >/dev/null 2>&1; echo $?))"
fi

port=$(free_port)
"$SIDECAR" serve --broker "$MASTER" --namesrv "$NAMESRV" --listen "127.0.0.1:$port" --log warn &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null || true; cluster_down' EXIT
until curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1; do sleep 0.1; done
"$LOAD" "127.0.0.1:$port" /role 1000 10 4 >/tmp/role-load.$$ &
LOAD_PID=$!
rss=0; while kill -0 $LOAD_PID 2>/dev/null; do
  r=$(awk '/VmRSS/ {print $2}' /proc/$SERVE_PID/status); [ "$r" -gt "$rss" ] && rss=$r; sleep 0.2
done
wait $LOAD_PID
echo
echo "GET /role at 1,000 req/s for 10 s (4 keep-alive connections): $(cat /tmp/role-load.$$); serve max RSS $((rss / 1024)).$(( (rss % 1024) * 10 / 1024 )) MiB"
rm -f /tmp/role-load.$$
