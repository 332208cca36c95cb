#!/usr/bin/env bash
# The test command (README, .ci/run): installs what a fresh machine lacks, downloads the official
# RocketMQ 4.9.6 jars into .cache/ (once), then runs every test, including those against real
# RocketMQ processes started on loopback by the harness.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v cargo >/dev/null || need_apt+=(cargo rustc)
command -v go >/dev/null || need_apt+=(golang-go)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
fi

scripts/rocketmq.sh fetch
scripts/tools.sh
export KUBECONFORM="$PWD/.cache/bin/kubeconform"
cargo test --locked "$@"
