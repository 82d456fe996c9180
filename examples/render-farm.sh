#!/usr/bin/env bash
# A render farm in miniature: one qactivity job, N parallel workers that inherit it through
# QACTIVITY_JOB, attach their own address and leave a comment, then one completion and the result.
#
#   QACTIVITY_URL=http://qactivity:8750 QACTIVITY_TOKEN=... ./render-farm.sh [WORKERS]
#
# Settings (environment): WORKERS (4), JOB_NAME (render), RENDER_PATH (/render/shots),
# SHOT (sq010), WORK_SECONDS (3: the simulated render), QACTIVITY_BIN (the qactivity command,
# e.g. "node /opt/qactivity/bin/qactivity.mjs"; default: qactivity on PATH, else npx qactivity).
#
# On a real farm each worker runs on its own host (ssh, a queue, a container…): pass QACTIVITY_JOB
# (and QACTIVITY_URL/QACTIVITY_TOKEN) along and `qactivity job add-client` records that host's address.
set -euo pipefail

workers=${1:-${WORKERS:-4}}
job_name=${JOB_NAME:-render}
render_path=${RENDER_PATH:-/render/shots}
shot=${SHOT:-sq010}
work_seconds=${WORK_SECONDS:-3}

if [[ ! $workers =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [WORKERS]  (a positive number, got \"$workers\")" >&2
  exit 2
fi

if [[ -n ${QACTIVITY_BIN:-} ]]; then
  read -r -a qactivity_cmd <<<"$QACTIVITY_BIN"
elif command -v qactivity >/dev/null 2>&1; then
  qactivity_cmd=(qactivity)
else
  qactivity_cmd=(npx --no-install qactivity)
fi
qa() { "${qactivity_cmd[@]}" "$@"; }

# 1. a job ID; every process started from here on inherits it
QACTIVITY_JOB=$(qa job start --name "$job_name" --path "$render_path" --label "shot=$shot" --label "workers=$workers")
export QACTIVITY_JOB
echo "render-farm: job $QACTIVITY_JOB, $workers workers" >&2

# If the script dies or is interrupted before the end, the job is completed as failed.
completed=0
finish() {
  if ((completed == 0)); then qa job complete --failed || true; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# 2. parallel workers, each in a background subshell
pids=()
for ((i = 1; i <= workers; i++)); do
  (
    set -euo pipefail
    qa job add-client                  # this machine, as the API sees it
    sleep "$work_seconds"              # the render
    qa job comment "worker $i done"
  ) &
  pids+=("$!")
done

failures=0
for pid in "${pids[@]}"; do
  wait "$pid" || failures=$((failures + 1))
done

# 3. one call completes the job
if ((failures > 0)); then
  echo "render-farm: $failures of $workers workers failed" >&2
  qa job complete --failed
else
  qa job complete
fi
completed=1

# 4. what the job holds now (stats arrive with the next release: qactivity job stats)
qa job show
((failures == 0))
