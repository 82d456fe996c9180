import ipaddr from 'ipaddr.js'
import type { ActivityField } from '../lib/schema.ts'
import { ACTIVITY_FIELDS } from '../lib/schema.ts'
import type { CapacityReading, Job, JobStatus, PathCapacity } from '../jobs/types.ts'
import type { CapacityFigures } from '../lib/capacity-points.ts'
import { canonicalAddress } from '../lib/addresses.ts'
import { aggregateActivity, type ActivityAggregates, type TimelinePoint, type FieldAggregate } from './compute.ts'
import { LiveAggregates, type LiveOptions } from './live.ts'
import { jobActivityQuery, type ActivitySelector } from './model.ts'
import type { ActivitySource } from './model.ts'
import { messageOf } from '../lib/errors.ts'
import { shareOf, type ClusterActivity, type ClusterShare } from './share.ts'
import { profileOf, tagsOf, type IoProfile, type JobTag, type TagRules } from './profile.ts'
import { regressionOf, type Regression } from './regression.ts'

/** start, end and end − start of a capacity figure; null where a reading is missing. */
export interface Growth {
  start: number | null
  end: number | null
  delta: number | null
}

/**
 * Capacity growth of one job path. The readings are taken when the path is attached and when
 * `complete` is called (live for a running job), not at a back-dated end: `startAt` and `endAt` say
 * when, null where a reading is missing.
 */
export interface CapacityGrowth {
  path: string
  startAt: string | null
  endAt: string | null
  usedBytes: Growth
  files: Growth
  directories: Growth
  error?: string
}

/** The answer of `GET /api/v1/jobs/{id}/stats` (docs/interface.md §6; extra keys may be added). */
export interface JobStats extends Omit<ActivityAggregates, 'polls' | 'timeline' | 'perPoll'> {
  job: string
  name: string
  /** the cluster whose points were counted (`""`: every cluster) */
  cluster: string
  status: JobStatus
  window: { start: string; end: string; seconds: number }
  capacity: CapacityGrowth[]
  /** poll interval the window edges were weighted with, seconds */
  intervalSeconds: number
  /** poll times that contributed */
  polls: number
  /** true while the job runs: the window ends now and capacity `end` is read live */
  live: boolean
  /**
   * Why these numbers are not final yet: clients or paths were attached late and the polls before
   * are still being backfilled from raw points (stats/backfill.ts). Absent when they are complete.
   */
  incomplete?: string
  /** earlier runs of the same job name, newest first */
  previousRuns: Array<{ id: string; startedAt: string; status: JobStatus }>
  /** the job's share of its cluster over its window, percent (stats/share.ts); absent without the cluster's series */
  share?: ClusterShare
  /** mean I/O sizes, metadata intensity, read/write mix (stats/profile.ts); absent in summaries made before it */
  profile?: IoProfile
  /** the automatic tags the job earned (`QACTIVITY_TAG_*` thresholds) */
  tags?: JobTag[]
  /** a completed job against the median of its last runs (stats/regression.ts); absent without history */
  regression?: Regression
}

/** `abs` = later − first; `pct` = abs / first × 100, null when the first is 0. */
export interface Delta {
  abs: number
  pct: number | null
}

export interface Comparison {
  jobs: JobStats[]
  deltas: Array<{ job: string; activity: Record<ActivityField, Record<keyof FieldAggregate, Delta>> }>
}

/** What the stats need from the rest of the system. */
export interface StatsDeps {
  source: ActivitySource
  /** poll interval of the collector (`QACTIVITY_POLL_SECONDS`) */
  intervalSeconds: number
  /** earlier jobs of a name, started before `before`, newest first */
  previousRuns: (name: string, before: string, excludeId: string) => Job[]
  /** a path's aggregates on a cluster, for a running job's capacity `end` */
  aggregates?: (cluster: string, path: string) => Promise<CapacityFigures>
  now?: () => number
  /** how running jobs' aggregates are kept between calls (stats/live.ts) */
  live?: LiveOptions
  /** the cluster's side of a job's share (stats/share.ts); no `share` in the stats without it */
  cluster?: ClusterActivity
  /** thresholds of the automatic tags @defaultValue DEFAULT_TAG_RULES */
  tagRules?: TagRules
  /** completed runs a regression is judged against (`QACTIVITY_REGRESSION_RUNS`) @defaultValue 5 */
  regressionRuns?: number
  /** changes flagged from this many percent (`QACTIVITY_REPORT_THRESHOLD_PCT`) @defaultValue 20 */
  thresholdPct?: number
}

function cidrMatcher(clients: string[]): (value: string) => boolean {
  const exact = new Set(clients.filter((c) => !c.includes('/')))
  const nets = clients.filter((c) => c.includes('/')).map((c) => ipaddr.parseCIDR(c))
  return (value) => {
    const c = canonicalAddress(value)
    if (!c) return false
    if (exact.has(c)) return true
    const addr = ipaddr.parse(c)
    return nets.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits))
  }
}

