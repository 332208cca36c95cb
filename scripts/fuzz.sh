#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (cargo-fuzz, nightly Rust) of the frame/header decoder, the
# lenient JSON parser and body decoders, and the properties parser + validation.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60; each target runs well over 1,000,000 inputs)
# A crash leaves its input in fuzz/artifacts/<target>/: add it as a regression case to
# tests/no_panic.rs (the short property run in the test suite), fix, re-run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECS=${1:-60}
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in frame json properties; do
  mkdir -p "fuzz/corpus/$target"
  [ "$target" = frame ] && cp proto/golden/*.bin "fuzz/corpus/$target/" 2>/dev/null || true
  echo "== $target (${SECS}s)"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- -max_total_time="$SECS" -rss_limit_mb=1024 2>&1 \
    | grep -E "^#[0-9]+.*(DONE|pulse)|^Done|ERROR|panicked|SUMMARY" | tail -3
done
