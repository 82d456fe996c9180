import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../lib/config.ts'
import { silentLogger } from '../../lib/log.ts'
import { createDurableWriter, type DurableWriter } from '../../lib/influx/writer.ts'
import { createInfluxQL, type InfluxQL } from '../../lib/influx/influxql.ts'
import { ACTIVITY_FIELDS } from '../../lib/schema.ts'
import { createQumuloClient } from '../../qumulo/client.ts'
import { createCollector } from '../../collector/index.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { StatsService, type JobStats } from '../../stats/service.ts'
import { createInfluxQLSource } from '../../stats/influxql.ts'
import { startSummaries } from '../../stats/summary.ts'
import { jobEventLine } from '../../jobs/events.ts'
import type { Job, StoreData } from '../../jobs/types.ts'
import { buildDashboards } from '../../dashboards/index.ts'
import { panelsOf, substituteInfluxQL } from '../support/dashboards.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'
import { completedJob } from '../support/job.ts'
import { createClusterActivity } from '../../stats/share.ts'
import { jobScope } from '../../jobs/scope.ts'

// A simulated run: 11 polls of a small cluster, two completed runs of the job "render" and their
// summaries, written the way `serve` writes them. Then every InfluxQL panel of the three
// dashboards runs against the real influxd, Grafana's macros substituted.
const workloads = [
  { name: 'A', clients: ['10.1.0.1', '10.1.0.2'], path: '/proj/a/x', files: 2, ops: { 'file-iops-read': 60, 'file-throughput-write': 30 } },
  { name: 'B', clients: ['10.1.0.3'], path: '/proj/b/x', files: 1, ops: { 'file-iops-write': 120, 'metadata-iops-read': 30 } },
] as const
const I = 60
const t0 = Math.floor(Date.now() / 1000 / I) * I - 6 * 3600
const range = { fromMs: (t0 - I) * 1000, toMs: (t0 + 15 * I) * 1000, intervalSeconds: I }

let influxd: Influxd
let sim: RunningSimulator
let config: Config
let writer: DurableWriter
let ql: InfluxQL
const stats: Record<string, JobStats> = {}

function job(id: string, startS: number, endS: number, over: Partial<Job> = {}): Job {
  const startedAt = new Date(startS * 1000).toISOString()
  return completedJob({ id, name: 'render', cluster: 'sim', startedAt, endedAt: new Date(endS * 1000).toISOString(), ...over })
}
const jobs = [
  job('run-1', t0 + 30, t0 + 270, { clients: ['10.1.0.1'] }),
  job('run-2', t0 + 330, t0 + 570, { clients: ['10.1.0.1'], paths: ['/proj/b'] }),
]

beforeAll(async () => {
  ;[influxd, sim] = await Promise.all([startInfluxd(), startSimulator({ scenario: parseScenario({ workloads }) })])
  config = loadConfig(
    {
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'admin',
      QUMULO_CLUSTER: 'sim',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: 'dash_it',
      QACTIVITY_PATH_DEPTH: '3',
      QACTIVITY_WATCH_PATHS: '/proj,/proj/b',
      QACTIVITY_ROLLUP_PERIOD: '5m',
      QACTIVITY_DATA_DIR: tempDir(),
    },
    ['qumulo', 'influx'],
  )
  writer = await createDurableWriter({
    influx: config.influx,
    dir: join(config.storage.dataDir, 'spool'),
    maxBytes: 1e9,
    log: silentLogger,
  })
  // The collector attributes each poll to the jobs as it collects, as `serve` does.
  const scopes = jobs.map(jobScope)
  const collector = createCollector({
    config,
    qumulo: createQumuloClient(config.qumulo, silentLogger),
    writer,
    log: silentLogger,
    jobs: async () => scopes,
  })
  for (let k = 0; k <= 10; k++) await collector.runOnce(t0 + k * I)
  await writer.flush()

  const data: StoreData = { version: 1, jobs: Object.fromEntries(jobs.map((j) => [j.id, j])), outbox: [], nextSeq: 0 }
  const service = new StatsService({
    source: createInfluxQLSource(config.influx),
    cluster: createClusterActivity(config.influx, I),
    intervalSeconds: I,
    previousRuns: (name, before, id) =>
      Object.values(data.jobs)
        .filter((j) => j.name === name && j.id !== id && j.startedAt < before)
        .reverse(),
  })
  const summaries = startSummaries({
    store: { data, update: (fn) => Promise.resolve(fn(data)) },
    stats: service,
    writer,
    log: silentLogger,
    intervalSeconds: I,
  })
  await summaries.stop()
  for (const j of jobs) {
    await writer.write([
      jobEventLine({ ...j, status: 'running', endedAt: null }, 'start', Date.parse(j.startedAt)),
      jobEventLine(j, 'complete', Date.parse(j.endedAt!)),
    ])
    stats[j.id] = (await summaries.compute(j.id))!
  }
  await writer.flush()
  ql = createInfluxQL(config.influx)
}, 120_000)
afterAll(async () => {
  await writer?.close()
  await sim?.close()
  await influxd?.stop()
})

