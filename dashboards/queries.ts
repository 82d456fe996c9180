import { ACTIVITY_FIELDS, MEASUREMENT, RAW_WINDOW_SECONDS, fluxBucket, influxqlFrom, type ActivityField } from '../lib/schema.ts'
import type { PanelQuery } from './target.ts'

/**
 * The panel queries of the dashboards, each in InfluxQL and Flux, built from the schema module.
 *
 * Qumulo rates are 60-second averages sampled once per poll (`$poll` seconds, a dashboard
 * constant): a series' rate over a Grafana interval is the mean of its per-poll sums, never a sum
 * over the interval (which would multiply it by the polls in it). A total is Σ rate × poll seconds
 * (or × `seconds` for job copies, whose edges are weighted).
 *
 * Filters are written in Grafana's variable syntax: InfluxQL `/^$var$/` (Grafana escapes multi
 * values for regexes; "All" is `.*`), Flux `/^${var:regex}$/`.
 */

/** Display names of the activity fields. */
export const FIELD_LABEL: Record<ActivityField, string> = {
  iops_read: 'read',
  iops_write: 'write',
  metadata_iops_read: 'metadata read',
  metadata_iops_write: 'metadata write',
  throughput_read: 'read',
  throughput_write: 'write',
}
export const IOPS_FIELDS = ACTIVITY_FIELDS.slice(0, 4)
export const THROUGHPUT_FIELDS = ACTIVITY_FIELDS.slice(4)

/** A tag or field name as an InfluxQL identifier (schema names are plain; quoting keeps it uniform). */
const q = (name: string) => `"${name}"`

/** One filter in both languages. */
export interface Filter {
  influxql: string
  flux: string
}

export const filters = {
  /** the cluster dashboard's variables */
  cluster: {
    influxql: `${q('cluster')} =~ /^$cluster$/ AND ${q('client_ip')} =~ /^$client$/ AND ${q('path')} =~ /^$path$/`,
    flux: 'r.cluster =~ /^${cluster:regex}$/ and r.client_ip =~ /^${client:regex}$/ and r.path =~ /^${path:regex}$/',
  },
  clusterOnly: { influxql: `${q('cluster')} =~ /^$cluster$/`, flux: 'r.cluster =~ /^${cluster:regex}$/' },
  /** rollup rows per path (they carry no client: the Client filter cannot narrow them) */
  rollupPaths: {
    influxql: `${q('cluster')} =~ /^$cluster$/ AND ${q('path')} =~ /^$path$/ AND ${q('path')} != '' AND ${q('client_ip')} = ''`,
    flux: 'r.cluster =~ /^${cluster:regex}$/ and exists r.path and r.path =~ /^${path:regex}$/ and not exists r.client_ip',
  },
  /** rollup rows per client (they carry no path: the Path filter cannot narrow them) */
  rollupClients: {
    influxql: `${q('cluster')} =~ /^$cluster$/ AND ${q('client_ip')} =~ /^$client$/ AND ${q('client_ip')} != '' AND ${q('path')} = ''`,
    flux: 'r.cluster =~ /^${cluster:regex}$/ and exists r.client_ip and r.client_ip =~ /^${client:regex}$/ and not exists r.path',
  },
  /** one job (job IDs are [A-Za-z0-9._+-]: safe inside quotes) */
  job: { influxql: `${q('job_id')} = '$job'`, flux: 'r.job_id == "${job}"' },
  /** the jobs picked on the compare dashboard */
  jobs: { influxql: `${q('job_id')} =~ /^$jobs$/`, flux: 'r.job_id =~ /^${jobs:regex}$/' },
} satisfies Record<string, Filter>

/** Raw points hold counts of Qumulo's 60 s window (lib/schema.ts RAW_WINDOW_SECONDS): ` / 60` makes them rates. */
const perSecond = (measurement: string) => (measurement === MEASUREMENT.activity ? ` / ${RAW_WINDOW_SECONDS}` : '')

