/**
 * Durable delivery of job annotations to Grafana (docs/interface.md §7).
 *
 * The API appends {@link AnnotationTask}s to `data.outbox` inside the same `store.update()` that changes the
 * job (so an acknowledged job call never loses its annotation), then calls {@link Outbox.kick}. A single
 * background loop delivers the tasks one at a time; a Grafana that is down or slow never blocks or fails
 * the caller. Every state change goes through `store.update()`.
 *
 * Order: tasks of one job are delivered in `seq` order (a job's complete never before its start); jobs are
 * independent, and among the jobs that are ready the task with the fewest attempts goes first, so one task
 * that keeps failing cannot starve the rest.
 *
 * POST is not idempotent: `attempts` is incremented and persisted *before* each attempt, so after a
 * timeout, a lost answer or a crash (`attempts > 0`), the annotation is looked up by its tags and time and
 * reused rather than posted twice.
 */
import { messageOf } from '../../lib/errors.ts'
import type { Logger } from '../../lib/log.ts'
import { formatDuration } from '../../lib/units.ts'
import type { AnnotationSync, AnnotationTask, Job, JobComment, StoreData } from '../../jobs/types.ts'
import { GrafanaApiError, type AnnotationSink, type FoundAnnotation } from './grafana.ts'
import { retryDelay } from '../../lib/backoff.ts'
import { startPump } from '../../lib/pump.ts'
import { oneLine } from '../../lib/text.ts'
import { summaryFlags, summaryTags } from '../../stats/summary.ts'

/** The part of the job store (jobs/store.ts `JobStore`) the outbox uses. */
export interface OutboxStore {
  readonly data: StoreData
  /** runs `fn` synchronously on the data, resolves once a write containing the change is on disk; `touched`: the job ids changed */
  update<R>(fn: (data: StoreData) => R, touched?: readonly string[]): Promise<R>
}

/** Delivery status for `/healthz`. */
export interface OutboxHealth {
  /** false when Grafana is not configured */
  enabled: boolean
  /** tasks waiting in the outbox */
  queued: number
  /** the last delivery attempt failed (retriable) and none has succeeded since */
  failing: boolean
  /** that failure, one line */
  lastError?: string
  /** it was a 401/403 (or a wrong URL): the token or GRAFANA_URL needs an operator */
  configError: boolean
}

export interface Outbox {
  /** false when Grafana is not configured: the enqueue methods push nothing */
  readonly enabled: boolean
  /** Inside `store.update()`: queue the start annotation of job `jobId` and initialise `job.annotation`. */
  start(data: StoreData, jobId: string): boolean
  /** Inside `store.update()`: queue the completion (PATCH `timeEnd`, text and tags → region); again once the summary has tags. */
  complete(data: StoreData, jobId: string): boolean
  /** Inside `store.update()`: queue comment `commentIndex` (default: the last one) as a point annotation. */
  comment(data: StoreData, jobId: string, commentIndex?: number): boolean
  /** Inside `store.update()`: queue the regression alert (a point at the job's end, its flags in words). */
  regression(data: StoreData, jobId: string): boolean
  /** Wakes the delivery loop; returns at once (call after the `store.update()` that queued tasks resolved). */
  kick(): void
  /** Resolves when the outbox is empty; rejects after `timeoutMs` (default 10000). For tests and shutdown. */
  drain(timeoutMs?: number): Promise<void>
  /** Stops the loop: aborts an HTTP call in flight (its task stays queued) and waits for the loop to end. */
  stop(): Promise<void>
  health(): OutboxHealth
}

export interface OutboxDeps {
  store: OutboxStore
  /** undefined when Grafana is not configured: nothing is queued and jobs show `off` */
  sink?: AnnotationSink
  log: Logger
  /** first retry delay after a failure @defaultValue 1000 */
  retryMinMs?: number
  /** longest retry delay @defaultValue 300000 */
  retryMaxMs?: number
  now?: () => number
}

// ---------------------------------------------------------------------------------------------
// Annotation content

/** Grafana stores a tag as key/value columns of at most 100 characters each. */
const TAG_PART_MAX = 100