const VARS = { poll: String(I), rollup: '300', cluster: 'sim', client: '.*', path: '.*', job: 'run-2', jobs: ['run-1', 'run-2'] }
const dashboards = buildDashboards().filter((d) => d.flavour === 'influxql')

/** Runs a panel's query; the rows of its first statement as objects, tags merged in. */
async function run(
  query: string,
  vars: Record<string, string | string[]> = VARS,
  intervalSeconds = I,
): Promise<Array<Record<string, unknown>>> {
  const [r] = await ql.query(substituteInfluxQL(query, { ...range, intervalSeconds, vars }))
  return r.series.flatMap((s) => s.rows.map((row) => ({ ...s.tags, ...row })))
}
const panel = (file: string, title: string) => {
  const p = panelsOf(dashboards.find((d) => d.file === file)!.dashboard).find((x) => x.title === title)
  if (!p) throw new Error(`no panel "${title}" in ${file}`)
  return p.targets![0].query
}

describe('every InfluxQL panel and variable runs on the real influxd and returns data', () => {
  for (const d of dashboards) {
    it(d.file, async () => {
      for (const v of d.dashboard.templating?.list ?? []) {
        if (v.type !== 'query') continue
        expect((await run(String(v.query))).length, `variable ${v.name}`).toBeGreaterThan(0)
      }
      for (const p of panelsOf(d.dashboard)) {
        for (const t of p.targets ?? []) {
          const rows = await run(t.query).catch((err: unknown) => {
            throw new Error(`${p.title}: ${(err as Error).message}\n${t.query}`)
          })
          expect(rows.length, `${p.title} returned no rows:\n${t.query}`).toBeGreaterThan(0)
        }
      }
    })
  }
})

