import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../lib/config.ts'
import { silentLogger } from '../../lib/log.ts'
import { createDurableWriter, type DurableWriter } from '../../lib/influx/writer.ts'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import { activityLines } from '../../collector/activity.ts'
import { ACTIVITY_FIELDS, type ActivityField } from '../../lib/schema.ts'
import { formatOps } from '../../lib/units.ts'
import { createQumuloClient } from '../../qumulo/client.ts'
import { createCollector, type Collector } from '../../collector/index.ts'
import { jobActivityLine } from '../../lib/job-scope.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { StatsService } from '../../stats/service.ts'
import { createInfluxQLSource } from '../../stats/influxql.ts'
import { collectorWatermark } from '../../stats/delivered.ts'
import { startSummaries, type Summaries } from '../../stats/summary.ts'
import { openJobStore, type JobStore } from '../../jobs/store.ts'
import type { Job } from '../../jobs/types.ts'
import { startReports, type Reports } from '../../reports/service.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { startSmtp, type TestSmtp } from '../support/smtp.ts'
import { perMinuteTruth } from '../support/ground-truth.ts'
import { tempDir } from '../support/tmp.ts'
import { jobScope } from '../../jobs/scope.ts'

// Issue #10 part 3: jobs completed while InfluxDB is down. The collector's polls of the outage wait
// in the spool; the writer's backoff (10 min) outlasts the test, so the spool is delivered exactly
// when the test calls flush(), and the summaries' checks are driven by hand (timers stopped).
const workloads = [
  { name: 'a', clients: ['10.5.0.1', '10.5.0.2'], path: '/o/a', files: 2, ops: { 'file-iops-read': 60, 'file-throughput-write': 30 } },
  { name: 'b', clients: ['10.5.0.3'], path: '/o/b', files: 1, ops: { 'file-iops-write': 120, 'metadata-iops-read': 12 } },
  { name: 'c', clients: ['10.5.0.4'], path: '/o/c', files: 3, ops: { 'metadata-iops-write': 90, 'file-throughput-read': 6 } },
]
const I = 60
const t0 = Math.floor(Date.now() / 1000 / I) * I - 24 * 3600
/** polls 0‥7 delivered, 8‥16 spooled while influxd is down */
const OUTAGE = { from: 8, to: 16 }

let influxd: Influxd
let sim: RunningSimulator
let smtp: TestSmtp
let config: Config
let writer: DurableWriter
let collector: Collector
let store: JobStore
let stats: StatsService
let summaries: Summaries
let reports: Reports
const queued: Array<Promise<void>> = []

/** 12 jobs, one client each, started before the outage and ended during it (on no poll time). */
const jobs: Job[] = workloads
  .flatMap((w) => w.clients)
  .flatMap((client, c) =>
    [0, 1, 2].map((k) => {
      const i = c * 3 + k
      return {
        id: `out-${i}`,
        name: `outage ${i % 5}`,
        cluster: 'sim',
        status: 'succeeded' as const,
        startedAt: new Date((t0 + (1 + (i % 3)) * I + 17) * 1000).toISOString(),
        endedAt: new Date((t0 + (OUTAGE.from + 1 + (i % 6)) * I + 23) * 1000).toISOString(),
        paths: [],
        clients: [client],
        labels: {},
        comments: [],
        notify: ['artist@example.com'],
        annotation: { state: 'off' as const, comments: 0 },
        capacity: [],
        createdBy: 't',
        updatedAt: '',
      }
    }),
  )

/** What the job's summary must say, from the scenario numbers alone. */
function truth(job: Job): { totals: Record<ActivityField, number>; polls: number } {
  const w = workloads.find((x) => x.clients.includes(job.clients[0]))!
  const perMinute = perMinuteTruth([{ ...w, clients: [job.clients[0]] }], () => 'job').get('job')!
  const [start, end] = [Date.parse(job.startedAt) / 1000, Date.parse(job.endedAt!) / 1000]
  const totals = Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, (perMinute[f] / 60) * (end - start)])) as Record<ActivityField, number>
  let polls = 0
  for (let t = t0; t < end + I; t += I) if (t > start) polls++
  return { totals, polls }
}

const summaryOf = (id: string) => store.data.jobs[id].summary
const totalsOf = (id: string) => (summaryOf(id)!.stats as { activity: Record<ActivityField, { total: number }> }).activity

beforeAll(async () => {
  ;[influxd, sim, smtp] = await Promise.all([startInfluxd(), startSimulator({ scenario: parseScenario({ workloads }) }), startSmtp()])
  config = loadConfig(
    {
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'admin',
      QUMULO_CLUSTER: 'sim',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: 'outage_it',
      QACTIVITY_DATA_DIR: tempDir(),
      SMTP_URL: smtp.url,
      QACTIVITY_REPORT_FROM: 'qactivity@example.com',
      QACTIVITY_REPORT_TO: 'ops@example.com',
    },
    ['qumulo', 'influx'],
  )
  writer = await createDurableWriter({
    influx: config.influx,
    dir: join(config.storage.dataDir, 'spool'),
    maxBytes: 1e9,
    log: silentLogger,
    retryMinMs: 600_000,
    retryMaxMs: 600_000,
  })
  // The collector attributes each poll to the jobs as it collects, as `serve` does.
  const scopes = jobs.map(jobScope)
  collector = createCollector({
    config,
    qumulo: createQumuloClient(config.qumulo, silentLogger),
    writer,
    log: silentLogger,
    jobs: async () => scopes,
  })
  store = await openJobStore(join(config.storage.dataDir, 'jobs.json'), silentLogger)
  stats = new StatsService({ source: createInfluxQLSource(config.influx), intervalSeconds: I, previousRuns: () => [] })
  reports = await startReports({
    config: { ...config.report, smtpUrl: smtp.url },
    store,
    dataDir: config.storage.dataDir,
    log: silentLogger,
    retryMinMs: 100,
    retryMaxMs: 200,
    sources: { stats, previousRuns: () => [], flavour: 'influxql', thresholdPct: 20 },
  })
  summaries = startSummaries({
    store,
    stats,
    writer,
    log: silentLogger,
    intervalSeconds: I,
    delivered: collectorWatermark(config.influx),
    onDone: (id) => void queued.push(reports.completed(id)),
  })
  await summaries.stop()
}, 60_000)
afterAll(async () => {
  await reports?.close()
  await store?.close()
  await writer?.close()
  await Promise.all([sim?.close(), smtp?.close(), influxd?.stop()])
})

