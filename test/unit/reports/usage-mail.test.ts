import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Job, StoreData } from '../../../jobs/types.ts'
import { silentLogger } from '../../../lib/log.ts'
import { ACTIVITY_FIELDS } from '../../../lib/schema.ts'
import { StatsService, type JobStats } from '../../../stats/service.ts'
import { startSummaries } from '../../../stats/summary.ts'
import { startReports, type Reports } from '../../../reports/service.ts'
import { usageCsv } from '../../../reports/usage-mail.ts'
import { memorySource } from '../../support/memory-source.ts'
import { startSmtp, type TestSmtp } from '../../support/smtp.ts'
import { tempDir } from '../../support/tmp.ts'
import { completedJob } from '../../support/job.ts'

// The monthly usage e-mail on a real SMTP server; the test's clock drives the schedule.
const T = (day: string, hhmm = '00:00') => Date.parse(`2026-${day}T${hhmm}:00Z`)
const I = 60

let smtp: TestSmtp
beforeAll(async () => {
  smtp = await startSmtp()
})
afterAll(async () => smtp?.close())

/** The report settings both schedules here share: the test's SMTP server, one recipient. */
const mailConfig = () => ({ smtpUrl: smtp.url, from: 'q@example.com', to: ['ops@example.com'], thresholdPct: 20, regressionRuns: 5 })

describe('usage e-mails (QACTIVITY_USAGE_SCHEDULE)', () => {
  it("send the month's showback by label with a CSV whose totals are the sum of the jobs' summaries", async () => {
    const m = memorySource()
    for (let t = T('11-03') / 1000; t <= T('11-03', '03:00') / 1000; t += I)
      m.points.push({ time: t, client: 'c', path: '/p/x', values: [10, 5, 1, 0, 4096, 8192], points: 1 })
    const data: StoreData = { version: 1, jobs: {}, outbox: [], nextSeq: 1 }
    const store = { data, update: <R>(fn: (d: StoreData) => R) => Promise.resolve(fn(data)) }
    const stats = new StatsService({ source: m.source, intervalSeconds: I, previousRuns: () => [] })
    const summaries = startSummaries({ store, stats, log: silentLogger, intervalSeconds: I, now: () => T('11-01') })
    await summaries.stop()
    const add = async (id: string, project: string | undefined, start: string, end: string) => {
      const j: Job = completedJob({
        id,
        name: 'render',
        startedAt: new Date(T('11-03', start)).toISOString(),
        endedAt: new Date(T('11-03', end)).toISOString(),
        clients: ['c'],
        labels: project ? { project } : {},
      })
      data.jobs[id] = j
      await summaries.compute(id)
    }
    let now = T('10-31', '12:00')
    const open = () =>
      startReports({
        config: {
          ...mailConfig(),
          usageSchedule: '0 0 1 * *',
          usageGroup: 'label:project',
        },
        store,
        sources: { stats, previousRuns: () => [], flavour: 'influxql', thresholdPct: 20 },
        dataDir: tempDir(),
        log: silentLogger,
        now: () => now,
      })
    let reports: Reports = await open()
    await add('a1', 'p1', '00:10', '00:40')
    await add('a2', 'p1', '01:00', '01:30')
    await add('b1', 'p2', '02:00', '02:20')
    await add('c1', undefined, '02:30', '02:50')
    now = T('12-01', '00:00')
    const task = await reports.usage(new Date(now))
    expect(task).toMatchObject({ kind: 'usage', since: new Date(T('10-31', '12:00')).toISOString(), until: new Date(now).toISOString() })
    for (let i = 0; i < 200 && reports.health().queued > 0; i++) await new Promise((r) => setTimeout(r, 50))
    const mails = smtp.received.filter((r) => r.mail.headers.get('x-qactivity-usage'))
    expect(mails).toHaveLength(1)
    expect(String(mails[0].mail.subject)).toBe('qactivity usage 2026-10-31 12:00:00Z → 2026-12-01 00:00:00Z')
    expect(String(mails[0].mail.html)).toContain('4 jobs completed')
    const csv = mails[0].mail.attachments.find((a) => a.filename === 'qactivity-usage-2026-10-31-2026-12-01.csv')!
    const [header, ...rows] = csv.content
      .toString('utf8')
      .trimEnd()
      .split('\r\n')
      .map((l) => l.split(','))
    expect(header.slice(0, 3)).toEqual(['group', 'jobs', 'iops_read_total'])
    expect(rows.map((r) => [r[0], r[1]]).sort()).toEqual([
      ['(none)', '1'],
      ['p1', '2'],
      ['p2', '1'],
    ])
    const summaryOf = (id: string) => data.jobs[id].summary!.stats as unknown as JobStats
    for (const [i, f] of ACTIVITY_FIELDS.entries()) {
      const p1 = Number(rows.find((r) => r[0] === 'p1')![2 + i])
      expect(p1, f).toBeCloseTo(summaryOf('a1').activity[f].total + summaryOf('a2').activity[f].total, 9)
    }
    await reports.close()
    // a restart in the same month queues nothing new
    reports = await open()
    expect(reports.health().queued).toBe(0)
    await reports.close()
  })

  it('writes a CSV a spreadsheet cannot run: quoted where needed, formulas defused', () => {
    const csv = usageCsv({
      jobs: 1,
      pending: 0,
      rows: [
        {
          group: '=HYPERLINK("x","y"),1',
          jobs: 1,
          total: Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, 1])) as never,
          usedBytesDelta: 0,
        },
      ],
    })
    expect(csv.split('\r\n')[1].startsWith(`"'=HYPERLINK(""x"",""y""),1",1,`)).toBe(true)
  })
})

describe('regression alerts (QACTIVITY_REGRESSION_ALERT)', () => {
  it("e-mail the job's flags in words to QACTIVITY_REPORT_TO, not twice while one is queued", async () => {
    const data: StoreData = { version: 1, jobs: {}, outbox: [], nextSeq: 1 }
    const store = { data, update: <R>(fn: (d: StoreData) => R) => Promise.resolve(fn(data)) }
    const flags = [{ text: 'read IOPS 2.3× the median of the last 5 runs' }, { text: 'reads 2.3× the median of the last 5 runs' }]
    data.jobs.al1 = completedJob({
      id: 'al1',
      name: 'render',
      startedAt: '2026-11-03T00:00:00Z',
      endedAt: '2026-11-03T01:00:00Z',
      summary: { state: 'done', stats: { regression: { runs: 5, flags } } },
    })
    const reports = await startReports({
      config: {
        ...mailConfig(),
        usageGroup: 'name',
      },
      store,
      sources: {
        stats: new StatsService({ source: memorySource().source, intervalSeconds: I, previousRuns: () => [] }),
        previousRuns: () => [],
        flavour: 'influxql',
        thresholdPct: 20,
      },
      dataDir: tempDir(),
      log: silentLogger,
    })
    expect(await reports.alert('al1')).toMatchObject({ kind: 'alert', jobId: 'al1', to: ['ops@example.com'] })
    expect(await reports.alert('al1')).toBeUndefined() // queued already
    for (let i = 0; i < 200 && reports.health().queued > 0; i++) await new Promise((r) => setTimeout(r, 50))
    const mails = smtp.received.filter((r) => r.mail.headers.get('x-qactivity-alert') === 'regression')
    expect(mails).toHaveLength(1)
    expect(String(mails[0].mail.subject)).toBe('qactivity regression: render (al1): read IOPS 2.3× the median of the last 5 runs (+1)')
    expect(mails[0].mail.text).toContain('- reads 2.3× the median of the last 5 runs\n')
    await reports.close()
  })
})
