import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../lib/config.ts'
import { silentLogger } from '../../lib/log.ts'
import { createDurableWriter } from '../../lib/influx/writer.ts'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import { createQumuloClient } from '../../qumulo/client.ts'
import { createCollector } from '../../collector/index.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { ACTIVITY_FIELDS, influxqlFrom } from '../../lib/schema.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'
import { perMinuteTruth } from '../support/ground-truth.ts'

const workloads = [
  {
    name: 'render',
    clients: ['10.0.1.1', '10.0.1.2'],
    path: '/render/shots/s01',
    files: 3,
    ops: { 'file-iops-read': 120, 'file-throughput-read': 30, 'file-iops-write': 7 },
  },
  {
    name: 'genomics',
    clients: ['10.0.2.1'],
    path: '/genomics/run1/bam',
    files: 2,
    ops: { 'file-throughput-write': 17, 'metadata-iops-read': 11 },
  },
  { name: 'genomics-dirs', clients: ['10.0.2.1'], path: '/genomics/run1', files: 2, directoryIds: true, ops: { 'metadata-iops-write': 3 } },
  { name: 'deleted', clients: ['10.0.3.1'], path: '/scratch/tmp', files: 2, deleted: true, ops: { 'file-iops-write': 5 } },
]
/** `path` tag each workload must land under with watch path /render/shots and depth 1. */
const expectedTag: Record<string, string> = {
  render: '/render/shots',
  genomics: '/genomics',
  'genomics-dirs': '/genomics',
  deleted: '(unresolved)',
}
const BIG = 2n ** 53n + 1n
const scenario = parseScenario({
  workloads,
  capacity: [
    {
      path: '/render/shots',
      usedBytes: String(BIG),
      files: 1000,
      directories: 10,
      growth: { bytesPerSecond: 0, filesPerSecond: 0, directoriesPerSecond: 0 },
    },
  ],
  fileSystem: { totalBytes: '100000000000000000', snapshotBytes: '0' },
})

let influxd: Influxd
let sim: RunningSimulator
let dbCount = 0

beforeAll(async () => {
  ;[influxd, sim] = await Promise.all([startInfluxd(), startSimulator({ scenario, users: { admin: 'secret-pw' } })])
})
afterAll(async () => {
  await sim?.close()
  await influxd?.stop()
})

function configFor(extra: Record<string, string> = {}): Config {
  return loadConfig(
    {
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'secret-pw',
      QUMULO_CLUSTER: 'sim',
      QUMULO_TIMEOUT_SECONDS: '2',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: `collector_${++dbCount}`,
      QACTIVITY_PATH_DEPTH: '1',
      QACTIVITY_WATCH_PATHS: '/render/shots',
      QACTIVITY_DATA_DIR: tempDir(),
      ...extra,
    },
    ['qumulo', 'influx'],
  )
}

async function setup(config: Config, dir = join(config.storage.dataDir, 'spool')) {
  const writer = await createDurableWriter({
    influx: config.influx,
    dir,
    maxBytes: config.storage.spoolMaxBytes,
    log: silentLogger,
    retryMinMs: 50,
    retryMaxMs: 200,
  })
  const qumulo = createQumuloClient(config.qumulo, silentLogger)
  const collector = createCollector({ config, qumulo, writer, log: silentLogger })
  return { writer, qumulo, collector, influxql: createInfluxQL(config.influx) }
}

type Rows = Record<string, Record<string, number>>
/** `SELECT sum(field)… GROUP BY tag` as { tagValue: { field: sum } }: the stored counts, ops or bytes per minute. */
async function perMinuteSums(config: Config, tag: string): Promise<Rows> {
  const q = createInfluxQL(config.influx)
  const select = ACTIVITY_FIELDS.map((f) => `sum("${f}") AS "${f}"`).join(', ')
  const [result] = await q.query(`SELECT ${select} FROM "qactivity_raw"."qumulo_activity" WHERE "cluster" = 'sim' GROUP BY "${tag}"`)
  const out: Rows = {}
  for (const s of result.series) {
    const row = s.values[0]
    out[s.tags[tag]] = Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, row[s.columns.indexOf(f)] as number]))
  }
  return out
}

