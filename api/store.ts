import { mkdir, open, readFile, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Low, type Adapter } from 'lowdb'
import { z } from 'zod'
import { acquireLock, type Lock } from '../lib/lockfile.ts'
import type { Logger } from '../lib/log.ts'
import type { Job, StoreData } from './types.ts'

/**
 * The job store: `jobs.json` (the working set, one JSON document) held in memory by lowdb's `Low`,
 * written whole on every coalesced flush (temp file + fsync + rename + fsync of the directory), and
 * `jobs-archive.jsonl` beside it for completed jobs past retention. One process owns the store
 * (`<file>.lock`).
 *
 * Durability rule: `update()` resolves only after a write that contains its change is durable, so a
 * kill -9 (or a power loss) can never lose an acknowledged update, and the file on disk is always a
 * whole old or whole new version (rename is atomic).
 */

/** The working file at start is not a valid job store; it was not modified. */
export class StoreCorruptError extends Error {
  readonly file: string

  constructor(file: string, problem: string) {
    super(`job store ${file} ${problem}; it was left untouched — fix or move it away`)
    this.name = 'StoreCorruptError'
    this.file = file
  }
}

/** Counters for stats and tests. */
export interface StoreStats {
  /** Completed writes of the working file since open. */
  writes: number
  /** Duration of the last flush (serialise + write + fsync + rename + fsync dir), ms. */
  lastFlushMs: number
  /** Size of the last written working file, bytes. */
  lastBytes: number
  /** Distinct job ids in the archive index. */
  archived: number
}

export interface JobStore {
  /** The working file. */
  readonly file: string
  /** The archive file, `<dir>/jobs-archive.jsonl`. */
  readonly archiveFile: string
  /** The current data. Read freely; mutate only inside update(). */
  readonly data: StoreData
  readonly stats: Readonly<StoreStats>
  /**
   * Runs `fn` synchronously on the data and resolves once a write containing the change is durable.
   * Concurrent updates are serialised and coalesced into as few writes as possible. If fn throws,
   * nothing is written for it and the error propagates — fn must therefore check before it mutates
   * (a throw after a partial mutation leaves that part in memory, and the next flush writes it).
   * If the write fails, the promise rejects; the change stays in memory and goes out with the next
   * successful flush.
   */
  update<R>(fn: (data: StoreData) => R): Promise<R>
  /**
   * Moves jobs with status !== 'running' whose endedAt is older than `olderThan` to the archive,
   * appended + fsynced before they are removed from the working file (a crash in between only
   * duplicates). Jobs with tasks still in the outbox stay until those are delivered, and a job
   * changed while its archive line was being written stays too (it is archived again next time).
   * Returns how many moved.
   */
  archive(olderThan: Date): Promise<number>
  /**
   * An archived job by id (last occurrence in the file wins), or undefined. A job that is also in
   * the working set (a crash between archive append and working-file write, or an id reused after
   * archiving) is not returned here: the working set wins.
   */
  findArchived(id: string): Promise<Job | undefined>
  /** Archived jobs not in the working set, each id once, newest endedAt first. Streams the file. */
  listArchived(): AsyncIterable<Job>
  /** Waits for pending writes and archiving, then releases the lock. Idempotent. */
  close(): Promise<void>
}

/** The archive's file name, in the working file's directory. */
export const ARCHIVE_NAME = 'jobs-archive.jsonl'

// ---------------------------------------------------------------------------------------------
// Schema of the working file (validation only: the parsed object itself is kept, unknown fields
// included, so a newer field is never stripped by an older schema).

