import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Job, StoreData } from '../../../jobs/types.ts'
import { silentLogger } from '../../../lib/log.ts'
import { StatsService } from '../../../stats/service.ts'
import { startSummaries } from '../../../stats/summary.ts'
import { startReports, type Reports } from '../../../reports/service.ts'
import type { ReportSources } from '../../../reports/build.ts'
import { memorySource } from '../../support/memory-source.ts'
import { startSmtp, type TestSmtp } from '../../support/smtp.ts'
import { tempDir } from '../../support/tmp.ts'
import { completedJob } from '../../support/job.ts'

// Digests on a real SMTP server; the clock is the test's, so the schedule's missed ticks are exact.
const T = (hhmm: string) => Date.parse(`2026-03-02T${hhmm}:00Z`)
const I = 60

let smtp: TestSmtp
beforeAll(async () => {
  smtp = await startSmtp()
})
afterAll(async () => smtp?.close())

function job(id: string, start: string, end: string): Job {
  return completedJob({
    id,
    name: 'nightly',
    startedAt: new Date(T(start)).toISOString(),
    endedAt: new Date(T(end)).toISOString(),
    paths: ['/n'],
  })
}

describe('scheduled digests', () => {
  it('are queued once per tick, a missed tick is caught up after a restart, and SMTP down then up delivers each once', async () => {
    const m = memorySource()
    for (let t = T('10:00') / 1000; t <= T('12:40') / 1000; t += I)
      m.points.push({ time: t, client: 'c', path: '/n/x', values: [10, 5, 0, 0, 4096, 0], points: 1 })
    const data: StoreData = { version: 1, jobs: {}, outbox: [], nextSeq: 1 }
    const store = { data, update: <R>(fn: (d: StoreData) => R) => Promise.resolve(fn(data)) }
    const previousRuns = (name: string, before: string, id: string) =>
      Object.values(data.jobs)
        .filter((j) => j.name === name && j.id !== id && j.startedAt < before)
        .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
    const stats = new StatsService({ source: m.source, intervalSeconds: I, previousRuns })
    const summaries = startSummaries({ store, stats, log: silentLogger, intervalSeconds: I, now: () => T('09:00') })
    await summaries.stop()
    const add = async (j: Job) => {
      data.jobs[j.id] = j
      await summaries.compute(j.id)
    }
    const sources: ReportSources = { stats, previousRuns, flavour: 'influxql', thresholdPct: 20 }
    const dir = tempDir()
    let now = T('10:30')
    const open = () =>
      startReports({
        config: {
          smtpUrl: smtp.url,
          from: 'q@example.com',
          to: ['ops@example.com'],
          schedule: '0 * * * *',
          thresholdPct: 20,
          regressionRuns: 5,
          usageGroup: 'name',
        },
        store,
        sources,
        dataDir: dir,
        log: silentLogger,
        now: () => now,
        retryMinMs: 100,
        retryMaxMs: 200,
      })
    const digests = () => smtp.received.filter((r) => r.mail.headers.get('x-qactivity-digest'))
    const settle = async (r: Reports) => {
      for (let i = 0; i < 200 && r.health().queued > 0; i++) await new Promise((res) => setTimeout(res, 50))
      expect(r.health().queued).toBe(0)
    }

    // First start: the position is set; nothing to catch up.
    let reports = await open()
    expect(reports.health().lastDigestUntil).toBe(new Date(T('10:30')).toISOString())
    await reports.close()

    await add(job('n1', '10:05', '10:40'))
    await add(job('n2', '10:45', '10:50'))

    // Down over 11:00 and 12:00; restarted at 12:10 with SMTP down: one digest for (10:30, 12:00].
    await smtp.down()
    now = T('12:10')
    reports = await open()
    expect(reports.health().queued).toBe(1)
    await vi.waitFor(() => expect(reports.health().failing).toBe(true), { timeout: 10_000, interval: 20 })
    expect(reports.health()).toMatchObject({ queued: 1, failing: true })
    expect(reports.health().lastError).toBeTruthy()
    await smtp.up()
    await settle(reports)
    expect(digests()).toHaveLength(1)
    const html = String(digests()[0].mail.html)
    expect(html).toContain('n1')
    expect(html).toContain('n2')
    expect(digests()[0].envelopeTo).toEqual(['ops@example.com'])
    await reports.close()

    // Another restart within the same hour: nothing new.
    now = T('12:20')
    reports = await open()
    expect(reports.health().queued).toBe(0) // a catch-up would be queued by now
    expect(digests()).toHaveLength(1)

    // The 13:00 tick: only the job completed since.
    await add(job('n3', '12:05', '12:30'))
    now = T('13:00')
    expect(await reports.digest(new Date(T('13:00')))).toBeDefined()
    expect(await reports.digest(new Date(T('13:00')))).toBeUndefined()
    await settle(reports)
    expect(digests()).toHaveLength(2)
    const second = String(digests()[1].mail.html)
    expect(second).toContain('n3')
    expect(second).not.toContain('n1')
    // An hour without completed jobs sends nothing, and the position still moves.
    expect(await reports.digest(new Date(T('14:00')))).toBeDefined()
    await settle(reports)
    expect(digests()).toHaveLength(2)
    expect(JSON.parse(readFileSync(join(dir, 'reports.json'), 'utf8')).lastDigestUntil).toBe(new Date(T('14:00')).toISOString())
    await reports.close()
  }, 30_000)
})
