#!/usr/bin/env bash
# TLS against plaintext, side by side on one real RocketMQ broker (4.9.6; ROCKETMQ_VERSION=5.5.0 for
# 5.x) in tls.server.mode=permissive, which speaks both on one port, with a CA-signed certificate
# made here by openssl (the client verifies it):
#  - one-shot `role` (process start to exit: the TLS handshake included), alternating, 31 runs each;
#  - one-shot `reconfigure` of one live key (two connections' worth of requests: read, update,
#    read back), alternating, 21 runs each;
#  - `serve`'s kept connection: GET_BROKER_CONFIG as `serve` times it (its debug log), 30 checks each.
# Usage: benches/tls.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
cargo build --release --locked -q --bin rocketmq-sidecar
SIDECAR=$ROOT/target/release/rocketmq-sidecar
WORK=$(mktemp -d)
CERTS=$WORK/certs; mkdir -p "$CERTS"
(
  cd "$CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj /CN=bench-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.rsa -out server.csr -subj /CN=broker 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in server.rsa -out server.key
  printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 30 -extfile san.ext 2>/dev/null
)
PIDS=()
cleanup() { for p in "${PIDS[@]+"${PIDS[@]}"}"; do "$RMQ" stop "$p" --kill || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
"$RMQ" fetch
np=$(free_port); NAMESRV=127.0.0.1:$np
PIDS+=("$("$RMQ" start-namesrv --home "$WORK/namesrv" --port "$np" --owner $$)")
wait_ready "$WORK/namesrv" "$np" "name server"
bp=$(free_port); BROKER=127.0.0.1:$bp
PIDS+=("$("$RMQ" start-broker --home "$WORK/broker" --port "$bp" --namesrv "$NAMESRV" --name broker-t --owner $$ \
  --jvm -Dtls.server.mode=permissive --jvm -Dtls.test.mode.enable=false \
  --jvm "-Dtls.server.certPath=$CERTS/server.pem" --jvm "-Dtls.server.keyPath=$CERTS/server.key")")
wait_ready "$WORK/broker" "$bp" "broker"
TLS=(--tls on --tls-ca "$CERTS/ca.pem")

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'; }

[ "$("$SIDECAR" role --broker "$BROKER" --no-namesrv-check "${TLS[@]}")" = master ] || { echo "role over TLS failed" >&2; exit 1; }
for _ in $(seq 1 30); do "$SIDECAR" role --broker "$BROKER" --no-namesrv-check >/dev/null; "$SIDECAR" role --broker "$BROKER" --no-namesrv-check "${TLS[@]}" >/dev/null; done
plain=(); tls=()
for _ in $(seq 1 31); do
  plain+=("$(ms "$SIDECAR" role --broker "$BROKER" --no-namesrv-check)")
  tls+=("$(ms "$SIDECAR" role --broker "$BROKER" --no-namesrv-check "${TLS[@]}")")
done
role_plain=$(median "${plain[@]}"); role_tls=$(median "${tls[@]}")
plain=(); tls=()
for i in $(seq 1 21); do
  plain+=("$(ms "$SIDECAR" reconfigure --broker "$BROKER" waitTimeMillsInPullQueue $((5000 + 2 * i)))")
  tls+=("$(ms "$SIDECAR" reconfigure --broker "$BROKER" "${TLS[@]}" waitTimeMillsInPullQueue $((5001 + 2 * i)))")
done
rec_plain=$(median "${plain[@]}"); rec_tls=$(median "${tls[@]}")

kept() { # ARGS... -> median GET_BROKER_CONFIG ms over a kept connection, from serve's own timing
  local port log; port=$(free_port); log=$WORK/serve-$port.log
  ROCKETMQ_SIDECAR_LOG=rocketmq_sidecar::remoting=debug "$SIDECAR" serve --broker "$BROKER" --no-namesrv-check \
    --no-broker-metrics --listen "127.0.0.1:$port" --log-format json "$@" 2>"$log" &
  local pid=$!
  until [ "$(grep -c '"request":"GET_BROKER_CONFIG"' "$log" 2>/dev/null)" -ge 32 ]; do sleep 0.5; done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  grep '"request":"GET_BROKER_CONFIG"' "$log" | tail -n 30 | sed 's/.*"took_ms":\([0-9.]*\).*/\1/' \
    | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'
}
serve_plain=$(kept); serve_tls=$(kept "${TLS[@]}")

echo "| TLS against plaintext, same broker (RocketMQ ${ROCKETMQ_VERSION:-4.9.6}, permissive, CA-verified) | plaintext | TLS | difference |"
echo "|---|---|---|---|"
awk -v p="$role_plain" -v t="$role_tls" 'BEGIN { printf "| one-shot `role`, process start to exit (median of 31) | %.2f ms | %.2f ms | %+.2f ms |\n", p, t, t - p }'
awk -v p="$rec_plain" -v t="$rec_tls" 'BEGIN { printf "| one-shot `reconfigure` of one live key, verified (median of 21) | %.2f ms | %.2f ms | %+.2f ms |\n", p, t, t - p }'
awk -v p="$serve_plain" -v t="$serve_tls" 'BEGIN { printf "| `serve`: GET_BROKER_CONFIG on its kept connection (median of 30) | %.2f ms | %.2f ms | %+.2f ms |\n", p, t, t - p }'
