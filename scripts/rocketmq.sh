#!/usr/bin/env bash
# Real Apache RocketMQ processes on loopback, for the demo, the tests and the benchmarks.
#
# ROCKETMQ_VERSION picks the release: 4.9.6 (the default; see scripts/rocketmq/pom.xml for why its
# server modules are the 4.9.7 jars) or a 5.x release that resolves whole from Maven Central: 5.1.4,
# 5.3.3, 5.5.0 (scripts/rocketmq/pom-5.xml). Each version's jars live in their own cache folder.
#
#   scripts/rocketmq.sh fetch                       download the official jars into .cache/rocketmq/lib[-V] (once)
#   scripts/rocketmq.sh start-namesrv --home DIR --port P [--owner PID] [--set key=value]... [--jvm OPT]...
#   scripts/rocketmq.sh start-broker  --home DIR --port P --namesrv ADDR --name BROKER_NAME
#                                     [--cluster NAME] [--id N] [--role ASYNC_MASTER|SYNC_MASTER|SLAVE]
#                                     [--acl] [--owner PID] [--set key=value]... [--jvm OPT]...
#   scripts/rocketmq.sh stop PID [--kill]            SIGTERM (or SIGKILL) and wait until the JVM is gone
#   scripts/rocketmq.sh mqadmin ARGS...              the official mqadmin (MQAdminStartup) with the same JVM flags
#   scripts/rocketmq.sh client produce|consume ...   test producer/consumer (scripts/java/TestClient.java)
#   scripts/rocketmq.sh classpath                    print the classpath of the downloaded jars
#
# start-* print the PID of the java process itself and return at once; the caller waits for readiness.
# --owner PID: a watchdog SIGKILLs the JVM when process PID is gone, so nothing outlives a crashed test.
# --jvm OPT: an extra JVM option, e.g. -Dtls.server.mode=enforcing (RocketMQ reads TLS settings from
# system properties and from the file -Dtls.config.file names).
# ROCKETMQ_TIMER_SLACK_NS=NS: the servers' timer slack (scripts/test.sh sets 20 ms; see with_timer_slack).
# ROCKETMQ_CLIENT_LOG_ROOT=DIR: where `client` writes the Java client's own log (default: its temporary
# home, removed when it ends); the tests keep it to show when a client is late.
# Ports: a broker also binds P+1 (HA) and P-2 (VIP channel); leave room.
# ACL brokers (--acl) get conf/plain_acl.yml with the two accounts below and no global whitelist.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${ROCKETMQ_CACHE:-$ROOT/.cache}
VERSION=${ROCKETMQ_VERSION:-4.9.6}
case $VERSION in
  4.9.6) LIB=$CACHE/rocketmq/lib; POM=$ROOT/scripts/rocketmq/pom.xml; POM_ARGS=() ;;
  5.1.4|5.3.3|5.5.0) LIB=$CACHE/rocketmq/lib-$VERSION; POM=$ROOT/scripts/rocketmq/pom-5.xml
    POM_ARGS=(-Drocketmq.version="$VERSION") ;;
  *) echo "rocketmq.sh: ROCKETMQ_VERSION=$VERSION is not supported (4.9.6, 5.1.4, 5.3.3, 5.5.0)" >&2; exit 2 ;;
esac

# Accounts of ACL-enabled test brokers (test-only credentials, never used outside loopback).
ACL_ADMIN_AK=sidecarAdmin
ACL_ADMIN_SK=adminSecret-4f1c9e
ACL_USER_AK=sidecarReader
ACL_USER_SK=readerSecret-7b2d0a

JVM_FLAGS=(
  --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-exports java.base/sun.nio.ch=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
  -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true
)

die() { echo "rocketmq.sh: $*" >&2; exit 1; }

fetch() {
  [ -f "$LIB/.complete" ] && return 0
  command -v java >/dev/null || die "java not found: install a JDK 17 (e.g. apt-get install openjdk-17-jdk-headless)"
  command -v mvn >/dev/null || die "mvn not found: install Maven (e.g. apt-get install maven)"
  echo "rocketmq.sh: downloading RocketMQ $VERSION jars from Maven Central into $LIB ..." >&2
  rm -rf "$LIB"
  mvn -B -q -f "$POM" "${POM_ARGS[@]+"${POM_ARGS[@]}"}" -Dmaven.repo.local="$CACHE/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB" >&2 \
    || die "maven download failed (see above)"
  ls "$LIB"/rocketmq-broker-*.jar >/dev/null 2>&1 || die "download incomplete: no rocketmq-broker jar in $LIB"
  touch "$LIB/.complete"
}

