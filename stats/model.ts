import { ACTIVITY_FIELDS, MEASUREMENT, RAW_WINDOW_SECONDS } from '../lib/schema.ts'

/**
 * The query model of the per-job aggregates (docs/interface.md §6), independent of the query language.
 *
 * Window edges: Qumulo's rates are 60-second averages (docs/qumulo/api.md §2) and the collector stamps
 * each poll at its grid time t, so a point stands for the interval (t − I, t] of the poll interval I.
 * A job's window [start, end] takes every point whose interval overlaps it, weighted by the
 * overlap: total = Σ rate × |(t − I, t] ∩ [start, end]|. Points therefore qualify when
 * start < t < end + I.
 */

/** Which activity points belong to a job: inside the window, and a client OR a path matches. */
export interface ActivitySelector {
  /** window start, epoch ms */
  startMs: number
  /** window end (now for a running job), epoch ms */
  endMs: number
  /** poll interval I in seconds: each point covers (t − I, t] */
  intervalSeconds: number
  /** exact `client_ip` tag values (CIDRs already expanded against the stored values) */
  clients: string[]
  /** job paths: a point matches when its `path` tag is the path or lies under it */
  paths: string[]
  /** the `cluster` tag a point must carry; empty or absent: any cluster (jobs without one) */
  cluster?: string
}

/** Epoch-ms bounds of the point times a query reads, both exclusive: from < t < to. */
export interface TimeRange {
  fromMs: number
  toMs: number
}

/**
 * The one query the stats need: every matching point, per (time, client_ip, path). Either a job's
 * attributed series (`qactivity_job_activity`, `job_id` = {@link ActivityQuery.jobId}), written by the
 * collector as it polls, or raw points matched by the selector's clients and paths (the backfill of
 * late attachments reads those).
 */
export interface ActivityQuery {
  measurement: 'qumulo_activity' | 'qactivity_job_activity'
  /** the job whose attributed series is read; absent for raw points */
  jobId?: string
  selector: ActivitySelector
  /** fields returned, in this order */
  fields: readonly string[]
  /** point times read; {@link queryRange} of the selector unless a part of it is asked for */
  range: TimeRange
}

/** One matching point, normalised from InfluxQL JSON or Flux annotated CSV. */
export interface ActivityRow {
  /** poll time, epoch seconds */
  time: number
  client: string
  path: string
  /** rates in {@link ACTIVITY_FIELDS} order (ops/s, bytes/s); a missing field is 0 */
  values: number[]
  /**
   * stored points this row stands for, counted by their {@link COUNTED_FIELD} value: 1 normally,
   * 0 for a point without it, more where several clusters share (time, client, path) in Flux
   */
  points: number
}

/**
 * The field {@link ActivitySource.count} counts points by. The collector writes all six fields on
 * every point, so its count is the number of points.
 */
export const COUNTED_FIELD = ACTIVITY_FIELDS[0]

/**
 * `a OR b OR …` as a balanced tree of the language's `op`. A flat chain is a left-deep tree as deep as
 * the list: Flux's semantic check fails beyond ~200 terms, and influxd 1.6.7 merges series sets once
 * per level (measured with 500 clients: `count()` 106 → 30 ms, 2,000 series of raw points 176 → 118 ms).
 */
export function anyOf(terms: readonly string[], op: 'OR' | 'or', none: string): string {
  if (terms.length === 0) return none
  if (terms.length === 1) return terms[0]
  const mid = terms.length >> 1
  return `(${anyOf(terms.slice(0, mid), op, none)} ${op} ${anyOf(terms.slice(mid), op, none)})`
}

/** The points that can overlap the window: start < t < end + I, in epoch ms. */
export function queryRange(s: ActivitySelector): TimeRange {
  return { fromMs: s.startMs, toMs: s.endMs + s.intervalSeconds * 1000 }
}

/** The raw points matching the selector's clients or paths, all of them or those inside `range`. */
export function activityQuery(selector: ActivitySelector, range: TimeRange = queryRange(selector)): ActivityQuery {
  return { measurement: 'qumulo_activity', selector, fields: ACTIVITY_FIELDS, range }
}

/** The job's attributed points (`qactivity_job_activity`), all of them or those inside `range`. */
export function jobActivityQuery(jobId: string, selector: ActivitySelector, range: TimeRange = queryRange(selector)): ActivityQuery {
  return { measurement: 'qactivity_job_activity', jobId, selector, fields: ACTIVITY_FIELDS, range }
}

/** What a stored value is divided by to give the rate: raw points hold counts of Qumulo's 60 s window (RAW_WINDOW_SECONDS). */
export function perValue(q: Pick<ActivityQuery, 'measurement'>): number {
  return q.measurement === MEASUREMENT.activity ? RAW_WINDOW_SECONDS : 1
}

/** Whether a query can match anything: without a client or a path nothing is attributed to a job either. */
export function canMatch(q: ActivityQuery): boolean {
  return q.selector.clients.length > 0 || q.selector.paths.length > 0
}

/** Runs activity queries and tag-value lookups (InfluxQL: stats/influxql.ts, Flux: stats/flux.ts). */
export interface ActivitySource {
  /** every matching point of the query's range */
  rows(q: ActivityQuery): Promise<ActivityRow[]>
  /** how many matching points carry {@link COUNTED_FIELD} in the query's range (cheap: no rows) */
  count(q: ActivityQuery): Promise<number>
  /** every stored `client_ip` tag value, of one cluster when given (to expand CIDRs and match non-canonical forms) */
  clientValues(cluster?: string): Promise<string[]>
  /** a completed job's stored series (`qactivity_job_timeline`, written with its summary), oldest first */
  timeline(jobId: string, range: TimeRange): Promise<Array<{ time: number; values: number[] }>>
}

/** Seconds of the point's interval (t − I, t] inside [start, end]. */
export function overlapSeconds(timeS: number, s: ActivitySelector): number {
  const from = Math.max(timeS - s.intervalSeconds, s.startMs / 1000)
  const to = Math.min(timeS, s.endMs / 1000)
  return Math.max(0, to - from)
}
