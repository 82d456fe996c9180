import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import { MEASUREMENT, ACTIVITY_FIELDS } from '../lib/schema.ts'
import { toLine, type FieldValue } from '../lib/influx/line-protocol.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'
import type { Job, StoreData } from '../jobs/types.ts'
import type { JobStats, StatsService } from './service.ts'
import type { DeliveredCheck } from './delivered.ts'
import { startPump } from '../lib/pump.ts'

/** The store calls a summariser needs (a subset of jobs/store.ts `JobStore`). */
export interface SummaryStore {
  readonly data: StoreData
  update<R>(fn: (data: StoreData) => R, touched?: readonly string[]): Promise<R>
}

/** Options of {@link startSummaries}. */
export interface SummaryOptions {
  store: SummaryStore
  stats: StatsService
  writer?: Pick<DurableWriter, 'write'>
  log: Logger
  /** poll interval, seconds: the last point overlapping a job lands up to one interval after its end */
  intervalSeconds: number
  /** extra wait after end + interval for the collector's write to arrive, ms @defaultValue 15000 */
  graceMs?: number
  /** first retry delay when InfluxDB fails, ms @defaultValue 30000; doubles up to 10 min */
  retryMs?: number
  now?: () => number
  /** called after a job's summary is stored, again after a recompute (the completion report waits for it and is queued once) */
  onDone?: (jobId: string) => void
  /** summaries computed at once (after a restart thousands can be due) @defaultValue 2 */
  concurrency?: number
  /** whether the job's cluster's points are all in InfluxDB (stats/delivered.ts); without it the schedule alone decides */
  delivered?: DeliveredCheck
  /** how often a summary waiting for its points checks again, ms @defaultValue 10000 */
  checkMs?: number
  /** longest wait for the points once InfluxDB answers (a stopped collector); then computed from what is there, ms @defaultValue 900000 */
  maxWaitMs?: number
  /** when, in ms after a summary, its points are counted again; more than it used recomputes it @defaultValue [60000, 300000, 900000] */
  recheckMs?: number[]
}

/** Schedules and computes completed jobs' summaries. */
export interface Summaries {
  /** Schedules the summary of a just-completed job (no-op for running ones). */
  schedule(jobId: string): void
  /** Computes now, whatever the schedule and delivery (tests, an admin recompute); idempotent. */
  compute(jobId: string): Promise<JobStats | undefined>
  /**
   * What the schedule does when a job's time comes: before its summary, computes it once its points
   * are delivered (else `waiting`); after, recomputes it when InfluxDB holds more points than it used.
   */
  check(jobId: string): Promise<'waiting' | 'computed' | 'recomputed' | 'unchanged' | 'failed' | 'skipped'>
  /** Stops scheduling; resolves once the checks running finish. */
  stop(): Promise<void>
}

/**
 * The `qactivity_job_summary` point: the §6 aggregates, stamped at the job's end; with the previous
 * completed run of the same name, its id and each total's % change against it (none when its total is 0).
 */
export function summaryLine(job: Job, s: JobStats, previous?: { id: string; stats: Pick<JobStats, 'activity'> }): string {
  const fields: Record<string, FieldValue> = { status: job.status, window_seconds: s.window.seconds, polls: BigInt(s.polls) }
  for (const f of ACTIVITY_FIELDS) {
    fields[`${f}_total`] = s.activity[f].total
    fields[`${f}_mean`] = s.activity[f].mean
    fields[`${f}_peak`] = s.activity[f].peak
  }
  const sum = (k: 'usedBytes' | 'files' | 'directories') => s.capacity.reduce((a, c) => a + (c[k].delta ?? 0), 0)
  fields.used_bytes_delta = sum('usedBytes')
  fields.files_delta = sum('files')
  fields.directories_delta = sum('directories')
  // The share of the cluster, where one can be told (stats/share.ts).
  for (const f of ACTIVITY_FIELDS) {
    const share = s.share?.[f]
    if (typeof share?.total === 'number') fields[`${f}_share_pct`] = share.total
    if (typeof share?.peak === 'number') fields[`${f}_peak_share_pct`] = share.peak
  }
  if (typeof s.share?.used_bytes.total === 'number') fields.used_bytes_share_pct = s.share.used_bytes.total
  // The I/O profile where it can be told, and the tags (comma-separated; "" for none).
  const p = s.profile
  const put = (name: string, v: number | null | undefined) => typeof v === 'number' && (fields[name] = v)
  put('read_io_size_bytes', p?.meanIoSize.read)
  put('write_io_size_bytes', p?.meanIoSize.write)
  put('metadata_per_data_op', p?.metadataPerDataOp)
  put('read_ops_pct', p?.readPct.ops)
  put('read_bytes_pct', p?.readPct.bytes)
  if (s.tags) fields.tags = s.tags.join(',')
  // The regression flags in words ("" when none), and how many runs the medians were taken over.
  if (s.regression) {
    fields.regression = s.regression.flags.map((f) => f.text).join('; ')
    fields.regression_runs = BigInt(s.regression.runs)
  }
  if (previous) {
    fields.previous_job_id = previous.id
    for (const f of ACTIVITY_FIELDS) {
      const before = previous.stats.activity[f]?.total
      if (typeof before === 'number' && before !== 0) fields[`${f}_total_change_pct`] = ((s.activity[f].total - before) / before) * 100
    }
  }
  return toLine({
    measurement: MEASUREMENT.jobSummary,
    tags: { job_id: job.id, job_name: job.name, cluster: job.cluster },
    fields,
    time: Date.parse(job.endedAt!) / 1000,
  })
}

