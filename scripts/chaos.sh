#!/usr/bin/env bash
# The randomized fault campaign (tests/chaos/): real 4.9.6 and 5.5.0 brokers and name servers, one
# `serve` per broker, official-client producers and push consumers, HTTP load on every endpoint and
# overlapping faults drawn from the seed; a checker compares every answer with the recorded truth
# and prints the figures (faults by kind, answers checked, violations, serve RSS / open-file slopes).
#
#   scripts/chaos.sh [--seed S] [--minutes M] [--out DIR]
#
# The same seed draws the same fault schedule (the processes' own timing still varies). The
# history (answers.jsonl, processes.jsonl, versions.jsonl, faults.jsonl, footprints.jsonl) and
# figures.txt go to DIR (default .cache/chaos/seed-S). Exit 0 only with no violation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seed=1 minutes=5 out=
while [ $# -gt 0 ]; do
  case $1 in
    --seed) seed=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "chaos.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $seed in ''|*[!0-9]*) echo "chaos.sh: --seed takes a whole number" >&2; exit 2 ;; esac
case $minutes in ''|*[!0-9.]*) echo "chaos.sh: --minutes takes a number" >&2; exit 2 ;; esac
out=${out:-$PWD/.cache/chaos/seed-$seed}
mkdir -p "$out"

. scripts/lib.sh
install_missing
scripts/rocketmq.sh fetch
ROCKETMQ_VERSION=5.5.0 scripts/rocketmq.sh fetch
CHAOS_SEED=$seed CHAOS_MINUTES=$minutes CHAOS_OUT=$out cargo test --locked --test chaos -- --nocapture
