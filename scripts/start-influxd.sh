#!/usr/bin/env bash
# Starts Debian's influxd in the background with its state under DIR, HTTP on 127.0.0.1:PORT.
set -euo pipefail
dir=${1:-data/influxdb}
port=${2:-8086}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cat > "$dir/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$((port + 2))"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
[monitor]
  store-enabled = false
[logging]
  level = "warn"
CONF
nohup influxd run -config "$dir/influxd.conf" >"$dir/influxd.log" 2>&1 &
for _ in $(seq 1 100); do
  if node scripts/ping.mjs "http://127.0.0.1:$port/ping"; then
    echo "influxd: started on http://127.0.0.1:$port (state in $dir, pid $!)"
    exit 0
  fi
  sleep 0.1
done
echo "influxd: did not answer on port $port; see $dir/influxd.log" >&2
exit 1
