import type { InfluxConfig } from '../lib/config.ts'
import { createInfluxQLReader, quoteIdent, quoteString } from '../lib/influx/influxql.ts'
import { ACTIVITY_FIELDS, MEASUREMENT, RAW_WINDOW_SECONDS, influxqlFrom, type ActivityField } from '../lib/schema.ts'
import { overlapSeconds, type ActivitySelector } from './model.ts'

/**
 * A job's share of its cluster (README "What the numbers mean"), in percent: per activity field the
 * job's total over the cluster's total in the job's window (both weighted by the same window edges),
 * and the peak share — the job's per-poll sum over the cluster's at the poll where that share is
 * highest; for capacity, the job paths' growth of `used_bytes` over the cluster's. null where the
 * cluster did nothing (or shrank), so no share can be told.
 */
export type ClusterShare = Record<ActivityField, { total: number | null; peak: number | null }> & {
  used_bytes: { total: number | null }
}

/** The cluster side of a share: its per-poll sums and its capacity growth over a window. */
export interface ClusterActivity {
  /** per poll time (epoch s), the cluster's summed rates in ACTIVITY_FIELDS order; every cluster summed when none is given */
  polls(cluster: string | undefined, fromMs: number, toMs: number): Promise<Map<number, number[]>>
  /** last − first `used_bytes` of `qumulo_cluster` in the window (summed over clusters); null without two readings */
  usedBytesGrowth(cluster: string | undefined, fromMs: number, toMs: number): Promise<number | null>
}

/** {@link ClusterActivity} in InfluxQL, on every version: one small series per cluster (`qumulo_cluster_activity`). */
export function createClusterActivity(influx: InfluxConfig, intervalSeconds: number): ClusterActivity {
  const ql = createInfluxQLReader(influx)
  const query = async (text: string) => {
    const [r] = await ql.query(text)
    return r?.series ?? []
  }
  const where = (cluster: string | undefined, fromMs: number, toMs: number) =>
    `WHERE ${cluster ? `${quoteIdent('cluster')} = ${quoteString(cluster)} AND ` : ''}` +
    `time > ${quoteString(new Date(fromMs).toISOString())} AND time < ${quoteString(new Date(toMs).toISOString())}`
  return {
    async polls(cluster, fromMs, toMs) {
      const sums = ACTIVITY_FIELDS.map((f) => `sum(${quoteIdent(f)}) AS ${quoteIdent(f)}`).join(', ')
      const series = await query(
        `SELECT ${sums} FROM ${influxqlFrom(MEASUREMENT.clusterActivity)} ${where(cluster, fromMs, toMs)} ` +
          `GROUP BY time(${intervalSeconds}s) fill(none)`,
      )
      const out = new Map<number, number[]>()
      for (const s of series)
        for (const row of s.rows)
          out.set(
            row.time as number,
            ACTIVITY_FIELDS.map((f) => Number(row[f] ?? 0) / RAW_WINDOW_SECONDS),
          )
      return out
    },
    async usedBytesGrowth(cluster, fromMs, toMs) {
      const series = await query(
        `SELECT first(${quoteIdent('used_bytes')}) AS a, last(${quoteIdent('used_bytes')}) AS b ` +
          `FROM ${influxqlFrom(MEASUREMENT.cluster)} ${where(cluster, fromMs, toMs)} GROUP BY ${quoteIdent('cluster')}`,
      )
      let growth: number | null = null
      for (const s of series) for (const row of s.rows) growth = (growth ?? 0) + Number(row.b) - Number(row.a)
      return growth
    },
  }
}

const pct = (part: number, whole: number) => (whole > 0 ? (part / whole) * 100 : null)

/**
 * The share of a job whose per-poll sums are `job` (its accumulator's, rates) and totals `totals`,
 * against the cluster's per-poll sums over the same window `s`.
 */
export function shareOf(
  job: { perPoll: ReadonlyMap<number, readonly number[]>; totals: readonly number[]; usedBytesDelta: number | null },
  cluster: ReadonlyMap<number, readonly number[]>,
  clusterGrowth: number | null,
  s: ActivitySelector,
): ClusterShare {
  const clusterTotals = ACTIVITY_FIELDS.map(() => 0)
  for (const [t, sums] of cluster) {
    const w = overlapSeconds(t, s)
    if (w > 0) sums.forEach((v, i) => (clusterTotals[i] += v * w))
  }
  const peaks: Array<number | null> = ACTIVITY_FIELDS.map(() => null)
  for (const [t, sums] of job.perPoll) {
    const whole = cluster.get(t)
    if (!whole || overlapSeconds(t, s) <= 0) continue
    sums.forEach((v, i) => {
      const p = pct(v, whole[i])
      if (p !== null && (peaks[i] === null || p > peaks[i]!)) peaks[i] = p
    })
  }
  const used = job.usedBytesDelta === null || clusterGrowth === null ? null : pct(job.usedBytesDelta, clusterGrowth)
  return {
    ...Object.fromEntries(ACTIVITY_FIELDS.map((f, i) => [f, { total: pct(job.totals[i], clusterTotals[i]), peak: peaks[i] }])),
    used_bytes: { total: used },
  } as unknown as ClusterShare
}