/** Tags of a job's start/region annotation: `qactivity`, `job:<id>`, `name:<name>`. */
export function jobTags(job: Pick<Job, 'id' | 'name'> & Partial<Pick<Job, 'summary'>>): string[] {
  // The automatic tags of a summarised job (stats/profile.ts) as `tag:<tag>`, so Grafana can filter regions by them.
  const auto = summaryTags(job).map((t) => `tag:${t}`)
  return ['qactivity', `job:${job.id}`, `name:${[...job.name].slice(0, TAG_PART_MAX).join('')}`, ...auto]
}

/** Tags of a comment annotation: `qactivity`, `comment`, `job:<id>`. */
export function commentTags(jobId: string): string[] {
  return ['qactivity', 'comment', `job:${jobId}`]
}

function labelText(job: Pick<Job, 'labels'>): string {
  const kv = Object.entries(job.labels ?? {}).map(([k, v]) => `${k}=${v}`)
  return kv.length ? ` · ${kv.join(', ')}` : ''
}

/** `render-42 (job 1234) started · project=x, shot=12` */
export function startText(job: Pick<Job, 'id' | 'name' | 'labels'>): string {
  return `${job.name} (job ${job.id}) started${labelText(job)}`
}

/** `render-42 (job 1234) succeeded after 1h 02m · project=x` */
export function completeText(job: Pick<Job, 'id' | 'name' | 'labels' | 'status' | 'startedAt' | 'endedAt'>): string {
  const t0 = Date.parse(job.startedAt)
  const t1 = job.endedAt ? Date.parse(job.endedAt) : NaN
  const after = Number.isFinite(t0) && Number.isFinite(t1) ? ` after ${formatDuration(t1 - t0)}` : ''
  return `${job.name} (job ${job.id}) ${job.status}${after}${labelText(job)}`
}

/** `author: text` */
export function commentText(c: Pick<JobComment, 'author' | 'text'>): string {
  return `${c.author}: ${c.text}`
}

// ---------------------------------------------------------------------------------------------
// Enqueueing (called by the routes inside store.update(); synchronous, never awaits)

/** `job.annotation` for a new job. */
export function initialAnnotationSync(enabled: boolean): AnnotationSync {
  return { state: enabled ? 'pending' : 'off', comments: 0 }
}

type NewTask = { kind: 'start' } | { kind: 'complete' } | { kind: 'comment'; commentIndex: number } | { kind: 'regression' }

function enqueue(data: StoreData, jobId: string, enabled: boolean, t: NewTask): boolean {
  const job = data.jobs[jobId]
  if (!job) return false
  job.annotation ??= initialAnnotationSync(enabled)
  if (!enabled) return false
  const task = { ...t, jobId, seq: data.nextSeq++, attempts: 0 } as AnnotationTask
  data.outbox.push(task)
  // `failing` stays visible until a delivery succeeds.
  if (job.annotation.state !== 'failing') job.annotation.state = 'pending'
  return true
}

/** Queues the regression alert of job `jobId` (a point at its end with its flags in words). */
export function enqueueRegression(data: StoreData, jobId: string, enabled: boolean): boolean {
  return enqueue(data, jobId, enabled, { kind: 'regression' })
}

/** Tags of a regression alert: `qactivity`, `regression`, `job:<id>`. */
export function regressionTags(jobId: string): string[] {
  return ['qactivity', 'regression', `job:${jobId}`]
}

/** Queues job `jobId`'s start annotation; with Grafana off sets `job.annotation.state = 'off'` and queues nothing. */
export function enqueueStart(data: StoreData, jobId: string, enabled: boolean): boolean {
  const job = data.jobs[jobId]
  if (job && !enabled) job.annotation = { ...(job.annotation ?? initialAnnotationSync(false)), state: 'off' }
  return enqueue(data, jobId, enabled, { kind: 'start' })
}

/** Queues the completion of job `jobId` (its `status` and `endedAt` must be set first). */
export function enqueueComplete(data: StoreData, jobId: string, enabled: boolean): boolean {
  return enqueue(data, jobId, enabled, { kind: 'complete' })
}

/** Queues comment `commentIndex` (default: the last) of job `jobId` (push the comment first). */
export function enqueueComment(data: StoreData, jobId: string, enabled: boolean, commentIndex?: number): boolean {
  const job = data.jobs[jobId]
  if (!job) return false
  const i = commentIndex ?? job.comments.length - 1
  if (!Number.isInteger(i) || i < 0 || i >= job.comments.length) return false
  return enqueue(data, jobId, enabled, { kind: 'comment', commentIndex: i })
}

