/**
 * The InfluxDB schema of docs/interface.md §4: the single source of measurement, tag and field names for
 * the collector (writes), the query layer and the dashboards (reads).
 */

/** Measurement names. */
export const MEASUREMENT = {
  activity: 'qumulo_activity',
  activityRollup: 'qumulo_activity_rollup',
  clusterActivity: 'qumulo_cluster_activity',
  capacity: 'qumulo_capacity',
  cluster: 'qumulo_cluster',
  job: 'qactivity_job',
  jobSummary: 'qactivity_job_summary',
  jobActivity: 'qactivity_job_activity',
  jobTimeline: 'qactivity_job_timeline',
  collector: 'qactivity_collector',
} as const

/** A measurement name. */
export type Measurement = (typeof MEASUREMENT)[keyof typeof MEASUREMENT]

/**
 * Where measurements with their own retention are kept (README "Sizing and retention"): raw activity
 * for `QACTIVITY_RAW_RETENTION`, the per-job series and job events for `QACTIVITY_JOB_RETENTION`. On
 * InfluxDB 1.x these are retention policies of the database; on 2.x/3.x, buckets/databases named
 * `<bucket>/<policy>` (which 2.x maps for InfluxQL by itself). Every other measurement (capacity,
 * cluster, self-metrics) stays in the database's default policy, kept as long as it says.
 */
export const RETENTION_POLICY = { raw: 'qactivity_raw', jobs: 'qactivity_jobs' } as const
export type RetentionClass = keyof typeof RETENTION_POLICY

const KEPT_IN: Partial<Record<Measurement, RetentionClass>> = {
  qumulo_activity: 'raw',
  qactivity_job_activity: 'jobs',
  qactivity_job: 'jobs',
  qactivity_job_summary: 'jobs',
  qactivity_job_timeline: 'jobs',
}

/** The retention policy a measurement is written to; undefined: the database's default. */
export function retentionPolicyOf(measurement: string): string | undefined {
  const c = KEPT_IN[measurement as Measurement]
  return c && RETENTION_POLICY[c]
}

/** An InfluxQL source for a measurement: `"qactivity_raw"."qumulo_activity"`, or just the quoted name. */
export function influxqlFrom(measurement: string): string {
  const rp = retentionPolicyOf(measurement)
  return rp ? `"${rp}"."${measurement}"` : `"${measurement}"`
}

/** The Flux bucket of a measurement: `<bucket>/qactivity_raw` for raw activity, `<bucket>` for the rest kept by default. */
export function fluxBucket(bucket: string, measurement: string): string {
  const rp = retentionPolicyOf(measurement)
  return rp ? `${bucket}/${rp}` : bucket
}

/** The six activity types of `GET /v1/analytics/activity/current` (docs/qumulo/api.md §2). */
export const ACTIVITY_TYPES = [
  'file-iops-read',
  'file-iops-write',
  'metadata-iops-read',
  'metadata-iops-write',
  'file-throughput-read',
  'file-throughput-write',
] as const

/** A Qumulo activity type. */
export type ActivityType = (typeof ACTIVITY_TYPES)[number]

/** Activity fields of `qumulo_activity`, in the order of {@link ACTIVITY_TYPES}. */
export const ACTIVITY_FIELDS = [
  'iops_read',
  'iops_write',
  'metadata_iops_read',
  'metadata_iops_write',
  'throughput_read',
  'throughput_write',
] as const

/**
 * Raw activity (`qumulo_activity`) is stored as what Qumulo's rates stand for: the operations and
 * bytes counted in its 60-second window, rate × 60 — an integer for every rate Qumulo serves
 * (docs/qumulo/api.md §2) — all six fields, zeros too (a reader's per-poll sum must add them, not
 * skip them). Integers compress ~2.7× better than the rates (BENCHMARKS.md "Disk per day"). A
 * reader's rate is value / {@link RAW_WINDOW_SECONDS}.
 */
export const RAW_WINDOW_SECONDS = 60

/** A `qumulo_activity` field name. */
export type ActivityField = (typeof ACTIVITY_FIELDS)[number]

/** Field written for each Qumulo activity type. */
export const FIELD_OF_TYPE: Record<ActivityType, ActivityField> = {
  'file-iops-read': 'iops_read',
  'file-iops-write': 'iops_write',
  'metadata-iops-read': 'metadata_iops_read',
  'metadata-iops-write': 'metadata_iops_write',
  'file-throughput-read': 'throughput_read',
  'file-throughput-write': 'throughput_write',
}

