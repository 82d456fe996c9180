import { ActivityAccumulator, type ActivityAggregates } from './compute.ts'
import { jobActivityQuery, type ActivitySelector, type ActivitySource } from './model.ts'

/**
 * Live aggregates of running jobs, kept incrementally so that a stats call reads only the polls
 * since the previous one (issue #4: a 1-hour job with 500 clients is ~120k points, ~1 s for influxd
 * 1.6.7 to return; the last two polls are ~4k).
 *
 * Per running job an {@link ActivityAccumulator} holds every point up to a *settled* time S, whose
 * weights can no longer change (S ≤ now − I − {@link LiveOptions.settleSeconds}, so each folded
 * point's interval lies inside the window even with some clock skew between collector and API).
 * Each call:
 * 1. counts the job's points in (start, S] — one `count()`, milliseconds — and starts over when the
 *    number differs from what was folded: a point delivered late (spool replay after an InfluxDB
 *    outage) or removed is never silently missed;
 * 2. reads the points after S, folds those now settled, and adds the rest to a copy for this answer.
 * A change of the job's clients, paths, start or poll interval starts over too.
 */
export interface LiveOptions {
  /** extra seconds beyond one poll interval before a point is folded for good @defaultValue 30 */
  settleSeconds?: number
  /** running jobs kept @defaultValue 1000 */
  maxJobs?: number
}

interface Entry {
  key: string
  acc: ActivityAccumulator
  /** epoch ms: every point with t ≤ settledMs is in `acc` */
  settledMs: number
  /** calls on one job run one after the other (the second reuses the first's work) */
  queue: Promise<unknown>
}

/** Where a live answer came from, for logs and benchmarks. */
export interface LiveInfo {
  /** true when the job's points were read from its start (first call, or the cache was invalid) */
  full: boolean
  /** points read by this call */
  rowsRead: number
}

export class LiveAggregates {
  private readonly entries = new Map<string, Entry>()
  private readonly settleMs: number
  private readonly maxJobs: number

  constructor(
    private readonly source: ActivitySource,
    opts: LiveOptions = {},
  ) {
    this.settleMs = (opts.settleSeconds ?? 30) * 1000
    this.maxJobs = opts.maxJobs ?? 1000
  }

  /** The aggregates of a running job's window [start, end = now], from its attributed series. */
  async aggregates(jobId: string, s: ActivitySelector): Promise<ActivityAggregates & LiveInfo> {
    const key = JSON.stringify([s.startMs, s.intervalSeconds, s.cluster, [...s.clients].sort(), [...s.paths].sort()])
    let entry = this.entries.get(jobId)
    if (!entry || entry.key !== key) entry = { key, acc: new ActivityAccumulator(), settledMs: s.startMs, queue: Promise.resolve() }
    this.entries.delete(jobId) // re-inserted last: the Map's order is the order of use
    this.entries.set(jobId, entry)
    this.evict()
    const e = entry
    const run = e.queue.then(() => this.refresh(jobId, e, s))
    e.queue = run.catch(() => undefined)
    return run
  }

  /** Forgets a job (completed or deleted). */
  forget(jobId: string): void {
    this.entries.delete(jobId)
  }

  /** Running jobs held. */
  get size(): number {
    return this.entries.size
  }

  private async refresh(jobId: string, e: Entry, s: ActivitySelector): Promise<ActivityAggregates & LiveInfo> {
    let full = e.settledMs <= s.startMs
    if (!full) {
      const stored = await this.source.count(jobActivityQuery(jobId, s, { fromMs: s.startMs, toMs: e.settledMs + 1 }))
      if (stored !== e.acc.points) {
        e.acc = new ActivityAccumulator()
        e.settledMs = s.startMs
        full = true
      }
    }
    const rows = await this.source.rows(jobActivityQuery(jobId, s, { fromMs: e.settledMs, toMs: s.endMs + s.intervalSeconds * 1000 }))
    const settle = Math.max(e.settledMs, s.endMs - s.intervalSeconds * 1000 - this.settleMs)
    const settled = rows.filter((r) => r.time * 1000 <= settle)
    const tail = rows.filter((r) => r.time * 1000 > settle)
    e.acc.add(settled, s)
    e.settledMs = settle
    const answer = tail.length ? e.acc.clone().add(tail, s) : e.acc
    return { ...answer.result(s), full, rowsRead: rows.length }
  }

  /** Drops the least recently used entries beyond `maxJobs`. */
  private evict(): void {
    for (const id of this.entries.keys()) {
      if (this.entries.size <= this.maxJobs) break
      this.entries.delete(id)
    }
  }
}
