import type { InfluxConfig } from '../config.ts'
import { messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'
import { InfluxError, isDatabaseNotFound } from './http.ts'
import { detectServer } from './server.ts'
import { openSpool, type Segment, type Spool } from './spool.ts'
import { createTransport, type InfluxTransport } from './transport.ts'
import { retryDelay } from '../backoff.ts'

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

/** The result of sending one batch. */
type SendOutcome = { kind: 'delivered' } | { kind: 'split' | 'reject'; message: string } | { kind: 'stopped' }

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

/** A sleep (unref'd timer) that `wake()` ends early, or skips when it comes before the sleep. */
class Sleeper {
  private wakeUp?: () => void
  private woken = false

  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wakeUp = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      this.wakeUp = done
    })
  }

  wake(): void {
    if (this.wakeUp) this.wakeUp()
    else this.woken = true
  }

  /** Forgets a wake that no sleep used (the delivery it asked for happened). */
  settle(): void {
    this.woken = false
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
  private readonly sleeper = new Sleeper()
  private lastError?: string
  private transport?: InfluxTransport
  /** Lines of the head segment already acknowledged (or rejected). */
  private headDelivered = 0
  private full = false
  private outage = false
  private splitWarned = false
  private closing = false
  private closed = false
  private pumping?: Promise<void>
  /** The chain of `append()`s: one segment at a time. */
  private writes: Promise<unknown> = Promise.resolve()
  private inflight?: AbortController
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
    if (spool.segments.length) {
      const lines = spool.segments.reduce((n, s) => n + s.lines, 0)
      this.log.info('Replaying spooled points', { segments: spool.segments.length, lines, bytes: spool.bytes })
      void this.pump()
    }
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
    this.sleeper.wake()
    void this.pump()
    return done
  }

  stats(): WriterStats {
    const pending = this.spool.segments.reduce((n, s) => n + s.lines, 0) - this.headDelivered
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
      this.sleeper.wake()
      if (this.spool.segments.length) {
        let timer: NodeJS.Timeout | undefined
        const deadline = new Promise<void>((r) => (timer = setTimeout(r, this.opts.closeTimeoutMs ?? 5000)))
        await Promise.race([this.pump(), deadline])
        clearTimeout(timer)
      }
      this.closed = true
      this.inflight?.abort()
      this.sleeper.wake()
      await this.pumping
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
    void this.pump()
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

  // ---- delivery loop ----------------------------------------------------------------------------

  /** Starts the delivery loop unless it runs; restarts it while segments remain (and not closing). */
  private pump(): Promise<void> {
    this.pumping ??= this.pumpLoop().finally(() => {
      this.pumping = undefined
      if (!this.closing && this.spool.segments.length) void this.pump()
    })
    return this.pumping
  }

  /** Delivers head segments until the spool is empty or the writer closes. */
  private async pumpLoop(): Promise<void> {
    const { spool } = this
    let failures = 0
    while (spool.segments.length && !this.closed) {
      const head = spool.segments[0]
      const attempt = ++this.attempts
      try {
        if (!(await this.deliverSegment(head))) return
        failures = 0
      } catch (err) {
        // A spool I/O error (unreadable segment, disk full, permissions): keep the data and the order, retry later.
        this.lastError = messageOf(err)
        this.log.error('Spool I/O error; the data stays spooled and is retried', { segment: head.name, error: this.lastError })
        this.waiters.reject(err, attempt)
        if (this.closing) return
        await this.sleeper.sleep(retryDelay(++failures, this.retryMinMs, this.retryMaxMs))
      }
    }
    if (!spool.segments.length) this.waiters.resolve()
  }

  /** Delivers the head segment, halving batches on 413; false when delivery stopped (closing). */
  private async deliverSegment(seg: Segment): Promise<boolean> {
    const data = await this.readSegment(seg)
    if (!data) return true
    const refusals: string[] = []
    let limit = this.batchLines
    let pos = nextLines(data, 0, this.headDelivered).end
    while (pos < data.length) {
      const { end, lines } = nextLines(data, pos, limit)
      const outcome = await this.sendBatch(data.subarray(pos, end), lines)
      if (outcome.kind === 'stopped') return false
      if (outcome.kind === 'split') {
        limit = Math.ceil(lines / 2)
        const fields = { segment: seg.name, lines, retryWith: limit, error: outcome.message }
        if (this.splitWarned) this.log.debug('InfluxDB refused a batch as too large; halving it', fields)
        else this.log.warn('InfluxDB refused a batch as too large (413); halving it', fields)
        this.splitWarned = true
        continue
      }
      if (outcome.kind === 'delivered') this.counters.deliveredLines += lines
      else {
        this.counters.rejectedLines += lines
        refusals.push(`lines ${this.headDelivered + 1}-${this.headDelivered + lines}: ${outcome.message}`)
        this.log.error('InfluxDB refused a batch; its segment goes to rejected/', { segment: seg.name, lines, error: outcome.message })
      }
      this.headDelivered += lines
      pos = end
    }
    this.headDelivered = 0
    if (refusals.length) await this.spool.reject(seg, refusals.join('\n'))
    else await this.spool.remove(seg)
    return true
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
      this.headDelivered = 0
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
   * POSTs one batch until InfluxDB acknowledges it or refuses the data itself ({@link failureVerdict});
   * retriable failures back off and repeat. `stopped` when the writer closes meanwhile.
   */
  private async sendBatch(body: Buffer, lines: number): Promise<SendOutcome> {
    let ensured = false
    for (let attempt = 1; ; attempt++) {
      const started = ++this.attempts
      let sent = false
      try {
        const t = await this.getTransport()
        this.inflight = new AbortController()
        sent = true
        await t.send(body, this.inflight.signal)
        if (this.outage) this.log.info('InfluxDB accepts writes again', { pendingSegments: this.spool.segments.length })
        this.outage = false
        this.sleeper.settle()
        return { kind: 'delivered' }
      } catch (err) {
        this.counters.writeErrors++
        this.lastError = messageOf(err)
        if (isDatabaseNotFound(err) && !ensured && this.transport?.ensureDatabase) {
          ensured = true
          this.log.info('Creating the InfluxDB database', { database: this.opts.influx.bucket })
          try {
            await this.transport.ensureDatabase()
            continue
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
        this.waiters.reject(err, started)
        if (this.closing) return { kind: 'stopped' }
        this.logRetry(err, attempt)
        this.outage = true
        const asked = err instanceof InfluxError ? (err.retryAfterMs ?? 0) : 0
        await this.sleeper.sleep(retryDelay(attempt, this.retryMinMs, this.retryMaxMs, asked))
        if (this.closed) return { kind: 'stopped' }
      } finally {
        this.inflight = undefined
      }
    }
  }

  /** One warning per outage; a configuration problem (401/403/404…) is an error. */
  private logRetry(err: unknown, attempt: number): void {
    const error = this.lastError
    if (this.outage) this.log.debug('InfluxDB write failed again', { error, attempt })
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