const num = (s: string | undefined) => (s === undefined ? null : Number(s))
function growth(start: string | undefined, end: string | undefined): Growth {
  const a = num(start)
  const b = num(end)
  return { start: a, end: b, delta: a !== null && b !== null ? Number(BigInt(end!) - BigInt(start!)) : null }
}

/** Growth of one job path from its stored readings; a live `end` reading (or its failure) replaces the stored end. */
function capacityGrowth(job: Job, path: string, liveEnd?: CapacityReading, liveError?: string): CapacityGrowth {
  const c: PathCapacity = job.capacity.find((x) => x.path === path) ?? { path }
  const end = liveEnd ?? c.end
  const error = liveError ?? c.error
  return {
    path,
    startAt: c.start?.at ?? null,
    endAt: end?.at ?? null,
    usedBytes: growth(c.start?.usedBytes, end?.usedBytes),
    files: growth(c.start?.files, end?.files),
    directories: growth(c.start?.directories, end?.directories),
    ...(error ? { error } : {}),
  }
}

/** `later` against `first`, per field and aggregate: abs = later − first, pct = abs / first × 100 (null when first is 0). */
export function deltas(first: Pick<JobStats, 'activity'>, later: Pick<JobStats, 'activity'>): Comparison['deltas'][number]['activity'] {
  const delta = (a: number, b: number): Delta => ({ abs: b - a, pct: a === 0 ? null : ((b - a) / a) * 100 })
  const of = (f: ActivityField) => ({
    total: delta(first.activity[f].total, later.activity[f].total),
    mean: delta(first.activity[f].mean, later.activity[f].mean),
    peak: delta(first.activity[f].peak, later.activity[f].peak),
  })
  return Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, of(f)])) as Comparison['deltas'][number]['activity']
}

export class StatsService {
  private readonly now: () => number
  private readonly live: LiveAggregates

  constructor(private readonly deps: StatsDeps) {
    this.now = deps.now ?? Date.now
    this.live = new LiveAggregates(deps.source, deps.live)
  }

  /**
   * The job's clients as stored `client_ip` values: exact IPs, plus every stored value inside one of
   * its CIDRs or equal to one of its IPs in another spelling (IPv6 formatting is not fixed).
   */
  async clientValues(job: Pick<Job, 'clients' | 'cluster'>): Promise<string[]> {
    if (!job.clients.length) return []
    const matches = cidrMatcher(job.clients)
    const stored = await this.deps.source.clientValues(job.cluster || undefined)
    return [...new Set([...job.clients.filter((c) => !c.includes('/')), ...stored.filter(matches)])]
  }

  async stats(job: Job): Promise<JobStats> {
    // A completed job's aggregates were computed once after the fact (stats/summary.ts): no re-scan.
    return this.summarised(job) ?? (await this.computed(job)).stats
  }

  /**
   * The stats and the per-poll series (≤ 240 points, for report charts): a completed job's from its
   * summary and its stored series (one small query), otherwise from one read of its points.
   */
  async statsAndTimeline(job: Job): Promise<{ stats: JobStats; timeline: TimelinePoint[] }> {
    const stats = this.summarised(job)
    return stats ? { stats, timeline: await this.storedTimeline(job, stats) } : this.computed(job)
  }

  private previousRunsOf(job: Job): JobStats['previousRuns'] {
    return this.deps
      .previousRuns(job.name, job.startedAt, job.id)
      .slice(0, 5)
      .map((j) => ({ id: j.id, startedAt: j.startedAt, status: j.status }))
  }

  private summarised(job: Job): JobStats | undefined {
    if (job.status === 'running' || job.summary?.state !== 'done' || !job.summary.stats) return undefined
    // Capacity from the job itself: summaries stored before the reading times were added lack them.
    return {
      ...(job.summary.stats as unknown as JobStats),
      capacity: job.paths.map((p) => capacityGrowth(job, p)),
      previousRuns: this.previousRunsOf(job),
    }
  }

  private async computed(job: Job): Promise<{ stats: JobStats; timeline: TimelinePoint[] }> {
    const previousRuns = this.previousRunsOf(job)
    const live = job.status === 'running'
    const [agg, capacity] = await Promise.all([this.activity(job), this.capacity(job, live)])
    const share = await this.share(agg, capacity)
    const { startMs, endMs } = agg.selector
    const stats: JobStats = {
      job: job.id,
      name: job.name,
      cluster: job.cluster,
      status: job.status,
      window: { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString(), seconds: (endMs - startMs) / 1000 },
      activity: agg.activity,
      capacity,
      topClients: agg.topClients,
      topPaths: agg.topPaths,
      intervalSeconds: this.deps.intervalSeconds,
      polls: agg.polls,
      live,
      previousRuns,
      ...(share ? { share } : {}),
      profile: profileOf(agg.activity),
      tags: tagsOf(agg.activity, share, this.deps.tagRules),
      ...this.regression(job, agg.activity),
      ...(job.backfill ? { incomplete: `clients or paths attached late: the polls up to ${job.backfill.until} are being backfilled` } : {}),
    }
    return { stats, timeline: agg.timeline }
  }

