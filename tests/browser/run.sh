#!/usr/bin/env bash
# The staff console's browser tests (console.test.mjs): Debian's Chromium driven by playwright-core, WebAuthn
# through CDP virtual authenticators. Starts latchkeyd ($LATCHKEYD) on a free loopback port with a fresh data
# folder and two outbox SMS providers, runs the tests, stops the server.
#   LATCHKEYD=build/latchkeyd tests/browser/run.sh
# Screenshots and the server's log go to $LATCHKEY_BROWSER_ARTIFACTS (default: ./browser-artifacts).
# The one npm dependency is installed by `npm ci` into node_modules on first use (and kept there).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${LATCHKEYD:?set LATCHKEYD to the latchkeyd binary}"
LATCHKEYD=$(realpath "$LATCHKEYD")
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export LATCHKEY_BROWSER_ARTIFACTS=${LATCHKEY_BROWSER_ARTIFACTS:-$here/browser-artifacts}

if ! command -v node >/dev/null || ! command -v npm >/dev/null || [ ! -x "$CHROMIUM" ]; then
  "$here/../../scripts/install-deps.sh" --browser
fi
cd "$here"
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error --prefer-offline
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-browser.XXXXXX")
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  mkdir -p "$LATCHKEY_BROWSER_ARTIFACTS"
  cp "$work/server.log" "$LATCHKEY_BROWSER_ARTIFACTS/latchkeyd.log" 2>/dev/null || true
  rm -rf "$work"
}
trap stop_server EXIT

port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
cat >"$work/latchkey.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[storage]
sqlite_path = "latchkey.db"
[verification]
proof_of_work_bits = 0
[accounts]
takeover_delay = "0s"
[staff]
rp_id = "localhost"
origins = ["http://localhost:$port"]
cookie_secure = true
[incidents]
support_url = "https://help.example.org/breach"
[[sms.providers]]
name = "phished"
kind = "outbox"
path = "phished.jsonl"
[[sms.providers]]
name = "clean"
kind = "outbox"
path = "clean.jsonl"
[sms.routing]
default = ["phished", "clean"]
TOML

"$LATCHKEYD" serve --config "$work/latchkey.toml" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { echo "browser tests: latchkeyd exited:" >&2; cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { echo "browser tests: latchkeyd did not answer /health" >&2; exit 1; }

export LATCHKEY_BROWSER_PORT=$port LATCHKEY_BROWSER_CONFIG=$work/latchkey.toml LATCHKEY_BROWSER_DATA=$work/data
node --test --test-reporter=spec console.test.mjs
