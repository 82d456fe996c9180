import { describe, expect, it } from 'vitest'
import { ConfigError, UsageError, messageOf } from '../../../lib/errors.ts'
import { StatsService } from '../../../stats/service.ts'
import { TOP_N } from '../../../stats/compute.ts'
import { ApiResponseError, errorFromResponse } from '../../../cli/api-client.ts'
import { oneLine } from '../../../lib/text.ts'
import { runJobCommand } from '../../../cli/job.ts'
import { makeApp, TOKENS } from '../../support/api-app.ts'
import { memorySource } from '../../support/memory-source.ts'

/** A fetch double: records calls, answers from a handler. No sockets. */
interface Call {
  url: string
  method: string
  headers: Record<string, string>
  body: unknown
}

function fakeFetch(handler: (call: Call) => { status?: number; body?: unknown; raw?: string } | Promise<never>) {
  const calls: Call[] = []
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const call: Call = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>)),
      body: init?.body === undefined ? undefined : JSON.parse(String(init.body)),
    }
    calls.push(call)
    const r = await handler(call)
    const text = r.raw ?? (r.body === undefined ? '' : JSON.stringify(r.body))
    return new Response(text === '' ? null : text, { status: r.status ?? 200 })
  }) as typeof globalThis.fetch
  return { fetch, calls }
}

function io(fetch: typeof globalThis.fetch, timeoutMs?: number) {
  const out = { stdout: '', stderr: '' }
  return {
    out,
    io: {
      stdout: (t: string) => (out.stdout += t),
      stderr: (t: string) => (out.stderr += t),
      fetch,
      now: () => Date.parse('2026-11-23T12:00:00Z'),
      timeoutMs,
    },
  }
}

const JOB = {
  id: 'j1',
  name: 'render',
  status: 'running',
  startedAt: '2026-11-23T10:00:00.000Z',
  endedAt: null,
  paths: ['/render/shots'],
  clients: [],
  labels: {},
  comments: [],
  notify: [],
  annotation: { state: 'off', comments: 0 },
  capacity: [],
  createdBy: 'ci',
  updatedAt: '2026-11-23T10:00:00.000Z',
}
const ENV = { QACTIVITY_URL: 'http://api.test:8750', QACTIVITY_TOKEN: 'secret-token-0123456789' }

