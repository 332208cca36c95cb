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
scripts/tools.sh musl # the rustup target, seconds: the lanes below build the static binary with it
# The Go tools (kubeconform, promtool) and etcd, kube-apiserver, the KubeBlocks v1.0.2 manager,
# kbagent and kbhelper, built from Go modules: minutes on a fresh machine, and only four test
# binaries need them (KUBE_LANE).
build_go() { scripts/tools.sh && scripts/kubeblocks.sh build; }
# The binaries that need the Go builds: the manifests (tests/deploy.rs, which also checks the
# static musl binary), KubeBlocks' role handling (tests/dledger.rs runs kbhelper), the real kbagent
# (tests/kubeblocks.rs) and the real control plane (tests/kubeblocks_control_plane.rs, ~10 min,
# mostly waiting on the manager's reconciles).
KUBE_LANE=(deploy dledger kubeblocks kubeblocks_control_plane)
# The kube lane: the Go builds from the start, beside the test compile; then the static binary;
# then its binaries (cargo waits on the main lane's compile through its build lock). It runs
# beside the main lane, so no other test waits for a Go build.
kube_lane() {
  local name args=()
  build_go || { echo "test.sh: building the Go tools failed (above): ${KUBE_LANE[*]} not run" >&2; return 1; }
  cargo build --release --locked -q --bin rocketmq-sidecar --target x86_64-unknown-linux-musl ||
    echo "test.sh: the static (musl) build failed; tests/deploy.rs reports why" >&2
  for name in "${KUBE_LANE[@]}"; do args+=(--test "$name"); done
  cargo test --locked --no-fail-fast "${args[@]}"
}
# The main lane: every other binary, as soon as the suite is compiled, then the doc tests.
main_lane() {
  local f name main=()
  for f in tests/*.rs tests/*/main.rs; do
    name=${f#tests/}; name=${name%/main.rs}; name=${name%.rs}
    [[ " ${KUBE_LANE[*]} " == *" $name "* ]] || main+=(--test "$name")
  done
  local status=0
  cargo test --locked --no-fail-fast --lib --bins "${main[@]}" || status=$?
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
  echo "test.sh: the kube lane (${KUBE_LANE[*]}: the Go builds, then these), which ran beside the above" >&2
  tee -a "$log" <"$kube_log"; rm -f "$kube_log"
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
