import { z } from 'zod'
import { JobSchema } from './schema.ts'
import type { StoreData } from './types.ts'

// The job store's files: what a valid snapshot and journal record are, and the error when one is not.

/** A store file at start is not valid (the snapshot, or a record inside the journal); nothing was modified. */
export class StoreCorruptError extends Error {
  readonly file: string

  constructor(file: string, problem: string) {
    super(`job store ${file} ${problem}; it was left untouched — fix or move it away`)
    this.name = 'StoreCorruptError'
    this.file = file
  }
}

// Schema of the working file (validation only: the parsed object itself is kept, unknown fields
// included, so a newer field is never stripped by an older schema).

const task = { jobId: z.string(), seq: z.number(), attempts: z.number(), notBefore: z.string().optional() }
const TaskSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('start'), ...task }),
  z.object({ kind: z.literal('complete'), ...task }),
  z.object({ kind: z.literal('comment'), ...task, commentIndex: z.number() }),
  z.object({ kind: z.literal('regression'), ...task }),
])
const keysMatchIds = (d: { jobs: Record<string, { id: string }> }, ctx: z.RefinementCtx) => {
  for (const [key, job] of Object.entries(d.jobs)) {
    if (job.id !== key)
      ctx.addIssue({ code: 'custom', path: ['jobs', key, 'id'], message: `id ${JSON.stringify(job.id)} differs from its key` })
  }
}
export const StoreDataSchema = z
  .object({
    version: z.literal(1),
    jobs: z.record(z.string(), JobSchema),
    outbox: z.array(TaskSchema),
    nextSeq: z.number().int(),
  })
  .superRefine(keysMatchIds)
/** One journal line. */
export const JournalRecordSchema = z
  .object({ jobs: z.record(z.string(), JobSchema), outbox: z.array(TaskSchema), nextSeq: z.number().int() })
  .superRefine(keysMatchIds)
export type JournalRecord = Pick<StoreData, 'jobs' | 'outbox' | 'nextSeq'>

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
/** Compile-time check that the schema (jobs/schema.ts) and jobs/types.ts describe the same data. */
const schemaMatchesTypes: Same<z.output<typeof StoreDataSchema>, StoreData> = true
void schemaMatchesTypes

export const emptyData = (): StoreData => ({ version: 1, jobs: {}, outbox: [], nextSeq: 1 })
