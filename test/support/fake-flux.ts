import { RETENTION_POLICY, fluxBucket } from '../../lib/schema.ts'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parse } from '@influxdata/flux-lsp-node'
import { validateFlux } from '../../stats/flux.ts'

/**
 * An InfluxDB 2.x stand-in for Flux: `POST /api/v2/query` on 127.0.0.1 port 0. It checks the request
 * as InfluxDB does (`Authorization: Token …`, `org`, JSON body `{query, type: 'flux', dialect}`),
 * validates the query with @influxdata/flux-lsp-node, evaluates the small Flux subset our queries
 * use over the points it was given (read from the AST the real parser produced, so escaping is
 * proven end to end) and answers annotated CSV in InfluxDB 2.x's format: one table per series,
 * `result`/`table` columns, `#datatype`/`#group`/`#default` annotations in the dialect's order,
 * a blank line and new annotations whenever the table schema changes, CRLF line ends, Go's CSV
 * quoting, RFC3339Nano times and `strconv.FormatFloat(v, 'f', -1, 64)` numbers.
 *
 * Supported Flux: `from(bucket)` |> `range(start, stop)` |> `filter(fn)` … |> `keep(columns)` or
 * |> `group()` |> `count()`, and
 * `schema.tagValues(bucket, tag, predicate, start)`; predicates of `==`, `!=`, `and`, `or`, `not`,
 * `true`/`false`, `r.col`/`r["col"]`, string literals and `strings.hasPrefix(v:, prefix:)`.
 * Anything else is answered 400, so a query the fake cannot judge never passes silently.
 */

export type FluxType = 'double' | 'long' | 'unsignedLong' | 'string' | 'boolean'

/** One stored point (one field of one series at one time). */
export interface FluxPoint {
  /** @defaultValue 'qumulo_activity' */
  measurement?: string
  /** epoch ms */
  time: number
  field: string
  value: number | string | boolean
  /** `_value` datatype @defaultValue 'double' (a number), 'string' (a string) or 'boolean' */
  type?: FluxType
  tags: Record<string, string>
}

export interface FluxRequest {
  headers: IncomingHttpHeaders
  org: string | null
  /** the parsed JSON body */
  body: { query?: unknown; type?: unknown; dialect?: { annotations?: unknown; header?: unknown; delimiter?: unknown } }
  query: string
}

export type FluxReply = { status: number; body: string; contentType?: string }

export interface FakeFlux {
  url: string
  token: string
  org: string
  bucket: string
  /** the stored points (mutable) */
  points: FluxPoint[]
  /** every request, in arrival order */
  requests: FluxRequest[]
  /** "now" of the server, epoch ms (for `schema.tagValues`' default stop) */
  now: number
  /** answer instead of evaluating, when it returns a reply */
  onQuery?: (req: FluxRequest) => FluxReply | undefined
  /** appended as an in-band error table after the results (InfluxDB's failure after a 200) */
  inBandError?: string
  close(): Promise<void>
}

export interface FakeFluxOptions {
  token?: string
  org?: string
  bucket?: string
}

const jsonError = (status: number, code: string, message: string): FluxReply => ({
  status,
  body: JSON.stringify({ code, message }),
  contentType: 'application/json; charset=utf-8',
})

class Unsupported extends Error {}

