import { parse } from '@influxdata/flux-lsp-node'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { InfluxConfig } from '../../../lib/config.ts'
import { ConfigError } from '../../../lib/errors.ts'
import { InfluxError } from '../../../lib/influx/http.ts'
import { isAtOrUnder } from '../../../lib/paths.ts'
import { ACTIVITY_FIELDS, RAW_WINDOW_SECONDS } from '../../../lib/schema.ts'
import {
  createFluxRunner,
  fluxString,
  fluxTime,
  parseFluxTime,
  renderFlux,
  renderFluxClientValues,
  renderFluxCount,
  renderFluxTimeline,
  validateFlux,
} from '../../../stats/flux.ts'
import { activityQuery, type ActivityRow, type ActivitySelector } from '../../../stats/model.ts'
import { encodeTables, goFloat, rfc3339Nano, startFakeFlux, type FakeFlux, type FluxPoint } from '../../support/fake-flux.ts'

/** Strings that break naive quoting, in Flux, CSV, regexes or JSON. */
const HOSTILE = [
  'plain',
  '',
  'say "hi"',
  'back\\slash\\',
  '\\"',
  '${x}',
  '$${x}',
  '\\${x}',
  '$\\${x}',
  '$\\',
  '$"',
  '${',
  '$',
  'a$b{c}',
  'line\nbreak',
  'cr\rlf\r\n',
  'tab\there',
  'nul\u0000byte',
  'bell\u0007 esc\u001b del\u007f',
  'ünïcödé 日本語 😀',
  '\u2028\u2029\u0085\u00a0',
  '.*+?^$()[]{}|/\\d',
  'a,b',
  ' leading space',
  '"quoted, with comma"',
  '") |> drop(columns: ["_value"]) //',
  '" or true or "',
]

const SELECTOR: ActivitySelector = {
  startMs: Date.UTC(2024, 0, 1, 0, 0, 0),
  endMs: Date.UTC(2024, 0, 1, 1, 0, 0),
  intervalSeconds: 60,
  clients: [],
  paths: [],
}
const sel = (over: Partial<ActivitySelector>): ActivitySelector => ({ ...SELECTOR, ...over })

/** The decoded value of a Flux string literal, as the real parser reads it. */
function parsedString(literal: string): unknown {
  const ast = parse(`x = ${literal}`) as { body: Array<{ init: { type: string; value: unknown; errors?: unknown } }> }
  expect(ast.body).toHaveLength(1)
  expect(ast.body[0].init.type).toBe('StringLiteral')
  expect(ast.body[0].init.errors).toBeUndefined()
  return ast.body[0].init.value
}

describe('fluxString', () => {
  it.each([
    ['plain', 'abc', '"abc"'],
    ['double quotes', 'a"b', '"a\\"b"'],
    ['backslashes', 'a\\b\\', '"a\\\\b\\\\"'],
    ['interpolation', '${x}', '"\\x24{x}"'],
    ['dollar before interpolation', '$${x}', '"\\x24\\x24{x}"'],
    ['dollar before backslash (Flux scans "$\\" as one unit)', '$\\${x}', '"\\x24\\\\\\x24{x}"'],
    ['a lone dollar or brace', '$ {', '"\\x24 {"'],
    ['newline, CR and tab', 'a\nb\rc\td', '"a\\nb\\rc\\td"'],
    ['other control characters', '\u0000\u0001\u001f\u007f', '"\\x00\\x01\\x1f\\x7f"'],
    ['Unicode', 'ü😀日', '"ü😀日"'],
    ['regex metacharacters', '.*[a]|(b)', '".*[a]|(b)"'],
    ['a lone surrogate', 'a\ud800b', '"a\ufffdb"'],
  ])('escapes %s', (_, input, expected) => {
    expect(fluxString(input)).toBe(expected)
  })

  it.each(HOSTILE.map((s) => [JSON.stringify(s), s]))('round-trips %s through the Flux parser', (_, s) => {
    expect(parsedString(fluxString(s))).toBe(s)
    expect(validateFlux(`x = ${fluxString(s)}\ny = x`)).toEqual([])
  })

  it('round-trips random strings of hostile characters', () => {
    const alphabet = ['\\', '"', '$', '{', '}', '\n', '\r', '\t', '\u0000', '\u007f', 'a', ' ', ',', 'é', '😀', '/', '*', '`', "'"]
    let seed = 42
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)
    for (let i = 0; i < 300; i++) {
      const s = Array.from({ length: 1 + rand(12) }, () => alphabet[rand(alphabet.length)]).join('')
      expect(parsedString(fluxString(s)), JSON.stringify(s)).toBe(s)
    }
  })

  it('is what an unescaped string would not be: interpolation and quotes are inert', () => {
    expect(validateFlux('x = "${y}"')).not.toEqual([])
    expect(validateFlux(`x = ${fluxString('${y}')}`)).toEqual([])
  })
})

