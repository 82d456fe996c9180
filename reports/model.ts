import type { Job } from '../jobs/types.ts'
import type { ActivityField } from '../lib/schema.ts'
import type { Delta, JobStats } from '../stats/service.ts'
import type { FieldAggregate } from '../stats/compute.ts'

export type { TimelinePoint } from '../stats/compute.ts'
import type { TimelinePoint } from '../stats/compute.ts'

/** Everything a job report shows; assembled by reports/build.ts, rendered by reports/html.ts and reports/pdf.ts. */
export interface ReportInput {
  job: Job
  /** the job's aggregates (README: What the numbers mean; its summary once completed) */
  stats: JobStats
  /** per-poll sums over the job's window, oldest first (the charts) */
  timeline: TimelinePoint[]
  /** the previous run of the same job name with this job's deltas against it, when there is one */
  previous?: {
    job: Job
    stats: JobStats
    /** this job − previous (abs), and abs / previous × 100 (pct, null when previous is 0) */
    deltas: Record<ActivityField, Record<keyof FieldAggregate, Delta>>
  }
  /** link to the Grafana job dashboard over the job's window (when GRAFANA_URL is set) */
  grafanaUrl?: string
  /** |pct| at or beyond this is highlighted @defaultValue 20 */
  thresholdPct: number
  /** when the report was made */
  generatedAt: Date
}

/** An image the HTML refers to as `cid:<cid>` in e-mail (or inlines as a data: URI for the browser). */
export interface ReportImage {
  cid: string
  filename: string
  contentType: 'image/png'
  content: Buffer
}

/** A rendered job report. */
export interface RenderedReport {
  /** e-mail subject: job name, status, and the headline change against the previous run */
  subject: string
  /** self-contained HTML (inline styles, no scripts, no external requests) */
  html: string
  /** plain-text alternative of the same content */
  text: string
  /** charts referenced by `html` */
  images: ReportImage[]
}

/** A digest: the jobs completed in (since, until], each with its report input. */
export interface DigestInput {
  since: Date
  until: Date
  reports: ReportInput[]
  grafanaUrl?: string
  generatedAt: Date
}