/** The matching points of `fields`; raw activity turned into rates (ops/s, bytes/s) like every other series. */
function fluxFrom(measurement: string, fields: readonly string[], filter?: Filter): string[] {
  return [
    `from(bucket: "${fluxBucket('${bucket}', measurement)}")`,
    '  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)',
    `  |> filter(fn: (r) => r._measurement == "${measurement}")`,
    `  |> filter(fn: (r) => ${fields.map((f) => `r._field == "${f}"`).join(' or ')})`,
    ...(filter ? [`  |> filter(fn: (r) => ${filter.flux})`] : []),
    ...(perSecond(measurement) ? [`  |> map(fn: (r) => ({r with _value: float(v: r._value)${perSecond(measurement)}.0}))`] : []),
  ]
}

/** ` AND <filter>` in InfluxQL, or nothing. */
const and = (filter?: Filter) => (filter ? ` AND ${filter.influxql}` : '')

/**
 * Rates over time: per poll the sum over the matching series (optionally per `by` tag), then the
 * mean of those sums per Grafana interval. ops/s or bytes/s.
 */
export function ratesOverTime(measurement: string, fields: readonly ActivityField[], filter: Filter, by?: string): PanelQuery {
  const inner = fields.map((f) => `sum(${q(f)})${perSecond(measurement)} AS ${q(FIELD_LABEL[f])}`).join(', ')
  const outer = fields.map((f) => `mean(${q(FIELD_LABEL[f])}) AS ${q(FIELD_LABEL[f])}`).join(', ')
  const tag = by ? `, ${q(by)}` : ''
  return {
    influxql:
      `SELECT ${outer} FROM (SELECT ${inner} FROM ${influxqlFrom(measurement)} ` +
      `WHERE $timeFilter AND ${filter.influxql} GROUP BY time(\${poll}s)${tag}) ` +
      `WHERE $timeFilter GROUP BY time($__interval)${tag} fill(none)`,
    flux: [
      ...fluxFrom(measurement, fields, filter),
      `  |> group(columns: ["_field"${by ? `, "${by}"` : ''}])`,
      '  |> aggregateWindow(every: ${poll}s, fn: sum, timeSrc: "_start", createEmpty: false)',
      '  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)',
      `  |> map(fn: (r) => ({r with _field: ${fluxLabel(fields)}}))`,
    ].join('\n'),
    alias: by ? `$tag_${by} $col` : undefined,
  }
}

/** Flux: the display name of `r._field` (as InfluxQL's aliases). */
function fluxLabel(fields: readonly ActivityField[]): string {
  return fields.reduceRight((rest, f) => `if r._field == "${f}" then "${FIELD_LABEL[f]}" else ${rest}`, 'r._field')
}

/**
 * Totals per `by` tag over the time range, as a table: Σ rate × poll seconds of `qumulo_activity`
 * (ops and bytes), sorted by the dashboard's table.
 */
export function totalsBy(by: string, filter: Filter): PanelQuery {
  const cols = ACTIVITY_FIELDS.map((f) => `sum(${q(f)})${perSecond(MEASUREMENT.activity)} * $poll AS ${q(f)}`).join(', ')
  return {
    influxql: `SELECT ${cols} FROM ${influxqlFrom(MEASUREMENT.activity)} WHERE $timeFilter AND ${filter.influxql} GROUP BY ${q(by)}`,
    flux: [
      ...fluxFrom(MEASUREMENT.activity, ACTIVITY_FIELDS, filter),
      `  |> group(columns: ["${by}", "_field"])`,
      '  |> sum()',
      '  |> map(fn: (r) => ({r with _value: r._value * float(v: ${poll})}))',
      `  |> pivot(rowKey: ["${by}"], columnKey: ["_field"], valueColumn: "_value")`,
      '  |> group()',
    ].join('\n'),
    format: 'table',
  }
}

const totalOf = (f: ActivityField) => `${f}_total`

/**
 * Mean rates per rollup period (`$rollup` seconds, a dashboard constant) from `qumulo_activity_rollup`:
 * the period's total over its seconds, summed over the matching rows. ops/s or bytes/s.
 */