const Reading = z.object({ at: z.string(), usedBytes: z.string(), files: z.string(), directories: z.string() })
const JobSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  status: z.enum(['running', 'succeeded', 'failed']),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  paths: z.array(z.string()),
  clients: z.array(z.string()),
  labels: z.record(z.string(), z.string()),
  comments: z.array(z.object({ at: z.string(), author: z.string(), text: z.string() })),
  notify: z.array(z.string()),
  annotation: z.object({
    state: z.enum(['off', 'pending', 'synced', 'failing']),
    id: z.number().optional(),
    comments: z.number(),
    lastError: z.string().optional(),
  }),
  capacity: z.array(
    z.object({ path: z.string(), start: Reading.optional(), end: Reading.optional(), error: z.string().optional() }),
  ),
  createdBy: z.string(),
  updatedAt: z.string(),
})
const task = { jobId: z.string(), seq: z.number(), attempts: z.number(), notBefore: z.string().optional() }
const TaskSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('start'), ...task }),
  z.object({ kind: z.literal('complete'), ...task }),
  z.object({ kind: z.literal('comment'), ...task, commentIndex: z.number() }),
])
const StoreDataSchema = z
  .object({
    version: z.literal(1),
    jobs: z.record(z.string(), JobSchema),
    outbox: z.array(TaskSchema),
    nextSeq: z.number().int(),
  })
  .superRefine((d, ctx) => {
    for (const [key, job] of Object.entries(d.jobs)) {
      if (job.id !== key) ctx.addIssue({ code: 'custom', path: ['jobs', key, 'id'], message: `id ${JSON.stringify(job.id)} differs from its key` })
    }
  })

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
/** Compile-time check that the schema and api/types.ts describe the same data. */
const schemaMatchesTypes: Same<z.output<typeof StoreDataSchema>, StoreData> = true
void schemaMatchesTypes

const emptyData = (): StoreData => ({ version: 1, jobs: {}, outbox: [], nextSeq: 1 })

// ---------------------------------------------------------------------------------------------

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** A JSON.parse error with its position as line and column (V8 gives none at the end of input). */
function describeJsonError(text: string, message: string): string {
  let pos = Number(/at position (\d+)/.exec(message)?.[1] ?? NaN)
  let detail = message
  if (Number.isNaN(pos) && /end of JSON input/.test(message)) {
    pos = text.length
    detail = text.trim() === '' ? 'the file is empty' : `${message} at position ${pos}`
  }
  if (Number.isNaN(pos)) return detail
  const before = text.slice(0, pos)
  const line = before.split('\n').length
  const column = pos - before.lastIndexOf('\n')
  return `${detail}, line ${line} column ${column}`
}

/** lowdb adapter: durable writes (temp + fsync + rename + fsync dir), corrupt files refused. */
export class DurableJSONFile implements Adapter<StoreData> {
  /** steno's temp name, so a leftover from either is recognised. */
  readonly tmp: string

  constructor(readonly file: string) {
    this.tmp = join(dirname(file), `.${basename(file)}.tmp`)
  }

  async read(): Promise<StoreData | null> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      throw new StoreCorruptError(this.file, 'is not valid UTF-8')
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      throw new StoreCorruptError(this.file, `is not valid JSON (${describeJsonError(text, (err as Error).message)})`)
    }
    const checked = StoreDataSchema.safeParse(parsed)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      const where = issue.path.length ? issue.path.map(String).join('.') : 'top level'
      throw new StoreCorruptError(this.file, `is not a version-1 job store (${where}: ${issue.message})`)
    }
    return parsed as StoreData
  }

  async write(data: StoreData): Promise<void> {
    await this.writeBytes(Buffer.from(JSON.stringify(data), 'utf8'))
  }

  async writeBytes(bytes: Buffer): Promise<void> {
    const fh = await open(this.tmp, 'w', 0o600)
    try {
      await fh.writeFile(bytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(this.tmp, this.file)
    await fsyncDir(dirname(this.file))
  }
}

// ---------------------------------------------------------------------------------------------
// The archive: JSON lines, each `{"id":…,"endedAt":…,…the rest of the job}` so the index can be
// built from the line's head without parsing the whole job.

interface ArchiveEntry {
  offset: number
  length: number
  /** endedAt in ms (NaN sorts last). */
  ended: number
}

function archiveLine(job: Job): string {
  const { id, endedAt, ...rest } = job
  return JSON.stringify({ id, endedAt, ...rest }) + '\n'
}
const HEAD = /^\{"id":("(?:[^"\\]|\\.)*"),"endedAt":(null|"(?:[^"\\]|\\.)*")[,}]/

/** The id and end time of one archive line (without its newline); undefined when unreadable. */
function parseHead(line: Buffer): { id: string; ended: number } | undefined {
  const m = HEAD.exec(line.subarray(0, 512).toString('utf8'))
  try {
    if (m) {
      const ended = JSON.parse(m[2]) as string | null
      return { id: JSON.parse(m[1]) as string, ended: ended === null ? NaN : Date.parse(ended) }
    }
    const job = JSON.parse(line.toString('utf8')) as Partial<Job>
    if (typeof job?.id !== 'string') return undefined
    return { id: job.id, ended: typeof job.endedAt === 'string' ? Date.parse(job.endedAt) : NaN }
  } catch {
    return undefined
  }
}

/**
 * Reads the archive's index (id → last line). A torn last line (a crash during an append, whose
 * jobs are therefore still in the working file) is cut off.
 */
async function loadArchive(path: string, log: Logger): Promise<{ index: Map<string, ArchiveEntry>; size: number }> {
  const index = new Map<string, ArchiveEntry>()
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { index, size: 0 }
    throw err
  }
  let bad = 0
  let end = 0 // offset just after the last newline
  try {
    const chunk = Buffer.allocUnsafe(1 << 20)
    let carry: Buffer = Buffer.alloc(0)
    let pos = 0 // file offset of chunk[0]
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos)
      if (bytesRead === 0) break
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead)
      const base = pos - carry.length
      let start = 0
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        if (nl > start) {
          const head = parseHead(data.subarray(start, nl))
          if (head) index.set(head.id, { offset: base + start, length: nl - start, ended: head.ended })
          else bad++
        }
        start = nl + 1
        end = base + start
      }
      carry = Buffer.from(data.subarray(start)) // copy: chunk is reused
      pos += bytesRead
    }
    if (carry.length) {
      log.warn('job archive ends with a torn line (crash during an append); cutting it off', {
        file: path,
        bytes: carry.length,
      })
    }
  } finally {
    await fh.close()
  }
  const { size } = await stat(path)
  if (size > end) await truncate(path, end)
  if (bad) log.warn('job archive has unreadable lines; they are skipped', { file: path, lines: bad })
  return { index, size: end }
}

