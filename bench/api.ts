// `npm run bench:api`: the job API under a mixed load of job operations (autocannon), with 10k running jobs
// stored and, for comparison, with 100; plus the API's start time on a 10k-job file.
//
// The API runs in this process (startApi, the real store and durable writer, a private influxd for
// the job events); autocannon runs in a child process (this file with `--load`), so the load
// generator does not share the server's event loop.
//
// `npm run bench:api -- --duration 5 --connections 10` shortens a trial run (defaults: 20 s, 20).
import { spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { loadConfig, type Config } from '../lib/config.ts'
import { silentLogger } from '../lib/log.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'
import { startApi, type RunningApi } from '../api/server.ts'
import { openWriter } from '../cli/compose.ts'
import { startInfluxd } from '../test/support/influxd.ts'
import { tempDir } from '../test/support/tmp.ts'
import { printTable, row } from './table.ts'
import { seedJobs } from './seed.ts'

const SELF = fileURLToPath(import.meta.url)
const RUN_TS = fileURLToPath(new URL('../bin/run-ts.mjs', import.meta.url))
const TOKEN = 'bench-load-token-0123456789abcdef'

/** The routes of one pass, in order; each connection loops over them with its own job. */
const ROUTES = ['create', 'paths', 'clients', 'comments', 'get', 'list running', 'complete'] as const
type Route = (typeof ROUTES)[number]

interface LoadOptions {
  url: string
  token: string
  duration: number
  connections: number
}

interface LoadResult {
  total: number
  durationS: number
  p50: number
  p99: number
  max: number
  non2xx: number
  errors: number
  timeouts: number
  /** route → HTTP status → count */
  routes: Record<Route, Record<string, number>>
  /** first few non-2xx answers, for the error message */
  samples: string[]
}

// ---------------------------------------------------------------------------------------------
// Load generator (child process)

async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const routes = Object.fromEntries(ROUTES.map((r) => [r, {}])) as LoadResult['routes']
  const samples: string[] = []
  const record = (route: Route) => (status: number, body: string) => {
    routes[route][status] = (routes[route][status] ?? 0) + 1
    if ((status < 200 || status > 299) && samples.length < 5) samples.push(`${route} → ${status} ${body.slice(0, 300)}`)
  }
  const onJob = (route: Route, method: string, suffix: string, body?: object): autocannon.Request => ({
    method,
    setupRequest: (req, ctx) => ({
      ...req,
      path: `/api/v1/jobs/${String(ctx.id ?? 'missing')}${suffix}`,
      ...(body ? { body: JSON.stringify(body) } : {}),
    }),
    onResponse: record(route),
  })
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.duration,
    headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
    requests: [
      {
        method: 'POST',
        path: '/api/v1/jobs',
        body: JSON.stringify({
          name: 'bench-render-shot',
          paths: ['/render/bench/shot001/in'],
          labels: { project: 'bench', queue: 'cpu' },
        }),
        onResponse: (status, body, ctx) => {
          record('create')(status, body)
          ctx.id = status === 201 ? (JSON.parse(body) as { id: string }).id : undefined
        },
      },
      onJob('paths', 'POST', '/paths', { paths: ['/render/bench/shot001/out'] }),
      onJob('clients', 'POST', '/clients', { client: '10.9.8.7' }),
      onJob('comments', 'POST', '/comments', { text: 'frames 1-240 rendered, 0 retries' }),
      onJob('get', 'GET', ''),
      { method: 'GET', path: '/api/v1/jobs?status=running&limit=20', onResponse: record('list running') },
      onJob('complete', 'POST', '/complete', { status: 'succeeded' }),
    ],
  })
  return {
    total: result.requests.total,
    durationS: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    routes,
    samples,
  }
}

