import { ACTIVITY_FIELDS, type ActivityField } from '../lib/schema.ts'
import type { FieldAggregate } from './compute.ts'

/**
 * A completed run against its history (README "What the numbers mean"): per field, its total and its
 * per-second rate (mean) against the median of the last N completed runs of the same name on the
 * same cluster; every change of at least the threshold is flagged, and said in words.
 */
export interface Regression {
  /** runs the medians are taken over (≤ QACTIVITY_REGRESSION_RUNS) */
  runs: number
  /** their ids, newest first */
  runIds: string[]
  median: Record<ActivityField, { total: number; mean: number }>
  /** changes at or beyond the threshold, largest first */
  flags: RegressionFlag[]
}

export interface RegressionFlag {
  field: ActivityField
  kind: 'total' | 'mean'
  value: number
  median: number
  /** value ÷ median */
  ratio: number
  /** (value − median) ÷ median × 100 */
  pct: number
  /** e.g. "read IOPS 2.3× the median of the last 5 runs" */
  text: string
}

type Aggregates = Record<ActivityField, Pick<FieldAggregate, 'total' | 'mean'>>

const LABEL: Record<'total' | 'mean', Record<ActivityField, string>> = {
  total: {
    iops_read: 'reads',
    iops_write: 'writes',
    metadata_iops_read: 'metadata reads',
    metadata_iops_write: 'metadata writes',
    throughput_read: 'bytes read',
    throughput_write: 'bytes written',
  },
  mean: {
    iops_read: 'read IOPS',
    iops_write: 'write IOPS',
    metadata_iops_read: 'metadata read IOPS',
    metadata_iops_write: 'metadata write IOPS',
    throughput_read: 'read throughput',
    throughput_write: 'write throughput',
  },
}

/** The median of numbers (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * `current` against `history` (the earlier runs to compare with, newest first, at most N); undefined
 * without history. A median of 0 flags nothing: no change can be told in times or percent.
 */
export function regressionOf(
  current: Aggregates,
  history: Array<{ id: string; activity: Aggregates }>,
  thresholdPct: number,
): Regression | undefined {
  if (!history.length) return undefined
  const runs = history.length
  const med = Object.fromEntries(
    ACTIVITY_FIELDS.map((f) => [
      f,
      { total: median(history.map((h) => h.activity[f]?.total ?? 0)), mean: median(history.map((h) => h.activity[f]?.mean ?? 0)) },
    ]),
  ) as Regression['median']
  const flags: RegressionFlag[] = []
  for (const f of ACTIVITY_FIELDS) {
    for (const kind of ['total', 'mean'] as const) {
      const value = current[f][kind]
      const m = med[f][kind]
      if (!(m > 0)) continue
      const ratio = value / m
      const pct = (ratio - 1) * 100
      // judged to one decimal, as reports show it (+20.0 % is flagged at 20 % even when the float is 19.99…)
      if (Math.round(Math.abs(pct) * 10) / 10 < thresholdPct) continue
      const times = ratio >= 1 ? `${ratio.toFixed(1)}×` : `${(ratio * 100).toFixed(0)} % of`
      const of = runs === 1 ? 'the last run' : `the median of the last ${runs} runs`
      flags.push({ field: f, kind, value, median: m, ratio, pct, text: `${LABEL[kind][f]} ${times} ${of}` })
    }
  }
  flags.sort((a, b) => Math.abs(b.pct) - Math.abs(a.pct))
  return { runs, runIds: history.map((h) => h.id), median: med, flags }
}
