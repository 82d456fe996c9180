import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../lib/config.ts'
import { silentLogger } from '../../lib/log.ts'
import { createDurableWriter, type DurableWriter } from '../../lib/influx/writer.ts'
import { ACTIVITY_FIELDS, type ActivityField, type ActivityType } from '../../lib/schema.ts'
import { createQumuloClient } from '../../qumulo/client.ts'
import { createCollector, type Collector } from '../../collector/index.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { StatsService } from '../../stats/service.ts'
import { createInfluxQLSource } from '../../stats/influxql.ts'
import type { ActivitySource } from '../../stats/model.ts'
import { backfillJob } from '../../stats/backfill.ts'
import { jobActivityLine } from '../../lib/job-scope.ts'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import { activityLines } from '../../collector/activity.ts'
import type { Job } from '../../jobs/types.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'
import { completedJob } from '../support/job.ts'
import { createClusterActivity } from '../../stats/share.ts'

const ODD = `/adv/q'uo"te\\s (x)+[y]{2}.*$^|?ü`
const workloads = [
  { name: 'A', clients: ['10.1.0.1', '10.1.0.2'], path: '/proj/a/x', files: 2, ops: { 'file-iops-read': 60, 'file-throughput-write': 30 } },
  { name: 'B', clients: ['10.1.0.3'], path: '/proj/b/x', files: 1, ops: { 'file-iops-write': 120 } },
  { name: 'C', clients: ['10.2.0.5'], path: '/proj/a/sub', files: 1, ops: { 'metadata-iops-read': 30 } },
  { name: 'D', clients: ['10.1.0.1'], path: '/other/d/x', files: 1, ops: { 'file-iops-read': 6 } },
  { name: 'AB', clients: ['10.4.0.1'], path: '/adv/a/b', files: 1, ops: { 'file-iops-read': 600 } },
  { name: 'ABC', clients: ['10.4.0.2'], path: '/adv/a/bc', files: 1, ops: { 'file-iops-read': 6000 } },
  { name: 'ODD', clients: ['10.4.0.3'], path: ODD, files: 1, ops: { 'metadata-iops-write': 90 } },
] as const
type W = (typeof workloads)[number]

const I = 60
const t0 = Math.floor(Date.now() / 1000 / I) * I - 24 * 3600
let influxd: Influxd
let sim: RunningSimulator
let config: Config
let writer: DurableWriter
let collector: Collector
let stats: StatsService

beforeAll(async () => {
  ;[influxd, sim] = await Promise.all([startInfluxd(), startSimulator({ scenario: parseScenario({ workloads }) })])
  config = loadConfig(
    {
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'admin',
      QUMULO_CLUSTER: 'sim',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: 'stats_it',
      QACTIVITY_PATH_DEPTH: '3',
      QACTIVITY_DATA_DIR: tempDir(),
    },
    ['qumulo', 'influx'],
  )
  writer = await createDurableWriter({
    influx: config.influx,
    dir: join(config.storage.dataDir, 'spool'),
    maxBytes: 1e9,
    log: silentLogger,
    retryMinMs: 50,
    retryMaxMs: 200,
  })
  collector = createCollector({ config, qumulo: createQumuloClient(config.qumulo, silentLogger), writer, log: silentLogger })
  // Polls at t0, t0+60, … t0+600; influxd is down for the polls at t0+240 … t0+360 (spooled, replayed).
  for (let k = 0; k <= 10; k++) {
    if (k === 4) await influxd.stop()
    await collector.runOnce(t0 + k * I)
    if (k === 6) await influxd.start()
  }
  await writer.flush()
  stats = new StatsService({ source: createInfluxQLSource(config.influx), intervalSeconds: I, previousRuns: () => [] })
}, 120_000)
afterAll(async () => {
  await writer?.close()
  await sim?.close()
  await influxd?.stop()
})

