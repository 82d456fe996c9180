import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import { ACTIVITY_FIELDS, FIELD_OF_TYPE, type ActivityField, type ActivityType } from '../../lib/schema.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { freePort, startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'

/**
 * Issue #12: activity attributed to jobs as the collector polls (`qactivity serve`, real influxd,
 * the simulator's fixed workload). Overlapping, nested, CIDR, IPv6 and late-attached jobs, with
 * influxd down for several polls while they run: every job's totals equal the scenario's rates ×
 * its window, and the job series Grafana reads sums to the same.
 */

const I = 2
const BIN = new URL('../../bin/qactivity.mjs', import.meta.url).pathname
const TOKEN = 'writer-token-0123456789'
const DB = 'attribution'
const workloads = [
  { name: 'W1', clients: ['10.0.2.1'], path: '/proj/a/x', files: 2, ops: { 'file-iops-read': 120 } },
  { name: 'W2', clients: ['10.0.2.2'], path: '/proj/a/y', files: 1, ops: { 'file-iops-write': 60 } },
  { name: 'W3', clients: ['fd00::5'], path: '/proj/b/z', files: 1, ops: { 'metadata-iops-read': 30 } },
  { name: 'W4', clients: ['10.0.3.7'], path: '/other/z', files: 1, ops: { 'file-throughput-write': 60 } },
] as const
type W = (typeof workloads)[number]['name']

/** The jobs, what they attach, and which workloads are theirs (each once, whatever matches it twice). */
const jobs: Array<{ name: string; paths?: string[]; clients?: string[]; late?: string[]; owns: W[] }> = [
  { name: 'outer', paths: ['/proj'], owns: ['W1', 'W2', 'W3'] },
  { name: 'nested', paths: ['/proj/a'], owns: ['W1', 'W2'] },
  { name: 'cidr', clients: ['10.0.2.0/30'], owns: ['W1', 'W2'] },
  { name: 'ipv6', clients: ['fd00:0:0:0::5'], owns: ['W3'] },
  { name: 'both', clients: ['10.0.2.1'], paths: ['/proj/a/x'], owns: ['W1'] },
  // Attached during the outage: the polls before are backfilled from the raw points.
  { name: 'late', clients: ['10.0.3.7'], late: ['10.0.2.2'], owns: ['W4', 'W2'] },
]

/** Ground truth: per field, the summed rate of the workloads (ops/s, bytes/s). */
function rates(owned: W[]): Record<ActivityField, number> {
  const out = Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, 0])) as Record<ActivityField, number>
  for (const w of workloads.filter((x) => owned.includes(x.name)))
    for (const [type, k] of Object.entries(w.ops) as Array<[ActivityType, number]>)
      out[FIELD_OF_TYPE[type]] += (w.files * w.clients.length * k * (type.includes('throughput') ? 4096 : 1)) / 60
  return out
}

let influxd: Influxd
let sim: RunningSimulator
let serve: ChildProcess
let api: string
let stderr = ''

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(api + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: await res.json() }
}

/** Waits until InfluxDB holds the collector's points up to its last cycle (its spool is empty). */
async function writerCaughtUp(): Promise<void> {
  const ql = createInfluxQL({ url: influxd.url, bucket: DB, queryLanguage: 'influxql' })
  await vi.waitFor(
    async () => {
      const health = (await (await fetch(`${api}/healthz`)).json()) as any
      const last = Date.parse(health.qumulo.clusters.sim.collector.lastCycle) / 1000
      const [r] = await ql.query(`SELECT count("points") FROM "qactivity_collector" WHERE time >= ${last}s`)
      expect(Number(r.series[0]?.values[0][1] ?? 0)).toBeGreaterThan(0)
    },
    { timeout: 30_000, interval: 200 },
  )
}

/** The jobs once every one has its summary (which waits for their points and backfills). */
async function summarised(ids: string[]): Promise<any[]> {
  const done: any[] = []
  await vi.waitFor(
    async () => {
      for (const [i, id] of ids.entries()) done[i] = (await call('GET', `/api/v1/jobs/${id}`)).body
      expect(done.map((j) => j.summary?.state)).toEqual(ids.map(() => 'done'))
    },
    { timeout: 60_000, interval: 500 },
  )
  return done
}

