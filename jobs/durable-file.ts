import { open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Adapter } from 'lowdb'
import { fsyncDir } from '../lib/fsync.ts'
import type { StoreData } from './types.ts'
import { issuesText } from '../lib/zod-text.ts'
import { StoreCorruptError, StoreDataSchema } from './store-schema.ts'
import { messageOf } from '../lib/errors.ts'

// The snapshot file: written whole through a temp file, fsync, rename and a directory fsync.

export async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let off = 0; off < buf.length;) off += (await fh.write(buf, off, buf.length - off)).bytesWritten
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

/** A serialised snapshot (its bytes, or a lazy sequence of chunks), and what must be durable before it replaces the working file. */
export interface Serialised {
  bytes: Iterable<Buffer>
  beforeRename?: () => Promise<void>
}

/**
 * lowdb adapter: durable writes (temp + fsync + rename + fsync dir), corrupt files refused. `write()`
 * serialises synchronously, when it is called, through {@link serialize} (the store installs its
 * own, which reuses per-job JSON and orders the journal record a snapshot needs before its rename).
 */
export class DurableJSONFile implements Adapter<StoreData> {
  /** steno's temp name, so a leftover from either is recognised. */
  readonly tmp: string
  serialize: (data: StoreData) => Serialised = (data) => ({ bytes: [Buffer.from(JSON.stringify(data), 'utf8')] })
  /** Size of the last file write() wrote. */
  lastSize = 0

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
      throw new StoreCorruptError(this.file, `is not valid JSON (${describeJsonError(text, messageOf(err))})`)
    }
    const checked = StoreDataSchema.safeParse(parsed)
    if (!checked.success) throw new StoreCorruptError(this.file, `is not a version-1 job store (${issuesText(checked.error)})`)
    return parsed as StoreData
  }

  async write(data: StoreData): Promise<void> {
    const { bytes, beforeRename } = this.serialize(data)
    this.lastSize = await this.writeChunks(bytes, beforeRename)
  }

  /**
   * Writes the chunks (pulled one at a time, so a lazy iterable never holds the whole file) to the
   * temp file, fsyncs it, runs `beforeRename`, renames it over the file and fsyncs the directory.
   * Returns the size written.
   */
  async writeChunks(chunks: Iterable<Buffer>, beforeRename?: () => Promise<void>): Promise<number> {
    let size = 0
    const fh = await open(this.tmp, 'w', 0o600)
    try {
      for (const chunk of chunks) {
        await writeAll(fh, chunk)
        size += chunk.length
      }
      await fh.sync()
    } finally {
      await fh.close()
    }
    await beforeRename?.()
    await rename(this.tmp, this.file)
    await fsyncDir(dirname(this.file))
    return size
  }
}