let jobs = 0
/** A job; each gets its own id unless one is given (its series is selected by id). */
function job(over: Partial<Job> & { startS: number; endS: number }): Job {
  const { startS, endS, ...rest } = over
  return completedJob({
    id: `j${++jobs}`,
    startedAt: new Date(startS * 1000).toISOString(),
    endedAt: new Date(endS * 1000).toISOString(),
    ...rest,
  })
}

/**
 * The job's attributed series for its polls up to `untilS` (default: its end), written from the raw
 * points by the real backfill: the collector above polled without knowing the jobs, which is what a
 * job whose clients or paths were attached late looks like.
 */
async function attribute(j: Job, untilS = j.endedAt ? Date.parse(j.endedAt) / 1000 : t0 + 600): Promise<Job> {
  const source = createInfluxQLSource(config.influx)
  const clientValues = (x: Pick<Job, 'clients' | 'cluster'>) =>
    new StatsService({ source, intervalSeconds: I, previousRuns: () => [] }).clientValues(x)
  await backfillJob(j, untilS * 1000, { source, writer, intervalSeconds: I, clusters: ['sim'], clientValues })
  await writer.flush()
  return j
}
const statsOf = async (j: Job) => stats.stats(await attribute(j))

/** Ground truth from the scenario numbers alone: Σ files × k/60 (× 4096 for throughput) × seconds. */
function truth(selected: W[], perClient: (w: W) => readonly string[], seconds: number): Record<ActivityField, number> {
  const out = Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, 0])) as Record<ActivityField, number>
  const field = (t: ActivityType) =>
    ACTIVITY_FIELDS[
      [
        'file-iops-read',
        'file-iops-write',
        'metadata-iops-read',
        'metadata-iops-write',
        'file-throughput-read',
        'file-throughput-write',
      ].indexOf(t)
    ]
  for (const w of selected) {
    for (const _c of perClient(w)) {
      for (const [t, k] of Object.entries(w.ops) as Array<[ActivityType, number]>)
        out[field(t)] += ((w.files * k * (t.includes('throughput') ? 4096 : 1)) / 60) * seconds
    }
  }
  return out
}
const W_ = (...names: string[]) => workloads.filter((w) => names.includes(w.name))

function expectTotals(actual: Record<ActivityField, { total: number }>, expected: Record<ActivityField, number>) {
  for (const f of ACTIVITY_FIELDS) expect(actual[f].total, f).toBeCloseTo(expected[f], 6)
}

const S = t0 + 30
const E = t0 + 570 // 9 minutes; the outage (polls t0+240…t0+360) lies inside

