import { DashboardLinkBuilder, DashboardLinkType, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { ReduceDataOptionsBuilder } from '@grafana/grafana-foundation-sdk/common'
import { ACTIVITY_FIELDS, MEASUREMENT } from '../lib/schema.ts'
import { annotations, byDesc, dashboard, numbered, stat, table, tagVariable, timeseries, UID, UNIT } from './common.ts'
import { filters, IOPS_FIELDS, jobChoices, jobPerPoll, jobTotals, lastBy, ratesOverTime, THROUGHPUT_FIELDS } from './queries.ts'
import type { Flavour } from './target.ts'

const COPY =
  "From qactivity_job_activity: the job's share of each poll (its clients OR under its paths, each counted once), " +
  'written by the collector as it polls (late attachments backfilled).'
const EXACT =
  'The exact figures (README, "What the numbers mean") are `qactivity job stats` and GET /api/v1/jobs/{id}/stats; ' +
  "these agree with them over the job's own time range."
// Total ÷ window needs the job's window, which only its summary knows exactly (the last poll lands after
// the end, so a time range cut at the end misses it and one past the end is too long): the summary's means.
const MEAN =
  'Total ÷ window seconds, as README "What the numbers mean" defines it and `qactivity job stats` and the report show it, ' +
  'from qactivity_job_summary: shown once the job has completed and its summary is written ' +
  '(while it runs: `qactivity job stats`).'
const choices = jobChoices()

/** One job: its window, activity restricted to its clients and paths, aggregates and breakdowns. */
export function jobDashboard(f: Flavour): Dashboard {
  const d = dashboard(
    f,
    UID.job(f),
    'qactivity — job',
    "One job's cost to the cluster: open it from a job link (it sets the time range to the job's window), " +
      'or pick the job and set the time range yourself.',
    'now-24h',
  )
    // the picker shows each job's name with its ID; the value stays the ID
    .withVariable(tagVariable(f, 'job', 'Job', choices, { sortDesc: true }).regex(choices.regex[f]))
    .annotation(annotations('this job', ['qactivity', 'job:${job}']))
    .link(
      new DashboardLinkBuilder('Compare with other runs')
        .type(DashboardLinkType.Link)
        .url(`/d/${UID.compare(f)}?var-jobs=\${job}`)
        .keepTime(false)
        .includeVars(false)
        .asDropdown(false),
    )
    .withPanel(
      table(
        f,
        'Job',
        "The job's latest event in qactivity_job: status, start and end (epoch ms, 0 while running), paths and clients (JSON).",
        UNIT.count,
        lastBy(MEASUREMENT.job, ['status', 'started_at', 'ended_at', 'paths', 'clients'], filters.job, ['job_id', 'job_name', 'cluster']),
        24,
        4,
      ).overrideByRegexp('(started|ended)_at', [{ id: 'unit', value: 'dateTimeAsIso' }]),
    )
    .withPanel(
      stat(
        f,
        'Total operations',
        `Operations the job performed: Σ rate × seconds of its points inside its window, per kind. ${EXACT}`,
        UNIT.ops,
        jobTotals(IOPS_FIELDS, filters.job),
        12,
      ),
    )
    .withPanel(
      stat(
        f,
        'Total bytes',
        `Bytes the job read and wrote: Σ rate × seconds inside its window. ${EXACT}`,
        UNIT.bytes,
        jobTotals(THROUGHPUT_FIELDS, filters.job),
        12,
      ),
    )
    .withPanel(
      stat(
        f,
        'Peak IOPS',
        "The highest per-poll sum of the job's rates, per kind (ops/s).",
        UNIT.iops,
        jobPerPoll('max', IOPS_FIELDS, filters.job),
        6,
      ),
    )
    .withPanel(
      stat(
        f,
        'Peak throughput',
        "The highest per-poll sum of the job's byte rates (bytes/s).",
        UNIT.bytesPerSecond,
        jobPerPoll('max', THROUGHPUT_FIELDS, filters.job),
        6,
      ),
    )
    .withPanel(
      stat(
        f,
        'Mean IOPS',
        `The job's operations per second, per kind. ${MEAN}`,
        UNIT.iops,
        lastBy(
          MEASUREMENT.jobSummary,
          IOPS_FIELDS.map((x) => `${x}_mean`),
          filters.job,
          ['job_id'],
        ),
        6,
      ),
    )
    .withPanel(
      stat(
        f,
        'Mean throughput',
        `The job's bytes per second. ${MEAN}`,
        UNIT.bytesPerSecond,
        lastBy(
          MEASUREMENT.jobSummary,
          THROUGHPUT_FIELDS.map((x) => `${x}_mean`),
          filters.job,
          ['job_id'],
        ),
        6,
      ),
    )
    .withPanel(
      timeseries(
        f,
        'Job IOPS',
        `Operations per second of the job, per kind. ${COPY}`,
        UNIT.iops,
        ratesOverTime(MEASUREMENT.jobActivity, IOPS_FIELDS, filters.job),
      ),
    )
    .withPanel(
      timeseries(
        f,
        'Job throughput',
        `Bytes per second of the job. ${COPY}`,
        UNIT.bytesPerSecond,
        ratesOverTime(MEASUREMENT.jobActivity, THROUGHPUT_FIELDS, filters.job),
      ),
    )
    .withPanel(
      table(
        f,
        'By client',
        `The job's totals per client address (operations; throughput columns in bytes). ${COPY}`,
        UNIT.ops,
        jobTotals(ACTIVITY_FIELDS, filters.job, 'client_ip'),
      )
        .sortBy([byDesc('iops_read')])
        .overrideByRegexp('throughput_.*', [{ id: 'unit', value: UNIT.bytes }]),
    )
    .withPanel(
      table(
        f,
        'By path',
        `The job's totals per path tag (operations; throughput columns in bytes). ${COPY}`,
        UNIT.ops,
        jobTotals(ACTIVITY_FIELDS, filters.job, 'path'),
      )
        .sortBy([byDesc('iops_read')])
        .overrideByRegexp('throughput_.*', [{ id: 'unit', value: UNIT.bytes }]),
    )
    .withPanel(
      stat(
        f,
        'Capacity growth',
        "Growth of the job's paths between the readings at attachment and at completion, " +
          'summed over its paths (qactivity_job_summary: shown once the job has completed and its summary is written).',
        UNIT.bytes,
        lastBy(MEASUREMENT.jobSummary, ['used_bytes_delta', 'files_delta', 'directories_delta'], filters.job, ['job_id']),
        12,
      ).overrideByRegexp('(files|directories)_delta', [{ id: 'unit', value: UNIT.count }]),
    )
    .withPanel(
      stat(
        f,
        'Change against the previous run',
        'Totals of this job against the previous completed run of the same job name, in % (qactivity_job_summary, written at completion).',
        'percent',
        lastBy(MEASUREMENT.jobSummary, ['previous_job_id', ...ACTIVITY_FIELDS.map((x) => `${x}_total_change_pct`)], filters.job, [
          'job_id',
        ]),
        12,
      )
        // every field, the previous run's ID (a string) included; a stat shows numbers only by default
        .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false).fields('/.*/')),
    )
    .withPanel(
      stat(
        f,
        'Share of the cluster',
        "The job's share of its whole cluster over its window, in %: per field its total (`_share_pct`) and its highest " +
          'share of one poll (`_peak_share_pct`), and its paths\' capacity growth (README, "What the numbers mean"; ' +
          'qactivity_job_summary, written at completion).',
        'percent',
        lastBy(
          MEASUREMENT.jobSummary,
          [...ACTIVITY_FIELDS.flatMap((x) => [`${x}_share_pct`, `${x}_peak_share_pct`]), 'used_bytes_share_pct'],
          filters.job,
          ['job_id'],
        ),
        24,
      ),
    )
    .withPanel(
      table(
        f,
        'Profile, tags and regressions',
        'The I/O profile (bytes per read and per write, metadata ops per data op, reads in % of ops and of bytes), the ' +
          'automatic tags and the changes against the median of the last runs, in words (README, "What the numbers mean"; ' +
          'qactivity_job_summary, written at completion).',
        UNIT.count,
        lastBy(
          MEASUREMENT.jobSummary,
          ['read_io_size_bytes', 'write_io_size_bytes', 'metadata_per_data_op', 'read_ops_pct', 'read_bytes_pct', 'tags', 'regression'],
          filters.job,
          ['job_id'],
        ),
        24,
        5,
      ).overrideByRegexp('.*_io_size_bytes', [{ id: 'unit', value: UNIT.bytes }]),
    )
  return numbered(d.build())
}
