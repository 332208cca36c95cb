#!/usr/bin/env bash
# Tools the deployment tests need, installed once into the git-ignored .cache/:
#  - kubeconform (manifest validation), built from the Go module proxy;
#  - promtool (checks and unit-tests deploy/kubeblocks/prometheusrule.yaml): Debian's build, unpacked
#    from the `prometheus` package (downloaded, not installed: no service is set up); where apt is
#    missing, built from Prometheus' Go module instead (about 270 s of CPU: its main package pulls
#    Kubernetes' client and three clouds' SDKs even without the service-discovery plugins);
#  - the Rust musl target (the static binary the image ships), from rustup.
# `scripts/tools.sh kubeconform` installs only the first (what the demo uses), `scripts/tools.sh musl`
# only the last (seconds: scripts/test.sh builds the static binary while the Go builds run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KUBECONFORM_VERSION=v0.6.7
# Prometheus v3.16's Go module (its Go module versions are v0.3xx for release 3.x), where apt is missing.
PROMTOOL_VERSION=v0.316.0
mkdir -p .cache/bin
. scripts/go-env.sh
# go_tool NAME VERSION PACKAGE [GO INSTALL FLAGS...]: builds .cache/bin/NAME once per VERSION.
# `go install` builds report version "development", so a stamp file records which one was built;
# -s -w (no symbol table, no DWARF) shortens the links.
go_tool() {
  local name=$1 version=$2 package=$3
  shift 3
  [ -x ".cache/bin/$name" ] && [ "$(cat ".cache/bin/$name.version" 2>/dev/null)" = "$version" ] && return 0
  echo "tools.sh: building $name $version" >&2
  GOBIN="$PWD/.cache/bin" go install -ldflags="-s -w" "$@" "$package@$version"
  echo "$version" > ".cache/bin/$name.version"
}
musl_target() {
  if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx x86_64-unknown-linux-musl || rustup target add x86_64-unknown-linux-musl >&2
  else
    echo "tools.sh: no rustup: the static (musl) build test will fail; install Rust with rustup" >&2
  fi
}
[ "${1:-}" = musl ] && { musl_target; exit 0; }
go_tool kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform
[ "${1:-}" = kubeconform ] && exit 0
# promtool from the distribution's `prometheus` package, whichever version it has (a pinned Debian
# revision disappears from the mirror at its next security update); its stamp is that version.
prometheus_candidate() { # the package version apt would install; fails when it knows none
  local version
  version=$(apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  [ -n "$version" ] && [ "$version" != "(none)" ] && echo "$version"
}
promtool_from_apt() {
  local version dir sandbox=() sudo=""
  if ! version=$(prometheus_candidate); then # package lists never fetched on this machine
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2 || return 1
    version=$(prometheus_candidate) || return 1
  fi
  [ -x .cache/bin/promtool ] && [ "$(cat .cache/bin/promtool.version 2>/dev/null)" = "deb $version" ] && return 0
  echo "tools.sh: unpacking promtool from Debian's prometheus $version" >&2
  dir=$(mktemp -d)
  # As root apt downloads as its own user, which cannot write into a private temporary directory.
  [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
  (cd "$dir" && apt-get download -qq "${sandbox[@]}" "prometheus=$version" >&2) &&
    dpkg-deb -x "$dir"/prometheus_*.deb "$dir/x" && cp "$dir/x/usr/bin/promtool" .cache/bin/promtool &&
    echo "deb $version" >.cache/bin/promtool.version
  local status=$?
  rm -rf "$dir"
  return $status
}
if ! { command -v apt-get >/dev/null && promtool_from_apt; }; then
  go_tool promtool "$PROMTOOL_VERSION" github.com/prometheus/prometheus/cmd/promtool -tags remove_all_sd
fi
musl_target