describe('per-job aggregates against the scenario ground truth (real influxd, InfluxQL)', () => {
  it('by client only: every path the client touched, nothing of other clients', async () => {
    const s = await statsOf(job({ startS: S, endS: E, clients: ['10.1.0.1'] }))
    expectTotals(
      s.activity,
      truth([...W_('A', 'D')], () => ['10.1.0.1'], E - S),
    )
    expect(s.activity.iops_read.mean).toBeCloseTo((2 + 0.1) * 1, 9)
    expect(s.activity.iops_read.peak).toBeCloseTo(2.1, 9)
    expect(s.topClients.map((c) => c.client)).toEqual(['10.1.0.1'])
  })

  it("share of the cluster: the job's totals and per-poll sums over the whole cluster's, from its own series", async () => {
    const withShare = new StatsService({
      source: createInfluxQLSource(config.influx),
      intervalSeconds: I,
      previousRuns: () => [],
      cluster: createClusterActivity(config.influx, I),
    })
    const s = await withShare.stats(await attribute(job({ startS: S, endS: E, clients: ['10.1.0.1'] })))
    const mine = truth([...W_('A', 'D')], () => ['10.1.0.1'], E - S)
    const all = truth([...workloads], (w) => w.clients, E - S)
    for (const f of ACTIVITY_FIELDS) {
      // rates are constant, so the peak share is the total share; no workload reads bytes: no share to tell
      const want = all[f] > 0 ? (mine[f] / all[f]) * 100 : null
      if (want === null) expect(s.share![f], f).toEqual({ total: null, peak: null })
      else {
        expect(s.share![f].total, f).toBeCloseTo(want, 9)
        expect(s.share![f].peak, f).toBeCloseTo(want, 9)
      }
    }
    // e.g. file reads: 10.1.0.1 does 2 × 60 + 6 of the cluster's 2 × 2 × 60 + 600 + 6000 + 6 per minute
    expect(s.share!.iops_read.total).toBeCloseTo((126 / 6846) * 100, 9)
    expect(s.share!.used_bytes).toEqual({ total: null }) // no paths: no growth of its own
  })

  it('I/O profile and automatic tags on crafted workloads (default thresholds)', async () => {
    const service = new StatsService({
      source: createInfluxQLSource(config.influx),
      intervalSeconds: I,
      previousRuns: () => [],
      cluster: createClusterActivity(config.influx, I),
    })
    const of = async (clients: string[]) => service.stats(await attribute(job({ startS: S, endS: E, clients })))
    // ABC: 6,000 reads a minute of the cluster's 6,846, no bytes: small I/O, and most of the cluster at every poll
    expect((await of(['10.4.0.2'])).tags).toEqual(['small-io', 'cluster-hog'])
    // C and ODD: 270 + 810 metadata operations, no data operations — and all of the cluster's metadata activity
    expect((await of(['10.2.0.5', '10.4.0.3'])).tags).toEqual(['metadata-heavy', 'cluster-hog'])
    // A's second client: 1,080 reads of no bytes, 2 × 30 blocks of 4 KiB written a minute by no write operations
    const a = await of(['10.1.0.2'])
    // …and half of all the bytes the cluster wrote at every poll (10.1.0.1 writes the other half): 50 % is a hog
    expect(a.tags).toEqual(['small-io', 'write-heavy', 'cluster-hog'])
    expect(a.share!.throughput_write.peak).toBeCloseTo(50, 9)
    expect(a.profile).toEqual({ meanIoSize: { read: 0, write: null }, metadataPerDataOp: 0, readPct: { ops: 100, bytes: 0 } })
    // ODD alone: 810 metadata operations, too few to judge its mix (it is still all of the cluster's)
    expect((await of(['10.4.0.3'])).tags).toEqual(['cluster-hog'])
  })

  it('by path only, including paths under it but never a sibling prefix', async () => {
    const s = await statsOf(job({ startS: S, endS: E, paths: ['/proj/a'] }))
    expectTotals(
      s.activity,
      truth(W_('A', 'C'), (w) => w.clients, E - S),
    )
    const ab = await statsOf(job({ startS: S, endS: E, paths: ['/adv/a/b'] }))
    expectTotals(
      ab.activity,
      truth(W_('AB'), (w) => w.clients, E - S),
    )
  })

  it('by client and path with overlap: each point counted once', async () => {
    const s = await statsOf(job({ startS: S, endS: E, clients: ['10.1.0.1'], paths: ['/proj/a'] }))
    expectTotals(
      s.activity,
      truth(W_('A', 'C', 'D'), (w) => w.clients, E - S),
    )
    expect(s.topPaths.map((p) => p.path).sort()).toEqual(['/other/d/x', '/proj/a/sub', '/proj/a/x'])
  })

  it('CIDR clients and nested job paths', async () => {
    const cidr = await statsOf(job({ startS: S, endS: E, clients: ['10.1.0.0/30'] }))
    expectTotals(
      cidr.activity,
      truth(W_('A', 'B', 'D'), (w) => w.clients, E - S),
    )
    const nested = await statsOf(job({ startS: S, endS: E, paths: ['/proj/a', '/proj/a/sub'] }))
    expectTotals(
      nested.activity,
      truth(W_('A', 'C'), (w) => w.clients, E - S),
    )
  })

  it('two concurrent jobs sharing a client each see all of that client', async () => {
    const [x, y] = await Promise.all([
      statsOf(job({ id: 'x', startS: S, endS: E, clients: ['10.1.0.1'] })),
      statsOf(job({ id: 'y', startS: S + 60, endS: E, clients: ['10.1.0.1'], paths: ['/proj/b'] })),
    ])
    expectTotals(
      x.activity,
      truth(W_('A', 'D'), () => ['10.1.0.1'], E - S),
    )
    const yTruth = truth(W_('A', 'D'), () => ['10.1.0.1'], E - S - 60)
    const b = truth(W_('B'), (w) => w.clients, E - S - 60)
    expectTotals(y.activity, Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, yTruth[f] + b[f]])) as Record<ActivityField, number>)
  })

  it('a job shorter than one poll interval gets its share of the overlapping point', async () => {
    const s = await statsOf(job({ startS: t0 + 70, endS: t0 + 100, clients: ['10.1.0.3'] }))
    expectTotals(
      s.activity,
      truth(W_('B'), (w) => w.clients, 30),
    )
    expect(s.polls).toBe(1)
  })

  it('adversarial paths: quotes, backslashes, regex metacharacters and Unicode give exact numbers', async () => {
    const s = await statsOf(job({ startS: S, endS: E, paths: [ODD] }))
    expectTotals(
      s.activity,
      truth(W_('ODD'), (w) => w.clients, E - S),
    )
    expect(s.topPaths.map((p) => p.path)).toEqual([ODD])
  })

  it('compares runs: absolute and % deltas against the first, pct null when the first is 0', async () => {
    const a = job({ id: 'a', startS: S, endS: E, clients: ['10.1.0.3'] })
    const b = job({ id: 'b', startS: S, endS: E, clients: ['10.1.0.3', '10.1.0.1'] })
    const c = await stats.compare([await attribute(a), await attribute(b)])
    expect(c.jobs.map((j) => j.job)).toEqual(['a', 'b'])
    const d = c.deltas[0].activity
    expect(d.iops_write.total.abs).toBeCloseTo(0, 6)
    expect(d.iops_write.total.pct).toBeCloseTo(0, 6)
    expect(d.iops_read.total.pct).toBeNull()
    expect(d.iops_read.total.abs).toBeCloseTo(2.1 * (E - S), 6)
  })
})

