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
# Where a run's wall time went, printed last (CI shows a run's end): `at` marks a phase's end.
started=$(date +%s)
times=()
at() { times+=("$1 $(($(date +%s) - started)) s"); }

. scripts/lib.sh
install_missing

# No incremental compilation data for the test build unless asked for (CARGO_INCREMENTAL=1): on a
# fresh clone, as in CI, it is written and never read, and the crate's own test build took 129 s of CPU
# with it against 82 without (2026-12-07). `cargo test` by hand keeps its default.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
# The test servers wake from their short fixed sleeps at most every 20 ms (scripts/rocketmq.sh,
# with_timer_slack): idle RocketMQ servers were a large share of a run's CPU, and a 2-core run is
# CPU-bound. ROCKETMQ_TIMER_SLACK_NS= (empty) leaves Linux's default (50 µs).
export ROCKETMQ_TIMER_SLACK_NS=${ROCKETMQ_TIMER_SLACK_NS-20000000}
matrix=false
if [ "${1:-}" = --matrix ]; then matrix=true; shift; fi
scripts/rocketmq.sh fetch
ROCKETMQ_VERSION=5.5.0 scripts/rocketmq.sh fetch
at "installs and downloads"
# The Go tools, then etcd, kube-apiserver, the KubeBlocks v1.0.2 manager, kbagent and kbhelper
# (tests/kubeblocks*.rs), built while cargo compiles the tests: each leaves cores idle while it
# downloads and links, and on a fresh 2-core machine the two together take minutes less.
scripts/tools.sh musl # first: the background's tools.sh then finds the target there
go_log=$(mktemp)
(scripts/tools.sh && scripts/kubeblocks.sh build) >"$go_log" 2>&1 &
go_pid=$!
compiled=0
cargo test --locked --no-run "$@" || compiled=$?
# The whole suite: the static binary tests/deploy.rs checks, built while the Go builds still run
# (on a fresh machine they end minutes after this compile) rather than inside that test. A
# failure here is left for that test to report.
if [ "$compiled" = 0 ] && [ $# = 0 ]; then
  cargo build --profile static-check --locked -q --bin rocketmq-sidecar --target x86_64-unknown-linux-musl ||
    echo "test.sh: the static (musl) build failed; tests/deploy.rs reports why" >&2
fi
at "test build"
go_status=0
wait "$go_pid" || go_status=$?
at "Go builds"
cat "$go_log" >&2; rm -f "$go_log"
[ "$go_status" = 0 ] || { echo "test.sh: building the Go tools failed (above)" >&2; exit "$go_status"; }
[ "$compiled" = 0 ] || exit "$compiled"
# The suite in two lanes, both logged to $1. The side lane holds binaries that mostly wait: the
# control plane (tests/kubeblocks_control_plane.rs, its two tests at once, ~4.5 min) on the
# KubeBlocks manager's reconciles, the push-client tests (tests/scale_in_clients.rs, ~2.5 min) on
# the Java clients' offset saves. It runs beside every other binary instead of after them, saving
# about as long as it takes. After those two it runs a few short binaries (SIDE_LANE_AFTER, ~2.5
# min), so that both lanes end about together; run after the push-client tests, not before, they
# do not share the cores with those. Doc tests run last. Returns the worse status.
SIDE_LANE=(kubeblocks_control_plane scale_in_clients)
SIDE_LANE_AFTER=(dledger role_failover scale_in seed tls tls5)
# Binaries whose tests wait on a broker's own clock (5.x timer wheel, POP revive, retry delays), each
# on servers of its own: four at a time instead of one per core, last in the main lane.
WIDE=(rocketmq5)
run_binaries() { # NAME...: those test binaries, in one cargo run
  local args=() name
  for name in "$@"; do args+=(--test "$name"); done
  cargo test --locked --no-fail-fast "${args[@]}"
}
run_in_two_lanes() {
  local log=$1 side side_pid side_status main_status doc_status main=() f name s
  side=$(mktemp)
  (
    status=0 lane_start=$(date +%s)
    run_binaries "${SIDE_LANE[@]}" || status=$?
    echo "test.sh: side lane: ${SIDE_LANE[*]} took $(($(date +%s) - lane_start)) s" >&2
    run_binaries "${SIDE_LANE_AFTER[@]}" || status=$?
    echo "test.sh: side lane: all took $(($(date +%s) - lane_start)) s" >&2
    exit "$status"
  ) >"$side" 2>&1 &
  side_pid=$!
  for f in tests/*.rs tests/*/main.rs; do
    name=${f#tests/}; name=${name%/main.rs}; name=${name%.rs}
    [[ " ${SIDE_LANE[*]} ${SIDE_LANE_AFTER[*]} ${WIDE[*]} " == *" $name "* ]] || main+=(--test "$name")
  done
  cargo test --locked --no-fail-fast --lib --bins "${main[@]}" 2>&1 | tee "$log"
  main_status=${PIPESTATUS[0]}
  for name in "${WIDE[@]}"; do
    cargo test --locked --no-fail-fast --test "$name" -- --test-threads 4 2>&1 | tee -a "$log"
    s=${PIPESTATUS[0]}
    [ "$s" = 0 ] || main_status=$s
  done
  cargo test --locked --no-fail-fast --doc 2>&1 | tee -a "$log"
  doc_status=${PIPESTATUS[0]}
  at "main lane"
  wait "$side_pid"; side_status=$?
  at "side lane"
  echo "test.sh: the side lane (${SIDE_LANE[*]}, then ${SIDE_LANE_AFTER[*]}), which ran beside the above" >&2
  tee -a "$log" <"$side"; rm -f "$side"
  for s in "$main_status" "$doc_status" "$side_status"; do [ "$s" = 0 ] || return "$s"; done
}
export KUBECONFORM="$PWD/.cache/bin/kubeconform" PROMTOOL="$PWD/.cache/bin/promtool"
# Every test binary runs even when an earlier one fails; a summary per binary follows.
log=$(mktemp)
set +e
if [ $# -gt 0 ]; then
  cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
else
  run_in_two_lanes "$log"
  status=$?
fi
set -e
echo "test.sh: summary per test binary" >&2
awk '/^ *Running /{bin=($2 == "unittests") ? $2 " " $3 : $2} /^test result:/{print "  " bin ": " $0} /^ *Doc-tests /{bin="doc-tests " $2}' "$log" >&2
grep -E '^test .* \.\.\. FAILED$' "$log" | sed 's/^/  /' >&2 || true
grep '^test.sh: side lane:' "$log" >&2 || true
echo "test.sh: ended at (from the start): $(printf '%s, ' "${times[@]}" | sed 's/, $//')" >&2
rm -f "$log"
[ "$status" = 0 ] || exit "$status"
if [ "$matrix" = true ]; then
  for v in 5.1.4 5.3.3; do
    echo "test.sh: the 5.x suite on RocketMQ $v" >&2
    ROCKETMQ5_VERSION=$v cargo test --locked --test rocketmq5
  done
fi
