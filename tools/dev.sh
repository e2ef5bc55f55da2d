#!/usr/bin/env bash
# Runs arcane-temporal locally on embedded defaults: provisions, then starts the local stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/provision.sh
# shellcheck source=env.sh
source tools/env.sh
exec npm start -- "$@"
