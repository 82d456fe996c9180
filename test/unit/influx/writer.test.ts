import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Logger } from '../../../lib/log.ts'
import { createTransport } from '../../../lib/influx/transport.ts'
import { InfluxError } from '../../../lib/influx/http.ts'
import { createDurableWriter, failureVerdict, SpoolLockedError, type DurableWriterOptions } from '../../../lib/influx/writer.ts'
import { numberedLines, startFakeInflux, type FakeInflux } from '../../support/fake-influx.ts'
import { tempDir } from '../../support/tmp.ts'
import { capturedLog } from '../../support/log.ts'

let fake: FakeInflux
let logged: string[]
let log: Logger

beforeEach(async () => {
  fake = await startFakeInflux()
  ;({ lines: logged, log } = capturedLog())
})
afterEach(() => fake.close())

const influx = () => ({ url: fake.url, bucket: 'qa', queryLanguage: 'influxql' as const })
const segmentsIn = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.lp'))
const writer = (dir: string, over: Partial<DurableWriterOptions> = {}) =>
  createDurableWriter({ influx: influx(), dir, maxBytes: 2 ** 20, log, retryMinMs: 10, retryMaxMs: 40, ...over })
const allDelivered = (w: { stats(): { pendingLines: number } }) =>
  vi.waitFor(() => expect(w.stats().pendingLines).toBe(0), { timeout: 5000, interval: 10 })