export function rollupRates(fields: readonly ActivityField[], filter: Filter): PanelQuery {
  const cols = fields.map((f) => `sum(${q(totalOf(f))}) / $rollup AS ${q(FIELD_LABEL[f])}`).join(', ')
  const label = fields.reduceRight((rest, f) => `if r._field == "${totalOf(f)}" then "${FIELD_LABEL[f]}" else ${rest}`, 'r._field')
  return {
    influxql:
      `SELECT ${cols} FROM ${influxqlFrom(MEASUREMENT.activityRollup)} ` +
      `WHERE $timeFilter AND ${filter.influxql} GROUP BY time(\${rollup}s) fill(none)`,
    flux: [
      ...fluxFrom(MEASUREMENT.activityRollup, fields.map(totalOf), filter),
      '  |> group(columns: ["_field"])',
      '  |> aggregateWindow(every: ${rollup}s, fn: sum, timeSrc: "_start", createEmpty: false)',
      `  |> map(fn: (r) => ({r with _value: float(v: r._value) / float(v: \${rollup}), _field: ${label}}))`,
    ].join('\n'),
  }
}

/** Totals (`<field>_total`: ops, bytes) per `by` tag over the whole rollup periods in the range, as a table. */
export function rollupTotalsBy(by: 'path' | 'client_ip', filter: Filter): PanelQuery {
  const cols = ACTIVITY_FIELDS.map((f) => `sum(${q(totalOf(f))}) AS ${q(totalOf(f))}`).join(', ')
  return {
    influxql: `SELECT ${cols} FROM ${influxqlFrom(MEASUREMENT.activityRollup)} WHERE $timeFilter AND ${filter.influxql} GROUP BY ${q(by)}`,
    flux: [
      ...fluxFrom(MEASUREMENT.activityRollup, ACTIVITY_FIELDS.map(totalOf), filter),
      `  |> group(columns: ["${by}", "_field"])`,
      '  |> sum()',
      `  |> pivot(rowKey: ["${by}"], columnKey: ["_field"], valueColumn: "_value")`,
      '  |> group()',
    ].join('\n'),
    format: 'table',
  }
}

/**
 * A job's totals per `by` tag (or overall), from its attributed points: Σ rate × seconds (the seconds
 * of each point's interval inside the job's window, so the edges are exact).
 */
export function jobTotals(fields: readonly ActivityField[], filter: Filter, by?: string): PanelQuery {
  const inner = fields.map((f) => `${q(f)} * ${q('seconds')} AS ${q(f)}`).join(', ')
  const outer = fields.map((f) => `sum(${q(f)}) AS ${q(f)}`).join(', ')
  const tag = by ? ` GROUP BY ${q(by)}` : ''
  const subquery = `SELECT ${inner} FROM ${influxqlFrom(MEASUREMENT.jobActivity)} WHERE $timeFilter AND ${filter.influxql}${tag}`
  return {
    influxql: `SELECT ${outer} FROM (${subquery})${tag}`,
    flux: [
      ...fluxFrom(MEASUREMENT.jobActivity, [...fields, 'seconds'], filter),
      `  |> pivot(rowKey: ["_time", "client_ip", "path"], columnKey: ["_field"], valueColumn: "_value")`,
      `  |> map(fn: (r) => ({r with ${fields.map((f) => `${f}: r.${f} * r.seconds`).join(', ')}}))`,
      `  |> group(${by ? `columns: ["${by}"]` : ''})`,
      `  |> reduce(identity: {${fields.map((f) => `${f}: 0.0`).join(', ')}}, ` +
        `fn: (r, accumulator) => ({${fields.map((f) => `${f}: accumulator.${f} + r.${f}`).join(', ')}}))`,
      // One table (the tag as a column), so the panel shows and sorts every row, not one frame per tag value.
      ...(by ? ['  |> group()'] : []),
    ].join('\n'),
    format: 'table',
  }
}

/** Per-poll sums of a job's rates reduced over the range with `fn` (`max` = peak). */
export function jobPerPoll(fn: 'max', fields: readonly ActivityField[], filter: Filter): PanelQuery {
  const inner = fields.map((f) => `sum(${q(f)}) AS ${q(f)}`).join(', ')
  const outer = fields.map((f) => `${fn}(${q(f)}) AS ${q(FIELD_LABEL[f])}`).join(', ')
  return {
    influxql:
      `SELECT ${outer} FROM (SELECT ${inner} FROM ${influxqlFrom(MEASUREMENT.jobActivity)} ` +
      `WHERE $timeFilter AND ${filter.influxql} GROUP BY time(\${poll}s) fill(none)) WHERE $timeFilter`,
    flux: [
      ...fluxFrom(MEASUREMENT.jobActivity, fields, filter),
      '  |> group(columns: ["_field"])',
      '  |> aggregateWindow(every: ${poll}s, fn: sum, timeSrc: "_start", createEmpty: false)',
      `  |> ${fn}()`,
      `  |> map(fn: (r) => ({r with _field: ${fluxLabel(fields)}}))`,
    ].join('\n'),
    format: 'table',
  }
}

