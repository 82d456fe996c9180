import type { InfluxConfig } from '../config.ts'
import { messageOf } from '../errors.ts'
import type { Logger } from '../log.ts'
import { InfluxError, isDatabaseNotFound } from './http.ts'
import { detectServer } from './server.ts'
import { openSpool, type Segment } from './spool.ts'
import { createTransport, type Transport } from './transport.ts'

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
  /** Lines in batches InfluxDB refused as bad data (4xx); their segments are in `rejected/`. */
  rejectedLines: number
  lastError?: string
  /** `X-Influxdb-Version` once known. */
  serverVersion?: string
}

export interface DurableWriter {
  /**
   * Makes the lines durable on disk (write + fsync + rename) and schedules delivery; resolves once
   * durable. Each entry must be one line (as `toLine()` makes). Refuses (does not throw) when the spool
   * would exceed `maxBytes`: returns `{accepted: 0, dropped: n}` and warns once per full episode.
   */
  write(lines: string[]): Promise<{ accepted: number; dropped: number }>
  /**
   * Delivers everything spooled now (skipping any backoff wait). Resolves when the spool is empty;
   * rejects with the error of the first failed attempt after the call. Nothing is lost either way:
   * the writer keeps retrying in the background.
   */
  flush(): Promise<void>
  stats(): WriterStats
  /** Stops retrying, tries one bounded final delivery; whatever is undelivered stays on disk for the next start. */
  close(): Promise<void>
}

export interface DurableWriterOptions {
  influx: InfluxConfig
  /** Spool directory (created). */
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
  transport?: Transport
  /** Per-request timeout in ms @defaultValue 10000 */
  timeoutMs?: number
  /** Time `close()` spends on its final delivery, in ms @defaultValue 5000 */
  closeTimeoutMs?: number
  /** Segment content kept in memory to avoid re-reading it, in bytes @defaultValue 64 MiB */
  cacheBytes?: number
}

/** 4xx answers about the data itself: retrying the same bytes cannot succeed. */
const DATA_REJECTED = new Set([400, 413, 422])

interface Waiter {
  resolve(): void
  reject(err: unknown): void
}

/**
 * The durable writer: every `write()` becomes one fsynced segment file in `dir`; a single background
 * loop delivers segments strictly in order, `batchLines` per POST, and deletes a segment only after
 * InfluxDB acknowledged all of it. Retriable failures are retried forever with jittered exponential
 * backoff; segments left on disk are replayed at the next start. Delivering a segment twice (a crash
 * after the POST, before the delete) is harmless: InfluxDB overwrites identical points.
 */
