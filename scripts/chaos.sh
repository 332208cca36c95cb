#!/usr/bin/env bash
# The randomized fault campaign (tests/chaos/): real 4.9.6 and 5.5.0 brokers and name servers, one
# `serve` per broker, official-client producers and push consumers, HTTP load on every endpoint and
# overlapping faults drawn from the seed; a checker compares every answer with the recorded truth
# and prints the figures (faults by kind, answers checked, violations, serve RSS / open-file slopes).
#
#   scripts/chaos.sh [--seed S] [--minutes M] [--out DIR]
#   scripts/chaos.sh --recheck DIR      the checker again on a recorded campaign (figures-recheck.txt)
#
# The same seed draws the same fault schedule (the processes' own timing still varies). The
# history (answers, processes, versions, faults, footprints, restores, agreement .jsonl), the
# topology (world.json), the truth as read (truth.txt, clients.txt), each serve's log and
# figures.txt go to DIR (default .cache/chaos/seed-S). Exit 0 only with no violation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seed=1 minutes=5 out= recheck=
while [ $# -gt 0 ]; do
  case $1 in
    --recheck) recheck=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "chaos.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$recheck" ]; then
  [ -f "$recheck/world.json" ] || { echo "chaos.sh: $recheck holds no recorded campaign (world.json)" >&2; exit 2; }
  CHAOS_RECHECK=$(cd "$recheck" && pwd) exec cargo test --locked --test chaos campaign -- --nocapture
fi
case $seed in ''|*[!0-9]*) echo "chaos.sh: --seed takes a whole number" >&2; exit 2 ;; esac
case $minutes in ''|*[!0-9.]*) echo "chaos.sh: --minutes takes a number" >&2; exit 2 ;; esac
out=${out:-$PWD/.cache/chaos/seed-$seed}
mkdir -p "$out"

. scripts/lib.sh
install_missing
scripts/rocketmq.sh fetch
ROCKETMQ_VERSION=5.5.0 scripts/rocketmq.sh fetch
CHAOS_SEED=$seed CHAOS_MINUTES=$minutes CHAOS_OUT=$out cargo test --locked --test chaos -- --nocapture
