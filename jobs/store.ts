import { mkdir, open, rename, rm, truncate, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Low } from 'lowdb'
import { fsyncDir } from '../lib/fsync.ts'
import { acquireLock, type Lock } from '../lib/lockfile.ts'
import type { Logger } from '../lib/log.ts'
import { archiveLine, loadArchive, type ArchiveEntry } from './archive.ts'
import { DurableJSONFile, writeAll, type Serialised } from './durable-file.ts'
import { replayJournal, type Replay } from './journal.ts'
import { extrasOf, jobPart, journalRecord, snapshotChunks } from './snapshot.ts'
import { emptyData } from './store-schema.ts'
import type { Job, StoreData } from './types.ts'
import { messageOf } from '../lib/errors.ts'
/**
 * The job store, in three files of one directory, owned by one process (`<file>.lock`):
 *
 * - `jobs.json`, the snapshot: the working set as one JSON document, read and written through
 *   lowdb's `Low` and a durable adapter (temp file + fsync + rename + fsync of the directory);
 * - `jobs.journal`, the journal: one JSON line per flush, `{"jobs":{<id>:<job>,…},"outbox":[…],
 *   "nextSeq":n}`, the full state of every job the flush changed plus the (small) outbox and
 *   sequence, appended and fsynced. Replayed over the snapshot at open (a job's last record wins,
 *   outbox and nextSeq come from the last record), so the live state is snapshot ⊕ journal;
 * - `jobs-archive.jsonl` for completed jobs past retention.
 *
 * An `update(fn, touched)` that names the jobs it changes costs one small append; one without
 * `touched`, or one that deletes a job (archiving), writes a whole snapshot and empties the
 * journal. When the journal passes {@link StoreOptions.compactBytes} or
 * {@link StoreOptions.compactRecords}, a compaction writes a snapshot of the journal's durable
 * state at that point in the background (from per-job JSON kept since the last write, so nothing
 * big is serialised on the event loop and updates keep appending meanwhile) and then cuts the
 * journal down to the records appended since.
 *
 * Durability rule: `update()` resolves only after a write that contains its change is durable, so a
 * kill -9 (or a power loss) can never lose an acknowledged update. Every snapshot equals the state
 * the journal it is replayed with ends in (a full snapshot first appends a record of every job it
 * changes), so a crash between a snapshot's rename and the journal's truncation only replays
 * records whose effect the snapshot already holds: nothing is lost and nothing doubled.
 */

export { StoreCorruptError } from './store-schema.ts'

/** Counters for stats and tests. */
export interface StoreStats {
  /** Completed flushes (journal appends and full snapshots) since open. */
  writes: number
  /** Duration of the last flush (serialise + write + fsync…), ms. */
  lastFlushMs: number
  /** Bytes written by the last flush (a journal record or a snapshot). */
  lastBytes: number
  /** Distinct job ids in the archive index. */
  archived: number
  /** Current size of the journal, bytes. */
  journalBytes: number
  /** Records in the journal (replayed at open + appended since, less those compacted away). */
  journalRecords: number
  /** Snapshots of the working file written since open (full ones and compactions). */
  snapshots: number
  /** Duration of the last snapshot write, ms (for a compaction: in the background). */
  lastSnapshotMs: number
  /** Compactions completed (snapshot written and journal cut) since open. */
  compactions: number
}

/** Tuning; the defaults suit ~10k jobs. */
export interface StoreOptions {
  /** Compact once the journal holds more than this many bytes (default 8 MiB). */
  compactBytes?: number
  /** … or more than this many records (default 5,000). */
  compactRecords?: number
}

