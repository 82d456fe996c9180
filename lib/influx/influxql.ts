import type { InfluxConfig } from '../config.ts'
import { authHeader, endpoint, errorOf, InfluxError, isDatabaseNotFound, request } from './http.ts'
import type { InfluxServer } from './server.ts'

/** One series of a statement's result. */
export interface InfluxQLSeries {
  /** Measurement name (absent for some SHOW statements, then ''). */
  name: string
  /** GROUP BY tag values of this series. */
  tags: Record<string, string>
  columns: string[]
  /** Raw rows; `time` is epoch seconds. Integers beyond 2^53 lose precision in JSON. */
  values: unknown[][]
  /** The same rows as objects keyed by column. */
  rows: Record<string, unknown>[]
}

/** The result of one statement, in statement order. */
export interface InfluxQLResult {
  statementId: number
  /** Empty when the statement matched nothing. */
  series: InfluxQLSeries[]
}

/**
 * {@link createInfluxQL} for reads: a database or retention policy nothing was written to yet answers
 * no results rather than an error (an empty answer, not an outage).
 */
export function createInfluxQLReader(cfg: InfluxConfig): InfluxQL {
  const ql = createInfluxQL(cfg)
  return { query: (q, params) => ql.query(q, params).catch((err: unknown) => (isDatabaseNotFound(err) ? [] : Promise.reject(err))) }
}

export interface InfluxQL {
  /**
   * Runs one or more `;`-separated statements against the configured database. `params` are bound to
   * `$name` placeholders server-side, never spliced into the text. A failing statement throws an
   * {@link InfluxError} carrying the server's message.
   */
  query(q: string, params?: Record<string, string | number>): Promise<InfluxQLResult[]>
}

interface RawResponse {
  results?: { statement_id?: number; error?: string; series?: RawSeries[] }[]
  error?: string
}
interface RawSeries {
  name?: string
  tags?: Record<string, string>
  columns?: string[]
  values?: unknown[][]
}

// The InfluxQL scanner refuses a raw newline inside quotes but understands `\n`.
const escapeQuoted = (c: string) => (c === '\n' ? '\\n' : '\\' + c)

/** Quotes an identifier (database, measurement, tag or field key): `"…"` with `"` and `\` escaped, newlines as `\n`. */
export function quoteIdent(s: string): string {
  return '"' + s.replace(/["\\\n]/g, escapeQuoted) + '"'
}

/** Quotes a string literal: `'…'` with `'` and `\` escaped, newlines as `\n`. */
export function quoteString(s: string): string {
  return "'" + s.replace(/['\\\n]/g, escapeQuoted) + "'"
}

function toSeries(raw: RawSeries): InfluxQLSeries {
  const columns = raw.columns ?? []
  const values = raw.values ?? []
  const rows = values.map((v) => Object.fromEntries(columns.map((c, i) => [c, v[i]])))
  return { name: raw.name ?? '', tags: raw.tags ?? {}, columns, values, rows }
}

/**
 * An InfluxQL client over `/query` (`epoch=s`). Works on 1.x, and on 2.x/3.x through their 1.x
 * compatibility endpoint (the bucket must be mapped to a database there). Shares one pool of keep-alive
 * sockets with every other client, so it needs no closing.
 * @param timeoutMs - per query @defaultValue 30000
 */
export function createInfluxQL(cfg: InfluxConfig, server?: InfluxServer, timeoutMs = 30_000): InfluxQL {
  const url = endpoint(cfg, '/query')
  const headers = {
    ...authHeader(cfg.token, server?.api ?? 'v1'),
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  }
  return {
    async query(q, params) {
      const form = new URLSearchParams({ q, db: cfg.bucket, epoch: 's' })
      if (params && Object.keys(params).length) form.set('params', JSON.stringify(params))
      // POST: GET refuses statements that change state, and long queries do not fit a URL.
      const res = await request(url, { method: 'POST', headers, body: form.toString(), timeoutMs })
      if (res.status >= 300) throw errorOf('POST', url, res)
      const json = JSON.parse(res.body) as RawResponse
      const failed = json.error ?? json.results?.find((r) => r.error)?.error
      if (failed) {
        throw new InfluxError(`InfluxQL error: ${failed} (query: ${q.slice(0, 200)})`, { body: failed, retriable: false })
      }
      return (json.results ?? []).map((r, i) => ({
        statementId: r.statement_id ?? i,
        series: (r.series ?? []).map(toSeries),
      }))
    },
  }
}
