#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only when one is missing:
#   influxdb (influxd), poppler-utils (pdftotext), docker-compose, fonts-dejavu-core, systemd
#   (systemd-analyze verify for the units in packaging/systemd; nothing of it runs), chromium
#   (renders the HTML report headless in test/integration/report-render.int.test.ts), slurm-wlm and
#   munge (a real one-host Slurm for the Slurm integration: test/support/slurm.ts; no service started).
# Fast no-op when everything is present. Leaves no influxd service running.
set -euo pipefail

PACKAGES=(influxdb poppler-utils docker-compose fonts-dejavu-core fonts-droid-fallback systemd chromium slurm-wlm munge)

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
  else
    echo "ensure-system-deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi

# Debian's influxdb postinst starts its service through invoke-rc.d; a policy-rc.d that exits 101
# forbids that (the usual container trick). Ours is removed again afterwards.
POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  own_policy=1
fi
cleanup() {
  if [ "$own_policy" = 1 ]; then "${SUDO[@]}" rm -f "$POLICY"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
out=$(mktemp)
if ! { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$out" 2>&1; then
  cat "$out" >&2
  rm -f "$out"
  echo "ensure-system-deps: apt-get failed installing ${missing[*]}" >&2
  exit 1
fi
rm -f "$out"
for pkg in "${missing[@]}"; do
  installed "$pkg" || { echo "ensure-system-deps: $pkg failed to install" >&2; exit 1; }
  echo "ensure-system-deps: installed $pkg"
done

# In case a service was started anyway (e.g. policy-rc.d was not honoured), stop exactly that daemon.
PIDFILE=/var/run/influxdb/influxd.pid
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  "${SUDO[@]}" /etc/init.d/influxdb stop >/dev/null 2>&1 || "${SUDO[@]}" kill "$(cat "$PIDFILE")"
  echo "ensure-system-deps: stopped the influxdb service the package started"
fi