classpath() { fetch; echo "$LIB/*"; }

write_logback() { # $1 = conf dir, $2 = name
  cat >"$1/logback_$2.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>\${user.home}/logs/$2.log</file>
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5p %c{0} - %m%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
}

prepare_home() { # $1 = home dir
  mkdir -p "$1/conf" "$1/logs" "$1/store"
  local n; for n in namesrv broker tools; do write_logback "$1/conf" "$n"; done
}

# The key and self-signed certificate every test server's TLS listener uses, made once with openssl
# into $CACHE/tls-test-server/. Without them a server in TLS permissive mode (the default: plain and
# TLS clients both served) has Netty make a fresh RSA key for each of its remoting servers at every
# start: 1.4 s of CPU for a name server, 3.5-4.5 s for a 4.9.6 broker (its boot took 5.4-6.8 s of CPU
# instead of 2.1), 2-5 s for a 5.5.0 one; with ~100 server starts a CI run spent minutes of both
# cores on it. Made in a directory of its own that is then renamed into place, so a server started
# while another start makes it never reads a key and a certificate that do not belong together.
test_server_cert() {
  TEST_CERT_DIR=$CACHE/tls-test-server
  [ -f "$TEST_CERT_DIR/server.pem" ] && return 0
  command -v openssl >/dev/null || die "openssl not found: install it (e.g. apt-get install openssl)"
  mkdir -p "$CACHE"
  local new; new=$(mktemp -d "$CACHE/.tls-test-server.XXXXXX")
  openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=localhost \
    -keyout "$new/server.key" -out "$new/server.pem" >/dev/null 2>&1 || { rm -rf "$new"; die "openssl could not make the test certificate"; }
  mv -T "$new" "$TEST_CERT_DIR" 2>/dev/null || rm -rf "$new" # another start made it first
  [ -f "$TEST_CERT_DIR/server.pem" ] || die "no test certificate in $TEST_CERT_DIR"
}

# ROCKETMQ_TIMER_SLACK_NS (scripts/test.sh sets it; unset, nothing changes): the server's timer slack,
# how late Linux may wake a timed sleep so that wake-ups coalesce. An idle server spends most of its
# CPU waking from short fixed sleeps (4.9.6: ReputMessageService sleeps 1 ms between dispatches,
# BrokerFastFailure and GroupTransferService 10 ms; 5.x has more such loops): at 20 ms an idle 4.9.6
# broker took 52 ticks of CPU in 30 s instead of 124, a 5.5.0 broker 103 instead of 199 (2026-12-07).
# The cost is latency where a wait is timed (a stored message reaches its consume queue up to 20 ms
# later); answers to requests are driven by the network, not by timers. The benches leave it unset:
# what a broker costs idle is what they measure.
with_timer_slack() {
  [ -n "${ROCKETMQ_TIMER_SLACK_NS:-}" ] || return 0
  echo "$ROCKETMQ_TIMER_SLACK_NS" >"/proc/$BASHPID/timerslack_ns" 2>/dev/null ||
    echo "rocketmq.sh: could not set the timer slack (/proc/$BASHPID/timerslack_ns); continuing without" >&2
}

# Launch java in the background with stdio detached; print its PID; arm the owner watchdog.
# java.io.tmpdir is the process's home: a server that does make its own key (a test that sets
# tls.test.mode.enable) writes it there, and Netty never deletes it (2,268 keyutil_localhost_* files
# in /tmp after a day of test runs). The caller's JVM options come last: a test's own TLS settings
# (tests/common/tls.rs) override the shared certificate (the last -D of a property wins).
launch() { # $1 = home, $2 = log name, $3 = owner pid or "", rest = java args
  local home=$1 log=$2 owner=$3; shift 3
  test_server_cert
  ( with_timer_slack
    exec java "${JVM_FLAGS[@]}" -Duser.home="$home" -Djava.io.tmpdir="$home" -Drocketmq.home.dir="$home" \
      -Dtls.test.mode.enable=false -Dtls.server.certPath="$TEST_CERT_DIR/server.pem" \
      -Dtls.server.keyPath="$TEST_CERT_DIR/server.key" "$@" ) </dev/null >"$home/logs/$log.out" 2>&1 &
  local pid=$!
  # Checked every second with builtins only (`read -t` on a pipe nobody writes waits like sleep 1,
  # without a fork): a dozen JVMs with a `sleep` a second each were 12,600 processes in a CI run.
  if [ -n "$owner" ]; then
    ( exec 3<> <(:)
      while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do read -r -t 1 -u 3 || true; done
      kill -9 "$pid" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
  fi
  echo "$pid"
}

start_namesrv() {
  local home="" port="" owner="" extra=() jvm=()
  while [ $# -gt 0 ]; do case $1 in
    --home) home=$2; shift 2;; --port) port=$2; shift 2;; --owner) owner=$2; shift 2;;
    --set) extra+=("$2"); shift 2;; --jvm) jvm+=("$2"); shift 2;;
    *) die "start-namesrv: unknown option $1";; esac; done
  [ -n "$home" ] && [ -n "$port" ] || die "start-namesrv needs --home and --port"
  fetch; prepare_home "$home"
  { printf 'listenPort=%s\nkvConfigPath=%s/namesrv/kvConfig.json\n' "$port" "$home"
    local kv; for kv in "${extra[@]+"${extra[@]}"}"; do echo "$kv"; done
  } >"$home/namesrv.conf"
  launch "$home" namesrv "$owner" -Xms256m -Xmx256m "${jvm[@]+"${jvm[@]}"}" -cp "$LIB/*" \
    org.apache.rocketmq.namesrv.NamesrvStartup -c "$home/namesrv.conf"
}

