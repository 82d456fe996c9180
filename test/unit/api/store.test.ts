import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { ARCHIVE_NAME, JOURNAL_NAME, openJobStore, StoreCorruptError, type JobStore } from '../../../jobs/store.ts'
import type { Job, StoreData } from '../../../jobs/types.ts'
import { LockedError } from '../../../lib/lockfile.ts'
import { silentLogger } from '../../../lib/log.ts'
import { tempDir } from '../../support/tmp.ts'

const T0 = Date.UTC(2026, 0, 1)
const iso = (ms: number) => new Date(ms).toISOString()

function job(id: string, over: Partial<Job> = {}): Job {
  return {
    id,
    name: `job ${id}`,
    cluster: '',
    status: 'running',
    startedAt: iso(T0),
    endedAt: null,
    paths: ['/render/a'],
    clients: ['10.0.0.0/24'],
    labels: { project: 'alpha' },
    comments: [],
    notify: [],
    annotation: { state: 'off', comments: 0 },
    capacity: [],
    createdBy: 'test',
    updatedAt: iso(T0),
    ...over,
  }
}

const done = (id: string, endedMs: number, status: 'succeeded' | 'failed' = 'succeeded') =>
  job(id, { status, endedAt: iso(endedMs), updatedAt: iso(endedMs) })

const storeFile = () => join(tempDir('qactivity-store-'), 'jobs.json')
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as StoreData
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  )

async function seeded(file: string, jobs: Job[], outbox: StoreData['outbox'] = []): Promise<JobStore> {
  const store = await openJobStore(file, silentLogger)
  await store.update((d) => {
    for (const j of jobs) d.jobs[j.id] = j
    d.outbox.push(...outbox)
  })
  return store
}

async function listIds(store: JobStore): Promise<string[]> {
  const ids: string[] = []
  for await (const j of store.listArchived()) ids.push(j.id)
  return ids
}

