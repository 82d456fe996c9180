import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../lib/config.ts'
import { silentLogger } from '../../lib/log.ts'
import type { DurableWriter } from '../../lib/influx/writer.ts'
import { createQumuloClient } from '../../qumulo/client.ts'
import { createCollector, type Collector } from '../../collector/index.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { startApi, type RunningApi } from '../../api/server.ts'
import { openWriter } from '../../cli/compose.ts'
import type { Job } from '../../jobs/types.ts'
import { formatOps, formatPct } from '../../lib/units.ts'
import { runJobCommand } from '../../cli/job.ts'
import { collectorWatermark } from '../../stats/delivered.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { startSmtp, type TestSmtp } from '../support/smtp.ts'
import { tempDir } from '../support/tmp.ts'
import { until } from '../support/wait.ts'
import { setTimeout as sleep } from 'node:timers/promises'

// The whole path of issue #6 on real services: the simulator's activity collected into the real
// influxd every second, jobs completed through the API, summaries computed, completion reports
// rendered and sent through a real SMTP server that is down at first.
const scenario = parseScenario({
  workloads: [
    {
      name: 'render',
      clients: ['10.9.0.1', '10.9.0.2'],
      path: '/render/r1',
      files: 3,
      ops: { 'file-iops-read': 600, 'file-throughput-write': 60 },
    },
  ],
})
const HOSTILE = `<script>alert("x")</script>"><img src=x onerror=alert(1)>&`

let influxd: Influxd
let sim: RunningSimulator
let smtp: TestSmtp
let config: Config
let writer: DurableWriter
let collector: Collector
let api: RunningApi

beforeAll(async () => {
  ;[influxd, sim, smtp] = await Promise.all([startInfluxd(), startSimulator({ scenario }), startSmtp({ up: false })])
  config = loadConfig(
    {
      QACTIVITY_AUTH: 'off',
      QACTIVITY_HOST: '127.0.0.1',
      QACTIVITY_PORT: '0',
      QACTIVITY_DATA_DIR: tempDir(),
      QACTIVITY_POLL_SECONDS: '1',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: 'reports_it',
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'admin',
      QUMULO_CLUSTER: 'sim',
      SMTP_URL: smtp.url,
      QACTIVITY_REPORT_FROM: 'qactivity@example.com',
      QACTIVITY_REPORT_TO: 'ops@example.com',
      GRAFANA_URL: 'http://grafana.example:3000',
      GRAFANA_TOKEN: 'glsa_test_token_0123456789',
    },
    ['api', 'influx', 'qumulo'],
  )
  writer = await openWriter(config, silentLogger, 'spool')
  const qumulo = createQumuloClient(config.qumulo, silentLogger)
  // Attributes each poll to the API's jobs, as `serve` wires it.
  collector = createCollector({
    config,
    qumulo,
    writer,
    log: silentLogger,
    jobs: async (tick) => api?.service.jobScopes('sim', tick) ?? [],
  })
  collector.start()
  api = await startApi({
    config,
    log: silentLogger,
    writer,
    qumulo: new Map([[config.qumulo.cluster, qumulo]]),
    reportRetry: { retryMinMs: 200, retryMaxMs: 500 },
  })
}, 60_000)
afterAll(async () => {
  await collector?.stop()
  await api?.close()
  await writer?.close()
  await Promise.all([sim?.close(), smtp?.close(), influxd?.stop()])
})

async function call<T = Job>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(api.url + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await res.text()
  return { status: res.status, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T }
}

/** A job run of ~3 s through the API, completed, its summary computed now (instead of after I + 15 s). */
async function run(name: string, extra: Record<string, unknown> = {}): Promise<Job> {
  const created = await call('POST', '/api/v1/jobs', { name, clients: ['10.9.0.1'], notify: ['artist@example.com'], ...extra })
  expect(created.status).toBe(201)
  const id = created.body.id
  await call('POST', `/api/v1/jobs/${id}/comments`, { text: `first frame ${HOSTILE}` })
  await sleep(3000)
  await call('POST', `/api/v1/jobs/${id}/comments`, { text: 'last frame' })
  expect((await call('POST', `/api/v1/jobs/${id}/complete`, {})).status).toBe(200)
  // The poll after the end, in InfluxDB: however late a loaded machine runs it.
  const delivered = collectorWatermark(config.influx)
  const after = Date.parse(api.store.data.jobs[id].endedAt!) / 1000 + config.collector.pollSeconds
  await vi.waitFor(
    async () => {
      await writer.flush()
      expect(await delivered('sim', after)).toBe(true)
    },
    { timeout: 30_000, interval: 100 },
  )
  expect((await call('POST', `/api/v1/admin/jobs/${id}/summary`)).status).toBe(200)
  return api.store.data.jobs[id]
}

describe('an unreadable mail queue', () => {
  it('turns reports off with the reason in /healthz and the e-mail route; jobs and collection go on', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'reports.json'), '{"version":1,"tasks":[')
    const broken = await startApi({ config: { ...config, storage: { ...config.storage, dataDir: dir } }, log: silentLogger, writer })
    try {
      const health = (await (await fetch(`${broken.url}/healthz`)).json()) as {
        status: string
        reports: { failing: boolean; lastError: string }
      }
      expect(health.status).toBe('degraded')
      expect(health.reports.lastError).toMatch(/reports\.json.*not valid JSON/)
      const created = await fetch(`${broken.url}/api/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'still works' }),
      })
      expect(created.status).toBe(201)
      const id = ((await created.json()) as Job).id
      const mail = await fetch(`${broken.url}/api/v1/jobs/${id}/report/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      expect(mail.status).toBe(409)
      expect(((await mail.json()) as { error: { message: string } }).error.message).toMatch(/reports\.json/)
      // A running job's report comes from its live aggregates.
      const live = await fetch(`${broken.url}/api/v1/jobs/${id}/report`)
      expect(live.status, await live.clone().text()).toBe(200)
      expect(await live.text()).toContain('still works')
    } finally {
      await broken.close()
    }
  })
})