export interface JobStore {
  /** The working file (the snapshot). */
  readonly file: string
  /** The journal, `<dir>/jobs.journal`. */
  readonly journalFile: string
  /** The archive file, `<dir>/jobs-archive.jsonl`. */
  readonly archiveFile: string
  /** The current data. Read freely; mutate only inside update(). */
  readonly data: StoreData
  readonly stats: Readonly<StoreStats>
  /**
   * Runs `fn` synchronously on the data and resolves once a write containing the change is durable.
   * Concurrent updates are serialised and coalesced into as few writes as possible.
   *
   * `touched` lists the ids of the jobs `fn` adds or changes (outbox and nextSeq always go along):
   * then the flush appends those jobs to the journal instead of rewriting the snapshot. It must
   * name every job fn changes — a change to a job not listed reaches the disk only with the next
   * snapshot. Without `touched` (or when a listed job was deleted) the flush writes a full snapshot:
   * always correct, just slow with many jobs.
   *
   * If fn throws, the error propagates and no flush is made for it — fn must therefore check before
   * it mutates (a throw after a partial mutation leaves that part in memory, and the next flush
   * writes it: the jobs in `touched` go out with it). If the write fails, the promise rejects; the
   * change stays in memory and goes out with the next successful flush (a full snapshot).
   */
  update<R>(fn: (data: StoreData) => R, touched?: readonly string[]): Promise<R>
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
  /** Waits for pending writes, compaction and archiving, then releases the lock. Idempotent. */
  close(): Promise<void>
}

/** The archive's file name, in the working file's directory. */
export const ARCHIVE_NAME = 'jobs-archive.jsonl'
/** The journal's file name, in the working file's directory. */
export const JOURNAL_NAME = 'jobs.journal'

const DEFAULT_COMPACT_BYTES = 8 << 20
const DEFAULT_COMPACT_RECORDS = 5000
/** After a failed compaction, wait this long before trying again. */
const COMPACT_RETRY_MS = 10_000

// ---------------------------------------------------------------------------------------------

/**
 * Opens the job store `file` (e.g. `QACTIVITY_DATA_DIR/jobs.json`) for this process alone: takes
 * `<file>.lock` (LockedError while a live process holds it), reads the snapshot (missing → empty
 * store; invalid JSON or not a version-1 store → {@link StoreCorruptError}, the file untouched),
 * replays the journal over it (a torn last record is cut off; a bad record before the last →
 * {@link StoreCorruptError}, nothing touched), removes stale temp files and indexes the archive.
 */
export async function openJobStore(file: string, log: Logger, options: StoreOptions = {}): Promise<JobStore> {
  await mkdir(dirname(file), { recursive: true })
  const lock = await acquireLock(`${file}.lock`)
  let journal: FileHandle | undefined
  try {
    const adapter = new DurableJSONFile(file)
    const db = new Low<StoreData>(adapter, emptyData())
    await db.read()
    const journalPath = join(dirname(file), JOURNAL_NAME)
    const replay = await replayJournal(journalPath, db.data)
    // Valid: from here on files may change.
    await rm(adapter.tmp, { force: true })
    await rm(journalTmp(journalPath), { force: true })
    if (replay.exists) {
      journal = await open(journalPath, 'a+', 0o600)
      if (replay.found > replay.size) {
        log.warn('job journal ends with a torn record (crash during an append); cutting it off', {
          file: journalPath,
          bytes: replay.found - replay.size,
        })
        await journal.truncate(replay.size)
        await journal.datasync()
      }
    }
    const archivePath = join(dirname(file), ARCHIVE_NAME)
    const archive = await loadArchive(archivePath, log)
    log.info('job store open', {
      file,
      jobs: Object.keys(db.data.jobs).length,
      journalRecords: replay.records,
      archived: archive.index.size,
    })
    return new Store(file, journalPath, archivePath, db, adapter, lock, journal ?? null, replay, archive.index, archive.size, options, log)
  } catch (err) {
    await journal?.close().catch(() => {})
    await lock.release()
    throw err
  }
}

const journalTmp = (journal: string) => join(dirname(journal), `.${basename(journal)}.tmp`)

/** What a compaction snapshot captured: the journal's durable state at `offset`. */
interface Cut {
  generation: number
  offset: number
  records: number
}

