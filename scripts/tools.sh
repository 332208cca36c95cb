#!/usr/bin/env bash
# Tools the deployment tests need, installed once into the git-ignored .cache/:
#  - kubeconform (manifest validation), built from the Go module proxy;
#  - promtool (checks and unit-tests deploy/kubeblocks/prometheusrule.yaml), built from Prometheus'
#    Go module without its service-discovery plugins (tag remove_all_sd: half the build time);
#  - the Rust musl target (the static binary the image ships), from rustup.
# `scripts/tools.sh kubeconform` installs only the first (what the demo uses).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KUBECONFORM_VERSION=v0.6.7
# Prometheus v3.16's Go module (its Go module versions are v0.3xx for release 3.x).
PROMTOOL_VERSION=v0.316.0
mkdir -p .cache/bin
# `go install` builds report version "development", so a stamp file records which one was built.
if [ ! -x .cache/bin/kubeconform ] || [ "$(cat .cache/bin/kubeconform.version 2>/dev/null)" != "$KUBECONFORM_VERSION" ]; then
  echo "tools.sh: building kubeconform $KUBECONFORM_VERSION" >&2
  # GOTOOLCHAIN=auto lets an older distribution Go fetch the toolchain kubeconform needs.
  GOBIN="$PWD/.cache/bin" GOTOOLCHAIN=auto GOFLAGS=-mod=mod \
    go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  echo "$KUBECONFORM_VERSION" > .cache/bin/kubeconform.version
fi
[ "${1:-}" = kubeconform ] && exit 0
if [ ! -x .cache/bin/promtool ] || [ "$(cat .cache/bin/promtool.version 2>/dev/null)" != "$PROMTOOL_VERSION" ]; then
  echo "tools.sh: building promtool $PROMTOOL_VERSION" >&2
  GOBIN="$PWD/.cache/bin" GOTOOLCHAIN=auto GOFLAGS=-mod=mod \
    go install -tags remove_all_sd "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
  echo "$PROMTOOL_VERSION" > .cache/bin/promtool.version
fi
if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx x86_64-unknown-linux-musl || rustup target add x86_64-unknown-linux-musl >&2
else
  echo "tools.sh: no rustup: the static (musl) build test will fail; install Rust with rustup" >&2
fi
