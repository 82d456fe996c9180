#!/usr/bin/env bash
# The whole suite N times in a row (default 5) while two CPU-bound processes run beside it: the
# proof that no test depends on timing. Stops at the first failing run; prints one line per run.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
burners=()
for _ in 1 2; do (while :; do :; done) & burners+=($!); done
trap 'kill "${burners[@]}" 2>/dev/null' EXIT
mkdir -p .tmp
passed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if CI=true bash .ci/run > ".tmp/suite-run-$i.log" 2>&1; then
    passed=$((passed + 1))
    echo "run $i: passed in $(( $(date +%s) - start )) s ($(grep '^tests:' ".tmp/suite-run-$i.log"))"
  else
    echo "run $i: FAILED after $(( $(date +%s) - start )) s, see .tmp/suite-run-$i.log ($(grep '^tests:' ".tmp/suite-run-$i.log"))"
    break
  fi
done
echo "$passed/$runs runs passed with 2 CPU-bound processes beside the suite"
[ "$passed" -eq "$runs" ]
