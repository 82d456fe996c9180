// `npm run bench:jobs`: thousands of running jobs (issue #12).
//
// 1. One poll cycle (fetch, resolve with a warm cache, aggregate, attribute, write to the spool) of
//    100k activity entries from 2,000 clients with 10,000 running jobs (1–4 client IPs each, half of
//    them with 1–3 paths), and the process's RSS.
// 2. `GET /api/v1/jobs/{id}/stats` of a running job 1 hour old and one 7 days old, with 10 and with
//    10,000 running jobs in the store.
// 3. A burst of 10,000 job creates against `qactivity serve` polling every 5 s: polls missed and
//    the worst lateness, from the collector's own `qactivity_collector` points.
//
// The simulator runs in a child process (this file with `--simulate`), so it shares no event loop.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { loadConfig } from '../lib/config.ts'
import { silentLogger } from '../lib/log.ts'
import { createDurableWriter } from '../lib/influx/writer.ts'
import { createInfluxQL } from '../lib/influx/influxql.ts'
import { jobActivityLine, type JobScope } from '../lib/job-scope.ts'
import { createQumuloClient } from '../qumulo/client.ts'
import { createCollector } from '../collector/index.ts'
import { startApi } from '../api/server.ts'
import { openWriter } from '../cli/compose.ts'
import { scaleClient, scaleDirectory, scaleScenario } from '../simulator/scenario.ts'
import { startSimulator } from '../simulator/server.ts'
import type { Job } from '../jobs/types.ts'
import { freePort, startInfluxd } from '../test/support/influxd.ts'
import { tempDir } from '../test/support/tmp.ts'
import { seedJobs } from './seed.ts'
import { printTable, row } from './table.ts'

const SELF = fileURLToPath(import.meta.url)
const RUN_TS = fileURLToPath(new URL('../bin/run-ts.mjs', import.meta.url))
const BIN = fileURLToPath(new URL('../bin/qactivity.mjs', import.meta.url))
const TOKEN = 'bench-jobs-token-0123456789abcdef'
const CLIENTS = 2000
const JOBS = 10_000
const int = (n: number) => Math.round(n).toLocaleString('en-US')
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]
const median = (xs: number[]) => pct(xs, 50)

/** The scale simulator in a child process; resolves with its URL. */
async function simulator(entries: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [RUN_TS, SELF, '--simulate', String(entries)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(out.trim())
    })
    child.on('exit', (code) => reject(new Error(`simulator exited ${code}`)))
  })
  return { url, child }
}

/** 10,000 running jobs over the scale scenario's clients and directories (some nested, some overlapping). */
function jobScopes(startMs: number): JobScope[] {
  return Array.from({ length: JOBS }, (_, i) => ({
    id: `bench-${i}`,
    name: `render-${i % 50}`,
    cluster: 'bench',
    startMs,
    clients: Array.from({ length: 1 + (i % 4) }, (_, k) => scaleClient((i * 7 + k * 131) % CLIENTS)),
    paths:
      i % 2 === 0
        ? []
        : Array.from({ length: 1 + (i % 3) }, (_, k) => {
            const leaf = scaleDirectory((i * 11 + k * 17) % 1000)
            return k === 2 ? leaf.slice(0, leaf.lastIndexOf('/')) : leaf // a parent: nested jobs
          }),
  }))
}

