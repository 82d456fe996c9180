import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { z } from 'zod'
import { normalizePath } from '../lib/paths.ts'
import { ACTIVITY_TYPES, type ActivityType } from '../lib/schema.ts'
import { issuesText } from '../lib/zod-text.ts'
import { messageOf } from '../lib/errors.ts'

/** A scenario file that does not validate; the message names every bad field. */
export class ScenarioError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScenarioError'
  }
}

const absolutePath = z.string().refine((p) => {
  const n = normalizePath(p)
  return n.ok && n.path === p
}, 'expected a normalised absolute path such as /render/shots (no trailing slash, no . or ..)')

const ip = z.string().refine((s) => isIP(s) !== 0, 'expected an IPv4 or IPv6 address')

/** Bytes or counts: a decimal string (may exceed 2^53) or a safe integer. */
const bigValue = z
  .union([z.string().regex(/^\d+$/, 'expected a decimal string'), z.number().int().nonnegative()])
  .transform((v) => BigInt(v))

const perMinute = z.number().int('expected an integer count per minute').nonnegative()

const workload = z
  .strictObject({
    name: z.string().optional(),
    clients: z.array(ip).min(1),
    path: absolutePath,
    files: z.number().int().nonnegative(),
    ops: z.partialRecord(z.enum(ACTIVITY_TYPES), perMinute),
    startSeconds: z.number().nonnegative().default(0),
    endSeconds: z.number().nonnegative().nullable().default(null),
    deleted: z.boolean().default(false),
    directoryIds: z.boolean().default(false),
    /** Files each client creates in `path` per minute (empty: a metadata block each). */
    newFilesPerMinute: z.number().int().nonnegative().default(0),
  })
  .refine((w) => w.endSeconds === null || w.endSeconds > w.startSeconds, {
    message: 'must be greater than startSeconds',
    path: ['endSeconds'],
  })
  .refine((w) => !(w.deleted && w.directoryIds), { message: 'a workload on directory ids cannot be deleted', path: ['deleted'] })

const growth = z.strictObject({
  bytesPerSecond: z.number().nonnegative().default(0),
  filesPerSecond: z.number().nonnegative().default(0),
  directoriesPerSecond: z.number().nonnegative().default(0),
})

const capacity = z.strictObject({
  path: absolutePath,
  usedBytes: bigValue,
  files: bigValue,
  directories: bigValue,
  growth: growth.optional(),
})

const fileSystem = z.strictObject({
  totalBytes: bigValue,
  snapshotBytes: bigValue.default(0n),
})

const scenarioSchema = z
  .strictObject({
    /** 18-digit prefix shared by every file id of the cluster. */
    clusterIdPrefix: z
      .string()
      .regex(/^\d{18}$/, 'expected 18 digits')
      .default('131072291465916581'),
    workloads: z.array(workload).default([]),
    capacity: z.array(capacity).default([]),
    fileSystem: fileSystem.default({ totalBytes: 10n ** 15n, snapshotBytes: 0n }),
  })
  .refine((s) => new Set(s.capacity.map((c) => c.path)).size === s.capacity.length, {
    message: 'each path may appear only once',
    path: ['capacity'],
  })

/** A validated scenario; byte and object counts are BigInt. */
export type Scenario = z.output<typeof scenarioSchema>
export type Workload = Scenario['workloads'][number]
export type CapacityEntry = Scenario['capacity'][number]

/** Validates parsed JSON; throws a {@link ScenarioError} naming each bad field. */
export function parseScenario(json: unknown): Scenario {
  const r = scenarioSchema.safeParse(json)
  if (r.success) return r.data
  throw new ScenarioError(`Invalid scenario: ${issuesText(r.error, { max: 10, whole: '(scenario)' })}`)
}

/** Reads and validates a scenario file. */
export function loadScenario(file: string): Scenario {
  let json: unknown
  try {
    json = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ScenarioError(`Cannot read scenario "${file}": ${messageOf(err)}`)
  }
  try {
    return parseScenario(json)
  } catch (err) {
    throw new ScenarioError(`${file}: ${messageOf(err)}`)
  }
}

/** Clients, directories and workloads of {@link scaleScenario}. */
export const SCALE = { clients: 200, directories: 1000, workloads: 6000 } as const

/**
 * A load-test scenario: exactly `entries` activity entries per poll on `entries` distinct file ids
 * (one entry per file), from `clients` clients (`10.200.x.y`, see {@link scaleClient}), in 1000
 * directories `/scale-N/dir-N/sub-N`, types round-robin.
 */
export function scaleScenario(entries: number, clients: number = SCALE.clients): Scenario {
  if (!Number.isInteger(entries) || entries < 1) throw new RangeError(`scale: expected a positive integer, got ${entries}`)
  const count = Math.min(entries, Math.max(SCALE.workloads, clients))
  const workloads = Array.from({ length: count }, (_, w) => ({
    clients: [scaleClient(w % clients)],
    path: scaleDirectory(w % SCALE.directories),
    files: Math.floor(entries / count) + (w < entries % count ? 1 : 0),
    ops: { [ACTIVITY_TYPES[w % ACTIVITY_TYPES.length]]: 1 + (w % 97) } as Partial<Record<ActivityType, number>>,
  }))
  return parseScenario({ workloads, capacity: [{ path: '/', usedBytes: '500000000000000', files: 200_000_000, directories: 5_000_000 }] })
}

/** The i-th client of {@link scaleScenario}. */
export function scaleClient(i: number): string {
  return `10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`
}

/** The i-th leaf directory of {@link scaleScenario}. */
export function scaleDirectory(i: number): string {
  return `/scale-${Math.floor(i / 100)}/dir-${Math.floor(i / 10) % 10}/sub-${i % 10}`
}
