import { MEASUREMENT } from '../lib/schema.ts'
import { toLine } from '../lib/influx/line-protocol.ts'
import { JOB_STATUSES, type Job } from './types.ts'

/** What happened to a job; one `qactivity_job` point each (docs/interface.md §4). */
export type JobEvent = 'start' | 'complete' | 'comment'

/**
 * A `qactivity_job` point: lets dashboards list jobs and find their windows without the API.
 * `started_at`/`ended_at` are epoch ms (0 while running); `paths`/`clients` are JSON arrays.
 */
export function jobEventLine(job: Job, event: JobEvent, atMs: number, comment?: string): string {
  return toLine({
    measurement: MEASUREMENT.job,
    tags: { job_id: job.id, job_name: job.name, cluster: job.cluster },
    fields: {
      event,
      status: job.status,
      status_code: BigInt(JOB_STATUSES.indexOf(job.status)),
      started_at: BigInt(Date.parse(job.startedAt)),
      ended_at: BigInt(job.endedAt ? Date.parse(job.endedAt) : 0),
      paths: JSON.stringify(job.paths),
      clients: JSON.stringify(job.clients),
      ...(comment === undefined ? {} : { comment }),
    },
    time: atMs / 1000,
  })
}
