import { describe, expect, it } from 'vitest'
import type { Job, StoreData } from '../../../jobs/types.ts'
import { silentLogger } from '../../../lib/log.ts'
import { StatsService } from '../../../stats/service.ts'
import { startSummaries } from '../../../stats/summary.ts'
import { memorySource } from '../../support/memory-source.ts'
import { completedJob } from '../../support/job.ts'

describe('startSummaries after a restart with many jobs due', () => {
  it('computes them all, a few at a time (no storm of queries that starves the API)', async () => {
    const m = memorySource()
    let now = 0
    let peak = 0
    const rows = m.source.rows
    m.source.rows = async (q) => {
      peak = Math.max(peak, ++now)
      await new Promise((r) => setTimeout(r, 2))
      now--
      return rows(q)
    }
    const jobs: Record<string, Job> = {}
    for (let i = 0; i < 60; i++) {
      jobs[`j${i}`] = completedJob({
        id: `j${i}`,
        name: `n${i % 3}`,
        startedAt: new Date(1e12 + i * 1000).toISOString(),
        endedAt: new Date(1e12 + i * 1000 + 600_000).toISOString(),
        paths: ['/p'],
      })
    }
    const data: StoreData = { version: 1, jobs, outbox: [], nextSeq: 1 }
    const stats = new StatsService({ source: m.source, intervalSeconds: 60, previousRuns: () => [] })
    let done = 0
    let allDone!: () => void
    const finished = new Promise<void>((resolve) => (allDone = resolve))
    const summaries = startSummaries({
      store: { data, update: (fn) => Promise.resolve(fn(data)) },
      stats,
      log: silentLogger,
      intervalSeconds: 60,
      concurrency: 3,
      onDone: () => ++done === 60 && allDone(),
    })
    await finished
    await summaries.stop()
    expect(Object.values(jobs).every((j) => j.summary?.state === 'done')).toBe(true)
    expect(peak).toBeLessThanOrEqual(3)
    expect(peak).toBeGreaterThan(1)
  })
})