describe('fluxTime', () => {
  it('writes an RFC3339 UTC literal with milliseconds', () => {
    expect(fluxTime(Date.UTC(2024, 0, 1, 0, 0, 0, 1))).toBe('2024-01-01T00:00:00.001Z')
  })
  it('refuses what Flux cannot express', () => {
    expect(() => fluxTime(NaN)).toThrow(RangeError)
    expect(() => fluxTime(1.5)).toThrow(RangeError)
    expect(() => fluxTime(Date.UTC(10000, 0, 1))).toThrow(RangeError)
  })
})

describe('renderFlux', () => {
  it('renders the whole query', () => {
    const q = renderFlux(activityQuery(sel({ clients: ['10.0.0.1'], paths: ['/a'] })), 'qactivity')
    expect(q).toBe(
      [
        'import "strings"',
        '',
        'from(bucket: "qactivity/qactivity_raw")',
        '  |> range(start: 2024-01-01T00:00:00.001Z, stop: 2024-01-01T01:01:00.000Z)',
        '  |> filter(fn: (r) => r._measurement == "qumulo_activity")',
        '  |> filter(fn: (r) => ((r._field == "iops_read" or (r._field == "iops_write" or r._field == "metadata_iops_read")) ' +
          'or (r._field == "metadata_iops_write" or (r._field == "throughput_read" or r._field == "throughput_write"))))',
        '  |> filter(fn: (r) => (r.client_ip == "10.0.0.1" or (r.path == "/a" or strings.hasPrefix(v: r.path, prefix: "/a/"))))',
        '  |> keep(columns: ["_time", "_field", "_value", "client_ip", "path"])',
        '',
      ].join('\n'),
    )
    // every field is asked for, each once
    for (const f of ACTIVITY_FIELDS) expect(q.split(`r._field == "${f}"`)).toHaveLength(2)
    expect(validateFlux(q)).toEqual([])
  })

  it("keeps only the job's cluster, and lists only that cluster's client values", () => {
    const q = renderFlux(activityQuery(sel({ clients: ['10.0.0.1'], cluster: 'qumulo-"a"' })), 'qactivity')
    expect(q).toContain('  |> filter(fn: (r) => r.cluster == "qumulo-\\"a\\"")\n  |> filter(fn: (r) => r.client_ip == "10.0.0.1")')
    expect(validateFlux(q)).toEqual([])
    const values = renderFluxClientValues('qactivity', 'a')
    expect(values).toContain('predicate: (r) => r._measurement == "qumulo_activity" and r.cluster == "a"')
    expect(validateFlux(values)).toEqual([])
  })

  it('returns nothing when no client and no path is given', () => {
    const q = renderFlux(activityQuery(sel({})), 'qactivity')
    expect(q).toContain('|> filter(fn: (r) => false)')
    expect(q).not.toContain('import "strings"')
    expect(validateFlux(q)).toEqual([])
  })

  it('matches the root path by prefix "/", like isAtOrUnder', () => {
    const q = renderFlux(activityQuery(sel({ paths: ['/'] })), 'b')
    expect(q).toContain('|> filter(fn: (r) => strings.hasPrefix(v: r.path, prefix: "/"))')
  })

  it('starts 1 ms after the window start and stops (exclusive) at end + I', () => {
    const q = renderFlux(activityQuery(sel({ clients: ['c'], intervalSeconds: 30 })), 'b')
    expect(q).toContain('range(start: 2024-01-01T00:00:00.001Z, stop: 2024-01-01T01:00:30.000Z)')
  })

  it('never builds a regex, even from regex-looking input', () => {
    const q = renderFlux(activityQuery(sel({ clients: HOSTILE, paths: HOSTILE.map((h) => '/' + h) })), 'b')
    expect(q).not.toMatch(/=~|!~|regexp/)
  })

  it('asks once for duplicated clients and paths', () => {
    const q = renderFlux(activityQuery(sel({ clients: ['c', 'c'], paths: ['/p', '/p'] })), 'b')
    expect(q.split('"c"')).toHaveLength(2)
    expect(q.split('"/p"')).toHaveLength(2)
  })

  const ipv4 = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
  const selectors: Array<[string, Partial<ActivitySelector>, string?]> = [
    ['empty lists', {}],
    ['one client', { clients: ['10.0.0.1'] }],
    ['one path', { paths: ['/proj/a'] }],
    ['500 clients', { clients: Array.from({ length: 500 }, (_, i) => ipv4(i)) }],
    [
      '5000 clients and 200 paths',
      { clients: Array.from({ length: 5000 }, (_, i) => ipv4(i)), paths: Array.from({ length: 200 }, (_, i) => `/proj/p${i}`) },
    ],
    [
      'CIDR-expanded clients (v4 /24, v6)',
      { clients: [...Array.from({ length: 256 }, (_, i) => `192.168.7.${i}`), '2001:db8::1', '::ffff:10.0.0.1', 'fe80::1%eth0'] },
    ],
    ['root path', { paths: ['/'] }],
    ['root and nested paths', { paths: ['/', '/a', '/a/b', '/a/b/c', '/a/bc'] }],
    ['hostile clients', { clients: HOSTILE }],
    ['hostile paths', { paths: HOSTILE.map((h) => `/x/${h}`) }],
    ['hostile everything', { clients: HOSTILE, paths: HOSTILE.map((h) => `/${h}`) }, '${bucket}"\n\\'],
    ...HOSTILE.map((h): [string, Partial<ActivitySelector>, string] => [
      `bucket ${JSON.stringify(h)}`,
      { clients: [h], paths: ['/' + h] },
      h,
    ]),
  ]
  it.each(selectors)('validates with flux-lsp-node: %s', (_, over, bucket = 'qactivity') => {
    expect(validateFlux(renderFlux(activityQuery(sel(over)), bucket))).toEqual([])
    expect(validateFlux(renderFluxCount(activityQuery(sel(over)), bucket))).toEqual([])
  })

  it('validates the client-values query', () => {
    for (const b of ['qactivity', ...HOSTILE]) expect(validateFlux(renderFluxClientValues(b))).toEqual([])
  })
})

