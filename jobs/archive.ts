import { open, stat, truncate, type FileHandle } from 'node:fs/promises'
import type { Logger } from '../lib/log.ts'
import type { Job } from './types.ts'

// The archive: JSON lines, each `{"id":…,"endedAt":…,…the rest of the job}` so the index can be
// built from the line's head without parsing the whole job.

export interface ArchiveEntry {
  offset: number
  length: number
  /** endedAt in ms (NaN sorts last). */
  ended: number
}

export function archiveLine(job: Job): string {
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
export async function loadArchive(path: string, log: Logger): Promise<{ index: Map<string, ArchiveEntry>; size: number }> {
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
