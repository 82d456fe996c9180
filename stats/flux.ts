import { createRequire } from 'node:module'
import { HttpError, InfluxDB, RequestTimedOutError, type FluxTableMetaData } from '@influxdata/influxdb-client'
import type { InfluxConfig } from '../lib/config.ts'
import { ConfigError } from '../lib/errors.ts'
import { endpoint, InfluxError, isRetriableStatus } from '../lib/influx/http.ts'
import { ACTIVITY_FIELDS, MEASUREMENT, fluxBucket } from '../lib/schema.ts'
import {
  anyOf,
  canMatch,
  COUNTED_FIELD,
  perValue,
  type ActivityQuery,
  type ActivityRow,
  type ActivitySource,
  type TimeRange,
} from './model.ts'

/**
 * Flux rendering and execution of the activity query (InfluxDB 2.x, `INFLUX_QUERY_LANGUAGE=flux`).
 *
 * Flux is validated (stats/flux.test.ts, with @influxdata/flux-lsp-node) but not executed in CI: no
 * InfluxDB 2.x runs there. Results are parsed from annotated CSV as InfluxDB 2.x sends it; the
 * numbers themselves are proven with the InfluxQL equivalent on the real influxd.
 */

const ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** Lone UTF-16 surrogates: not encodable as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * A Flux string literal of any text: `\` and `"` are escaped, newline, CR and tab as `\n` `\r` `\t`,
 * every other ASCII control character as `\xHH`, and every `$` as `\x24`, which no `${…}` string
 * interpolation can start from. (`\${` is Flux's documented escape, but its scanner reads `$` plus
 * the next character as one unit, so `$\${x}` still interpolates.) Other characters, Unicode
 * included, stay as they are. A lone UTF-16 surrogate becomes U+FFFD, as it does when the
 * collector writes it as UTF-8, so the literal still equals the stored tag value.
 */
