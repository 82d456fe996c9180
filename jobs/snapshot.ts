import type { Job, StoreData } from './types.ts'

// Snapshot layout: `{"version":1,"jobs":{<part>,<part>,…},"outbox":…,"nextSeq":…<,extra>*}` where a
// part is `"<id>":<job JSON>`; the store keeps each job's part as last written.

/** `"<id>":<job JSON>`. */
export const jobPart = (id: string, job: Job) => `${JSON.stringify(id)}:${JSON.stringify(job)}`

/** The top-level fields this version does not know, as `,"key":value…` (kept, never stripped). */
export function extrasOf(data: StoreData): string {
  let s = ''
  for (const [key, value] of Object.entries(data)) {
    if (key !== 'version' && key !== 'jobs' && key !== 'outbox' && key !== 'nextSeq')
      s += `,${JSON.stringify(key)}:${JSON.stringify(value)}`
  }
  return s
}

const CHUNK = 1 << 20

/** The snapshot as buffers of about 1 MiB, built lazily (a compaction yields to the event loop between them). */
export function* snapshotChunks(parts: readonly string[], outbox: string, nextSeq: number, extras: string): Generator<Buffer> {
  let text = '{"version":1,"jobs":{'
  for (let i = 0; i < parts.length; i++) {
    text += i === 0 ? parts[i] : `,${parts[i]}`
    if (text.length >= CHUNK) {
      yield Buffer.from(text, 'utf8')
      text = ''
    }
  }
  yield Buffer.from(`${text}},"outbox":${outbox},"nextSeq":${JSON.stringify(nextSeq)}${extras}}`, 'utf8')
}

export const journalRecord = (parts: readonly string[], outbox: string, nextSeq: number) =>
  Buffer.from(`{"jobs":{${parts.join(',')}},"outbox":${outbox},"nextSeq":${JSON.stringify(nextSeq)}}\n`, 'utf8')
