import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { loadConfig, type Config } from '../../lib/config.ts'
import { silentLogger } from '../../lib/log.ts'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import type { DurableWriter } from '../../lib/influx/writer.ts'
import { createQumuloClient, type QumuloClient } from '../../qumulo/client.ts'
import { createCollector } from '../../collector/index.ts'
import { jobsFromApi } from '../../collector/api-jobs.ts'
import { startApi, type RunningApi } from '../../api/server.ts'
import { openWriter } from '../../cli/compose.ts'
import type { Job } from '../../jobs/types.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { startFakeGrafana, type FakeGrafana } from '../support/fake-grafana.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'
import { until } from '../support/wait.ts'

const GROWTH = 1_048_576 // bytes per second under /render/shots
/** The simulator's clock, moved by hand: what it serves depends on no timing of this machine. */
let simNow = Date.now()
const scenario = parseScenario({
  workloads: [{ clients: ['10.0.1.1'], path: '/render/shots/s01', files: 2, ops: { 'file-iops-read': 60 } }],
  capacity: [
    {
      path: '/render/shots',
      usedBytes: '1000000000000',
      files: 5000,
      directories: 50,
      growth: { bytesPerSecond: GROWTH, filesPerSecond: 10, directoriesPerSecond: 0 },
    },
  ],
})

let influxd: Influxd
let sim: RunningSimulator
let grafana: FakeGrafana
let config: Config
let writer: DurableWriter
let qumulo: QumuloClient
let api: RunningApi

beforeAll(async () => {
  ;[influxd, sim, grafana] = await Promise.all([startInfluxd(), startSimulator({ scenario, clock: () => simNow }), startFakeGrafana()])
  config = loadConfig(
    {
      QACTIVITY_AUTH: 'off',
      QACTIVITY_HOST: '127.0.0.1',
      QACTIVITY_PORT: '0',
      QACTIVITY_DATA_DIR: tempDir(),
      QACTIVITY_PATH_DEPTH: '1',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: 'api_it',
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'admin',
      QUMULO_CLUSTER: 'sim',
      GRAFANA_URL: grafana.url,
      GRAFANA_TOKEN: grafana.token,
    },
    ['api', 'influx', 'qumulo'],
  )
  writer = await openWriter(config, silentLogger, 'spool')
  qumulo = createQumuloClient(config.qumulo, silentLogger)
  api = await startApi({ config, log: silentLogger, writer, qumulo: new Map([['sim', qumulo]]) })
})
afterAll(async () => {
  await api?.close()
  await writer?.close()
  await Promise.all([sim?.close(), grafana?.close(), influxd?.stop()])
})

async function call<T = Job>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(api.url + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  })
  return { status: res.status, body: (await res.json()) as T }
}

