import { hostname } from 'node:os'
import { join } from 'node:path'
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer'
import { Cron } from 'croner'
import type { Job, ReportDelivery } from '../jobs/types.ts'
import type { ReportConfig } from '../lib/config.ts'
import { messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { retryDelay } from '../lib/backoff.ts'
import { startPump } from '../lib/pump.ts'
import { summaryFlags, type SummaryStore } from '../stats/summary.ts'
import { buildReport, type ReportSources } from './build.ts'
import { renderDigest, renderReport } from './html.ts'
import { renderPdf } from './pdf.ts'
import { ReportStateFile, type MailTask, type ReportState } from './state.ts'
import { renderUsageMail } from './usage-mail.ts'
import { escapeHtml, headerLine } from './escape.ts'
import { clusterTotals, parseGroup, usageOf, withShares } from '../stats/usage.ts'

/** Options of {@link startReports}. */
export interface ReportsOptions {
  config: ReportConfig & { smtpUrl: string }
  /** the job store: jobs are read from it and each job's `report` delivery state is written to it */
  store: SummaryStore
  sources: ReportSources
  /** `QACTIVITY_DATA_DIR`: the queue lives in `reports.json` there */
  dataDir: string
  log: Logger
  /** first retry delay, ms @defaultValue 5000; doubles (with jitter) up to `retryMaxMs` */
  retryMinMs?: number
  /** @defaultValue 600000 */
  retryMaxMs?: number
  /** the clock of the digest schedule and of the times stored (retries wait in real time) @defaultValue Date.now */
  now?: () => number
}

/** Mail delivery as shown by `/healthz`. */
export interface ReportsHealth {
  /** e-mails waiting (or retrying) */
  queued: number
  failing: boolean
  lastError?: string
  /** ISO end of the last digest queued; null before the first */
  lastDigestUntil: string | null
  /** ISO time of the next digest, when scheduled */
  nextDigest?: string
}

/** The e-mailed reports of a running API. */
export interface Reports {
  /** Queues a job's report to `to` (default: the job's `notify` and `QACTIVITY_REPORT_TO`). */
  send(job: Job, to?: string[]): Promise<MailTask>
  /** A job's summary is done: queues its completion report, once per job. */
  completed(jobId: string): Promise<void>
  /** Queues the digest due at `until` (the schedule calls it; tests too). */
  digest(until: Date): Promise<MailTask | undefined>
  /** Queues the usage e-mail due at `until` (QACTIVITY_USAGE_SCHEDULE calls it; tests too). */
  usage(until: Date): Promise<MailTask | undefined>
  /** Queues the regression alert of a job whose summary flags changes (`QACTIVITY_REGRESSION_ALERT`). */
  alert(jobId: string): Promise<MailTask | undefined>
  health(): ReportsHealth
  close(): Promise<void>
}

/** nodemailer's SMTP options from `SMTP_URL` (credentials percent-decoded), with bounded timeouts. */
export function smtpOptions(url: string) {
  const u = new URL(url)
  const secure = u.protocol === 'smtps:'
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    // Credentials never go out in clear: without smtps, STARTTLS is then required.
    ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) }, requireTLS: !secure } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
  }
}

/** The addresses a job's report goes to by default. */
export function recipients(job: Job, config: Pick<ReportConfig, 'to'>): string[] {
  return [...new Set([...job.notify, ...config.to])]
}

/**
 * E-mailed job reports (README: Job reports; issue #6): a durable queue (`reports.json`, written
 * before a call is answered) drained in order by one sender with exponential backoff, so an SMTP
 * server that is down delays mail but never fails or slows a job call, and a restart resumes the
 * queue. Each job's delivery state is mirrored on the job (`report`). Completion reports are queued
 * once the job's summary is done (the numbers are final then); digests are queued at each tick of
 * `QACTIVITY_REPORT_SCHEDULE` together with the schedule's new position in one durable write, and a
 * tick missed while the process was down is caught up at start: no digest lost or queued twice.
 * Delivery is at least once: if the process dies between the SMTP server's acceptance and the
 * queue's update, the mail is sent again with the same Message-ID (mail clients fold such copies).
 */
