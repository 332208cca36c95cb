#!/usr/bin/env bash
# The demo: a real local RocketMQ 4.9.6 cluster (name server, master + slave of shard broker-a, and an
# ACL-enabled broker) on free loopback ports, the agent's commands against it, then everything stopped.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
install_missing

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" || printf '(exit code %s)\n' "$?"; }

step "Building rocketmq-sidecar (release)"
cargo build --release --locked -q
# The KubeBlocks step's Go builds (kubeconform and kbagent: about 1.5 min the first time, seconds when
# cached) run in the background from here, while the steps below mostly wait on the cluster. (Started
# beside the Rust build they only share its two cores.)
KB_BUILD_LOG=$(mktemp)
( scripts/tools.sh kubeconform && scripts/kubeblocks.sh agent ) >"$KB_BUILD_LOG" 2>&1 &
KB_BUILD_PID=$!
SIDECAR=$ROOT/target/release/rocketmq-sidecar
ls -l "$SIDECAR" | awk '{printf "binary: %.1f MiB\n", $5/1048576}'

step "Starting RocketMQ 4.9.6: name server, broker-a master + slave, ACL broker"
cluster_up "$(mktemp -d)"
echo "name server $NAMESRV, master $MASTER, slave $SLAVE, ACL broker $ACL_BROKER"
export PATH="$ROOT/target/release:$PATH"
read -r AK SK _ < <(scripts/rocketmq.sh acl-accounts | head -1)

step "Cluster topology from the name server"
show rocketmq-sidecar cluster --namesrv "$NAMESRV"

step "Live broker config (GET_BROKER_CONFIG): identity and role of master and slave"
for b in "$MASTER" "$SLAVE"; do
  printf '$ rocketmq-sidecar config get --broker %s | grep -E "^(brokerName|brokerId|brokerRole)="\n' "$b"
  rocketmq-sidecar config get --broker "$b" | grep -E '^(brokerName|brokerId|brokerRole)='
done
printf 'keys in the master config: %s\n' "$(rocketmq-sidecar config get --broker "$MASTER" | wc -l)"

step "ACL-enabled broker: signed with the admin key, then with a wrong secret, then unsigned"
export ROCKETMQ_SIDECAR_ACCESS_KEY=$AK
printf '$ ROCKETMQ_SIDECAR_SECRET_KEY=*** rocketmq-sidecar config get --broker %s --json | grep -E "(aclEnable|brokerName)"\n' "$ACL_BROKER"
ROCKETMQ_SIDECAR_SECRET_KEY=$SK rocketmq-sidecar config get --broker "$ACL_BROKER" --json | grep -E '"(aclEnable|brokerName)"'
printf '$ ROCKETMQ_SIDECAR_SECRET_KEY=wrong-secret '
ROCKETMQ_SIDECAR_SECRET_KEY=wrong-secret show rocketmq-sidecar config get --broker "$ACL_BROKER"
unset ROCKETMQ_SIDECAR_ACCESS_KEY
printf '(no credentials) '
show rocketmq-sidecar config get --broker "$ACL_BROKER"

step "Role probe (the KubeBlocks roleProbe action): master, slave, then a stopped broker"
show rocketmq-sidecar role --broker "$MASTER" --namesrv "$NAMESRV"
show rocketmq-sidecar role --broker "$SLAVE" --namesrv "$NAMESRV"
show rocketmq-sidecar role --broker "127.0.0.1:$(free_port)" --timeout 1s

step "serve next to the slave: HTTP probe endpoints answered from a 1 s poller"
SERVE_PORT=$(free_port)
rocketmq-sidecar serve --broker "$SLAVE" --namesrv "$NAMESRV" --listen "127.0.0.1:$SERVE_PORT" --log warn &
SERVE_PID=$!
until curl -sf "http://127.0.0.1:$SERVE_PORT/ready" >/dev/null; do sleep 0.1; done
# Brokers answer runtime statistics (used for the slave lag) about a second after they boot.
for _ in $(seq 1 50); do curl -s "http://127.0.0.1:$SERVE_PORT/status" | grep -q '"slaveLagBytes":[0-9]' && break; sleep 0.1; done
for path in /role /primary /replica '/replica?lag=1048576' /health /live; do
  printf 'GET %-22s -> %s\n' "$path" "$(curl -s -o /tmp/demo-body.$$ -w '%{http_code}' "http://127.0.0.1:$SERVE_PORT$path") $(head -1 /tmp/demo-body.$$)"
