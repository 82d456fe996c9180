import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renameSync, rmSync } from 'node:fs'
import type { StoreData } from '../../../jobs/types.ts'
import { silentLogger } from '../../../lib/log.ts'
import { StatsService } from '../../../stats/service.ts'
import { startSummaries } from '../../../stats/summary.ts'
import { startReports } from '../../../reports/service.ts'
import { memorySource } from '../../support/memory-source.ts'
import { startSmtp, type TestSmtp } from '../../support/smtp.ts'
import { tempDir } from '../../support/tmp.ts'
import { completedJob } from '../../support/job.ts'
import { until as waitUntil } from '../../support/wait.ts'

// The mail queue against a real SMTP server that refuses some addresses for good (550).
let smtp: TestSmtp
beforeAll(async () => {
  smtp = await startSmtp({ refuse: (a) => a.startsWith('gone@') })
})
afterAll(async () => smtp?.close())

async function setup(dir = tempDir()) {
  const m = memorySource()
  const T = Date.parse('2026-03-02T10:00:00Z') / 1000
  for (let k = 1; k <= 10; k++) m.points.push({ time: T + k * 60, client: 'c', path: '/n/x', values: [10, 0, 0, 0, 0, 0], points: 1 })
  const job = completedJob({
    id: 'q1',
    name: 'queue',
    startedAt: new Date(T * 1000).toISOString(),
    endedAt: new Date((T + 600) * 1000).toISOString(),
    paths: ['/n'],
  })
  const data: StoreData = { version: 1, jobs: { q1: job }, outbox: [], nextSeq: 1 }
  const store = { data, update: <R>(fn: (d: StoreData) => R) => Promise.resolve(fn(data)) }
  const stats = new StatsService({ source: m.source, intervalSeconds: 60, previousRuns: () => [] })
  const summaries = startSummaries({ store, stats, log: silentLogger, intervalSeconds: 60 })
  await summaries.stop()
  await summaries.compute('q1')
  const reports = await startReports({
    config: { smtpUrl: smtp.url, from: 'q@example.com', to: [], thresholdPct: 20, regressionRuns: 5, usageGroup: 'name' },
    store,
    sources: { stats, previousRuns: () => [], flavour: 'influxql', thresholdPct: 20 },
    dataDir: dir,
    log: silentLogger,
    retryMinMs: 50,
    retryMaxMs: 100,
  })
  return { data, reports, dir }
}
const until = (f: () => boolean) => waitUntil(f, 'the mail queue to get there')

describe('the mail queue', () => {
  it('gives up on a permanent refusal (550): the job says failed, nothing is retried', async () => {
    const { data, reports } = await setup()
    await reports.send(data.jobs.q1, ['gone@example.com'])
    await until(() => data.jobs.q1.report?.state === 'failed')
    expect(data.jobs.q1.report!.lastError).toMatch(/550|no such user/)
    expect(reports.health().queued).toBe(0)
    await reports.close()
  })

  it('sends to the accepted recipients and names the refused ones on the job', async () => {
    const { data, reports } = await setup()
    const before = smtp.received.length
    await reports.send(data.jobs.q1, ['ok@example.com', 'gone@example.com'])
    await until(() => data.jobs.q1.report?.state === 'sent')
    expect(smtp.received.length - before).toBe(1)
    expect(smtp.received.at(-1)!.envelopeTo).toEqual(['ok@example.com'])
    expect(data.jobs.q1.report!.lastError).toMatch(/refused.*gone@example\.com/)
    await reports.close()
  })

  it('survives a queue file that cannot be written: no unhandled rejection, the error is visible', async () => {
    const dir = tempDir()
    const { data, reports } = await setup(dir)
    await smtp.down()
    try {
      await reports.send(data.jobs.q1, ['ok@example.com'])
      // reports.json can no longer be written: its directory moves away in one step (removing it
      // file by file raced with the sender writing it: ENOTEMPTY)
      renameSync(dir, `${dir}-gone`)
      await until(() => /reports\.json/.test(reports.health().lastError ?? ''))
    } finally {
      await smtp.up()
      await reports.close()
      rmSync(`${dir}-gone`, { recursive: true, force: true })
    }
  })

  it('queues the completion report once per job, even when asked twice', async () => {
    const { data, reports } = await setup()
    data.jobs.q1.notify = ['artist@example.com']
    const before = smtp.received.length
    await Promise.all([reports.completed('q1'), reports.completed('q1')])
    await reports.completed('q1')
    await until(() => data.jobs.q1.report?.state === 'sent')
    await reports.completed('q1')
    expect(reports.health().queued).toBe(0) // completed() resolves once it has queued, or declined
    expect(smtp.received.length - before).toBe(1)
    expect(data.jobs.q1.report!.completion).toBe(true)
    await reports.close()
  })
})