/** Last value per `by` tags of `fields` from `measurement`, over the range, as a table. */
export function lastBy(measurement: string, fields: readonly string[], filter: Filter | undefined, by: readonly string[]): PanelQuery {
  const tags = by.map((t) => `"${t}"`).join(', ')
  return {
    influxql:
      `SELECT ${fields.map((f) => `last(${q(f)}) AS ${q(f)}`).join(', ')} ` +
      `FROM ${influxqlFrom(measurement)} WHERE $timeFilter${and(filter)} GROUP BY ${by.map(q).join(', ')}`,
    flux: [
      ...fluxFrom(measurement, fields, filter),
      `  |> group(columns: [${tags}, "_field"])`,
      '  |> last()',
      `  |> pivot(rowKey: [${tags}], columnKey: ["_field"], valueColumn: "_value")`,
      '  |> group()',
    ].join('\n'),
    format: 'table',
  }
}

/** Growth (last − first) of capacity fields per path over the range. */
export function growthByPath(fields: readonly string[], filter: Filter): PanelQuery {
  return {
    influxql:
      `SELECT ${fields.map((f) => `last(${q(f)}) - first(${q(f)}) AS ${q(f)}`).join(', ')} ` +
      `FROM ${influxqlFrom(MEASUREMENT.capacity)} WHERE $timeFilter AND ${filter.influxql} GROUP BY ${q('path')}`,
    flux: [
      ...fluxFrom(MEASUREMENT.capacity, fields, filter),
      '  |> group(columns: ["path", "_field"])',
      '  |> reduce(identity: {first: 0.0, last: 0.0, n: 0}, ' +
        'fn: (r, accumulator) => ({first: if accumulator.n == 0 then float(v: r._value) else accumulator.first, ' +
        'last: float(v: r._value), n: accumulator.n + 1}))',
      '  |> map(fn: (r) => ({path: r.path, _field: r._field, _value: r.last - r.first}))',
      '  |> pivot(rowKey: ["path"], columnKey: ["_field"], valueColumn: "_value")',
      '  |> group()',
    ].join('\n'),
    format: 'table',
  }
}

/** Raw values of fields over time (capacity and cluster space), per `by` tag. */
export function valuesOverTime(measurement: string, fields: readonly string[], filter: Filter, by?: string): PanelQuery {
  const tag = by ? `, ${q(by)}` : ''
  return {
    influxql:
      `SELECT ${fields.map((f) => `last(${q(f)}) AS ${q(f)}`).join(', ')} ` +
      `FROM ${influxqlFrom(measurement)} WHERE $timeFilter AND ${filter.influxql} GROUP BY time($__interval)${tag} fill(none)`,
    flux: [
      ...fluxFrom(measurement, fields, filter),
      `  |> group(columns: ["_field"${by ? `, "${by}"` : ''}])`,
      '  |> aggregateWindow(every: v.windowPeriod, fn: last, createEmpty: false)',
    ].join('\n'),
    alias: by ? `$tag_${by} $col` : undefined,
  }
}

/**
 * The jobs, each as one string holding its ID and name, for a variable whose regex (`text` and
 * `value` capture groups, Grafana ≥ 7.4) shows the name and keeps the ID as the value. InfluxQL
 * cannot join strings, so it lists the series keys of qactivity_job (`…,job_id=ID,job_name=NAME`,
 * tags in key order); Flux writes `NAME (ID)`.
 */
export function jobChoices(): { influxql: string; flux: string; regex: { influxql: string; flux: string } } {
  return {
    influxql: `SHOW SERIES FROM ${influxqlFrom(MEASUREMENT.job)}`,
    flux: [
      `from(bucket: "${fluxBucket('${bucket}', MEASUREMENT.job)}")`,
      '  |> range(start: -90d)',
      `  |> filter(fn: (r) => r._measurement == "${MEASUREMENT.job}" and r._field == "status")`,
      '  |> group(columns: ["job_id", "job_name"])',
      '  |> last()',
      '  |> group()',
      '  |> sort(columns: ["_time"], desc: true)',
      '  |> map(fn: (r) => ({_value: r.job_name + " (" + r.job_id + ")"}))',
    ].join('\n'),
    regex: {
      // job IDs are [A-Za-z0-9._+-] (no comma, no escapes): the text is the rest, from the ID to the name
      influxql: '/,(?<text>job_id=(?<value>[A-Za-z0-9._+-]+),job_name=.*)$/',
      flux: '/^(?<text>.* \\((?<value>[A-Za-z0-9._+-]+)\\))$/',
    },
  }
}

