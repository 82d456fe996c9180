import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../lib/config.ts'
import { silentLogger } from '../../lib/log.ts'
import { createDurableWriter } from '../../lib/influx/writer.ts'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import { createQumuloClient } from '../../qumulo/client.ts'
import { createCollector } from '../../collector/index.ts'
import { openJobStore } from '../../jobs/store.ts'
import { JobService } from '../../jobs/service.ts'
import { pathProblemRecorder } from '../../jobs/path-problems.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'
import { capturedLog } from '../support/log.ts'

// A bad job path is the job's problem and an outage is the cluster's: both are logged once per change
// of state, never once per cycle.
const scenario = parseScenario({
  workloads: [{ clients: ['10.0.1.1'], path: '/render/shots', files: 2, ops: { 'file-iops-read': 60 } }],
  capacity: [{ path: '/render', usedBytes: '1000000', files: 10, directories: 2 }],
})

let influxd: Influxd
let sim: RunningSimulator
let db = 0
beforeAll(async () => {
  ;[influxd, sim] = await Promise.all([startInfluxd(), startSimulator({ scenario, users: { admin: 'pw' } })])
})
afterAll(async () => {
  await sim?.close()
  await influxd?.stop()
})

function configFor(): Config {
  return loadConfig(
    {
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'pw',
      QUMULO_CLUSTER: 'sim',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: `collector_log_${++db}`,
      QACTIVITY_DATA_DIR: tempDir(),
    },
    ['qumulo', 'influx'],
  )
}

const captured = () => capturedLog('info')

const t0 = Math.floor(Date.now() / 60_000) * 60 - 3600

describe('collector failures are logged once per change of state', () => {
  it('10 jobs on paths that are not directories: cycles succeed, one log line per path, the error recorded on each job once', async () => {
    const config = configFor()
    const store = await openJobStore(join(config.storage.dataDir, 'jobs.json'), silentLogger)
    const service = new JobService({ store, clusters: ['sim'], log: silentLogger })
    const missing = Array.from({ length: 9 }, (_, i) => `/projects/${'x'.repeat(4000)}/${i}`)
    const bad = [...missing, '/render/shots/f0000.bin']
    const jobs = []
    for (const [i, path] of bad.entries())
      jobs.push((await service.create({ name: 'ci' }, { name: `bad-${i}`, paths: [path, '/render'] })).job.id)
    const writer = await createDurableWriter({
      influx: config.influx,
      dir: join(config.storage.dataDir, 'spool'),
      maxBytes: 1e7,
      log: silentLogger,
    })
    const { lines, log } = captured()
    const collector = createCollector({
      config,
      qumulo: createQumuloClient(config.qumulo, silentLogger),
      writer,
      log,
      jobs: async (tick) => service.jobScopes('sim', tick),
      onPathStates: pathProblemRecorder(store, () => service.runningJobs()),
    })

    const reports = []
    reports.push(await collector.runOnce(t0))
    const writesAfterFirst = store.stats.writes
    for (let i = 1; i < 30; i++) reports.push(await collector.runOnce(t0 + 60 * i))
    await writer.flush()
    await writer.close()

    expect(reports.every((r) => r.success && r.failedPaths === 10 && r.failedEndpoints.length === 0)).toBe(true)
    expect(lines).toHaveLength(10)
    expect(lines.every((l) => l.includes('Watched path is not a directory on Qumulo') && l.length < 1200)).toBe(true)
    expect(lines.filter((l) => l.includes('fs_not_a_directory_error'))).toHaveLength(1)
    expect(store.stats.writes).toBe(writesAfterFirst)
    const tooLong = /^\/projects\/x+…\(4012 bytes\): no such directory on Qumulo$/
    const notADirectory = /^\/render\/shots\/f0000\.bin: not a directory on Qumulo$/
    for (const [i, id] of jobs.entries()) {
      const error = store.data.jobs[id].error
      expect(error).toMatch(i < 9 ? tooLong : notADirectory)
    }
    const [self] = await createInfluxQL(config.influx).query(`SELECT "success", "failed_paths" FROM "qactivity_collector"`)
    expect(new Set(self.series[0].values.map((v) => `${v[1]}/${v[2]}`))).toEqual(new Set(['1/10']))
    await store.close()
  })

  it('a Qumulo outage of 5 cycles: one line per endpoint when it starts, one when it ends with the count', async () => {
    const config = configFor()
    const writer = await createDurableWriter({
      influx: config.influx,
      dir: join(config.storage.dataDir, 'spool'),
      maxBytes: 1e7,
      log: silentLogger,
    })
    const { lines, log } = captured()
    const collector = createCollector({
      config: { ...config, collector: { ...config.collector, watchPaths: ['/render'] } },
      qumulo: createQumuloClient(config.qumulo, silentLogger),
      writer,
      log,
    })
    expect((await collector.runOnce(t0)).success).toBe(true)
    const outage = []
    try {
      sim.setFaults({ errorRate: 1 })
      for (let i = 1; i <= 5; i++) outage.push(await collector.runOnce(t0 + 60 * i))
    } finally {
      sim.setFaults({ errorRate: 0 })
    }
    for (let i = 6; i <= 8; i++) expect((await collector.runOnce(t0 + 60 * i)).success).toBe(true)
    await writer.close()

    expect(outage.every((r) => !r.success)).toBe(true)
    for (const endpoint of ['Activity poll', 'File-system poll', 'Aggregates poll']) {
      const about = lines.filter((l) => l.includes(`msg="${endpoint}`))
      expect(about, endpoint).toHaveLength(2)
      expect(about[0]).toMatch(/level=(warn|error) .*failed.*503/)
      expect(about[1]).toMatch(/level=info .*recovered.* failed_cycles=5/)
    }
    expect(lines).toHaveLength(6)
  })
})