// ---------------------------------------------------------------------------------------------

/**
 * Opens the job store `file` (e.g. `QACTIVITY_DATA_DIR/jobs.json`) for this process alone: takes
 * `<file>.lock` (LockedError while a live process holds it), reads the file (missing → empty store;
 * invalid JSON or not a version-1 store → {@link StoreCorruptError}, the file untouched), removes a
 * stale `.<file>.tmp` and indexes the archive.
 */
export async function openJobStore(file: string, log: Logger): Promise<JobStore> {
  await mkdir(dirname(file), { recursive: true })
  const lock = await acquireLock(`${file}.lock`)
  try {
    const adapter = new DurableJSONFile(file)
    const db = new Low<StoreData>(adapter, emptyData())
    await db.read()
    await rm(adapter.tmp, { force: true })
    const archivePath = join(dirname(file), ARCHIVE_NAME)
    const archive = await loadArchive(archivePath, log)
    log.info('job store open', { file, jobs: Object.keys(db.data.jobs).length, archived: archive.index.size })
    return new Store(file, archivePath, db, adapter, lock, archive.index, archive.size, log)
  } catch (err) {
    await lock.release()
    throw err
  }
}

class Store implements JobStore {
  readonly stats: StoreStats
  #queued: Promise<void> | null = null
  #tail: Promise<void> = Promise.resolve()
  #archiving: Promise<unknown> = Promise.resolve()
  #closed = false
  #closing: Promise<void> | null = null

  constructor(
    readonly file: string,
    readonly archiveFile: string,
    readonly db: Low<StoreData>,
    readonly adapter: DurableJSONFile,
    readonly lock: Lock,
    readonly index: Map<string, ArchiveEntry>,
    private archiveSize: number,
    readonly log: Logger,
  ) {
    this.stats = { writes: 0, lastFlushMs: 0, lastBytes: 0, archived: index.size }
  }

  get data(): StoreData {
    return this.db.data
  }

  async update<R>(fn: (data: StoreData) => R): Promise<R> {
    if (this.#closed) throw new Error(`job store ${this.file} is closed`)
    return this.#commit(fn)
  }

  async #commit<R>(fn: (data: StoreData) => R): Promise<R> {
    const result = fn(this.db.data) // synchronous, before any await: the read-modify-write is atomic
    await this.#flush()
    return result
  }