/** `qactivity_job_timeline`: the job's series (≤ 240 points) for its report charts, stamped at each poll (group). */
export function timelineLines(
  job: Pick<Job, 'id' | 'name' | 'cluster'>,
  timeline: ReadonlyArray<{ time: number; values: number[] }>,
): string[] {
  return timeline.map((p) =>
    toLine({
      measurement: MEASUREMENT.jobTimeline,
      tags: { job_id: job.id, job_name: job.name, cluster: job.cluster },
      fields: Object.fromEntries(ACTIVITY_FIELDS.map((f, i) => [f, p.values[i]])),
      time: p.time,
    }),
  )
}

/**
 * Computes each completed job's aggregates once every point up to `end + interval` is in InfluxDB
 * ({@link SummaryOptions.delivered}; the first check at `end + interval + grace`, then every
 * `checkMs`; computed anyway when InfluxDB has answered "not yet" for `maxWaitMs`: a collector that
 * stopped), stores them on the job, writes `qactivity_job_summary` and calls
 * `onDone` (the completion report). Its points are counted again `recheckMs` after: a higher count
 * (points delivered late) recomputes it, overwriting the point (same time and tags). While InfluxDB
 * fails the summary stays `pending` with the error and is retried; at start every completed job
 * without a finished summary is scheduled again.
 */