describe('live stats of a running job (kept incrementally, stats/live.ts)', () => {
  it('read only the polls since the previous call, equal a full read, and count a point delivered late', async () => {
    const influx = createInfluxQLSource(config.influx)
    let rowsRead = 0
    const source: ActivitySource = {
      ...influx,
      rows: async (q) => {
        const r = await influx.rows(q)
        rowsRead += r.length
        return r
      },
    }
    let nowS = t0 + 305
    const live = new StatsService({ source, intervalSeconds: I, previousRuns: () => [], now: () => nowS * 1000 })
    const fresh = () => new StatsService({ source: influx, intervalSeconds: I, previousRuns: () => [], now: () => nowS * 1000 })
    const running = job({ id: 'live-1', status: 'running', startS: S, endS: 0, endedAt: null, clients: ['10.1.0.1'], paths: ['/proj/b'] })
    const want = (seconds: number) => {
      const [a, b] = [truth(W_('A', 'D'), () => ['10.1.0.1'], seconds), truth(W_('B'), (w) => w.clients, seconds)]
      return Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, a[f] + b[f]])) as Record<ActivityField, number>
    }

    await attribute(running)
    const first = await live.stats(running)
    expectTotals(first.activity, want(nowS - S))
    const full = rowsRead
    expect(full).toBeGreaterThan(0)

    nowS = t0 + 425
    rowsRead = 0
    const second = await live.stats(running)
    expectTotals(second.activity, want(nowS - S))
    expect(rowsRead).toBeLessThan(full) // only the polls after the settled time
    expect(second).toEqual(await fresh().stats(running))

    // A point of the job's client stamped inside the settled range arrives now (spool replay), with its attribution.
    const lateRates = ACTIVITY_FIELDS.map((f) => (f === 'iops_read' ? 1000 : 0))
    await writer.write([
      ...activityLines([{ clientIp: '10.1.0.1', path: '/late/p', rates: Float64Array.from(lateRates) }], 'sim', t0 + 120),
      jobActivityLine({ id: running.id, name: running.name, startMs: S * 1000 }, 'sim', '10.1.0.1', '/late/p', lateRates, I, t0 + 120),
    ])
    await writer.flush()
    nowS = t0 + 545
    const third = await live.stats(running)
    const w = want(nowS - S)
    expectTotals(third.activity, { ...w, iops_read: w.iops_read + 1000 * I })
    expect(third).toEqual(await fresh().stats(running))
    expect(third.topPaths.map((p) => p.path)).toContain('/late/p')

    // Another attached client is backfilled; the live aggregates see the late points and start over.
    await attribute({ ...running, clients: ['10.1.0.1', '10.2.0.5'] })
    rowsRead = 0
    const more = await live.stats({ ...running, clients: ['10.1.0.1', '10.2.0.5'] })
    expect(more).toEqual(await fresh().stats({ ...running, clients: ['10.1.0.1', '10.2.0.5'] }))
    expect(more.activity.metadata_iops_read.total).toBeCloseTo(truth(W_('C'), (w) => w.clients, nowS - S).metadata_iops_read, 6)
  })
})

