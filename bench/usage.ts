/**
 * Showback at scale (issue #15): `GET /api/v1/usage` over JOBS (default 100,000) completed jobs that
 * ended in one month, each with a summary as the API stores it, in the real job store (lowdb, one
 * temp file) and the real app. Times the whole request — validation, the scan of the store, the
 * grouping, the JSON — per grouping, median of 5 (the cluster's shares need InfluxDB: not timed
 * here, they are one range query).
 */
import { join } from 'node:path'
import { createApp } from '../api/app.ts'
import { JobService } from '../jobs/service.ts'
import { openJobStore } from '../jobs/store.ts'
import { ACTIVITY_FIELDS } from '../lib/schema.ts'
import { silentLogger } from '../lib/log.ts'
import { completedJob } from '../test/support/job.ts'
import { tempDir } from '../test/support/tmp.ts'
import { printTable, quantile, row } from './table.ts'

const JOBS = Number(process.env.JOBS ?? 100_000)
const T0 = Date.parse('2026-11-01T00:00:00Z')
const MONTH = 30 * 86_400_000

const store = await openJobStore(join(tempDir(), 'jobs.json'), silentLogger)
try {
  await store.update((d) => {
    for (let i = 0; i < JOBS; i++) {
      const end = T0 + Math.floor((i / JOBS) * MONTH)
      const activity = Object.fromEntries(ACTIVITY_FIELDS.map((f, k) => [f, { total: (i % 1000) * (k + 1), mean: 1, peak: 2 }]))
      d.jobs[`u${i}`] = completedJob({
        id: `u${i}`,
        name: `pipeline-${i % 500}`,
        cluster: `qumulo-${i % 3}`,
        startedAt: new Date(end - 3_600_000).toISOString(),
        endedAt: new Date(end).toISOString(),
        labels: { project: `p${i % 40}`, user: `u${i % 300}` },
        summary: { state: 'done', stats: { activity, capacity: [{ path: '/p', usedBytes: { start: 0, end: i, delta: i } }] } },
      })
    }
  })
  const service = new JobService({ store, clusters: ['qumulo-0', 'qumulo-1', 'qumulo-2'], log: silentLogger })
  const app = createApp({
    service,
    config: { auth: false, tokens: [], trustProxy: false },
    log: silentLogger,
    archive: () => store.archive(new Date()),
  })
  const since = new Date(T0).toISOString()
  const until = new Date(T0 + MONTH).toISOString()
  for (const group of ['name', 'cluster', 'label:project']) {
    const times: number[] = []
    let groups = 0
    for (let k = 0; k < 5; k++) {
      const t = performance.now()
      const res = await app.request(`/api/v1/usage?group=${group}&since=${since}&until=${until}`)
      const body = (await res.json()) as { jobs: number; rows: unknown[] }
      times.push(performance.now() - t)
      if (res.status !== 200 || body.jobs !== JOBS) throw new Error(`usage by ${group}: ${res.status}, ${body.jobs} jobs`)
      groups = body.rows.length
    }
    const ms = quantile(times, 0.5)
    row(
      `GET /api/v1/usage?group=${group}, ${JOBS.toLocaleString('en')} jobs in a month (${groups} groups), median of 5`,
      `${ms.toFixed(0)} ms`,
      '< 1000 ms',
      ms < 1000,
    )
  }
} finally {
  await store.close()
}
printTable()
