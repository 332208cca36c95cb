#!/usr/bin/env bash
# The test command (README, .ci/run): installs what a fresh machine lacks, downloads the official
# RocketMQ 4.9.6 and 5.5.0 jars into .cache/ (once; the per-release parameter test also fetches
# 5.1.4 and 5.3.3), then runs every test, including those against real RocketMQ processes started
# on loopback by the harness.
#
#   scripts/test.sh [CARGO TEST ARGS]   the suite (4.9.6, plus the 5.5.0 compatibility suite); with
#                                       no arguments its binaries run in two lanes (below)
#   scripts/test.sh --matrix            also the 5.x suite (tests/rocketmq5.rs) on 5.1.4 and 5.3.3:
#                                       README's version matrix (not in CI: about 6 more minutes)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/lib.sh
install_missing

matrix=false
if [ "${1:-}" = --matrix ]; then matrix=true; shift; fi
scripts/rocketmq.sh fetch
ROCKETMQ_VERSION=5.5.0 scripts/rocketmq.sh fetch
scripts/tools.sh musl # the rustup target, seconds: tests/deploy.rs builds the static binary with it
# Built from Go modules, minutes each on a fresh machine: etcd, kube-apiserver, the KubeBlocks
# v1.0.2 manager, kbagent and kbhelper (scripts/kubeblocks.sh), and kubeconform and promtool
# (scripts/tools.sh). Only four test binaries need them.
build_go() { scripts/kubeblocks.sh build && scripts/tools.sh; }
# The control plane (tests/kubeblocks_control_plane.rs, ~10 min, mostly waiting on the manager's
# reconciles) is the longest binary and needs the KubeBlocks builds, so it has a lane of its own
# that starts with those builds, then runs it and the push clients (tests/scale_in_clients.rs,
# ~3 min of waiting on the Java clients' offset saves).
KUBE_LANE=(kubeblocks_control_plane scale_in_clients)
# The three other binaries that need Go builds run last in the main lane: the manifests
# (tests/deploy.rs: kubeconform, promtool and the static musl binary), KubeBlocks' role handling
# (tests/dledger.rs runs kbhelper) and the real kbagent (tests/kubeblocks.rs).
GO_LAST=(deploy dledger kubeblocks)
# Each Go build's exit status lands in its file when it ends.
kb_built=$(mktemp -u) tools_built=$(mktemp -u)
kube_lane() {
  local name args=() status
  scripts/kubeblocks.sh build; status=$?
  echo "$status" >"$kb_built"
  # The tools and the static binary tests/deploy.rs checks, beside this lane's tests.
  (
    scripts/tools.sh; tools=$?
    cargo build --release --locked -q --bin rocketmq-sidecar --target x86_64-unknown-linux-musl ||
      echo "test.sh: the static (musl) build failed; tests/deploy.rs reports why" >&2
    echo "$tools" >"$tools_built"
  ) &
  if [ "$status" != 0 ]; then
    echo "test.sh: scripts/kubeblocks.sh build failed (above): ${KUBE_LANE[0]} not run" >&2
    args=(--test scale_in_clients)
  else
    for name in "${KUBE_LANE[@]}"; do args+=(--test "$name"); done
  fi
  cargo test --locked --no-fail-fast "${args[@]}" || status=$?
  wait
  return "$status"
}
# Waits for a Go build's status file; returns that status.
built() {
  while [ ! -s "$1" ]; do sleep 2; done
  return "$(cat "$1")"
}
# The main lane: every other binary as soon as the suite is compiled (no Go build delays them), then
# GO_LAST once the Go builds are done, then the doc tests.
main_lane() {
  local f name main=() last=() status=0
  for f in tests/*.rs tests/*/main.rs; do
    name=${f#tests/}; name=${name%/main.rs}; name=${name%.rs}
    [[ " ${KUBE_LANE[*]} ${GO_LAST[*]} " == *" $name "* ]] || main+=(--test "$name")
  done
  for name in "${GO_LAST[@]}"; do last+=(--test "$name"); done
  cargo test --locked --no-fail-fast --lib --bins "${main[@]}" || status=$?
  if built "$kb_built" && built "$tools_built"; then
    cargo test --locked --no-fail-fast "${last[@]}" || status=$?
  else
    echo "test.sh: a Go build failed (the kube lane's output, below): ${GO_LAST[*]} not run" >&2
    status=1
  fi
  cargo test --locked --no-fail-fast --doc || status=$?
  return "$status"
}
export KUBECONFORM="$PWD/.cache/bin/kubeconform" PROMTOOL="$PWD/.cache/bin/promtool"
# Every test binary runs even when an earlier one fails; a summary per binary follows.
log=$(mktemp)
set +e
if [ $# -gt 0 ]; then
  # Any cargo test arguments: the Go builds first (beside the compile), then one cargo test.
  build_go >"$log" 2>&1 & go_pid=$!
  cargo test --locked --no-run "$@"; compiled=$?
  wait "$go_pid"; go_status=$?
  cat "$log" >&2; : >"$log"
  if [ "$go_status" != 0 ]; then echo "test.sh: building the Go tools failed (above)" >&2; exit "$go_status"; fi
  [ "$compiled" = 0 ] || exit "$compiled"
  cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
else
  # The suite in two lanes, both logged; the worse status counts.
  kube_log=$(mktemp)
  kube_lane >"$kube_log" 2>&1 & kube_pid=$!
  main_lane 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  wait "$kube_pid"; kube_status=$?
  echo "test.sh: the kube lane (the Go builds, then ${KUBE_LANE[*]}), which ran beside the above" >&2
  tee -a "$log" <"$kube_log"; rm -f "$kube_log" "$kb_built" "$tools_built"
  [ "$status" != 0 ] || status=$kube_status
fi
set -e
echo "test.sh: summary per test binary" >&2
awk '/^ *Running /{bin=($2 == "unittests") ? $2 " " $3 : $2} /^test result:/{print "  " bin ": " $0} /^ *Doc-tests /{bin="doc-tests " $2}' "$log" >&2
grep -E '^test .* \.\.\. FAILED$' "$log" | sed 's/^/  /' >&2 || true
rm -f "$log"
[ "$status" = 0 ] || exit "$status"
if [ "$matrix" = true ]; then
  for v in 5.1.4 5.3.3; do
    echo "test.sh: the 5.x suite on RocketMQ $v" >&2
    ROCKETMQ5_VERSION=$v cargo test --locked --test rocketmq5
  done
fi
