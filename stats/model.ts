import { ACTIVITY_FIELDS } from '../lib/schema.ts'

/**
 * The query model of the per-job aggregates (interface.md §6), independent of the query language.
 *
 * Window edges: Qumulo's rates are 60-second averages (qumulo/api.md §2) and the collector stamps
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
}

/** The one query the stats need: every matching point, per (time, client_ip, path). */
export interface ActivityQuery {
  measurement: 'qumulo_activity'
  selector: ActivitySelector
  /** fields returned, in this order */
  fields: readonly string[]
}

/** One matching point, normalised from InfluxQL JSON or Flux annotated CSV. */
export interface ActivityRow {
  /** poll time, epoch seconds */
  time: number
  client: string
  path: string
  /** rates in {@link ACTIVITY_FIELDS} order (ops/s, bytes/s); a missing field is 0 */
  values: number[]
}

/** The points that can overlap the window: start < t < end + I, in epoch ms. */
export function queryRange(s: ActivitySelector): { fromMs: number; toMs: number } {
  return { fromMs: s.startMs, toMs: s.endMs + s.intervalSeconds * 1000 }
}

export function activityQuery(selector: ActivitySelector): ActivityQuery {
  return { measurement: 'qumulo_activity', selector, fields: ACTIVITY_FIELDS }
}

/** Seconds of the point's interval (t − I, t] inside [start, end]. */
export function overlapSeconds(timeS: number, s: ActivitySelector): number {
  const from = Math.max(timeS - s.intervalSeconds, s.startMs / 1000)
  const to = Math.min(timeS, s.endMs / 1000)
  return Math.max(0, to - from)
}