describe('runJobCommand', () => {
  it('start: POST /api/v1/jobs with JSON and bearer token; stdout is only the ID', async () => {
    const f = fakeFetch(() => ({ status: 201, body: JOB }))
    const t = io(f.fetch)
    expect(await runJobCommand(['start', '--name', 'render', '--path', '/render/shots', '--label', 'show=abc'], ENV, t.io)).toBe(0)
    expect(t.out).toEqual({ stdout: 'j1\n', stderr: '' })
    expect(f.calls).toHaveLength(1)
    expect(f.calls[0]).toMatchObject({
      url: 'http://api.test:8750/api/v1/jobs',
      method: 'POST',
      body: { name: 'render', paths: ['/render/shots'], labels: { show: 'abc' } },
    })
    expect(f.calls[0].headers).toMatchObject({
      authorization: 'Bearer secret-token-0123456789',
      'content-type': 'application/json',
      accept: 'application/json',
    })
  })

  it('no token → no Authorization header; a base path in QACTIVITY_URL is kept', async () => {
    const f = fakeFetch(() => ({ body: JOB }))
    const t = io(f.fetch)
    await runJobCommand(['show', '--job', 'j1'], { QACTIVITY_URL: 'https://proxy.test/qactivity/' }, t.io)
    expect(f.calls[0].url).toBe('https://proxy.test/qactivity/api/v1/jobs/j1')
    expect(f.calls[0].method).toBe('GET')
    expect(f.calls[0].headers.authorization).toBeUndefined()
    expect(f.calls[0].body).toBeUndefined()
    expect(t.out.stdout).toContain('name        render')
  })

  it('mutations print nothing on success; --json prints the API answer, pretty', async () => {
    const comment = { at: '2026-11-23T10:00:00.000Z', author: 'ci', text: 'hello' }
    for (const argv of [['add-path', '/a'], ['add-client'], ['comment', 'hello'], ['complete', '--failed']]) {
      const f = fakeFetch(() => ({ status: argv[0] === 'comment' ? 201 : 200, body: argv[0] === 'comment' ? comment : JOB }))
      const quiet = io(f.fetch)
      expect(await runJobCommand(argv, { ...ENV, QACTIVITY_JOB: 'j1' }, quiet.io)).toBe(0)
      expect(quiet.out).toEqual({ stdout: '', stderr: '' })
      const loud = io(f.fetch)
      expect(await runJobCommand([...argv, '--json'], { ...ENV, QACTIVITY_JOB: 'j1' }, loud.io)).toBe(0)
      expect(JSON.parse(loud.out.stdout)).toEqual(argv[0] === 'comment' ? comment : JOB)
      expect(loud.out.stdout).toContain('\n  "')
    }
  })

  it('start --json prints the whole job rather than the ID', async () => {
    const t = io(fakeFetch(() => ({ status: 201, body: JOB })).fetch)
    await runJobCommand(['start', '--name', 'render', '--json'], ENV, t.io)
    expect(JSON.parse(t.out.stdout)).toEqual(JOB)
  })

  const apiErrors =
    'API errors: one line "<message> (<status>)", exit 1 (ApiResponseError) or 2 (UsageError) for 400/413; nothing on stdout'
  it(apiErrors, async () => {
    const cases: Array<[number, unknown, RegExp, typeof ApiResponseError | typeof UsageError]> = [
      [
        409,
        { error: { code: 'conflict', message: 'job j1 is already completed' } },
        /^job j1 is already completed \(409\)$/,
        ApiResponseError,
      ],
      [404, { error: { code: 'not_found', message: 'no job "j1"' } }, /^no job "j1" \(404\)$/, ApiResponseError],
      [401, { error: { code: 'unauthorized', message: 'missing bearer token' } }, /\(401\)$/, ApiResponseError],
      [403, { error: { code: 'forbidden', message: 'role reader cannot write' } }, /\(403\)$/, ApiResponseError],
      [500, { error: { code: 'internal', message: 'boom\nstack trace line' } }, /^boom stack trace line \(500\)$/, ApiResponseError],
      [
        400,
        { error: { code: 'invalid', message: 'paths.0: path must be absolute', details: [] } },
        /^paths\.0: path must be absolute \(400\)$/,
        UsageError,
      ],
      [413, { error: { code: 'too_large', message: 'body over 64 KiB' } }, /\(413\)$/, UsageError],
    ]
    for (const [status, body, message, type] of cases) {
      const t = io(fakeFetch(() => ({ status, body })).fetch)
      const err = await runJobCommand(['complete', '--job', 'j1'], ENV, t.io).then(
        () => undefined,
        (e: Error) => e,
      )
      expect(err).toBeInstanceOf(type)
      if (type === ApiResponseError) expect(err).not.toBeInstanceOf(UsageError)
      expect(err!.message).toMatch(message)
      expect(t.out.stdout).toBe('')
    }
  })

  it('a non-JSON error page falls back to the status line', () => {
    expect(errorFromResponse(502, 'Bad Gateway', '<html>nginx</html>').message).toBe('Bad Gateway (502)')
    expect(errorFromResponse(401, '', '').message).toBe('HTTP 401 (401)')
    expect(oneLine('a\r\n  b\x1b[0m')).toBe('a b [0m')
  })

  it('unreachable server and timeouts are operational failures (exit 1) naming the URL', async () => {
    const refused = io(
      fakeFetch(() => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).fetch,
    )
    const e1 = await runJobCommand(['show', '--job', 'j1'], ENV, refused.io).catch((e: Error) => e)
    expect(e1).toBeInstanceOf(ApiResponseError)
    expect((e1 as Error).message).toBe('cannot reach the qactivity API at http://api.test:8750: ECONNREFUSED')

    // a server that never answers: the per-request timeout aborts it
    const hang = (async (_url: unknown, init?: RequestInit) =>
      new Promise((_, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)))) as typeof globalThis.fetch
    const slow = io(hang, 50)
    const e2 = await runJobCommand(['show', '--job', 'j1'], ENV, slow.io).catch((e: Error) => e)
    expect((e2 as Error).message).toBe('no answer from the qactivity API at http://api.test:8750 within 0.05 s')
    expect(slow.out.stdout).toBe('')
  })

  it('a 2xx answer that is not JSON is an operational failure', async () => {
    const t = io(fakeFetch(() => ({ raw: '<html>' })).fetch)
    await expect(runJobCommand(['show', '--job', 'j1'], ENV, t.io)).rejects.toThrow(/answered 200 with something that is not JSON/)
  })

  it('missing job is a usage error before any request', async () => {
    const f = fakeFetch(() => ({ body: JOB }))
    await expect(runJobCommand(['comment', 'hi'], ENV, io(f.fetch).io)).rejects.toThrow(
      new UsageError('no job: pass --job ID or set QACTIVITY_JOB'),
    )
    expect(f.calls).toHaveLength(0)
  })

  it('a malformed QACTIVITY_URL is a configuration error (exit 2)', async () => {
    await expect(
      runJobCommand(['show', '--job', 'j1'], { QACTIVITY_URL: 'ftp://x' }, io(fakeFetch(() => ({ body: JOB })).fetch).io),
    ).rejects.toBeInstanceOf(ConfigError)
  })

  it('--help prints usage to stdout without touching the configuration', async () => {
    const t = io(fakeFetch(() => ({ body: JOB })).fetch)
    expect(await runJobCommand(['--help'], { QACTIVITY_URL: 'ftp://x' }, t.io)).toBe(0)
    expect(t.out.stdout).toMatch(/^usage: qactivity job <subcommand>/)
    expect(t.out.stdout).toMatch(/^ {2}stats \[ID\] /m)
    expect(t.out.stdout).toMatch(/^ {2}compare ID ID… /m)
    expect(t.out.stdout).toContain('bytes, bytes/s: KiB = 1024 B, MiB = 1024 KiB')
    expect(t.out.stdout).toMatch(/^ {2}report \[ID\] /m)
  })

  it('list: table; a next page is mentioned on stderr; --all follows cursors and --json merges them', async () => {
    const pages: Record<string, unknown> = {
      '': {
        jobs: [
          { ...JOB, id: 'j3' },
          { ...JOB, id: 'j2' },
        ],
        nextCursor: 'c1',
      },
      c1: { jobs: [{ ...JOB, id: 'j1' }], nextCursor: null },
    }
    const f = fakeFetch((c) => ({ body: pages[new URL(c.url).searchParams.get('cursor') ?? ''] }))
    const one = io(f.fetch)
    await runJobCommand(['list', '--status', 'running', '--limit', '2'], ENV, one.io)
    expect(one.out.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATUS\s+STARTED\s+DURATION\s+PATHS\s+CLIENTS$/)
    expect(one.out.stdout.trim().split('\n')).toHaveLength(3)
    expect(one.out.stderr).toBe('(more jobs: --all lists every page, or --cursor c1 the next one)\n')

    f.calls.length = 0
    const all = io(f.fetch)
    await runJobCommand(['list', '--status', 'running', '--limit', '2', '--all', '--json'], ENV, all.io)
    expect(JSON.parse(all.out.stdout)).toEqual({ jobs: ['j3', 'j2', 'j1'].map((id) => ({ ...JOB, id })), nextCursor: null })
    expect(f.calls.map((c) => new URL(c.url).search)).toEqual(['?status=running&limit=2', '?status=running&limit=2&cursor=c1'])
    expect(all.out.stderr).toBe('')
  })

  it('list --all stops on a cursor the API repeats; an empty list says so on stderr', async () => {
    const loop = io(fakeFetch(() => ({ body: { jobs: [JOB], nextCursor: 'same' } })).fetch)
    await expect(runJobCommand(['list', '--all'], ENV, loop.io)).rejects.toThrow(/cursor "same" twice/)
    expect(loop.out.stdout).toBe('')
    const empty = io(fakeFetch(() => ({ body: { jobs: [], nextCursor: null } })).fetch)
    expect(await runJobCommand(['list'], ENV, empty.io)).toBe(0)
    expect(empty.out).toEqual({ stdout: '', stderr: 'no jobs found\n' })
  })

  describe('stats and compare', () => {
    const activity = Object.fromEntries(
      ['iops_read', 'iops_write', 'metadata_iops_read', 'metadata_iops_write', 'throughput_read', 'throughput_write'].map((f) => [
        f,
        { total: 2_500_000, mean: 1000, peak: 2000 },
      ]),
    )
    const stats = (job: string) => ({
      job,
      name: 'render',
      status: 'succeeded',
      live: false,
      activity,
      capacity: [],
      topClients: [],
      topPaths: [],
      previousRuns: [],
      window: { start: '2026-11-23T10:00:00.000Z', end: '2026-11-23T11:00:00.000Z', seconds: 3600 },
    })
    const delta = { abs: 250_000, pct: 10 }
    const comparison = {
      jobs: [stats('a'), stats('b')],
      deltas: [
        { job: 'b', activity: Object.fromEntries(Object.keys(activity).map((f) => [f, { total: delta, mean: delta, peak: delta }])) },
      ],
    }

    it('stats: GET /api/v1/jobs/{id}/stats, a human table; --json prints the API answer unchanged', async () => {
      const f = fakeFetch(() => ({ body: stats('j1') }))
      const t = io(f.fetch)
      expect(await runJobCommand(['stats'], { ...ENV, QACTIVITY_JOB: 'j1' }, t.io)).toBe(0)
      expect(f.calls[0]).toMatchObject({ url: 'http://api.test:8750/api/v1/jobs/j1/stats', method: 'GET', body: undefined })
      expect(f.calls[0].headers.authorization).toBe('Bearer secret-token-0123456789')
      expect(t.out.stderr).toBe('')
      expect(t.out.stdout).toMatch(/^job {5}j1 {2}render$/m)
      expect(t.out.stdout).toMatch(/^iops_read\s+2\.50 M ops\s+1\.00 k ops\/s\s+2\.00 k ops\/s$/m)
      expect(t.out.stdout).toMatch(/^throughput_write\s+2\.4 MiB\s+1000 B\/s\s+2\.0 KiB\/s$/m)

      const j = io(fakeFetch(() => ({ body: stats('j1') })).fetch)
      expect(await runJobCommand(['stats', '--job', 'j1', '--json'], ENV, j.io)).toBe(0)
      expect(JSON.parse(j.out.stdout)).toEqual(stats('j1'))
    })

    it('compare: GET /api/v1/compare?jobs=a,b (encoded); a side-by-side table with % deltas', async () => {
      const f = fakeFetch(() => ({ body: comparison }))
      const t = io(f.fetch)
      expect(await runJobCommand(['compare', '--job', 'a', 'b'], ENV, t.io)).toBe(0)
      expect(f.calls).toHaveLength(1)
      expect(f.calls[0].url).toBe('http://api.test:8750/api/v1/compare?jobs=a%2Cb')
      expect(new URL(f.calls[0].url).searchParams.get('jobs')).toBe('a,b')
      expect(t.out.stdout).toMatch(/^JOB\s+a \(baseline\)\s+b$/m)
      expect(t.out.stdout).toMatch(/^iops_read total\s+2\.50 M ops\s+2\.50 M ops \(\+10\.0 %\)$/m)

      const j = io(fakeFetch(() => ({ body: comparison })).fetch)
      await runJobCommand(['compare', 'a', 'b', '--json'], ENV, j.io)
      expect(JSON.parse(j.out.stdout)).toEqual(comparison)
    })

    it('usage errors (exit 2) before any request: one ID, a malformed ID', async () => {
      const f = fakeFetch(() => ({ body: comparison }))
      await expect(runJobCommand(['compare', 'a'], ENV, io(f.fetch).io)).rejects.toThrow(UsageError)
      await expect(runJobCommand(['compare', 'a', 'b/c'], ENV, io(f.fetch).io)).rejects.toThrow(/"b\/c" is not a job ID/)
      await expect(runJobCommand(['stats'], ENV, io(f.fetch).io)).rejects.toThrow(/no job/)
      expect(f.calls).toHaveLength(0)
    })

    it('API errors: 400 → UsageError (exit 2), 404/5xx → ApiResponseError (exit 1), nothing on stdout', async () => {
      const cases: Array<[string[], number, string, typeof ApiResponseError | typeof UsageError]> = [
        [['compare', 'a', 'b'], 400, 'jobs: at most 10 jobs', UsageError],
        [['compare', 'a', 'b'], 404, 'no job "b"', ApiResponseError],
        [['stats', '--job', 'j1'], 404, 'no job "j1"', ApiResponseError],
        [['stats', '--job', 'j1'], 503, 'InfluxDB unreachable', ApiResponseError],
      ]
      for (const [argv, status, message, type] of cases) {
        const t = io(fakeFetch(() => ({ status, body: { error: { code: 'x', message } } })).fetch)
        const err = await runJobCommand(argv, ENV, t.io).then(
          () => undefined,
          (e: Error) => e,
        )
        expect(err).toBeInstanceOf(type)
        if (type === ApiResponseError) expect(err).not.toBeInstanceOf(UsageError)
        expect(err!.message).toBe(`${message} (${status})`)
        expect(t.out).toEqual({ stdout: '', stderr: '' })
      }
    })

    it('an answer without the stats shape is an operational failure, not a formatter crash; --json passes it through', async () => {
      for (const [argv, body] of [
        [['stats', '--job', 'j1'], { job: 'j1' }],
        [
          ['stats', '--job', 'j1'],
          [1, 2],
        ],
        [['compare', 'a', 'b'], { jobs: [] }],
        [['compare', 'a', 'b'], { jobs: [stats('a'), { job: 'b' }] }],
        [['compare', 'a', 'b'], { jobs: [stats('a')], deltas: 'x' }],
      ] as Array<[string[], unknown]>) {
        const t = io(fakeFetch(() => ({ body })).fetch)
        const err = await runJobCommand(argv, ENV, t.io).then(
          () => undefined,
          (e: Error) => e,
        )
        expect(err).toBeInstanceOf(ApiResponseError)
        expect(err!.message).toMatch(/^the API answered the (stats|compare) request without/)
        expect(t.out.stdout).toBe('')
        const j = io(fakeFetch(() => ({ body })).fetch)
        expect(await runJobCommand([...argv, '--json'], ENV, j.io)).toBe(0)
        expect(JSON.parse(j.out.stdout)).toEqual(body)
      }
    })
  })

  it('complete --at and list --since/--until send what was typed: the API judges it and its message is shown (exit 2)', async () => {
    const T0 = Date.parse('2026-11-23T10:00:00Z')
    const t = await makeApp({ deps: { now: () => T0 } })
    expect((await t.call('POST', '/api/v1/jobs', { name: 'r', id: 'j1' })).status).toBe(201)
    const viaApp = ((input: string | URL | Request, init?: RequestInit) => t.app.request(String(input), init)) as typeof globalThis.fetch
    const env = { QACTIVITY_URL: 'http://api.test', QACTIVITY_TOKEN: TOKENS[0].token, QACTIVITY_JOB: 'j1' }
    const refused = async (argv: string[], message: RegExp) => {
      const err = await runJobCommand(argv, env, io(viaApp).io).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UsageError)
      expect((err as Error).message).toMatch(message)
    }
    await refused(['complete', '--at', String(T0 / 1000)], /^at: "1795428000" is not epoch milliseconds .*epoch seconds\?/)
    await refused(['list', '--since', ''], /^since: "" is not an ISO 8601 time with a zone/)
    await refused(['list', '--until', '1e3'], /^until: "1e3" is not/)
    expect(t.store.data.jobs.j1.status).toBe('running')
    const list = io(viaApp)
    expect(await runJobCommand(['list', '--since', String(T0), '--json'], env, list.io)).toBe(0)
    expect(JSON.parse(list.out.stdout).jobs.map((j: { id: string }) => j.id)).toEqual(['j1'])
    expect(await runJobCommand(['complete', '--at', String(T0 + 5000)], env, io(viaApp).io)).toBe(0)
    expect(t.store.data.jobs.j1.endedAt).toBe('2026-11-23T10:00:05.000Z')
  })
})