/** A dashboard variable's values: a tag's values in a measurement, optionally narrowed by a filter. */
export function tagValues(measurement: string, tag: string, where?: Filter): { influxql: string; flux: string } {
  return {
    influxql: `SHOW TAG VALUES FROM ${influxqlFrom(measurement)} WITH KEY = ${q(tag)}${where ? ` WHERE ${where.influxql}` : ''}`,
    flux: [
      'import "influxdata/influxdb/schema"',
      '',
      `schema.tagValues(bucket: "${fluxBucket('${bucket}', measurement)}", tag: "${tag}", ` +
        `predicate: (r) => r._measurement == "${measurement}"${where ? ` and ${where.flux}` : ''}, start: -90d)`,
    ].join('\n'),
  }
}

/**
 * Showback from the job summaries (one point per completed job, at its end): per `by` tag the jobs
 * that ended in the time range and their totals added up (ops, bytes), as a table.
 */
export function usageBy(by: 'job_name' | 'cluster', filter: Filter): PanelQuery {
  const totals = ACTIVITY_FIELDS.map((f) => `sum(${q(`${f}_total`)}) AS ${q(f)}`).join(', ')
  const fields = ACTIVITY_FIELDS.map((f) => `${f}_total`)
  return {
    influxql:
      `SELECT count(${q('window_seconds')}) AS ${q('jobs')}, ${totals} FROM ${influxqlFrom(MEASUREMENT.jobSummary)} ` +
      `WHERE $timeFilter AND ${filter.influxql} GROUP BY ${q(by)}`,
    flux: [
      'import "strings"',
      '',
      `data = from(bucket: "${fluxBucket('${bucket}', MEASUREMENT.jobSummary)}")`,
      '  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)',
      `  |> filter(fn: (r) => r._measurement == "${MEASUREMENT.jobSummary}" and ${filter.flux})`,
      'jobs = data',
      '  |> filter(fn: (r) => r._field == "window_seconds")',
      `  |> group(columns: ["${by}"])`,
      '  |> count()',
      '  |> map(fn: (r) => ({r with _field: "jobs", _value: float(v: r._value)}))',
      'totals = data',
      `  |> filter(fn: (r) => ${fields.map((f) => `r._field == "${f}"`).join(' or ')})`,
      `  |> group(columns: ["${by}", "_field"])`,
      '  |> sum()',
      '  |> map(fn: (r) => ({r with _field: strings.trimSuffix(v: r._field, suffix: "_total")}))',
      'union(tables: [jobs, totals])',
      `  |> pivot(rowKey: ["${by}"], columnKey: ["_field"], valueColumn: "_value")`,
      '  |> group()',
    ].join('\n'),
    format: 'table',
  }
}

/** Completed jobs per Grafana interval (their summaries' end times), per cluster. */
export function jobsOverTime(filter: Filter): PanelQuery {
  return {
    influxql:
      `SELECT count(${q('window_seconds')}) AS ${q('jobs')} FROM ${influxqlFrom(MEASUREMENT.jobSummary)} ` +
      `WHERE $timeFilter AND ${filter.influxql} GROUP BY time($__interval), ${q('cluster')} fill(0)`,
    flux: [
      `from(bucket: "${fluxBucket('${bucket}', MEASUREMENT.jobSummary)}")`,
      '  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)',
      `  |> filter(fn: (r) => r._measurement == "${MEASUREMENT.jobSummary}" and r._field == "window_seconds" and ${filter.flux})`,
      '  |> group(columns: ["cluster"])',
      '  |> aggregateWindow(every: v.windowPeriod, fn: count, createEmpty: true)',
      '  |> set(key: "_field", value: "jobs")',
    ].join('\n'),
    alias: '$tag_cluster $col',
  }
}