function expectPerMinute(actual: Rows, truth: Map<string, Record<string, number>>, polls: number) {
  expect(Object.keys(actual).sort()).toEqual([...truth.keys()].sort())
  for (const [key, fields] of truth) {
    for (const f of ACTIVITY_FIELDS) {
      // stored as integer counts: the sums agree exactly
      expect(actual[key][f], `${key} ${f}`).toBe(fields[f] * polls)
    }
  }
}

const t0 = Math.floor(Date.now() / 60_000) * 60 - 3600

describe('simulator → collector → InfluxDB', () => {
  it('writes per-client, per-path and per-type sums equal to the scenario ground truth', async () => {
    const config = configFor()
    const { writer, collector } = await setup(config)
    for (let i = 0; i < 3; i++) expect((await collector.runOnce(t0 + 60 * i)).success).toBe(true)
    await writer.flush()
    await writer.close()

    expectPerMinute(
      await perMinuteSums(config, 'client_ip'),
      perMinuteTruth(workloads, (_, c) => c),
      3,
    )
    expectPerMinute(
      await perMinuteSums(config, 'path'),
      perMinuteTruth(workloads, (w) => expectedTag[w.name]),
      3,
    )
  })

  it('over the series budget collapses the deepest unwatched paths; totals per client and path stay exact', async () => {
    // depth 3: 5 series (2 under the watched /render/shots, /genomics/run1/bam, /genomics/run1, (unresolved)); budget 4
    const config = configFor({ QACTIVITY_PATH_DEPTH: '3', QACTIVITY_MAX_SERIES_PER_CYCLE: '4' })
    const { writer, collector } = await setup(config)
    for (let i = 0; i < 2; i++) expect(await collector.runOnce(t0 + 60 * i)).toMatchObject({ success: true, series: 4, collapsedPaths: 1 })
    expect(collector.status()).toMatchObject({ series: 4, collapsedPaths: 1 })
    await writer.flush()
    await writer.close()
    expectPerMinute(
      await perMinuteSums(config, 'client_ip'),
      perMinuteTruth(workloads, (_, c) => c),
      2,
    )
    // /genomics/run1/bam merged into /genomics/run1; the watched path and (unresolved) untouched
    const tags: Record<string, string> = { ...expectedTag, genomics: '/genomics/run1', 'genomics-dirs': '/genomics/run1' }
    expectPerMinute(
      await perMinuteSums(config, 'path'),
      perMinuteTruth(workloads, (w) => tags[w.name]),
      2,
    )
    const [metrics] = await createInfluxQL(config.influx).query(`SELECT last("series"), last("collapsed_paths") FROM "qactivity_collector"`)
    expect(metrics.series[0].values[0].slice(1)).toEqual([4, 1])
  })

  it('keeps activity of deleted files under (unresolved) and resolves only uncached ids, ≤ 1000 per call', async () => {
    const config = configFor()
    const { writer, collector } = await setup(config)
    const before = sim.requests['POST /v1/files/resolve'] ?? 0
    const first = await collector.runOnce(t0)
    const second = await collector.runOnce(t0 + 60)
    await writer.close()
    expect(first.resolveCalls).toBe(1)
    expect(second.resolveCalls).toBe(0)
    expect(second.cacheHitRate).toBe(1)
    expect((sim.requests['POST /v1/files/resolve'] ?? 0) - before).toBe(1)
    expect(Math.max(...sim.resolveBatchSizes)).toBeLessThanOrEqual(1000)
  })

  it('writes exact capacity (beyond 2^53), cluster capacity and a self-metrics point', async () => {
    const config = configFor()
    const { writer, collector } = await setup(config)
    await collector.runOnce(t0)
    await writer.flush()
    await writer.close()
    // JSON numbers cannot hold 2^53 + 1; InfluxDB's CSV output carries the stored int64 digits.
    const csv = await fetch(
      `${influxd.url}/query?db=${config.influx.bucket}` +
        `&q=${encodeURIComponent(`SELECT "used_bytes" FROM "qumulo_capacity" WHERE "path" = '/render/shots'`)}`,
      { headers: { accept: 'application/csv' } },
    )
    expect((await csv.text()).trim().split('\n')[1].split(',').at(-1)).toBe(String(BIG))
    const q = createInfluxQL(config.influx)
    const [cl] = await q.query(`SELECT "total_bytes" FROM "qumulo_cluster"`)
    expect(cl.series[0].values[0][1]).toBe(1e17)
    const [self] = await q.query(`SELECT "success", "entries", "resolve_calls" FROM "qactivity_collector"`)
    const entries = workloads.reduce((n, w) => n + w.clients.length * ('directoryIds' in w ? 1 : w.files) * Object.keys(w.ops).length, 0)
    expect(self.series[0].values[0].slice(1, 4)).toEqual([1, entries, 1])
  })
})