done
printf 'GET /status -> '; curl -s "http://127.0.0.1:$SERVE_PORT/status" | head -c 400; echo
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; rm -f /tmp/demo-body.$$

step "Config reloader: the addon's reconfigure action form (KEY VALUE), validated, one request, read back"
show rocketmq-sidecar reconfigure --broker "$MASTER" maxMessageSize 5242880
show rocketmq-sidecar reconfigure --broker "$MASTER" traceOn yes
show rocketmq-sidecar reconfigure --broker "$MASTER" maxMesageSize 1
show rocketmq-sidecar reconfigure --broker "$MASTER" flushDiskType SYNC_FLUSH
CONF_DIR=$(mktemp -d)
printf 'maxMessageSize=4194304\nwaitTimeMillsInSendQueue=900\nsendMessageThreadPoolNums=8\nlistenPort=10911\nautoMessageVersionOnTopicLen=true\n' >"$CONF_DIR/broker.conf"
echo "\$ cat broker.conf"; cat "$CONF_DIR/broker.conf"
show rocketmq-sidecar config diff --broker "$MASTER" --file "$CONF_DIR/broker.conf"
printf '$ rocketmq-sidecar config params | grep -E "^(name|maxMessageSize|flushDiskType|sendMessageThreadPoolNums|adminBrokerThreadPoolNums) "\n'
rocketmq-sidecar config params | grep -E '^(name|maxMessageSize|flushDiskType|sendMessageThreadPoolNums|adminBrokerThreadPoolNums) '

step "serve --config-file: the file is watched; a change is applied live and shown in /status"
SERVE_PORT=$(free_port)
rocketmq-sidecar serve --broker "$MASTER" --listen "127.0.0.1:$SERVE_PORT" --config-file "$CONF_DIR/broker.conf" --log info 2>"$CONF_DIR/serve.log" &
SERVE_PID=$!
until curl -sf "http://127.0.0.1:$SERVE_PORT/ready" >/dev/null; do sleep 0.1; done
sleep 0.5
echo "\$ sed -i s/waitTimeMillsInSendQueue=900/waitTimeMillsInSendQueue=1000/ broker.conf"
sed -i 's/waitTimeMillsInSendQueue=900/waitTimeMillsInSendQueue=1000/' "$CONF_DIR/broker.conf"
for _ in $(seq 1 40); do rocketmq-sidecar config get --broker "$MASTER" | grep -q '^waitTimeMillsInSendQueue=1000$' && break; sleep 0.05; done
printf '$ rocketmq-sidecar config get | grep waitTimeMillsInSendQueue\n'; rocketmq-sidecar config get --broker "$MASTER" | grep '^waitTimeMillsInSendQueue='
printf 'GET /status (reload part) -> '; curl -s "http://127.0.0.1:$SERVE_PORT/status" | sed -E 's/.*"reload":/"reload":/' | head -c 600; echo
echo "serve log (off a terminal: one JSON object per line, for the pod's log pipeline):"
grep -E "applied|restart" "$CONF_DIR/serve.log" | cut -c1-260
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; rm -rf "$CONF_DIR"

