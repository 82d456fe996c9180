import { readFile, rename, rm, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { z } from 'zod'
import { fsyncDir } from '../lib/fsync.ts'
import { messageOf } from '../lib/errors.ts'

/** One e-mail still to send: a job's report, or a digest of the jobs completed in (since, until]. */
export interface MailTask {
  /** unique, also the Message-ID's left part (a resend after a crash carries the same id) */
  id: string
  kind: 'job' | 'digest' | 'usage' | 'alert'
  /** the job of a `job` or `alert` task */
  jobId?: string
  /** the job's completion report (sent once per job) */
  completion?: boolean
  /** ISO window of a `digest` or `usage` task */
  since?: string
  until?: string
  to: string[]
  /** ISO time it was queued */
  createdAt: string
  attempts: number
  /** ISO time of the next attempt after a failure */
  notBefore?: string
  lastError?: string
}

/** `QACTIVITY_DATA_DIR/reports.json`: the mail queue and the digest schedule's position. */
export interface ReportState {
  version: 1
  /** ISO time reports were first enabled here: completed jobs before it are never mailed on recovery */
  enabledAt: string
  /** ISO end of the last digest queued; null until the first schedule tick after enabling */
  lastDigestUntil: string | null
  /** the same for the usage e-mails (`QACTIVITY_USAGE_SCHEDULE`); absent in files written before them */
  lastUsageUntil?: string | null
  tasks: MailTask[]
  /** sequence of task ids */
  nextId: number
}

const Iso = z.iso.datetime({ offset: true })
const TaskSchema = z.object({
  id: z.string(),
  kind: z.enum(['job', 'digest', 'usage', 'alert']),
  jobId: z.string().optional(),
  completion: z.boolean().optional(),
  since: Iso.optional(),
  until: Iso.optional(),
  to: z.array(z.string()),
  createdAt: Iso,
  attempts: z.number().int().min(0),
  notBefore: Iso.optional(),
  lastError: z.string().optional(),
})
const StateSchema = z.object({
  version: z.literal(1),
  enabledAt: Iso,
  lastDigestUntil: Iso.nullable(),
  lastUsageUntil: Iso.nullable().optional(),
  tasks: z.array(TaskSchema),
  nextId: z.number().int(),
})

/** The state file is not valid; nothing was changed. */
export class ReportStateCorruptError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}; fix or move the file away`)
    this.name = 'ReportStateCorruptError'
  }
}

/**
 * The report state, persisted whole on every change (it holds only undelivered mail: a few entries):
 * temp file, fsync, rename, fsync of the directory, so a change is durable once `update` resolves
 * and a crash leaves the old or the new file. Updates run one after the other.
 */
export class ReportStateFile {
  private queue: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly file: string,
    readonly data: ReportState,
  ) {}

  static async open(file: string, now: Date): Promise<ReportStateFile> {
    let text: string | undefined
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    await rm(`${file}.tmp`, { force: true })
    if (text === undefined) {
      const s = new ReportStateFile(file, { version: 1, enabledAt: now.toISOString(), lastDigestUntil: null, tasks: [], nextId: 1 })
      await s.update(() => undefined)
      return s
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      throw new ReportStateCorruptError(file, `is not valid JSON (${messageOf(err)})`)
    }
    const checked = StateSchema.safeParse(parsed)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      throw new ReportStateCorruptError(file, `${issue.path.join('.') || 'top level'}: ${issue.message}`)
    }
    return new ReportStateFile(file, checked.data)
  }

  /** Applies `fn` to the state and makes the result durable. `fn` must be synchronous. */
  update<R>(fn: (s: ReportState) => R): Promise<R> {
    const run = this.queue.then(async () => {
      const result = fn(this.data)
      const tmp = `${this.file}.tmp`
      const fh = await open(tmp, 'w', 0o600)
      try {
        await fh.writeFile(JSON.stringify(this.data, null, 1) + '\n')
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, this.file)
      await fsyncDir(dirname(this.file))
      return result
    })
    this.queue = run.catch(() => undefined)
    return run
  }
}
