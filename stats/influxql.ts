import type { InfluxConfig } from '../lib/config.ts'
import { createInfluxQLReader, quoteIdent, quoteString } from '../lib/influx/influxql.ts'
import { ACTIVITY_FIELDS, MEASUREMENT, influxqlFrom } from '../lib/schema.ts'
import { anyOf, canMatch, COUNTED_FIELD, perValue, type ActivityQuery, type ActivityRow, type ActivitySource } from './model.ts'

/** Escapes text for an InfluxQL regex literal `/…/` (RE2): every metacharacter and the delimiter. */
export function regexLiteral(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}/]/g, '\\$&')
}

/** `path = '/a' OR path =~ /^\/a\//`: the path or anything under it, never `/ab`. */
function pathCondition(path: string): string {
  if (path === '/') return `${quoteIdent('path')} =~ /^\\//`
  return `(${quoteIdent('path')} = ${quoteString(path)} OR ${quoteIdent('path')} =~ /^${regexLiteral(path + '/')}/)`
}

/** An epoch-ms time as an InfluxQL time literal. */
const timeLiteral = (ms: number) => quoteString(new Date(ms).toISOString())

/** `WHERE` of a query: its time range and its job, or (a client OR a path matches); undefined when nothing can match. */
function where(q: ActivityQuery): string | undefined {
  const s = q.selector
  if (!canMatch(q)) return undefined
  const conditions =
    q.jobId !== undefined
      ? [`${quoteIdent('job_id')} = ${quoteString(q.jobId)}`]
      : [...s.clients.map((c) => `${quoteIdent('client_ip')} = ${quoteString(c)}`), ...s.paths.map(pathCondition)]
  if (!conditions.length) return undefined
  const cluster = s.cluster ? `${quoteIdent('cluster')} = ${quoteString(s.cluster)} AND ` : ''
  return `time > ${timeLiteral(q.range.fromMs)} AND time < ${timeLiteral(q.range.toMs)} AND ${cluster}${anyOf(conditions, 'OR', 'false')}`
}

/**
 * The InfluxQL of an {@link ActivityQuery}: every matching point, grouped by client and path.
 * Returns undefined when nothing can match (no clients and no paths). Every user value is quoted.
 */
export function renderInfluxQL(q: ActivityQuery): string | undefined {
  const w = where(q)
  return (
    w &&
    `SELECT ${q.fields.map(quoteIdent).join(', ')} FROM ${influxqlFrom(q.measurement)} ` +
      `WHERE ${w} GROUP BY ${quoteIdent('client_ip')}, ${quoteIdent('path')}`
  )
}

/** The InfluxQL counting the matching points of a query (by {@link COUNTED_FIELD}); undefined when nothing can match. */
export function renderInfluxQLCount(q: ActivityQuery): string | undefined {
  const w = where(q)
  return w && `SELECT count(${quoteIdent(COUNTED_FIELD)}) FROM ${influxqlFrom(q.measurement)} WHERE ${w}`
}

export function createInfluxQLSource(cfg: InfluxConfig): ActivitySource {
  const influxql = createInfluxQLReader(cfg)
  return {
    async rows(q) {
      const text = renderInfluxQL(q)
      if (!text) return []
      const [result] = await influxql.query(text)
      const out: ActivityRow[] = []
      const per = perValue(q)
      for (const series of result?.series ?? []) {
        const idx = ACTIVITY_FIELDS.map((f) => series.columns.indexOf(f))
        const counted = series.columns.indexOf(COUNTED_FIELD)
        for (const v of series.values) {
          out.push({
            time: v[0] as number,
            client: series.tags.client_ip ?? '',
            path: series.tags.path ?? '',
            values: idx.map((i) => (i < 0 ? 0 : Number(v[i] ?? 0) / per)),
            points: counted >= 0 && v[counted] !== null ? 1 : 0,
          })
        }
      }
      return out
    },
    async count(q) {
      const text = renderInfluxQLCount(q)
      if (!text) return 0
      const [result] = await influxql.query(text)
      const series = result?.series[0]
      return series ? Number(series.values[0]?.[series.columns.indexOf('count')] ?? 0) : 0
    },
    async timeline(jobId, range) {
      const fields = ACTIVITY_FIELDS.map(quoteIdent).join(', ')
      const [result] = await influxql.query(
        `SELECT ${fields} FROM ${influxqlFrom(MEASUREMENT.jobTimeline)} ` +
          `WHERE ${quoteIdent('job_id')} = ${quoteString(jobId)} ` +
          `AND time > ${timeLiteral(range.fromMs)} AND time < ${timeLiteral(range.toMs)}`,
      )
      const series = result?.series[0]
      if (!series) return []
      const idx = ACTIVITY_FIELDS.map((f) => series.columns.indexOf(f))
      return series.values.map((v) => ({ time: v[0] as number, values: idx.map((i) => (i < 0 ? 0 : Number(v[i] ?? 0))) }))
    },
    async clientValues(cluster) {
      const where = cluster ? ` WHERE ${quoteIdent('cluster')} = ${quoteString(cluster)}` : ''
      const [result] = await influxql.query(
        `SHOW TAG VALUES FROM ${influxqlFrom(MEASUREMENT.activity)} WITH KEY = ${quoteIdent('client_ip')}${where}`,
      )
      return (result?.series ?? []).flatMap((s) => s.values.map((v) => String(v[s.columns.indexOf('value')])))
    },
  }
}
