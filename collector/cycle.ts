import { clip, type Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import type { QumuloClient } from '../qumulo/client.ts'
import { isMissingDirectory } from '../qumulo/errors.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'
import { sumBySeries, activityLines, clusterActivityLine, type ActivitySeries } from './activity.ts'
import type { Rollup, RollupStep } from './rollup.ts'
import { capacityLine, clusterLine } from '../lib/capacity-points.ts'
import { PathRule } from './path-rule.ts'
import { fitBudget } from './series-budget.ts'
import { UNRESOLVED_PATH } from '../lib/schema.ts'
import type { PathResolver } from './resolver.ts'
import { selfMetricsLine } from './self-metrics.ts'
import type { StateLog } from './state-log.ts'
import { JobIndex, jobActivityLines } from './attribution.ts'
import type { CycleScope } from './watched.ts'
import pLimit from 'p-limit'

/** Everything one poll cycle needs, passed in so tests can point it at a simulator and a real InfluxDB. */
export interface CycleDeps {
  qumulo: QumuloClient
  writer: DurableWriter
  resolver: PathResolver
  /** `cluster` tag value */
  cluster: string
  /** `QACTIVITY_PATH_DEPTH` */
  pathDepth: number
  /** `QACTIVITY_MAX_SERIES_PER_CYCLE`: activity series above it collapse the deepest unwatched paths */
  maxSeries: number
  /** poll interval I, seconds: each poll stands for (t − I, t] */
  intervalSeconds: number
  /** The running activity rollup (`QACTIVITY_ROLLUP_PERIOD`); undefined: none written. */
  rollup?: Rollup
  /** What the cycle stamped `time` (epoch s) watches and attributes activity to. */
  scope: (time: number) => Promise<CycleScope>
  log: Logger
  /** Failures logged once per change of state, across cycles. */
  states: StateLog
  /** Watched paths checked this cycle: the problem of each one Qumulo says is not a directory, undefined for the others. */
  onPathStates?: (states: Map<string, string | undefined>) => void | Promise<void>
}

/** What one cycle did; also written as the `qactivity_collector` self-metrics point. */
export interface CycleReport {
  /** poll time, epoch seconds (the timestamp of every point of the cycle) */
  time: number
  /** true when every endpoint answered and every point was accepted by the spool */
  success: boolean
  durationSeconds: number
  /** valid activity entries served */
  entries: number
  /** entries dropped as malformed (unknown type, bad ip or rate); the client logs an example */
  rejectedEntries: number
  /** points handed to the writer, self-metrics excluded */
  points: number
  /** jobs activity was attributed to (running, or in their end grace) */
  jobs: number
  /**
   * The job list was the one given for the poll stamped this (epoch s; 0 for none), the job source
   * having failed or answered late; undefined when it was this poll's. Jobs created since lack this poll.
   */
  jobsStaleSince?: number
  /** `qactivity_job_activity` points among `points` */
  jobPoints: number
  /** `qumulo_activity` series written (after the series budget) */
  series: number
  /** distinct unwatched path tags the series budget merged into shallower ones; 0 within budget */
  collapsedPaths: number
  /** seconds between the tick and the cycle's start: a late cycle measures a later moment */
  latenessSeconds: number
  resolveCalls: number
  /** ids sent to `/v1/files/resolve` */
  resolvedIds: number
  /** cache hits / ids looked up, 0..1 (1 when there was nothing to look up) */
  cacheHitRate: number
  cacheSize: number
  /** what failed this cycle: `activity`, `activity-entries`, `resolve`, `file-system`, `aggregates <path>`, `watched-paths` */
  failedEndpoints: string[]
  /** watched paths that Qumulo says do not exist or are not directories: a job's problem, not the cluster's */
  failedPaths: number
  /** points refused because the spool is full */
  droppedPoints: number
  /** ticks skipped because the previous cycle overran */
  skippedTicks: number
}

interface Collected {
  lines: string[]
  failed: string[]
}

interface ActivityCollected extends Collected {
  /** the series written (after the budget); undefined when Qumulo did not answer */
  series?: ActivitySeries[]
}

interface CapacityCollected extends Collected {
  /** path → its problem (undefined: fine), for the paths whose check was conclusive */
  pathStates: Map<string, string | undefined>
}

async function collectActivity(
  deps: CycleDeps,
  fetching: ReturnType<QumuloClient['activity']>,
  rule: PathRule,
  index: JobIndex,
  time: number,
  report: CycleReport,
): Promise<ActivityCollected> {
  const out: ActivityCollected = { lines: [], failed: [] }
  let served
  try {
    served = await fetching
  } catch (err) {
    deps.states.fail('activity', 'Activity poll failed', { endpoint: 'activity', error: messageOf(err) }, 'error')
    return { lines: [], failed: ['activity'] }
  }
  deps.states.ok('activity', 'Activity poll recovered', { endpoint: 'activity' })
  report.entries = served.entries.length
  report.rejectedEntries = served.rejected
  if (served.rejected) out.failed.push('activity-entries')
  const resolved = await deps.resolver.resolveAll(served.entries.map((e) => e.id))
  report.resolveCalls = resolved.calls
  report.resolvedIds = resolved.misses
  report.cacheHitRate = resolved.hits + resolved.misses ? resolved.hits / (resolved.hits + resolved.misses) : 1
  if (resolved.errors.length) {
    out.failed.push('resolve')
    deps.states.fail(
      'resolve',
      'Resolve failed; activity kept as unresolved',
      { ids: resolved.failed, error: messageOf(resolved.errors[0]) },
      'error',
    )
  } else deps.states.ok('resolve', 'Resolve recovered')
  const series = sumBySeries(served.entries, (id) => rule.tagFor(resolved.directories.get(id) ?? ''))
  const fit = fitBudget(series, deps.maxSeries, (path) => path === UNRESOLVED_PATH || rule.isWatched(path))
  report.series = fit.series.length
  report.collapsedPaths = fit.collapsedPaths
  if (fit.collapsedPaths || fit.over) {
    const fields = {
      series: series.length,
      budget: deps.maxSeries,
      written: fit.series.length,
      depth: fit.depth,
      collapsedPaths: fit.collapsedPaths,
    }
    deps.states.fail('series-budget', 'Over the series budget: the deepest unwatched paths are collapsed', fields, 'warn')
  } else deps.states.ok('series-budget', 'Series within the budget again')
  out.series = fit.series
  out.lines = [...activityLines(fit.series, deps.cluster, time), clusterActivityLine(fit.series, deps.cluster, time)]
  // Attributed from the series before the budget (the same jobs either way: their paths are watched).
  // Attributed in the same write as the raw points: delivered (or spooled) together, never one without the other.
  const attributed = jobActivityLines(series, index, deps.cluster, time, deps.intervalSeconds)
  report.jobPoints = attributed.length
  out.lines.push(...attributed)
  return out
}

async function collectCapacity(deps: CycleDeps, watched: string[], time: number): Promise<CapacityCollected> {
  const out: CapacityCollected = { lines: [], failed: [], pathStates: new Map() }
  const tasks: Array<() => Promise<void>> = [
    async () => {
      try {
        out.lines.push(clusterLine(deps.cluster, await deps.qumulo.fileSystem(), time))
        deps.states.ok('file-system', 'File-system poll recovered', { endpoint: 'file-system' })
      } catch (err) {
        out.failed.push('file-system')
        deps.states.fail('file-system', 'File-system poll failed', { endpoint: 'file-system', error: messageOf(err) }, 'error')
      }
    },
    ...watched.map((path) => async () => {
      const key = `aggregates ${path}`
      const fields = { endpoint: 'aggregates', path: clip(path) }
      try {
        out.lines.push(capacityLine(deps.cluster, path, await deps.qumulo.aggregates(path), time))
        out.pathStates.set(path, undefined)
        deps.states.ok(key, 'Aggregates poll recovered', fields)
      } catch (err) {
        const missing = isMissingDirectory(err)
        if (missing) out.pathStates.set(path, `${clip(path)}: ${err.status === 404 ? 'no such directory' : 'not a directory'} on Qumulo`)
        else out.failed.push(key)
        deps.states.fail(key, missing ? 'Watched path is not a directory on Qumulo' : 'Aggregates poll failed', {
          ...fields,
          error: messageOf(err),
        })
      }
    }),
  ]
  const limit = pLimit(4)
  await Promise.all(tasks.map((task) => limit(task)))
  return out
}

/** A cycle's report before anything happened: nothing counted, nothing failed yet, not a success. */
export function emptyReport(time: number, skippedTicks: number): CycleReport {
  return {
    time,
    success: false,
    durationSeconds: 0,
    entries: 0,
    rejectedEntries: 0,
    points: 0,
    jobs: 0,
    jobPoints: 0,
    series: 0,
    collapsedPaths: 0,
    latenessSeconds: 0,
    resolveCalls: 0,
    resolvedIds: 0,
    cacheHitRate: 1,
    cacheSize: 0,
    failedEndpoints: [],
    failedPaths: 0,
    droppedPoints: 0,
    skippedTicks,
  }
}

/**
 * One poll: activity → resolve → aggregate, and in parallel cluster and watched-path capacity; then
 * one durable write of every point plus the self-metrics point. A failing endpoint is logged and
 * counted and the rest of the cycle still runs.
 */
export async function runCycle(deps: CycleDeps, time: number, skippedTicks = 0): Promise<CycleReport> {
  const started = performance.now()
  const report = emptyReport(time, skippedTicks)
  report.latenessSeconds = Math.max(0, Date.now() / 1000 - time)
  // Qumulo's current rates are asked for first: the job list, which may come from another thread, never delays them.
  const fetching = deps.qumulo.activity()
  fetching.catch(() => {}) // handled in collectActivity
  let scope: CycleScope = { paths: [], jobs: [] }
  try {
    scope = await deps.scope(time)
    deps.states.ok('watched-paths', 'Watched paths available again')
  } catch (err) {
    report.failedEndpoints.push('watched-paths')
    deps.states.fail('watched-paths', 'Watched paths unavailable', { error: messageOf(err) }, 'error')
  }
  const rule = new PathRule(scope.paths, deps.pathDepth)
  const index = new JobIndex(scope.jobs)
  report.jobs = scope.jobs.length
  report.jobsStaleSince = scope.staleSince
  const [activity, capacity] = await Promise.all([
    collectActivity(deps, fetching, rule, index, time, report),
    collectCapacity(deps, scope.paths, time),
  ])
  const rollup = await stepRollup(deps, time, activity.series)
  const lines = [...activity.lines, ...capacity.lines, ...rollup.lines]
  report.failedEndpoints.push(...activity.failed, ...capacity.failed)
  report.failedPaths = [...capacity.pathStates.values()].filter(Boolean).length
  await recordPathStates(deps, capacity.pathStates)
  report.points = lines.length
  report.cacheSize = deps.resolver.size
  const written = await deps.writer.write(lines)
  report.droppedPoints = written.dropped
  if (!written.dropped) await commitRollup(deps, rollup)
  report.success = report.failedEndpoints.length === 0 && written.dropped === 0
  report.durationSeconds = (performance.now() - started) / 1000
  // essential: the one point saying the spool is full must not be refused by the full spool
  await deps.writer.write([selfMetricsLine(deps.cluster, report, deps.writer.stats())], { essential: true })
  return report
}

const NO_STEP: RollupStep = { lines: [] }

async function stepRollup(deps: CycleDeps, time: number, series: ActivitySeries[] | undefined): Promise<RollupStep> {
  if (!deps.rollup) return NO_STEP
  const problem = (error: string) => deps.log.error('Rollup state unreadable; the running period starts afresh', { error })
  return deps.rollup.step(time, series, problem)
}

async function commitRollup(deps: CycleDeps, step: RollupStep): Promise<void> {
  try {
    await deps.rollup?.commit(step)
  } catch (err) {
    // Kept in memory: only a restart before the next successful save loses the running period's polls.
    deps.states.fail('rollup-save', 'Rollup state not saved', { error: messageOf(err) })
    return
  }
  deps.states.ok('rollup-save', 'Rollup state saved again')
}

async function recordPathStates(deps: CycleDeps, states: Map<string, string | undefined>): Promise<void> {
  try {
    await deps.onPathStates?.(states)
  } catch (err) {
    deps.states.fail('path-states', 'Path problems not recorded on jobs', { error: messageOf(err) })
    return
  }
  deps.states.ok('path-states', 'Path problems recorded on jobs again')
}