export function fluxString(s: string): string {
  const text = s.replace(LONE_SURROGATE, '\uFFFD')
  return '"' + text.replace(/[\\"$\x00-\x1f\x7f]/g, (m) => ESCAPES[m] ?? '\\x' + m.charCodeAt(0).toString(16).padStart(2, '0')) + '"'
}

/** A Flux `date_time_lit` (RFC3339, UTC, millisecond precision) of an epoch-ms instant. */
export function fluxTime(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`time must be an integer of epoch milliseconds, got ${ms}`)
  const iso = new Date(ms).toISOString()
  if (!/^\d{4}-/.test(iso)) throw new RangeError(`time out of Flux's range (years 0000–9999): ${iso}`)
  return iso
}

/** The path or anything under it (`/a` matches `/a`, `/a/b`, never `/ab`); `/` matches every path starting with `/`. */
function pathTerms(path: string): string[] {
  if (path === '/') return ['strings.hasPrefix(v: r.path, prefix: "/")']
  return [`r.path == ${fluxString(path)}`, `strings.hasPrefix(v: r.path, prefix: ${fluxString(path + '/')})`]
}

/**
 * The Flux of an {@link ActivityQuery}: every matching point as rows of (`_time`, `_field`,
 * `_value`, `client_ip`, `path`). Points qualify when from < t < to (the query's range, by default
 * start < t < end + I): `range()` is start-inclusive and stop-exclusive, so it starts 1 ms after the window start (points
 * carry millisecond timestamps). A point matches when its client is one of `clients` OR its path is
 * at or under one of `paths`; with neither, the query returns nothing. No user value ever becomes a
 * regex: tags are compared with `==` and `strings.hasPrefix`.
 */
export function renderFlux(q: ActivityQuery, bucket: string): string {
  return [...selectPoints(q, q.fields, bucket), '  |> keep(columns: ["_time", "_field", "_value", "client_ip", "path"])'].join('\n') + '\n'
}

/** Flux counting the matching points of a query by {@link COUNTED_FIELD}: one `_value` (no table when there are none). */
export function renderFluxCount(q: ActivityQuery, bucket: string): string {
  return [...selectPoints(q, [COUNTED_FIELD], bucket), '  |> group()', '  |> count()'].join('\n') + '\n'
}

/** `from |> range |> filter`: the query's range, measurement, fields and (a client OR a path matches). */
function selectPoints(q: ActivityQuery, fields: readonly string[], bucket: string): string[] {
  const s = q.selector
  const clients = q.jobId !== undefined ? [] : [...new Set(s.clients)]
  const paths = q.jobId !== undefined ? [] : [...new Set(s.paths)]
  const match =
    q.jobId !== undefined
      ? `r.job_id == ${fluxString(q.jobId)}`
      : anyOf([...clients.map((c) => `r.client_ip == ${fluxString(c)}`), ...paths.flatMap(pathTerms)], 'or', 'false')
  return [
    ...(paths.length ? ['import "strings"', ''] : []),
    `from(bucket: ${fluxString(fluxBucket(bucket, q.measurement))})`,
    `  |> range(start: ${fluxTime(q.range.fromMs + 1)}, stop: ${fluxTime(q.range.toMs)})`,
    `  |> filter(fn: (r) => r._measurement == ${fluxString(q.measurement)})`,
    `  |> filter(fn: (r) => ${anyOf(
      [...new Set(fields)].map((f) => `r._field == ${fluxString(f)}`),
      'or',
      'false',
    )})`,
    ...(s.cluster ? [`  |> filter(fn: (r) => r.cluster == ${fluxString(s.cluster)})`] : []),
    `  |> filter(fn: (r) => ${match})`,
  ]
}

/** Flux listing every stored `client_ip` tag value of `qumulo_activity`, of one cluster when given (for CIDR expansion), as `_value`. */
export function renderFluxClientValues(bucket: string, cluster?: string): string {
  const predicate = `r._measurement == ${fluxString(MEASUREMENT.activity)}${cluster ? ` and r.cluster == ${fluxString(cluster)}` : ''}`
  return (
    [
      'import "influxdata/influxdb/schema"',
      '',
      `schema.tagValues(bucket: ${fluxString(fluxBucket(bucket, MEASUREMENT.activity))}, tag: "client_ip", ` +
        `predicate: (r) => ${predicate}, start: 1970-01-01T00:00:00Z)`,
    ].join('\n') + '\n'
  )
}

/** Flux reading a completed job's stored series (`qactivity_job_timeline`) as (`_time`, `_field`, `_value`). */
export function renderFluxTimeline(jobId: string, range: TimeRange, bucket: string): string {
  return (
    [
      `from(bucket: ${fluxString(fluxBucket(bucket, MEASUREMENT.jobTimeline))})`,
      `  |> range(start: ${fluxTime(range.fromMs + 1)}, stop: ${fluxTime(range.toMs)})`,
      `  |> filter(fn: (r) => r._measurement == ${fluxString(MEASUREMENT.jobTimeline)})`,
      `  |> filter(fn: (r) => r.job_id == ${fluxString(jobId)})`,
      '  |> keep(columns: ["_time", "_field", "_value"])',
    ].join('\n') + '\n'
  )
}

type FluxLsp = typeof import('@influxdata/flux-lsp-node')
let lsp: FluxLsp | undefined

/** flux-lsp-node is a dev dependency (a 10 MB wasm): loaded on first use, never by the running service. */
function fluxLsp(): FluxLsp {
  lsp ??= createRequire(import.meta.url)('@influxdata/flux-lsp-node') as FluxLsp
  return lsp
}

interface AstNode {
  type?: string
  text?: string
  errors?: Array<{ msg: string }>
  location?: { start?: { line: number; column: number } }
}

/**
 * Problems of a Flux script found by @influxdata/flux-lsp-node: syntax errors from `parse()` (with
 * line:column), then, when the syntax is fine, the semantic check of `is_valid_flux()` (unknown
 * functions or packages, argument names and types). Empty when the script is valid.
 */
export function validateFlux(script: string): string[] {
  const { parse, is_valid_flux } = fluxLsp()
  const problems: string[] = []
  let ast: unknown
  try {
    ast = parse(script)
  } catch (err) {
    return [`parse failed: ${err instanceof Error ? err.message : String(err)}`]
  }
  const stack: unknown[] = [ast]
  while (stack.length) {
    const node = stack.pop()
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push(node[i])
    } else if (node && typeof node === 'object') {
      const n = node as AstNode
      const at = n.location?.start ? ` (at ${n.location.start.line}:${n.location.start.column})` : ''
      for (const e of n.errors ?? []) problems.push(e.msg + at)
      if (n.type === 'BadStatement') problems.push(`bad statement ${JSON.stringify(n.text ?? '')}${at}`)
      for (const [k, v] of Object.entries(node).reverse()) if (k !== 'location' && v && typeof v === 'object') stack.push(v)
    }
  }
  if (problems.length) return problems
  let valid = false
  try {
    valid = is_valid_flux(script)
  } catch (err) {
    return [`semantic check failed: ${err instanceof Error ? err.message : String(err)}`]
  }
  return valid ? [] : ['semantic check failed: unknown identifier or package, or wrong function arguments or types']
}