export async function startReports(o: ReportsOptions): Promise<Reports> {
  const now = o.now ?? Date.now
  const state = await ReportStateFile.open(join(o.dataDir, 'reports.json'), new Date(now()))
  const transport: Transporter = nodemailer.createTransport(smtpOptions(o.config.smtpUrl))
  const domain = hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'localhost'
  const instance = Date.parse(state.data.enabledAt).toString(36)
  let lastError: string | undefined

  const mirror = (jobId: string, change: (r: ReportDelivery | undefined) => ReportDelivery): Promise<void> =>
    o.store
      .update(
        (d) => {
          const j = d.jobs[jobId]
          if (j) j.report = change(j.report)
        },
        [jobId],
      )
      .then(
        () => undefined,
        (err: unknown) => o.log.error('Report state not stored on the job', { job: jobId, error: messageOf(err) }),
      )

  /**
   * Queues the task `plan` returns, inside the queue's serialised update, so that a check in `plan`
   * and the queueing are one step (two calls at once cannot both pass it); undefined when `plan` declines.
   */
  const enqueue = (plan: (s: ReportState) => Omit<MailTask, 'id' | 'createdAt' | 'attempts'> | undefined): Promise<MailTask | undefined> =>
    state.update((s) => {
      const task = plan(s)
      if (!task) return undefined
      const t: MailTask = { id: `${task.kind}-${s.nextId++}`, createdAt: new Date(now()).toISOString(), attempts: 0, ...task }
      s.tasks.push(t)
      return t
    })

  /** A job's report is queued: the job says `pending` before the sender can say `sent`. */
  const pendingOn = async (jobId: string, to: string[]) => {
    await mirror(jobId, (r) => ({ ...r, state: 'pending', to, attempts: 0, lastError: undefined }))
    kick()
  }

  /** The message of a task; undefined when there is nothing to send (a digest without jobs, a job gone). */
  async function message(task: MailTask): Promise<SendMailOptions | undefined> {
    const base = { from: o.config.from, to: task.to, messageId: `<qactivity.${task.id}.${instance}@${domain}>` }
    if (task.kind === 'alert') return alertMessage(base, task.jobId!)
    if (task.kind === 'job') {
      const job = o.store.data.jobs[task.jobId!]
      if (!job) return undefined
      const input = await buildReport(job, o.sources)
      const r = renderReport(input, { images: 'cid' })
      const pdf = await renderPdf(input, r.images)
      return {
        ...base,
        subject: r.subject,
        html: r.html,
        text: r.text,
        headers: { 'X-Qactivity-Job': job.id },
        attachments: [...r.images, { filename: `qactivity-${job.id}.pdf`, contentType: 'application/pdf', content: pdf }],
      }
    }
    const since = Date.parse(task.since!)
    const until = Date.parse(task.until!)
    if (task.kind === 'usage') return usageMessage(base, since, until)
    const jobs = Object.values(o.store.data.jobs)
      .filter((j) => j.status !== 'running' && j.endedAt && Date.parse(j.endedAt) > since && Date.parse(j.endedAt) <= until)
      .sort((a, b) => Date.parse(a.endedAt!) - Date.parse(b.endedAt!))
    if (!jobs.length) return undefined
    // Final numbers only: a job that ended just before the tick waits for its summary (one poll + 15 s).
    const waiting = jobs.filter((j) => j.summary?.state !== 'done')
    if (waiting.length) throw new Error(`waiting for the summaries of ${waiting.length} job(s), e.g. ${waiting[0].id}`)
    const reports = await Promise.all(jobs.map((j) => buildReport(j, o.sources, { timeline: false })))
    const r = renderDigest(
      { since: new Date(since), until: new Date(until), reports, grafanaUrl: o.sources.grafanaUrl, generatedAt: new Date(now()) },
      { images: 'cid' },
    )
    return {
      ...base,
      subject: r.subject,
      html: r.html,
      text: r.text,
      headers: { 'X-Qactivity-Digest': `${task.since}/${task.until}` },
      attachments: r.images,
    }
  }

  /** The regression alert of a job: its flags in words, a line each; undefined when it has none (any more). */
  function alertMessage(base: Pick<SendMailOptions, 'from' | 'to' | 'messageId'>, jobId: string): SendMailOptions | undefined {
    const job = o.store.data.jobs[jobId]
    const lines = summaryFlags(job)
    if (!job || !lines.length) return undefined
    const intro = `${job.name} (job ${job.id}), ended ${job.endedAt}:`
    return {
      ...base,
      subject: headerLine(`qactivity regression: ${job.name} (${job.id}): ${lines[0]}${lines.length > 1 ? ` (+${lines.length - 1})` : ''}`),
      text: [intro, ...lines.map((l) => `- ${l}`), '', 'The completion report has the figures.'].join('\n') + '\n',
      html:
        `<p>${escapeHtml(intro)}</p><ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>` +
        '<p>The completion report has the figures.</p>',
      headers: { 'X-Qactivity-Job': job.id, 'X-Qactivity-Alert': 'regression' },
    }
  }

  /** The usage e-mail of (since, until]: showback by QACTIVITY_USAGE_GROUP, with its CSV; undefined without jobs. */
  async function usageMessage(base: Pick<SendMailOptions, 'from' | 'to' | 'messageId'>, since: number, until: number) {
    const group = parseGroup(o.config.usageGroup)!
    const answer = usageOf(Object.values(o.store.data.jobs), { group, sinceMs: since + 1, untilMs: until + 1 })
    if (!answer.jobs) return undefined
    // Final numbers only: a job that ended just before the tick waits for its summary, as in digests.
    if (answer.pending) throw new Error(`waiting for the summaries of ${answer.pending} job(s)`)
    if (o.sources.range)
      withShares(answer, await clusterTotals(o.sources.range, undefined, since / 1000, until / 1000), group.by === 'cluster')
    const m = renderUsageMail(answer, o.config.usageGroup, new Date(since), new Date(until))
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
    return {
      ...base,
      subject: m.subject,
      html: m.html,
      text: m.text,
      headers: { 'X-Qactivity-Usage': `${new Date(since).toISOString()}/${new Date(until).toISOString()}` },
      attachments: [
        { filename: `qactivity-usage-${day(since)}-${day(until)}.csv`, contentType: 'text/csv; charset=utf-8', content: m.csv },
      ],
    }
  }

  /** SMTP's verdict that retrying cannot change: a 5xx reply (every recipient refused, message refused). */
  const permanent = (err: unknown) => {
    const code = (err as { responseCode?: unknown }).responseCode
    return typeof code === 'number' && code >= 500 && code < 600
  }

  /** Sends one task; every outcome (sent, retry later, given up) is recorded; never rejects. */
  async function deliver(task: MailTask): Promise<void> {
    try {
      const msg = await message(task)
      const info = msg ? ((await transport.sendMail(msg)) as { rejected?: unknown[] }) : undefined
      if (!msg)
        o.log.info(task.kind === 'digest' ? 'No job completed in the digest window; nothing sent' : 'Job gone; report dropped', {
          task: task.id,
          job: task.jobId,
        })
      const refused = (info?.rejected ?? []).map(String)
      // The job says `sent` (and `completion`) before the task leaves the queue, so that no moment
      // exists where neither shows the completion report (completed() would queue it again).
      if (msg && task.jobId) {
        const error = refused.length ? `refused by the SMTP server: ${refused.join(', ')}` : undefined
        await mirror(task.jobId, (r) => ({
          ...r,
          ...(task.completion ? { completion: true } : {}),
          state: 'sent',
          to: task.to,
          attempts: task.attempts + 1,
          sentAt: new Date(now()).toISOString(),
          lastError: error,
        }))
      }
      await state.update((s) => void (s.tasks = s.tasks.filter((t) => t.id !== task.id)))
      lastError = undefined
      if (msg)
        o.log.info('Report e-mailed', {
          task: task.id,
          job: task.jobId,
          to: task.to.join(','),
          ...(refused.length ? { refused: refused.join(',') } : {}),
        })
    } catch (err) {
      const error = messageOf(err)
      lastError = error
      const attempts = task.attempts + 1
      try {
        if (permanent(err)) {
          // Retrying a refusal only repeats it: drop the task, keep the reason on the job.
          o.log.error('Report refused by the SMTP server; not retried', { task: task.id, job: task.jobId, error })
          await state.update((s) => void (s.tasks = s.tasks.filter((t) => t.id !== task.id)))
          if (task.jobId)
            await mirror(task.jobId, (r) => ({
              ...r,
              ...(task.completion ? { completion: true } : {}),
              state: 'failed',
              to: task.to,
              attempts,
              lastError: error,
            }))
          return
        }
        const delay = retryDelay(attempts, o.retryMinMs ?? 5000, o.retryMaxMs ?? 600_000)
        o.log.warn('Report not sent; will retry', { task: task.id, job: task.jobId, attempt: attempts, retryInMs: delay, error })
        await state.update((s) => {
          const t = s.tasks.find((x) => x.id === task.id)
          if (t) Object.assign(t, { attempts, lastError: error, notBefore: new Date(Date.now() + delay).toISOString() })
        })
        if (task.jobId) await mirror(task.jobId, (r) => ({ ...r, state: 'failing', to: task.to, attempts, lastError: error }))
      } catch (stateErr) {
        // reports.json cannot be written (disk full, data dir gone): the sender tries again later.
        lastError = `reports.json: ${messageOf(stateErr)}`
        o.log.error('Mail queue not updated; will retry', { task: task.id, error: lastError })
        task.notBefore = new Date(Date.now() + (o.retryMaxMs ?? 600_000)).toISOString()
      }
    }
  }

  /** Sends every task that is due, in order; then sleeps until the next one is. */
  const pump = startPump({
    onError: (err) => o.log.error('Mail sender failed', { error: messageOf(err) }),
    errorDelayMs: o.retryMinMs ?? 5000,
    async step() {
      const due = state.data.tasks.find((t) => !t.notBefore || Date.parse(t.notBefore) <= Date.now())
      if (due) {
        await deliver(due)
        return 'again'
      }
      const next = Math.min(...state.data.tasks.map((t) => Date.parse(t.notBefore!)))
      return Number.isFinite(next) ? next : undefined
    },
  })
  const kick = pump.kick

  async function send(job: Job, to = recipients(job, o.config)): Promise<MailTask> {
    const task = (await enqueue(() => ({ kind: 'job', jobId: job.id, to })))!
    await pendingOn(job.id, to)
    return task
  }

  // Once per job: the task carries `completion`, and the job's mirror records it when sent (a crash
  // in between leaves the task in the queue, which the start-up scan sees).
  async function completed(jobId: string): Promise<void> {
    const job = o.store.data.jobs[jobId]
    if (!job || job.status === 'running') return
    const to = recipients(job, o.config)
    if (!to.length) return
    const task = await enqueue((s) =>
      o.store.data.jobs[jobId]?.report?.completion || s.tasks.some((t) => t.completion && t.jobId === jobId)
        ? undefined
        : { kind: 'job', jobId, to, completion: true },
    )
    if (!task) return
    await pendingOn(jobId, to)
    o.log.debug('Completion report queued', { job: jobId, task: task.id })
  }

  /** Where each schedule stands: the ISO end of the last window queued (null until its first tick). */
  const POSITION = { digest: 'lastDigestUntil', usage: 'lastUsageUntil' } as const
  type Scheduled = keyof typeof POSITION

  /** Queues the `kind` e-mail of the window from the schedule's position to `until`, and moves it: one durable write. */
  async function windowed(kind: Scheduled, until: Date): Promise<MailTask | undefined> {
    const queued = await enqueue((s) => {
      const last = s[POSITION[kind]] ?? null
      if (last !== null && until.getTime() <= Date.parse(last)) return undefined
      s[POSITION[kind]] = until.toISOString()
      return { kind, since: last ?? s.enabledAt, until: until.toISOString(), to: o.config.to }
    })
    kick()
    return queued
  }
  /** Queues a job's regression alert to QACTIVITY_REPORT_TO (its summary has flags), once per job. */
  async function alert(jobId: string): Promise<MailTask | undefined> {
    if (!o.config.to.length) return undefined
    const queued = await enqueue((s) =>
      s.tasks.some((t) => t.kind === 'alert' && t.jobId === jobId) ? undefined : { kind: 'alert', jobId, to: o.config.to },
    )
    kick()
    return queued
  }
  const digest = (until: Date) => windowed('digest', until)
  const usage = (until: Date) => windowed('usage', until)

  // Completion reports whose queueing a crash may have cut short: done summaries since reports were
  // enabled, never queued.
  for (const job of Object.values(o.store.data.jobs)) {
    const computed = job.summary?.state === 'done' && job.summary.computedAt && job.summary.computedAt >= state.data.enabledAt
    if (computed && !job.report?.completion && !state.data.tasks.some((t) => t.jobId === job.id)) await completed(job.id)
  }

  /**
   * A cron schedule of `kind` e-mails. A tick missed while the process was down is queued at start;
   * the first start only sets the position.
   */
  async function schedule(kind: Scheduled, expr: string | undefined, what: string): Promise<Cron | undefined> {
    if (!expr) return undefined
    const cron = new Cron(expr, { protect: true }, () => {
      windowed(kind, new Date(Math.floor(now() / 1000) * 1000)).catch((err: unknown) =>
        o.log.error(`${what} not queued (reports.json not written); the next tick catches up`, { error: messageOf(err) }),
      )
    })
    const missed = cron.previousRuns(1, new Date(now()))[0]
    const last = state.data[POSITION[kind]] ?? null
    if (last === null) await state.update((s) => void (s[POSITION[kind]] = new Date(now()).toISOString()))
    else if (missed && missed.getTime() > Date.parse(last)) await windowed(kind, missed)
    return cron
  }
  const cron = await schedule('digest', o.config.schedule, 'Digest')
  const usageCron = await schedule('usage', o.config.usageSchedule, 'Usage e-mail')

  return {
    send,
    completed,
    digest,
    usage,
    alert,
    health: () => ({
      queued: state.data.tasks.length,
      failing: state.data.tasks.some((t) => t.attempts > 0),
      ...(lastError ? { lastError } : {}),
      lastDigestUntil: state.data.lastDigestUntil,
      ...(cron?.nextRun() ? { nextDigest: cron.nextRun()!.toISOString() } : {}),
    }),
    async close() {
      cron?.stop()
      usageCron?.stop()
      await pump.stop()
      transport.close()
    },
  }
}
