import { retentionSeconds, type InfluxConfig } from '../lib/config.ts'
import { createInfluxQLReader, quoteIdent, quoteString } from '../lib/influx/influxql.ts'
import { ACTIVITY_FIELDS, MEASUREMENT, RAW_WINDOW_SECONDS, influxqlFrom, opsOf, type ActivityField } from '../lib/schema.ts'

/**
 * A cluster's activity over any time range (`GET /api/v1/activity`): the raw points where raw
 * retention still holds them, the rollups before (README "Sizing and retention"). Both are exact, so
 * the answer is too once the range is cut to what each can tell: raw points to the poll grid (a point
 * stamped t stands for (t − I, t]), rollups to whole periods. The boundary B between them is the first
 * rollup period start at or after now − QACTIVITY_RAW_RETENTION: raw points are kept at least that long.
 */
export type RangeBy = 'path' | 'client' | 'cluster'

/** One row of the answer. */
export interface RangeRow {
  /** the path, client address or cluster */
  key: string
  /** operations or bytes over the range */
  total: Record<ActivityField, number>
  /** highest per-poll sum of the row in the range within one cluster, ops/s or bytes/s */
  peak: Record<ActivityField, number>
}

/** Where the answer came from; epoch seconds. */
export interface RangePart {
  from: number
  to: number
}

export interface RangeAnswer {
  cluster?: string
  by: RangeBy
  /** the range answered (the one asked for, cut outward to the poll grid and to whole rollup periods) */
  from: number
  to: number
  rollups?: RangePart
  raw?: RangePart
  rows: RangeRow[]
}

export interface RangeQuery {
  /** one cluster, or every cluster (summed per key; per cluster for `by: 'cluster'`) */
  cluster?: string
  /** epoch seconds */
  from: number
  to: number
  by: RangeBy
}

export interface RangeOptions {
  influx: InfluxConfig
  /** poll interval I, seconds */
  intervalSeconds: number
  /** rollup period H, seconds; 0: no rollups written */
  rollupSeconds: number
  /** clock, epoch ms @defaultValue Date.now */
  now?: () => number
}

const TAG: Record<RangeBy, string> = { path: 'path', client: 'client_ip', cluster: 'cluster' }

/** The rollup rows of a kind: per path, per client, or the cluster's own row (neither tag). */
const ROLLUP_KIND: Record<RangeBy, string> = {
  path: `${quoteIdent('path')} != '' AND ${quoteIdent('client_ip')} = ''`,
  client: `${quoteIdent('client_ip')} != '' AND ${quoteIdent('path')} = ''`,
  cluster: `${quoteIdent('path')} = '' AND ${quoteIdent('client_ip')} = ''`,
}

/**
 * Raw points are read over at most this many days in one answer (s): beyond, the rollups answer
 * even where raw points are still kept — a scan of months of raw points would load InfluxDB, and
 * the collector writes to it.
 */
export const MAX_RAW_SPAN_SECONDS = 31 * 86_400

/** The parts of [from, to] read from rollups and from raw points, and the range they cover together. */
export function splitRange(q: Pick<RangeQuery, 'from' | 'to'>, o: RangeOptions): Pick<RangeAnswer, 'from' | 'to' | 'rollups' | 'raw'> {
  const I = o.intervalSeconds
  const H = o.rollupSeconds
  const nowS = (o.now ?? Date.now)() / 1000
  const down = (t: number, step: number) => Math.floor(t / step) * step
  const up = (t: number, step: number) => Math.ceil(t / step) * step
  const to = up(q.to, I)
  const kept = nowS - retentionSeconds(o.influx.retention?.raw)
  // Without rollups only the raw points answer, from where they are still kept.
  if (!H) {
    const from = Math.min(to, Math.max(down(q.from, I), up(kept, I)))
    return { from, to, raw: { from, to } }
  }
  const rawSince = Math.max(kept, nowS - MAX_RAW_SPAN_SECONDS)
  if (q.from >= up(rawSince, H)) {
    const from = down(q.from, I)
    return { from, to, raw: { from, to } }
  }
  // Rollups are written once a period is over: never beyond the last one that is (the config keeps
  // raw retention ≥ 2 periods + a poll, so raw points are still kept from there).
  const boundary = Math.min(up(rawSince, H), down(nowS - I, H))
  const from = down(q.from, H)
  if (to <= boundary) return { from, to: up(to, H), rollups: { from, to: up(to, H) } }
  return { from, to, rollups: { from, to: boundary }, raw: { from: boundary, to } }
}