/**
 * Runs the activity queries in Flux on InfluxDB 2.x (`POST /api/v2/query`) through the official
 * client: rows one per (time, client, path), sorted by time, client, path; client values sorted.
 */
export type FluxRunner = ActivitySource

export interface FluxRunnerOptions {
  /** Socket timeout of a query in milliseconds @defaultValue 30000 */
  timeoutMs?: number
}

/** An annotated CSV table of `error`/`reference` columns: InfluxDB reports a failure after the 200. */
function inBandError(meta: FluxTableMetaData, values: string[]): string | undefined {
  const col = meta.columns.find((c) => c.label === 'error')
  if (!col || meta.columns.some((c) => c.label === '_value')) return undefined
  const ref = meta.columns.find((c) => c.label === 'reference')
  const msg = values[col.index] ?? ''
  const code = ref ? values[ref.index] : ''
  return msg + (code ? ` (reference ${code})` : '')
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/

/** Epoch seconds of an RFC3339(Nano) time, to the millisecond. */
export function parseFluxTime(text: string): number {
  const m = RFC3339.exec(text)
  const ms = m ? Date.parse(`${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}${m[3]}`) : NaN
  if (!Number.isFinite(ms)) throw new Error(`invalid _time in Flux result: ${JSON.stringify(text)}`)
  return ms / 1000
}

/**
 * A runner for `INFLUX_QUERY_LANGUAGE=flux`: `new InfluxDB({url, token}).getQueryApi(org)`, rows
 * parsed from the annotated CSV by the client. Fails with an {@link InfluxError} carrying InfluxDB's
 * message (`{"code":"invalid","message":"…"}`, or an in-band `error` table after a 200).
 */
export function createFluxRunner(cfg: InfluxConfig, opts: FluxRunnerOptions = {}): FluxRunner {
  if (!cfg.org) throw new ConfigError(['INFLUX_ORG is required when INFLUX_QUERY_LANGUAGE=flux'])
  const queryApi = new InfluxDB({ url: cfg.url, token: cfg.token, timeout: opts.timeoutMs ?? 30_000 }).getQueryApi(cfg.org)
  const url = endpoint(cfg, '/api/v2/query', { org: cfg.org })

  function failure(err: unknown): InfluxError {
    if (err instanceof InfluxError) return err
    if (err instanceof HttpError) {
      const json = err.json as { message?: unknown; code?: unknown } | undefined
      const msg = typeof json?.message === 'string' ? json.message : (err.body ?? '').trim()
      return new InfluxError(`[POST] "${url.href}": ${err.statusCode} ${err.statusMessage ?? ''}${msg ? ': ' + msg : ''}`, {
        status: err.statusCode,
        body: msg,
        retriable: isRetriableStatus(err.statusCode),
        cause: err,
      })
    }
    const what = err instanceof RequestTimedOutError ? 'timed out' : err instanceof Error ? err.message : String(err)
    return new InfluxError(`[POST] "${url.href}": ${what}`, { retriable: true, cause: err })
  }

  /** Every row of a query; an in-band error table throws. */
  async function* run(flux: string): AsyncGenerator<{ values: string[]; meta: FluxTableMetaData }> {
    try {
      for await (const { values, tableMeta } of queryApi.iterateRows(flux)) {
        const error = inBandError(tableMeta, values)
        if (error !== undefined)
          throw new InfluxError(`[POST] "${url.href}": query failed: ${error}`, { status: 200, body: error, retriable: false })
        yield { values, meta: tableMeta }
      }
    } catch (err) {
      throw failure(err)
    }
  }

  return {
    async rows(q) {
      if (!canMatch(q)) return []
      const fieldIndex = new Map<string, number>(ACTIVITY_FIELDS.map((f, i) => [f, i]))
      const merged = new Map<string, ActivityRow>()
      for await (const { values, meta } of run(renderFlux(q, cfg.bucket))) {
        const col = (label: string) => meta.column(label, false)
        const field = String(col('_field').get(values) ?? '')
        const i = fieldIndex.get(field)
        if (i === undefined) continue
        const raw = col('_value').get(values)
        const value = raw === null || raw === undefined ? 0 : Number(raw)
        if (!Number.isFinite(value))
          throw new InfluxError(`[POST] "${url.href}": non-numeric ${field} value ${JSON.stringify(values[col('_value').index])}`, {
            retriable: false,
          })
        const time = parseFluxTime(values[col('_time').index] ?? '')
        const client = String(col('client_ip').get(values) ?? '')
        const path = String(col('path').get(values) ?? '')
        const key = JSON.stringify([time, client, path])
        let row = merged.get(key)
        if (!row) merged.set(key, (row = { time, client, path, values: ACTIVITY_FIELDS.map(() => 0), points: 0 }))
        // Same (time, client, path, field) twice only for a job without a cluster: the clusters' rates add up.
        row.values[i] += value
        if (field === COUNTED_FIELD && raw !== null && raw !== undefined) row.points++
      }
      const per = perValue(q)
      if (per !== 1) for (const row of merged.values()) row.values = row.values.map((v) => v / per)
      return [...merged.values()].sort((a, b) => a.time - b.time || cmp(a.client, b.client) || cmp(a.path, b.path))
    },
    async count(q) {
      if (!canMatch(q)) return 0
      let n = 0
      for await (const { values, meta } of run(renderFluxCount(q, cfg.bucket))) n += Number(meta.column('_value', false).get(values) ?? 0)
      return n
    },
    async timeline(jobId, range) {
      const fieldIndex = new Map<string, number>(ACTIVITY_FIELDS.map((f, i) => [f, i]))
      const byTime = new Map<number, number[]>()
      for await (const { values, meta } of run(renderFluxTimeline(jobId, range, cfg.bucket))) {
        const i = fieldIndex.get(String(meta.column('_field', false).get(values) ?? ''))
        if (i === undefined) continue
        const time = parseFluxTime(values[meta.column('_time', false).index] ?? '')
        const v = Number(meta.column('_value', false).get(values) ?? 0)
        let row = byTime.get(time)
        if (!row) byTime.set(time, (row = ACTIVITY_FIELDS.map(() => 0)))
        row[i] = Number.isFinite(v) ? v : 0
      }
      return [...byTime].sort(([a], [b]) => a - b).map(([time, values]) => ({ time, values }))
    },
    async clientValues(cluster) {
      const out = new Set<string>()
      for await (const { values, meta } of run(renderFluxClientValues(cfg.bucket, cluster))) {
        const v = meta.column('_value', false).get(values)
        if (v !== null && v !== undefined && v !== '') out.add(String(v))
      }
      return [...out].sort(cmp)
    },
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