async function cycleBench(influxUrl: string): Promise<void> {
  const sim = await simulator(100_000)
  try {
    const config = loadConfig(
      {
        QUMULO_URL: sim.url,
        QUMULO_USERNAME: 'bench',
        QUMULO_PASSWORD: 'bench',
        QUMULO_CLUSTER: 'bench',
        INFLUX_URL: influxUrl,
        INFLUX_BUCKET: 'bench_jobs_cycle',
        QACTIVITY_DATA_DIR: tempDir(),
      },
      ['qumulo', 'influx'],
    )
    const writer = await createDurableWriter({
      influx: config.influx,
      dir: join(config.storage.dataDir, 'spool'),
      maxBytes: 2 ** 32,
      log: silentLogger,
    })
    const t = Math.floor(Date.now() / 60_000) * 60 - 7200
    const scopes = jobScopes((t - 3600) * 1000)
    const collector = createCollector({
      config,
      qumulo: createQumuloClient(config.qumulo, silentLogger),
      writer,
      log: silentLogger,
      jobs: async () => scopes,
    })
    const cold = await collector.runOnce(t)
    if (!cold.success || cold.entries !== 100_000) throw new Error(`cycle failed: ${JSON.stringify(cold)}`)
    const warm: number[] = []
    let rss = process.memoryUsage().rss
    let jobPoints = 0
    let points = 0
    for (let i = 1; i <= 5; i++) {
      const r = await collector.runOnce(t + i * 60)
      warm.push(r.durationSeconds)
      jobPoints = r.jobPoints
      points = r.points
      rss = Math.max(rss, process.memoryUsage().rss)
      await writer.flush()
    }
    // Settled: what the collector holds between polls (resolver cache, job index, writer cache), after a collection.
    await new Promise((r) => setTimeout(r, 3000))
    setFlagsFromString('--expose-gc')
    ;(runInNewContext('gc') as () => void)()
    const settled = process.memoryUsage()
    await writer.close()
    const m = median(warm)
    row(
      `cycle, 100k entries, ${int(CLIENTS)} clients, ${int(JOBS)} running jobs (warm cache, median of 5)`,
      `${m.toFixed(3)} s (${int(points)} points, ${int(jobPoints)} of them job points; cold ${cold.durationSeconds.toFixed(3)} s)`,
      '≤ 2.5 s',
      m <= 2.5,
    )
    row(
      '  same: process RSS between polls, settled (3 s idle, after a GC); the simulator runs apart',
      `${int(settled.rss / 1e6)} MB (heap ${int(settled.heapUsed / 1e6)} MB; peak right after a cycle ${int(rss / 1e6)} MB)`,
      '< 400 MB',
      settled.rss < 400e6,
    )
  } finally {
    sim.child.kill()
  }
}

/** One job's series: `polls` polls of 60 s ending now, 4 (client, path) series each. */
function seriesLines(job: Job, polls: number, nowS: number): string[] {
  const lines: string[] = []
  const startMs = Date.parse(job.startedAt)
  for (let k = polls; k >= 1; k--) {
    const t = Math.floor(nowS / 60) * 60 - (k - 1) * 60
    for (let s = 0; s < 4; s++)
      lines.push(jobActivityLine({ ...job, startMs }, 'bench', `10.9.0.${s + 1}`, `/render/s${s}`, [10 + s, 2, 1, 0, 4096 * s, 512], 60, t))
  }
  return lines
}