class Store implements JobStore {
  readonly stats: StoreStats
  /** The flush not started yet (updates join it). */
  #queued: Promise<void> | null = null
  /** The end of the write chain: flushes and journal cuts run one at a time. */
  #tail: Promise<void> = Promise.resolve()
  #archiving: Promise<unknown> = Promise.resolve()
  /** A compaction's snapshot being written (full snapshots wait for it: they share the temp file). */
  #compacting: Promise<void> | null = null
  /** A compaction is under way (its snapshot, then its journal cut in the chain). */
  #compaction = false
  #compactAfter = 0
  #closed = false
  #closing: Promise<void> | null = null

  /** Jobs changed since the last flush started (from `touched`). */
  #dirty = new Set<string>()
  /** The next flush must write a full snapshot. */
  #full = false
  /**
   * Each durable job's `"<id>":<json>` as last written (journal record or snapshot): the durable
   * state of the jobs, from which a compaction builds its snapshot without serialising anything.
   */
  #parts = new Map<string, string>()
  /** Outbox (JSON) and nextSeq as last written. */
  #durableOutbox: string
  #durableNextSeq: number
  /** Top-level fields this version does not know, as last written. */
  #extras: string
  /** Appends (O_APPEND, readable for a cut); null until the journal exists. */
  #journal: FileHandle | null
  /** A failed append could not be cut off: no appends until a snapshot has emptied the journal. */
  #journalBroken = false
  /** Bumped whenever the journal is emptied or cut, so a late cut for an older journal is skipped. */
  #generation = 0
  readonly #compactBytes: number
  readonly #compactRecords: number

  constructor(
    readonly file: string,
    readonly journalFile: string,
    readonly archiveFile: string,
    readonly db: Low<StoreData>,
    readonly adapter: DurableJSONFile,
    readonly lock: Lock,
    journal: FileHandle | null,
    replay: Replay,
    readonly index: Map<string, ArchiveEntry>,
    private archiveSize: number,
    options: StoreOptions,
    readonly log: Logger,
  ) {
    this.#journal = journal
    this.#compactBytes = options.compactBytes ?? DEFAULT_COMPACT_BYTES
    this.#compactRecords = options.compactRecords ?? DEFAULT_COMPACT_RECORDS
    this.stats = {
      writes: 0,
      lastFlushMs: 0,
      lastBytes: 0,
      archived: index.size,
      journalBytes: replay.size,
      journalRecords: replay.records,
      snapshots: 0,
      lastSnapshotMs: 0,
      compactions: 0,
    }
    const data = db.data
    for (const [id, job] of Object.entries(data.jobs)) this.#parts.set(id, jobPart(id, job))
    this.#durableOutbox = JSON.stringify(data.outbox)
    this.#durableNextSeq = data.nextSeq
    this.#extras = extrasOf(data)
    adapter.serialize = (d) => this.#serialise(d)
  }

  get data(): StoreData {
    return this.db.data
  }

  async update<R>(fn: (data: StoreData) => R, touched?: readonly string[]): Promise<R> {
    if (this.#closed) throw new Error(`job store ${this.file} is closed`)
    return this.#commit(fn, touched)
  }

  async #commit<R>(fn: (data: StoreData) => R, touched?: readonly string[]): Promise<R> {
    let result: R
    try {
      result = fn(this.db.data) // synchronous, before any await: the read-modify-write is atomic
    } finally {
      // On a throw too: a partial change to a listed job goes out with the next flush.
      if (touched) for (const id of touched) this.#dirty.add(id)
    }
    if (!touched) this.#full = true
    await this.#flush()
    return result
  }

