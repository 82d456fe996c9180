import type { Job } from '../jobs/types.ts'
import { toLine } from '../lib/influx/line-protocol.ts'
import { ACTIVITY_FIELDS, MEASUREMENT } from '../lib/schema.ts'
import { overlapSeconds, type ActivityRow, type ActivitySelector } from './model.ts'

/**
 * `qactivity_job_activity` lines: a copy of the job's matching points tagged with the job, so that
 * Grafana (which cannot express "client in the job's list OR path under one of its paths, from the
 * job's record") selects a job's activity with `job_id = '…'`. Fields: the six rates, `seconds` (how
 * much of the point's interval lies inside the job's window as known when written: total =
 * Σ rate × seconds) and `elapsed_seconds` (poll time − job start, the x axis of job comparisons).
 *
 * Written again whenever the rows are read again (same series and time: InfluxDB overwrites), which
 * also backfills later attachments; the summary pass at completion writes the final weights.
 */
export function jobActivityLines(job: Pick<Job, 'id' | 'name' | 'cluster'>, s: ActivitySelector, rows: readonly ActivityRow[]): string[] {
  const merged = new Map<string, ActivityRow>()
  for (const r of rows) {
    const key = JSON.stringify([r.time, r.client, r.path])
    const m = merged.get(key)
    if (m) r.values.forEach((v, i) => (m.values[i] += v))
    else merged.set(key, { ...r, values: [...r.values] })
  }
  const out: string[] = []
  for (const r of merged.values()) {
    const seconds = overlapSeconds(r.time, s)
    if (seconds <= 0) continue
    const fields: Record<string, number> = { seconds, elapsed_seconds: r.time - s.startMs / 1000 }
    ACTIVITY_FIELDS.forEach((f, i) => (fields[f] = r.values[i]))
    out.push(
      toLine({
        measurement: MEASUREMENT.jobActivity,
        tags: { job_id: job.id, job_name: job.name, cluster: job.cluster, client_ip: r.client, path: r.path },
        fields,
        time: r.time,
      }),
    )
  }
  return out
}
