import type { Job } from '../jobs/types.ts'
import { UID, type Flavour } from '../lib/dashboard-ids.ts'
import { deltas, type StatsService } from '../stats/service.ts'
import type { ActivityRange } from '../stats/range.ts'
import type { ReportInput } from './model.ts'

/** What a report is assembled from. */
export interface ReportSources {
  stats: StatsService
  /** earlier jobs of a name, started before `before`, newest first */
  previousRuns: (name: string, before: string, excludeId: string) => Job[]
  /** `GRAFANA_URL`: the report links to the job dashboard when set */
  grafanaUrl?: string
  /** which provisioned dashboards to link (INFLUX_QUERY_LANGUAGE) */
  flavour: Flavour
  thresholdPct: number
  now?: () => number
  /** a cluster's activity over a range: the denominators of the usage e-mail's shares (none without) */
  range?: ActivityRange
}

/** The Grafana job dashboard over the job's window (to now while it runs). */
export function grafanaJobUrl(base: string, flavour: Flavour, job: Pick<Job, 'id' | 'startedAt' | 'endedAt'>): string {
  const q = new URLSearchParams({
    'var-job': job.id,
    from: String(Date.parse(job.startedAt)),
    to: job.endedAt ? String(Date.parse(job.endedAt)) : 'now',
  })
  return `${base}/d/${UID.job(flavour)}?${q}`
}

/**
 * A job's report: its stats (the summary once completed), its per-poll timeline for the charts and,
 * when the same job name ran before and completed, that run with the deltas against it. A completed
 * job's summary holds all of it (no query). `timeline: false` leaves the series out (digests).
 */
export async function buildReport(job: Job, src: ReportSources, opts: { timeline?: boolean } = {}): Promise<ReportInput> {
  const previousJob = src.previousRuns(job.name, job.startedAt, job.id).find((j) => j.status !== 'running')
  const [current, previousStats] = await Promise.all([
    opts.timeline === false ? src.stats.stats(job).then((stats) => ({ stats, timeline: [] })) : src.stats.statsAndTimeline(job),
    previousJob && src.stats.stats(previousJob),
  ])
  return {
    job,
    stats: current.stats,
    timeline: current.timeline,
    previous:
      previousJob && previousStats ? { job: previousJob, stats: previousStats, deltas: deltas(previousStats, current.stats) } : undefined,
    grafanaUrl: src.grafanaUrl ? grafanaJobUrl(src.grafanaUrl, src.flavour, job) : undefined,
    thresholdPct: src.thresholdPct,
    generatedAt: new Date((src.now ?? Date.now)()),
  }
}
