import { z } from '@hono/zod-openapi'
import { normalizePath } from '../lib/paths.ts'
import { canonicalClient } from '../lib/addresses.ts'
import { ACTIVITY_FIELDS, type ActivityField } from '../lib/schema.ts'
import { parseGroup } from '../stats/usage.ts'
import { CLUSTER_NAME_RE } from '../lib/clusters-file.ts'
import { MAX_FUTURE_MS } from '../jobs/service.ts'
import { JOB_ID_PATTERN, JOB_ID_RE } from '../jobs/ids.ts'
import { END_STATUSES, JOB_STATUSES } from '../jobs/types.ts'

export { canonicalAddress, canonicalClient } from '../lib/addresses.ts'

/**
 * Request and response schemas of docs/interface.md §5: the one source for validation and the OpenAPI
 * document. Inputs are strict (unknown fields are a 400) and canonicalised (paths normalised, IPs
 * and CIDRs in canonical form) so the store and the queries only ever see clean values.
 */

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/
const CONTROL_OR_NEWLINE = /[\u0000-\u001f\u007f]/
/** User input quoted in an error message: cut, with newlines and control characters escaped so the message stays one line. */
const quoted = (s: string) => JSON.stringify(s.slice(0, 80))

/** Job IDs: client-chosen (e.g. a Slurm job ID) or generated. */
export const JobId = z.string().regex(JOB_ID_RE, `must match ${JOB_ID_PATTERN}`).openapi({ example: 'slurm-48213' })

const text = (max: number, what: string) =>
  z
    .string()
    .trim()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    .refine((s) => !CONTROL_OR_NEWLINE.test(s), `${what} must not contain control characters or newlines`)

const JobName = text(200, 'name').openapi({ example: 'render-shot-042' })

/** A configured cluster's name (the `cluster` tag); required on create when several are configured. */
const ClusterName = z
  .string()
  .regex(CLUSTER_NAME_RE, 'cluster must be a configured cluster name (1–64 characters of A–Z a–z 0–9 . _ : -)')
  .openapi({ example: 'qumulo-a' })

/** An absolute, normalised cluster path. */
export const ClusterPath = z
  .string()
  .transform((s, ctx) => {
    const n = normalizePath(s)
    if (n.ok) return n.path
    ctx.addIssue({ code: 'custom', message: `path ${n.reason}` })
    return z.NEVER
  })
  .openapi({ type: 'string', example: '/render/shots/sq010' })

/** An IPv4/IPv6 address or CIDR, canonicalised (`10.0.0.7/24` → `10.0.0.0/24`, `::ffff:1.2.3.4` → `1.2.3.4`). */
export const Client = z
  .string()
  .transform((s, ctx) => {
    const c = canonicalClient(s.trim())
    if (c) return c
    ctx.addIssue({ code: 'custom', message: `${quoted(s)} is not an IPv4/IPv6 address or CIDR` })
    return z.NEVER
  })
  .openapi({ type: 'string', example: '10.0.1.0/24' })

/** One value or a list: form bodies repeat keys (`paths=/a&paths=/b`), JSON sends arrays. */
const oneOrMany = <T extends z.ZodType>(item: T, max: number, what: string) =>
  z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(item).max(max, `at most ${max} ${what} per request`))

const LABEL_KEY = /^[A-Za-z0-9_.-]{1,64}$/
const labelPair = z.string().transform((s, ctx) => {
  const i = s.indexOf('=')
  const [k, v] = i > 0 ? [s.slice(0, i), s.slice(i + 1)] : [s, '']
  if (!LABEL_KEY.test(k) || v === '' || v.length > 256 || CONTROL_OR_NEWLINE.test(v)) {
    ctx.addIssue({
      code: 'custom',
      message:
        `label ${quoted(s)} must be key=value (key [A-Za-z0-9_.-]{1,64}, ` +
        `value 1–256 characters, no control characters, tabs or newlines)`,
    })
    return z.NEVER
  }
  return [k, v] as [string, string]
})

