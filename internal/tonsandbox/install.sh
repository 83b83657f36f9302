#!/usr/bin/env bash
# Installs the TON sandbox's npm packages (pinned in node/package-lock.json)
# into node/node_modules. Idempotent: does nothing when node_modules was
# installed from the same lock file. Without node/npm it only warns (the
# sandbox tests then skip), unless COCOON_REQUIRE_TON_SANDBOX=1.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/node" && pwd)"
stamp="$dir/node_modules/.cocoon-lock.sha256"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "tonsandbox: node/npm not found; the TON sandbox tests will be skipped (install Node.js 18+)" >&2
  [ "${COCOON_REQUIRE_TON_SANDBOX:-}" = "1" ] && exit 1
  exit 0
fi

want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dir/node_modules/@ton/sandbox/package.json" ]; then
  exit 0
fi

echo "tonsandbox: installing npm packages in $dir" >&2
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$want" > "$stamp"