/** Waits until the collector has polled past `ms` (epoch ms). */
async function polledPast(ms: number): Promise<void> {
  await vi.waitFor(
    async () => {
      const health = (await (await fetch(`${api}/healthz`)).json()) as any
      expect(Date.parse(health.qumulo.clusters.sim.collector.lastCycle)).toBeGreaterThan(ms)
    },
    { timeout: 30_000, interval: 200 },
  )
}

let dir: string
let port: number

/** `qactivity serve` on the test's data directory and port (again after a kill: the same state). */
async function startServe(): Promise<void> {
  serve = spawn(process.execPath, [BIN, 'serve'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'admin',
      QUMULO_CLUSTER: 'sim',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: DB,
      QACTIVITY_POLL_SECONDS: String(I),
      QACTIVITY_PATH_DEPTH: '2',
      QACTIVITY_API_TOKENS: `ci:${TOKEN}`,
      QACTIVITY_HOST: '127.0.0.1',
      QACTIVITY_PORT: String(port),
      QACTIVITY_DATA_DIR: join(dir, 'data'),
    },
  })
  serve.stderr!.on('data', (d) => (stderr += d))
  // Up once its collector thread has polled: the API answers before the thread has started.
  await vi.waitFor(
    async () => {
      const health = (await (await fetch(`${api}/healthz`)).json()) as any
      expect(health.qumulo.clusters.sim.collector.lastCycle).toEqual(expect.any(String))
    },
    { timeout: 30_000, interval: 100 },
  )
}

beforeAll(async () => {
  ;[influxd, sim] = await Promise.all([startInfluxd(), startSimulator({ scenario: parseScenario({ workloads }) })])
  await createInfluxQL({ url: influxd.url, bucket: DB, queryLanguage: 'influxql' }).query(`CREATE DATABASE "${DB}"`)
  dir = tempDir()
  port = await freePort()
  api = `http://127.0.0.1:${port}`
  await startServe()
}, 60_000)

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    const exited = new Promise((resolve) => serve.once('exit', resolve))
    serve.kill('SIGTERM')
    await exited
  }
  await Promise.all([sim?.close(), influxd?.stop()])
})

