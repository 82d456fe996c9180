import { isAtOrUnder, normalizePath } from '../lib/paths.ts'
import { expandHostlist } from './hostlist.ts'
import type { SlurmRecord } from './records.ts'

/** A completion status of qactivity (docs/interface.md §5). */
export type EndStatus = 'succeeded' | 'failed' | 'cancelled'

/** A mount prefix on the compute nodes and the cluster path it shows (`QACTIVITY_SLURM_PATHS`). */
export interface Mount {
  /** absolute, normalised, e.g. `/mnt/qumulo` */
  mount: string
  /** the Qumulo path it shows, e.g. `/` */
  path: string
}

/** How Slurm jobs become qactivity jobs (README "Slurm"). */
export interface MappingOptions {
  /** prepended to every id (`QACTIVITY_SLURM_ID_PREFIX`) @defaultValue '' */
  idPrefix: string
  /** Slurm's ClusterName: the `slurm_cluster` label */
  slurmCluster: string
  mounts: Mount[]
}

/** The qactivity job a Slurm job (or one run of a requeued job) should be. */
export interface DesiredJob {
  /** qactivity id: the prefix and {@link SlurmRecord.id} */
  id: string
  name: string
  /** `scheduler=slurm`, `slurm_cluster`, `user`, `account`, `partition` (those Slurm has) */
  labels: Record<string, string>
  /** Slurm's StartTime, ISO */
  startedAt: string
  /** the allocated node names */
  nodes: string[]
  /** the cluster path of the work directory, when it lies under a configured mount */
  paths: string[]
  /** once the job (run) has ended: Slurm's EndTime, the qactivity status and Slurm's final state (the `slurm_state` label) */
  end?: { at: string; status: EndStatus; state: string }
}

/** Slurm's final state → qactivity status: COMPLETED succeeded, CANCELLED cancelled, every other final state failed. */
export function statusOf(state: string): EndStatus {
  if (state === 'COMPLETED') return 'succeeded'
  if (state === 'CANCELLED') return 'cancelled'
  return 'failed'
}

/** The job's cluster path: the work directory under the longest matching mount, mapped; none outside every mount. */
export function pathFor(workDir: string, mounts: Mount[]): string | undefined {
  const dir = normalizePath(workDir)
  if (!dir.ok) return undefined
  let best: Mount | undefined
  for (const m of mounts) if (isAtOrUnder(dir.path, m.mount) && (!best || m.mount.length > best.mount.length)) best = m
  if (!best) return undefined
  const mapped = normalizePath(`${best.path}/${best.mount === '/' ? dir.path : dir.path.slice(best.mount.length)}`)
  return mapped.ok ? mapped.path : undefined
}

const NAME_MAX = 200
/** A label value or name as the API accepts it: no control characters, trimmed, bounded. */
const clean = (s: string, max: number) =>
  s
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .trim()
    .slice(0, max)

/** A Slurm job name as a qactivity name; a blank one (the API refuses it) becomes `slurm-<id>`. */
export function jobName(name: string, id: string | number): string {
  return clean(name, NAME_MAX) || `slurm-${id}`
}

/** The labels of a Slurm job; Slurm's `(null)` and empty values are left out. */
export function labelsOf(r: Pick<SlurmRecord, 'user' | 'account' | 'partition'>, slurmCluster: string): Record<string, string> {
  const labels: Record<string, string> = { scheduler: 'slurm' }
  const add = (k: string, v: string) => {
    const value = clean(v, 256)
    if (value && value !== '(null)') labels[k] = value
  }
  add('slurm_cluster', slurmCluster)
  add('user', r.user)
  add('account', r.account)
  add('partition', r.partition)
  return labels
}

/**
 * States of a started run that has not ended. CONFIGURING is one: its nodes are allocated and its
 * StartTime is this run's (the controller prolog, ours included, is running). COMPLETING is not.
 */
const ACTIVE = new Set(['CONFIGURING', 'RUNNING', 'SUSPENDED', 'STOPPED'])

/**
 * The job a Slurm record should be. None for a job that never started (cancelled while pending) and
 * none yet while it is COMPLETING or PENDING again: a requeued job's record already carries its next
 * run's number while the previous run completes, with that run's start time.
 */
export function desiredFromRecord(r: SlurmRecord, o: MappingOptions): DesiredJob | undefined {
  if (!r.startedAt || !(ACTIVE.has(r.state) || r.endedAt)) return undefined
  const path = pathFor(r.workDir, o.mounts)
  return {
    id: `${o.idPrefix}${r.id}`,
    name: jobName(r.name, r.id),
    labels: labelsOf(r, o.slurmCluster),
    startedAt: r.startedAt,
    nodes: r.nodes ? expandHostlist(r.nodes) : [],
    paths: path ? [path] : [],
    ...(r.endedAt ? { end: { at: r.endedAt, status: statusOf(r.state), state: r.state } } : {}),
  }
}