describe('job store: working file', () => {
  it('starts empty without a file, writes durably and reads back the same data', async () => {
    const file = storeFile()
    const store = await openJobStore(file, silentLogger)
    expect(store.data).toEqual({ version: 1, jobs: {}, outbox: [], nextSeq: 1 })
    expect(existsSync(file)).toBe(false) // nothing written until an update
    expect(readFileSync(`${file}.lock`, 'utf8').trim()).toBe(String(process.pid))

    const seq = await store.update((d) => {
      d.jobs.a = job('a', { labels: { ünï: 'cödé ✓' } })
      d.outbox.push({ kind: 'start', jobId: 'a', seq: d.nextSeq, attempts: 0 })
      return d.nextSeq++
    })
    expect(seq).toBe(1)
    // Acknowledged means on disk.
    expect(readJson(file)).toEqual(store.data)
    expect(store.stats.writes).toBe(1)
    expect(store.stats.lastBytes).toBe(readFileSync(file).length)
    const before = structuredClone(store.data)
    await store.close()
    await store.close() // idempotent
    expect(readdirSync(join(file, '..')).sort()).toEqual(['jobs.json']) // no lock, no temp file left

    const again = await openJobStore(file, silentLogger)
    expect(again.data).toEqual(before)
    await again.close()
  })

  it('coalesces concurrent updates into a handful of writes, each resolved after its change is on disk', async () => {
    const file = storeFile()
    const store = await openJobStore(file, silentLogger)
    await store.update((d) => void (d.jobs.a = job('a')))
    const writes = store.stats.writes
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.update((d) => {
          d.jobs.a.comments.push({ at: iso(T0), author: 't', text: `c${i}` })
          return i
        }),
      ),
    )
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i))
    expect(store.stats.writes - writes).toBeLessThanOrEqual(2)
    expect(readJson(file).jobs.a.comments.map((c) => c.text)).toEqual(results.map((i) => `c${i}`))

    // Updates arriving while a write is in flight join one next write.
    const first = store.update((d) => void (d.nextSeq = 100))
    await new Promise((r) => setImmediate(r))
    const later = Array.from({ length: 50 }, (_, i) => store.update((d) => void (d.nextSeq += i)))
    const w = store.stats.writes
    await Promise.all([first, ...later])
    expect(store.stats.writes - w).toBeLessThanOrEqual(2)
    expect(readJson(file).nextSeq).toBe(100 + (49 * 50) / 2)
    await store.close()
  })

  it('writes nothing for an update that throws, and passes the error on', async () => {
    const file = storeFile()
    const store = await openJobStore(file, silentLogger)
    await store.update((d) => void (d.jobs.a = job('a')))
    const bytes = readFileSync(file)
    const writes = store.stats.writes
    const boom = new Error('no such job')
    await expect(
      store.update((d) => {
        if (!d.jobs.missing) throw boom
        d.jobs.missing.name = 'x'
      }),
    ).rejects.toBe(boom)
    expect(store.stats.writes).toBe(writes)
    expect(readFileSync(file).equals(bytes)).toBe(true)
    await store.close()
  })

  it('close() waits for pending writes; updates after close are refused', async () => {
    const file = storeFile()
    const store = await openJobStore(file, silentLogger)
    const pending = store.update((d) => void (d.jobs.a = job('a')))
    await store.close()
    await pending
    expect(Object.keys(readJson(file).jobs)).toEqual(['a'])
    await expect(store.update(() => 1)).rejects.toThrow(/closed/)
    await expect(store.archive(new Date())).rejects.toThrow(/closed/)
  })

  it('removes a stale temp file a crash left behind', async () => {
    const file = storeFile()
    const tmp = join(file, '..', '.jobs.json.tmp')
    writeFileSync(tmp, '{"version":1,"jo')
    const store = await openJobStore(file, silentLogger)
    expect(existsSync(tmp)).toBe(false)
    await store.close()
  })

  it.each([
    ['truncated', '{"version":1,"jobs":{"a":', /is not valid JSON \(Unexpected end of JSON input at position 25, line 1 column 26\)/],
    ['a trailing comma', '{"version":1,\n"jobs":{},}', /is not valid JSON \(.*position 24, line 2 column 11\)/],
    ['empty', '', /is not valid JSON \(the file is empty/],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), /is not valid UTF-8/],
  ])('refuses a corrupt file (%s) and leaves it byte for byte untouched', async (_, content, message) => {
    const file = storeFile()
    writeFileSync(file, content)
    const bytes = readFileSync(file)
    const tmp = join(file, '..', '.jobs.json.tmp')
    writeFileSync(tmp, 'older temp')
    const err = await failure(openJobStore(file, silentLogger))
    expect(err).toBeInstanceOf(StoreCorruptError)
    expect((err as StoreCorruptError).file).toBe(file)
    expect((err as Error).message).toMatch(new RegExp(`^job store ${file} `))
    expect((err as Error).message).toMatch(message)
    expect((err as Error).message).toMatch(/; it was left untouched — fix or move it away$/)
    expect(readFileSync(file).equals(bytes)).toBe(true)
    expect(readFileSync(tmp, 'utf8')).toBe('older temp') // nothing at all touched
    expect(existsSync(`${file}.lock`)).toBe(false) // lock released: fixing the file is enough
    writeFileSync(file, JSON.stringify({ version: 1, jobs: {}, outbox: [], nextSeq: 7 }))
    const store = await openJobStore(file, silentLogger)
    expect(store.data.nextSeq).toBe(7)
    await store.close()
  })

  it.each([
    ['an array', [], /\(top level: /],
    ['version 2', { version: 2, jobs: {}, outbox: [], nextSeq: 1 }, /\(version: /],
    ['no outbox', { version: 1, jobs: {}, nextSeq: 1 }, /\(outbox: /],
    [
      'a job with a bad status',
      { version: 1, jobs: { a: { ...job('a'), status: 'done' } }, outbox: [], nextSeq: 1 },
      /\(jobs\.a\.status: /,
    ],
    [
      'a job keyed by another id',
      { version: 1, jobs: { b: job('a') }, outbox: [], nextSeq: 1 },
      /\(jobs\.b\.id: id "a" differs from its key\)/,
    ],
    [
      'a bad outbox task',
      { version: 1, jobs: {}, outbox: [{ kind: 'poke', jobId: 'a', seq: 1, attempts: 0 }], nextSeq: 1 },
      /\(outbox\[0\]\.kind: /,
    ],
  ])('refuses JSON that is not a version-1 store (%s), untouched', async (_, value, message) => {
    const file = storeFile()
    writeFileSync(file, JSON.stringify(value, null, 2))
    const bytes = readFileSync(file)
    const err = await failure(openJobStore(file, silentLogger))
    expect(err).toBeInstanceOf(StoreCorruptError)
    expect((err as Error).message).toMatch(/is not a version-1 job store/)
    expect((err as Error).message).toMatch(message)
    expect(readFileSync(file).equals(bytes)).toBe(true)
  })

  it('keeps fields it does not know (a newer version’s) instead of stripping them', async () => {
    const file = storeFile()
    writeFileSync(file, JSON.stringify({ version: 1, jobs: { a: { ...job('a'), extra: 1 } }, outbox: [], nextSeq: 1, more: true }))
    const store = await openJobStore(file, silentLogger)
    await store.update((d) => void (d.nextSeq = 2))
    expect(readJson(file)).toMatchObject({ more: true, jobs: { a: { extra: 1 } } })
    await store.close()
  })

  it('is exclusive: a second open is refused until the first closes', async () => {
    const file = storeFile()
    const store = await openJobStore(file, silentLogger)
    const err = await failure(openJobStore(file, silentLogger))
    expect(err).toBeInstanceOf(LockedError)
    expect(err).toMatchObject({ pid: process.pid, path: `${file}.lock` })
    const [a, b] = await Promise.allSettled([openJobStore(storeFile(), silentLogger), openJobStore(file, silentLogger)])
    expect(a.status).toBe('fulfilled')
    expect(b.status).toBe('rejected')
    if (a.status === 'fulfilled') await a.value.close()
    await store.close()
    await (await openJobStore(file, silentLogger)).close()
  })
})

describe('job store: archive', () => {
  const DAY = 86_400_000
  const cutoff = new Date(T0 + 30 * DAY)

  it('moves completed jobs older than the cutoff, keeps running, recent and undelivered ones', async () => {
    const file = storeFile()
    const store = await seeded(
      file,
      [
        job('run-old'), // running: never archived, however old
        done('ok-old', T0 + 1 * DAY),
        done('fail-old', T0 + 2 * DAY, 'failed'),
        done('ok-new', T0 + 40 * DAY),
        done('outbox-old', T0 + 3 * DAY),
      ],
      [{ kind: 'complete', jobId: 'outbox-old', seq: 1, attempts: 3 }],
    )
    expect(await store.archive(cutoff)).toBe(2)
    expect(Object.keys(store.data.jobs).sort()).toEqual(['ok-new', 'outbox-old', 'run-old'])
    expect(Object.keys(readJson(file).jobs).sort()).toEqual(['ok-new', 'outbox-old', 'run-old'])
    const lines = readFileSync(join(file, '..', ARCHIVE_NAME), 'utf8').split('\n')
    expect(lines.pop()).toBe('')
    expect(lines.map((l) => (JSON.parse(l) as Job).id)).toEqual(['ok-old', 'fail-old'])
    expect(await store.findArchived('ok-old')).toEqual(done('ok-old', T0 + 1 * DAY))
    expect(await store.findArchived('run-old')).toBeUndefined()
    expect(await store.findArchived('nope')).toBeUndefined()
    expect(await listIds(store)).toEqual(['fail-old', 'ok-old']) // newest endedAt first
    expect(store.stats.archived).toBe(2)
    expect(await store.archive(cutoff)).toBe(0) // nothing left to move

    // Delivered: the outbox no longer holds it, so it goes too; the index grows without a reopen.
    await store.update((d) => void d.outbox.splice(0))
    expect(await store.archive(cutoff)).toBe(1)
    expect(await store.findArchived('outbox-old')).toMatchObject({ id: 'outbox-old', status: 'succeeded' })
    expect(await listIds(store)).toEqual(['outbox-old', 'fail-old', 'ok-old'])
    await store.close()

    const again = await openJobStore(file, silentLogger)
    expect(again.stats.archived).toBe(3)
    expect(await again.findArchived('fail-old')).toEqual(done('fail-old', T0 + 2 * DAY, 'failed'))
    expect(await listIds(again)).toEqual(['outbox-old', 'fail-old', 'ok-old'])
    await again.close()
  })

  it('finds one archived job among many by its indexed offset, ids with odd characters included', async () => {
    const file = storeFile()
    const jobs = Array.from({ length: 2000 }, (_, i) => done(i === 7 ? 'we"ird\\id ü' : `j${i}`, T0 + i * 1000))
    const store = await seeded(file, jobs)
    expect(await store.archive(cutoff)).toBe(2000)
    await store.close()
    const again = await openJobStore(file, silentLogger)
    expect(again.stats.archived).toBe(2000)
    expect(await again.findArchived('we"ird\\id ü')).toEqual(jobs[7])
    expect(await again.findArchived('j1999')).toEqual(jobs[1999])
    const ids = await listIds(again)
    expect(ids).toHaveLength(2000)
    expect(ids[0]).toBe('j1999')
    expect(ids.at(-1)).toBe('j0')
    await again.close()
  })

  it('loses and duplicates nothing after a crash between the archive append and the working-file write', async () => {
    // Built by hand: the archive holds the job's line (twice: an older copy and the final one), the
    // working file still holds the job, and a torn line at the end (a crash during a later append).
    const file = storeFile()
    const archive = join(file, '..', ARCHIVE_NAME)
    const x = done('x', T0 + DAY)
    const xOld = { ...x, name: 'stale copy' }
    const y = done('y', T0 + 2 * DAY)
    writeFileSync(file, JSON.stringify({ version: 1, jobs: { x, z: done('z', T0 + 3 * DAY) }, outbox: [], nextSeq: 1 }))
    writeFileSync(archive, [xOld, y, x].map((j) => JSON.stringify(j)).join('\n') + '\n' + JSON.stringify(done('z', T0)).slice(0, 40))

    const store = await openJobStore(file, silentLogger)
    // Every job readable exactly once: x and z from the working set, y from the archive.
    expect(Object.keys(store.data.jobs).sort()).toEqual(['x', 'z'])
    expect(await listIds(store)).toEqual(['y'])
    expect(await store.findArchived('x')).toBeUndefined()
    expect(await store.findArchived('z')).toBeUndefined()
    expect(await store.findArchived('y')).toEqual(y)
    expect(readFileSync(archive, 'utf8').endsWith('\n')).toBe(true) // torn tail cut off

    // Archiving again completes the move; the last copy of x wins over the stale one.
    expect(await store.archive(cutoff)).toBe(2)
    expect(store.data.jobs).toEqual({})
    expect(await listIds(store)).toEqual(['z', 'y', 'x'])
    expect(await store.findArchived('x')).toEqual(x)
    await store.close()
    const again = await openJobStore(file, silentLogger)
    expect(await listIds(again)).toEqual(['z', 'y', 'x'])
    expect(await again.findArchived('x')).toEqual(x)
    await again.close()
  })

  it('keeps a job that changed while its archive line was being written', async () => {
    const file = storeFile()
    const store = await seeded(file, [done('a', T0), done('b', T0)])
    const archiving = store.archive(cutoff)
    await new Promise((r) => setImmediate(r)) // the jobs are picked; the append is under way
    await store.update((d) => void d.jobs.a.comments.push({ at: iso(T0), author: 't', text: 'late' }))
    expect(await archiving).toBe(1)
    expect(Object.keys(store.data.jobs)).toEqual(['a'])
    expect(readJson(file).jobs.a.comments).toHaveLength(1)
    expect(await store.findArchived('a')).toBeUndefined() // the working set wins over the stale line
    expect(await store.archive(cutoff)).toBe(1)
    expect((await store.findArchived('a'))?.comments).toHaveLength(1)
    await store.close()
  })
})

describe('job store: journal', () => {
  const journalOf = (file: string) => join(file, '..', JOURNAL_NAME)
  type Rec = Pick<StoreData, 'jobs' | 'outbox' | 'nextSeq'>
  const records = (file: string): Rec[] => {
    if (!existsSync(journalOf(file))) return []
    const text = readFileSync(journalOf(file), 'utf8')
    if (text === '') return []
    expect(text.endsWith('\n')).toBe(true)
    return text
      .slice(0, -1)
      .split('\n')
      .map((l) => JSON.parse(l) as Rec)
  }
  const comment = (text: string) => ({ at: iso(T0), author: 't', text })
  const texts = (store: JobStore, id: string) => store.data.jobs[id].comments.map((c) => c.text)

  /** Makes the next `FileHandle#<method>` call (any file) fail with EIO. */
  async function failNext(method: 'truncate' | 'datasync'): Promise<void> {
    const fh = await open(new URL(import.meta.url), 'r')
    const proto = Object.getPrototypeOf(fh) as Record<typeof method, () => Promise<void>>
    await fh.close()
    const spy = vi.spyOn(proto, method).mockRejectedValueOnce(Object.assign(new Error(`EIO: injected ${method} failure`), { code: 'EIO' }))
    onTestFinished(() => spy.mockRestore())
  }

  it('appends one record per flush for updates that name their jobs, and replays it at open', async () => {
    const file = storeFile()
    const store = await seeded(file, [job('a'), job('b')])
    const snapshot = readFileSync(file)
    expect(store.stats).toMatchObject({ snapshots: 1, journalBytes: 0, journalRecords: 0 })

    await store.update(
      (d) => {
        d.jobs.a.comments.push(comment('one'))
        d.outbox.push({ kind: 'comment', jobId: 'a', seq: d.nextSeq++, attempts: 0, commentIndex: 0 })
      },
      ['a'],
    )
    // Acknowledged means in the journal: the job whole, with outbox and nextSeq; the snapshot as it was.
    expect(records(file)).toEqual([{ jobs: { a: store.data.jobs.a }, outbox: store.data.outbox, nextSeq: 2 }])
    expect(readFileSync(file).equals(snapshot)).toBe(true)

    // Concurrent updates coalesce into one record per flush, holding only the jobs they named.
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        i % 2
          ? store.update((d) => void d.jobs.a.comments.push(comment(`a${i}`)), ['a'])
          : store.update((d) => void d.jobs.b.comments.push(comment(`b${i}`)), ['b']),
      ),
    )
    const recs = records(file)
    expect(recs.length).toBeLessThanOrEqual(3)
    for (const r of recs.slice(1)) expect(Object.keys(r.jobs).sort()).toEqual(['a', 'b'])
    // A new job, and an update that changes no job (outbox only): `touched` may be empty.
    await store.update((d) => void (d.jobs.c = job('c')), ['c'])
    await store.update((d) => void d.outbox.splice(0), [])
    expect(records(file).at(-1)).toEqual({ jobs: {}, outbox: [], nextSeq: 2 })
    expect(readFileSync(file).equals(snapshot)).toBe(true)
    expect(store.stats.snapshots).toBe(1)
    expect(store.stats.journalRecords).toBe(records(file).length)
    expect(store.stats.journalBytes).toBe(statSync(journalOf(file)).size)
    const before = structuredClone(store.data)
    await store.close()
    expect(readdirSync(join(file, '..')).sort()).toEqual([JOURNAL_NAME, 'jobs.json'].sort())

    const again = await openJobStore(file, silentLogger)
    expect(again.data).toEqual(before)
    expect(again.stats.journalRecords).toBe(records(file).length)
    await again.close()
  })

  it('writes a full snapshot and empties the journal for an update without `touched` or one that deletes a job', async () => {
    const file = storeFile()
    const store = await seeded(file, [job('a'), job('b')])
    await store.update((d) => void d.jobs.a.comments.push(comment('journalled')), ['a'])
    expect(store.stats.journalRecords).toBe(1)

    await store.update((d) => void d.jobs.b.comments.push(comment('snapshot')))
    expect(store.stats).toMatchObject({ snapshots: 2, journalBytes: 0, journalRecords: 0 })
    expect(readFileSync(journalOf(file)).length).toBe(0)
    expect(readJson(file)).toEqual(store.data)

    // A listed job that is gone: only a snapshot can record the deletion.
    await store.update((d) => void d.jobs.a.comments.push(comment('again')), ['a'])
    await store.update((d) => void delete d.jobs.b, ['b'])
    expect(store.stats.snapshots).toBe(3)
    expect(Object.keys(readJson(file).jobs)).toEqual(['a'])
    expect(records(file)).toEqual([])

    // …but an id that never existed (an update that threw: "no such job") costs no snapshot.
    await expect(
      store.update(
        (d) => {
          if (!d.jobs.zz) throw new Error('no such job')
        },
        ['zz'],
      ),
    ).rejects.toThrow('no such job')
    await store.update((d) => void d.jobs.a.comments.push(comment('after')), ['a'])
    expect(store.stats.snapshots).toBe(3)
    expect(Object.keys(records(file)[0].jobs)).toEqual(['a'])
    const before = structuredClone(store.data)
    await store.close()
    const again = await openJobStore(file, silentLogger)
    expect(again.data).toEqual(before)
    await again.close()
  })

  it('writes a snapshot after a failed append, so the change kept in memory is not lost', async () => {
    const file = storeFile()
    const store = await seeded(file, [job('a')])
    await store.update((d) => void d.jobs.a.comments.push(comment('ok')), ['a'])
    await failNext('datasync')
    await expect(store.update((d) => void d.jobs.a.comments.push(comment('failed')), ['a'])).rejects.toThrow(/EIO/)
    expect(store.stats.journalRecords).toBe(1) // cut back to whole records
    expect(statSync(journalOf(file)).size).toBe(store.stats.journalBytes)
    await store.update((d) => void (d.jobs.b = job('b')), ['b'])
    expect(store.stats.snapshots).toBe(2)
    expect(readJson(file).jobs.a.comments.map((c) => c.text)).toEqual(['ok', 'failed'])
    await store.close()
    const again = await openJobStore(file, silentLogger)
    expect(texts(again, 'a')).toEqual(['ok', 'failed'])
    expect(Object.keys(again.data.jobs).sort()).toEqual(['a', 'b'])
    await again.close()
  })

  /** A store with job a, whose journal holds two records (comments one, two); returns the state. */
  async function twoRecords(file: string): Promise<StoreData> {
    const store = await seeded(file, [job('a')])
    await store.update((d) => void d.jobs.a.comments.push(comment('one')), ['a'])
    await store.update(
      (d) => {
        d.jobs.a.comments.push(comment('two'))
        d.nextSeq = 5
      },
      ['a'],
    )
    const data = structuredClone(store.data)
    await store.close()
    return data
  }

  it.each([
    ['a record cut short', (rec: string) => rec.slice(0, 60)],
    ['a whole record without its newline', (rec: string) => rec.slice(0, -1)],
    ['zeros', () => '\0'.repeat(300)],
    ['an unparsable last line', () => 'garbage\n'],
    ['a last line that is not a record', () => '{"jobs":{},"outbox":[],"nextSeq":"x"}\n'],
  ])('ignores a torn or unparsable last record (%s) and cuts it off', async (_, torn) => {
    const file = storeFile()
    const expected = await twoRecords(file)
    const good = readFileSync(journalOf(file))
    const rec = JSON.stringify({ jobs: { a: { ...expected.jobs.a, comments: [] } }, outbox: [], nextSeq: 9 }) + '\n'
    appendFileSync(journalOf(file), torn(rec))

    const store = await openJobStore(file, silentLogger)
    expect(store.data).toEqual(expected)
    expect(readFileSync(journalOf(file)).equals(good)).toBe(true)
    expect(store.stats).toMatchObject({ journalRecords: 2, journalBytes: good.length })
    // Appends go on after the cut, and the next open reads them.
    await store.update((d) => void d.jobs.a.comments.push(comment('three')), ['a'])
    await store.close()
    const again = await openJobStore(file, silentLogger)
    expect(texts(again, 'a')).toEqual(['one', 'two', 'three'])
    expect(again.data.nextSeq).toBe(5)
    await again.close()
  })

  it.each([
    ['not JSON', Buffer.from('garbage\n'), /line 2 is not valid JSON/],
    [
      'not a record',
      Buffer.from('{"jobs":{"a":{"id":"a"}},"outbox":[],"nextSeq":1}\n'),
      /line 2 is not a journal record \(jobs\.a\.name: /,
    ],
    [
      'a job under another id',
      Buffer.from(`{"jobs":{"b":${JSON.stringify(job('a'))}},"outbox":[],"nextSeq":1}\n`),
      /\(jobs\.b\.id: id "a" differs from its key\)/,
    ],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d, 0x0a]), /line 2 is not valid UTF-8/],
  ])('refuses a bad record before the last (%s), touching nothing', async (_, bad, message) => {
    const file = storeFile()
    await twoRecords(file)
    const [first, second] = readFileSync(journalOf(file), 'utf8').split(/(?<=\n)/)
    writeFileSync(journalOf(file), Buffer.concat([Buffer.from(first), bad, Buffer.from(second)]))
    const journal = readFileSync(journalOf(file))
    const snapshot = readFileSync(file)
    const tmp = join(file, '..', '.jobs.json.tmp')
    writeFileSync(tmp, 'older temp')

    const err = await failure(openJobStore(file, silentLogger))
    expect(err).toBeInstanceOf(StoreCorruptError)
    expect((err as StoreCorruptError).file).toBe(journalOf(file))
    expect((err as Error).message).toMatch(new RegExp(`^job store ${journalOf(file)} has a bad record at line 2, byte ${first.length}, `))
    expect((err as Error).message).toMatch(message)
    expect((err as Error).message).toMatch(/; it was left untouched — fix or move it away$/)
    expect(readFileSync(journalOf(file)).equals(journal)).toBe(true)
    expect(readFileSync(file).equals(snapshot)).toBe(true)
    expect(readFileSync(tmp, 'utf8')).toBe('older temp')
    expect(existsSync(`${file}.lock`)).toBe(false)
  })

  it('compacts a long journal: snapshot of the journalled state, journal truncated, data kept', async () => {
    const file = storeFile()
    await (
      await seeded(
        file,
        Array.from({ length: 50 }, (_, i) => job(`j${i}`)),
      )
    ).close()
    const store = await openJobStore(file, silentLogger, { compactRecords: 5 })
    for (let i = 0; i < 6; i++) await store.update((d) => void d.jobs[`j${i}`].comments.push(comment(`c${i}`)), [`j${i}`])
    // The 6th record passed the limit: the compaction runs in the background; nothing else appends.
    await vi.waitFor(() => expect(store.stats.compactions).toBe(1))
    expect(store.stats).toMatchObject({ snapshots: 1, journalRecords: 0, journalBytes: 0 })
    expect(readFileSync(journalOf(file)).length).toBe(0)
    expect(readJson(file)).toEqual(store.data)

    // Appends while a compaction writes its snapshot survive the cut (the journal keeps them).
    for (let i = 6; store.stats.compactions < 2; i++) {
      await Promise.all(
        [0, 1, 2].map((k) =>
          store.update((d) => void d.jobs[`j${(i + k * 17) % 50}`].comments.push(comment(`c${i}.${k}`)), [`j${(i + k * 17) % 50}`]),
        ),
      )
      expect(i).toBeLessThan(10_000)
    }
    const kept = store.stats.journalRecords
    expect(records(file)).toHaveLength(kept)
    expect(kept).toBeGreaterThan(0) // appended during the second compaction's snapshot
    const before = structuredClone(store.data)
    await store.close()
    // The last appends may have started a third compaction, which close() lets finish: what the
    // journal holds now is whatever that left, and the reopened store replays exactly that.
    const onDisk = records(file).length
    const again = await openJobStore(file, silentLogger)
    expect(again.data).toEqual(before)
    expect(again.stats.journalRecords).toBe(onDisk)
    await again.close()
  })

  it('lets a full snapshot made during a compaction supersede its journal cut', async () => {
    const file = storeFile()
    // Enough jobs that the compaction's snapshot takes a while to write.
    await (
      await seeded(
        file,
        Array.from({ length: 3000 }, (_, i) => job(`j${i}`)),
      )
    ).close()
    const store = await openJobStore(file, silentLogger, { compactRecords: 5 })
    for (let i = 0; i < 6; i++) await store.update((d) => void d.jobs.j0.comments.push(comment(`c${i}`)), ['j0'])
    // The compaction is writing its snapshot; a full snapshot waits for it, then empties the
    // journal, and a big record follows — all before the compaction's cut runs, whose offset no
    // longer means anything.
    const full = store.update((d) => void d.jobs.j1.comments.push(comment('full')))
    await new Promise((r) => setImmediate(r)) // that flush has started (and waits)
    expect(store.stats.snapshots).toBe(0) // the compaction's snapshot is still being written
    const after = Array.from({ length: 50 }, (_, i) => store.update((d) => void d.jobs[`j${i}`].comments.push(comment('after')), [`j${i}`]))
    await Promise.all([full, ...after])
    const before = structuredClone(store.data)
    await store.close()
    expect(store.stats.snapshots).toBe(2)
    expect(store.stats.compactions).toBe(0) // its cut was skipped
    expect(records(file)).toHaveLength(1)
    const again = await openJobStore(file, silentLogger)
    expect(again.data).toEqual(before)
    await again.close()
  })

  it('keeps every job once after a crash between a compaction snapshot and the journal cut', async () => {
    const file = storeFile()
    await (await seeded(file, [job('a'), job('b')])).close()
    const store = await openJobStore(file, silentLogger, { compactRecords: 5 })
    // The cut will fail: on disk as after a crash right after the snapshot's rename. Armed before the
    // sixth update starts the compaction, which may otherwise finish before the arming.
    await failNext('truncate')
    for (let i = 0; i < 6; i++) {
      await store.update(
        (d) => {
          d.jobs.a.comments.push(comment(`a${i}`))
          if (i === 2) d.jobs.b.comments.push(comment('b'))
          d.nextSeq++
        },
        i === 2 ? ['a', 'b'] : ['a'],
      )
    }
    const before = structuredClone(store.data)
    await store.close()
    expect(store.stats).toMatchObject({ snapshots: 1, compactions: 0 })
    expect(readJson(file)).toEqual(before) // the snapshot holds everything…
    expect(records(file)).toHaveLength(6) // …and the journal still all of it

    const again = await openJobStore(file, silentLogger)
    expect(again.data).toEqual(before)
    expect(texts(again, 'a')).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5'])
    expect(again.stats.journalRecords).toBe(6)
    await again.close()
  })

  it('keeps every job once after a crash between a full snapshot and the journal truncation', async () => {
    const file = storeFile()
    const store = await seeded(file, [job('a'), job('b'), job('c')])
    await store.update((d) => void d.jobs.a.comments.push(comment('a1')), ['a'])
    await store.update((d) => void d.jobs.b.comments.push(comment('b1')), ['b'])
    await failNext('truncate')
    // An update without `touched` changes a (journalled before) and adds n with an outbox task.
    const err = await failure(
      store.update((d) => {
        d.jobs.a.comments.push(comment('a2'))
        d.jobs.n = job('n')
        d.outbox.push({ kind: 'start', jobId: 'n', seq: d.nextSeq++, attempts: 0 })
      }),
    )
    expect((err as Error).message).toMatch(/EIO/)
    const state = structuredClone(store.data)
    await store.close()
    // The new snapshot is in place, and before it the journal got one record of what it changed.
    expect(readJson(file)).toEqual(state)
    const recs = records(file)
    expect(recs).toHaveLength(3)
    expect(Object.keys(recs[2].jobs).sort()).toEqual(['a', 'n'])
    expect(recs[2]).toMatchObject({ outbox: state.outbox, nextSeq: state.nextSeq })

    // Replaying the journal over the new snapshot changes nothing: no comment lost, none doubled,
    // the outbox task is there.
    const again = await openJobStore(file, silentLogger)
    expect(again.data).toEqual(state)
    expect(texts(again, 'a')).toEqual(['a1', 'a2'])
    await again.close()
  })

  it('replays full job states idempotently over a snapshot that already holds them (built by hand)', async () => {
    const file = storeFile()
    const a1 = job('a', { comments: [comment('c1')] })
    const a2 = job('a', { comments: [comment('c1'), comment('c2')] })
    const b = job('b')
    const task = { kind: 'start' as const, jobId: 'b', seq: 3, attempts: 0 }
    writeFileSync(file, JSON.stringify({ version: 1, jobs: { a: a2 }, outbox: [], nextSeq: 3 }))
    const line = (r: Rec) => JSON.stringify(r) + '\n'
    writeFileSync(
      journalOf(file),
      line({ jobs: { a: a1 }, outbox: [], nextSeq: 2 }) +
        line({ jobs: { a: a2 }, outbox: [], nextSeq: 3 }) +
        line({ jobs: { b }, outbox: [task], nextSeq: 4 }),
    )
    const store = await openJobStore(file, silentLogger)
    expect(store.data).toEqual({ version: 1, jobs: { a: a2, b }, outbox: [task], nextSeq: 4 })
    expect(store.stats.journalRecords).toBe(3)
    await store.close()
  })

  it('replays a journal without a snapshot (a fresh store whose updates all named their jobs)', async () => {
    const file = storeFile()
    const store = await openJobStore(file, silentLogger)
    await store.update((d) => void (d.jobs.a = job('a')), ['a'])
    expect(existsSync(file)).toBe(false)
    await store.close()
    const again = await openJobStore(file, silentLogger)
    expect(again.data.jobs).toEqual({ a: job('a') })
    await again.close()
  })
})
