import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import { jobActivityLine, secondsInWindow } from '../lib/job-scope.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'
import { startPump } from '../lib/pump.ts'
import type { Job, StoreData } from '../jobs/types.ts'
import type { DeliveredCheck } from './delivered.ts'
import { activityQuery, type ActivitySelector, type ActivitySource } from './model.ts'

/** A backfill of a job tied to no cluster, where no cluster is configured: it cannot be done. */
export class NoClusterError extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} is tied to no cluster and no cluster is configured (QUMULO_CLUSTER or QACTIVITY_CLUSTERS_FILE): not backfilled`)
  }
}

/** Polls read per query: a backfill of a long job reads its raw points in bounded pieces. */
const POLLS_PER_QUERY = 360

/** What {@link backfillJob} needs. */
export interface BackfillDeps {
  source: ActivitySource
  writer: Pick<DurableWriter, 'write' | 'flush'>
  /** poll interval I, seconds */
  intervalSeconds: number
  /** the configured clusters: a job of every cluster (`""`) is backfilled per cluster, its series tagged with each */
  clusters: readonly string[]
  /** the job's clients as stored `client_ip` values (CIDRs expanded; stats/service.ts `clientValues`) */
  clientValues: (job: Pick<Job, 'clients' | 'cluster'>) => Promise<string[]>
}

/**
 * Writes a job's attributed series (`qactivity_job_activity`) for the polls (start, until + I] (or
 * only those from `fromMs` on) from the raw points, with the job's clients and paths as they are now: what the collector would have
 * written had it known them from the start. Polls the collector did attribute are written again with
 * the same values (same series and time: InfluxDB keeps one), so a backfill never counts twice. Paths
 * attached late are matched on the raw points' `path` tags: activity that was tagged with a coarser
 * path then (the path was not watched) cannot be told apart and is not attributed by path.
 * Returns the number of lines written.
 */
export async function backfillJob(job: Job, untilMs: number, deps: BackfillDeps, fromMs?: number): Promise<number> {
  const startMs = Date.parse(job.startedAt)
  const endMs = job.endedAt ? Date.parse(job.endedAt) : undefined
  const I = deps.intervalSeconds
  // A job of every cluster is backfilled per configured cluster. With none known (a split `api` without
  // QUMULO_CLUSTER or a clusters file) the collectors' `cluster` tags are unknown here: writing the
  // series untagged would add a second series beside theirs, so nothing is written.
  const clusters = job.cluster ? [job.cluster] : deps.clusters
  if (!clusters.length) throw new NoClusterError(job.id)
  const lastMs = Math.min(untilMs, endMs ?? Infinity) + I * 1000
  let written = 0
  for (const cluster of clusters) {
    const clients = await deps.clientValues({ clients: job.clients, cluster })
    const selector: ActivitySelector = {
      startMs,
      endMs: endMs ?? untilMs,
      intervalSeconds: I,
      clients,
      paths: job.paths,
      cluster: cluster || undefined,
    }
    // From the poll overlapping `fromMs` (its interval starts one I before it).
    const firstMs = fromMs === undefined ? startMs : Math.max(startMs, fromMs - I * 1000)
    for (let from = firstMs; from < lastMs; from += POLLS_PER_QUERY * I * 1000) {
      const rows = await deps.source.rows(
        activityQuery(selector, { fromMs: from, toMs: Math.min(lastMs, from + POLLS_PER_QUERY * I * 1000) + 1 }),
      )
      const lines: string[] = []
      for (const r of rows) {
        const seconds = secondsInWindow(r.time, I, { startMs, endMs })
        if (seconds > 0)
          lines.push(jobActivityLine({ id: job.id, name: job.name, startMs }, cluster, r.client, r.path, r.values, seconds, r.time))
      }
      if (lines.length) await deps.writer.write(lines)
      written += lines.length
    }
  }
  return written
}

/** The store calls the backfill schedule needs (a subset of jobs/store.ts `JobStore`). */
export interface BackfillStore {
  readonly data: StoreData
  update<R>(fn: (data: StoreData) => R, touched?: readonly string[]): Promise<R>
}

/** Options of {@link startBackfills}. */
export interface BackfillOptions extends BackfillDeps {
  store: BackfillStore
  log: Logger
  /** whether the job's cluster's points up to a time are all in InfluxDB (stats/delivered.ts) */
  delivered?: DeliveredCheck
  /** how often a backfill waiting for its points or failing looks again, ms @defaultValue 10000 */
  checkMs?: number
  now?: () => number
}

/** Runs the backfills jobs ask for (`job.backfill`), one at a time, in the background. */
export interface Backfills {
  /** Looks at a job's backfill now (called when one is asked for). */
  kick(jobId: string): void
  stop(): Promise<void>
}

/**
 * The schedule of backfills: a job asks for one by carrying `backfill.until` (set durably when
 * clients or paths are attached to it: jobs/service.ts), so a restart resumes it. Each runs once the
 * job's cluster's points up to `until + I` are in InfluxDB, then clears the request unless a later
 * attachment moved `until` meanwhile. The summary of a completed job waits for it.
 */
export function startBackfills(o: BackfillOptions): Backfills {
  const now = o.now ?? Date.now
  const due = new Map<string, number>()
  for (const j of Object.values(o.store.data.jobs)) if (j.backfill) due.set(j.id, 0)

  const run = async (jobId: string): Promise<void> => {
    const job = o.store.data.jobs[jobId]
    const until = job?.backfill?.until
    if (!job || !until) return
    const asked = job.backfill!
    const untilMs = Date.parse(until)
    try {
      if (o.delivered && !(await o.delivered(job.cluster, untilMs / 1000 + o.intervalSeconds))) {
        due.set(jobId, now() + (o.checkMs ?? 10_000))
        return
      }
      const lines = await backfillJob(job, untilMs, o, asked.from === undefined ? undefined : Date.parse(asked.from))
      // Asked for until InfluxDB has the lines: stats and the summary read them from there.
      await o.writer.flush()
      await o.store.update(
        (d) => {
          const j = d.jobs[jobId]
          // Unless a later request widened it meanwhile.
          if (j?.backfill?.until === until && j.backfill.from === asked.from) delete j.backfill
        },
        [jobId],
      )
      o.log.info('Job backfilled from raw points', { job: jobId, until, lines })
    } catch (err) {
      if (err instanceof NoClusterError) {
        o.log.error('Job not backfilled', { job: jobId, error: err.message })
        await o.store.update((d) => void delete d.jobs[jobId]?.backfill, [jobId]).catch(() => {})
        return
      }
      o.log.warn('Job backfill failed; will retry', { job: jobId, error: messageOf(err) })
      due.set(jobId, now() + (o.checkMs ?? 10_000))
    }
  }

  const pump = startPump({
    now,
    onError: (err) => o.log.error('Backfill schedule failed', { error: messageOf(err) }),
    async step() {
      let next: [string, number] | undefined
      for (const e of due) if (!next || e[1] < next[1]) next = e
      if (!next) return undefined
      if (next[1] > now()) return next[1]
      due.delete(next[0])
      await run(next[0])
      return 'again'
    },
  })
  return {
    kick(jobId) {
      due.set(jobId, 0)
      pump.kick()
    },
    stop: () => pump.stop(),
  }
}