describe("qactivity_job_activity: the job's series, selected by its id (Grafana, stats)", () => {
  it("Σ rate × seconds of the series equals the job's totals; a later attachment is backfilled without counting twice", async () => {
    const ql = createInfluxQL(config.influx)
    const running = job({ id: 'copy-1', name: 'copy "n"', status: 'running', startS: S, endS: 0, endedAt: null, clients: ['10.1.0.3'] })
    const inSeries = async (field: string) => {
      const [r] = await ql.query(
        `SELECT sum("x") FROM (SELECT "${field}" * "seconds" AS "x" ` +
          `FROM "qactivity_jobs"."qactivity_job_activity" WHERE "job_id" = 'copy-1')`,
      )
      return Number(r.series[0]?.values[0][1] ?? 0)
    }
    const done = { ...running, status: 'succeeded' as const, endedAt: new Date(E * 1000).toISOString() }
    await attribute(running, t0 + 300)
    // Attaching a path later: the backfill writes the earlier polls again (same values) and the path's points.
    const wider = { ...done, paths: ['/proj/a'] }
    await attribute(wider, E)
    const final = await stats.stats(wider)
    for (const f of ACTIVITY_FIELDS) expect(await inSeries(f), f).toBeCloseTo(final.activity[f].total, 6)
    expectTotals(
      final.activity,
      Object.fromEntries(
        ACTIVITY_FIELDS.map((f) => [f, truth(W_('B'), (w) => w.clients, E - S)[f] + truth(W_('A', 'C'), (w) => w.clients, E - S)[f]]),
      ) as Record<ActivityField, number>,
    )
    const [el] = await ql.query(`SELECT max("elapsed_seconds") FROM "qactivity_jobs"."qactivity_job_activity" WHERE "job_id" = 'copy-1'`)
    expect(el.series[0].values[0][1]).toBeGreaterThan(E - S - I)
    const [tags] = await ql.query(
      `SHOW TAG VALUES FROM "qactivity_jobs"."qactivity_job_activity" WITH KEY = "job_name" WHERE "job_id" = 'copy-1'`,
    )
    expect(tags.series[0].values.map((v) => v[1])).toEqual(['copy "n"'])
  })
})

describe('backfill of a part of a job (a poll that used an earlier job list)', () => {
  it('writes only the polls from the poll overlapping `from` on', async () => {
    const j = job({ id: 'from-1', startS: S, endS: E, clients: ['10.1.0.3'] })
    const source = createInfluxQLSource(config.influx)
    const clientValues = (x: Pick<Job, 'clients' | 'cluster'>) =>
      new StatsService({ source, intervalSeconds: I, previousRuns: () => [] }).clientValues(x)
    await backfillJob(j, E * 1000, { source, writer, intervalSeconds: I, clusters: ['sim'], clientValues }, (t0 + 300) * 1000)
    await writer.flush()
    const [r] = await createInfluxQL(config.influx).query(
      `SELECT "iops_write" FROM "qactivity_jobs"."qactivity_job_activity" WHERE "job_id" = 'from-1'`,
    )
    const times = r.series[0].values.map((v) => Number(v[0]))
    expect(Math.min(...times)).toBe(t0 + 300)
    expect(Math.max(...times)).toBe(t0 + 600) // the last poll overlapping the window (end + I)
  })
})