export async function startFakeFlux(opts: FakeFluxOptions = {}): Promise<FakeFlux> {
  const fake: FakeFlux = {
    url: '',
    token: opts.token ?? 'fake-flux-token-0123456789',
    org: opts.org ?? 'qumulo',
    bucket: opts.bucket ?? 'qactivity',
    points: [],
    requests: [],
    now: Date.now(),
    close: async () => {},
  }

  function answer(method: string, path: string, params: URLSearchParams, headers: IncomingHttpHeaders, raw: string): FluxReply {
    if (path !== '/api/v2/query') return jsonError(404, 'not found', 'path not found')
    if (method !== 'POST') return jsonError(405, 'method not allowed', `method ${method} not allowed`)
    if (headers.authorization !== `Token ${fake.token}`) return jsonError(401, 'unauthorized', 'unauthorized access')
    let body: FluxRequest['body']
    try {
      body = JSON.parse(raw) as FluxRequest['body']
    } catch {
      return jsonError(400, 'invalid', 'failed to decode request body: invalid JSON')
    }
    const req: FluxRequest = { headers, org: params.get('org'), body, query: typeof body.query === 'string' ? body.query : '' }
    fake.requests.push(req)
    if (!req.org) return jsonError(400, 'invalid', 'Please provide either orgID or org')
    if (req.org !== fake.org) return jsonError(404, 'not found', `failed to decode request body: organization name "${req.org}" not found`)
    if (!String(headers['content-type']).startsWith('application/json'))
      return jsonError(400, 'invalid', 'failed to decode request body: content type must be application/json')
    const custom = fake.onQuery?.(req)
    if (custom) return custom
    if (body.type !== undefined && body.type !== 'flux') return jsonError(400, 'invalid', `unknown query type "${String(body.type)}"`)
    if (!req.query) return jsonError(400, 'invalid', 'failed to decode request body: request body requires either query or AST')
    const annotations = body.dialect?.annotations
    if (
      !Array.isArray(annotations) ||
      !['datatype', 'group', 'default'].every((a) => annotations.includes(a)) ||
      body.dialect?.header !== true
    ) {
      return jsonError(400, 'invalid', 'fake-flux: dialect must ask for a header and the datatype, group and default annotations')
    }
    const problems = validateFlux(req.query)
    if (problems.length) return jsonError(400, 'invalid', `compilation failed: ${problems.join('; ')}`)
    let tables: Table[]
    try {
      tables = evaluate(req.query, fake)
    } catch (err) {
      if (err instanceof Unsupported) return jsonError(400, 'invalid', `fake-flux: ${err.message}`)
      if (err instanceof NotFound) return jsonError(404, 'not found', err.message)
      throw err
    }
    let csv = encodeTables(tables, annotations as string[])
    if (fake.inBandError !== undefined) csv += encodeErrorTable(fake.inBandError, annotations as string[])
    return { status: 200, body: csv, contentType: 'text/csv; charset=utf-8' }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake')
      let reply: FluxReply
      try {
        reply = answer(req.method ?? 'GET', url.pathname, url.searchParams, req.headers, Buffer.concat(chunks).toString('utf8'))
      } catch (err) {
        reply = jsonError(500, 'internal error', `fake-flux: ${err instanceof Error ? err.message : String(err)}`)
      }
      res.writeHead(reply.status, {
        'content-type': reply.contentType ?? 'text/plain; charset=utf-8',
        'x-influxdb-version': 'v2.7.11',
        'x-influxdb-build': 'OSS',
      })
      res.end(reply.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return fake
}

// ---------------------------------------------------------------------------------------------
// Evaluation of the Flux subset, over the AST of @influxdata/flux-lsp-node's parser.

class NotFound extends Error {}

interface Node {
  type?: string
  [k: string]: unknown
}

type Value = string | number | boolean | null
type Rec = Record<string, Value>

interface Column {
  label: string
  type: FluxType | 'dateTime:RFC3339'
  group: boolean
}

interface Table {
  columns: Column[]
  rows: Rec[]
}

const node = (v: unknown): Node => (v && typeof v === 'object' ? (v as Node) : {})

function args(call: Node): Map<string, Node> {
  const out = new Map<string, Node>()
  for (const obj of (call.arguments as Node[] | undefined) ?? []) {
    for (const p of (node(obj).properties as Node[] | undefined) ?? [])
      out.set(String(node(p.key).name ?? node(p.key).value), node(p.value))
  }
  return out
}

function calleeName(call: Node): string {
  const c = node(call.callee)
  if (c.type === 'Identifier') return String(c.name)
  if (c.type === 'MemberExpression') return `${String(node(c.object).name)}.${String(node(c.property).name)}`
  throw new Unsupported(`callee of type ${String(c.type)}`)
}

function literal(n: Node): Value | string[] {
  switch (n.type) {
    case 'StringLiteral':
      return String(n.value)
    case 'DateTimeLiteral': {
      const ms = Date.parse(String(n.value))
      if (!Number.isFinite(ms)) throw new Unsupported(`time literal ${String(n.value)}`)
      return ms
    }
    case 'ArrayExpression':
      return ((n.elements as Node[]) ?? []).map((e) => {
        const v = literal(node(e))
        if (typeof v !== 'string') throw new Unsupported('array element that is not a string')
        return v
      })
    case 'Identifier':
      if (n.name === 'true' || n.name === 'false') return n.name === 'true'
      throw new Unsupported(`identifier ${String(n.name)}`)
    default:
      throw new Unsupported(`expression of type ${String(n.type)}`)
  }
}

function str(n: Node | undefined, what: string): string {
  const v = n && literal(n)
  if (typeof v !== 'string') throw new Unsupported(`${what} must be a string literal`)
  return v
}

function time(n: Node | undefined, what: string): number {
  const v = n && literal(n)
  if (typeof v !== 'number') throw new Unsupported(`${what} must be a time literal`)
  return v
}

/** A predicate `(r) => …` as a JS function of a record. */
function predicate(fn: Node | undefined): (r: Rec) => boolean {
  if (!fn || fn.type !== 'FunctionExpression') throw new Unsupported('fn must be a function literal')
  const params = (fn.params as Node[]) ?? []
  if (params.length !== 1) throw new Unsupported('fn must take exactly one parameter')
  const param = String(node(params[0].key).name)
  const expr = (n: Node): ((r: Rec) => Value) => {
    switch (n.type) {
      case 'ParenExpression':
        return expr(node(n.expression))
      case 'LogicalExpression': {
        const l = expr(node(n.left))
        const r = expr(node(n.right))
        if (n.operator === 'or') return (x) => l(x) === true || r(x) === true
        if (n.operator === 'and') return (x) => l(x) === true && r(x) === true
        throw new Unsupported(`operator ${String(n.operator)}`)
      }
      case 'UnaryExpression': {
        if (n.operator !== 'not') throw new Unsupported(`unary ${String(n.operator)}`)
        const a = expr(node(n.argument))
        return (x) => a(x) !== true
      }
      case 'BinaryExpression': {
        const l = expr(node(n.left))
        const r = expr(node(n.right))
        // Flux: a comparison with null is null, which filter() treats as false.
        if (n.operator === '==') return (x) => (l(x) === null || r(x) === null ? null : l(x) === r(x))
        if (n.operator === '!=') return (x) => (l(x) === null || r(x) === null ? null : l(x) !== r(x))
        throw new Unsupported(`operator ${String(n.operator)}`)
      }
      case 'MemberExpression': {
        if (node(n.object).name !== param) throw new Unsupported('member of something other than the record')
        const prop = node(n.property)
        const col = String(prop.type === 'Identifier' ? prop.name : prop.value)
        return (x) => x[col] ?? null
      }
      case 'CallExpression': {
        if (calleeName(n) !== 'strings.hasPrefix') throw new Unsupported(`function ${calleeName(n)}`)
        const a = args(n)
        const v = expr(a.get('v') ?? {})
        const prefix = expr(a.get('prefix') ?? {})
        return (x) => {
          const s = v(x)
          const p = prefix(x)
          if (typeof s !== 'string' || typeof p !== 'string') return null
          return s.startsWith(p)
        }
      }
      default: {
        const v = literal(n)
        if (Array.isArray(v)) throw new Unsupported('array in a predicate')
        return () => v
      }
    }
  }
  const body = expr(node(fn.body))
  return (r) => body(r) === true
}

function statement(query: string): { expr: Node; imports: string[] } {
  const ast = node(parse(query))
  const imports = ((ast.imports as Node[]) ?? []).map((i) => String(node(i.path).value))
  const body = (ast.body as Node[]) ?? []
  if (body.length !== 1 || body[0].type !== 'ExpressionStatement') throw new Unsupported('the script must be exactly one expression')
  return { expr: node(body[0].expression), imports }
}

function pointRecord(p: FluxPoint): Rec {
  return { _measurement: p.measurement ?? 'qumulo_activity', _field: p.field, _value: p.value, _time: p.time, ...p.tags }
}

function typeOf(p: FluxPoint): FluxType {
  return p.type ?? (typeof p.value === 'string' ? 'string' : typeof p.value === 'boolean' ? 'boolean' : 'double')
}

/**
 * The points a bucket holds: the fake's bucket, and `<bucket>/<policy>` for the measurements kept
 * apart (lib/schema.ts fluxBucket), as qactivity writes them; any other bucket does not exist.
 */
function bucketPoints(fake: FakeFlux, bucket: string): FluxPoint[] {
  const points = fake.points.filter((p) => fluxBucket(fake.bucket, p.measurement ?? 'qumulo_activity') === bucket)
  const known = bucket === fake.bucket || Object.values(RETENTION_POLICY).some((rp) => bucket === `${fake.bucket}/${rp}`)
  if (!known) throw new NotFound(`failed to initialize execute state: could not find bucket "${bucket}"`)
  return points
}

function evaluate(query: string, fake: FakeFlux): Table[] {
  const { expr, imports } = statement(query)
  if (expr.type === 'CallExpression' && calleeName(expr) === 'schema.tagValues') {
    if (!imports.includes('influxdata/influxdb/schema')) throw new Unsupported('schema is not imported')
    const a = args(expr)
    const inBucket = bucketPoints(fake, str(a.get('bucket'), 'bucket'))
    const tag = str(a.get('tag'), 'tag')
    const pred = a.has('predicate') ? predicate(a.get('predicate')) : () => true
    const start = a.has('start') ? time(a.get('start'), 'start') : fake.now - 30 * 86400_000
    const stop = a.has('stop') ? time(a.get('stop'), 'stop') : fake.now
    const values = new Set<string>()
    for (const p of inBucket) {
      const r = pointRecord(p)
      if (p.time >= start && p.time < stop && pred(r) && typeof r[tag] === 'string') values.add(r[tag] as string)
    }
    return values.size
      ? [{ columns: [{ label: '_value', type: 'string', group: false }], rows: [...values].sort().map((v) => ({ _value: v })) }]
      : []
  }

  // Unwind the pipe chain: from() first, then the calls in order.
  const calls: Node[] = []
  let e = expr
  while (e.type === 'PipeExpression') {
    calls.unshift(node(e.call))
    e = node(e.argument)
  }
  if (e.type !== 'CallExpression' || calleeName(e) !== 'from') throw new Unsupported('the pipeline must start with from()')
  const inBucket = bucketPoints(fake, str(args(e).get('bucket'), 'bucket'))

  let range: { start: number; stop: number } | undefined
  const filters: Array<(r: Rec) => boolean> = []
  let keep: string[] | undefined
  let grouped = false
  let counted = false
  for (const call of calls) {
    const name = calleeName(call)
    const a = args(call)
    if (name === 'range') {
      if (range || filters.length || keep) throw new Unsupported('range() must come once, right after from()')
      range = { start: time(a.get('start'), 'start'), stop: a.has('stop') ? time(a.get('stop'), 'stop') : fake.now }
    } else if (name === 'filter') {
      if (!range) throw new Unsupported('filter() before range()')
      if (keep) throw new Unsupported('filter() after keep()')
      filters.push(predicate(a.get('fn')))
    } else if (name === 'group' && !counted && !keep) {
      if (a.size) throw new Unsupported('group() with arguments')
      grouped = true
    } else if (name === 'count' && grouped && !counted) {
      if (a.size) throw new Unsupported('count() with arguments')
      counted = true
    } else if (name === 'keep' && !grouped) {
      const cols = a.get('columns') && literal(a.get('columns') as Node)
      if (!Array.isArray(cols)) throw new Unsupported('keep(columns:) must be an array of strings')
      keep = cols
    } else {
      throw new Unsupported(`function ${name}()`)
    }
  }
  if (!range) throw new Unsupported('from() without range()')
  if (grouped && !counted) throw new Unsupported('group() without count()')
  const r = range

  // One table per series (measurement, tags, field), as the storage engine returns them.
  const series = new Map<string, { tags: string[]; points: Rec[]; type: FluxType }>()
  for (const p of inBucket) {
    if (p.time < r.start || p.time >= r.stop) continue
    const rec: Rec = { _start: r.start, _stop: r.stop, ...pointRecord(p) }
    if (!filters.every((f) => f(rec))) continue
    const tags = Object.keys(p.tags).sort()
    const key = JSON.stringify([rec._measurement, ...tags.map((t) => [t, p.tags[t]]), p.field, typeOf(p)])
    const s = series.get(key) ?? { tags, points: [], type: typeOf(p) }
    s.points.push(rec)
    series.set(key, s)
  }
  if (counted) {
    // group() merges every table into one with an empty group key; count() keeps only `_value`.
    // An empty input stream has no table, so no count row either.
    const n = [...series.values()].reduce((sum, s) => sum + s.points.length, 0)
    return n ? [{ columns: [{ label: '_value', type: 'long', group: false }], rows: [{ _value: n }] }] : []
  }
  return [...series.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, s]) => {
      let columns: Column[] = [
        { label: '_start', type: 'dateTime:RFC3339', group: true },
        { label: '_stop', type: 'dateTime:RFC3339', group: true },
        { label: '_time', type: 'dateTime:RFC3339', group: false },
        { label: '_value', type: s.type, group: false },
        { label: '_field', type: 'string', group: true },
        { label: '_measurement', type: 'string', group: true },
        ...s.tags.map((t): Column => ({ label: t, type: 'string', group: true })),
      ]
      if (keep) columns = columns.filter((c) => keep.includes(c.label))
      return { columns, rows: s.points.sort((a, b) => (a._time as number) - (b._time as number)) }
    })
}