  /**
   * Joins the flush that has not started yet, or schedules one after the running one. The snapshot
   * is serialised when the flush starts, synchronously, so it holds every update made until then
   * and never half of one.
   */
  #flush(): Promise<void> {
    if (this.#queued) return this.#queued
    const p = this.#tail.then(async () => {
      this.#queued = null
      const started = performance.now()
      const bytes = Buffer.from(JSON.stringify(this.db.data), 'utf8')
      try {
        await this.adapter.writeBytes(bytes)
      } catch (err) {
        this.log.error('job store write failed', { file: this.file, error: (err as Error).message })
        throw err
      }
      this.stats.writes++
      this.stats.lastBytes = bytes.length
      this.stats.lastFlushMs = performance.now() - started
    })
    this.#queued = p
    this.#tail = p.catch(() => {})
    return p
  }

  archive(olderThan: Date): Promise<number> {
    if (this.#closed) return Promise.reject(new Error(`job store ${this.file} is closed`))
    const run = this.#archiving.then(() => this.#archive(olderThan.getTime()))
    this.#archiving = run.catch(() => {})
    return run
  }

  async #archive(cutoff: number): Promise<number> {
    const data = this.db.data
    const waiting = new Set(data.outbox.map((t) => t.jobId))
    const picked: { job: Job; line: string }[] = []
    for (const job of Object.values(data.jobs)) {
      if (job.status === 'running' || job.endedAt === null || waiting.has(job.id)) continue
      if (!(Date.parse(job.endedAt) < cutoff)) continue
      picked.push({ job, line: archiveLine(job) })
    }
    if (picked.length === 0) return 0
    await this.#append(picked)
    const moved = await this.#commit((d) => {
      let n = 0
      for (const { job, line } of picked) {
        // Unchanged since its line was written (same object, same content): safe to drop here.
        if (d.jobs[job.id] === job && archiveLine(job) === line) {
          delete d.jobs[job.id]
          n++
        }
      }
      return n
    })
    this.log.info('jobs archived', { moved, file: this.archiveFile })
    return moved
  }

  /** Appends lines to the archive and fsyncs it (and its directory); extends the index. */
  async #append(picked: { job: Job; line: string }[]): Promise<void> {
    const bufs = picked.map((p) => Buffer.from(p.line, 'utf8'))
    const all = Buffer.concat(bufs)
    const fh = await open(this.archiveFile, 'a', 0o600)
    try {
      await fh.writeFile(all)
      await fh.sync()
    } catch (err) {
      await fh.close().catch(() => {})
      // Cut off what may have landed, so the file stays whole lines at the offsets the index knows.
      await truncate(this.archiveFile, this.archiveSize).catch(() => {})
      throw err
    }
    await fh.close()
    await fsyncDir(dirname(this.archiveFile))
    let offset = this.archiveSize
    picked.forEach(({ job }, i) => {
      const length = bufs[i].length - 1
      this.index.set(job.id, { offset, length, ended: Date.parse(job.endedAt ?? '') })
      offset += bufs[i].length
    })
    this.archiveSize = offset
    this.stats.archived = this.index.size
  }

  async findArchived(id: string): Promise<Job | undefined> {
    if (Object.hasOwn(this.db.data.jobs, id)) return undefined
    const entry = this.index.get(id)
    if (!entry) return undefined
    const fh = await open(this.archiveFile, 'r')
    try {
      return await readEntry(fh, entry)
    } finally {
      await fh.close()
    }
  }

  async *listArchived(): AsyncIterable<Job> {
    const jobs = this.db.data.jobs
    const entries = [...this.index].filter(([id]) => !Object.hasOwn(jobs, id)).map(([, e]) => e)
    entries.sort((a, b) => (Number.isNaN(a.ended) ? 1 : 0) - (Number.isNaN(b.ended) ? 1 : 0) || b.ended - a.ended || a.offset - b.offset)
    if (entries.length === 0) return
    const fh = await open(this.archiveFile, 'r')
    try {
      for (const entry of entries) {
        const job = await readEntry(fh, entry)
        // Skip one that came back to the working set since the listing started.
        if (!Object.hasOwn(this.db.data.jobs, job.id)) yield job
      }
    } finally {
      await fh.close()
    }
  }

  close(): Promise<void> {
    this.#closed = true
    this.#closing ??= (async () => {
      await this.#archiving
      await this.#tail
      await this.lock.release()
    })()
    return this.#closing
  }
}

async function readEntry(fh: FileHandle, entry: ArchiveEntry): Promise<Job> {
  const buf = Buffer.allocUnsafe(entry.length)
  const { bytesRead } = await fh.read(buf, 0, entry.length, entry.offset)
  return JSON.parse(buf.subarray(0, bytesRead).toString('utf8')) as Job
}
