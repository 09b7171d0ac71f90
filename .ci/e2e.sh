#!/usr/bin/env bash
# End-to-end tests in headless Chromium (issue 6). A fragment for .ci/run, to run after `npm test`:
#   bash .ci/e2e.sh
# Installs Debian's chromium when it is missing (CI runs as root), then builds and runs `npm run test:e2e`.
# Screenshots land in artifacts/e2e/. Ends with a line "e2e: N passed, N failed" counted from tap's summary,
# and with tap's exit code.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "e2e: chromium is missing, installing it from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
echo "e2e: $(chromium --version 2>/dev/null | head -n 1)"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
npm run test:e2e 2>&1 | tee "$log" || status=$?
# tap's last summary line looks like: # { total: 48, pass: 46, todo: 2 }
summary=$(grep -E '^# \{ total: ' "$log" | tail -n 1 || true)
passed=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
echo "e2e: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
