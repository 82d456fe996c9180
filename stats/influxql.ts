import type { InfluxConfig } from '../lib/config.ts'
import { createInfluxQL, quoteIdent, quoteString } from '../lib/influx/influxql.ts'
import { ACTIVITY_FIELDS } from '../lib/schema.ts'
import { queryRange, type ActivityQuery, type ActivityRow } from './model.ts'

/** Escapes text for an InfluxQL regex literal `/…/` (RE2): every metacharacter and the delimiter. */
export function regexLiteral(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}/]/g, '\\$&')
}

/** `path = '/a' OR path =~ /^\/a\//`: the path or anything under it, never `/ab`. */
function pathCondition(path: string): string {
  if (path === '/') return `${quoteIdent('path')} =~ /^\\//`
  return `(${quoteIdent('path')} = ${quoteString(path)} OR ${quoteIdent('path')} =~ /^${regexLiteral(path + '/')}/)`
}

/**
 * The InfluxQL of an {@link ActivityQuery}: every matching point, grouped by client and path.
 * Returns undefined when nothing can match (no clients and no paths). Every user value is quoted.
 */
export function renderInfluxQL(q: ActivityQuery): string | undefined {
  const s = q.selector
  const conditions = [...s.clients.map((c) => `${quoteIdent('client_ip')} = ${quoteString(c)}`), ...s.paths.map(pathCondition)]
  if (!conditions.length) return undefined
  const { fromMs, toMs } = queryRange(s)
  const fields = q.fields.map(quoteIdent).join(', ')
  const time = (ms: number) => quoteString(new Date(ms).toISOString())
  return `SELECT ${fields} FROM ${quoteIdent(q.measurement)} WHERE time > ${time(fromMs)} AND time < ${time(toMs)} AND (${conditions.join(' OR ')}) GROUP BY ${quoteIdent('client_ip')}, ${quoteIdent('path')}`
}

/** Runs activity queries and tag-value lookups over InfluxQL (`/query`). */
export interface ActivitySource {
  rows(q: ActivityQuery): Promise<ActivityRow[]>
  /** every stored `client_ip` tag value (to expand CIDRs and match non-canonical forms) */
  clientValues(): Promise<string[]>
}

export function createInfluxQLSource(cfg: InfluxConfig): ActivitySource {
  const influxql = createInfluxQL(cfg)
  return {
    async rows(q) {
      const text = renderInfluxQL(q)
      if (!text) return []
      const [result] = await influxql.query(text)
      const out: ActivityRow[] = []
      for (const series of result?.series ?? []) {
        const idx = ACTIVITY_FIELDS.map((f) => series.columns.indexOf(f))
        for (const v of series.values) {
          out.push({ time: v[0] as number, client: series.tags.client_ip ?? '', path: series.tags.path ?? '', values: idx.map((i) => (i < 0 ? 0 : Number(v[i] ?? 0))) })
        }
      }
      return out
    },
    async clientValues() {
      const [result] = await influxql.query(`SHOW TAG VALUES FROM ${quoteIdent('qumulo_activity')} WITH KEY = ${quoteIdent('client_ip')}`)
      return (result?.series ?? []).flatMap((s) => s.values.map((v) => String(v[s.columns.indexOf('value')])))
    },
  }
}