/** Answers {@link RangeQuery}s with InfluxQL (every InfluxDB version: 2.x maps qactivity's buckets by itself). */
export function createRangeSource(o: RangeOptions) {
  const ql = createInfluxQLReader(o.influx)
  const query = (text: string) => ql.query(text)
  const time = (s: number) => quoteString(new Date(s * 1000).toISOString())

  return async function activityRange(q: RangeQuery): Promise<RangeAnswer> {
    const parts = splitRange(q, o)
    const tag = quoteIdent(TAG[q.by])
    const cluster = q.cluster !== undefined ? `${quoteIdent('cluster')} = ${quoteString(q.cluster)} AND ` : ''
    const rows = new Map<string, RangeRow>()
    const rowOf = (key: string) => {
      let r = rows.get(key)
      if (!r) {
        const zero = () => Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, 0])) as Record<ActivityField, number>
        rows.set(key, (r = { key, total: zero(), peak: zero() }))
      }
      return r
    }
    const add = (
      series: { tags: Record<string, string>; rows: Record<string, unknown>[] }[],
      read: (r: RangeRow, v: Record<string, unknown>) => void,
    ) => {
      for (const s of series) for (const v of s.rows) read(rowOf(s.tags[TAG[q.by]] ?? ''), v)
    }
    const num = (v: unknown) => (typeof v === 'number' ? v : 0)

    if (parts.rollups) {
      const { from, to } = parts.rollups
      const cols = ACTIVITY_FIELDS.flatMap((f) => [
        `sum(${quoteIdent(`${f}_total`)}) AS ${quoteIdent(`${f}_total`)}`,
        `max(${quoteIdent(`${f}_peak`)}) AS ${quoteIdent(`${f}_peak`)}`,
      ])
      const [res] = await query(
        `SELECT ${cols.join(', ')} FROM ${influxqlFrom(MEASUREMENT.activityRollup)} ` +
          `WHERE ${cluster}${ROLLUP_KIND[q.by]} AND time >= ${time(from)} AND time < ${time(to)} GROUP BY ${tag}`,
      )
      add(res?.series ?? [], (r, v) =>
        ACTIVITY_FIELDS.forEach((f) => {
          r.total[f] += num(v[`${f}_total`])
          r.peak[f] = Math.max(r.peak[f], num(v[`${f}_peak`]))
        }),
      )
    }
    if (parts.raw) {
      const { from, to } = parts.raw
      const I = o.intervalSeconds
      const where = `WHERE ${cluster}time > ${time(from)} AND time <= ${time(to)}`
      const sums = ACTIVITY_FIELDS.map((f) => `sum(${quoteIdent(f)}) AS ${quoteIdent(f)}`).join(', ')
      const peaks = ACTIVITY_FIELDS.map((f) => `max(${quoteIdent(f)}) AS ${quoteIdent(f)}`).join(', ')
      // One statement each: the totals, and the highest per-poll sum (a poll is alone in its I-second
      // bucket) within one cluster, as the rollups keep it.
      const perCluster = q.by === 'cluster' ? '' : `, ${quoteIdent('cluster')}`
      const [totals, highs] = await query(
        `SELECT ${sums} FROM ${influxqlFrom(MEASUREMENT.activity)} ${where} GROUP BY ${tag}; ` +
          `SELECT ${peaks} FROM (SELECT ${sums} FROM ${influxqlFrom(MEASUREMENT.activity)} ${where} ` +
          `GROUP BY time(${I}s), ${tag}${perCluster} fill(none)) GROUP BY ${tag}`,
      )
      // Stored counts of Qumulo's 60 s window: / 60 is the rate, × I the poll's share.
      add(totals?.series ?? [], (r, v) => ACTIVITY_FIELDS.forEach((f) => (r.total[f] += (num(v[f]) / RAW_WINDOW_SECONDS) * I)))
      add(highs?.series ?? [], (r, v) => ACTIVITY_FIELDS.forEach((f) => (r.peak[f] = Math.max(r.peak[f], num(v[f]) / RAW_WINDOW_SECONDS))))
    }
    return {
      ...(q.cluster !== undefined ? { cluster: q.cluster } : {}),
      by: q.by,
      ...parts,
      rows: [...rows.values()].sort((a, b) => opsOf(b.total) - opsOf(a.total) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    }
  }
}
export type ActivityRange = ReturnType<typeof createRangeSource>