// ---------------------------------------------------------------------------------------------
// Delivery

/** What a successful delivery changes on the job. */
type Done = { id?: number; comment?: boolean; note?: string }

/** A task that can never be delivered (job or comment gone): dropped without calling Grafana. */
class Undeliverable extends Error {}

/** The job's start/region annotation, if an earlier attempt created it. */
async function findStart(sink: AnnotationSink, job: Job, signal: AbortSignal): Promise<FoundAnnotation | undefined> {
  const t0 = Date.parse(job.startedAt)
  const found = await sink.find({ tags: ['qactivity', `job:${job.id}`], from: t0 - 1, to: t0 + 1 }, signal)
  return found.filter((a) => a.time === t0 && !a.tags.includes('comment')).sort((a, b) => a.id - b.id)[0]
}

/**
 * The HTTP part of one attempt. `prior`: attempts before this one; when > 0 a POST may have landed
 * without its answer, so it looks for the annotation before posting again.
 */
async function deliver(
  sink: AnnotationSink,
  log: Logger,
  task: AnnotationTask,
  job: Job,
  prior: number,
  signal: AbortSignal,
): Promise<Done> {
  const t0 = Date.parse(job.startedAt)
  if (!Number.isFinite(t0)) throw new Undeliverable(`job ${job.id} has no valid startedAt`)
  switch (task.kind) {
    case 'start': {
      if (job.annotation?.id !== undefined) return { note: 'already created' }
      if (prior > 0) {
        const f = await findStart(sink, job, signal)
        if (f) return { id: f.id, note: 'found after an earlier attempt' }
      }
      return { id: await sink.create({ time: t0, tags: jobTags(job), text: startText(job) }, signal) }
    }
    case 'complete': {
      if (!job.endedAt) throw new Undeliverable(`job ${job.id} is not completed`)
      const t1 = Math.max(t0, Date.parse(job.endedAt) || t0)
      const text = completeText(job)
      let id = job.annotation?.id
      let looked = false
      if (id === undefined && prior > 0) {
        id = (await findStart(sink, job, signal))?.id
        looked = true
      }
      if (id !== undefined) {
        try {
          await sink.patch(id, { timeEnd: t1, text, tags: jobTags(job) }, signal)
          return { id }
        } catch (err) {
          if (!(err instanceof GrafanaApiError && err.status === 404)) throw err
        }
        // Deleted in Grafana meanwhile: create the region afresh. If an earlier attempt already did and
        // its answer was lost, the lookup finds that one.
        log.warn('start annotation gone from Grafana; creating the region again', { job: job.id, id })
        if (prior > 0 && !looked) {
          const again = await findStart(sink, job, signal)
          if (again && again.id !== id) {
            await sink.patch(again.id, { timeEnd: t1, text, tags: jobTags(job) }, signal)
            return { id: again.id }
          }
        }
      }
      return { id: await sink.create({ time: t0, timeEnd: t1, tags: jobTags(job), text }, signal) }
    }
    case 'comment': {
      const c = job.comments[task.commentIndex]
      if (!c) throw new Undeliverable(`job ${job.id} has no comment ${task.commentIndex}`)
      const t = Date.parse(c.at)
      if (!Number.isFinite(t)) throw new Undeliverable(`comment ${task.commentIndex} of job ${job.id} has no valid time`)
      const text = commentText(c)
      const tags = commentTags(job.id)
      if (prior > 0) {
        const found = await sink.find({ tags, from: t - 1, to: t + 1 }, signal)
        if (found.some((a) => a.time === t && a.text === text)) return { comment: true, note: 'found after an earlier attempt' }
      }
      await sink.create({ time: t, tags, text }, signal)
      return { comment: true }
    }
    case 'regression': {
      const flags = summaryFlags(job)
      const t = Date.parse(job.endedAt ?? '')
      if (!flags.length || !Number.isFinite(t)) return { comment: true, note: 'nothing to alert' }
      const text = `${job.name} (job ${job.id}): ${flags.join('; ')}`
      const tags = regressionTags(job.id)
      // Looked up every time, not only after a failed attempt: a recomputed summary queues it again.
      const found = await sink.find({ tags, from: t - 1, to: t + 1 }, signal)
      if (found.some((a) => a.time === t && a.text === text)) return { comment: true, note: 'already in Grafana' }
      await sink.create({ time: t, tags, text }, signal)
      return { comment: true }
    }
  }
}