step "Scale-in guard (the shardRemove action): unconsumed messages and unstopped writes block removing the shard"
echo "(DemoTopic created on broker-a with mqadmin; messages produced and consumed with the official Java"
echo " client, scripts/java/TestClient.java)"
scripts/rocketmq.sh mqadmin updateTopic -b "$MASTER" -t DemoTopic -r 4 -w 4 >/dev/null 2>&1
scripts/rocketmq.sh client produce "$NAMESRV" DemoTopic 4 | grep -c '^ok' | xargs printf 'produced %s messages; '
scripts/rocketmq.sh client consume "$NAMESRV" DemoTopic DemoGroup 4 30 | grep consumed
echo "(everything consumed, but the last write was seconds ago: producers may still be sending)"
show rocketmq-sidecar scale-in check --broker "$MASTER" --ignore-delayed
echo "(--quiet-window 0 turns the write rule off, to look at the backlog alone)"
show rocketmq-sidecar scale-in check --broker "$MASTER" --ignore-delayed --quiet-window 0
scripts/rocketmq.sh client produce "$NAMESRV" DemoTopic 5 | grep -c '^ok' | xargs printf 'produced %s more messages to DemoTopic\n'
show rocketmq-sidecar scale-in check --broker "$MASTER" --quiet-window 0
scripts/rocketmq.sh client consume "$NAMESRV" DemoTopic DemoGroup 5 30 | grep consumed
echo "(a new push consumer group, before its client first saves offsets ~10 s after it starts: counted"
echo " from each queue's minimum, kind noOffsetYet)"
scripts/rocketmq.sh mqadmin updateTopic -b "$MASTER" -t DemoDrainTopic -r 4 -w 4 >/dev/null 2>&1
scripts/rocketmq.sh client produce "$NAMESRV" DemoDrainTopic 20 | grep -c '^ok' | xargs printf 'produced %s messages to DemoDrainTopic\n'
HELPERS=$(mktemp -d); mkfifo "$HELPERS/stdin"; exec 7<>"$HELPERS/stdin"
# A helper runs until its standard input closes: fd 7 holds the FIFO open; closing it ends them all.
# `background LOG PATTERN ARGS...` waits for a line matching PATTERN.
HELPER_PIDS=()
# (`7>&-`: a helper that inherited fd 7 would hold the FIFO's write end open itself and never see EOF.)
background() { local log=$1 ready=$2; shift 2; scripts/rocketmq.sh client "$@" <"$HELPERS/stdin" >"$log" 2>/dev/null 7>&- &
  HELPER_PIDS+=("$!")
  until grep -q "$ready" "$log" 2>/dev/null; do sleep 0.2; done; }
background "$HELPERS/push" '^started' push "$NAMESRV" DemoDrainTopic DemoPushGroup CLUSTERING 120
show rocketmq-sidecar scale-in check --broker "$MASTER" --quiet-window 0
echo "(a drain while a producer keeps sending through its cached route: 4.9.6 keeps accepting its messages"
echo " on the read-only broker until the producer's next route refresh; this producer stops after 8 s)"
background "$HELPERS/producer" '^ok' produce-loop "$NAMESRV" DemoDrainTopic 5 8
show rocketmq-sidecar scale-in drain --broker "$MASTER" --quiet-window 5s --drain-every 1s --drain-timeout 60s
show rocketmq-sidecar scale-in check --shard broker-a --namesrv "$NAMESRV" --quiet-window 5s
exec 7>&-; wait "${HELPER_PIDS[@]}" 2>/dev/null || true; rm -rf "$HELPERS"
rocketmq-sidecar reconfigure --broker "$MASTER" brokerPermission 6 >/dev/null && echo "(write permission restored)"
echo "(a broker that cannot be asked is never reported safe)"
show rocketmq-sidecar scale-in check --broker "127.0.0.1:$(free_port)" --timeout 1s
echo "(a mistyped flag is exit 64, so a broken manifest never reads as the guard's 'cannot tell' 2)"
show rocketmq-sidecar scale-in check --broker "$MASTER" --quiet-windw 5s