describe('summaries', () => {
  const summariesOnce =
    'are computed once after completion, stored and written; completed stats then need no query; InfluxDB down → pending, retried'
  it(summariesOnce, async () => {
    const { openJobStore } = await import('../../jobs/store.ts')
    const { startSummaries } = await import('../../stats/summary.ts')
    const { createInfluxQL } = await import('../../lib/influx/influxql.ts')
    const store = await openJobStore(join(tempDir(), 'jobs.json'), silentLogger)
    const done = await attribute(job({ id: 'sum-1', name: 'render "q"\nnewline', startS: S, endS: E, clients: ['10.1.0.3'] }))
    let computed!: () => void
    const retried = new Promise<void>((resolve) => (computed = resolve))
    const summaries = startSummaries({
      store,
      stats,
      writer,
      log: silentLogger,
      intervalSeconds: I,
      graceMs: 0,
      retryMs: 100,
      onDone: () => computed(),
    })
    // Stored after the start, so that no timer computes it before influxd stops: only the retry does.
    await store.update((d) => void (d.jobs[done.id] = done), [done.id])
    try {
      await influxd.stop()
      expect(await summaries.compute(done.id)).toBeUndefined()
      expect(store.data.jobs[done.id].summary).toMatchObject({ state: 'pending', lastError: expect.any(String) })
      await influxd.start()
      await retried // by the retry timer: however long influxd took to start, a later retry finds it
      const summary = store.data.jobs[done.id].summary!
      expect(summary.state).toBe('done')
      await writer.flush()
      const [r] = await createInfluxQL(config.influx).query(
        `SELECT "iops_write_total", "window_seconds" FROM "qactivity_jobs"."qactivity_job_summary" WHERE "job_id" = 'sum-1'`,
      )
      expect(r.series[0].values).toHaveLength(1)
      expect(r.series[0].values[0][1]).toBeCloseTo(truth(W_('B'), (w) => w.clients, E - S).iops_write, 6)
      // Recomputing is idempotent: the same point, not a second one.
      await summaries.compute(done.id)
      await writer.flush()
      const [again] = await createInfluxQL(config.influx).query(
        `SELECT count("iops_write_total") FROM "qactivity_jobs"."qactivity_job_summary" WHERE "job_id" = 'sum-1'`,
      )
      expect(again.series[0].values[0][1]).toBe(1)
      // The summary wrote the job's series; a report of the job reads it, not the raw points.
      const [series] = await createInfluxQL(config.influx).query(
        `SELECT count("iops_write") FROM "qactivity_jobs"."qactivity_job_timeline" WHERE "job_id" = 'sum-1'`,
      )
      expect(series.series[0].values[0][1]).toBeGreaterThan(5)
      let raw = 0
      const influx = createInfluxQLSource(config.influx)
      const counting = new StatsService({
        source: { ...influx, rows: (q) => (raw++, influx.rows(q)) },
        intervalSeconds: I,
        previousRuns: () => [],
      })
      const { timeline } = await counting.statsAndTimeline(store.data.jobs[done.id])
      expect(raw).toBe(0)
      expect(timeline.length).toBe(series.series[0].values[0][1])
      expect(timeline.reduce((a, p) => a + p.values[1], 0) * I).toBeCloseTo(
        truth(W_('B'), (w) => w.clients, timeline.length * I).iops_write,
        6,
      )
      // Completed-job stats come from the summary: they work with InfluxDB down.
      await influxd.stop()
      const s = await stats.stats(store.data.jobs[done.id])
      expectTotals(
        s.activity,
        truth(W_('B'), (w) => w.clients, E - S),
      )
    } finally {
      await summaries.stop()
      await influxd.start().catch(() => {})
      await store.close()
    }
  })
})