/** Starts the background delivery loop (and delivers what a previous run left queued). */
export function startOutbox(deps: OutboxDeps): Outbox {
  const { store, sink } = deps
  const log = deps.log.child({ source: 'grafana' })
  const now = deps.now ?? Date.now
  const retryMin = Math.max(1, deps.retryMinMs ?? 1000)
  const retryMax = Math.max(retryMin, deps.retryMaxMs ?? 300_000)
  const enabled = sink !== undefined

  /** no attempt before this (Grafana-wide backoff after a retriable failure) */
  let holdUntil = 0
  /** consecutive retriable failures */
  let failures = 0
  let lastError: string | undefined
  let configError = false
  const waiters = new Set<{ resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>()

  const backoff = (n: number, hint = 0): number => Math.round(retryDelay(Math.max(n, 1), retryMin, retryMax, hint))

  const notify = () => {
    if (store.data.outbox.length > 0) return
    for (const w of waiters) {
      clearTimeout(w.timer)
      w.resolve()
    }
    waiters.clear()
  }

  /** The next task to try, or when to look again. */
  const choose = (t: number): { task?: AnnotationTask; wakeAt?: number } => {
    const seen = new Set<string>()
    let best: AnnotationTask | undefined
    let wakeAt: number | undefined
    // The outbox is kept in seq order (tasks are only appended, with nextSeq++).
    for (const task of store.data.outbox) {
      if (seen.has(task.jobId)) continue // only a job's oldest task is ready
      seen.add(task.jobId)
      const nb = task.notBefore ? Date.parse(task.notBefore) : 0
      const at = Math.max(Number.isFinite(nb) ? nb : 0, holdUntil)
      if (at > t) {
        wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at)
      } else if (!best || task.attempts < best.attempts) {
        best = task
      }
    }
    return { task: best, wakeAt }
  }

  const findTask = (d: StoreData, seq: number) => d.outbox.findIndex((x) => x.seq === seq)

  /** One attempt at `picked`, with its bookkeeping. Never throws. */
  const attempt = async (picked: AnnotationTask, signal: AbortSignal): Promise<void> => {
    const { seq, jobId, kind } = picked
    // 1. Mark the attempt durably before any POST can land.
    let begun: { task: AnnotationTask; job: Job; prior: number } | 'gone' | undefined
    try {
      begun = await store.update(
        (d) => {
          const i = findTask(d, seq)
          if (i < 0) return undefined
          const task = d.outbox[i]
          const job = d.jobs[task.jobId]
          if (!job) {
            d.outbox.splice(i, 1)
            return 'gone' as const
          }
          const prior = task.attempts
          task.attempts = prior + 1
          return { task: { ...task }, job: structuredClone(job), prior }
        },
        [jobId],
      )
    } catch (err) {
      storeFailed(err)
      return
    }
    if (begun === 'gone') {
      log.warn('annotation task dropped: job no longer in the store', { job: jobId, kind, seq })
      return
    }
    if (!begun || signal.aborted) return

    // 2. Talk to Grafana (nothing awaited here holds the store).
    let done: Done | undefined
    let error: unknown
    try {
      done = await deliver(sink!, log, begun.task, begun.job, begun.prior, signal)
    } catch (err) {
      error = err
    }
    if (signal.aborted) return // the task stays queued with attempts > 0: the next run looks before posting

    // 3. Record the outcome.
    const t = now()
    const fields = { job: jobId, kind, seq, attempts: begun.task.attempts }
    try {
      if (done) {
        failures = 0
        holdUntil = 0
        lastError = undefined
        configError = false
        await store.update(
          (d) => {
            const i = findTask(d, seq)
            if (i >= 0) d.outbox.splice(i, 1)
            // Grafana answers again: tasks held back by the outage need not wait out their backoff.
            for (const x of d.outbox) delete x.notBefore
            const job = d.jobs[jobId]
            if (!job) return
            const a = (job.annotation ??= initialAnnotationSync(true))
            if (done!.id !== undefined) a.id = done!.id
            if (done!.comment) a.comments++
            if (d.outbox.some((x) => x.jobId === jobId)) a.state = 'pending'
            else {
              a.state = 'synced'
              delete a.lastError
            }
          },
          [jobId],
        )
        log.debug('annotation delivered', { ...fields, id: done.id, note: done.note })
        return
      }

      const retriable = !(error instanceof Undeliverable) && (!(error instanceof GrafanaApiError) || error.retriable)
      const msg = oneLine(messageOf(error))
      if (retriable) {
        failures++
        lastError = msg
        configError = error instanceof GrafanaApiError && error.configError
        const hint = error instanceof GrafanaApiError ? (error.retryAfterMs ?? 0) : 0
        const delay = backoff(failures, hint)
        holdUntil = t + delay
        const notBefore = new Date(t + backoff(begun.task.attempts, hint)).toISOString()
        await store.update(
          (d) => {
            const i = findTask(d, seq)
            if (i >= 0) d.outbox[i].notBefore = notBefore
            const job = d.jobs[jobId]
            if (job?.annotation) {
              job.annotation.state = 'failing'
              job.annotation.lastError = msg
            }
          },
          [jobId],
        )
        const level = configError || !(error instanceof GrafanaApiError) ? 'error' : 'warn'
        log[level]('annotation delivery failed; will retry', { ...fields, error: msg, retryInMs: delay })
      } else {
        // Grafana answered, so it is up: no global backoff.
        failures = 0
        holdUntil = 0
        const what = error instanceof Undeliverable ? msg : `${kind} annotation dropped: ${msg}`
        await store.update(
          (d) => {
            const i = findTask(d, seq)
            if (i >= 0) d.outbox.splice(i, 1)
            const job = d.jobs[jobId]
            if (job?.annotation) {
              job.annotation.state = 'failing'
              job.annotation.lastError = what
            }
          },
          [jobId],
        )
        log.warn('annotation task dropped', { ...fields, error: what })
      }
    } catch (err) {
      storeFailed(err)
    }
  }

  const storeFailed = (err: unknown) => {
    failures++
    const delay = backoff(failures)
    holdUntil = now() + delay
    log.error('outbox could not update the job store; will retry', { error: oneLine(messageOf(err)), retryInMs: delay })
  }

  // Always started, so that health() and drain() behave the same without Grafana; with no sink the step finds nothing to do.
  const pump = startPump({
    now,
    errorDelayMs: retryMin,
    onError: (err) => log.error('outbox loop failed', { error: oneLine(messageOf(err)) }),
    async step(signal) {
      const t = now()
      const { task, wakeAt } = enabled ? choose(t) : {}
      if (task) await attempt(task, signal)
      notify()
      return task ? 'again' : wakeAt
    },
  })
  const kick = (): void => {
    if (enabled) pump.kick()
  }

  const drain = (timeoutMs = 10_000): Promise<void> => {
    if (store.data.outbox.length === 0) return Promise.resolve()
    kick()
    return new Promise<void>((resolve, reject) => {
      const w = {
        resolve,
        reject,
        timer: setTimeout(() => {
          waiters.delete(w)
          reject(new Error(`outbox not drained after ${timeoutMs} ms: ${store.data.outbox.length} task(s) left`))
        }, timeoutMs),
      }
      waiters.add(w)
    })
  }

  const stop = async (): Promise<void> => {
    await pump.stop()
    for (const w of waiters) {
      clearTimeout(w.timer)
      w.reject(new Error('outbox stopped'))
    }
    waiters.clear()
  }

  if (!enabled && store.data.outbox.length > 0) {
    log.warn('Grafana is not configured; queued annotations stay queued', { queued: store.data.outbox.length })
  }
  return {
    enabled,
    start: (data, jobId) => enqueueStart(data, jobId, enabled),
    complete: (data, jobId) => enqueueComplete(data, jobId, enabled),
    comment: (data, jobId, commentIndex) => enqueueComment(data, jobId, enabled, commentIndex),
    regression: (data, jobId) => enqueueRegression(data, jobId, enabled),
    kick,
    drain,
    stop,
    health: () => ({
      enabled,
      queued: store.data.outbox.length,
      failing: failures > 0,
      ...(lastError ? { lastError } : {}),
      configError,
    }),
  }
}
