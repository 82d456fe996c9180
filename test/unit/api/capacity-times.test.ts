import { describe, expect, it } from 'vitest'
import type { Job } from '../../../jobs/types.ts'
import { StatsService, type JobStats } from '../../../stats/service.ts'
import type { DirAggregates } from '../../../qumulo/types.ts'
import { makeApp } from '../../support/api-app.ts'
import { memorySource } from '../../support/memory-source.ts'
import { until } from '../../support/wait.ts'

const T0 = Date.parse('2026-11-23T10:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString()

describe('capacity readings carry their own times', () => {
  it('a back-dated completion: the window ends at `at`, the end reading is from when complete was called, and stats say so', async () => {
    let now = T0
    let used = 1000n
    const aggregates = async (_cluster: string, path: string): Promise<DirAggregates> => ({
      path,
      id: '1',
      totalCapacity: used,
      totalData: used,
      totalMeta: 0n,
      totalFiles: 5n,
      totalDirectories: 1n,
    })
    const t = await makeApp({
      deps: { now: () => now, aggregates },
      app: (service) => ({
        stats: new StatsService({
          source: memorySource().source,
          intervalSeconds: 60,
          previousRuns: (n, b, id) => service.previousRuns(n, b, id),
          now: () => now,
        }),
      }),
    })
    expect((await t.call('POST', '/api/v1/jobs', { name: 'r', id: 'r1', paths: ['/p'] })).status).toBe(201)
    await until(() => t.store.data.jobs.r1.capacity[0]?.start, 'the start reading')
    now = T0 + 600_000
    used = 4000n
    expect((await t.call('POST', '/api/v1/jobs/r1/complete', { at: iso(T0 + 300_000) })).status).toBe(200)
    await until(() => t.store.data.jobs.r1.capacity[0]?.end, 'the end reading')

    const stats = (await (await t.call('GET', '/api/v1/jobs/r1/stats')).json()) as JobStats
    expect(stats.window.end).toBe(iso(T0 + 300_000))
    expect(stats.capacity).toEqual([
      {
        path: '/p',
        startAt: iso(T0),
        endAt: iso(T0 + 600_000),
        usedBytes: { start: 1000, end: 4000, delta: 3000 },
        files: { start: 5, end: 5, delta: 0 },
        directories: { start: 1, end: 1, delta: 0 },
      },
    ])
  })

  it('a summary stored without reading times gets them from the job', async () => {
    const job: Job = {
      id: 's1',
      name: 'r',
      cluster: '',
      status: 'succeeded',
      startedAt: iso(T0),
      endedAt: iso(T0 + 60_000),
      paths: ['/p', '/q'],
      clients: [],
      labels: {},
      comments: [],
      notify: [],
      annotation: { state: 'off', comments: 0 },
      createdBy: 't',
      updatedAt: iso(T0 + 60_000),
      capacity: [
        {
          path: '/p',
          start: { at: iso(T0), usedBytes: '1', files: '1', directories: '1' },
          end: { at: iso(T0 + 90_000), usedBytes: '2', files: '1', directories: '1' },
        },
        { path: '/q', error: 'start: not a directory' },
      ],
      summary: { state: 'done', stats: { job: 's1', capacity: [{ path: '/p', usedBytes: { start: 1, end: 2, delta: 1 } }] } },
    }
    const stats = await new StatsService({ source: memorySource().source, intervalSeconds: 60, previousRuns: () => [] }).stats(job)
    expect(stats.capacity.map((c) => [c.path, c.startAt, c.endAt, c.usedBytes.delta, c.error])).toEqual([
      ['/p', iso(T0), iso(T0 + 90_000), 1, undefined],
      ['/q', null, null, null, 'start: not a directory'],
    ])
  })
})