describe('attribution at collection time (real serve, real influxd)', () => {
  it('gives overlapping, nested, CIDR, IPv6 and late-attached jobs their exact totals across an InfluxDB outage', async () => {
    const ids: string[] = []
    for (const j of jobs) {
      const created = await call('POST', '/api/v1/jobs', { name: j.name, paths: j.paths, clients: j.clients })
      expect(created.status, JSON.stringify(created.body)).toBe(201)
      ids.push(created.body.id)
    }
    const startedMs = Math.max(
      ...(await Promise.all(ids.map(async (id) => Date.parse((await call('GET', `/api/v1/jobs/${id}`)).body.startedAt)))),
    )
    await polledPast(startedMs + 2 * I * 1000)

    // influxd goes down for a few polls: they wait in the spool with their job points.
    await influxd.stop()
    await polledPast(Date.now() + I * 1000)
    const late = jobs.findIndex((j) => j.late)
    const attached = await call('POST', `/api/v1/jobs/${ids[late]}/clients`, { clients: jobs[late].late })
    expect(attached.status, JSON.stringify(attached.body)).toBe(200)
    expect(attached.body.backfill?.until).toEqual(expect.any(String))
    await polledPast(Date.now() + I * 1000)
    await influxd.start()
    await polledPast(Date.now() + I * 1000)

    const ended = await Promise.all(ids.map((id) => call('POST', `/api/v1/jobs/${id}/complete`, {})))
    for (const e of ended) expect(e.status).toBe(200)
    // Computed from the job series once the last overlapping poll is in (before the summary's grace is over).
    await polledPast(Math.max(...ended.map((e) => Date.parse(e.body.endedAt))) + I * 1000)
    await writerCaughtUp()
    const computed = await Promise.all(ids.map(async (id) => (await call('GET', `/api/v1/jobs/${id}/stats`)).body))

    // Summaries wait for the spooled points and for the backfill, then equal the ground truth.
    const done = await summarised(ids)
    const ql = createInfluxQL({ url: influxd.url, bucket: DB, queryLanguage: 'influxql' })
    // What the collector said of each poll, for a failure's message.
    const [cycles] = await ql.query(
      `SELECT "skipped_ticks", "jobs_stale", "lateness_seconds", "cycle_seconds", "failed" FROM "qactivity_collector" ` +
        `WHERE time >= ${Math.floor(startedMs / 1000) - I}s`,
    )
    const polled = JSON.stringify(cycles.series[0]?.values ?? [])
    for (const [i, job] of done.entries()) {
      const seconds = (Date.parse(job.endedAt) - Date.parse(job.startedAt)) / 1000
      let polls = 0
      const startS = Date.parse(job.startedAt) / 1000
      for (let t = Math.floor(startS / I) * I; t < Date.parse(job.endedAt) / 1000 + I; t += I) if (t > startS) polls++
      const stats = job.summary.stats
      expect(job.backfill, job.name).toBeUndefined()
      const [have] = await ql.query(
        `SELECT "iops_read", "seconds" FROM "qactivity_jobs"."qactivity_job_activity" WHERE "job_id" = '${job.id}'`,
      )
      const series = JSON.stringify(have.series[0]?.values.map((v) => [Number(v[0]), v[2]]))
      expect(stats.polls, `${job.name} ${job.startedAt}–${job.endedAt}: series ${series}; polls: ${polled}`).toBe(polls)
      const want = rates(jobs[i].owns)
      for (const f of ACTIVITY_FIELDS) {
        // Relative: a byte total of ~10^5 carries float rounding in its last digits.
        expect(Math.abs(stats.activity[f].total - want[f] * seconds), `${job.name} ${f}`).toBeLessThanOrEqual(
          1e-7 * want[f] * seconds + 1e-6,
        )
        expect(Math.abs(stats.activity[f].peak - want[f]), `${job.name} ${f} peak`).toBeLessThanOrEqual(1e-7 * want[f] + 1e-9)
      }
      // The same numbers computed from the series before the summary, and from the summary; a job
      // whose late attachment was still being backfilled said so instead.
      if (computed[i].incomplete) expect(jobs[i].late, `${job.name}: ${computed[i].incomplete}`).toBeDefined()
      else
        for (const f of ACTIVITY_FIELDS)
          expect(computed[i].activity[f].total, `${job.name} ${f} computed`).toBeCloseTo(stats.activity[f].total, 6)
      // The job series (Grafana's job dashboard) sums to the same: Σ rate × seconds.
      const [r] = await ql.query(
        `SELECT sum("x") FROM (SELECT ("iops_read" + "iops_write" + "metadata_iops_read") * "seconds" AS "x" ` +
          `FROM "qactivity_jobs"."qactivity_job_activity" WHERE "job_id" = '${job.id}')`,
      )
      const ops = want.iops_read + want.iops_write + want.metadata_iops_read
      expect(Number(r.series[0]?.values[0][1] ?? 0), `${job.name} series`).toBeCloseTo(ops * seconds, 3)
    }
    expect(stderr).not.toMatch(/level=error/)
  }, 120_000)

  it('after kill -9 mid-cycle and a restart, counts every poll it collected once and exactly, and only those', async () => {
    const mine = [
      { name: 'k-cidr', clients: ['10.0.2.0/30'], owns: ['W1', 'W2'] as W[] },
      { name: 'k-path', paths: ['/proj'], owns: ['W1', 'W2', 'W3'] as W[] },
    ]
    const ids: string[] = []
    for (const j of mine) ids.push((await call('POST', '/api/v1/jobs', { name: j.name, paths: j.paths, clients: j.clients })).body.id)
    await polledPast(Date.now() + 2 * I * 1000)
    // Qumulo answers each request after 400 ms; killed 200 ms after a tick, inside that poll's first request.
    sim.setFaults({ latencyMs: 400 })
    await new Promise((r) => setTimeout(r, 2 * I * 1000 - (Date.now() % (I * 1000)) + 200))
    const killed = new Promise((resolve) => serve.once('exit', resolve))
    const killedAt = Date.now()
    serve.kill('SIGKILL')
    await killed
    sim.setFaults({ latencyMs: 0 })
    await startServe()
    // The polls lost: the one killed and those while it was down (a restart on a loaded machine takes a while).
    const downSeconds = (Date.now() - killedAt) / 1000
    await polledPast(Date.now() + 2 * I * 1000)
    for (const id of ids) expect((await call('POST', `/api/v1/jobs/${id}/complete`, {})).status).toBe(200)
    const done = await summarised(ids)
    const ql = createInfluxQL({ url: influxd.url, bucket: DB, queryLanguage: 'influxql' })
    for (const [i, job] of done.entries()) {
      // The polls the series holds, and what they must add up to: rate × the part of each inside the window.
      const [r] = await ql.query(`SELECT "iops_read" FROM "qactivity_jobs"."qactivity_job_activity" WHERE "job_id" = '${job.id}'`)
      const times = [...new Set((r.series[0]?.values ?? []).map((v) => Number(v[0])))]
      const startS = Date.parse(job.startedAt) / 1000
      const endS = Date.parse(job.endedAt) / 1000
      const covered = times.reduce((sum, t) => sum + Math.max(0, Math.min(t, endS) - Math.max(t - I, startS)), 0)
      const stats = job.summary.stats
      expect(stats.polls, job.name).toBe(times.length)
      expect(covered, `${job.name}: the polls missed while it was down are the only ones missing`).toBeLessThan(endS - startS)
      expect(covered, `${job.name}: the others are there (down ${downSeconds} s)`).toBeGreaterThan(endS - startS - downSeconds - 2 * I)
      const want = rates(mine[i].owns)
      for (const f of ACTIVITY_FIELDS) {
        expect(
          Math.abs(stats.activity[f].total - want[f] * covered),
          `${job.name} ${f}: ${stats.activity[f].total} vs ${want[f]} × ${covered} s; polls ${JSON.stringify(times)}`,
        ).toBeLessThanOrEqual(1e-7 * want[f] * covered + 1e-6)
        expect(Math.abs(stats.activity[f].peak - want[f]), `${job.name} ${f} peak`).toBeLessThanOrEqual(1e-7 * want[f] + 1e-9)
      }
    }
  }, 120_000)

  it('a job created late with its real start (the Slurm sync after an outage) gets every poll since that start, backfilled', async () => {
    // Raw points for the polls before the job reaches the API: the collector has been polling.
    await polledPast(Date.now() + 6 * I * 1000)
    const startedAt = new Date(Date.now() - 5 * I * 1000)
    const created = await call('POST', '/api/v1/jobs', {
      id: '4711',
      name: 'backdated',
      clients: ['10.0.2.1'],
      startedAt: startedAt.toISOString(),
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ startedAt: startedAt.toISOString(), backfill: { until: expect.any(String) } })
    await polledPast(Date.now() + 2 * I * 1000)
    expect((await call('POST', '/api/v1/jobs/4711/complete', {})).status).toBe(200)
    const [job] = await summarised(['4711'])
    expect(job.backfill).toBeUndefined()
    const startS = startedAt.getTime() / 1000
    const endS = Date.parse(job.endedAt) / 1000
    let polls = 0
    for (let t = Math.floor(startS / I) * I; t < endS + I; t += I) if (t > startS) polls++
    expect(job.summary.stats.polls).toBe(polls)
    const want = rates(['W1'])
    for (const f of ACTIVITY_FIELDS)
      expect(Math.abs(job.summary.stats.activity[f].total - want[f] * (endS - startS)), f).toBeLessThanOrEqual(
        1e-7 * want[f] * (endS - startS) + 1e-6,
      )
  }, 120_000)
})