describe('completion reports by e-mail (real influxd, real SMTP)', () => {
  const smtpDown =
    'are queued while SMTP is down (job calls unaffected, state visible), then delivered once with correct numbers and the PDF'
  it(
    smtpDown,
    async () => {
      const first = await run(`render ${HOSTILE}`)
      await until(
        () => first.report?.state === 'failing' || api.store.data.jobs[first.id].report?.state === 'failing',
        'the failing state on the job',
      )
      const health = await call<Record<string, any>>('GET', '/healthz')
      expect(health.body.reports).toMatchObject({ queued: 1, failing: true })

      await smtp.up()
      await until(() => api.store.data.jobs[first.id].report?.state === 'sent', 'delivery after SMTP came back')
      await sleep(1000) // nothing more arrives
      const mails = smtp.received.filter((m) => m.mail.headers.get('x-qactivity-job') === first.id)
      expect(mails).toHaveLength(1)
      const { mail, envelopeTo } = mails[0]
      expect(envelopeTo.sort()).toEqual(['artist@example.com', 'ops@example.com'])
      expect(mail.subject).toContain('render')
      expect(mail.subject).not.toMatch(/[\r\n]/)

      const stats = api.store.data.jobs[first.id].summary!.stats as { activity: Record<string, { total: number }> }
      expect(stats.activity.iops_read.total).toBeGreaterThan(0)
      const html = String(mail.html)
      expect(html).toContain(formatOps(stats.activity.iops_read.total))
      expect(html).not.toContain('<script>')
      expect(html).not.toMatch(/<img src=x onerror/)
      expect(html).toContain('&lt;script&gt;')
      // Attribute values escape `=` and `&` too; a browser decodes them back.
      const decoded = html
        .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
        .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(parseInt(n, 16)))
        .replace(/&amp;/g, '&')
      expect(decoded).toContain(
        `href="http://grafana.example:3000/d/qactivity-job-influxql?var-job=${first.id}` +
          `&from=${Date.parse(first.startedAt)}` +
          `&to=${Date.parse(api.store.data.jobs[first.id].endedAt!)}`,
      )
      const pdf = mail.attachments.find((a) => a.contentType === 'application/pdf')!
      expect(pdf.filename).toBe(`qactivity-${first.id}.pdf`)
      const file = join(tempDir(), 'report.pdf')
      writeFileSync(file, pdf.content)
      const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' })
      expect(text).toContain('render')
      expect(text).toContain(formatOps(stats.activity.iops_read.total))
      expect(mail.attachments.filter((a) => a.contentType === 'image/png' && a.cid).length).toBeGreaterThanOrEqual(2)
    },
    60_000,
  )

  it('compare a second run with the first, and the report is also served over HTTP and the CLI', async () => {
    const second = await run('render-b')
    const third = await run('render-b', { clients: ['10.9.0.1', '10.9.0.2'] })
    await until(() => api.store.data.jobs[third.id].report?.state === 'sent', 'the second run’s report')
    const mail = smtp.received.find((m) => m.mail.headers.get('x-qactivity-job') === third.id)!.mail
    const html = String(mail.html)
    expect(html).toContain(second.id) // the previous run is named
    expect(html).toMatch(/previous/i)
    // The change of the total against the previous run, from the two summaries: twice the clients, about twice the reads.
    const total = (j: Job) =>
      (api.store.data.jobs[j.id].summary!.stats as { activity: Record<string, { total: number }> }).activity.iops_read.total
    const pct = ((total(third) - total(second)) / total(second)) * 100
    expect(pct).toBeGreaterThan(30)
    expect(html).toContain(formatPct(pct))

    const attached = mail.attachments.find((a) => a.contentType === 'application/pdf')!
    const pdfFile = join(tempDir(), 'third.pdf')
    writeFileSync(pdfFile, attached.content)
    const pdfText = execFileSync('pdftotext', ['-layout', pdfFile, '-'], { encoding: 'utf8' })
    expect(pdfText).toContain(second.id)
    expect(pdfText).toMatch(/previous run/i)
    const page = await call<string>('GET', `/api/v1/jobs/${third.id}/report?format=html`)
    expect(page.status).toBe(200)
    expect(page.body).toContain('data:image/png;base64,')
    expect(page.body).not.toMatch(/src="(?!data:)/)
    const pdf = await fetch(`${api.url}/api/v1/jobs/${third.id}/report?format=pdf`)
    expect(pdf.headers.get('content-type')).toBe('application/pdf')
    expect(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-')
    expect((await call('GET', `/api/v1/jobs/${third.id}/report?format=doc`)).status).toBe(400)

    const out: Array<string | Buffer> = []
    const env = { QACTIVITY_URL: api.url }
    const io = { stdout: (t: string | Buffer) => void out.push(t), stderr: () => undefined }
    const file = join(tempDir(), 'cli.pdf')
    expect(await runJobCommand(['report', third.id, '--pdf', file], env, io)).toBe(0)
    expect(execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' })).toContain('render-b')
    expect(await runJobCommand(['report', third.id, '--email', 'lead@example.com'], env, io)).toBe(0)
    expect(String(out.at(-1))).toContain('lead@example.com')
    await until(() => smtp.received.some((m) => m.envelopeTo.includes('lead@example.com')), 'the mail asked for by the CLI')
    await expect(runJobCommand(['report', third.id, '--email', 'not an address'], env, io)).rejects.toThrow(/e-mail/)
  }, 60_000)
})