/** Labels as a JSON object, or `k=v` strings (form bodies, CLI). */
export const Labels = z
  .union([
    z.record(
      z.string().regex(LABEL_KEY, 'label keys must match [A-Za-z0-9_.-]{1,64}'),
      z
        .string()
        .min(1)
        .max(256)
        .refine((v) => !CONTROL_OR_NEWLINE.test(v), 'label values must not contain control characters, tabs or newlines'),
    ),
    oneOrMany(labelPair, 32, 'labels').transform((pairs) => Object.fromEntries(pairs)),
  ])
  .refine((l) => Object.keys(l).length <= 32, 'at most 32 labels')
  .openapi({ type: 'object', additionalProperties: { type: 'string' }, example: { project: 'feature-x', shot: '042' } })

const Email = z.email('must be an e-mail address').max(254)

const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2}))$/i
const ISO_WITHOUT_ZONE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/i
/**
 * Smallest accepted epoch-milliseconds value (2001-09-09): anything smaller is far more likely epoch
 * seconds than a millisecond time, and reading seconds as milliseconds would silently mean 1970.
 */
const MIN_EPOCH_MS = 1e12
const MAX_EPOCH_MS = 8.64e15
const INSTANT_FORMS = 'an ISO 8601 time with a zone (2026-11-23T10:00:00Z, 2026-11-23T11:00:00+01:00) or epoch milliseconds (13 digits)'

/** Epoch ms of an ISO 8601 time with a zone, or NaN (Date.parse would roll 02-31 over into March). */
function isoMs(s: string): number {
  const m = ISO_WITH_ZONE.exec(s)
  if (!m) return NaN
  const [, y, mo, d, h, mi, sec = '0', , oh = '0', om = '0'] = m
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate()
  const ok = +mo >= 1 && +mo <= 12 && +d >= 1 && +d <= days && +h <= 23 && +mi <= 59 && +sec <= 59 && +oh <= 23 && +om <= 59
  return ok ? Date.parse(s) : NaN
}

/** Why a value is not an instant, or its epoch ms. */
function instantMs(v: unknown): number | string {
  const shown = JSON.stringify(v)?.slice(0, 40) ?? String(v)
  if (typeof v === 'number' || (typeof v === 'string' && /^\d{1,16}$/.test(v))) {
    const ms = Number(v)
    if (!Number.isSafeInteger(ms) || ms < 0) return `${shown} is not ${INSTANT_FORMS}`
    if (ms < MIN_EPOCH_MS)
      return (
        `${shown} is not epoch milliseconds (smaller than ${MIN_EPOCH_MS}, ` +
        `i.e. before 2001-09-09: epoch seconds?); give ${INSTANT_FORMS}`
      )
    if (ms > MAX_EPOCH_MS) return `${shown} is past the largest time (${MAX_EPOCH_MS} ms)`
    return ms
  }
  if (typeof v === 'string') {
    const ms = isoMs(v)
    if (Number.isFinite(ms)) return ms
    if (ISO_WITHOUT_ZONE.test(v)) return `${shown} has no zone: add Z (UTC) or ±hh:mm`
  }
  return `${shown} is not ${INSTANT_FORMS}`
}

/**
 * A point in time: an ISO 8601 string with a zone, or epoch milliseconds as a JSON integer or a string
 * of digits (query strings and form bodies). Nothing is coerced: `null`, `""`, `true`, `"0x10"`,
 * `"1e3"` and epoch seconds are refused with a message naming the accepted forms.
 */
export const Instant = z
  .unknown()
  .transform((v, ctx) => {
    const ms = instantMs(v)
    if (typeof ms === 'number') return new Date(ms)
    ctx.addIssue({ code: 'custom', message: ms })
    return z.NEVER
  })
  .openapi({
    anyOf: [
      { type: 'string', format: 'date-time', description: 'ISO 8601 with a zone (Z or ±hh:mm)' },
      { type: 'integer', minimum: MIN_EPOCH_MS, description: 'epoch milliseconds (a string of digits in query strings and forms)' },
    ],
    example: '2026-11-23T10:00:00Z',
  })

export const CreateJobBody = z
  .strictObject({
    name: JobName,
    id: JobId.optional(),
    cluster: ClusterName.optional(),
    paths: oneOrMany(ClusterPath, 100, 'paths').optional(),
    path: ClusterPath.optional().openapi({ description: 'one path (alias of paths, for form bodies)' }),
    clients: oneOrMany(Client, 256, 'clients').optional(),
    client: Client.optional().openapi({ description: 'one client (alias of clients)' }),
    labels: Labels.optional(),
    label: Labels.optional().openapi({ description: 'k=v, repeatable (alias of labels, for form bodies)' }),
    comment: text(4000, 'comment').optional(),
    notify: oneOrMany(Email, 20, 'notify addresses').optional(),
    startedAt: Instant.optional().openapi({
      description: `when the job started, if earlier than now (a scheduler's own start time); at most ${MAX_FUTURE_MS / 1000} s ahead`,
    }),
  })
  .openapi('CreateJob')