  /** Runs `task` after everything already in the write chain. */
  #inChain<T>(task: () => Promise<T>): Promise<T> {
    const p = this.#tail.then(task)
    this.#tail = p.then(
      () => {},
      () => {},
    )
    return p
  }

  /**
   * Joins the flush that has not started yet, or schedules one after the running one. What it
   * writes is serialised when it starts, synchronously, so it holds every update made until then
   * and never half of one.
   */
  #flush(): Promise<void> {
    if (this.#queued) return this.#queued
    const p = this.#inChain(() => this.#write())
    this.#queued = p
    return p
  }

  async #write(): Promise<void> {
    this.#queued = null
    const started = performance.now()
    const ids = this.#dirty
    this.#dirty = new Set()
    let full = this.#full || this.#journalBroken
    this.#full = false
    const jobs = this.db.data.jobs
    // A listed job that is gone but durable was deleted: only a snapshot can say so.
    for (const id of ids) if (!full && !Object.hasOwn(jobs, id) && this.#parts.has(id)) full = true
    let bytes: number
    try {
      bytes = full ? await this.#snapshot() : await this.#appendRecord(ids)
    } catch (err) {
      this.#full = true // whatever this flush held goes out with the next one, whole
      this.log.error('job store write failed', { file: this.file, error: messageOf(err) })
      throw err
    }
    this.stats.writes++
    this.stats.lastBytes = bytes
    this.stats.lastFlushMs = performance.now() - started
    this.#maybeCompact()
  }

  /** Appends one record with the listed jobs, outbox and nextSeq; fsyncs. Returns its size. */
  async #appendRecord(ids: Set<string>): Promise<number> {
    const data = this.db.data
    const written: [string, string][] = []
    for (const id of ids) if (Object.hasOwn(data.jobs, id)) written.push([id, jobPart(id, data.jobs[id])])
    const outbox = JSON.stringify(data.outbox)
    const nextSeq = data.nextSeq
    const record = journalRecord(
      written.map(([, part]) => part),
      outbox,
      nextSeq,
    )
    await this.#journalAppend(record)
    for (const [id, part] of written) this.#parts.set(id, part)
    this.#durableOutbox = outbox
    this.#durableNextSeq = nextSeq
    return record.length
  }

  /** Appends whole records to the journal and fsyncs it (creating it, and fsyncing the directory, first). */
  async #journalAppend(record: Buffer): Promise<void> {
    if (!this.#journal) {
      this.#journal = await open(this.journalFile, 'a+', 0o600)
      await fsyncDir(dirname(this.journalFile))
    }
    const fh = this.#journal
    try {
      await writeAll(fh, record)
      await fh.datasync()
    } catch (err) {
      // Cut off what may have landed, so the journal stays whole records (a torn one followed by
      // later records would read as corruption).
      try {
        await fh.truncate(this.stats.journalBytes)
      } catch {
        this.#journalBroken = true
      }
      throw err
    }
    this.stats.journalBytes += record.length
    this.stats.journalRecords++
  }

  /** State a full snapshot serialised, applied once it is durable. */
  #serialised: { parts: Map<string, string>; outbox: string; nextSeq: number; extras: string } | null = null

  /**
   * The adapter's serialiser for full snapshots (called by `Low.write()`, synchronously). When the
   * journal holds records, the snapshot is preceded by one more record with every job whose JSON
   * differs from what the journal last says, so that replaying the journal over the new snapshot
   * (after a crash before the journal is emptied) ends in exactly the snapshot.
   */
  #serialise(data: StoreData): Serialised {
    const parts = new Map<string, string>()
    for (const [id, job] of Object.entries(data.jobs)) parts.set(id, jobPart(id, job))
    const outbox = JSON.stringify(data.outbox)
    const nextSeq = data.nextSeq
    const extras = extrasOf(data)
    this.#serialised = { parts, outbox, nextSeq, extras }
    // The job parts are the serialisation (done now); the bytes are built ~1 MiB at a time while writing.
    const bytes = snapshotChunks([...parts.values()], outbox, nextSeq, extras)
    if (this.stats.journalBytes === 0 || this.#journalBroken) return { bytes }
    const changed: string[] = []
    for (const [id, part] of parts) if (this.#parts.get(id) !== part) changed.push(part)
    const record = journalRecord(changed, outbox, nextSeq)
    return { bytes, beforeRename: () => this.#journalAppend(record) }
  }

  /** Writes the whole data as the new snapshot (through lowdb), then empties the journal. Returns its size. */
  async #snapshot(): Promise<number> {
    await this.#compacting // one snapshot writer at a time (they share the temp file)
    const started = performance.now()
    await this.db.write()
    const s = this.#serialised!
    this.#serialised = null
    if (this.#journal && (this.stats.journalBytes > 0 || this.#journalBroken)) {
      await this.#journal.truncate(0)
      await this.#journal.datasync()
    }
    this.#generation++
    this.#journalBroken = false
    this.stats.journalBytes = 0
    this.stats.journalRecords = 0
    this.#parts = s.parts
    this.#durableOutbox = s.outbox
    this.#durableNextSeq = s.nextSeq
    this.#extras = s.extras
    this.stats.snapshots++
    this.stats.lastSnapshotMs = performance.now() - started
    return this.adapter.lastSize
  }

  #maybeCompact(): void {
    if (this.#compaction || this.#closed || this.#journalBroken) return
    if (this.stats.journalBytes <= this.#compactBytes && this.stats.journalRecords <= this.#compactRecords) return
    if (Date.now() < this.#compactAfter) return
    this.#compaction = true
    this.#compacting = this.#compactSnapshot().then(
      (cut) => {
        this.#compacting = null
        this.#inChain(() => this.#cutJournal(cut))
          .catch((err: unknown) => {
            this.#compactAfter = Date.now() + COMPACT_RETRY_MS
            this.log.error('job journal cut failed; it keeps its records', { file: this.journalFile, error: messageOf(err) })
          })
          .finally(() => (this.#compaction = false))
      },
      (err: unknown) => {
        this.#compacting = null
        this.#compaction = false
        this.#compactAfter = Date.now() + COMPACT_RETRY_MS
        this.log.error('job store compaction failed; will retry', { file: this.file, error: messageOf(err) })
      },
    )
  }

  /**
   * Writes the durable state at the journal's current end as the new snapshot, from the per-job
   * JSON (no serialisation, ~1 MiB per tick), while flushes go on appending.
   */
  async #compactSnapshot(): Promise<Cut> {
    const started = performance.now()
    const cut: Cut = { generation: this.#generation, offset: this.stats.journalBytes, records: this.stats.journalRecords }
    const parts = [...this.#parts.values()]
    await this.adapter.writeChunks(snapshotChunks(parts, this.#durableOutbox, this.#durableNextSeq, this.#extras))
    this.stats.snapshots++
    this.stats.lastSnapshotMs = performance.now() - started
    return cut
  }

  /**
   * In the write chain: drops the journal's records up to the compaction's offset (all in the
   * snapshot now). With nothing after them the journal is truncated; otherwise the records appended
   * since are written to a new journal that replaces it (temp + fsync + rename + fsync dir).
   */
  async #cutJournal(cut: Cut): Promise<void> {
    if (cut.generation !== this.#generation) return // emptied by a full snapshot meanwhile
    const fh = (this.#journal ??= await open(this.journalFile, 'a+', 0o600))
    const rest = this.stats.journalBytes - cut.offset
    if (rest === 0) {
      await fh.truncate(0)
      await fh.datasync()
    } else {
      const tail = Buffer.allocUnsafe(rest)
      for (let got = 0; got < rest;) {
        const { bytesRead } = await fh.read(tail, got, rest - got, cut.offset + got)
        if (bytesRead === 0) throw new Error(`journal ${this.journalFile} is shorter than expected`)
        got += bytesRead
      }
      const tmp = journalTmp(this.journalFile)
      const out = await open(tmp, 'w', 0o600)
      try {
        await writeAll(out, tail)
        await out.sync()
      } finally {
        await out.close()
      }
      await rename(tmp, this.journalFile)
      // From here the new file is the journal, whatever fails next.
      this.#journal = null
      void fh.close().catch(() => {})
      this.#cutDone(cut, rest)
      try {
        await fsyncDir(dirname(this.journalFile))
      } catch (err) {
        this.#full = true // the next flush writes a snapshot, whose directory fsync covers the rename
        throw err
      }
      return
    }
    this.#cutDone(cut, 0)
  }

  #cutDone(cut: Cut, rest: number): void {
    this.#generation++
    this.stats.journalBytes = rest
    this.stats.journalRecords -= cut.records
    this.stats.compactions++
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
      await this.#compacting // then its journal cut is in the chain
      await this.#tail
      await this.#journal?.close().catch(() => {})
      this.#journal = null
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
