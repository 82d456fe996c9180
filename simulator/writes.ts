import type { ActivityItem } from './activity.ts'

/** What a workload leaves behind in its directory: the blocks it writes and the files it creates. */
export interface WriteStream {
  /** Directory written into: absolute path, no trailing slash. */
  dir: string
  start: number
  end: number | null
  /** `file-throughput-write` items: each writes `k` 4096-byte blocks per minute into its id. */
  items: Array<Pick<ActivityItem, 'id' | 'k'>>
  /** Files created in `dir` per minute, all clients together. */
  filesPerMinute: number
}

/** Bytes and files added to a tree so far. */
export interface Written {
  data: bigint
  files: bigint
}

/** How much each write stream has added, at a moment of scenario time. */
export interface WriteLedger {
  /** Added by the streams writing directly into `dir`. */
  at(dir: string, elapsedSeconds: number): Written
  /** Added by the streams writing into `dir` or any directory below it. */
  under(dir: string, elapsedSeconds: number): Written
  /** Bytes written into one file id. */
  file(id: string, elapsedSeconds: number): bigint
}

const BLOCK_BYTES = 4096n

/**
 * Counts in whole seconds of activity, so that a k-per-minute rate that is a multiple of 60 adds an exact
 * number of blocks (or files) per second: a test knows to the byte what was written between two readings.
 */
export function createWriteLedger(streams: WriteStream[]): WriteLedger {
  const byDir = new Map<string, WriteStream[]>()
  const byFile = new Map<string, { stream: WriteStream; k: number }>()
  for (const s of streams) {
    byDir.set(s.dir, [...(byDir.get(s.dir) ?? []), s])
    for (const item of s.items) byFile.set(item.id, { stream: s, k: item.k })
  }
  const sum = (list: WriteStream[], elapsed: number): Written => {
    const out = { data: 0n, files: 0n }
    for (const s of list) {
      const seconds = activeSeconds(s, elapsed)
      for (const item of s.items) out.data += blocks(item.k, seconds) * BLOCK_BYTES
      out.files += BigInt(Math.floor((s.filesPerMinute * seconds) / 60))
    }
    return out
  }
  return {
    at: (dir, elapsed) => sum(byDir.get(dir) ?? [], elapsed),
    under: (dir, elapsed) => sum(dir === '/' ? streams : streams.filter((s) => s.dir === dir || s.dir.startsWith(dir + '/')), elapsed),
    file: (id, elapsed) => {
      const f = byFile.get(id)
      return f ? blocks(f.k, activeSeconds(f.stream, elapsed)) * BLOCK_BYTES : 0n
    },
  }
}

function activeSeconds(s: WriteStream, elapsed: number): number {
  return Math.max(0, Math.floor(Math.min(elapsed, s.end ?? Infinity) - s.start))
}

function blocks(perMinute: number, seconds: number): bigint {
  return BigInt(Math.floor((perMinute * seconds) / 60))
}