export const AddPathsBody = z
  .strictObject({ path: ClusterPath.optional(), paths: oneOrMany(ClusterPath, 100, 'paths').optional() })
  .refine((b) => b.path !== undefined || (b.paths?.length ?? 0) > 0, { message: 'path or paths is required', path: ['paths'] })
  .openapi('AddPaths')

export const AddClientsBody = z
  .strictObject({ client: Client.optional(), clients: oneOrMany(Client, 256, 'clients').optional() })
  .openapi('AddClients', { description: 'No client: the caller’s address as the API sees it.' })

export const CommentBody = z
  .strictObject({
    text: z
      .string()
      .trim()
      .min(1, 'text must not be empty')
      .max(4000, 'text must be at most 4000 characters')
      .refine((s) => !CONTROL.test(s), 'text must not contain control characters other than newlines and tabs'),
  })
  .openapi('Comment')

export const CompleteBody = z
  .strictObject({
    status: z.enum(END_STATUSES).default('succeeded'),
    at: Instant.optional().openapi({ description: `the end (default: now); at most ${MAX_FUTURE_MS / 1000} s ahead of the server clock` }),
    labels: Labels.optional().openapi({ description: 'labels to add or change at completion (e.g. the scheduler’s final state)' }),
  })
  .openapi('Complete')

export const ListQuery = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  name: JobName.optional(),
  label: oneOrMany(z.string().regex(/^[A-Za-z0-9_.-]{1,64}:.{1,256}$/, 'label filters are key:value'), 10, 'label filters').optional(),
  since: Instant.optional(),
  until: Instant.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+$/, 'cursor is malformed')
    .optional(),
})

export const IdParam = z.strictObject({ id: JobId.openapi({ param: { name: 'id', in: 'path' } }) })

import { JobSchema } from '../jobs/schema.ts'
export { JobSchema }

/** `GET /jobs/{id}/report?format=html|pdf` */
export const ReportQuery = z.object({ format: z.enum(['html', 'pdf']).default('html') })

/** `POST /jobs/{id}/report/email`: recipients (default: the job's notify and QACTIVITY_REPORT_TO) */
export const ReportEmailBody = z.strictObject({ to: oneOrMany(Email, 20, 'report addresses').optional() })

export const JobListSchema = z.object({ jobs: z.array(JobSchema), nextCursor: z.string().nullable() }).openapi('JobList')

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) })
  .openapi('Error')

const Agg = z.object({ total: z.number(), mean: z.number(), peak: z.number() })
const Growth = z.object({ start: z.number().nullable(), end: z.number().nullable(), delta: z.number().nullable() })
const Share = { ops: z.number(), bytes: z.number() }
const ClusterPart = z.object({ total: z.number().nullable(), peak: z.number().nullable() })

export const StatsSchema = z
  .object({
    job: z.string(),
    name: z.string(),
    cluster: z.string().optional(),
    status: z.enum(JOB_STATUSES),
    window: z.object({ start: z.string(), end: z.string(), seconds: z.number() }),
    activity: z.object(Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, Agg])) as Record<ActivityField, typeof Agg>),
    capacity: z.array(
      z.object({
        path: z.string(),
        startAt: z.string().nullable().openapi({ description: 'when the start reading was taken (the path attached), null without one' }),
        endAt: z.string().nullable().openapi({
          description:
            'when the end reading was taken: when complete was called (not a back-dated at), or now while running; null without one',
        }),
        usedBytes: Growth,
        files: Growth,
        directories: Growth,
        error: z.string().optional(),
      }),
    ),
    topClients: z.array(z.object({ client: z.string(), ...Share })),
    topPaths: z.array(z.object({ path: z.string(), ...Share })),
    intervalSeconds: z.number(),
    polls: z.number(),
    live: z.boolean(),
    share: z
      .object({
        ...(Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, ClusterPart])) as Record<ActivityField, typeof ClusterPart>),
        used_bytes: z.object({ total: z.number().nullable() }),
      })
      .optional()
      .openapi({ description: "the job's share of its cluster over its window, percent (README: What the numbers mean)" }),
    incomplete: z
      .string()
      .optional()
      .openapi({ description: 'why the numbers are not final yet: clients or paths attached late are still being backfilled' }),
    previousRuns: z.array(z.object({ id: z.string(), startedAt: z.string(), status: z.string() })),
  })
  .openapi('JobStats', { description: 'totals in ops or bytes, mean and peak in ops/s or bytes/s (README: What the numbers mean)' })