describe('the panels show the right numbers', () => {
  it("job: totals, by-client and by-path sums equal the job's stats; peak and mean are per-poll sums", async () => {
    const s = stats['run-2']
    const [ops] = await run(panel('influxql/job.json', 'Total operations'))
    const [bytes] = await run(panel('influxql/job.json', 'Total bytes'))
    for (const f of ACTIVITY_FIELDS) expect(Number({ ...ops, ...bytes }[f]), f).toBeCloseTo(s.activity[f].total, 6)
    for (const by of ['By client', 'By path']) {
      const rows = await run(panel('influxql/job.json', by))
      for (const f of ACTIVITY_FIELDS)
        expect(
          rows.reduce((a, r) => a + Number(r[f] ?? 0), 0),
          `${by} ${f}`,
        ).toBeCloseTo(s.activity[f].total, 6)
    }
    expect((await run(panel('influxql/job.json', 'By client'))).map((r) => r.client_ip).sort()).toEqual(['10.1.0.1', '10.1.0.3'])
    const [peak] = await run(panel('influxql/job.json', 'Peak IOPS'))
    expect(Number(peak.read)).toBeCloseTo(s.activity.iops_read.peak, 9)
    expect(Number(peak.write)).toBeCloseTo(s.activity.iops_write.peak, 9)
    const [change] = await run(panel('influxql/job.json', 'Change against the previous run'))
    expect(change.previous_job_id).toBe('run-1')
    expect(Number(change.iops_read_total_change_pct)).toBeCloseTo(
      ((s.activity.iops_read.total - stats['run-1'].activity.iops_read.total) / stats['run-1'].activity.iops_read.total) * 100,
      6,
    )
  })

  it('job: the means are total ÷ window, the numbers of the stats (README, What the numbers mean)', async () => {
    for (const [title, fields] of [
      ['Mean IOPS', ACTIVITY_FIELDS.slice(0, 4)],
      ['Mean throughput', ACTIVITY_FIELDS.slice(4)],
    ] as const) {
      const [row] = await run(panel('influxql/job.json', title))
      for (const f of fields) expect(Number(row[`${f}_mean`]), `${title} ${f}`).toBeCloseTo(stats['run-2'].activity[f].mean, 9)
    }
    expect(stats['run-2'].activity.iops_read.mean).toBeCloseTo(stats['run-2'].activity.iops_read.total / 240, 9) // a 240 s window
  })

  it('job picker: each job by its name with its ID, the value its ID', async () => {
    const v = dashboards.find((d) => d.file === 'influxql/job.json')!.dashboard.templating!.list!.find((x) => x.name === 'job')!
    const m = /^\/(.*)\/$/.exec(String(v.regex))!
    const options = (await run(String(v.query))).map((r) =>
      Object.values(r)
        .map(String)
        .find((x) => x.startsWith('qactivity_job,'))!,
    )
    const picked = options.map((o) => new RegExp(m[1]).exec(o)!.groups!)
    expect(picked.map((g) => g.value).sort()).toEqual(['run-1', 'run-2'])
    for (const g of picked) expect(g.text).toBe(`job_id=${g.value},job_name=render`)
  })

  it('cluster: rates are per-poll sums, top clients are rate × poll seconds over the range', async () => {
    // Grafana's interval of 5 polls: still the rate, not 5 × the rate.
    const rows = await run(panel('influxql/cluster.json', 'IOPS'), VARS, 5 * I)
    expect(rows.length).toBeGreaterThan(1)
    // A: 2 files × 60/60 ops/s per client, 2 clients; B: 1 × 120/60
    for (const r of rows) {
      expect(Number(r.read)).toBeCloseTo(2 * 2 * 1, 9)
      expect(Number(r.write)).toBeCloseTo(2, 9)
    }
    const top = await run(panel('influxql/cluster.json', 'Top clients'))
    const polls = 11
    expect(Number(top.find((r) => r.client_ip === '10.1.0.1')!.iops_read)).toBeCloseTo(2 * polls * I, 6)
    const one = await run(panel('influxql/cluster.json', 'Top clients'), { ...VARS, client: ['10.1.0.3'] })
    expect(one.map((r) => r.client_ip)).toEqual(['10.1.0.3'])
  })

  it('cluster: the rollup panels hold the exact sums of the whole periods written (QACTIVITY_ROLLUP_PERIOD 5m)', async () => {
    const H = 300
    const polls = Array.from({ length: 11 }, (_, k) => t0 + k * I)
    const periodOf = (t: number) => Math.ceil(t / H) * H - H
    // a period is written by the first poll after it; the panel's time filter picks periods by their start
    const written = polls.filter((t) => periodOf(t) < periodOf(polls[10]) && periodOf(t) * 1000 >= range.fromMs)
    expect(written.length).toBeGreaterThanOrEqual(5)
    const paths = await run(panel('influxql/cluster.json', 'Top paths over any range (rollups)'))
    const byPath = Object.fromEntries(paths.map((r) => [r.path, r]))
    // /proj (watched): A, 2 clients × 2 files × 60 reads a minute; /proj/b: B, 120 writes a minute
    expect(Number(byPath['/proj'].iops_read_total)).toBeCloseTo(2 * 2 * 60 * written.length, 6)
    expect(Number(byPath['/proj/b'].iops_write_total)).toBeCloseTo(120 * written.length, 6)
    const clients = await run(panel('influxql/cluster.json', 'Top clients over any range (rollups)'))
    expect(Number(clients.find((r) => r.client_ip === '10.1.0.1')!.iops_read_total)).toBeCloseTo(2 * 60 * written.length, 6)
    const rates = await run(panel('influxql/cluster.json', 'IOPS per rollup period'))
    // a whole period of 5 polls has the poll rate as its mean; a period the run began inside has less
    expect(Math.max(...rates.map((r) => Number(r.read)))).toBeCloseTo(4, 9)
    for (const r of rates) expect(Number(r.read)).toBeLessThanOrEqual(4 + 1e-9)
  })

  it("the second run is judged against the first: its median is the first run's summary", async () => {
    const r = stats['run-2'].regression!
    expect(r.runs).toBe(1)
    expect(r.runIds).toEqual(['run-1'])
    for (const f of ACTIVITY_FIELDS) {
      expect(r.median[f].total, f).toBe(stats['run-1'].activity[f].total)
      expect(r.median[f].mean, f).toBe(stats['run-1'].activity[f].mean)
    }
    expect(stats['run-1'].regression).toBeUndefined()
  })

  it("job: the share of the cluster is the summary's, as the stats computed it", async () => {
    const [row] = await run(panel('influxql/job.json', 'Share of the cluster'))
    const share = stats['run-2'].share!
    expect(share.iops_read.total).toBeGreaterThan(0)
    for (const f of ACTIVITY_FIELDS) {
      if (share[f].total === null) expect(row[`${f}_share_pct`], f).toBeNull()
      else expect(Number(row[`${f}_share_pct`]), f).toBeCloseTo(share[f].total!, 9)
      if (share[f].peak !== null) expect(Number(row[`${f}_peak_share_pct`]), f).toBeCloseTo(share[f].peak!, 9)
    }
  })

  it("usage: the jobs of a name and their totals are the sum of their summaries'", async () => {
    const [render] = await run(panel('influxql/usage.json', 'By job name'))
    expect(render.job_name).toBe('render')
    expect(Number(render.jobs)).toBe(2)
    for (const f of ACTIVITY_FIELDS)
      expect(Number(render[f]), f).toBeCloseTo(stats['run-1'].activity[f].total + stats['run-2'].activity[f].total, 6)
  })

  it('compare: one series per job on the seconds since its start, and the totals table', async () => {
    const rel = await run(panel('influxql/compare.json', 'IOPS since each job started'))
    const byJob = (id: string) => rel.filter((r) => r.job_id === id)
    for (const j of jobs) {
      const rs = byJob(j.id)
      expect(rs.length).toBeGreaterThan(2)
      const seconds = (Date.parse(j.endedAt!) - Date.parse(j.startedAt)) / 1000
      expect(Math.max(...rs.map((r) => Number(r.elapsed)))).toBeGreaterThanOrEqual(seconds)
      expect(Math.min(...rs.map((r) => Number(r.elapsed)))).toBeLessThanOrEqual(I)
    }
    const totals = await run(panel('influxql/compare.json', 'Totals and change against the previous run'))
    expect(totals.map((r) => r.job_id).sort()).toEqual(['run-1', 'run-2'])
    for (const r of totals) expect(Number(r.iops_write_total)).toBeCloseTo(stats[String(r.job_id)].activity.iops_write.total, 6)
  })
})
