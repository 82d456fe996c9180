#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine with Node 20: installs what is missing, type-checks,
# runs unit and integration tests (real influxd), and prints one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit --loglevel=error
fi
bash scripts/ensure-system-deps.sh

echo "typecheck: tsc --noEmit"
npx tsc --noEmit -p .
echo "format: prettier --check (npm run format fixes it)"
npx prettier --check --log-level warn '**/*.{ts,mjs}'

mkdir -p .tmp
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".tmp/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || true
exit $status
