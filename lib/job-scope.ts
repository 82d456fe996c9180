import { ACTIVITY_FIELDS, MEASUREMENT } from './schema.ts'
import { toLine } from './influx/line-protocol.ts'

/**
 * What a collector must know of a job to attribute activity to it as it collects
 * (docs/interface.md §6, "What the numbers mean"): its window, its clients and its paths.
 * Given by the job store in `serve`, by the job API to a lone `collect`.
 */
export interface JobScope {
  id: string
  name: string
  /** the job's cluster; `""`: every cluster (jobs stored before jobs had one) */
  cluster: string
  /** window start, epoch ms */
  startMs: number
  /** window end, epoch ms; undefined while running (or not known to a lone collector) */
  endMs?: number
  /** canonical IPs and CIDRs */
  clients: readonly string[]
  /** normalised absolute paths: a point's `path` tag matches when it is one of them or lies under one */
  paths: readonly string[]
}

/** Seconds of a poll's interval (t − I, t] inside the job's window [start, end]. */
export function secondsInWindow(timeS: number, intervalS: number, job: Pick<JobScope, 'startMs' | 'endMs'>): number {
  const from = Math.max(timeS - intervalS, job.startMs / 1000)
  const to = Math.min(timeS, job.endMs === undefined ? Infinity : job.endMs / 1000)
  return Math.max(0, to - from)
}

/**
 * One `qactivity_job_activity` line: the rates of one (client, path) series at one poll, tagged with
 * the job; `seconds` of the poll's interval inside its window (total = Σ rate × seconds) and
 * `elapsed_seconds` (poll time − job start, the x axis of job comparisons). `cluster` is the cluster
 * whose points these are. Written by the collector as it polls, and by the backfill of late attachments.
 */
export function jobActivityLine(
  job: Pick<JobScope, 'id' | 'name' | 'startMs'>,
  cluster: string,
  clientIp: string,
  path: string,
  rates: ArrayLike<number>,
  seconds: number,
  timeS: number,
): string {
  const fields: Record<string, number> = {}
  ACTIVITY_FIELDS.forEach((f, k) => (fields[f] = rates[k]))
  fields.seconds = seconds
  fields.elapsed_seconds = timeS - job.startMs / 1000
  return toLine({
    measurement: MEASUREMENT.jobActivity,
    tags: { job_id: job.id, job_name: job.name, cluster, client_ip: clientIp, path },
    fields,
    time: timeS,
  })
}
