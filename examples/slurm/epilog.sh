#!/usr/bin/env bash
# Slurm epilog for qactivity: completes the job that prolog.sh created, failed when the job failed.
#
#   slurm.conf:  EpilogSlurmctld=/etc/slurm/qactivity-epilog.sh     # recommended
#           or:  Epilog=/etc/slurm/qactivity-epilog.sh              # on every compute node
#
# EpilogSlurmctld runs once per job, on the controller, and is the only epilog that receives the
# job's exit code (SLURM_JOB_EXIT_CODE2 "exit:signal", SLURM_JOB_EXIT_CODE the raw wait status,
# SLURM_JOB_DERIVED_EC the highest step exit code); any of them non-zero completes the job as failed.
# As a node Epilog it runs on every node: the first node completes the job and the others are told
# it is already completed (409), which is expected and ignored; without an exit code the job is
# recorded as succeeded.
#
# Same settings file as prolog.sh. It never fails (a failing node Epilog drains the node).
set -uo pipefail

PATH="${PATH:+$PATH:}/usr/local/bin:/usr/bin:/bin"

env_file=${QACTIVITY_SLURM_ENV:-/etc/qactivity/slurm.env}
if [[ -r $env_file ]]; then
  set -a
  # shellcheck source=/dev/null
  . "$env_file"
  set +a
fi

log() { logger -t qactivity-slurm -- "epilog: $*" 2>/dev/null || echo "qactivity epilog: $*" >&2; }

if [[ -z ${SLURM_JOB_ID:-} ]]; then
  log "SLURM_JOB_ID is not set; nothing to do"
  exit 0
fi

if [[ -n ${QACTIVITY_BIN:-} ]]; then
  read -r -a qactivity_cmd <<<"$QACTIVITY_BIN"
elif command -v qactivity >/dev/null 2>&1; then
  qactivity_cmd=(qactivity)
else
  qactivity_cmd=(npx --no-install qactivity)
fi
qa() { timeout 30 "${qactivity_cmd[@]}" "$@"; }

job_id="${QACTIVITY_ID_PREFIX:-}${SLURM_JOB_ID}"

failed=0
if [[ -n ${SLURM_JOB_EXIT_CODE2:-} ]]; then
  # "exit:signal", e.g. 0:0, 1:0, 0:9
  [[ ${SLURM_JOB_EXIT_CODE2%%:*} != 0 || ${SLURM_JOB_EXIT_CODE2#*:} != 0 ]] && failed=1
fi
[[ -n ${SLURM_JOB_EXIT_CODE:-} && $SLURM_JOB_EXIT_CODE != 0 ]] && failed=1
[[ -n ${SLURM_JOB_DERIVED_EC:-} && $SLURM_JOB_DERIVED_EC != 0 && $SLURM_JOB_DERIVED_EC != 0:0 ]] && failed=1

args=(--job "$job_id")
((failed)) && args+=(--failed)

if ! err=$(qa job complete "${args[@]}" 2>&1 >/dev/null); then
  case $err in
    *"(409)"*) ;; # another node's epilog completed it first
    *) log "job $job_id: complete failed: $err" ;;
  esac
fi
exit 0