const Delta = z.object({ abs: z.number(), pct: z.number().nullable() })
const FieldDelta = z.object({ total: Delta, mean: Delta, peak: Delta })
export const ComparisonSchema = z
  .object({
    jobs: z.array(StatsSchema),
    deltas: z.array(
      z.object({
        job: z.string(),
        activity: z.object(Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, FieldDelta])) as Record<ActivityField, typeof FieldDelta>),
      }),
    ),
  })
  .openapi('Comparison')

export const CompareQuery = z.strictObject({
  jobs: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(JobId).min(2, 'give at least 2 job ids, comma-separated').max(10, 'at most 10 job ids')),
})

const PerField = z.object(Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, z.number()])) as Record<ActivityField, z.ZodNumber>)
const Part = z.object({ from: z.iso.datetime(), to: z.iso.datetime() })

export const ActivityRangeQuery = z
  .strictObject({
    cluster: ClusterName.optional().openapi({ description: 'one cluster (default: every cluster, summed per row)' }),
    since: Instant,
    until: Instant.optional().openapi({ description: 'default: now' }),
    by: z.enum(['path', 'client', 'cluster']).default('path'),
  })
  .refine((q) => !q.until || q.until > q.since, { message: 'until must be after since', path: ['until'] })

export const ActivityRangeSchema = z
  .object({
    cluster: z.string().optional(),
    by: z.enum(['path', 'client', 'cluster']),
    from: z.iso.datetime().openapi({ description: 'since, cut down to the poll grid, or to a rollup period start when rollups answer' }),
    to: z.iso.datetime().openapi({ description: 'until, cut up likewise' }),
    rollups: Part.optional().openapi({ description: 'the part answered from qumulo_activity_rollup (older than raw retention)' }),
    raw: Part.optional().openapi({ description: 'the part answered from the raw points' }),
    rows: z.array(
      z.object({
        key: z.string().openapi({ description: 'the path, client address or cluster' }),
        total: PerField.openapi({ description: 'operations or bytes over the range' }),
        peak: PerField.openapi({ description: 'highest per-poll sum in the range, ops/s or bytes/s' }),
      }),
    ),
  })
  .openapi('ActivityRange')

export const UsageQuery = z
  .strictObject({
    group: z
      .string()
      .refine((g) => parseGroup(g) !== undefined, 'group must be name, cluster or label:KEY')
      .default('name')
      .openapi({ description: 'name, cluster or label:KEY (jobs without the label: "(none)")' }),
    since: Instant.openapi({ description: 'jobs that ended at or after this' }),
    until: Instant.optional().openapi({ description: 'and before this (default: now)' }),
    cluster: ClusterName.optional(),
  })
  .refine((q) => !q.until || q.until > q.since, { message: 'until must be after since', path: ['until'] })

export const UsageSchema = z
  .object({
    group: z.string(),
    since: z.iso.datetime(),
    until: z.iso.datetime(),
    jobs: z.number().openapi({ description: 'completed jobs that ended in the range' }),
    pending: z.number().openapi({ description: 'of these, jobs whose summary is not computed yet (not in the totals)' }),
    rows: z.array(
      z.object({
        group: z.string(),
        jobs: z.number(),
        total: PerField.openapi({ description: "Σ of the jobs' summary totals: operations or bytes" }),
        usedBytesDelta: z.number(),
        share: z
          .object(
            Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, z.number().nullable()])) as Record<ActivityField, z.ZodNullable<z.ZodNumber>>,
          )
          .optional()
          .openapi({ description: "the group's totals over the cluster's in the range, percent" }),
      }),
    ),
  })
  .openapi('Usage')
