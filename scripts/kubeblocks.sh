#!/usr/bin/env bash
# A real KubeBlocks control plane and the real kbagent, built from Go modules into the git-ignored
# .cache/kubeblocks/ (once: about 8 min cold on 2 cores, seconds when cached). No kubelet is built:
# tests/kubeblocks.rs stands in for it (../docs and deploy/README.md say how).
#
#   scripts/kubeblocks.sh build     etcd, kube-apiserver, the KubeBlocks manager, kbagent and
#                                   scripts/go/kbhelper (KubeBlocks' own code, run by the tests)
#   scripts/kubeblocks.sh agent     kbagent only (what the demo runs: about 1.5 min cold)
#   scripts/kubeblocks.sh crds      print the directories holding KubeBlocks' CRDs
#   scripts/kubeblocks.sh kbagent-1.2 SRC
#                                   by hand, not in CI: kbagent from a KubeBlocks v1.2.0-alpha.3 source
#                                   snapshot SRC (e.g. `git archive v1.2.0-alpha.3` of apecloud/kubeblocks)
#                                   into .cache/kubeblocks/bin/kbagent-1.2, for
#                                   `cargo test --test kubeblocks -- --ignored`
#
# Versions: etcd v3.6.16, Kubernetes v1.34.4, KubeBlocks v1.0.2 (the newest stable; the module proxy
# here serves only v1.0.x of github.com/apecloud/kubeblocks, so 1.1 and 1.2 cannot be built in CI).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
ETCD_VERSION=v3.6.16
K8S_VERSION=v1.34.4
KB_VERSION=v1.0.2
OUT=$ROOT/.cache/kubeblocks
mkdir -p "$OUT/bin"
. scripts/go-env.sh # every Go download and build cache under .cache/ too
# No symbol table or DWARF in the test's binaries: each large link takes about a third less (kube-apiserver
# 5.7 s instead of 8.4 warm); panics still print their stacks.
STRIP="-s -w"

log() { echo "kubeblocks.sh: $*" >&2; }

# A stamp beside each binary records the version it was built from.
fresh() { [ -x "$OUT/bin/$1" ] && [ "$(cat "$OUT/bin/$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" > "$OUT/bin/$1.version"; }

build_etcd() {
  fresh etcd "$ETCD_VERSION" && return
  log "building etcd $ETCD_VERSION"
  # `go install` refuses etcd's server module (its go.mod has replace directives); a wrapper module
  # that requires it builds the same main package.
  local w=$OUT/src/etcd
  rm -rf "$w" && mkdir -p "$w"
  cat > "$w/go.mod" <<EOF
module rocketmqsidecar/etcd
go 1.24
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > "$w/tools.go"
  (cd "$w" && go mod tidy >&2 && go build -ldflags "$STRIP" -o "$OUT/bin/etcd" go.etcd.io/etcd/server/v3)
  stamp etcd "$ETCD_VERSION"
}

build_apiserver() {
  fresh kube-apiserver "$K8S_VERSION" && return
  log "building kube-apiserver $K8S_VERSION"
  # k8s.io/kubernetes replaces its staging modules with local paths; a wrapper module points each
  # of them at the published v0.x release of the same tag.
  local w=$OUT/src/apiserver staging=v0${K8S_VERSION#v1}
  rm -rf "$w" && mkdir -p "$w"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  {
    echo "module rocketmqsidecar/apiserver"
    echo "go 1.24"
    echo "godebug default=go1.24"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } > "$w/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' > "$w/tools.go"
  local x="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  x="$x -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  x="$x -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=34"
  (cd "$w" && go mod tidy >&2 && go build -ldflags "$x $STRIP" -o "$OUT/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
  stamp kube-apiserver "$K8S_VERSION"
}

# The KubeBlocks module, copied out of the read-only module cache so it can be built in place
# (`go install …@v1.0.2` fails on the module's deprecation lookup).
kb_source() {
  local src=$OUT/src/kubeblocks-$KB_VERSION
  if [ ! -f "$src/go.mod" ]; then
    local dir
    dir=$(go mod download -json "github.com/apecloud/kubeblocks@$KB_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
    rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  fi
  echo "$src"
}

# `build_from_module NAME PACKAGE WHAT`: one binary of the KubeBlocks module, unless already built.
build_from_module() {
  fresh "$1" "$KB_VERSION" && return
  local src
  src=$(kb_source)
  log "building $3 $KB_VERSION"
  (cd "$src" && go build -ldflags "$STRIP" -o "$OUT/bin/$1" "$2")
  stamp "$1" "$KB_VERSION"
}

build_kbhelper() {
  local helper_sum src
  helper_sum=$(cat scripts/go/kbhelper/* | sha256sum | cut -c1-16)
  fresh kbhelper "$KB_VERSION-$helper_sum" && return
  src=$(kb_source)
  log "building kbhelper against KubeBlocks $KB_VERSION"
  # Built inside the KubeBlocks module, so it runs KubeBlocks' own packages (internal ones too).
  rm -rf "$src/cmd/rocketmq-sidecar-kbhelper" && mkdir -p "$src/cmd/rocketmq-sidecar-kbhelper"
  cp scripts/go/kbhelper/*.go "$src/cmd/rocketmq-sidecar-kbhelper/"
  cp scripts/go/kbhelper/component_export.go.in "$src/pkg/controller/component/zz_rocketmq_sidecar_export.go"
  (cd "$src" && go build -ldflags "$STRIP" -o "$OUT/bin/kbhelper" ./cmd/rocketmq-sidecar-kbhelper)
  stamp kbhelper "$KB_VERSION-$helper_sum"
}

# One build at a time: test binaries that need a piece run `build` themselves (tests/common/kb.rs),
# and the demo runs `agent`; a second build started meanwhile waits, then finds everything fresh.
case "${1:-}" in build | agent) exec 9>"$OUT/.build.lock"; flock 9 ;; esac
case "${1:-}" in
  build)
    build_etcd
    build_apiserver
    build_from_module kbagent ./cmd/kbagent kbagent
    build_from_module manager ./cmd/manager "the KubeBlocks manager"
    build_kbhelper
    ;;
  agent)
    build_from_module kbagent ./cmd/kbagent kbagent
    ;;
  crds)
    src=$(kb_source)
    echo "$src/config/crd/bases"
    echo "$src/deploy/helm/crds/snapshot"
    ;;
  kbagent-1.2)
    [ -f "${2:-}/cmd/kbagent/main.go" ] || { echo "usage: scripts/kubeblocks.sh kbagent-1.2 KUBEBLOCKS_SOURCE_DIR" >&2; exit 64; }
    log "building kbagent from $2"
    (cd "$2" && go build -o "$OUT/bin/kbagent-1.2" ./cmd/kbagent)
    ;;
  *)
    echo "usage: scripts/kubeblocks.sh build|agent|crds|kbagent-1.2 SRC" >&2
    exit 64
    ;;
esac
