#!/usr/bin/env bash
# The test command (README, .ci/run): installs what a fresh machine lacks, downloads the official
# RocketMQ 4.9.6 and 5.5.0 jars into .cache/ (once; the per-release parameter test also fetches
# 5.1.4 and 5.3.3), then runs every test, including those against real RocketMQ processes started
# on loopback by the harness.
#
#   scripts/test.sh [CARGO TEST ARGS]   the suite (4.9.6, plus the 5.5.0 compatibility suite)
#   scripts/test.sh --matrix            also the 5.x suite (tests/rocketmq5.rs) on 5.1.4 and 5.3.3:
#                                       README's version matrix (not in CI: about 6 more minutes)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v cargo >/dev/null || need_apt+=(cargo rustc)
command -v go >/dev/null || need_apt+=(golang-go)
command -v kubectl >/dev/null || need_apt+=(kubectl)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
fi

matrix=false
if [ "${1:-}" = --matrix ]; then matrix=true; shift; fi
scripts/rocketmq.sh fetch
ROCKETMQ_VERSION=5.5.0 scripts/rocketmq.sh fetch
scripts/tools.sh
# etcd, kube-apiserver, the KubeBlocks v1.0.2 manager, kbagent and kbhelper (tests/kubeblocks.rs).
scripts/kubeblocks.sh build
export KUBECONFORM="$PWD/.cache/bin/kubeconform"
cargo test --locked "$@"
if [ "$matrix" = true ]; then
  for v in 5.1.4 5.3.3; do
    echo "test.sh: the 5.x suite on RocketMQ $v" >&2
    ROCKETMQ5_VERSION=$v cargo test --locked --test rocketmq5
  done
fi
