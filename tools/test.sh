#!/usr/bin/env bash
# Runs every test: provisions the stack binaries (seconds when cached), then `npm test` on the project's Node.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/provision.sh
# shellcheck source=env.sh
source tools/env.sh
echo "node $(node --version)"
npm test "$@"
