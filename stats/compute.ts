import { ACTIVITY_FIELDS, FIELD_UNIT, type ActivityField } from '../lib/schema.ts'
import { overlapSeconds, type ActivityRow, type ActivitySelector } from './model.ts'

/** §6 aggregates of one activity field. */
export interface FieldAggregate {
  /** rate integrated over the window: operations or bytes */
  total: number
  /** total / window seconds: ops/s or bytes/s */
  mean: number
  /** highest summed rate at one poll time inside the window: ops/s or bytes/s */
  peak: number
}

/** A client's or path's share of the job: total operations and bytes. */
export interface Share {
  ops: number
  bytes: number
}

/** The activity part of the §6 answer. */
export interface ActivityAggregates {
  activity: Record<ActivityField, FieldAggregate>
  topClients: Array<{ client: string } & Share>
  topPaths: Array<{ path: string } & Share>
  /** distinct poll times that contributed */
  polls: number
}

const OPS = ACTIVITY_FIELDS.map((f) => FIELD_UNIT[f] === 'ops/s')

function addShare(map: Map<string, Share>, key: string, values: number[], weight: number) {
  const s = map.get(key) ?? { ops: 0, bytes: 0 }
  values.forEach((v, i) => (OPS[i] ? (s.ops += v * weight) : (s.bytes += v * weight)))
  map.set(key, s)
}

function top<K extends string>(map: Map<string, Share>, key: K, n: number): Array<Record<K, string> & Share> {
  return [...map]
    .sort(([a, x], [b, y]) => y.ops - x.ops || y.bytes - x.bytes || (a < b ? -1 : 1))
    .slice(0, n)
    .map(([k, s]) => ({ [key]: k, ...s }) as Record<K, string> & Share)
}

/**
 * Integrates the matching points over the window (see stats/model.ts for the edge rule). Every row
 * is one (time, client, path) point and counts once, whichever of client or path matched it.
 */
export function aggregateActivity(rows: readonly ActivityRow[], s: ActivitySelector, topN = 10): ActivityAggregates {
  const perTime = new Map<number, number[]>()
  const clients = new Map<string, Share>()
  const paths = new Map<string, Share>()
  const totals = ACTIVITY_FIELDS.map(() => 0)
  for (const r of rows) {
    const weight = overlapSeconds(r.time, s)
    if (weight <= 0) continue
    const sums = perTime.get(r.time) ?? ACTIVITY_FIELDS.map(() => 0)
    r.values.forEach((v, i) => {
      sums[i] += v
      totals[i] += v * weight
    })
    perTime.set(r.time, sums)
    addShare(clients, r.client, r.values, weight)
    addShare(paths, r.path, r.values, weight)
  }
  const seconds = Math.max(0, (s.endMs - s.startMs) / 1000)
  const activity = Object.fromEntries(
    ACTIVITY_FIELDS.map((f, i) => [
      f,
      { total: totals[i], mean: seconds > 0 ? totals[i] / seconds : 0, peak: Math.max(0, ...[...perTime.values()].map((v) => v[i])) },
    ]),
  ) as Record<ActivityField, FieldAggregate>
  return { activity, topClients: top(clients, 'client', topN), topPaths: top(paths, 'path', topN), polls: perTime.size }
}
