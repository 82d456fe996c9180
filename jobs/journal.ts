import { readFile } from 'node:fs/promises'
import type { StoreData } from './types.ts'
import { issuesText } from '../lib/zod-text.ts'
import { JournalRecordSchema, StoreCorruptError, type JournalRecord } from './store-schema.ts'

// Reading the journal at open.

export interface Replay {
  /** Records applied. */
  records: number
  /** Bytes of whole, valid records (the journal is cut here when more follows). */
  size: number
  /** Size of the file as found (0 when missing). */
  found: number
  exists: boolean
}

/**
 * Applies the journal's records to `data` in order. A torn or invalid last record (a crash during
 * an append, never acknowledged) ends the replay; an invalid record with more after it is
 * corruption: {@link StoreCorruptError}, nothing modified.
 */
export async function replayJournal(path: string, data: StoreData): Promise<Replay> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: 0, size: 0, found: 0, exists: false }
    throw err
  }
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let records = 0
  let start = 0
  for (let line = 1; start < bytes.length; line++) {
    const nl = bytes.indexOf(10, start)
    if (nl === -1) break // no newline: torn
    let problem: string | undefined
    let record: JournalRecord | undefined
    try {
      const parsed: unknown = JSON.parse(decoder.decode(bytes.subarray(start, nl)))
      const checked = JournalRecordSchema.safeParse(parsed)
      if (checked.success) record = parsed as JournalRecord
      else problem = `is not a journal record (${issuesText(checked.error)})`
    } catch (err) {
      problem = err instanceof SyntaxError ? `is not valid JSON (${err.message})` : 'is not valid UTF-8'
    }
    if (!record) {
      if (nl + 1 === bytes.length) break // the last record: torn
      throw new StoreCorruptError(
        path,
        `has a bad record at line ${line}, byte ${start}, with more records after it: line ${line} ${problem}`,
      )
    }
    Object.assign(data.jobs, record.jobs)
    data.outbox = record.outbox
    data.nextSeq = record.nextSeq
    records++
    start = nl + 1
  }
  return { records, size: start, found: bytes.length, exists: true }
}
