# Shared by demo.sh, test.sh, capture-golden.sh and benches/*.sh (source it). Starts a real local RocketMQ 4.9.6 (or
# ROCKETMQ_VERSION, e.g. 5.5.0)
# cluster on free loopback ports and stops it when the calling script exits, however it exits.
#   cluster_up DIR [--no-acl]   -> exports NAMESRV MASTER SLAVE ACL_BROKER (HOST:PORT)
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RMQ="$ROOT/scripts/rocketmq.sh"
CLUSTER_PIDS=()

# Installs with apt what a fresh machine lacks of the tools the scripts run (JDK, Maven, Cargo, Go,
# kubectl, openssl, python3-yaml, GNU time for the tests' peak-memory checks); root or sudo.
install_missing() {
  local need=()
  command -v java >/dev/null && command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || need+=(maven)
  command -v cargo >/dev/null || need+=(cargo rustc)
  command -v go >/dev/null || need+=(golang-go)
  command -v kubectl >/dev/null || need+=(kubectl)
  command -v openssl >/dev/null || need+=(openssl)
  # The static image's C parts (ring, for TLS) need a musl C compiler.
  command -v x86_64-linux-musl-gcc >/dev/null || need+=(musl-tools)
  python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
  [ -x /usr/bin/time ] || need+=(time)
  [ ${#need[@]} -eq 0 ] && return 0
  echo "installing ${need[*]}" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >&2
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A base port P with P-2..P+1 free (a broker binds P, P+1 for HA and P-2 for the VIP channel), below
# the kernel's ephemeral range: a port there can be taken by any outgoing connection (a broker's own,
# to the name server) between this check and the broker's bind (a 5.5.0 slave once lost its HA port so).
# P-2..P+1 is one of the 4-port slots aligned from 20000 (as tests/common's), so two ports handed out
# never overlap in part; and each port handed out is remembered for this shell ($$ is the same in a
# $(...) subshell), since what was started on the last one may not have bound it yet when the next is
# asked for (a bench's slave broker once took its master's HA port so).
free_port() {
  local p i busy low slots given f
  low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || low=32768
  slots=$(( (${low:-32768} - 20000) / 4 ))
  [ "$slots" -ge 500 ] || slots=3000 # an unusual ephemeral range: the wide one, as before
  given=${TMPDIR:-/tmp}/rocketmq-sidecar-ports/$$
  mkdir -p "${given%/*}"
  for f in "${given%/*}"/*; do # the lists of shells gone
    if [ -e "$f" ] && ! kill -0 "${f##*/}" 2>/dev/null; then rm -f "$f"; fi
  done
  for _ in $(seq 1 200); do
    p=$(( 20000 + 4 * (RANDOM % slots) + 2 ))
    grep -qx "$p" "$given" 2>/dev/null && continue
    busy=0; for i in -2 -1 0 1; do port_busy $((p + i)) && busy=1; done
    [ $busy = 0 ] && { echo "$p" >>"$given"; echo "$p"; return 0; }
  done
  echo "no free port found" >&2; return 1
}

wait_ready() { # $1 = home, $2 = port, $3 = what; waits for the boot line and the open port
  local deadline=$((SECONDS + 120))
  until grep -q "boot success" "$1"/logs/*.out 2>/dev/null && port_busy "$2"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$3 did not start within 120 s; last log lines:" >&2; tail -20 "$1"/logs/*.out >&2; return 1
    fi
    sleep 0.3
  done
}

cluster_down() {
  local pid
  for pid in "${CLUSTER_PIDS[@]+"${CLUSTER_PIDS[@]}"}"; do "$RMQ" stop "$pid" --kill || true; done
  CLUSTER_PIDS=()
  [ -n "${CLUSTER_DIR:-}" ] && rm -rf "$CLUSTER_DIR"
}

cluster_up() { # $1 = work dir, [--no-acl]
  CLUSTER_DIR=$1
  trap cluster_down EXIT
  trap 'exit 130' INT TERM
  "$RMQ" fetch
  local np mp sp ap
  np=$(free_port); NAMESRV=127.0.0.1:$np
  CLUSTER_PIDS+=("$("$RMQ" start-namesrv --home "$CLUSTER_DIR/namesrv" --port "$np" --owner $$)")
  wait_ready "$CLUSTER_DIR/namesrv" "$np" "name server"
  mp=$(free_port); MASTER=127.0.0.1:$mp
  CLUSTER_PIDS+=("$("$RMQ" start-broker --home "$CLUSTER_DIR/master" --port "$mp" --namesrv "$NAMESRV" --name broker-a --owner $$)")
  sp=$(free_port); while [ "$sp" = "$mp" ]; do sp=$(free_port); done; SLAVE=127.0.0.1:$sp
  CLUSTER_PIDS+=("$("$RMQ" start-broker --home "$CLUSTER_DIR/slave" --port "$sp" --namesrv "$NAMESRV" --name broker-a --id 1 --role SLAVE --owner $$)")
  if [ "${2:-}" != --no-acl ]; then
    ap=$(free_port); while [ "$ap" = "$mp" ] || [ "$ap" = "$sp" ]; do ap=$(free_port); done; ACL_BROKER=127.0.0.1:$ap
    CLUSTER_PIDS+=("$("$RMQ" start-broker --home "$CLUSTER_DIR/acl" --port "$ap" --namesrv "$NAMESRV" --name broker-acl --acl --owner $$)")
    wait_ready "$CLUSTER_DIR/acl" "$ap" "ACL broker"
  fi
  wait_ready "$CLUSTER_DIR/master" "$mp" "master broker"
  wait_ready "$CLUSTER_DIR/slave" "$sp" "slave broker"
  export NAMESRV MASTER SLAVE ACL_BROKER
}

# Benchmarks: waits until each JVM of the cluster (or the PIDs given) has used under 50% of one core
# over 2 s, twice in a row, at most 180 s. A broker just started, or just given 10,000 topics, spends
# its first seconds at full cores (JIT, table persists); a production broker has been running for a
# while, and a bench measured in that storm measures the storm. Says on stderr how long it waited.
# Each process's CPU time so far (utime + stime, in clock ticks), space-separated; 0 for one gone.
jvm_ticks() {
  local p out=()
  for p in "$@"; do out+=("$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)"); done
  echo "${out[*]}"
}
wait_settled() {
  local pids=("$@") hz deadline=$((SECONDS + 180)) calm=0 start=$SECONDS i busy before after
  [ ${#pids[@]} -gt 0 ] || pids=("${CLUSTER_PIDS[@]}")
  hz=$(getconf CLK_TCK)
  while [ $calm -lt 2 ] && [ $SECONDS -lt $deadline ]; do
    read -ra before <<<"$(jvm_ticks "${pids[@]}")"; sleep 2; read -ra after <<<"$(jvm_ticks "${pids[@]}")"
    busy=0
    for i in "${!pids[@]}"; do [ $(( (after[i] - before[i]) * 100 / (2 * hz) )) -ge 50 ] && busy=1; done
    if [ $busy = 0 ]; then calm=$((calm + 1)); else calm=0; fi
  done
  echo "JVMs settled after $((SECONDS - start)) s$([ $calm -lt 2 ] && echo ' (gave up waiting: still busy)')" >&2
}

# Benchmarks: runs the command MQ_RUNS times (default 3), prints the median wall time in µs.
median_of() {
  local times=() s e
  for _ in $(seq 1 "${MQ_RUNS:-3}"); do s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); times+=($(( (e - s) / 1000 ))); done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