# ACL v1 (plain_acl.yml) up to 5.2; ACL 2.0 from 5.3, where plain_acl.yml is imported once
# (migrateAuthFromV1Enabled): the admin account becomes a Super user, the reader a Normal one.
acl_settings() { # $1 = true|false, $2 = home
  case $VERSION in
    4.*|5.1.*) echo "aclEnable=$1" ;;
    *) [ "$1" = true ] || return 0
      echo "authenticationEnabled=true"
      echo "authorizationEnabled=true"
      echo "authenticationProvider=org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider"
      echo "authenticationMetadataProvider=org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider"
      echo "authorizationProvider=org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider"
      echo "authorizationMetadataProvider=org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider"
      echo "initAuthenticationUser={\"username\":\"$ACL_ADMIN_AK\",\"password\":\"$ACL_ADMIN_SK\"}"
      echo "innerClientAuthenticationCredentials={\"accessKey\":\"$ACL_ADMIN_AK\",\"secretKey\":\"$ACL_ADMIN_SK\"}"
      echo "migrateAuthFromV1Enabled=true" ;;
  esac
}

# Two 5.x background threads that cost an idle test broker most of its CPU (measured on 5.5.0 with
# these JVM flags, C1 only): the timer wheel's flush compares the whole wheel
# byte by byte every timerFlushIntervalMs (1 s: ~30% of a core), and TransactionFlushService spins
# without sleeping until its first transactionMetricFlushInterval (10 s) has passed (~9 s of CPU at
# each start). Here the wheel is flushed every minute (only crash recovery reads what it persists;
# timers fire from memory) and the first metrics flush comes after 1 s. An idle 5.5.0 broker: 10%
# of a core instead of 37%, its first 20 s 8 s of CPU instead of 18-20. Later keys (--set) win.
five_x_idle_settings() {
  echo "timerFlushIntervalMs=60000"
  echo "transactionMetricFlushInterval=1000"
}

start_broker() {
  local home="" port="" namesrv="" name="" cluster=DefaultCluster id=0 role=ASYNC_MASTER acl=false owner=""
  local extra=() jvm=()
  while [ $# -gt 0 ]; do case $1 in
    --home) home=$2; shift 2;; --port) port=$2; shift 2;; --namesrv) namesrv=$2; shift 2;;
    --name) name=$2; shift 2;; --cluster) cluster=$2; shift 2;; --id) id=$2; shift 2;;
    --role) role=$2; shift 2;; --acl) acl=true; shift;; --owner) owner=$2; shift 2;;
    --set) extra+=("$2"); shift 2;; --jvm) jvm+=("$2"); shift 2;;
    *) die "start-broker: unknown option $1";; esac; done
  [ -n "$home" ] && [ -n "$port" ] && [ -n "$namesrv" ] && [ -n "$name" ] \
    || die "start-broker needs --home, --port, --namesrv and --name"
  fetch; prepare_home "$home"
  # Written only once: a restarted broker keeps the file (and what updateBrokerConfig persisted in it).
  if [ ! -f "$home/broker.conf" ]; then
    {
      echo "brokerClusterName=$cluster"
      echo "brokerName=$name"
      echo "brokerId=$id"
      echo "brokerRole=$role"
      echo "flushDiskType=ASYNC_FLUSH"
      echo "listenPort=$port"
      echo "namesrvAddr=$namesrv"
      echo "brokerIP1=127.0.0.1"
      echo "brokerIP2=127.0.0.1"
      echo "storePathRootDir=$home/store"
      echo "storePathCommitLog=$home/store/commitlog"
      echo "mappedFileSizeCommitLog=67108864"
      echo "mappedFileSizeConsumeQueue=300000"
      echo "diskMaxUsedSpaceRatio=95"
      acl_settings "$acl" "$home"
      [ "$VERSION" = 4.9.6 ] || five_x_idle_settings
      local kv; for kv in "${extra[@]+"${extra[@]}"}"; do echo "$kv"; done
    } >"$home/broker.conf"
  fi
  if [ "$acl" = true ] && [ ! -f "$home/conf/plain_acl.yml" ]; then
    cat >"$home/conf/plain_acl.yml" <<YML