// ---------------------------------------------------------------------------------------------
// Annotated CSV, as InfluxDB 2.x writes it (Go's encoding/csv with CRLF).

/** Go's encoding/csv quoting: fields with a comma, quote, CR or LF, or starting with a space, are quoted. */
export function csvField(s: string): string {
  if (s === '') return s
  if (s === '\\.' || /[",\r\n]/.test(s) || /^\s/u.test(s)) return '"' + s.replace(/"/g, '""') + '"'
  return s
}

/** RFC3339Nano as Go formats it: UTC `Z`, fractional seconds without trailing zeros. */
export function rfc3339Nano(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d*?)0*Z$/, (_, f: string) => (f ? `.${f}Z` : 'Z'))
}

/** `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest round-trip digits, never an exponent. */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf'
  const s = String(Object.is(v, -0) ? 0 : v)
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s)
  if (!m) return s
  const digits = m[2] + (m[3] ?? '')
  const exp = Number(m[4])
  if (exp >= 0)
    return m[1] + (digits.length > exp + 1 ? `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}` : digits.padEnd(exp + 1, '0'))
  return `${m[1]}0.${'0'.repeat(-exp - 1)}${digits}`
}

function cell(v: Value, type: Column['type']): string {
  if (v === null || v === undefined) return ''
  if (type === 'dateTime:RFC3339') return rfc3339Nano(v as number)
  if (type === 'double') return goFloat(Number(v))
  if (type === 'long' || type === 'unsignedLong') return BigInt(Math.trunc(Number(v))).toString()
  if (type === 'boolean') return v ? 'true' : 'false'
  return csvField(String(v))
}

