import type { Job } from '../jobs/types.ts'
import { ACTIVITY_FIELDS, opsOf, type ActivityField } from '../lib/schema.ts'
import { USAGE_GROUP_RE } from '../lib/config.ts'
import type { ActivityRange } from './range.ts'

/**
 * Showback (`GET /api/v1/usage`, `qactivity usage`): the completed jobs that ended in a range, grouped
 * by name, cluster or a label, with their summaries' totals added up (README "What the numbers
 * mean"). Read from the job store in memory: no InfluxDB query but the cluster's totals for the share.
 */
export type UsageGroup = { by: 'name' } | { by: 'cluster' } | { by: 'label'; key: string }

export interface UsageRow {
  /** the name, cluster or label value; `(none)` for jobs without the label, `""` cluster for every cluster */
  group: string
  jobs: number
  /** Σ of the jobs' summary totals: operations or bytes */
  total: Record<ActivityField, number>
  /** Σ of the jobs' paths' used-bytes growth */
  usedBytesDelta: number
  /** total as a share of the cluster's (of the group's cluster when grouped by cluster, else of all), percent */
  share?: Record<ActivityField, number | null>
}

export interface UsageAnswer {
  rows: UsageRow[]
  /** completed jobs that ended in the range */
  jobs: number
  /** of these, the ones whose summary is not computed yet: not in the totals */
  pending: number
}

/** `name`, `cluster` or `label:KEY`; undefined when it is none of these. */
export function parseGroup(text: string): UsageGroup | undefined {
  if (!USAGE_GROUP_RE.test(text)) return undefined
  return text === 'name' || text === 'cluster' ? { by: text } : { by: 'label', key: text.slice('label:'.length) }
}

const NONE = '(none)'

/** The usage of the jobs that completed in [sinceMs, untilMs), of one cluster when given. */
export function usageOf(jobs: Iterable<Job>, q: { group: UsageGroup; sinceMs: number; untilMs: number; cluster?: string }): UsageAnswer {
  const rows = new Map<string, UsageRow>()
  let count = 0
  let pending = 0
  for (const j of jobs) {
    if (j.status === 'running' || !j.endedAt) continue
    const end = Date.parse(j.endedAt)
    if (!(end >= q.sinceMs && end < q.untilMs)) continue
    if (q.cluster !== undefined && j.cluster !== q.cluster) continue
    count++
    const stats =
      j.summary?.state === 'done' ? (j.summary.stats as { activity?: Record<string, { total?: number }>; capacity?: unknown }) : undefined
    if (!stats?.activity) {
      pending++
      continue
    }
    const key = q.group.by === 'name' ? j.name : q.group.by === 'cluster' ? j.cluster : (j.labels?.[q.group.key] ?? NONE)
    let row = rows.get(key)
    if (!row) {
      row = {
        group: key,
        jobs: 0,
        total: Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, 0])) as Record<ActivityField, number>,
        usedBytesDelta: 0,
      }
      rows.set(key, row)
    }
    row.jobs++
    for (const f of ACTIVITY_FIELDS) row.total[f] += stats.activity[f]?.total ?? 0
    const capacity = Array.isArray(stats.capacity) ? (stats.capacity as Array<{ usedBytes?: { delta?: number | null } }>) : []
    for (const c of capacity) row.usedBytesDelta += c.usedBytes?.delta ?? 0
  }
  return {
    rows: [...rows.values()].sort((a, b) => opsOf(b.total) - opsOf(a.total) || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0)),
    jobs: count,
    pending,
  }
}

/**
 * The shares' denominators: the clusters' exact totals over [fromS, toS] (stats/range.ts), per cluster
 * and, under `""`, every cluster together.
 */
export async function clusterTotals(
  range: ActivityRange,
  cluster: string | undefined,
  fromS: number,
  toS: number,
): Promise<Map<string, Record<ActivityField, number>>> {
  const a = await range({ cluster, by: 'cluster', from: fromS, to: toS })
  const totals = new Map(a.rows.map((r) => [r.key, r.total]))
  totals.set(
    '',
    Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, a.rows.reduce((sum, r) => sum + r.total[f], 0)])) as Record<ActivityField, number>,
  )
  return totals
}

/** Adds each row's share of `clusterTotals` (per cluster name; `""` = every cluster together). */
export function withShares(
  answer: UsageAnswer,
  clusterTotals: Map<string, Record<ActivityField, number>>,
  byCluster: boolean,
): UsageAnswer {
  const all = clusterTotals.get('')
  for (const r of answer.rows) {
    const whole = byCluster ? clusterTotals.get(r.group) : all
    r.share = Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, whole && whole[f] > 0 ? (r.total[f] / whole[f]) * 100 : null])) as Record<
      ActivityField,
      number | null
    >
  }
  return answer
}