globalWhiteRemoteAddresses: []
accounts:
  - accessKey: $ACL_ADMIN_AK
    secretKey: $ACL_ADMIN_SK
    whiteRemoteAddress:
    admin: true
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: PUB|SUB
  - accessKey: $ACL_USER_AK
    secretKey: $ACL_USER_SK
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: SUB
    defaultGroupPerm: SUB
YML
  fi
  local heap=512m; [ "$VERSION" = 4.9.6 ] || heap=384m
  launch "$home" broker "$owner" -Xms$heap -Xmx$heap -XX:MaxDirectMemorySize=$heap "${jvm[@]+"${jvm[@]}"}" -cp "$LIB/*" \
    org.apache.rocketmq.broker.BrokerStartup -c "$home/broker.conf"
}

stop() { # $1 = pid, [--kill]
  local pid=$1 sig=TERM i
  [ "${2:-}" = --kill ] && sig=KILL
  kill -s "$sig" "$pid" 2>/dev/null || return 0
  for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# mqadmin as the distribution's bin/tools.sh launches it (same heap flags), plus the JDK 17 module flags.
mqadmin() {
  fetch
  local home; home=$(mktemp -d); prepare_home "$home"
  local rc=0
  java --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
    --add-exports java.base/sun.nio.ch=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
    -server -Xms1g -Xmx1g -Xmn256m -XX:MetaspaceSize=128m -XX:MaxMetaspaceSize=128m \
    -Duser.home="$home" -Drocketmq.home.dir="$home" -Drocketmq.client.logRoot="$home/logs" -cp "$LIB/*" \
    org.apache.rocketmq.tools.command.MQAdminStartup "$@" || rc=$?
  rm -rf "$home"; return $rc
}

# TestClient.java compiled once per version and source into .cache/rocketmq/client-VERSION-HASH/: Java's
# source launcher compiles it at every start (1.4 s of CPU against 0.07 s; a CI run starts ~76). Built in
# a directory of its own and renamed into place, so that clients starting at once never load half a
# build; the loser of a race drops its copy.
client_classes() {
  local hash dir tmp
  hash=$(sha256sum "$ROOT/scripts/java/TestClient.java" | cut -c1-12)
  dir=$CACHE/rocketmq/client-$VERSION-$hash
  if [ ! -d "$dir" ]; then
    mkdir -p "$CACHE/rocketmq"
    tmp=$(mktemp -d "$CACHE/rocketmq/.client-XXXXXX")
    javac -nowarn -encoding UTF-8 -cp "$LIB/*" -d "$tmp" "$ROOT/scripts/java/TestClient.java" >&2 \
      || { rm -rf "$tmp"; die "javac of scripts/java/TestClient.java failed (above)"; }
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
  fi
  echo "$dir"
}

client() { # test producer/consumer: scripts/java/TestClient.java (see its header)
  fetch
  local classes home rc=0
  classes=$(client_classes)
  home=$(mktemp -d); prepare_home "$home"
  java "${JVM_FLAGS[@]}" -Xmx256m -Duser.home="$home" -Drocketmq.client.logRoot="${ROCKETMQ_CLIENT_LOG_ROOT:-$home/logs}" \
    -cp "$classes:$LIB/*" TestClient "$@" || rc=$?
  rm -rf "$home"; return $rc
}

cmd=${1:-}; [ $# -gt 0 ] && shift
case $cmd in
  fetch) fetch ;;
  classpath) classpath ;;
  start-namesrv) start_namesrv "$@" ;;
  start-broker) start_broker "$@" ;;
  stop) [ $# -ge 1 ] || die "stop needs a PID"; stop "$@" ;;
  mqadmin) mqadmin "$@" ;;
  client) client "$@" ;;
  acl-accounts) printf '%s %s admin\n%s %s reader\n' "$ACL_ADMIN_AK" "$ACL_ADMIN_SK" "$ACL_USER_AK" "$ACL_USER_SK" ;;
  *) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; [ -z "$cmd" ] || exit 2 ;;
esac
