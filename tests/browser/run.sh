#!/usr/bin/env bash
# Runs the staff console's browser tests (console.test.mjs) in Debian's Chromium through playwright-core.
# Needs LATCHKEYD (the binary under test); installs the one npm dependency on first use (npm ci, cached in
# node_modules). Screenshots go to LATCHKEY_BROWSER_ARTIFACTS (default: ./browser-artifacts).
set -euo pipefail
cd "$(dirname "$0")"
: "${LATCHKEYD:?set LATCHKEYD to the latchkeyd binary}"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "browser tests: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "browser tests: /usr/bin/chromium is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test console.test.mjs