async function countPoints(config: Config, measurement = 'qumulo_activity'): Promise<number> {
  const [r] = await createInfluxQL(config.influx).query(`SELECT count("iops_read") FROM ${influxqlFrom(measurement)}`)
  return (r.series?.[0]?.values[0][1] as number) ?? 0
}

describe('failures are survived', () => {
  it('loses no point while influxd is down for several cycles, across a collector restart', async () => {
    const config = configFor()
    const series = new Set(workloads.flatMap((w) => w.clients.map((c) => `${c} ${expectedTag[w.name]}`))).size
    const a = await setup(config)
    await a.collector.runOnce(t0)
    await a.writer.flush()
    await influxd.stop()
    try {
      for (let i = 1; i <= 3; i++) expect((await a.collector.runOnce(t0 + 60 * i)).points).toBeGreaterThan(0)
      expect(a.writer.stats().spoolBytes).toBeGreaterThan(0)
      await a.writer.close() // the collector "restarts" with undelivered cycles on disk
      const b = await setup(config)
      await b.collector.runOnce(t0 + 240)
      await expect(b.writer.flush()).rejects.toThrow()
      expect(b.writer.stats().writeErrors).toBeGreaterThan(0)
      await influxd.start()
      await b.writer.flush()
      await b.writer.close()
    } finally {
      await influxd.start().catch(() => {})
    }
    expect(await countPoints(config)).toBe(5 * series)
    expectPerMinute(
      await perMinuteSums(config, 'client_ip'),
      perMinuteTruth(workloads, (_, c) => c),
      5,
    )
  })

  it('logs in again when the session token expires mid-run, with no gap', async () => {
    const config = configFor()
    const { writer, collector, qumulo } = await setup(config)
    await collector.runOnce(t0)
    sim.expireSessions()
    const second = await collector.runOnce(t0 + 60)
    await writer.flush()
    await writer.close()
    expect(second.success).toBe(true)
    expect(qumulo.stats().logins).toBe(2)
    const [r] = await createInfluxQL(config.influx).query(
      `SELECT count("iops_read") FROM "qactivity_raw"."qumulo_activity" GROUP BY time(60s) fill(none)`,
    )
    expect(r.series[0].values.map((v) => v[0])).toEqual([t0, t0 + 60])
  })

  it('counts a cycle as failed on 5xx and on timeouts, without crashing, then recovers', async () => {
    const config = configFor({ QUMULO_TIMEOUT_SECONDS: '1' })
    const { writer, collector } = await setup(config)
    try {
      sim.setFaults({ errorRate: 1 })
      const failed = await collector.runOnce(t0)
      expect(failed.success).toBe(false)
      expect(failed.failedEndpoints).toEqual(expect.arrayContaining(['activity', 'file-system']))
      sim.setFaults({ errorRate: 0, latencyMs: 1500 })
      const slow = await collector.runOnce(t0 + 60)
      expect(slow.success).toBe(false)
      expect(slow.failedEndpoints).toContain('activity')
    } finally {
      sim.setFaults({ errorRate: 0, latencyMs: 0 })
    }
    expect((await collector.runOnce(t0 + 120)).success).toBe(true)
    await writer.flush()
    await writer.close()
    const [self] = await createInfluxQL(config.influx).query(`SELECT "success", "failed_endpoints" FROM "qactivity_collector"`)
    expect(self.series[0].values.map((v) => v[1])).toEqual([0, 0, 1])
  })
})
