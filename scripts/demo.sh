#!/usr/bin/env bash
# The demo on a fresh Debian machine with Node 20: installs what is missing, starts a local InfluxDB
# (unless INFLUX_URL points at one), then runs `qactivity demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit --loglevel=error
fi

if [ -z "${INFLUX_URL:-}" ]; then
  export INFLUX_URL=http://127.0.0.1:8086
  if ! node scripts/ping.mjs "$INFLUX_URL/ping"; then
    bash scripts/ensure-system-deps.sh
    bash scripts/start-influxd.sh data/influxdb 8086
  fi
fi
exec node bin/qactivity.mjs demo "$@"
