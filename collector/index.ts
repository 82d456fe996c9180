import type { Config } from '../lib/config.ts'
import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'
import type { QumuloClient } from '../qumulo/client.ts'
import { emptyReport, runCycle, type CycleDeps, type CycleReport } from './cycle.ts'
import { PathResolver } from './resolver.ts'
import { Rollup, rollupFile } from './rollup.ts'
import { startTicker, type Ticker } from './schedule.ts'
import { createStateLog } from './state-log.ts'
import { cycleScope, type JobSource } from './watched.ts'

/** A running or runnable collector. */
export interface Collector {
  /** One cycle stamped `time` (epoch seconds, default: the current grid time). Never throws. */
  runOnce(time?: number): Promise<CycleReport>
  /** Polls on the fixed grid until {@link Collector.stop}. */
  start(): void
  /** Stops polling and waits for the running cycle; the writer is the caller's to close. */
  stop(): Promise<void>
  /** The last cycle's outcome, for `/healthz`. */
  status(): CollectorStatus
}

/** How a cluster's collector is doing (`/healthz` → `clusters.<name>`). */
export interface CollectorStatus {
  cluster: string
  /** false once a cycle failed, until one succeeds; true before the first cycle */
  ok: boolean
  /** poll time of the last cycle, ISO; absent before the first */
  lastCycle?: string
  /** what failed in the last cycle (see CycleReport.failedEndpoints) */
  failed?: string[]
  /** failed cycles in a row */
  failedCycles: number
  /** activity series of the last cycle, and the unwatched paths the series budget collapsed (0: within it) */
  series?: number
  collapsedPaths?: number
}

/** Dependencies of {@link createCollector}. */
export interface CollectorOptions {
  config: Pick<Config, 'collector' | 'qumulo' | 'storage'>
  qumulo: QumuloClient
  writer: DurableWriter
  log: Logger
  /** The jobs to attribute activity to and whose paths to watch (optional). */
  jobs?: JobSource
  /** Told every cycle which watched paths Qumulo says are not directories (`serve` records it on the jobs). */
  onPathStates?: CycleDeps['onPathStates']
  /** Called after each scheduled cycle (tests, logging). */
  onCycle?: (report: CycleReport) => void
  /**
   * Called after a cycle that attributed with the job list of an earlier poll (`sinceS`; the job
   * source failed or was late): jobs created or changed since lack the poll `tickS` (`serve` backfills them).
   */
  onStaleJobs?: (tickS: number, sinceS: number) => void
}

export function createCollector(o: CollectorOptions): Collector {
  const c = o.config.collector
  const cluster = o.config.qumulo.cluster
  const deps: CycleDeps = {
    qumulo: o.qumulo,
    writer: o.writer,
    resolver: new PathResolver(o.qumulo, c.resolveCacheSize, c.resolveCacheTtlSeconds * 1000),
    cluster,
    pathDepth: c.pathDepth,
    maxSeries: c.maxSeriesPerCycle,
    intervalSeconds: c.pollSeconds,
    rollup: c.rollupSeconds
      ? new Rollup(cluster, c.rollupSeconds, c.pollSeconds, rollupFile(o.config.storage.dataDir, cluster))
      : undefined,
    scope: cycleScope(c.watchPaths, o.jobs, o.log),
    log: o.log,
    states: createStateLog(o.log),
    onPathStates: o.onPathStates,
  }
  let ticker: Ticker | undefined
  const status: CollectorStatus = { cluster: deps.cluster, ok: true, failedCycles: 0 }
  const record = (r: CycleReport) => {
    status.lastCycle = new Date(r.time * 1000).toISOString()
    status.ok = r.success
    status.series = r.series
    status.collapsedPaths = r.collapsedPaths
    status.failedCycles = r.success ? 0 : status.failedCycles + 1
    if (r.success) delete status.failed
    else status.failed = r.failedEndpoints
    return r
  }

  const runOnce = async (time = Math.floor(Date.now() / 1000 / c.pollSeconds) * c.pollSeconds, skipped = 0) => {
    try {
      const report = await runCycle(deps, time, skipped)
      const fields = { time: report.time, entries: report.entries, points: report.points, seconds: report.durationSeconds.toFixed(3) }
      if (report.success) o.log.debug('Cycle done', fields)
      // Each failing endpoint or path already logged once when it began failing; the self-metrics point says the rest.
      else
        o.log.debug('Cycle incomplete', { ...fields, failed: report.failedEndpoints.join(',') || undefined, dropped: report.droppedPoints })
      return record(report)
    } catch (err) {
      // Only the writer can throw here (e.g. the spool directory vanished): report and keep polling.
      o.log.error('Cycle failed', { time, error: messageOf(err) })
      return record({ ...emptyReport(time, skipped), cacheHitRate: 0, failedEndpoints: ['write'] })
    }
  }

  return {
    runOnce: (time) => runOnce(time),
    start() {
      ticker = startTicker(c.pollSeconds, async (tick, skipped) => {
        if (skipped) o.log.warn('Cycle overran the poll interval; ticks skipped', { skipped })
        const report = await runOnce(tick, skipped)
        if (report.jobsStaleSince !== undefined) o.onStaleJobs?.(tick, report.jobsStaleSince)
        o.onCycle?.(report)
      })
    },
    async stop() {
      ticker?.stop()
      await ticker?.done
    },
    status: () => ({ ...status, ...(status.failed ? { failed: [...status.failed] } : {}) }),
  }
}