export function startSummaries(o: SummaryOptions): Summaries {
  const now = o.now ?? Date.now
  /** when each scheduled job's next check is due, epoch ms */
  const due = new Map<string, number>()
  const attempts = new Map<string, number>()
  /** rechecks already made after each job's summary */
  const rechecked = new Map<string, number>()
  /** when InfluxDB first said a job's points were not all delivered */
  const waitingSince = new Map<string, number>()
  const recheckMs = o.recheckMs ?? [60_000, 300_000, 900_000]

  // One schedule, drained by a pump: a restart can find thousands of checks due, each reading a job's points.
  const pump = startPump({
    now,
    concurrency: o.concurrency ?? 2,
    onError: (err) => o.log.error('Summary schedule failed', { error: messageOf(err) }),
    async step() {
      let next: [string, number] | undefined
      for (const e of due) if (!next || e[1] < next[1]) next = e
      if (!next) return undefined
      if (next[1] > now()) return next[1]
      due.delete(next[0]) // claimed before the first await: the other step takes another job
      await check(next[0])
      return 'again'
    },
  })
  const at = (jobId: string, whenMs: number) => {
    if (pump.stopped) return
    due.set(jobId, whenMs)
    pump.kick()
  }
  const nextRecheck = (jobId: string) => {
    const n = rechecked.get(jobId) ?? 0
    if (n < recheckMs.length) at(jobId, now() + recheckMs[n] - (recheckMs[n - 1] ?? 0))
    else rechecked.delete(jobId)
  }

  /** Computes and stores the summary; undefined (and retried later) when InfluxDB fails. */
  const compute = async (jobId: string): Promise<JobStats | undefined> => {
    due.delete(jobId)
    const job = o.store.data.jobs[jobId]
    if (!job || job.status === 'running') return undefined
    try {
      // Counted first: points arriving during the read make a later count higher, hence a recompute, never a miss.
      const points = await o.stats.pointCount(job)
      const { stats, timeline } = await o.stats.statsAndTimeline({ ...job, summary: undefined })
      const { previousRuns: _previous, ...kept } = stats
      await o.store.update(
        (d) => {
          const j = d.jobs[jobId]
          if (j) j.summary = { state: 'done', computedAt: new Date(now()).toISOString(), stats: kept as Record<string, unknown>, points }
        },
        [jobId],
      )
      attempts.delete(jobId)
      o.onDone?.(jobId)
      const prev = stats.previousRuns.map((r) => o.store.data.jobs[r.id]).find((j) => j?.summary?.state === 'done' && j.summary.stats)
      await o.writer?.write([
        summaryLine(job, stats, prev && { id: prev.id, stats: prev.summary!.stats as unknown as JobStats }),
        ...timelineLines(job, timeline),
      ])
      return stats
    } catch (err) {
      await failed(jobId, err)
      return undefined
    }
  }

  const failed = async (jobId: string, err: unknown) => {
    const n = (attempts.get(jobId) ?? 0) + 1
    attempts.set(jobId, n)
    const delay = Math.min((o.retryMs ?? 30_000) * 2 ** (n - 1), 600_000)
    o.log.warn('Job summary not computed; will retry', { job: jobId, attempt: n, retryInMs: delay, error: messageOf(err) })
    await o.store
      .update(
        (d) => {
          const j = d.jobs[jobId]
          if (j && j.summary?.state !== 'done') j.summary = { state: 'pending', lastError: messageOf(err) }
        },
        [jobId],
      )
      .catch(() => {})
    at(jobId, now() + delay)
  }

  const ready = async (job: Job): Promise<boolean> => {
    if (job.backfill) return false // its series lacks the polls before a late attachment (stats/backfill.ts)
    if (!o.delivered) return true
    const until = Date.parse(job.endedAt!) / 1000 + o.intervalSeconds
    if (await o.delivered(job.cluster, until)) return true
    // Counted from InfluxDB's first answer, not from the job's end: after a long outage the spool still needs its time.
    const since = waitingSince.get(job.id) ?? now()
    waitingSince.set(job.id, since)
    if (now() - since < (o.maxWaitMs ?? 900_000)) return false
    o.log.warn('No collector point after the job: summary computed from the points there are', { job: job.id, cluster: job.cluster })
    return true
  }

  const check: Summaries['check'] = async (jobId) => {
    due.delete(jobId)
    const job = o.store.data.jobs[jobId]
    if (!job?.endedAt || job.status === 'running') return 'skipped'
    try {
      if (job.summary?.state === 'done') {
        rechecked.set(jobId, (rechecked.get(jobId) ?? 0) + 1)
        nextRecheck(jobId)
        if ((await o.stats.pointCount(job)) <= (job.summary.points ?? Infinity)) return 'unchanged'
        o.log.info('Points delivered after the job summary; recomputing it', { job: jobId, used: job.summary.points })
        return (await compute(jobId)) ? 'recomputed' : 'failed'
      }
      if (!(await ready(job))) {
        at(jobId, now() + (o.checkMs ?? 10_000))
        return 'waiting'
      }
    } catch (err) {
      await failed(jobId, err)
      return 'failed'
    }
    if (!(await compute(jobId))) return 'failed'
    waitingSince.delete(jobId)
    rechecked.set(jobId, 0)
    nextRecheck(jobId)
    return 'computed'
  }

  const schedule = (jobId: string) => {
    const job = o.store.data.jobs[jobId]
    if (!job?.endedAt) return
    at(jobId, Date.parse(job.endedAt) + o.intervalSeconds * 1000 + (o.graceMs ?? 15_000))
  }

  for (const job of Object.values(o.store.data.jobs)) if (job.status !== 'running' && job.summary?.state !== 'done') schedule(job.id)

  return {
    schedule,
    compute,
    check,
    stop() {
      due.clear()
      return pump.stop()
    },
  }
}

/** The automatic tags a job's stored summary recorded (none before it is computed). */
export function summaryTags(job: Pick<Job, 'summary'> | undefined): string[] {
  const tags = (job?.summary?.stats as { tags?: unknown } | undefined)?.tags
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : []
}

/** The regression flags in words a job's stored summary recorded (none without history or changes). */
export function summaryFlags(job: Pick<Job, 'summary'> | undefined): string[] {
  const flags = (job?.summary?.stats as { regression?: { flags?: unknown } } | undefined)?.regression?.flags
  return Array.isArray(flags) ? flags.map((f) => String((f as { text?: unknown })?.text)) : []
}
