#!/usr/bin/env bash
# Runs every test: provisions the stack binaries (seconds when cached), then `npm test` on the project's Node.
# The whole output is kept in a log; when a test file fails, the lines that say why a file failed without a failing
# test (a rejection after its tests ended, a process that exited badly) are repeated at the end, where they are seen.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/provision.sh
# shellcheck source=env.sh
source tools/env.sh
echo "node $(node --version)"
log=$(mktemp -t arcane-test-XXXXXX.log)
status=0
npm test "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- why test files failed (whole output: $log)"
  grep -E -A4 "generated asynchronous activity|unhandledRejection|uncaughtException|exited with (code|signal)|^✖ .*\.test\.ts" "$log" | head -60 || true
fi
exit "$status"