async function statsBench(influxUrl: string, running: number): Promise<void> {
  const config = loadConfig(
    {
      QACTIVITY_API_TOKENS: `bench:${TOKEN}:writer`,
      QACTIVITY_HOST: '127.0.0.1',
      QACTIVITY_PORT: '0',
      QACTIVITY_DATA_DIR: tempDir('qactivity-bench-jobs-'),
      QUMULO_CLUSTER: 'bench',
      INFLUX_URL: influxUrl,
      INFLUX_BUCKET: `bench_jobs_stats_${running}`,
    },
    ['api', 'influx'],
  )
  const writer = await openWriter(config, silentLogger, 'spool')
  const api = await startApi({ config, log: silentLogger, writer })
  const nowS = Date.now() / 1000
  const aged = (id: string, ageS: number): Job => ({
    ...seedJobs(1, 1)[0],
    id,
    name: id,
    cluster: 'bench',
    startedAt: new Date((nowS - ageS) * 1000).toISOString(),
    clients: ['10.9.0.0/24'],
    paths: [],
  })
  const hour = aged('stats-1h', 3600)
  const week = aged('stats-7d', 7 * 86_400)
  const others = seedJobs(running, running).map((j) => ({ ...j, cluster: 'bench' }))
  await api.store.update((d) => {
    for (const j of [...others.slice(0, running - 2), hour, week]) d.jobs[j.id] = j
  })
  await writer.write(seriesLines(hour, 60, nowS))
  for (let k = 0; k < 7 * 1440; k += 1440) await writer.write(seriesLines(week, 1440, nowS - (7 * 1440 - k - 1440) * 60))
  await writer.flush()
  for (const job of [hour, week]) {
    const times: number[] = []
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now()
      const res = await fetch(`${api.url}/api/v1/jobs/${job.id}/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })
      const body = (await res.json()) as { polls?: number }
      if (res.status !== 200 || !body.polls) throw new Error(`stats ${job.id}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`)
      times.push(performance.now() - t0)
    }
    const p99 = pct(times, 99)
    row(
      `GET stats of a running job ${job.id === hour.id ? '1 hour' : '7 days'} old, ${int(running)} running jobs (200 calls)`,
      `p50 ${median(times).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (first ${times[0].toFixed(0)} ms)`,
      'p99 < 100 ms',
      p99 < 100,
    )
  }
  await api.close()
  await writer.close()
}

async function burstBench(influxUrl: string): Promise<void> {
  const I = 5
  const sim = await simulator(10_000)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const db = 'bench_jobs_burst'
  await createInfluxQL({ url: influxUrl, bucket: db, queryLanguage: 'influxql' }).query(`CREATE DATABASE "${db}"`)
  const serve = spawn(process.execPath, [BIN, 'serve'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'bench',
      QUMULO_PASSWORD: 'bench',
      QUMULO_CLUSTER: 'bench',
      INFLUX_URL: influxUrl,
      INFLUX_BUCKET: db,
      QACTIVITY_POLL_SECONDS: String(I),
      QACTIVITY_API_TOKENS: `bench:${TOKEN}:writer`,
      QACTIVITY_HOST: '127.0.0.1',
      QACTIVITY_PORT: String(port),
      QACTIVITY_DATA_DIR: tempDir('qactivity-bench-burst-'),
      QACTIVITY_LOG_LEVEL: 'error',
    },
  })
  try {
    for (let i = 0; ; i++) {
      if (i > 200) throw new Error('serve did not start')
      if (
        await fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break
      await new Promise((r) => setTimeout(r, 100))
    }
    // Two polls before, the burst, two polls after.
    await new Promise((r) => setTimeout(r, 2 * I * 1000))
    const fromS = Date.now() / 1000
    let next = 0
    let failed = 0
    const create = async () => {
      for (let i = next++; i < JOBS; i = next++) {
        const res = await fetch(`${url}/api/v1/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: `burst-${i % 100}`, clients: [scaleClient(i % CLIENTS), scaleClient((i * 7) % CLIENTS)] }),
        })
        if (res.status !== 201) failed++
        await res.arrayBuffer()
      }
    }
    await Promise.all(Array.from({ length: 32 }, create))
    const burstS = Date.now() / 1000 - fromS
    await new Promise((r) => setTimeout(r, 2 * I * 1000 + 2000))
    const toS = Date.now() / 1000 - I
    const [r] = await createInfluxQL({ url: influxUrl, bucket: db, queryLanguage: 'influxql' }).query(
      `SELECT "lateness_seconds", "skipped_ticks", "jobs" FROM "qactivity_collector" ` +
        `WHERE time >= ${Math.ceil(fromS / I) * I}s AND time <= ${Math.floor(toS / I) * I}s`,
    )
    const values = r.series[0]?.values ?? []
    const expected = Math.floor(toS / I) - Math.ceil(fromS / I) + 1
    const missed = expected - values.length
    const worst = Math.max(0, ...values.map((v) => Number(v[1])))
    const jobs = Math.max(0, ...values.map((v) => Number(v[3])))
    row(
      `burst of ${int(JOBS)} creates (32 at once) against serve polling every ${I} s`,
      `${int(JOBS / burstS)} creates/s over ${burstS.toFixed(1)} s, ${failed} failed; ${expected} polls due, ${missed} missed, ` +
        `worst lateness ${worst.toFixed(3)} s; last poll attributed to ${int(jobs)} jobs`,
      '0 missed, lateness ≤ 1 s',
      missed === 0 && worst <= 1 && failed === 0,
    )
  } finally {
    const exited = new Promise((resolve) => serve.once('exit', resolve))
    serve.kill('SIGTERM')
    await exited
    sim.child.kill()
  }
}

async function main(): Promise<void> {
  const only = process.argv[2]
  const influxd = await startInfluxd()
  try {
    if (!only || only === 'cycle') await cycleBench(influxd.url)
    if (!only || only === 'stats') {
      await statsBench(influxd.url, 10)
      await statsBench(influxd.url, JOBS)
    }
    if (!only || only === 'burst') await burstBench(influxd.url)
  } finally {
    await influxd.stop()
  }
  printTable()
  process.exit(0)
}

if (process.argv[2] === '--simulate') {
  const sim = await startSimulator({ scenario: scaleScenario(Number(process.argv[3]), CLIENTS), users: { bench: 'bench' } })
  process.stdout.write(sim.url + '\n')
} else {
  await main()
}