describe('validateFlux', () => {
  it('accepts valid Flux', () => {
    expect(validateFlux('from(bucket: "b") |> range(start: -1h)')).toEqual([])
  })
  it('reports syntax errors with their position', () => {
    const problems = validateFlux('from(bucket: ) |> range(start: -1h)')
    expect(problems.length).toBeGreaterThan(0)
    expect(problems.join('\n')).toMatch(/missing property value.*1:/)
  })
  it('reports an unterminated string', () => {
    expect(validateFlux('from(bucket: "b) |> range(start: -1h)')).not.toEqual([])
  })
  it('reports unknown functions and packages not imported', () => {
    expect(validateFlux('from(bucket: "b") |> rangee(start: -1h)')).toEqual([expect.stringMatching(/semantic check failed/)])
    expect(
      validateFlux('from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => strings.hasPrefix(v: r.path, prefix: "/"))'),
    ).not.toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------

const T0 = SELECTOR.startMs

function point(client: string, path: string, offsetS: number, field: string, value: number, extra: Partial<FluxPoint> = {}): FluxPoint {
  return { time: T0 + offsetS * 1000, field, value, tags: { cluster: 'qumulo', client_ip: client, path }, ...extra }
}

/** Raw counts of Qumulo's 60 s window as the rates the runner returns. */
const perSecond = (counts: number[]) => counts.map((c) => c / RAW_WINDOW_SECONDS)

/** The rows a correct implementation returns, computed without Flux. */
function groundTruth(points: FluxPoint[], s: ActivitySelector): ActivityRow[] {
  const out = new Map<string, ActivityRow>()
  for (const p of points) {
    if ((p.measurement ?? 'qumulo_activity') !== 'qumulo_activity') continue
    const i = (ACTIVITY_FIELDS as readonly string[]).indexOf(p.field)
    if (i < 0 || !(p.time > s.startMs && p.time < s.endMs + s.intervalSeconds * 1000)) continue
    const { client_ip: client, path } = p.tags
    if (!s.clients.includes(client) && !s.paths.some((base) => isAtOrUnder(path, base))) continue
    const key = JSON.stringify([p.time, client, path])
    const row = out.get(key) ?? { time: p.time / 1000, client, path, values: ACTIVITY_FIELDS.map(() => 0), points: 0 }
    row.values[i] += Number(p.value) / RAW_WINDOW_SECONDS // raw points hold counts of Qumulo's 60 s window
    if (i === 0) row.points++
    out.set(key, row)
  }
  return [...out.values()].sort(
    (a, b) =>
      a.time - b.time || (a.client < b.client ? -1 : a.client > b.client ? 1 : 0) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  )
}

describe('the fake InfluxDB 2.x answers annotated CSV', () => {
  it('formats numbers and times as Go does', () => {
    expect(goFloat(1.5)).toBe('1.5')
    expect(goFloat(1e21)).toBe('1000000000000000000000')
    expect(goFloat(1.25e-7)).toBe('0.000000125')
    expect(goFloat(-0)).toBe('0')
    expect(rfc3339Nano(Date.UTC(2024, 0, 1, 0, 1))).toBe('2024-01-01T00:01:00Z')
    expect(rfc3339Nano(Date.UTC(2024, 0, 1, 0, 1, 0, 500))).toBe('2024-01-01T00:01:00.5Z')
  })

  it('writes several tables, a new annotation block when the schema changes, and quotes like Go', () => {
    const csv = encodeTables([
      {
        columns: [
          { label: '_time', type: 'dateTime:RFC3339', group: false },
          { label: '_value', type: 'double', group: false },
          { label: 'path', type: 'string', group: true },
        ],
        rows: [{ _time: T0, _value: 1.5, path: '/a,"b"' }],
      },
      {
        columns: [
          { label: '_time', type: 'dateTime:RFC3339', group: false },
          { label: '_value', type: 'double', group: false },
          { label: 'path', type: 'string', group: true },
        ],
        rows: [{ _time: T0, _value: 2, path: ' x' }],
      },
      {
        columns: [
          { label: '_time', type: 'dateTime:RFC3339', group: false },
          { label: '_value', type: 'long', group: false },
          { label: 'path', type: 'string', group: true },
        ],
        rows: [{ _time: T0, _value: 3, path: 'a\nb' }],
      },
    ])
    expect(csv).toBe(
      [
        '#datatype,string,long,dateTime:RFC3339,double,string',
        '#group,false,false,false,false,true',
        '#default,_result,,,,',
        ',result,table,_time,_value,path',
        ',,0,2024-01-01T00:00:00Z,1.5,"/a,""b"""',
        ',,1,2024-01-01T00:00:00Z,2," x"',
        '',
        '#datatype,string,long,dateTime:RFC3339,long,string',
        '#group,false,false,false,false,true',
        '#default,_result,,,,',
        ',result,table,_time,_value,path',
        ',,2,2024-01-01T00:00:00Z,3,"a\nb"',
        '',
        '',
      ].join('\r\n'),
    )
  })
})

describe('createFluxRunner', () => {
  let fake: FakeFlux
  let cfg: InfluxConfig
  beforeAll(async () => {
    fake = await startFakeFlux({ token: 'secret-token-0123456789', org: 'my org', bucket: 'qa "bucket"' })
    cfg = { url: fake.url, token: fake.token, org: fake.org, bucket: fake.bucket, queryLanguage: 'flux' }
  })
  afterAll(() => fake.close())
  beforeEach(() => {
    fake.points = []
    fake.requests = []
    fake.onQuery = undefined
    fake.inBandError = undefined
  })

  it('sends the rendered query with token, org and the annotated-CSV dialect', async () => {
    const q = activityQuery(sel({ clients: ['10.0.0.1'] }))
    await createFluxRunner(cfg).rows(q)
    expect(fake.requests).toHaveLength(1)
    const [req] = fake.requests
    expect(req.headers.authorization).toBe(`Token ${fake.token}`)
    expect(req.org).toBe('my org')
    expect(req.body.type).toBe('flux')
    expect(req.query).toBe(renderFlux(q, cfg.bucket))
    expect(req.body.dialect).toMatchObject({ header: true, annotations: expect.arrayContaining(['datatype', 'group', 'default']) })
  })

  it('merges the fields of one (time, client, path) into one row, across several tables, missing fields 0', async () => {
    fake.points = [
      point('10.0.0.1', '/a', 60, 'iops_read', 10),
      point('10.0.0.1', '/a', 60, 'throughput_write', 1048576.5),
      point('10.0.0.1', '/a', 120, 'iops_read', 20),
      point('10.0.0.2', '/a', 60, 'metadata_iops_write', 3, { type: 'long' }),
      point('10.0.0.1', '/b', 60, 'iops_write', 1.25e-7),
      // a second cluster with the same client and path: its rates add up, as the InfluxQL rows do
      { ...point('10.0.0.1', '/a', 120, 'iops_read', 5), tags: { cluster: 'other', client_ip: '10.0.0.1', path: '/a' } },
    ]
    const rows = await createFluxRunner(cfg).rows(activityQuery(sel({ clients: ['10.0.0.1', '10.0.0.2'] })))
    expect(rows).toEqual([
      { time: T0 / 1000 + 60, client: '10.0.0.1', path: '/a', values: perSecond([10, 0, 0, 0, 0, 1048576.5]), points: 1 },
      { time: T0 / 1000 + 60, client: '10.0.0.1', path: '/b', values: perSecond([0, 1.25e-7, 0, 0, 0, 0]), points: 0 },
      { time: T0 / 1000 + 60, client: '10.0.0.2', path: '/a', values: perSecond([0, 0, 0, 3, 0, 0]), points: 0 },
      { time: T0 / 1000 + 120, client: '10.0.0.1', path: '/a', values: perSecond([25, 0, 0, 0, 0, 0]), points: 2 },
    ])
  })

  it('reads a response of several tables and annotation blocks (double and long _value)', async () => {
    fake.points = [
      point('c1', '/a', 60, 'iops_read', 1),
      point('c1', '/a', 60, 'iops_write', 2, { type: 'long' }),
      point('c2', '/a', 60, 'iops_read', 4),
    ]
    const q = activityQuery(sel({ paths: ['/a'] }))
    const res = await fetch(`${fake.url}/api/v2/query?org=${encodeURIComponent(fake.org)}`, {
      method: 'POST',
      headers: { authorization: `Token ${fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        query: renderFlux(q, cfg.bucket),
        type: 'flux',
        dialect: { header: true, annotations: ['datatype', 'group', 'default'] },
      }),
    })
    const raw = await res.text()
    expect(res.status).toBe(200)
    expect(raw.match(/^#datatype/gm)).toHaveLength(3) // double, long, double again
    expect(raw.match(/\r\n\r\n#datatype/g)).toHaveLength(2)
    expect(raw).toContain(',result,table,_time,_value,_field,client_ip,path\r\n')
    expect(raw).toMatch(/^,,2,/m) // table ids continue across blocks
    expect(await createFluxRunner(cfg).rows(q)).toEqual([
      { time: T0 / 1000 + 60, client: 'c1', path: '/a', values: perSecond([1, 2, 0, 0, 0, 0]), points: 1 },
      { time: T0 / 1000 + 60, client: 'c2', path: '/a', values: perSecond([4, 0, 0, 0, 0, 0]), points: 1 },
    ])
  })

  it('selects exactly the points of the window, by client OR path, each once', async () => {
    const s = sel({ clients: ['10.0.0.1'], paths: ['/a/b', '/x'] })
    for (const off of [-60, 0, 1, 60, 3600, 3659, 3660, 3720]) {
      for (const [client, path] of [
        ['10.0.0.1', '/a/b'], // both match: counted once
        ['10.0.0.1', '/z'],
        ['10.0.0.9', '/a/b'],
        ['10.0.0.9', '/a/b/c'],
        ['10.0.0.9', '/a/bc'],
        ['10.0.0.9', '/a'],
        ['10.0.0.10', '/x'],
        ['10.0.0.9', '/xy'],
      ]) {
        fake.points.push(point(client, path, off, 'iops_read', 1), point(client, path, off, 'throughput_read', 100))
      }
    }
    fake.points.push({ ...point('10.0.0.1', '/a/b', 60, 'iops_read', 1000), measurement: 'qumulo_capacity' })
    fake.points.push(point('10.0.0.1', '/a/b', 60, 'used_bytes', 1000))
    const rows = await createFluxRunner(cfg).rows(activityQuery(s))
    expect(rows).toEqual(groundTruth(fake.points, s))
    expect(new Set(rows.map((r) => r.time - T0 / 1000))).toEqual(new Set([1, 60, 3600, 3659]))
    expect(rows.some((r) => r.path === '/a/bc' || r.path === '/xy' || r.path === '/a')).toBe(false)
  })

  it("reads a completed job's stored series, one row per time, and validates", async () => {
    const range = { fromMs: T0, toMs: T0 + 3_600_000 }
    expect(validateFlux(renderFluxTimeline(`j"1\\`, range, 'b'))).toEqual([])
    fake.points.push(
      { measurement: 'qactivity_job_timeline', time: T0 + 60_000, field: 'iops_read', value: 5, tags: { job_id: 'j1', job_name: 'n' } },
      {
        measurement: 'qactivity_job_timeline',
        time: T0 + 60_000,
        field: 'throughput_write',
        value: 4096,
        tags: { job_id: 'j1', job_name: 'n' },
      },
      { measurement: 'qactivity_job_timeline', time: T0 + 120_000, field: 'iops_read', value: 7, tags: { job_id: 'j1', job_name: 'n' } },
      { measurement: 'qactivity_job_timeline', time: T0 + 120_000, field: 'iops_read', value: 99, tags: { job_id: 'j2', job_name: 'n' } },
    )
    expect(await createFluxRunner(cfg).timeline('j1', range)).toEqual([
      { time: T0 / 1000 + 60, values: [5, 0, 0, 0, 0, 4096] },
      { time: T0 / 1000 + 120, values: [7, 0, 0, 0, 0, 0] },
    ])
  })

  it('counts the matching points of a range by iops_read, 0 when there are none', async () => {
    const s = sel({ clients: ['10.0.0.1'], paths: ['/x'] })
    for (const off of [0, 60, 120, 180]) {
      fake.points.push(point('10.0.0.1', '/a', off, 'iops_read', 1), point('10.0.0.1', '/a', off, 'iops_write', 1))
      fake.points.push(point('10.0.0.2', '/x/y', off, 'iops_read', 1), point('10.0.0.3', '/xy', off, 'iops_read', 1))
    }
    const runner = createFluxRunner(cfg)
    expect(await runner.count(activityQuery(s))).toBe(6) // 60, 120, 180 × two matching series
    expect(await runner.count(activityQuery(s, { fromMs: T0 + 60_000, toMs: T0 + 120_001 }))).toBe(2)
    expect(await runner.count(activityQuery(s, { fromMs: T0 + 500_000, toMs: T0 + 600_000 }))).toBe(0)
    expect(await runner.count(activityQuery(sel({})))).toBe(0)
  })

  it('matches every path under the root, and nothing with empty lists', async () => {
    fake.points = [
      point('c', '/', 60, 'iops_read', 1),
      point('c', '/a/b', 60, 'iops_read', 2),
      point('c', '(unresolved)', 60, 'iops_read', 4),
    ]
    const runner = createFluxRunner(cfg)
    const s = sel({ paths: ['/'] })
    expect(await runner.rows(activityQuery(s))).toEqual(groundTruth(fake.points, s))
    expect((await runner.rows(activityQuery(s))).map((r) => r.path)).toEqual(['/', '/a/b'])
    fake.requests = []
    expect(await runner.rows(activityQuery(sel({})))).toEqual([])
    expect(fake.requests).toHaveLength(0)
  })

  it('gives correct rows for hostile clients and paths (parsed by the real Flux parser, CSV-quoted back)', async () => {
    const paths = HOSTILE.map((h) => `/h/${h}`)
    for (const [i, h] of HOSTILE.entries()) {
      fake.points.push(point(h, '/other', 60, 'iops_read', i + 1))
      fake.points.push(point('10.9.9.9', `/h/${h}`, 60, 'iops_write', i + 1))
      fake.points.push(point('10.9.9.9', `/h/${h}/under`, 60, 'iops_write', i + 1))
      fake.points.push(point('10.9.9.9', `/h/${h}x`, 60, 'iops_write', 1000))
    }
    for (const [name, s] of [
      ['clients', sel({ clients: HOSTILE })],
      ['paths', sel({ paths })],
      ['one hostile client', sel({ clients: ['" or true or "'] })],
      ['one hostile path', sel({ paths: ['/h/${x}'] })],
    ] as const) {
      const rows = await createFluxRunner(cfg).rows(activityQuery(s))
      expect(rows, name).toEqual(groundTruth(fake.points, s))
      expect(rows.length, name).toBeGreaterThan(0)
    }
  })

  it('lists the stored client_ip values', async () => {
    fake.points = [
      point('10.0.0.2', '/a', 60, 'iops_read', 1),
      point('10.0.0.1', '/a', 60, 'iops_read', 1),
      point('a,"b"', '/a', 120, 'iops_read', 1),
      { ...point('9.9.9.9', '/a', 60, 'used_bytes', 1), measurement: 'qumulo_capacity' },
    ]
    expect(await createFluxRunner(cfg).clientValues()).toEqual(['10.0.0.1', '10.0.0.2', 'a,"b"'])
    expect(fake.requests[0].query).toBe(renderFluxClientValues(cfg.bucket))
  })

  it("turns InfluxDB's 400 JSON into a clear InfluxError", async () => {
    fake.onQuery = () => ({
      status: 400,
      body: JSON.stringify({ code: 'invalid', message: 'compilation failed: error @3:6-3:11: undefined identifier rangee' }),
      contentType: 'application/json; charset=utf-8',
    })
    const err = await createFluxRunner(cfg)
      .rows(activityQuery(sel({ clients: ['c'] })))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InfluxError)
    expect(err).toMatchObject({ status: 400, retriable: false, body: 'compilation failed: error @3:6-3:11: undefined identifier rangee' })
    expect((err as Error).message).toMatch(/\/api\/v2\/query.*400.*compilation failed: error @3:6-3:11: undefined identifier rangee/)
  })

  it('reports a wrong token (401), an unknown org (404) and a missing bucket without leaking the token', async () => {
    const bad = await createFluxRunner({ ...cfg, token: 'wrong-token-0123456789' })
      .rows(activityQuery(sel({ clients: ['c'] })))
      .catch((e: unknown) => e)
    expect(bad).toMatchObject({ status: 401, body: 'unauthorized access' })
    expect((bad as Error).message).not.toContain('wrong-token')
    const org = await createFluxRunner({ ...cfg, org: 'nope' })
      .rows(activityQuery(sel({ clients: ['c'] })))
      .catch((e: unknown) => e)
    expect(org).toMatchObject({ status: 404, body: expect.stringContaining('organization name "nope" not found') })
    const bucket = await createFluxRunner({ ...cfg, bucket: 'other' })
      .rows(activityQuery(sel({ clients: ['c'] })))
      .catch((e: unknown) => e)
    expect(bucket).toMatchObject({ status: 404, body: expect.stringContaining('could not find bucket "other/qactivity_raw"') })
  })

  it('fails on an error reported inside a 200 response', async () => {
    fake.points = [point('c', '/a', 60, 'iops_read', 1)]
    fake.inBandError = 'panic: runtime error, out of memory'
    await expect(createFluxRunner(cfg).rows(activityQuery(sel({ clients: ['c'] })))).rejects.toThrow(
      /query failed: panic: runtime error, out of memory/,
    )
  })

  it('fails clearly when the server is unreachable', async () => {
    const gone = await startFakeFlux()
    await gone.close()
    const err = await createFluxRunner({ ...cfg, url: gone.url })
      .rows(activityQuery(sel({ clients: ['c'] })))
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'InfluxError', retriable: true })
  })

  it('needs an organisation', () => {
    expect(() => createFluxRunner({ ...cfg, org: undefined })).toThrow(ConfigError)
  })
})

describe('parseFluxTime', () => {
  it('reads RFC3339Nano to the millisecond', () => {
    expect(parseFluxTime('2024-01-01T00:01:00Z')).toBe(T0 / 1000 + 60)
    expect(parseFluxTime('2024-01-01T00:01:00.123456789Z')).toBe(T0 / 1000 + 60.123)
    expect(parseFluxTime('2024-01-01T01:01:00.5+01:00')).toBe(T0 / 1000 + 60.5)
    expect(() => parseFluxTime('yesterday')).toThrow(/invalid _time/)
  })
})
