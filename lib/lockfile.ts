import { link, readFile, realpath, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** An exclusive pid lock file held by this process. */
export interface Lock {
  /** The lock file. */
  readonly path: string
  /** Removes the lock file (idempotent). */
  release(): Promise<void>
}

/** {@link acquireLock} found the lock held by a live process (or already by this one). */
export class LockedError extends Error {
  /** The process holding the lock. */
  readonly pid: number
  /** The lock file. */
  readonly path: string

  constructor(path: string, pid: number, message = `${path} is locked by process ${pid}`) {
    super(message)
    this.name = 'LockedError'
    this.path = path
    this.pid = pid
  }
}

/** Lock files (real directory + base name) this process holds. */
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

/**
 * Takes the lock file `path` (its directory must exist) for this process: the pid is written to a side
 * file `<path>.<pid>` and hard-linked into place, so the lock never exists half-written.
 *
 * Throws {@link LockedError} while a live process holds it, and when this process already holds it
 * (also through another spelling of the path, e.g. a symlinked directory). A lock whose process is gone
 * (kill -9), that holds no pid, or that holds this process's own pid without this process having taken
 * it (a container restart reuses pids) is stale and taken over. Two processes taking over the same
 * stale lock at the same instant is not guarded.
 */
export async function acquireLock(path: string): Promise<Lock> {
  const key = join(await realpath(dirname(path)), basename(path))
  if (held.has(key)) throw new LockedError(path, process.pid)
  held.add(key) // before any await: a second acquire in this process must not see its own pid as stale
  const mine = `${path}.${process.pid}`
  try {
    await writeFile(mine, `${process.pid}\n`)
    for (let attempt = 1; ; attempt++) {
      try {
        await createLock(mine, path)
        break
      } catch (err) {
        if (errno(err) !== 'EEXIST' || attempt >= 5) throw err
      }
      const owner = await lockOwner(path)
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) throw new LockedError(path, owner)
      await rm(path, { force: true })
    }
  } catch (err) {
    held.delete(key)
    throw err
  } finally {
    await rm(mine, { force: true })
  }
  return {
    path,
    async release() {
      if (!held.delete(key)) return
      await rm(path, { force: true })
    },
  }
}