describe('durable writer', () => {
  it('delivers every line in order, batchLines per POST, and empties the spool', async () => {
    const dir = tempDir()
    const w = await writer(dir, { batchLines: 3 })
    expect(await w.write(numberedLines(0, 5))).toEqual({ accepted: 5, dropped: 0 })
    await w.write(numberedLines(5, 5))
    await w.write(numberedLines(10, 5))
    await w.flush()
    expect(fake.accepted).toEqual(numberedLines(0, 15))
    const writes = fake.requests.filter((r) => r.path === '/write')
    expect(Math.max(...writes.map((r) => r.body.trim().split('\n').length))).toBe(3)
    expect(writes.every((r) => r.query.get('precision') === 'ms' && r.query.get('db') === 'qa')).toBe(true)
    expect(w.stats()).toMatchObject({
      spoolBytes: 0,
      spoolSegments: 0,
      pendingLines: 0,
      deliveredLines: 15,
      writeErrors: 0,
      serverVersion: '1.6.7~rc0',
    })
    expect(segmentsIn(dir)).toEqual([])
    await w.close()
  })

  it('is durable before write() resolves: the segment file holds the lines', async () => {
    fake.onWrite = () => ({ status: 503 })
    const dir = tempDir()
    const w = await writer(dir)
    await w.write(numberedLines(0, 3))
    const [seg] = segmentsIn(dir)
    expect(seg).toMatch(/^0{15}1-3\.lp$/)
    expect(readFileSync(join(dir, seg), 'utf8')).toBe(numberedLines(0, 3).join('\n') + '\n')
    expect(w.stats()).toMatchObject({ spoolSegments: 1, pendingLines: 3, spoolBytes: readFileSync(join(dir, seg)).length })
    await w.close()
  })

  it('retries 5xx with backoff, keeping order and losing nothing', async () => {
    fake.onWrite = (_, attempt) => (attempt <= 3 ? { status: 500, body: '{"error":"engine busy"}' } : { status: 204 })
    const w = await writer(tempDir(), { batchLines: 4 })
    await w.write(numberedLines(0, 6))
    await w.write(numberedLines(6, 6))
    await allDelivered(w)
    expect(fake.accepted).toEqual(numberedLines(0, 12))
    expect(w.stats()).toMatchObject({ writeErrors: 3, deliveredLines: 12, lastError: expect.stringContaining('engine busy') })
    expect(logged.filter((l) => l.includes('level=warn'))).toHaveLength(1)
    expect(logged.join('\n')).toMatch(/accepts writes again/)
    await w.close()
  })

  it('times out a hanging server and delivers on the next attempt', async () => {
    fake.onWrite = (_, attempt) => (attempt === 1 ? 'hang' : { status: 204 })
    const w = await writer(tempDir(), { timeoutMs: 200 })
    await w.write(numberedLines(0, 4))
    await allDelivered(w)
    expect(fake.accepted).toEqual(numberedLines(0, 4))
    expect(w.stats().lastError).toMatch(/timed out/)
    await w.close()
  })

  it('moves a segment InfluxDB refuses to rejected/ with the reason, and goes on', async () => {
    fake.onWrite = (req) =>
      req.body.includes('bad')
        ? { status: 400, body: `{"error":"partial write: unable to parse 'bad': missing fields dropped=0"}` }
        : { status: 204 }
    const dir = tempDir()
    const w = await writer(dir, { batchLines: 2 })
    await w.write(numberedLines(0, 2))
    await w.write(['bad', ...numberedLines(2, 3)])
    await w.write(numberedLines(5, 2))
    await w.flush()
    // The refused batch is lines 1-2 of the second segment; its lines 3-4 are still delivered.
    expect(fake.accepted).toEqual([...numberedLines(0, 2), ...numberedLines(3, 2), ...numberedLines(5, 2)])
    const rejected = readdirSync(join(dir, 'rejected')).sort()
    expect(rejected).toEqual(['0000000000000002-4.lp', '0000000000000002-4.lp.error.txt'])
    expect(readFileSync(join(dir, 'rejected', rejected[1]), 'utf8')).toMatch(/lines 1-2: partial write: unable to parse 'bad'/)
    expect(logged.join('\n')).toMatch(/level=error msg="InfluxDB refused a batch.*unable to parse/)
    expect(w.stats()).toMatchObject({ rejectedLines: 2, deliveredLines: 6, spoolSegments: 0 })
    await w.close()
  })

  it('refuses writes while the spool is full, logging an error with the count and spool size every time', async () => {
    fake.onWrite = () => ({ status: 503 })
    const line = numberedLines(0, 1)[0]
    const w = await writer(tempDir(), { maxBytes: (line.length + 1) * 3 })
    expect(await w.write(numberedLines(0, 2))).toEqual({ accepted: 2, dropped: 0 })
    expect(await w.write(numberedLines(2, 2))).toEqual({ accepted: 0, dropped: 2 })
    expect(await w.write(numberedLines(4, 3))).toEqual({ accepted: 0, dropped: 3 })
    expect(await w.write(numberedLines(7, 1))).toEqual({ accepted: 1, dropped: 0 })
    expect(w.stats().droppedLines).toBe(5)
    const full = logged.filter((l) => l.includes('Spool full'))
    expect(full).toHaveLength(2)
    const bytes = (line.length + 1) * 2
    expect(full[0]).toMatch(new RegExp(`level=error msg="Spool full[^"]*" refused=2 spoolBytes=${bytes} `))
    expect(full[1]).toMatch(new RegExp(`level=error msg="Spool full[^"]*" refused=3 spoolBytes=${bytes} `))
    fake.onWrite = () => ({ status: 204 })
    await w.flush()
    expect(await w.write(numberedLines(8, 2))).toEqual({ accepted: 2, dropped: 0 })
    await w.flush()
    expect(fake.accepted).toEqual([...numberedLines(0, 2), ...numberedLines(7, 3)])
    expect(logged.join('\n')).toMatch(/Spool accepts points again/)
    await w.close()
  })

  it('accepts an essential write of at most 4 KiB over a full spool (the self-metrics line), nothing else', async () => {
    fake.onWrite = () => ({ status: 503 })
    const w = await writer(tempDir(), { maxBytes: 50 })
    const padded = (bytes: number) => `qactivity_collector,cluster=c pad="${'x'.repeat(bytes - 38)}" 1`
    expect(padded(4096).length + 1).toBe(4097)
    expect(await w.write(numberedLines(0, 3))).toEqual({ accepted: 3, dropped: 0 })
    expect(await w.write(numberedLines(3, 3))).toEqual({ accepted: 0, dropped: 3 })
    expect(await w.write([padded(4095)], { essential: true })).toEqual({ accepted: 1, dropped: 0 })
    expect(await w.write([padded(4096)], { essential: true })).toEqual({ accepted: 0, dropped: 1 })
    expect(await w.write(numberedLines(6, 1), { essential: false })).toEqual({ accepted: 0, dropped: 1 })
    expect(w.stats()).toMatchObject({ droppedLines: 5, spoolSegments: 2, pendingLines: 4 })
    expect(logged.filter((l) => l.includes('level=error') && l.includes('Spool full'))).toHaveLength(3)
    expect(logged.join('\n')).not.toMatch(/Spool accepts points again/)
    fake.onWrite = () => ({ status: 204 })
    await w.flush()
    expect(fake.accepted).toEqual([...numberedLines(0, 3), padded(4095)])
    await w.close()
  })

  it('halves a batch InfluxDB answers 413 until it fits; only a single line still 413 is rejected', async () => {
    fake.onWrite = (req) => {
      const lines = req.body.split('\n').filter(Boolean)
      return lines.length > 3 || req.body.includes('huge') ? { status: 413, body: '{"error":"Request Entity Too Large"}' } : { status: 204 }
    }
    const dir = tempDir()
    const w = await writer(dir, { batchLines: 10 })
    const huge = 'm,k=huge seq=12i 12'
    await w.write(numberedLines(0, 10))
    await w.write([...numberedLines(10, 2), huge, ...numberedLines(13, 2)])
    await w.write(numberedLines(15, 10))
    await w.flush()
    expect(fake.accepted).toEqual([...numberedLines(0, 12), ...numberedLines(13, 12)])
    const rejected = readdirSync(join(dir, 'rejected')).sort()
    expect(rejected).toEqual(['0000000000000002-5.lp', '0000000000000002-5.lp.error.txt'])
    expect(readFileSync(join(dir, 'rejected', rejected[1]), 'utf8')).toBe('lines 3-3: Request Entity Too Large\n')
    // Each segment starts again at batchLines: 10 → 5 → 3 lines per POST.
    const sizes = fake.requests.filter((r) => r.path === '/write').map((r) => r.body.split('\n').filter(Boolean).length)
    expect(sizes.slice(0, 6)).toEqual([10, 5, 3, 3, 3, 1])
    expect(w.stats()).toMatchObject({ rejectedLines: 1, deliveredLines: 24, spoolSegments: 0 })
    expect(logged.filter((l) => l.includes('too large') && l.includes('level=warn'))).toHaveLength(1)
    expect(segmentsIn(dir)).toEqual([])
    await w.close()
  })

  it.each([400, 422])('moves a batch answered %i (malformed data) to rejected/ without retrying it', async (status) => {
    fake.onWrite = () => ({ status, body: '{"error":"bad line"}' })
    const dir = tempDir()
    const w = await writer(dir)
    await w.write(numberedLines(0, 3))
    await w.flush()
    expect(fake.requests.filter((r) => r.path === '/write')).toHaveLength(1)
    expect(readdirSync(join(dir, 'rejected'))).toHaveLength(2)
    expect(w.stats()).toMatchObject({ rejectedLines: 3, deliveredLines: 0, spoolSegments: 0 })
    await w.close()
  })

  it.each([401, 403, 404, 405, 408, 409, 429, 500, 502, 503])('keeps a batch answered %i spooled and retries it', async (status) => {
    fake.onWrite = (_, attempt) => (attempt <= 2 ? { status, body: '{"error":"not now"}' } : { status: 204 })
    const dir = tempDir()
    const w = await writer(dir)
    await w.write(numberedLines(0, 3))
    await allDelivered(w)
    expect(fake.accepted).toEqual(numberedLines(0, 3))
    expect(readdirSync(join(dir, 'rejected'))).toEqual([])
    expect(w.stats()).toMatchObject({ rejectedLines: 0, deliveredLines: 3, writeErrors: 2 })
    await w.close()
  })

  /** Two segments spooled by a closed writer, the first one replaced by a directory: reading it fails with EISDIR. */
  async function spoolWithUnreadableHead() {
    fake.onWrite = () => ({ status: 503 })
    const dir = tempDir()
    const a = await writer(dir, { closeTimeoutMs: 100 })
    await a.write(numberedLines(0, 2))
    await a.write(numberedLines(2, 2))
    await a.close()
    const head = join(dir, segmentsIn(dir).sort()[0])
    const content = readFileSync(head)
    rmSync(head)
    mkdirSync(head)
    fake.onWrite = () => ({ status: 204 })
    const w = await writer(dir)
    const readErrors = () => logged.filter((l) => l.includes('level=error') && l.includes('EISDIR'))
    await vi.waitFor(() => expect(readErrors().length).toBeGreaterThanOrEqual(2), { timeout: 5000, interval: 10 })
    return { dir, head, content, w }
  }

  it('never deletes a segment it cannot read: logs the error, backs off and retries it, keeping order', async () => {
    const { head, content, w } = await spoolWithUnreadableHead()
    expect(w.stats()).toMatchObject({ spoolSegments: 2, pendingLines: 4 })
    expect(fake.accepted).toEqual([])
    expect(statSync(head).isDirectory()).toBe(true)
    expect(logged.join('\n')).toMatch(
      /level=error msg="Spool I\/O error[^\n]*segment=0+1-2\.lp[^\n]*Cannot read spool segment 0+1-2\.lp: EISDIR/,
    )
    rmdirSync(head)
    writeFileSync(head, content)
    await w.flush()
    expect(fake.accepted).toEqual(numberedLines(0, 4))
    await w.close()
  })

  it('skips a segment whose file is gone (ENOENT) and delivers the next', async () => {
    const { head, w } = await spoolWithUnreadableHead()
    rmdirSync(head)
    await w.flush()
    expect(fake.accepted).toEqual(numberedLines(2, 2))
    expect(logged.join('\n')).toMatch(/level=error msg="Spool segment file vanished; skipped"/)
    await w.close()
  })

  it('keeps undelivered segments across a restart, deletes temp files and replays in order', async () => {
    fake.onWrite = () => ({ status: 503 })
    const dir = tempDir()
    const a = await writer(dir, { closeTimeoutMs: 200 })
    await a.write(numberedLines(0, 3))
    await a.write(numberedLines(3, 3))
    await a.close()
    expect(segmentsIn(dir)).toHaveLength(2)
    // What a kill -9 between write and rename leaves behind:
    writeFileSync(join(dir, '0000000000000003-2.lp.tmp'), 'm,k=a seq=99')
    fake.onWrite = () => ({ status: 204 })
    const b = await writer(dir)
    expect(existsSync(join(dir, '0000000000000003-2.lp.tmp'))).toBe(false)
    await b.write(numberedLines(6, 2))
    await b.flush()
    expect(fake.accepted).toEqual(numberedLines(0, 8))
    expect(segmentsIn(dir)).toEqual([])
    expect(logged.join('\n')).toMatch(/Replaying spooled points.*segments=2 lines=6/)
    await b.close()
  })

  it('creates the database after a 404 database not found, then delivers', async () => {
    let created = false
    fake.onQuery = (req) => {
      created ||= req.query.get('q') === 'CREATE DATABASE "qa"'
      return { status: 200, body: '{"results":[{"statement_id":0}]}' }
    }
    fake.onWrite = () => (created ? { status: 204 } : { status: 404, body: '{"error":"database not found: \\"qa\\""}' })
    const transport = createTransport(influx(), { version: '1.6.7', api: 'v1' })
    const w = await writer(tempDir(), { transport })
    await w.write(numberedLines(0, 2))
    await w.flush()
    expect(created).toBe(true)
    expect(fake.accepted).toEqual(numberedLines(0, 2))
    await w.close()
  })

  it('rejects flush() while InfluxDB is down, keeping the data spooled', async () => {
    fake.onWrite = () => ({ status: 503, body: '{"error":"down"}' })
    const dir = tempDir()
    const w = await writer(dir)
    await w.write(numberedLines(0, 2))
    await expect(w.flush()).rejects.toThrow(/503/)
    expect(segmentsIn(dir)).toHaveLength(1)
    fake.onWrite = () => ({ status: 204 })
    await w.flush()
    expect(fake.accepted).toEqual(numberedLines(0, 2))
    await w.close()
  })

  it('does not reject flush() with the failure of an attempt already in flight when it was called, and skips the backoff', async () => {
    let answer!: (r: { status: number }) => void
    const arrived = new Promise<void>((resolve) => {
      fake.onWrite = () => {
        resolve()
        return new Promise((r) => (answer = r))
      }
    })
    // A backoff far beyond the test timeout: only flush() skipping it lets the retry happen.
    const w = await writer(tempDir(), { retryMinMs: 600_000, retryMaxMs: 600_000 })
    await w.write(numberedLines(0, 2))
    await arrived
    fake.onWrite = () => ({ status: 204 })
    const flushed = w.flush()
    // The 503 reaches the writer only through a socket, after flush() has registered itself.
    await new Promise(setImmediate)
    answer({ status: 503 })
    await flushed
    expect(fake.accepted).toEqual(numberedLines(0, 2))
    expect(w.stats()).toMatchObject({ writeErrors: 1, deliveredLines: 2 })
    await w.close()
  })

  it('bounds close() when the server hangs and leaves the data for the next start', async () => {
    fake.onWrite = () => 'hang'
    const dir = tempDir()
    // The request would wait 10 min, far beyond the test's timeout: close() returning proves its bound.
    const w = await writer(dir, { closeTimeoutMs: 300, timeoutMs: 600_000 })
    await w.write(numberedLines(0, 2))
    await w.close()
    expect(segmentsIn(dir)).toHaveLength(1)
    await expect(w.write(numberedLines(2, 1))).rejects.toThrow(/closed/)
  })

  it('survives kill -9 at any moment: every segment left behind replays whole', async () => {
    const dir = tempDir()
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('../../support/spool-child.ts', import.meta.url).pathname, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let durable = 0
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        durable = Number(/durable (\d+)\n$/.exec(d.toString())?.[1] ?? durable)
        if (durable > 20_000) resolve()
      })
      void closed.then(resolve)
    })
    // While the child lives, its spool is locked.
    const locked: unknown = await writer(dir).catch((e: unknown) => e)
    expect(locked).toBeInstanceOf(SpoolLockedError)
    expect(locked).toMatchObject({ pid: child.pid, dir, message: `spool ${dir} is in use by process ${child.pid}` })
    child.kill('SIGKILL')
    await closed
    // Its lock is now stale and taken over.
    const w = await writer(dir, { batchLines: 5000 })
    await w.flush()
    expect(durable).toBeGreaterThan(20_000)
    const seqs = fake.accepted.map((l) => Number(/seq=(\d+)i/.exec(l)![1]))
    expect(seqs.length).toBeGreaterThanOrEqual(durable)
    expect(seqs).toEqual(seqs.map((_, i) => i))
    expect(
      readdirSync(dir)
        .filter((f) => f !== 'rejected')
        .sort(),
    ).toEqual(['.lock'])
    await w.close()
    expect(readdirSync(dir)).toEqual(['rejected'])
  })
})

describe('failureVerdict (the reject rule)', () => {
  const answered = (status: number) => new InfluxError(`${status}`, { status, retriable: status >= 500 || status === 429 })

  it('rejects 400 and 422, splits 413 down to one line, then rejects it', () => {
    expect(failureVerdict(answered(400), 5000)).toBe('reject')
    expect(failureVerdict(answered(422), 1)).toBe('reject')
    expect(failureVerdict(answered(413), 2)).toBe('split')
    expect(failureVerdict(answered(413), 1)).toBe('reject')
  })

  it('retries everything else: auth, not found, other 4xx, 429, 5xx, network errors', () => {
    for (const status of [401, 403, 404, 405, 408, 409, 429, 500, 503])
      expect(failureVerdict(answered(status), 10), `${status}`).toBe('retry')
    expect(failureVerdict(new InfluxError('ECONNREFUSED', { retriable: true }), 10)).toBe('retry')
    expect(failureVerdict(new Error('boom'), 10)).toBe('retry')
  })
})