  /**
   * A completed job's series as its summary wrote it (≤ 240 points, one small query); a job
   * summarised before summaries wrote it, or whose points were lost, is read from its raw points.
   */
  private async storedTimeline(job: Job, stats: JobStats): Promise<TimelinePoint[]> {
    const range = { fromMs: Date.parse(job.startedAt), toMs: Date.parse(job.endedAt!) + this.deps.intervalSeconds * 1000 + 1 }
    const stored = await this.deps.source.timeline(job.id, range)
    if (stored.length || stats.polls === 0) return stored
    return (await this.activity(job)).timeline
  }

  /**
   * The job's window (ending now while it runs) and what belongs to it. The clients are the job's
   * own (CIDRs unexpanded): the job's series is selected by its id, the collector matched them.
   */
  private selector(job: Job): ActivitySelector {
    const startMs = Date.parse(job.startedAt)
    const endMs = job.status === 'running' ? Math.max(startMs, this.now()) : Date.parse(job.endedAt!)
    return {
      startMs,
      endMs,
      intervalSeconds: this.deps.intervalSeconds,
      clients: job.clients,
      paths: job.paths,
      cluster: job.cluster || undefined,
    }
  }

  /**
   * The activity aggregates from the job's attributed series (`qactivity_job_activity`): kept
   * incrementally while the job runs, read once in full after. Every point is weighed by the
   * job's window as it stands now (a back-dated end included), not by the `seconds` written with it.
   */
  private async activity(job: Job): Promise<ActivityAggregates & { selector: ActivitySelector }> {
    const selector = this.selector(job)
    if (job.status === 'running') return { ...(await this.live.aggregates(job.id, selector)), selector }
    this.live.forget(job.id)
    const rows = await this.deps.source.rows(jobActivityQuery(job.id, selector))
    return { ...aggregateActivity(rows, selector), selector }
  }

  /**
   * A completed job against the last runs of its name on its cluster that have a summary: their
   * totals and means as computed then (no re-scan).
   */
  private regression(job: Job, activity: JobStats['activity']): { regression?: Regression } {
    if (job.status === 'running') return {}
    const history = this.deps
      .previousRuns(job.name, job.startedAt, job.id)
      .filter((j) => j.status !== 'running' && (j.cluster ?? '') === (job.cluster ?? '') && j.summary?.state === 'done')
      .flatMap((j) => {
        const a = (j.summary?.stats as Partial<JobStats> | undefined)?.activity
        return a ? [{ id: j.id, activity: a }] : []
      })
      .slice(0, this.deps.regressionRuns ?? 5)
    const regression = regressionOf(activity, history, this.deps.thresholdPct ?? 20)
    return regression ? { regression } : {}
  }

  /** The job's share of the cluster over its window: the cluster's side read from its own small series. */
  private async share(
    agg: ActivityAggregates & { selector: ActivitySelector },
    capacity: CapacityGrowth[],
  ): Promise<ClusterShare | undefined> {
    if (!this.deps.cluster) return undefined
    const s = agg.selector
    const toMs = s.endMs + s.intervalSeconds * 1000
    const [polls, growth] = await Promise.all([
      this.deps.cluster.polls(s.cluster, s.startMs, toMs),
      this.deps.cluster.usedBytesGrowth(s.cluster, s.startMs, toMs),
    ])
    const deltas = capacity.map((c) => c.usedBytes.delta).filter((d): d is number => d !== null)
    return shareOf(
      {
        perPoll: agg.perPoll,
        totals: ACTIVITY_FIELDS.map((f) => agg.activity[f].total),
        usedBytesDelta: deltas.length ? deltas.reduce((a, b) => a + b, 0) : null,
      },
      polls,
      growth,
      s,
    )
  }

  private async capacity(job: Job, live: boolean): Promise<JobStats['capacity']> {
    return Promise.all(
      job.paths.map(async (path) => {
        if (!live || !this.deps.aggregates || !job.cluster) return capacityGrowth(job, path)
        try {
          const a = await this.deps.aggregates(job.cluster, path)
          return capacityGrowth(job, path, {
            at: new Date(this.now()).toISOString(),
            usedBytes: String(a.totalCapacity),
            files: String(a.totalFiles),
            directories: String(a.totalDirectories),
          })
        } catch (err) {
          return capacityGrowth(job, path, undefined, `live reading: ${messageOf(err)}`)
        }
      }),
    )
  }

  /** How many attributed points of a job InfluxDB holds (one `count()`, no rows). */
  async pointCount(job: Job): Promise<number> {
    return this.deps.source.count(jobActivityQuery(job.id, this.selector(job)))
  }

  /** Stats side by side, with absolute and % deltas of every later job against the first. */
  async compare(jobs: Job[]): Promise<Comparison> {
    const stats = await Promise.all(jobs.map((j) => this.stats(j)))
    const [first, ...rest] = stats
    return { jobs: stats, deltas: rest.map((s) => ({ job: s.job, activity: deltas(first, s) })) }
  }
}