export async function createDurableWriter(opts: DurableWriterOptions): Promise<DurableWriter> {
  const { log, maxBytes } = opts
  const batchLines = opts.batchLines ?? 5000
  const retryMinMs = opts.retryMinMs ?? 1000
  const retryMaxMs = Math.max(opts.retryMaxMs ?? 60_000, retryMinMs)
  const cacheBytes = opts.cacheBytes ?? 64 * 2 ** 20
  const spool = await openSpool(opts.dir)

  const counters = { deliveredLines: 0, writeErrors: 0, droppedLines: 0, rejectedLines: 0 }
  let lastError: string | undefined
  let transport = opts.transport
  let headDelivered = 0 // lines of the head segment already acknowledged
  let full = false
  let outage = false
  let closing = false
  let closed = false
  let pumping: Promise<void> | undefined
  let writes: Promise<unknown> = Promise.resolve()
  let wake: (() => void) | undefined
  let inflight: AbortController | undefined
  let waiters: Waiter[] = []

  if (spool.segments.length) {
    const lines = spool.segments.reduce((n, s) => n + s.lines, 0)
    log.info('Replaying spooled points', { segments: spool.segments.length, lines, bytes: spool.bytes })
  }

  const settleWaiters = (err?: unknown) => {
    const list = waiters
    waiters = []
    for (const w of list) err === undefined ? w.resolve() : w.reject(err)
  }

  const backoff = (attempt: number, err: unknown) => {
    const base = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(attempt - 1, 30))
    const asked = err instanceof InfluxError ? (err.retryAfterMs ?? 0) : 0
    return Math.min(retryMaxMs, Math.max(asked, base / 2 + (Math.random() * base) / 2))
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      timer.unref()
      function done() {
        clearTimeout(timer)
        wake = undefined
        resolve()
      }
      wake = done
    })

  async function getTransport(): Promise<Transport> {
    if (transport) return transport
    const server = await detectServer(opts.influx, log, opts.timeoutMs)
    const t = createTransport(opts.influx, server, { timeoutMs: opts.timeoutMs })
    log.info('InfluxDB detected', { url: opts.influx.url, version: server.version, api: server.api })
    // Saves the first write a 404; without admin rights the database must exist already.
    await t.ensureDatabase?.().catch((err) => log.debug('CREATE DATABASE failed', { error: messageOf(err) }))
    transport = t
    return t
  }

  /** Sends one chunk until acknowledged. Returns the server's message when it refused the data, false when closing. */
  async function sendChunk(chunk: Buffer): Promise<true | string | false> {
    let ensured = false
    for (let attempt = 1; ; attempt++) {
      let sent = false
      try {
        const t = await getTransport()
        inflight = new AbortController()
        sent = true
        await t.send(chunk, inflight.signal)
        if (outage) log.info('InfluxDB accepts writes again', { pendingSegments: spool.segments.length })
        outage = false
        return true
      } catch (err) {
        counters.writeErrors++
        lastError = messageOf(err)
        if (isDatabaseNotFound(err) && !ensured && transport?.ensureDatabase) {
          ensured = true
          log.info('Creating the InfluxDB database', { database: opts.influx.bucket })
          try {
            await transport.ensureDatabase()
            continue
          } catch (e) {
            lastError = messageOf(e)
          }
        }
        if (sent && err instanceof InfluxError && err.status && DATA_REJECTED.has(err.status)) {
          return (err.body || lastError).slice(0, 1000)
        }
        settleWaiters(err)
        if (closing) return false
        if (outage) log.debug('InfluxDB write failed again', { error: lastError, attempt })
        else if (err instanceof InfluxError && !err.retriable) {
          // 401/403/404…: a configuration problem; the data is fine, so it waits for the fix.
          log.error('InfluxDB refused the write; check INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET', { error: lastError })
        } else log.warn('InfluxDB write failed; points stay spooled and are retried', { error: lastError })
        outage = true
        await sleep(backoff(attempt, err))
        if (closed) return false
      } finally {
        inflight = undefined
      }
    }
  }

  /** Delivers the head segment; false when delivery stopped (closing). */
  async function deliver(seg: Segment): Promise<boolean> {
    let data: Buffer
    try {
      data = await spool.read(seg)
    } catch (err) {
      log.error('Spool segment unreadable; skipped', { segment: seg.name, error: messageOf(err) })
      await spool.remove(seg)
      return true
    }
    const refusals: string[] = []
    let pos = nextLines(data, 0, headDelivered).end
    while (pos < data.length) {
      const { end, lines } = nextLines(data, pos, batchLines)
      const outcome = await sendChunk(data.subarray(pos, end))
      if (outcome === false) return false
      if (outcome === true) counters.deliveredLines += lines
      else {
        counters.rejectedLines += lines
        refusals.push(`lines ${headDelivered + 1}-${headDelivered + lines}: ${outcome}`)
        log.error('InfluxDB refused a batch; its segment goes to rejected/', { segment: seg.name, lines, error: outcome })
      }
      headDelivered += lines
      pos = end
    }
    headDelivered = 0
    if (refusals.length) await spool.reject(seg, refusals.join('\n'))
    else await spool.remove(seg)
    return true
  }

  async function pumpLoop(): Promise<void> {
    while (spool.segments.length && !closed) {
      try {
        if (!(await deliver(spool.segments[0]))) return
      } catch (err) {
        // A spool I/O error (disk full, permissions): keep the data, try again later.
        lastError = messageOf(err)
        log.error('Spool delivery error', { error: lastError })
        settleWaiters(err)
        if (closing) return
        await sleep(retryMaxMs)
      }
    }
    if (!spool.segments.length) settleWaiters()
  }

  const pump = (): Promise<void> => {
    pumping ??= pumpLoop().finally(() => {
      pumping = undefined
      if (!closing && spool.segments.length) void pump()
    })
    return pumping
  }

  const trimCache = () => {
    let cached = 0
    for (let i = spool.segments.length - 1; i >= 0; i--) {
      const seg = spool.segments[i]
      if (!seg.data) continue
      cached += seg.data.length
      if (cached > cacheBytes) seg.data = undefined
    }
  }

  async function append(lines: string[]): Promise<{ accepted: number; dropped: number }> {
    const data = Buffer.from(lines.join('\n') + '\n')
    if (spool.bytes + data.length > maxBytes) {
      counters.droppedLines += lines.length
      if (!full) log.warn('Spool full: refusing new points until InfluxDB catches up', { spoolBytes: spool.bytes, maxBytes, dir: opts.dir })
      full = true
      return { accepted: 0, dropped: lines.length }
    }
    if (full) log.info('Spool accepts points again', { spoolBytes: spool.bytes, maxBytes })
    full = false
    await spool.append(data, lines.length)
    trimCache()
    void pump()
    return { accepted: lines.length, dropped: 0 }
  }

  if (spool.segments.length) void pump()

  return {
    write(lines) {
      if (closing) return Promise.reject(new Error('The InfluxDB writer is closed'))
      if (!lines.length) return Promise.resolve({ accepted: 0, dropped: 0 })
      // One segment at a time keeps sequence numbers, the size check and the queue in step.
      const result = writes.then(() => append(lines))
      writes = result.catch(() => {})
      return result
    },

    async flush() {
      await writes
      if (!spool.segments.length) return
      if (closed) throw new Error(`The InfluxDB writer is closed with ${spool.segments.length} segments undelivered`)
      const done = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }))
      wake?.()
      void pump()
      return done
    },

    stats() {
      const pending = spool.segments.reduce((n, s) => n + s.lines, 0) - headDelivered
      return {
        spoolBytes: spool.bytes,
        spoolSegments: spool.segments.length,
        pendingLines: Math.max(0, pending),
        ...counters,
        lastError,
        serverVersion: transport?.server.version,
      }
    },

    async close() {
      if (closing) return
      closing = true
      await writes
      wake?.()
      if (spool.segments.length) {
        let timer: NodeJS.Timeout | undefined
        const deadline = new Promise<void>((r) => (timer = setTimeout(r, opts.closeTimeoutMs ?? 5000)))
        await Promise.race([pump(), deadline])
        clearTimeout(timer)
      }
      closed = true
      inflight?.abort()
      wake?.()
      await pumping
      settleWaiters(new Error(`The InfluxDB writer closed with ${spool.segments.length} segments undelivered`))
      transport?.close?.()
      for (const seg of spool.segments) seg.data = undefined
      if (spool.segments.length) log.info('Undelivered points stay spooled for the next start', { segments: spool.segments.length, bytes: spool.bytes })
    },
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
