import type { InfluxConfig } from '../config.ts'
import { messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'
import { InfluxError, isDatabaseNotFound } from './http.ts'
import { detectServer } from './server.ts'
import { openSpool, type Segment, type Spool } from './spool.ts'
import { createTransport, type InfluxTransport } from './transport.ts'
import { retryDelay } from '../backoff.ts'
import { startPump, type Pump, type StepResult } from '../pump.ts'

export { SpoolLockedError } from './spool.ts'

/** Counters for self-metrics and health checks. */
export interface WriterStats {
  /** Bytes of undelivered segments on disk. */
  spoolBytes: number
  spoolSegments: number
  /** Lines durable on disk and not yet acknowledged by InfluxDB. */
  pendingLines: number
  /** Lines acknowledged (2xx) since start. */
  deliveredLines: number
  /** Failed send attempts since start. */
  writeErrors: number
  /** Lines refused by `write()` because the spool was full. */
  droppedLines: number
  /** Lines in batches InfluxDB refused as bad data (see {@link failureVerdict}); their segments are in `rejected/`. */
  rejectedLines: number
  lastError?: string
  /** `X-Influxdb-Version` once known. */
  serverVersion?: string
}

/** Options of one {@link DurableWriter.write}. */
export interface WriteOptions {
  /**
   * Accept this write even when the spool is over `maxBytes`, provided it is at most
   * {@link ESSENTIAL_MAX_BYTES} (4 KiB) of line protocol. Meant for the collector's one self-metrics
   * line per cycle, so a collector with a full spool still reports its own health.
   */
  essential?: boolean
}

/** Largest write (bytes of line protocol, newlines included) accepted as `essential` over a full spool. */
export const ESSENTIAL_MAX_BYTES = 4096

export interface DurableWriter {
  /**
   * Makes the lines durable on disk (write + fsync + rename) and schedules delivery; resolves once
   * durable. Each entry must be one line (as `toLine()` makes).
   *
   * Refuses (does not throw) when the spool would exceed `maxBytes`: returns `{accepted: 0, dropped: n}`
   * and logs an error with the count and the spool size every time it refuses. An `essential` write
   * of at most {@link ESSENTIAL_MAX_BYTES} (4 KiB) is accepted even then, so the collector's
   * self-metrics line survives a full spool; such writes may take the spool past `maxBytes` by that
   * much per write.
   */
  write(lines: string[], opts?: WriteOptions): Promise<{ accepted: number; dropped: number }>
  /**
   * Delivers everything spooled now (skipping any backoff wait). Resolves when the spool is empty;
   * rejects with the error of the first failed attempt started after the call (not one already in
   * flight). Nothing is lost either way:
   * the writer keeps retrying in the background.
   */
  flush(): Promise<void>
  stats(): WriterStats
  /**
   * Stops retrying, tries one bounded final delivery; whatever is undelivered stays on disk for the
   * next start. Releases the spool's lock.
   */
  close(): Promise<void>
}

export interface DurableWriterOptions {
  influx: InfluxConfig
  /** Spool directory (created). One writer per directory: a second one throws `SpoolLockedError`. */
  dir: string
  /** Largest spool on disk before `write()` refuses lines. */
  maxBytes: number
  log: Logger
  /** Lines per POST @defaultValue 5000 */
  batchLines?: number
  /** First retry delay in ms @defaultValue 1000 */
  retryMinMs?: number
  /** Longest retry delay in ms @defaultValue 60000 */
  retryMaxMs?: number
  /** Injected transport (tests); otherwise the server is detected on first delivery. */
  transport?: InfluxTransport
  /** Per-request timeout in ms @defaultValue 10000 */
  timeoutMs?: number
  /** Time `close()` spends on its final delivery, in ms @defaultValue 5000 */
  closeTimeoutMs?: number
  /** Segment content kept in memory to avoid re-reading it, in bytes @defaultValue 64 MiB */
  cacheBytes?: number
}

/** What delivery does with a batch after a failed POST. */
export type FailureVerdict = 'retry' | 'split' | 'reject'

/**
 * The reject rule, for a batch of `lines` lines that reached InfluxDB and got an error:
 * - 400 or 422 (the data is malformed) → `reject`: the batch is not resent and its segment is moved
 *   to `rejected/` (the segment's other batches are still delivered);
 * - 413 (payload too large) → `split`: the batch is halved and resent, down to one line; a single
 *   line still answered 413 → `reject`;
 * - anything else (network errors, timeouts, 5xx, 429, 401, 403, 404, other 4xx) → `retry`: the data
 *   stays spooled and is resent after a backoff, forever.
 */
export function failureVerdict(err: unknown, lines: number): FailureVerdict {
  const status = err instanceof InfluxError ? err.status : undefined
  if (status === 400 || status === 422) return 'reject'
  if (status === 413) return lines > 1 ? 'split' : 'reject'
  return 'retry'
}

/** The result of one POST of a batch: `again` after creating the database, `retry` after a retriable failure. */
type SendOutcome = { kind: 'delivered' | 'again' } | { kind: 'split' | 'reject'; message: string } | { kind: 'retry'; askedMs: number }

interface Waiter {
  /** The last delivery attempt started before this waiter was added. */
  after: number
  resolve(): void
  reject(err: unknown): void
}

/** `flush()` callers waiting for an empty spool or the failure of an attempt started after they asked. */
class Waiters {
  private list: Waiter[] = []

  /** A waiter that only failures of attempts numbered above `after` reject. */
  add(after: number): Promise<void> {
    return new Promise<void>((resolve, reject) => this.list.push({ after, resolve, reject }))
  }

  /** Whether someone asked for a delivery while attempt `attempt` was in flight (it owes them one more, now). */
  askedDuring(attempt: number): boolean {
    return this.list.some((w) => w.after >= attempt)
  }

  /** Resolves everyone. */
  resolve(): void {
    const list = this.list
    this.list = []
    for (const w of list) w.resolve()
  }

  /**
   * Rejects those who asked before attempt `attempt` started (all of them when undefined). An
   * answer to an attempt already in flight when `flush()` was called says nothing about the
   * delivery that call asked for: rejecting it then made flush() fail just after InfluxDB recovered.
   */
  reject(err: unknown, attempt?: number): void {
    const keep: Waiter[] = []
    for (const w of this.list) {
      if (attempt === undefined || w.after < attempt) w.reject(err)
      else keep.push(w)
    }
    this.list = keep
  }
}

const errnoOf = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code

/**
 * The durable writer: every `write()` becomes one fsynced segment file in `dir`; a single background
 * loop delivers segments strictly in order, `batchLines` per POST, and deletes a segment only after
 * InfluxDB acknowledged all of it. Retriable failures are retried forever with jittered exponential
 * backoff; segments left on disk are replayed at the next start. Delivering a segment twice (a crash
 * after the POST, before the delete) is harmless: InfluxDB overwrites identical points. Which errors
 * reject data instead of retrying: {@link failureVerdict}. The spool directory is locked for this
 * writer until `close()` (`SpoolLockedError` while another live process or writer holds it).
 */
export async function createDurableWriter(opts: DurableWriterOptions): Promise<DurableWriter> {
  const spool = await openSpool(opts.dir)
  const w = new SpoolWriter(opts, spool)
  return {
    write: (lines, o) => w.write(lines, o),
    flush: () => w.flush(),
    stats: () => w.stats(),
    close: () => w.close(),
  }
}

class SpoolWriter implements DurableWriter {
  private readonly log: Logger
  private readonly batchLines: number
  private readonly retryMinMs: number
  private readonly retryMaxMs: number
  private readonly cacheBytes: number
  private readonly counters = { deliveredLines: 0, writeErrors: 0, droppedLines: 0, rejectedLines: 0 }
  private readonly waiters = new Waiters()
  private readonly pump: Pump
  private lastError?: string
  private transport?: InfluxTransport
  /** Lines of the head segment already acknowledged (or rejected), and the byte offset after them. */
  private headDelivered = 0
  private headPos = 0
  /** The head segment's content while it is delivered. */
  private headData?: { seg: Segment; data: Buffer }
  /** Lines per POST for the head segment (halved on 413). */
  private batchLimit: number
  /** InfluxDB's reasons for the head segment's refused batches. */
  private refusals: string[] = []
  /** No delivery attempt before this, epoch ms: the backoff after a failure. */
  private retryAt = 0
  /** Consecutive failed attempts. */
  private failures = 0
  /** A CREATE DATABASE was tried since the last delivery. */
  private ensured = false
  private full = false
  private outage = false
  private splitWarned = false
  private closing = false
  private closed = false
  /** The chain of `append()`s: one segment at a time. */
  private writes: Promise<unknown> = Promise.resolve()
  /** Delivery attempts started (POSTs and segment reads), numbering them for `flush()`. */
  private attempts = 0

  private readonly opts: DurableWriterOptions
  private readonly spool: Spool

  constructor(opts: DurableWriterOptions, spool: Spool) {
    this.opts = opts
    this.spool = spool
    this.log = opts.log
    this.batchLines = opts.batchLines ?? 5000
    this.retryMinMs = opts.retryMinMs ?? 1000
    this.retryMaxMs = Math.max(opts.retryMaxMs ?? 60_000, this.retryMinMs)
    this.cacheBytes = opts.cacheBytes ?? 64 * 2 ** 20
    this.transport = opts.transport
    this.batchLimit = this.batchLines
    if (spool.segments.length) {
      const lines = spool.segments.reduce((n, s) => n + s.lines, 0)
      this.log.info('Replaying spooled points', { segments: spool.segments.length, lines, bytes: spool.bytes })
    }
    this.pump = startPump({
      step: (signal) => this.step(signal),
      onError: (err) => this.log.error('InfluxDB delivery loop failed; retrying', { error: messageOf(err) }),
      errorDelayMs: this.retryMinMs,
    })
  }

  // ---- public API -------------------------------------------------------------------------------

  write(lines: string[], opts: WriteOptions = {}): Promise<{ accepted: number; dropped: number }> {
    if (this.closing) return Promise.reject(new Error('The InfluxDB writer is closed'))
    if (!lines.length) return Promise.resolve({ accepted: 0, dropped: 0 })
    // One segment at a time keeps sequence numbers, the size check and the queue in step.
    const result = this.writes.then(() => this.append(lines, opts.essential === true))
    this.writes = result.catch(() => {})
    return result
  }

  async flush(): Promise<void> {
    await this.writes
    if (!this.spool.segments.length) return
    if (this.closed) throw new Error(`The InfluxDB writer is closed with ${this.spool.segments.length} segments undelivered`)
    const done = this.waiters.add(this.attempts)
    this.retryAt = 0
    this.pump.kick()
    return done
  }

  stats(): WriterStats {
    // headDelivered counts lines of the segment being delivered, only while it is still the queue's head.
    const head = this.headData?.seg === this.spool.segments[0] ? this.headDelivered : 0
    const pending = this.spool.segments.reduce((n, s) => n + s.lines, 0) - head
    return {
      spoolBytes: this.spool.bytes,
      spoolSegments: this.spool.segments.length,
      pendingLines: Math.max(0, pending),
      ...this.counters,
      lastError: this.lastError,
      serverVersion: this.transport?.server.version,
    }
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    try {
      await this.writes
      if (this.spool.segments.length) {
        // One last try, without backoff: a retriable failure now ends it (step() sees `closing`).
        this.retryAt = 0
        this.pump.kick()
        let timer: NodeJS.Timeout | undefined
        const deadline = new Promise<void>((r) => (timer = setTimeout(r, this.opts.closeTimeoutMs ?? 5000)))
        await Promise.race([this.pump.idle(), deadline])
        clearTimeout(timer)
      }
      this.closed = true
      await this.pump.stop() // aborts a POST still in flight
      const left = this.spool.segments
      this.waiters.reject(new Error(`The InfluxDB writer closed with ${left.length} segments undelivered`))
      this.transport?.close?.()
      for (const seg of left) seg.data = undefined
      if (left.length)
        this.log.info('Undelivered points stay spooled for the next start', { segments: left.length, bytes: this.spool.bytes })
    } finally {
      await this.spool.close()
    }
  }

  // ---- spool queue: accepting writes ------------------------------------------------------------

  private async append(lines: string[], essential: boolean): Promise<{ accepted: number; dropped: number }> {
    const data = Buffer.from(lines.join('\n') + '\n')
    const { spool, log } = this
    const over = spool.bytes + data.length > this.opts.maxBytes
    if (over && !(essential && data.length <= ESSENTIAL_MAX_BYTES)) {
      this.counters.droppedLines += lines.length
      log.error('Spool full: points refused until InfluxDB catches up', {
        refused: lines.length,
        spoolBytes: spool.bytes,
        maxBytes: this.opts.maxBytes,
        dir: this.opts.dir,
      })
      this.full = true
      return { accepted: 0, dropped: lines.length }
    }
    if (this.full && !over) {
      log.info('Spool accepts points again', { spoolBytes: spool.bytes, maxBytes: this.opts.maxBytes })
      this.full = false
    }
    await spool.append(data, lines.length)
    this.trimCache()
    this.pump.kick()
    return { accepted: lines.length, dropped: 0 }
  }

  /** Keeps the content of the newest segments in memory, up to `cacheBytes`. */
  private trimCache(): void {
    let cached = 0
    for (let i = this.spool.segments.length - 1; i >= 0; i--) {
      const seg = this.spool.segments[i]
      if (!seg.data) continue
      cached += seg.data.length
      if (cached > this.cacheBytes) seg.data = undefined
    }
  }

  // ---- delivery: one batch per step ------------------------------------------------------------

  /**
   * Sends the head segment's next batch (segments strictly in order); removes the segment once all of
   * it is acknowledged, or moves it to `rejected/` when InfluxDB refused some of its batches.
   */
  private async step(signal?: AbortSignal): Promise<StepResult> {
    const { spool } = this
    if (!spool.segments.length) {
      this.waiters.resolve()
      return undefined
    }
    if (this.closed) return undefined
    if (Date.now() < this.retryAt) return this.retryAt
    const head = spool.segments[0]
    const attempt = ++this.attempts
    try {
      // Read once per segment (an uncached one is a file read), not once per batch.
      if (this.headData?.seg !== head) {
        const content = await this.readSegment(head)
        if (!content) return 'again'
        this.headData = { seg: head, data: content }
      }
      const { data } = this.headData
      if (this.headPos >= data.length) {
        // The spool drops the segment from its queue before it touches the file, so the head's
        // state goes with it first: a failing unlink or rename must not leave it pointing at the next one.
        const refusals = this.refusals
        this.headData = undefined
        this.headDelivered = this.headPos = 0
        this.refusals = []
        this.batchLimit = this.batchLines
        if (refusals.length) await spool.reject(head, refusals.join('\n'))
        else await spool.remove(head)
        return 'again'
      }
      const { end, lines } = nextLines(data, this.headPos, this.batchLimit)
      const outcome = await this.sendBatch(data.subarray(this.headPos, end), lines, attempt, signal)
      switch (outcome.kind) {
        case 'again':
          return 'again'
        case 'retry':
          return this.backOff(attempt, outcome.askedMs)
        case 'split': {
          this.batchLimit = Math.ceil(lines / 2)
          const fields = { segment: head.name, lines, retryWith: this.batchLimit, error: outcome.message }
          if (this.splitWarned) this.log.debug('InfluxDB refused a batch as too large; halving it', fields)
          else this.log.warn('InfluxDB refused a batch as too large (413); halving it', fields)
          this.splitWarned = true
          return 'again'
        }
        case 'reject':
          this.counters.rejectedLines += lines
          this.refusals.push(`lines ${this.headDelivered + 1}-${this.headDelivered + lines}: ${outcome.message}`)
          this.log.error('InfluxDB refused a batch; its segment goes to rejected/', { segment: head.name, lines, error: outcome.message })
          break
        case 'delivered':
          this.counters.deliveredLines += lines
          this.failures = 0
          break
      }
      this.headDelivered += lines
      this.headPos = end
      return 'again'
    } catch (err) {
      // A spool I/O error (unreadable segment, disk full, permissions): keep the data and the order, retry later.
      this.lastError = messageOf(err)
      this.log.error('Spool I/O error; the data stays spooled and is retried', { segment: head.name, error: this.lastError })
      this.waiters.reject(err, attempt)
      return this.backOff(attempt)
    }
  }

  /**
   * When to try again after failed attempt `attempt`: at once when a `flush()` asked meanwhile (it is
   * owed an attempt of its own), never while closing (the rest stays spooled), else after a backoff.
   */
  private backOff(attempt: number, askedMs = 0): StepResult {
    this.failures++
    if (this.closing) return undefined
    this.retryAt = this.waiters.askedDuring(attempt) ? 0 : Date.now() + retryDelay(this.failures, this.retryMinMs, this.retryMaxMs, askedMs)
    return this.retryAt || 'again'
  }

  /**
   * The head segment's content. A segment whose file is gone (ENOENT) is dropped from the queue
   * (undefined); any other read error throws, so the loop backs off and retries the same segment.
   */
  private async readSegment(seg: Segment): Promise<Buffer | undefined> {
    try {
      return await this.spool.read(seg)
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw new Error(`Cannot read spool segment ${seg.name}: ${messageOf(err)}`, { cause: err })
      this.log.error('Spool segment file vanished; skipped', { segment: seg.name, error: messageOf(err) })
      this.headDelivered = this.headPos = 0
      this.refusals = []
      await this.spool.remove(seg)
      return undefined
    }
  }

  // ---- sending and the retry policy -------------------------------------------------------------

  private async getTransport(): Promise<InfluxTransport> {
    if (this.transport) return this.transport
    const { influx, timeoutMs } = this.opts
    const server = await detectServer(influx, this.log, timeoutMs)
    const t = createTransport(influx, server, { timeoutMs })
    this.log.info('InfluxDB detected', { url: influx.url, version: server.version, api: server.api })
    // Saves the first write a 404; without admin rights the database must exist already.
    await t.ensureDatabase?.().catch((err) => this.log.debug('CREATE DATABASE failed', { error: messageOf(err) }))
    this.transport = t
    return t
  }

  /**
   * POSTs one batch once ({@link failureVerdict} says what a failure means for the data); a missing
   * database is created once between deliveries. `attempt` numbers the POST for `flush()`.
   */
  private async sendBatch(body: Buffer, lines: number, attempt: number, signal?: AbortSignal): Promise<SendOutcome> {
    let sent = false
    try {
      const t = await this.getTransport()
      sent = true
      await t.send(body, signal)
      if (this.outage) this.log.info('InfluxDB accepts writes again', { pendingSegments: this.spool.segments.length })
      this.outage = false
      this.ensured = false
      return { kind: 'delivered' }
    } catch (err) {
      this.counters.writeErrors++
      this.lastError = messageOf(err)
      if (isDatabaseNotFound(err) && !this.ensured && this.transport?.ensureDatabase) {
        this.ensured = true
        this.log.info('Creating the InfluxDB database', { database: this.opts.influx.bucket })
        try {
          await this.transport.ensureDatabase()
          return { kind: 'again' }
        } catch (e) {
          this.lastError = messageOf(e)
        }
      }
      // Only an answer to the POST itself says anything about the data (not one from server detection).
      const verdict = sent ? failureVerdict(err, lines) : 'retry'
      if (verdict !== 'retry') {
        const message = ((err instanceof InfluxError && err.body) || this.lastError).slice(0, 1000)
        return { kind: verdict, message }
      }
      this.waiters.reject(err, attempt)
      if (!this.closing) this.logRetry(err)
      this.outage = true
      return { kind: 'retry', askedMs: err instanceof InfluxError ? (err.retryAfterMs ?? 0) : 0 }
    }
  }

  /** One warning per outage; a configuration problem (401/403/404…) is an error. */
  private logRetry(err: unknown): void {
    const error = this.lastError
    if (this.outage) this.log.debug('InfluxDB write failed again', { error, failures: this.failures + 1 })
    else if (err instanceof InfluxError && !err.retriable) {
      // 401/403/404…: a configuration problem; the data is fine, so it waits for the fix.
      this.log.error('InfluxDB refused the write; check INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET', { error })
    } else this.log.warn('InfluxDB write failed; points stay spooled and are retried', { error })
  }
}

/** The byte offset after up to `n` more lines from `pos`, and how many lines that is. */
function nextLines(data: Buffer, pos: number, n: number): { end: number; lines: number } {
  let lines = 0
  while (lines < n && pos < data.length) {
    const nl = data.indexOf(10, pos)
    pos = nl < 0 ? data.length : nl + 1
    lines++
  }
  return { end: pos, lines }
}