function annotationRows(columns: Column[], annotations: string[], tableId: string, empty: boolean): string[] {
  const out: string[] = []
  for (const a of annotations) {
    if (a === 'datatype') out.push(['#datatype', 'string', 'long', ...columns.map((c) => c.type)].join(','))
    else if (a === 'group') out.push(['#group', 'false', 'false', ...columns.map((c) => String(c.group))].join(','))
    else if (a === 'default') out.push(['#default', '_result', empty ? tableId : '', ...columns.map(() => '')].join(','))
  }
  out.push(['', 'result', 'table', ...columns.map((c) => csvField(c.label))].join(','))
  return out
}

/** The annotated CSV of one result's tables; a new annotation block (after a blank line) whenever the schema changes. */
export function encodeTables(tables: Table[], annotations: string[] = ['datatype', 'group', 'default']): string {
  const lines: string[] = []
  let last = ''
  tables.forEach((t, id) => {
    const schema = JSON.stringify(t.columns)
    if (schema !== last) {
      if (last) lines.push('')
      lines.push(...annotationRows(t.columns, annotations, String(id), t.rows.length === 0))
      last = schema
    }
    for (const r of t.rows) lines.push(['', '', String(id), ...t.columns.map((c) => cell(r[c.label] ?? null, c.type))].join(','))
  })
  return lines.length ? lines.join('\r\n') + '\r\n\r\n' : '\r\n'
}

/** The table InfluxDB sends when a query fails after the response started. */
export function encodeErrorTable(message: string, annotations: string[] = ['datatype', 'group', 'default']): string {
  const rows: string[] = []
  for (const a of annotations) {
    if (a === 'datatype') rows.push('#datatype,string,string')
    else if (a === 'group') rows.push('#group,true,true')
    else if (a === 'default') rows.push('#default,,')
  }
  rows.push(',error,reference', `,${csvField(message)},`)
  return rows.join('\r\n') + '\r\n\r\n'
}