describe('summaries of jobs completed during an InfluxDB outage', () => {
  it('wait for the spooled points, equal the ground truth, and are mailed once with the final numbers', async () => {
    for (let k = 0; k <= OUTAGE.to; k++) {
      if (k === OUTAGE.from) {
        await writer.flush()
        await influxd.stop()
      }
      await collector.runOnce(t0 + k * I)
    }
    await store.update(
      (d) => {
        for (const j of jobs) d.jobs[j.id] = structuredClone(j)
      },
      jobs.map((j) => j.id),
    )

    // InfluxDB down: nothing can be known, nothing is computed.
    for (const j of jobs) expect(await summaries.check(j.id)).toBe('failed')
    expect(jobs.every((j) => summaryOf(j.id)?.state === 'pending')).toBe(true)

    // InfluxDB back, the spool not yet delivered: what is stored is short, and the summaries wait.
    await influxd.start()
    const short = await Promise.all(jobs.map((j) => stats.pointCount(j)))
    expect(short.every((n, i) => n < truth(jobs[i]).polls)).toBe(true)
    for (const j of jobs) expect(await summaries.check(j.id)).toBe('waiting')
    expect(jobs.some((j) => summaryOf(j.id)?.state === 'done')).toBe(false)
    await Promise.all(queued)
    expect(reports.health().queued).toBe(0)

    await writer.flush()
    for (const j of jobs) expect(await summaries.check(j.id)).toBe('computed')
    for (const j of jobs) {
      const { totals, polls } = truth(j)
      expect(summaryOf(j.id)).toMatchObject({ state: 'done', points: polls })
      expect((summaryOf(j.id)!.stats as { polls: number }).polls, j.id).toBe(polls)
      for (const f of ACTIVITY_FIELDS) expect(totalsOf(j.id)[f].total, `${j.id} ${f}`).toBeCloseTo(totals[f], 6)
    }

    // One completion mail per job, carrying the summary's numbers.
    await Promise.all(queued)
    // Twelve reports with charts and PDFs: slow on a loaded machine, so the bound is the test's own.
    // The server has the last mail a moment before the sender marks it sent: wait for both.
    await vi.waitFor(
      () => {
        expect(smtp.received).toHaveLength(jobs.length)
        expect(reports.health().queued).toBe(0)
      },
      { timeout: 100_000, interval: 50 },
    )
    const mailed = smtp.received.map((m) => String(m.mail.headers.get('x-qactivity-job')))
    expect(mailed.sort()).toEqual(jobs.map((j) => j.id).sort())
    for (const { mail } of smtp.received) {
      const id = String(mail.headers.get('x-qactivity-job'))
      const field = (['iops_read', 'iops_write', 'metadata_iops_write'] as const).find((f) => totalsOf(id)[f].total > 0)!
      expect(String(mail.html), id).toContain(formatOps(truth(jobs.find((j) => j.id === id)!).totals[field]))
    }
  })

  it('recompute a summary when a later count finds more points, overwriting its point, without a second mail', async () => {
    const j = jobs[0]
    expect(await summaries.check(j.id)).toBe('unchanged')
    const before = totalsOf(j.id).iops_read.total
    // A point the summary never saw: another path of the job's client at a poll inside its window.
    const t = Math.ceil(Date.parse(j.startedAt) / 1000 / I) * I + I
    // …written, as the collector writes every point, with its share for the job.
    const rates = ACTIVITY_FIELDS.map((f) => (f === 'iops_read' ? 2 : 0))
    const [late] = activityLines([{ clientIp: j.clients[0], path: '/late', rates: Float64Array.from(rates) }], 'sim', t)
    const share = jobActivityLine({ id: j.id, name: j.name, startMs: Date.parse(j.startedAt) }, 'sim', j.clients[0], '/late', rates, I, t)
    await writer.write([late, share])
    await writer.flush()
    expect(await summaries.check(j.id)).toBe('recomputed')
    expect(totalsOf(j.id).iops_read.total).toBeCloseTo(before + 2 * I, 6)
    expect(summaryOf(j.id)!.points).toBe(truth(j).polls + 1)
    await writer.flush()
    const [r] = await createInfluxQL(config.influx).query(
      `SELECT "iops_read_total" FROM "qactivity_jobs"."qactivity_job_summary" WHERE "job_id" = '${j.id}'`,
    )
    expect(r.series[0].values).toHaveLength(1)
    expect(r.series[0].values[0][1]).toBeCloseTo(before + 2 * I, 6)
    await Promise.all(queued)
    expect(reports.health().queued).toBe(0)
    expect(smtp.received).toHaveLength(jobs.length)
  })
})