/** Unit of each activity field: operations per second or bytes per second. */
export const FIELD_UNIT: Record<ActivityField, 'ops/s' | 'bytes/s'> = {
  iops_read: 'ops/s',
  iops_write: 'ops/s',
  metadata_iops_read: 'ops/s',
  metadata_iops_write: 'ops/s',
  throughput_read: 'bytes/s',
  throughput_write: 'bytes/s',
}

/** Σ of the operation fields (IOPS kinds) of per-field numbers; a missing or non-numeric one counts 0. */
export function opsOf(v: Partial<Record<ActivityField, unknown>>): number {
  return sumOf(v, 'ops/s')
}

/** Σ of the byte fields (throughput kinds) of per-field numbers; a missing or non-numeric one counts 0. */
export function bytesOf(v: Partial<Record<ActivityField, unknown>>): number {
  return sumOf(v, 'bytes/s')
}

function sumOf(v: Partial<Record<ActivityField, unknown>>, unit: (typeof FIELD_UNIT)[ActivityField]): number {
  let sum = 0
  for (const f of ACTIVITY_FIELDS) {
    const x = v[f]
    if (FIELD_UNIT[f] === unit && typeof x === 'number' && Number.isFinite(x)) sum += x
  }
  return sum
}

/** Tag and field names per measurement, used by the dashboards' and queries' schema checks. */
export const SCHEMA = {
  [MEASUREMENT.activity]: { tags: ['cluster', 'client_ip', 'path'], fields: [...ACTIVITY_FIELDS] },
  [MEASUREMENT.activityRollup]: {
    tags: ['cluster', 'path', 'client_ip'],
    fields: [...ACTIVITY_FIELDS.flatMap((f) => [`${f}_total`, `${f}_peak`]), 'polls'],
  },
  [MEASUREMENT.clusterActivity]: { tags: ['cluster'], fields: [...ACTIVITY_FIELDS] },
  [MEASUREMENT.capacity]: {
    tags: ['cluster', 'path'],
    fields: ['used_bytes', 'data_bytes', 'meta_bytes', 'files', 'directories'],
  },
  [MEASUREMENT.cluster]: {
    tags: ['cluster'],
    fields: ['total_bytes', 'free_bytes', 'used_bytes', 'snapshot_bytes'],
  },
  [MEASUREMENT.job]: {
    tags: ['job_id', 'job_name', 'cluster'],
    fields: ['event', 'status', 'status_code', 'started_at', 'ended_at', 'paths', 'clients', 'comment'],
  },
  [MEASUREMENT.jobSummary]: {
    tags: ['job_id', 'job_name', 'cluster'],
    fields: [
      'status',
      'window_seconds',
      'polls',
      ...ACTIVITY_FIELDS.flatMap((f) => [`${f}_total`, `${f}_mean`, `${f}_peak`]),
      'used_bytes_delta',
      'files_delta',
      'directories_delta',
      'previous_job_id',
      ...ACTIVITY_FIELDS.map((f) => `${f}_total_change_pct`),
      ...ACTIVITY_FIELDS.flatMap((f) => [`${f}_share_pct`, `${f}_peak_share_pct`]),
      'used_bytes_share_pct',
      'read_io_size_bytes',
      'write_io_size_bytes',
      'metadata_per_data_op',
      'read_ops_pct',
      'read_bytes_pct',
      'tags',
      'regression',
      'regression_runs',
    ],
  },
  [MEASUREMENT.jobActivity]: {
    tags: ['job_id', 'job_name', 'cluster', 'client_ip', 'path'],
    fields: [...ACTIVITY_FIELDS, 'seconds', 'elapsed_seconds'],
  },
  [MEASUREMENT.jobTimeline]: { tags: ['job_id', 'job_name', 'cluster'], fields: [...ACTIVITY_FIELDS] },
  [MEASUREMENT.collector]: {
    tags: ['cluster'],
    fields: [
      'success',
      'cycle_seconds',
      'entries',
      'rejected_entries',
      'points',
      'jobs',
      'jobs_stale',
      'job_points',
      'series',
      'collapsed_paths',
      'lateness_seconds',
      'resolve_calls',
      'resolved_ids',
      'cache_hit_rate',
      'cache_size',
      'failed_endpoints',
      'failed',
      'failed_paths',
      'write_errors',
      'dropped_points',
      'spool_bytes',
      'skipped_ticks',
    ],
  },
} as const

/** `path` tag value for activity whose file id no longer resolves (deleted since the sample). */
export const UNRESOLVED_PATH = '(unresolved)'