describe('the job API on a real InfluxDB, a simulated cluster and a fake Grafana', () => {
  it('runs the seed story: start with a path, comment, complete; exact capacity growth, job events, annotations', async () => {
    const created = await call('POST', '/api/v1/jobs', {
      name: 'render',
      paths: ['/render/shots'],
      clients: ['10.0.1.0/24'],
      labels: { shot: '042' },
    })
    expect(created.status).toBe(201)
    const id = created.body.id
    const job = () => api.store.data.jobs[id]
    const start = await until(() => job().capacity[0]?.start, 'the start capacity reading')
    const servedAtStart = await qumulo.aggregates('/render/shots')
    await call('POST', `/api/v1/jobs/${id}/comments`, { text: 'enabled Maya 64-bit shaders' })
    await new Promise((r) => setTimeout(r, 1200))
    simNow += 7000
    expect((await call('POST', `/api/v1/jobs/${id}/complete`, {})).status).toBe(200)
    const end = await until(() => job().capacity[0]?.end, 'the end capacity reading')
    const servedAtEnd = await qumulo.aggregates('/render/shots')

    // Growth is measured, not interpolated: both readings are what Qumulo served at those moments.
    expect([start.usedBytes, start.files]).toEqual([String(servedAtStart.totalCapacity), String(servedAtStart.totalFiles)])
    expect([end.usedBytes, end.files]).toEqual([String(servedAtEnd.totalCapacity), String(servedAtEnd.totalFiles)])
    expect(Number(BigInt(end.usedBytes) - BigInt(start.usedBytes))).toBeGreaterThanOrEqual(GROWTH * 7)
    expect(Number(end.files) - Number(start.files)).toBeGreaterThanOrEqual(70)

    // The capacity point is handed to the writer just after the reading is stored on the job.
    const q = createInfluxQL(config.influx)
    await vi.waitFor(async () => {
      await writer.flush()
      const [cap] = await q.query(`SELECT "used_bytes" FROM "qumulo_capacity" WHERE "path" = '/render/shots'`)
      expect(cap.series[0].values.map((v) => String(v[1]))).toEqual([start.usedBytes, end.usedBytes])
    })
    const [events] = await q.query(
      `SELECT "event", "status", "started_at", "ended_at", "paths", "clients" ` +
        `FROM "qactivity_jobs"."qactivity_job" WHERE "job_id" = '${id}'`,
    )
    const rows = events.series[0].values
    expect(rows.map((r) => r[1])).toEqual(['start', 'comment', 'complete'])
    expect(rows[2].slice(2)).toEqual([
      'succeeded',
      Date.parse(job().startedAt),
      Date.parse(job().endedAt!),
      '["/render/shots"]',
      '["10.0.1.0/24"]',
    ])

    await api.outbox.drain(10_000)
    const region = grafana.withTags('qactivity', `job:${id}`, 'name:render')
    expect(region).toHaveLength(1)
    expect(region[0]).toMatchObject({ time: Date.parse(job().startedAt), timeEnd: Date.parse(job().endedAt!) })
    const comments = grafana.withTags('qactivity', 'comment', `job:${id}`)
    expect(comments.map((a) => [a.time, a.text])).toEqual([[Date.parse(job().comments[0].at), 'anonymous: enabled Maya 64-bit shaders']])
    expect(grafana.violations).toEqual([])
    expect(job().annotation).toMatchObject({ state: 'synced', comments: 1 })

    // §6 over HTTP: the stats route and a comparison with a second run of the same name.
    const st = await call<Record<string, any>>('GET', `/api/v1/jobs/${id}/stats`)
    expect(st.status).toBe(200)
    expect(Object.keys(st.body)).toEqual(
      expect.arrayContaining(['job', 'name', 'status', 'window', 'activity', 'capacity', 'topClients', 'topPaths']),
    )
    expect(st.body.capacity[0].usedBytes.delta).toBe(Number(BigInt(end.usedBytes) - BigInt(start.usedBytes)))
    const second = (await call('POST', '/api/v1/jobs', { name: 'render', clients: ['10.0.1.1'] })).body.id
    await call('POST', `/api/v1/jobs/${second}/complete`, {})
    const cmp = await call<Record<string, any>>('GET', `/api/v1/compare?jobs=${id},${second}`)
    expect(cmp.status).toBe(200)
    expect(cmp.body.jobs.map((j: { job: string }) => j.job)).toEqual([id, second])
    expect(cmp.body.deltas[0].job).toBe(second)
    expect((await call<Record<string, any>>('GET', `/api/v1/jobs/${second}/stats`)).body.previousRuns[0].id).toBe(id)
    expect((await call('GET', `/api/v1/compare?jobs=${id}`)).status).toBe(400)
  })

  it('never delays or fails a job call while Grafana is down, and delivers everything once it is back', async () => {
    await grafana.down()
    try {
      const created = await call('POST', '/api/v1/jobs', { name: 'outage' })
      const id = created.body.id
      const comment = await call('POST', `/api/v1/jobs/${id}/comments`, { text: 'during the outage' })
      const done = await call('POST', `/api/v1/jobs/${id}/complete`, { status: 'failed' })
      // Not delaying them is proven against a Grafana that hangs (test/unit/api/outbox.test.ts): a
      // refused connection is instant, so a time bound here would only measure the machine's load.
      for (const r of [created, comment, done]) expect(r.status).toBeLessThan(300)
      await until(() => (api.store.data.jobs[id].annotation.state === 'failing' ? true : undefined), 'a failed delivery attempt')
      expect(api.store.data.jobs[id].annotation.lastError).toBeTruthy()
    } finally {
      await grafana.up()
    }
    api.outbox.kick()
    await api.outbox.drain(30_000)
    const outage = Object.values(api.store.data.jobs).find((j) => j.name === 'outage')!
    expect(grafana.withTags(`job:${outage.id}`, 'name:outage')).toHaveLength(1)
    expect(grafana.withTags(`job:${outage.id}`, 'comment')).toHaveLength(1)
    expect(outage.annotation.state).toBe('synced')
  })

  it('feeds the cluster’s jobs’ paths to the collector, in process and from the API, until one interval after the end', async () => {
    const t = Math.floor(Date.now() / 60_000) * 60 - 600
    const { body: job } = await call('POST', '/api/v1/jobs', { name: 'deep', paths: ['/render/shots/s01'] })
    expect(job.cluster).toBe('sim')
    const inProcess = createCollector({
      config,
      qumulo,
      writer,
      log: silentLogger,
      jobs: async (tick) => api.service.jobScopes('sim', tick),
    })
    // A lone collector of cluster "sim" (tagged "lone" here to tell its points apart), and one of another cluster.
    const lone = createCollector({
      config: { ...config, qumulo: { ...config.qumulo, cluster: 'lone' } },
      qumulo,
      writer,
      log: silentLogger,
      jobs: jobsFromApi(api.url, undefined, 'sim'),
    })
    const other = createCollector({
      config: { ...config, qumulo: { ...config.qumulo, cluster: 'other' } },
      qumulo,
      writer,
      log: silentLogger,
      jobs: jobsFromApi(api.url, undefined, 'other'),
    })
    await Promise.all([inProcess.runOnce(t), lone.runOnce(t), other.runOnce(t)])
    const { body: done } = await call('POST', `/api/v1/jobs/${job.id}/complete`, {})
    // The first poll after the end still overlaps the job's window; the one after does not.
    const grace = Math.ceil(Date.parse(done.endedAt!) / 60_000) * 60
    expect(api.service.watchedPaths('sim', grace - 60)).toContain('/render/shots/s01')
    expect(api.service.watchedPaths('other', grace - 60)).not.toContain('/render/shots/s01')
    await Promise.all([inProcess.runOnce(grace), lone.runOnce(grace)])
    await Promise.all([inProcess.runOnce(grace + 60), lone.runOnce(grace + 60)])
    await writer.flush()
    const [r] = await createInfluxQL(config.influx).query(
      `SELECT "iops_read", "cluster" FROM "qactivity_raw"."qumulo_activity" WHERE "client_ip" = '10.0.1.1' ` +
        `AND time >= ${t}s AND time <= ${grace + 60}s GROUP BY "path"`,
    )
    const byPath = Object.fromEntries(r.series.map((s) => [s.tags.path, s.values.map((v) => [v[0], v[2]])]))
    // While the job runs its path is watched (deeper than QACTIVITY_PATH_DEPTH=1), and one poll after; then depth rules.
    const sorted = (rows: unknown[][]) => rows.sort((x, y) => String(x).localeCompare(String(y)))
    expect(sorted(byPath['/render/shots/s01'])).toEqual(
      sorted([
        [t, 'sim'],
        [t, 'lone'],
        [grace, 'sim'],
        [grace, 'lone'],
      ]),
    )
    expect(sorted(byPath['/render'])).toEqual(
      sorted([
        [t, 'other'],
        [grace + 60, 'sim'],
        [grace + 60, 'lone'],
      ]),
    )
  })
})
