#!/usr/bin/env bash
# The demo on a fresh Debian machine with Node 20: installs what is missing, then runs `qactivity demo`,
# which starts (and at its end stops) a private influxd unless INFLUX_URL points at an InfluxDB.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit --loglevel=error
fi

if [ -z "${INFLUX_URL:-}" ] && ! command -v influxd >/dev/null 2>&1; then
  bash scripts/ensure-system-deps.sh
fi
exec node bin/qactivity.mjs demo "$@"