step "Metrics: GET /metrics, the agent's own and the broker's under rocketmq-exporter's names"
scripts/rocketmq.sh client produce "$NAMESRV" DemoTopic 3 | grep -c '^ok' | xargs printf 'produced %s messages to DemoTopic (DemoGroup is now behind)\n'
SERVE_PORT=$(free_port)
rocketmq-sidecar serve --broker "$MASTER" --namesrv "$NAMESRV" --listen "127.0.0.1:$SERVE_PORT" --metrics-interval 1s --log warn &
SERVE_PID=$!
until curl -s "http://127.0.0.1:$SERVE_PORT/metrics" | grep -q '^rocketmq_group_diff{.*DemoGroup'; do sleep 0.2; done
printf '$ curl -s :%s/metrics | grep -E "^rocketmq_(sidecar_(broker_up|role|scale_in)|group_diff|consumer_offset|producer_offset|brokeruntime_msg_put_total_today_now).*"\n' "$SERVE_PORT"
curl -s "http://127.0.0.1:$SERVE_PORT/metrics" \
  | grep -E '^rocketmq_(sidecar_(broker_up|role\{|scale_in)|group_diff|consumer_offset|producer_offset|brokeruntime_msg_put_total_today_now)' \
  | grep -E 'sidecar|DemoTopic|brokeruntime'
curl -s "http://127.0.0.1:$SERVE_PORT/metrics" | grep -vc '^#' | xargs printf '(%s series in all; a scrape reads a cache refreshed every --metrics-interval)\n'
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
scripts/rocketmq.sh client consume "$NAMESRV" DemoTopic DemoGroup 3 30 >/dev/null

step "Shard seeding: the master's sidecar on the addon's agent port; a new shard's store seeded from it"
SERVE_PORT=$(free_port); AGENT_PORT=$(free_port)
rocketmq-sidecar serve --broker "$MASTER" --listen "127.0.0.1:$SERVE_PORT" --agent-listen "127.0.0.1:$AGENT_PORT" --log warn &
SERVE_PID=$!
until curl -sf "http://127.0.0.1:$SERVE_PORT/ready" >/dev/null; do sleep 0.1; done
printf 'GET :%s/topicInfo -> ' "$AGENT_PORT"; curl -s "http://127.0.0.1:$AGENT_PORT/topicInfo" | head -c 300; echo " ..."
NEW_STORE=$(mktemp -d)
show rocketmq-sidecar seed --from "http://127.0.0.1:$(free_port),http://127.0.0.1:$AGENT_PORT" --data-dir "$NEW_STORE" --peer-timeout 1s
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; rm -rf "$NEW_STORE"

step "Faults: the master paused with SIGSTOP (accepts TCP, never answers): bounded, and never a lie"
kill -STOP "${CLUSTER_PIDS[1]}"
show rocketmq-sidecar role --broker "$MASTER" --namesrv "$NAMESRV" --timeout 1s
show rocketmq-sidecar scale-in check --broker "$MASTER" --timeout 1s
kill -CONT "${CLUSTER_PIDS[1]}"
echo "(resumed)"; show rocketmq-sidecar role --broker "$MASTER" --namesrv "$NAMESRV"
echo "(docs/failure-modes.md lists every fault, what the agent does, and the test that shows it)"

step "TLS: the same port in RocketMQ's default permissive mode (its self-signed test certificate)"
show rocketmq-sidecar role --broker "$MASTER" --tls on --tls-insecure --log error
DEMO_CA=$(mktemp -d)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DEMO_CA/ca.key" -out "$DEMO_CA/ca.pem" -days 1 -subj /CN=demo-ca 2>/dev/null
echo "(verified against a CA that did not sign the broker's certificate:)"
show rocketmq-sidecar role --broker "$MASTER" --tls on --tls-ca "$DEMO_CA/ca.pem"
rm -rf "$DEMO_CA"
echo "(tests/tls.rs and tests/tls5.rs: enforcing name servers and brokers, mutual TLS, rotation, every error kind)"

step "KubeBlocks: the manifests per version, and the real kbagent v1.0.2 running the actions"
# Only what this step runs, started at the top: kbagent from KubeBlocks v1.0.2's Go module. The control
# plane (etcd, kube-apiserver, manager) and KubeBlocks' name matching are built by scripts/test.sh for
# the tests.
wait "$KB_BUILD_PID" || { cat "$KB_BUILD_LOG"; echo "demo: building kubeconform / kbagent failed" >&2; exit 1; }
rm -f "$KB_BUILD_LOG"
for set in 1.0.2:exec 1.0.2:http 1.2.0-alpha.3:kb-1.2/exec 1.2.0-alpha.3:kb-1.2/http; do
  printf 'KubeBlocks %-14s %-12s ' "${set%%:*}" "${set#*:}"
  kubectl kustomize "deploy/kubeblocks/${set#*:}" | .cache/bin/kubeconform -strict -summary \
    -schema-location "tests/data/schemas/kubeblocks-${set%%:*}/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" - | tail -1