describe('against the real API', () => {
  const T0 = Date.parse('2026-11-23T10:00:00Z')

  async function appWithActivity(clients: number) {
    const memory = memorySource()
    let now = T0
    const t = await makeApp({
      deps: { now: () => now },
      app: (service) => ({
        stats: new StatsService({
          source: memory.source,
          intervalSeconds: 60,
          previousRuns: (n, b, id) => service.previousRuns(n, b, id),
          now: () => now,
        }),
      }),
    })
    expect((await t.call('POST', '/api/v1/jobs', { name: 'r', id: 't1', paths: ['/p'] })).status).toBe(201)
    for (let i = 1; i <= clients; i++)
      memory.points.push({ time: T0 / 1000 + 120, client: `10.0.0.${i}`, path: '/p/x', values: [i, 0, 0, 0, 0, 0], points: 1 })
    now = T0 + 600_000
    const fetch = ((input: string | URL | Request, init?: RequestInit) => t.app.request(String(input), init)) as typeof globalThis.fetch
    return { t, fetch }
  }

  /** The rows of a section of `job stats`, up to the blank line after it. */
  const sectionRows = (stdout: string, title: string) => {
    const lines = stdout.split('\n')
    const start = lines.findIndex((l) => l.startsWith(title))
    const end = lines.indexOf('', start)
    return lines.slice(start + 1, end === -1 ? undefined : end)
  }

  it(`stats shows the same top ${TOP_N} clients and paths as the API returns; --top N shows fewer`, async () => {
    const { t, fetch } = await appWithActivity(TOP_N + 2)
    const api = (await (await t.call('GET', '/api/v1/jobs/t1/stats')).json()) as { topClients: unknown[] }
    expect(api.topClients).toHaveLength(TOP_N)
    const env = { QACTIVITY_URL: 'http://api.test', QACTIVITY_TOKEN: TOKENS[0].token, QACTIVITY_JOB: 't1' }
    const all = io(fetch)
    expect(await runJobCommand(['stats'], env, all.io)).toBe(0)
    expect(sectionRows(all.out.stdout, 'TOP CLIENTS')).toHaveLength(TOP_N)
    expect(sectionRows(all.out.stdout, 'TOP CLIENTS')[0]).toMatch(/^10\.0\.0\.12 /)
    const three = io(fetch)
    expect(await runJobCommand(['stats', '--top', '3'], env, three.io)).toBe(0)
    expect(sectionRows(three.out.stdout, 'TOP CLIENTS').map((l) => l.split(' ')[0])).toEqual(['10.0.0.12', '10.0.0.11', '10.0.0.10'])
    expect(sectionRows(three.out.stdout, 'TOP PATHS')).toHaveLength(1)
    await expect(runJobCommand(['stats', '--top', String(TOP_N + 1)], env, io(fetch).io)).rejects.toThrow(
      new UsageError(`--top must be from 1 to ${TOP_N} (the API returns the top ${TOP_N}), got "${TOP_N + 1}"`),
    )
    await expect(runJobCommand(['stats', '--top', '0'], env, io(fetch).io)).rejects.toThrow(UsageError)
  })

  it('401 without a token or with an unknown one: names QACTIVITY_TOKEN and where tokens come from, intact on stderr', async () => {
    const { fetch } = await appWithActivity(0)
    const failure = async (token: string | undefined) => {
      const env = { QACTIVITY_URL: 'http://api.test', QACTIVITY_JOB: 't1', ...(token === undefined ? {} : { QACTIVITY_TOKEN: token }) }
      const t = io(fetch)
      const err = await runJobCommand(['list'], env, t.io).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ApiResponseError)
      expect(t.out).toEqual({ stdout: '', stderr: '' })
      return messageOf(err) // what cli/main.ts prints
    }
    expect(await failure(undefined)).toBe(
      'the qactivity API at http://api.test needs a token: ' +
        'set QACTIVITY_TOKEN to one of the tokens in its QACTIVITY_API_TOKENS (ask whoever runs it) (401)',
    )
    expect(await failure('not-a-known-token-0123')).toBe(
      'the qactivity API at http://api.test does not know the token in QACTIVITY_TOKEN: ' +
        'use one of the tokens in its QACTIVITY_API_TOKENS (ask whoever runs it) (401)',
    )
  })
})
