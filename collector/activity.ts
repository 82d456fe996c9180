import { ACTIVITY_FIELDS, FIELD_OF_TYPE, MEASUREMENT, RAW_WINDOW_SECONDS, type ActivityType } from '../lib/schema.ts'
import { toLine } from '../lib/influx/line-protocol.ts'
import type { ActivityEntry } from '../qumulo/types.ts'

/** Summed rates of one (client_ip, path) series, indexed like {@link ACTIVITY_FIELDS}. */
export interface ActivitySeries {
  clientIp: string
  path: string
  /** ops/s, bytes/s: whole counts of Qumulo's window over {@link RAW_WINDOW_SECONDS} (k / 60) */
  rates: Float64Array
}

const FIELD_INDEX = Object.fromEntries(
  Object.entries(FIELD_OF_TYPE).map(([type, field]) => [type, ACTIVITY_FIELDS.indexOf(field)]),
) as Record<ActivityType, number>

/**
 * Sums entry rates per (client IP, path tag). Every entry counts exactly once; `pathOf` maps a file
 * id to its tag (see PathRule). Each sum is made a whole count of Qumulo's window (k / 60), as it is
 * stored, so the job series and rollups derived from it agree with the raw points to the bit.
 */
export function sumBySeries(entries: readonly ActivityEntry[], pathOf: (id: string) => string): ActivitySeries[] {
  const series = new Map<string, ActivitySeries>()
  for (const e of entries) {
    const path = pathOf(e.id)
    const key = e.ip + '\u0000' + path
    let s = series.get(key)
    if (!s) {
      s = { clientIp: e.ip, path, rates: new Float64Array(ACTIVITY_FIELDS.length) }
      series.set(key, s)
    }
    s.rates[FIELD_INDEX[e.type]] += e.rate
  }
  for (const s of series.values()) for (let i = 0; i < s.rates.length; i++) s.rates[i] = countOf(s.rates[i]) / RAW_WINDOW_SECONDS
  return [...series.values()]
}

/** A rate as the whole count of Qumulo's window it stands for (rate × 60, rounded off float noise). */
export function countOf(rate: number): number {
  return Math.round(rate * RAW_WINDOW_SECONDS)
}

/**
 * `qumulo_activity` lines: per series the integer count of each of the six fields (rate × 60, see
 * RAW_WINDOW_SECONDS), timestamped at the poll time in seconds. Zeros are written too: a reader's
 * per-poll sum must see 0, not a missing value it would skip (BENCHMARKS.md: they cost ~1.7 B a point).
 */
export function activityLines(series: readonly ActivitySeries[], cluster: string, time: number): string[] {
  return series.map((s) => {
    const fields: Record<string, bigint> = {}
    ACTIVITY_FIELDS.forEach((f, i) => (fields[f] = BigInt(countOf(s.rates[i]))))
    return toLine({ measurement: MEASUREMENT.activity, tags: { cluster, client_ip: s.clientIp, path: s.path }, fields, time })
  })
}

/**
 * The `qumulo_cluster_activity` line of a poll: the whole cluster's sums, as integer counts like the raw
 * points, zeros too. One small series per cluster, kept long: a job's share of the cluster over any
 * window is read from it without scanning the raw points (stats/share.ts).
 */
export function clusterActivityLine(series: readonly ActivitySeries[], cluster: string, time: number): string {
  const counts = ACTIVITY_FIELDS.map(() => 0)
  for (const s of series) for (let i = 0; i < counts.length; i++) counts[i] += countOf(s.rates[i])
  const fields = Object.fromEntries(ACTIVITY_FIELDS.map((f, i) => [f, BigInt(counts[i])]))
  return toLine({ measurement: MEASUREMENT.clusterActivity, tags: { cluster }, fields, time })
}