done
DEMO_TMP=$(mktemp -d)
kubectl kustomize deploy/kubeblocks/exec > "$DEMO_TMP/exec.yaml"
# kbagent configured from the exec ComponentDefinition as KubeBlocks' conversion does it
# (scripts/kbagent-env.py; tests/kubeblocks.rs checks it against KubeBlocks' own code); the binary path
# stands in for the pod's /sidecar-bin mount.
KB_ENV=$(python3 scripts/kbagent-env.py "$DEMO_TMP/exec.yaml" demo-broker | sed "s#/sidecar-bin/rocketmq-sidecar#$SIDECAR#g")
KB_PORT=$(free_port)
env KB_AGENT_ACTION="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["KB_AGENT_ACTION"])' <<<"$KB_ENV")" ROCKETMQ_SIDECAR_BROKER="$MASTER" ROCKETMQ_SIDECAR_NAMESRV="$NAMESRV" \
  .cache/kubeblocks/bin/kbagent --address 127.0.0.1 --port "$KB_PORT" --streaming-port "$(free_port)" >/dev/null 2>&1 &
KB_PID=$!
until curl -s "http://127.0.0.1:$KB_PORT" >/dev/null 2>&1; do sleep 0.1; done
# kbagent's answer: the action's output, or its error as KubeBlocks would put it in a Warning event.
kb_action() {
  printf 'POST /v1.0/action %s -> ' "$1"
  curl -s -X POST "http://127.0.0.1:$KB_PORT/v1.0/action" -d "$1" | python3 -c 'import base64,json,sys
r = json.load(sys.stdin)
out = base64.b64decode(r.get("output") or "").decode().strip()
print("FAILED (the deletion waits): " + r["message"] if r.get("error") else (out or "ok"))'
}
kb_action '{"action":"roleProbe"}'
echo "(preTerminate: KubeBlocks 1.0.2 runs it before deleting a Component; a failure holds the deletion)"
echo "(the whole Cluster is being deleted: no scale-in variable, so nothing is asked or changed)"
kb_action '{"action":"preTerminate"}'
scripts/rocketmq.sh client produce "$NAMESRV" DemoTopic 3 | grep -c '^ok' | xargs printf '(produced %s messages to DemoTopic: DemoGroup is behind; now the shard itself is removed)\n'
kb_action '{"action":"preTerminate","parameters":{"KB_CLUSTER_COMPONENT_IS_SCALING_IN":"true","MY_CLUSTER_COMP_NAME":"demo-broker-a"}}'
printf 'brokerPermission after it: %s (producers move to the other shards)\n' "$(rocketmq-sidecar config get --broker "$MASTER" | sed -n 's/^brokerPermission=//p')"
kill "$KB_PID"; wait "$KB_PID" 2>/dev/null || true; rm -rf "$DEMO_TMP"
scripts/rocketmq.sh client consume "$NAMESRV" DemoTopic DemoGroup 3 30 >/dev/null
rocketmq-sidecar reconfigure --broker "$MASTER" brokerPermission 6 >/dev/null && echo "(write permission restored for the rest of the demo)"
echo "(deploy/README.md: what each KubeBlocks version calls; tests/kubeblocks_control_plane.rs: a real 1.0.2 control plane)"

step "Speed: one config get, process start to exit"
start=$(date +%s%N); rocketmq-sidecar config get --broker "$MASTER" >/dev/null; end=$(date +%s%N)
echo "rocketmq-sidecar config get: $(( (end - start) / 1000 )) µs (mqadmin getBrokerConfig: ~3.5 s, see README)"

step "Stopping the cluster"