/** Runs {@link runLoad} in a child process and returns its result. */
function loadInChild(o: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN_TS, SELF, '--load', JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load child exited ${code}`))))
  })
}

// ---------------------------------------------------------------------------------------------
// Orchestration

interface Instance {
  config: Config
  writer: DurableWriter
}

async function instance(influxUrl: string, bucket: string): Promise<Instance> {
  const config = loadConfig(
    {
      QACTIVITY_API_TOKENS: `bench:${TOKEN}:writer`,
      QACTIVITY_HOST: '127.0.0.1',
      QACTIVITY_PORT: '0',
      QACTIVITY_DATA_DIR: tempDir('qactivity-bench-api-'),
      INFLUX_URL: influxUrl,
      INFLUX_BUCKET: bucket,
    },
    ['api', 'influx'],
  )
  return { config, writer: await openWriter(config, silentLogger, 'spool') }
}

/** Seeds `count` jobs in one store update, then restarts the API on that file; returns the restart time. */
async function seeded(inst: Instance, count: number, running: number): Promise<{ api: RunningApi; startMs: number; fileBytes: number }> {
  const first = await startApi({ config: inst.config, log: silentLogger, writer: inst.writer })
  const jobs = seedJobs(count, running)
  await first.store.update((d) => {
    for (const job of jobs) d.jobs[job.id] = job
  })
  await first.close()
  const fileBytes = (await stat(first.store.file)).size
  const t = performance.now()
  const api = await startApi({ config: inst.config, log: silentLogger, writer: inst.writer })
  const startMs = performance.now() - t
  const stored = Object.keys(api.store.data.jobs).length
  if (stored !== count) throw new Error(`expected ${count} jobs after restart, the store holds ${stored}`)
  return { api, startMs, fileBytes }
}

async function stop(inst: Instance, api: RunningApi): Promise<void> {
  await api.close()
  await inst.writer.flush().catch(() => {})
  await inst.writer.close()
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name)
  const v = i >= 0 ? Number(process.argv[i + 1]) : def
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`)
  return v
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const failures: string[] = []

async function measure(label: string, api: RunningApi, duration: number, connections: number): Promise<void> {
  const before = Object.keys(api.store.data.jobs).length
  const writesBefore = api.store.stats.writes
  const r = await loadInChild({ url: api.url, token: TOKEN, duration, connections })
  const opsPerS = r.total / r.durationS
  const ok = opsPerS >= 2000 && r.p99 < 50
  row(
    `mixed job load, ${label} (${connections} connections, ${r.durationS} s)`,
    `${int(opsPerS)} ops/s, p50 ${r.p50} ms, p99 ${r.p99} ms (max ${r.max} ms)`,
    '≥ 2,000 ops/s, p99 < 50 ms',
    ok,
  )
  const bad = r.non2xx + r.errors + r.timeouts
  const perRoute = ROUTES.map((route) => `${route} ${int(Object.values(r.routes[route]).reduce((a, b) => a + b, 0))}`).join(', ')
  const after = Object.keys(api.store.data.jobs).length
  row(
    `  same: requests per route; non-2xx/errors/timeouts; store`,
    `${perRoute}; ${r.non2xx}/${r.errors}/${r.timeouts}; ` +
      `${int(before)} → ${int(after)} jobs, ${int(api.store.stats.writes - writesBefore)} store writes`,
    '0 non-2xx',
    bad === 0,
  )
  if (bad) {
    failures.push(
      `${label}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts; ` +
        `statuses per route ${JSON.stringify(r.routes)}\n  ${r.samples.join('\n  ')}`,
    )
  }
}

async function main(): Promise<void> {
  const duration = arg('--duration', 20)
  const connections = arg('--connections', 20)
  const influxd = await startInfluxd()
  try {
    // Warm-up (JIT, influxd database creation), not reported.
    {
      const inst = await instance(influxd.url, 'bench_api_warmup')
      const { api } = await seeded(inst, 100, 10)
      await loadInChild({ url: api.url, token: TOKEN, duration: 3, connections })
      await stop(inst, api)
    }
    {
      const inst = await instance(influxd.url, 'bench_api_10k')
      // All of them running: a Slurm site's 10,000 jobs at once (issue #12).
      const { api, startMs, fileBytes } = await seeded(inst, 10_000, 10_000)
      row(`API start with 10k jobs (jobs.json ${(fileBytes / 2 ** 20).toFixed(1)} MB)`, `${int(startMs)} ms`, '—', undefined)
      await measure('10k running jobs stored', api, duration, connections)
      await stop(inst, api)
    }
    {
      const inst = await instance(influxd.url, 'bench_api_100')
      const { api } = await seeded(inst, 100, 10)
      await measure('100 jobs stored', api, duration, connections)
      await stop(inst, api)
    }
  } finally {
    await influxd.stop()
  }
  printTable()
  if (failures.length) {
    console.error(`\nFAILED: requests that did not succeed (the figures above are not valid):\n${failures.join('\n')}`)
    process.exit(1)
  }
  process.exit(0)
}

if (process.argv[2] === '--load') {
  process.stdout.write(JSON.stringify(await runLoad(JSON.parse(process.argv[3]) as LoadOptions)))
  process.exit(0)
} else {
  await main()
}
