import { link, mkdir, open, readdir, readFile, realpath, rename, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

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
export class SpoolLockedError extends Error {
  /** The process holding the lock. */
  readonly pid: number
  /** The spool directory. */
  readonly dir: string

  constructor(dir: string, pid: number) {
    super(`spool ${dir} is in use by process ${pid}`)
    this.name = 'SpoolLockedError'
    this.dir = dir
    this.pid = pid
  }
}

const SEGMENT = /^(\d{16})-(\d+)\.lp$/
const TEMP_SUFFIX = '.tmp'
const LOCK = '.lock'

const segmentName = (seq: number, lines: number) => `${String(seq).padStart(16, '0')}-${lines}.lp`

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

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

/** Spool directories (real paths) this process holds the lock of. */
const held = new Set<string>()

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code

/** True unless signalling the pid says there is no such process (ESRCH). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return errno(err) !== 'ESRCH' // EPERM: alive, owned by another user
  }
}

/** The pid in a lock file; undefined when the file is gone or holds no valid pid. */
async function lockOwner(path: string): Promise<number | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined
    throw err
  }
  const pid = /^\s*(\d{1,10})\s*$/.exec(text) ? Number(text) : NaN
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
}

/**
 * Takes `dir/.lock` (the pid, written to a side file and hard-linked into place so the lock never
 * exists half-written). A lock whose process is gone (kill -9), that holds no pid, or that holds this
 * process's own pid without this process having taken it (a container restart reuses pids) is stale
 * and taken over. Two processes taking over the same stale lock at the same instant is not guarded.
 */
async function lock(dir: string): Promise<string> {
  const key = await realpath(dir)
  if (held.has(key)) throw new SpoolLockedError(dir, process.pid)
  held.add(key) // before any await: a second open in this process must not see its own pid as stale
  const path = join(dir, LOCK)
  const mine = `${path}.${process.pid}`
  try {
    await writeFile(mine, `${process.pid}\n`)
    for (let attempt = 1; ; attempt++) {
      try {
        await createLock(mine, path)
        return key
      } catch (err) {
        if (errno(err) !== 'EEXIST' || attempt >= 5) throw err
      }
      const owner = await lockOwner(path)
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) throw new SpoolLockedError(dir, owner)
      await rm(path, { force: true })
    }
  } catch (err) {
    held.delete(key)
    throw err
  } finally {
    await rm(mine, { force: true })
  }
}

/** Creates `path` with the content of `side`, failing with EEXIST if it exists. */
async function createLock(side: string, path: string): Promise<void> {
  try {
    await link(side, path)
  } catch (err) {
    // Filesystems without hard links (SMB, FAT): an exclusive create, briefly empty before the write.
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(errno(err) ?? '')) throw err
    await writeFile(path, await readFile(side), { flag: 'wx' })
  }
}

async function unlock(dir: string, key: string): Promise<void> {
  if (!held.delete(key)) return
  await rm(join(dir, LOCK), { force: true })
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
  const key = await lock(dir)
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
    await unlock(dir, key)
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
    close: () => unlock(dir, key),
  }
}
