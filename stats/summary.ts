import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import { MEASUREMENT, ACTIVITY_FIELDS } from '../lib/schema.ts'
import { toLine, type FieldValue } from '../lib/influx/line-protocol.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'
import type { Job, StoreData } from '../api/types.ts'
import type { JobStats, StatsService } from './service.ts'

/** The store calls a summariser needs (a subset of api/store.ts `JobStore`). */
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
  /** called after a job's summary is stored (the completion report waits for it) */
  onDone?: (jobId: string) => void
  /** summaries computed at once (after a restart thousands can be due) @defaultValue 2 */
  concurrency?: number
}

/** Schedules and computes completed jobs' summaries. */
export interface Summaries {
  /** Schedules the summary of a just-completed job (no-op for running ones). */
  schedule(jobId: string): void
  /** Computes now, whatever the schedule (tests, an admin recompute); idempotent. */
  compute(jobId: string): Promise<JobStats | undefined>
  stop(): void
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
  if (previous) {
    fields.previous_job_id = previous.id
    for (const f of ACTIVITY_FIELDS) {
      const before = previous.stats.activity[f]?.total
      if (typeof before === 'number' && before !== 0) fields[`${f}_total_change_pct`] = ((s.activity[f].total - before) / before) * 100
    }
  }
  return toLine({ measurement: MEASUREMENT.jobSummary, tags: { job_id: job.id, job_name: job.name, cluster: job.cluster }, fields, time: Date.parse(job.endedAt!) / 1000 })
}

/** `qactivity_job_timeline`: the job's series (≤ 240 points) for its report charts, stamped at each poll (group). */
export function timelineLines(job: Pick<Job, 'id' | 'name' | 'cluster'>, timeline: ReadonlyArray<{ time: number; values: number[] }>): string[] {
  return timeline.map((p) =>
    toLine({ measurement: MEASUREMENT.jobTimeline, tags: { job_id: job.id, job_name: job.name, cluster: job.cluster }, fields: Object.fromEntries(ACTIVITY_FIELDS.map((f, i) => [f, p.values[i]])), time: p.time }),
  )
}

/**
 * Computes each completed job's aggregates once, after `end + interval + grace` (when the last poll
 * overlapping the job is in InfluxDB), stores them on the job and writes `qactivity_job_summary`.
 * While InfluxDB fails the summary stays `pending` with the error and is retried; at start every
 * completed job without a finished summary is scheduled again. Recomputing writes the same point.
 */
export function startSummaries(o: SummaryOptions): Summaries {
  const now = o.now ?? Date.now
  const timers = new Map<string, NodeJS.Timeout>()
  const attempts = new Map<string, number>()
  let stopped = false

  // Due summaries wait in line: each reads a job's points, and a restart can find thousands due.
  const due: string[] = []
  let active = 0
  const drain = () => {
    while (!stopped && active < (o.concurrency ?? 2) && due.length) {
      active++
      void compute(due.shift()!).finally(() => {
        active--
        drain()
      })
    }
  }
  const at = (jobId: string, whenMs: number) => {
    clearTimeout(timers.get(jobId))
    if (stopped) return
    timers.set(
      jobId,
      setTimeout(() => {
        timers.delete(jobId)
        due.push(jobId)
        drain()
      }, Math.max(0, whenMs - now())).unref(),
    )
  }

  const compute = async (jobId: string): Promise<JobStats | undefined> => {
    timers.delete(jobId)
    const job = o.store.data.jobs[jobId]
    if (!job || job.status === 'running') return undefined
    try {
      const { stats, timeline } = await o.stats.statsAndTimeline({ ...job, summary: undefined })
      const { previousRuns: _previous, ...kept } = stats
      await o.store.update((d) => {
        const j = d.jobs[jobId]
        if (j) j.summary = { state: 'done', computedAt: new Date(now()).toISOString(), stats: kept as Record<string, unknown> }
      }, [jobId])
      attempts.delete(jobId)
      o.onDone?.(jobId)
      const prev = stats.previousRuns.map((r) => o.store.data.jobs[r.id]).find((j) => j?.summary?.state === 'done' && j.summary.stats)
      await o.writer?.write([summaryLine(job, stats, prev && { id: prev.id, stats: prev.summary!.stats as unknown as JobStats }), ...timelineLines(job, timeline)])
      return stats
    } catch (err) {
      const n = (attempts.get(jobId) ?? 0) + 1
      attempts.set(jobId, n)
      const delay = Math.min((o.retryMs ?? 30_000) * 2 ** (n - 1), 600_000)
      o.log.warn('Job summary not computed; will retry', { job: jobId, attempt: n, retryInMs: delay, error: messageOf(err) })
      await o.store
        .update((d) => {
          const j = d.jobs[jobId]
          if (j) j.summary = { state: 'pending', lastError: messageOf(err) }
        }, [jobId])
        .catch(() => {})
      at(jobId, now() + delay)
      return undefined
    }
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
    stop() {
      stopped = true
      for (const t of timers.values()) clearTimeout(t)
      timers.clear()
    },
  }
}
