#!/usr/bin/env bash
# Slurm Prolog for qactivity: a qactivity job per Slurm job, with every node's address attached.
#
#   slurm.conf:  Prolog=/etc/slurm/qactivity-prolog.sh
#                PrologFlags=Alloc     # optional: run at allocation rather than at the first step
#
# The Prolog runs as root on EVERY node of the job, at the same time. That is why the job is
# created with the Slurm job ID as its client-chosen ID and with attributes that are identical on
# every node (name and labels only): creating the same job twice returns the existing job, so the
# first node creates it and the others find it. Each node then attaches its own address with
# `add-client` (no IP: the address the API sees), which is idempotent too.
#
# Settings come from /etc/qactivity/slurm.env (or $QACTIVITY_SLURM_ENV), e.g.
#   QACTIVITY_URL=http://qactivity.example:8750
#   QACTIVITY_TOKEN=...                       # a writer token
#   QACTIVITY_BIN="/usr/bin/node /opt/qactivity/bin/qactivity.mjs"
#   QACTIVITY_ID_PREFIX=clusterA-             # optional, when several clusters share one API
#   QACTIVITY_SLURM_PATHS="/scratch /projects/foo"  # optional cluster paths attached to every job
#
# It never fails: a non-zero Prolog drains the node and requeues the job, and an unreachable
# qactivity must not do that. Problems go to syslog (tag qactivity-slurm).
set -uo pipefail

# Slurm runs prologs without a search path.
PATH="${PATH:+$PATH:}/usr/local/bin:/usr/bin:/bin"

env_file=${QACTIVITY_SLURM_ENV:-/etc/qactivity/slurm.env}
if [[ -r $env_file ]]; then
  set -a
  # shellcheck source=/dev/null
  . "$env_file"
  set +a
fi

log() { logger -t qactivity-slurm -- "prolog: $*" 2>/dev/null || echo "qactivity prolog: $*" >&2; }

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
# The CLI times out after 10 s per request; this bounds the whole call so the job start is never held up long.
qa() { timeout 30 "${qactivity_cmd[@]}" "$@"; }

job_id="${QACTIVITY_ID_PREFIX:-}${SLURM_JOB_ID}"
# SLURM_JOB_NAME is not set in every Slurm version's Prolog; the fallback is the same on every node.
name=${SLURM_JOB_NAME:-slurm-$SLURM_JOB_ID}
name=${name:0:200}

args=(--id "$job_id" --name "$name" --label "scheduler=slurm")
[[ -n ${SLURM_JOB_USER:-} ]] && args+=(--label "user=$SLURM_JOB_USER")
[[ -n ${SLURM_JOB_PARTITION:-} ]] && args+=(--label "partition=$SLURM_JOB_PARTITION")
[[ -n ${SLURM_JOB_ACCOUNT:-} ]] && args+=(--label "account=$SLURM_JOB_ACCOUNT")
[[ -n ${SLURM_CLUSTER_NAME:-} ]] && args+=(--label "cluster=$SLURM_CLUSTER_NAME")

if ! err=$(qa job start "${args[@]}" 2>&1 >/dev/null); then
  log "job $job_id: start failed: $err"
  exit 0
fi

if ! err=$(qa job add-client --job "$job_id" 2>&1 >/dev/null); then
  log "job $job_id: add-client from ${SLURMD_NODENAME:-$(hostname)} failed: $err"
fi

if [[ -n ${QACTIVITY_SLURM_PATHS:-} ]]; then
  read -r -a paths <<<"$QACTIVITY_SLURM_PATHS"
  if ! err=$(qa job add-path --job "$job_id" "${paths[@]}" 2>&1 >/dev/null); then
    log "job $job_id: add-path failed: $err"
  fi
fi
exit 0
