import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { PanelBuilder as XYChartBuilder, SeriesMapping } from '@grafana/grafana-foundation-sdk/xychart'
import { ACTIVITY_FIELDS, MEASUREMENT, influxqlFrom } from '../lib/schema.ts'
import { annotations, dashboard, legend, numbered, panel, table, tagVariable, UID, UNIT } from './common.ts'
import { filters, IOPS_FIELDS, jobChoices, lastBy, THROUGHPUT_FIELDS } from './queries.ts'
import type { Flavour, PanelQuery } from './target.ts'

/**
 * Per poll and job: elapsed seconds since the job's start, and the job's summed IOPS or throughput.
 * Grafana's InfluxQL cannot shift each series by its own start, so the x axis is a field
 * (`elapsed_seconds` of qactivity_job_activity) and the panel is an XY chart, one series per job.
 */
function relative(fields: readonly string[], name: string): PanelQuery {
  const sum = fields.map((f) => `sum("${f}")`).join(' + ')
  return {
    influxql:
      `SELECT max("elapsed_seconds") AS "elapsed", ${sum} AS "${name}" FROM ${influxqlFrom(MEASUREMENT.jobActivity)} ` +
      `WHERE $timeFilter AND ${filters.jobs.influxql} ` +
      `GROUP BY time(\${poll}s), "job_id" fill(none)`,
    flux: [
      'data = from(bucket: "${bucket}")',
      '  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)',
      `  |> filter(fn: (r) => r._measurement == "${MEASUREMENT.jobActivity}" and ${filters.jobs.flux})`,
      'rates = data',
      `  |> filter(fn: (r) => ${fields.map((f) => `r._field == "${f}"`).join(' or ')})`,
      '  |> group(columns: ["job_id"])',
      '  |> aggregateWindow(every: ${poll}s, fn: sum, timeSrc: "_start", createEmpty: false)',
      `  |> set(key: "_field", value: "${name}")`,
      'elapsed = data',
      '  |> filter(fn: (r) => r._field == "elapsed_seconds")',
      '  |> group(columns: ["job_id"])',
      '  |> aggregateWindow(every: ${poll}s, fn: max, timeSrc: "_start", createEmpty: false)',
      '  |> set(key: "_field", value: "elapsed")',
      'union(tables: [elapsed, rates])',
      '  |> pivot(rowKey: ["_time", "job_id"], columnKey: ["_field"], valueColumn: "_value")',
      // One table with job_id as a column: partitionByValues splits it into one series per job.
      '  |> group()',
    ].join('\n'),
    format: 'table',
  }
}

function xy(f: Flavour, title: string, description: string, unit: string, yLabel: string, q: PanelQuery): XYChartBuilder {
  return (
    panel(new XYChartBuilder(), f, title, description, unit, q, 24, 9)
      .withTransformation({ id: 'partitionByValues', options: { fields: ['job_id'], keepFields: false } })
      .mapping(SeriesMapping.Auto)
      .axisLabel(yLabel)
      // x is the first number field, `elapsed`: its own unit and label.
      .overrideByName('elapsed', [
        { id: 'unit', value: UNIT.seconds },
        { id: 'custom.axisLabel', value: 'time since the job started' },
      ])
      .legend(legend())
  )
}

/** Two or more jobs side by side on a time axis relative to each job's start, and their totals. */
export function compareDashboard(f: Flavour): Dashboard {
  const d = dashboard(
    f,
    UID.compare(f),
    'qactivity — compare jobs',
    'Runs of a job side by side: pick two or more jobs and a time range that covers them.',
    'now-30d',
  )
    // each job shown by name with its ID; the values stay IDs
    .withVariable(tagVariable(f, 'jobs', 'Jobs', jobChoices(), { multi: true, all: false, sortDesc: true }).regex(jobChoices().regex[f]))
    .annotation(annotations('qactivity jobs', ['qactivity']))
    .withPanel(
      xy(
        f,
        'IOPS since each job started',
        'Per poll, the summed operations per second of each job (file and metadata reads and writes) ' +
          'against the seconds since that job started: runs overlay even when they ran on different days.',
        UNIT.iops,
        'ops/s',
        relative(IOPS_FIELDS, 'iops'),
      ),
    )
    .withPanel(
      xy(
        f,
        'Throughput since each job started',
        'Per poll, the summed bytes per second read and written by each job against the seconds since it started.',
        UNIT.bytesPerSecond,
        'bytes/s',
        relative(THROUGHPUT_FIELDS, 'throughput'),
      ),
    )
    .withPanel(
      table(
        f,
        'Totals and change against the previous run',
        "Each selected job's summary (written when it completed): its cluster, window seconds, " +
          'per field the total (operations; throughput in bytes) ' +
          'beside the mean per second (total ÷ window: a longer run alone raises totals, not rates), ' +
          'and the % change of each total against the previous completed run of the same name. ' +
          'Runs on other clusters or with other paths and clients are not like for like. ' +
          'Any jobs can be compared with deltas against the first in `qactivity job compare`.',
        UNIT.ops,
        lastBy(
          MEASUREMENT.jobSummary,
          [
            'window_seconds',
            ...ACTIVITY_FIELDS.flatMap((x) => [`${x}_total`, `${x}_mean`]),
            'previous_job_id',
            ...ACTIVITY_FIELDS.map((x) => `${x}_total_change_pct`),
          ],
          filters.jobs,
          ['job_id', 'job_name', 'cluster'],
        ),
        24,
        8,
      )
        .overrideByRegexp('throughput_.*_total', [{ id: 'unit', value: UNIT.bytes }])
        .overrideByRegexp('.*iops_.*_mean', [{ id: 'unit', value: UNIT.iops }])
        .overrideByRegexp('throughput_.*_mean', [{ id: 'unit', value: UNIT.bytesPerSecond }])
        .overrideByRegexp('.*_change_pct', [{ id: 'unit', value: 'percent' }])
        .overrideByName('window_seconds', [{ id: 'unit', value: UNIT.seconds }])
        .overrideByName('job_id', [
          {
            id: 'links',
            value: [{ title: 'Open the job', url: `/d/${UID.job(f)}?var-job=\${__data.fields["job_id"]}&\${__url_time_range}` }],
          },
        ]),
    )
  return numbered(d.build())
}
