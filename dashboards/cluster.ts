import { ConstantVariableBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { MEASUREMENT } from '../lib/schema.ts'
import { annotations, byDesc, dashboard, numbered, stat, table, tagVariable, timeseries, UID, UNIT } from './common.ts'
import {
  tagValues,
  filters,
  growthByPath,
  IOPS_FIELDS,
  lastBy,
  ratesOverTime,
  rollupRates,
  rollupTotalsBy,
  THROUGHPUT_FIELDS,
  totalsBy,
  valuesOverTime,
} from './queries.ts'
import type { Flavour } from './target.ts'

const TOTALS = 'Totals over the time range: Σ rate × poll interval per field, in operations (IOPS fields) and bytes (throughput fields).'
const RAW = 'Raw activity is kept QACTIVITY_RAW_RETENTION (30 days by default): for longer ranges see the panels from the rollups below.'
const ROLLUPS =
  'From qumulo_activity_rollup: exact sums of the polls of each whole rollup period ($rollup s, QACTIVITY_ROLLUP_PERIOD), ' +
  'kept for any range; the running period is not written yet.'

/** Cluster activity: IOPS, throughput, capacity and the busiest clients and paths (README: Dashboards). */
export function clusterDashboard(f: Flavour): Dashboard {
  const clusterLink = (variable: string, field: string) => ({
    title: `Show only this ${variable}`,
    url: `/d/${UID.cluster(f)}?\${cluster:queryparam}&var-${variable}=\${__data.fields["${field}"]}&\${__url_time_range}`,
  })
  const d = dashboard(
    f,
    UID.cluster(f),
    'qactivity — cluster activity',
    'Activity of the Qumulo cluster by client and path, from qumulo_activity ' +
      '(per-client, per-directory 60 s average rates polled every $poll s), with capacity and job annotations.',
  )
    .withVariable(
      new ConstantVariableBuilder('rollup')
        .label('Rollup period (s)')
        .description("The collector's QACTIVITY_ROLLUP_PERIOD in seconds: each rollup point stands for this many seconds")
        .value('3600'),
    )
    .withVariable(tagVariable(f, 'cluster', 'Cluster', tagValues(MEASUREMENT.activity, 'cluster'), { multi: true }))
    .withVariable(tagVariable(f, 'client', 'Client', tagValues(MEASUREMENT.activity, 'client_ip', filters.clusterOnly), { multi: true }))
    .withVariable(tagVariable(f, 'path', 'Path', tagValues(MEASUREMENT.activity, 'path', filters.clusterOnly), { multi: true }))
    .annotation(annotations('qactivity jobs', ['qactivity']))
    .withPanel(
      timeseries(
        f,
        'IOPS',
        'Operations per second summed over the selected clients and paths: file reads, file writes, metadata reads and writes. ' +
          `Each point is the mean of the per-poll sums in the interval. ${RAW}`,
        UNIT.iops,
        ratesOverTime(MEASUREMENT.activity, IOPS_FIELDS, filters.cluster),
      ),
    )
    .withPanel(
      timeseries(
        f,
        'Throughput',
        'Bytes per second read and written, summed over the selected clients and paths (mean of the per-poll sums in the interval). ' + RAW,
        UNIT.bytesPerSecond,
        ratesOverTime(MEASUREMENT.activity, THROUGHPUT_FIELDS, filters.cluster),
      ),
    )
    .withPanel(
      timeseries(
        f,
        'Cluster capacity',
        'qumulo_cluster: total, used and free bytes of the whole cluster, and bytes held by snapshots.',
        UNIT.bytes,
        valuesOverTime(MEASUREMENT.cluster, ['total_bytes', 'used_bytes', 'free_bytes', 'snapshot_bytes'], filters.clusterOnly),
      ),
    )
    .withPanel(
      timeseries(
        f,
        'Capacity of watched paths',
        'qumulo_capacity: bytes used under each watched path (job paths and QACTIVITY_WATCH_PATHS), including metadata.',
        UNIT.bytes,
        valuesOverTime(MEASUREMENT.capacity, ['used_bytes'], filters.clusterOnly, 'path'),
      ),
    )
    .withPanel(
      table(
        f,
        'Capacity growth by path',
        'Last − first reading of each watched path in the time range: bytes used, files and directories added (negative when removed).',
        UNIT.bytes,
        growthByPath(['used_bytes', 'files', 'directories'], filters.clusterOnly),
        24,
        7,
      )
        .overrideByName('files', [{ id: 'unit', value: UNIT.count }])
        .overrideByName('directories', [{ id: 'unit', value: UNIT.count }]),
    )
    .withPanel(
      table(
        f,
        'Top clients',
        `The busiest client addresses. ${TOTALS} Click an address to narrow the dashboard to it.`,
        UNIT.ops,
        totalsBy('client_ip', filters.cluster),
      )
        .sortBy([byDesc('iops_read')])
        .overrideByName('client_ip', [{ id: 'links', value: [clusterLink('client', 'client_ip')] }])
        .overrideByRegexp('throughput_.*', [{ id: 'unit', value: UNIT.bytes }]),
    )
    .withPanel(
      table(
        f,
        'Top paths (busiest directories)',
        `The busiest paths (watched paths, else directories cut to QACTIVITY_PATH_DEPTH). ` +
          `${TOTALS} Click a path to narrow the dashboard to it.`,
        UNIT.ops,
        totalsBy('path', filters.cluster),
      )
        .sortBy([byDesc('iops_read')])
        .overrideByName('path', [{ id: 'links', value: [clusterLink('path', 'path')] }])
        .overrideByRegexp('throughput_.*', [{ id: 'unit', value: UNIT.bytes }]),
    )
    .withPanel(
      timeseries(
        f,
        'IOPS per rollup period',
        `Mean operations per second of each rollup period, summed over the selected paths. ${ROLLUPS} ` +
          'Rollups are kept per path and per client, not per pair: the Client filter does not narrow this panel.',
        UNIT.iops,
        rollupRates(IOPS_FIELDS, filters.rollupPaths),
      ),
    )
    .withPanel(
      timeseries(
        f,
        'Throughput per rollup period',
        `Mean bytes per second of each rollup period, summed over the selected paths. ${ROLLUPS} ` +
          'The Client filter does not narrow this panel.',
        UNIT.bytesPerSecond,
        rollupRates(THROUGHPUT_FIELDS, filters.rollupPaths),
      ),
    )
    .withPanel(
      table(
        f,
        'Top clients over any range (rollups)',
        `Operations and bytes of each client over the whole rollup periods in the time range. ${ROLLUPS} ` +
          'The Path filter does not narrow this panel.',
        UNIT.ops,
        rollupTotalsBy('client_ip', filters.rollupClients),
      )
        .sortBy([byDesc('iops_read_total')])
        .overrideByRegexp('throughput_.*', [{ id: 'unit', value: UNIT.bytes }]),
    )
    .withPanel(
      table(
        f,
        'Top paths over any range (rollups)',
        `Operations and bytes of each path over the whole rollup periods in the time range. ${ROLLUPS} ` +
          'The Client filter does not narrow this panel.',
        UNIT.ops,
        rollupTotalsBy('path', filters.rollupPaths),
      )
        .sortBy([byDesc('iops_read_total')])
        .overrideByRegexp('throughput_.*', [{ id: 'unit', value: UNIT.bytes }]),
    )
    .withPanel(
      table(
        f,
        'Jobs in this time range',
        'Every job of the selected clusters with an event (start, comment, completion) in the time range, ' +
          'from qactivity_job: its latest status and window. ' +
          'Click a job to open it on the job dashboard over its own window (a running one from its start to now).',
        UNIT.count,
        lastBy(MEASUREMENT.job, ['status', 'started_at', 'ended_at', 'paths', 'clients'], filters.clusterOnly, [
          'job_id',
          'job_name',
          'cluster',
        ]),
        24,
        8,
      )
        // ended_at is 0 while a job runs, and a link cannot choose: one link per case
        .overrideByName('job_id', [
          {
            id: 'links',
            value: [
              {
                title: 'Open the job over its window (completed)',
                url:
                  `/d/${UID.job(f)}?var-job=\${__data.fields["job_id"]}` +
                  `&from=\${__data.fields["started_at"].numeric}` +
                  `&to=\${__data.fields["ended_at"].numeric}`,
              },
              {
                title: 'Open the job from its start to now (running)',
                url: `/d/${UID.job(f)}?var-job=\${__data.fields["job_id"]}&from=\${__data.fields["started_at"].numeric}&to=now`,
              },
            ],
          },
        ])
        .overrideByRegexp('(started|ended)_at', [{ id: 'unit', value: 'dateTimeAsIso' }]),
    )
    .withPanel(
      stat(
        f,
        'Collector cycles failing',
        'qactivity_collector: cycles in the range where an endpoint failed or a point was refused (success = 0). Zero is healthy.',
        UNIT.count,
        {
          influxql:
            `SELECT count("success") - sum("success") AS "failed cycles" FROM "${MEASUREMENT.collector}" ` +
            `WHERE $timeFilter AND "cluster" =~ /^$cluster$/`,
          flux: [
            `from(bucket: "\${bucket}")`,
            '  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)',
            `  |> filter(fn: (r) => r._measurement == "${MEASUREMENT.collector}" and r._field == "success" ` +
              `and r.cluster =~ /^\${cluster:regex}$/)`,
            '  |> map(fn: (r) => ({r with _value: 1.0 - float(v: r._value)}))',
            '  |> group()',
            '  |> sum()',
          ].join('\n'),
          format: 'table',
        },
        24,
        4,
      ),
    )
  return numbered(d.build())
}
