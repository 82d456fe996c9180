/**
 * The job model (docs/interface.md §5) as stored and served. Times are ISO-8601 strings (UTC, ms);
 * byte and object counts from Qumulo are decimal strings, exact beyond 2^53.
 */

/**
 * `running` until completed; then `succeeded`, `failed` or `cancelled` (stopped from outside, e.g.
 * `scancel`). Their `status_code` in `qactivity_job` is the index here (0–3): only ever appended to.
 */
export const JOB_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]
/** What a completion may set. */
export const END_STATUSES = ['succeeded', 'failed', 'cancelled'] as const
export type EndStatus = (typeof END_STATUSES)[number]

/** A comment: the job's fossil record. */
export interface JobComment {
  /** ISO time the API received it */
  at: string
  /** name of the API token that posted it */
  author: string
  text: string
}

/** One reading of a path's aggregates (`GET /v1/files/{path}/aggregates/`). */
export interface CapacityReading {
  /** ISO time of the reading */
  at: string
  /** total_capacity in bytes, decimal string */
  usedBytes: string
  files: string
  directories: string
}

/** Capacity of one job path at attachment and at completion (docs/interface.md §6). */
export interface PathCapacity {
  path: string
  start?: CapacityReading
  end?: CapacityReading
  /** why a reading could not be taken (Qumulo down, not a directory…) */
  error?: string
}

/** Delivery state of the job's Grafana annotations, shown on the job. */
export interface AnnotationSync {
  /** `off` when Grafana is not configured; `pending` while tasks wait in the outbox */
  state: 'off' | 'pending' | 'synced' | 'failing'
  /** Grafana id of the start annotation (the region once completed) */
  id?: number
  /** comments delivered as annotations */
  comments: number
  /** last delivery error, one line */
  lastError?: string
}

/** A job as stored and returned by the API. */
export interface Job {
  id: string
  name: string
  /**
   * The Qumulo cluster the job runs on: the `cluster` tag its activity, capacity and job series
   * carry. `""` only where the API knows no cluster (and for jobs stored before jobs had one, when
   * several clusters are configured): such a job counts every cluster's points.
   */
  cluster: string
  status: JobStatus
  startedAt: string
  endedAt: string | null
  /** normalised absolute paths, in attachment order */
  paths: string[]
  /** canonical IPs or CIDRs (`10.0.0.0/24`, `fd00::1`), in attachment order */
  clients: string[]
  labels: Record<string, string>
  comments: JobComment[]
  /** e-mail addresses for the completion report */
  notify: string[]
  annotation: AnnotationSync
  capacity: PathCapacity[]
  /** Why the collector cannot measure some of the job's paths (they are not directories on Qumulo); absent when all can be. */
  error?: string
  /**
   * A backfill of the job's attributed series from raw points, asked for when clients or paths were
   * attached after it started (stats/backfill.ts): the polls up to `until` (ISO) lack them. Absent
   * once done; its summary waits for it.
   */
  backfill?: JobBackfill
  /** The §6 aggregates computed once after completion (stats/summary.ts); absent while running. */
  summary?: JobSummary
  /** Delivery of the job's latest e-mailed report (reports/service.ts); absent when none was sent. */
  report?: ReportDelivery
  /** name of the token that created the job */
  createdBy: string
  /** ISO time of the last change (for list ordering and retention) */
  updatedAt: string
}

/** Which polls of a job's series a backfill rewrites from raw points. */
export interface JobBackfill {
  /** the polls up to this time (ISO) */
  until: string
  /** from this time (ISO) on; absent: from the job's start (an attachment changes every earlier poll) */
  from?: string
}

/** A completed job's aggregates, computed once the last overlapping poll is in InfluxDB. */
export interface JobSummary {
  /** `pending` until computed (InfluxDB may be down: retried), then `done` */
  state: 'pending' | 'done'
  /** ISO time it was computed */
  computedAt?: string
  /** last failure, one line */
  lastError?: string
  /** the stats as served by `GET /api/v1/jobs/{id}/stats` (previous runs excluded) */
  stats?: Record<string, unknown>
  /** the job's activity points counted before it was computed; a later, higher count recomputes it */
  points?: number
}

/** Delivery state of a job's e-mailed report, shown on the job. */
export interface ReportDelivery {
  /** `pending` until the SMTP server accepts it; `failing` while retries fail; `failed` when it refused it for good (5xx) */
  state: 'pending' | 'sent' | 'failing' | 'failed'
  to: string[]
  attempts: number
  /** last SMTP or rendering error, one line */
  lastError?: string
  /** ISO time the SMTP server accepted it */
  sentAt?: string
  /** the completion report was queued (it is sent once per job) */
  completion?: boolean
}

/** A Grafana annotation still to deliver (the durable outbox). */
export type AnnotationTask =
  | { kind: 'start'; jobId: string; seq: number; attempts: number; notBefore?: string }
  | { kind: 'complete'; jobId: string; seq: number; attempts: number; notBefore?: string }
  | { kind: 'comment'; jobId: string; seq: number; attempts: number; notBefore?: string; commentIndex: number }
  | { kind: 'regression'; jobId: string; seq: number; attempts: number; notBefore?: string }

/** The job store's file (`QACTIVITY_DATA_DIR/jobs.json`). */
export interface StoreData {
  version: 1
  jobs: Record<string, Job>
  outbox: AnnotationTask[]
  /** next outbox sequence number */
  nextSeq: number
}
