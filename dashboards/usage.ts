import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { MEASUREMENT } from '../lib/schema.ts'
import { annotations, byDesc, dashboard, numbered, table, tagVariable, timeseries, UID, UNIT } from './common.ts'
import { filters, jobsOverTime, tagValues, usageBy } from './queries.ts'
import type { Flavour } from './target.ts'

const FROM =
  'From qactivity_job_summary: each completed job once, at its end, with the totals of its whole window ' +
  '(README, "What the numbers mean": Showback). Operations; throughput columns in bytes. ' +
  'By label: GET /api/v1/usage?group=label:KEY or `qactivity usage --group label:KEY` (labels are not InfluxDB tags).'

/** Showback: completed jobs and what they did, per job name and per cluster (README: Dashboards). */
export function usageDashboard(f: Flavour): Dashboard {
  const d = dashboard(
    f,
    UID.usage(f),
    'qactivity — usage',
    'Showback: the jobs that completed in the time range, per job name and per cluster, from their summaries.',
    'now-30d',
  )
    .withVariable(tagVariable(f, 'cluster', 'Cluster', tagValues(MEASUREMENT.jobSummary, 'cluster'), { multi: true }))
    .annotation(annotations('qactivity jobs', ['qactivity']))
    .withPanel(
      timeseries(
        f,
        'Jobs completed',
        'Completed jobs per interval, per cluster (their summaries, at each end).',
        UNIT.count,
        jobsOverTime(filters.clusterOnly),
        24,
        6,
      ),
    )
    .withPanel(
      table(f, 'By job name', `Jobs and their totals per job name. ${FROM}`, UNIT.ops, usageBy('job_name', filters.clusterOnly), 24, 10)
        .sortBy([byDesc('iops_read')])
        .overrideByName('jobs', [{ id: 'unit', value: UNIT.count }])
        .overrideByRegexp('throughput_.*', [{ id: 'unit', value: UNIT.bytes }]),
    )
    .withPanel(
      table(f, 'By cluster', `Jobs and their totals per cluster. ${FROM}`, UNIT.ops, usageBy('cluster', filters.clusterOnly), 24, 6)
        .sortBy([byDesc('iops_read')])
        .overrideByName('jobs', [{ id: 'unit', value: UNIT.count }])
        .overrideByRegexp('throughput_.*', [{ id: 'unit', value: UNIT.bytes }]),
    )
  return numbered(d.build())
}
