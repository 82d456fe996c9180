import { isIP } from 'node:net'
import { z } from 'zod'
import { stripTrailingSlash } from '../lib/paths.ts'
import { ACTIVITY_TYPES, type ActivityType } from '../lib/schema.ts'
import { InvalidResponseError, type QumuloErrorEnvelope } from './errors.ts'
import { issuesText } from '../lib/zod-text.ts'

/** One `(id, ip, type)` sample of `GET /v1/analytics/activity/current`; `rate` in ops/s or bytes/s. */
export interface ActivityEntry {
  id: string
  ip: string
  rate: number
  type: ActivityType
}

/** `GET /v1/file-system`, byte counts as BigInt. */
export interface FileSystemStats {
  blockSizeBytes: number
  totalBytes: bigint
  freeBytes: bigint
  snapshotBytes: bigint
}

/** `GET /v1/files/{ref}/aggregates/`: totals of one directory tree. */
export interface DirAggregates {
  /** Directory path without the trailing slash, `/` for the root. */
  path: string
  id: string
  totalCapacity: bigint
  totalData: bigint
  totalMeta: bigint
  totalFiles: bigint
  totalDirectories: bigint
}

/** Parsed activity: the valid entries and how many were dropped (unknown type, malformed field). */
export interface ParsedActivity {
  entries: ActivityEntry[]
  rejected: number
  /** Why the first dropped entry was dropped, for one log line. */
  firstProblem?: string
}

/** File ids are decimal strings of ~30 digits: never a JSON number, never converted to one. */
const fileId = z.string().regex(/^\d{1,40}$/, 'expected a decimal id string')

/** Byte counts and object counts: JSON strings per the API; plain JSON integers accepted too. */
const notACount = (issue: { input?: unknown }) =>
  issue.input === undefined ? 'missing' : `expected a decimal string, got ${JSON.stringify(issue.input)}`

const bigCount = z
  .union(
    [
      z.string().regex(/^\d+$/, { error: notACount }),
      z.number().nonnegative({ error: notACount }).refine(Number.isSafeInteger, { error: notACount }),
    ],
    {
      error: notACount,
    },
  )
  .transform((v) => BigInt(v))

const smallCount = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().positive())

/** IPv4, or IPv6 possibly with a zone or brackets (IPv6 formatting is unverified, docs/qumulo/api.md §8). */
const clientIp = z
  .string()
  .max(64)
  .refine((s) => isIP(s.replace(/^\[|\]$/g, '').replace(/%[\w.-]+$/, '')) !== 0, 'expected an IP address')

const activityEntry = z.object({
  id: fileId,
  ip: clientIp,
  // A rate is stored as rate × 60, an integer (lib/schema.ts RAW_WINDOW_SECONDS): beyond 2^53 it could not be exact.
  rate: z
    .number()
    .nonnegative()
    .max(Number.MAX_SAFE_INTEGER / 60),
  type: z.enum(ACTIVITY_TYPES),
})

const activityResponse = z.object({ entries: z.array(z.unknown()) })

const resolveResponse = z.array(z.unknown())

const resolveItem = z.object({ id: z.string(), path: z.string() })

const fileSystemResponse = z.object({
  block_size_bytes: smallCount,
  total_size_bytes: bigCount,
  free_size_bytes: bigCount,
  snapshot_size_bytes: bigCount,
})

const aggregatesResponse = z.object({
  path: z.string().startsWith('/'),
  id: fileId,
  total_capacity: bigCount,
  total_data: bigCount,
  total_meta: bigCount,
  total_files: bigCount,
  total_directories: bigCount,
})

const versionResponse = z.object({ revision_id: z.string() })

const loginResponse = z.object({ bearer_token: z.string().min(1) })

type RawEnvelope = {
  module?: unknown
  error_class?: unknown
  description?: unknown
  inner?: RawEnvelope | null
}

const envelope: z.ZodType<RawEnvelope> = z.looseObject({
  module: z.unknown().optional(),
  error_class: z.unknown().optional(),
  description: z.unknown().optional(),
  inner: z.lazy(() => envelope.nullable()).optional(),
})

/** `entries[3].id: Invalid input…`, at most three issues, one line. */
export function describeIssues(error: z.ZodError): string {
  return issuesText(error, { max: 3, whole: '(body)' })
}

function check<T>(schema: z.ZodType<T>, json: unknown): T {
  const r = schema.safeParse(json)
  if (!r.success) throw new InvalidResponseError(describeIssues(r.error))
  return r.data
}

/** Validates an activity response; entries that are malformed, or of another type than `type`, are dropped. */
export function parseActivity(json: unknown, type?: ActivityType): ParsedActivity {
  const raw = check(activityResponse, json).entries
  const out: ParsedActivity = { entries: [], rejected: 0 }
  for (const [i, item] of raw.entries()) {
    const r = activityEntry.safeParse(item)
    const problem = !r.success ? describeIssues(r.error) : type && r.data.type !== type ? `type: expected ${type}` : undefined
    if (r.success && !problem) out.entries.push(r.data)
    else {
      out.rejected++
      out.firstProblem ??= `entries[${i}]: ${problem}`
    }
  }
  return out
}

/** id → path exactly as served for the requested ids; malformed items and ids not asked for are left out. */
export function parseResolve(json: unknown, requested: ReadonlySet<string>): { paths: Map<string, string>; rejected: number } {
  const paths = new Map<string, string>()
  let rejected = 0
  for (const item of check(resolveResponse, json)) {
    const r = resolveItem.safeParse(item)
    if (r.success && requested.has(r.data.id)) paths.set(r.data.id, r.data.path)
    else rejected++
  }
  return { paths, rejected }
}

export function parseFileSystem(json: unknown): FileSystemStats {
  const r = check(fileSystemResponse, json)
  return {
    blockSizeBytes: r.block_size_bytes,
    totalBytes: r.total_size_bytes,
    freeBytes: r.free_size_bytes,
    snapshotBytes: r.snapshot_size_bytes,
  }
}

export function parseAggregates(json: unknown): DirAggregates {
  const r = check(aggregatesResponse, json)
  return {
    path: stripTrailingSlash(r.path),
    id: r.id,
    totalCapacity: r.total_capacity,
    totalData: r.total_data,
    totalMeta: r.total_meta,
    totalFiles: r.total_files,
    totalDirectories: r.total_directories,
  }
}

export function parseVersion(json: unknown): { revisionId: string } {
  return { revisionId: check(versionResponse, json).revision_id }
}

export function parseLogin(json: unknown): string {
  return check(loginResponse, json).bearer_token
}

/** Qumulo's error envelope from a response body, or undefined for empty, non-JSON or other bodies. */
export function parseErrorEnvelope(body: string): QumuloErrorEnvelope | undefined {
  if (!body.trim()) return undefined
  try {
    const r = envelope.safeParse(JSON.parse(body))
    return r.success ? toEnvelope(r.data) : undefined
  } catch {
    return undefined
  }
}

function toEnvelope(raw: RawEnvelope): QumuloErrorEnvelope | undefined {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined)
  const e: QumuloErrorEnvelope = {
    module: str(raw.module),
    errorClass: str(raw.error_class),
    description: str(raw.description),
    inner: raw.inner ? toEnvelope(raw.inner) : undefined,
  }
  return e.errorClass || e.description ? e : undefined
}
