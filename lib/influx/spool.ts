import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fsyncDir } from '../fsync.ts'
import { acquireLock, LockedError, type Lock } from '../lockfile.ts'

/**
 * One durable batch of line protocol: `<seq, 16 digits>-<line count>.lp`, newline-terminated lines.
 * The name carries the line count so a restart needs no read to know what is pending.
 */
export interface Segment {
  readonly seq: number
  readonly name: string
  /** Lines in the file. */
  readonly lines: number
  /** Size on disk. */
  readonly bytes: number
  /** The content while it is kept in memory (recent segments), else read back on delivery. */
  data?: Buffer
}

/** The segment files of one spool directory, oldest first. */
export interface Spool {
  readonly dir: string
  /** Pending segments in delivery order. */
  readonly segments: Segment[]
  /** Bytes of the pending segments on disk. */
  readonly bytes: number
  /** Writes a segment: temp file, fsync, rename, fsync of the directory. Resolves once durable. */
  append(data: Buffer, lines: number): Promise<Segment>
  /** The segment's content (from memory when kept). */
  read(seg: Segment): Promise<Buffer>
  /** Drops the head segment once delivered. */
  remove(seg: Segment): Promise<void>
  /** Moves the head segment to `rejected/` with a `.error.txt` next to it saying why. */
  reject(seg: Segment, reason: string): Promise<void>
  /** Releases the spool's lock (idempotent); the spool must not be used afterwards. */
  close(): Promise<void>
}

/** {@link openSpool} found the spool locked by a live process. */
export class SpoolLockedError extends LockedError {
  /** The spool directory. */
  readonly dir: string

  constructor(dir: string, pid: number) {
    super(join(dir, LOCK), pid, `spool ${dir} is in use by process ${pid}`)
    this.name = 'SpoolLockedError'
    this.dir = dir
  }
}

const SEGMENT = /^(\d{16})-(\d+)\.lp$/
const TEMP_SUFFIX = '.tmp'
const LOCK = '.lock'

const segmentName = (seq: number, lines: number) => `${String(seq).padStart(16, '0')}-${lines}.lp`

async function listSegments(dir: string): Promise<{ segments: Segment[]; maxSeq: number }> {
  const segments: Segment[] = []
  let maxSeq = 0
  for (const name of await readdir(dir)) {
    const m = SEGMENT.exec(name)
    if (!m) continue
    const seq = Number(m[1])
    maxSeq = Math.max(maxSeq, seq)
    segments.push({ seq, name, lines: Number(m[2]), bytes: (await stat(join(dir, name))).size })
  }
  return { segments: segments.sort((a, b) => a.seq - b.seq), maxSeq }
}

/** Takes `dir/.lock` ({@link acquireLock}), reporting a held lock as {@link SpoolLockedError}. */
async function lock(dir: string): Promise<Lock> {
  try {
    return await acquireLock(join(dir, LOCK))
  } catch (err) {
    if (err instanceof LockedError) throw new SpoolLockedError(dir, err.pid)
    throw err
  }
}

/**
 * Opens (creating) a spool directory for this process alone: takes the lock file `.lock` (throws
 * {@link SpoolLockedError} while a live process holds it; takes over a stale one), deletes temp files
 * a crash left behind (their `write()` never resolved, so nobody was told they were durable) and
 * lists the segments to replay. `close()` releases the lock.
 */
export async function openSpool(dir: string): Promise<Spool> {
  const rejectedDir = join(dir, 'rejected')
  await mkdir(rejectedDir, { recursive: true })
  const held = await lock(dir)
  let segments: Segment[]
  let seq: number
  try {
    for (const name of await readdir(dir)) {
      if (name.endsWith(TEMP_SUFFIX)) await rm(join(dir, name), { force: true })
    }
    const listed = await listSegments(dir)
    segments = listed.segments
    // Rejected segments keep their numbers, so new ones must not reuse them.
    seq = Math.max(listed.maxSeq, (await listSegments(rejectedDir)).maxSeq)
  } catch (err) {
    await held.release()
    throw err
  }
  let bytes = segments.reduce((n, s) => n + s.bytes, 0)

  const drop = (seg: Segment) => {
    if (segments[0] !== seg) throw new Error(`Segment ${seg.name} is not the head of the spool`)
    segments.shift()
    bytes -= seg.bytes
  }

  return {
    dir,
    segments,
    get bytes() {
      return bytes
    },
    async append(data, lines) {
      const name = segmentName(++seq, lines)
      const temp = join(dir, name + TEMP_SUFFIX)
      const fh = await open(temp, 'w')
      try {
        await fh.writeFile(data)
        await fh.sync()
      } catch (err) {
        await fh.close()
        await rm(temp, { force: true })
        throw err
      }
      await fh.close()
      await rename(temp, join(dir, name))
      await fsyncDir(dir)
      const seg: Segment = { seq, name, lines, bytes: data.length, data }
      segments.push(seg)
      bytes += seg.bytes
      return seg
    },
    read: async (seg) => seg.data ?? readFile(join(dir, seg.name)),
    async remove(seg) {
      drop(seg)
      // No directory fsync: a deletion lost in a crash only means the segment is delivered again.
      await unlink(join(dir, seg.name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err
      })
    },
    async reject(seg, reason) {
      drop(seg)
      await writeFile(join(rejectedDir, seg.name + '.error.txt'), reason + '\n')
      await rename(join(dir, seg.name), join(rejectedDir, seg.name))
    },
    close: () => held.release(),
  }
}
