import { HttpError, InfluxDB, RequestTimedOutError } from '@influxdata/influxdb-client'
import type { InfluxConfig } from '../config.ts'
import { authHeader, createAgents, endpoint, errorOf, InfluxError, isRetriableStatus, request } from './http.ts'
import { ensureBuckets, ensureDatabase, type InfluxServer } from './server.ts'
import { retentionPolicyOf } from '../schema.ts'

/** Sends line protocol to one InfluxDB. No buffering and no retry: the durable writer owns both. */
export interface InfluxTransport {
  readonly server: InfluxServer
  /** One POST of newline-separated lines (`precision=ms`); rejects with an {@link InfluxError}. */
  send(lines: string | Uint8Array, signal?: AbortSignal): Promise<void>
  /** Creates the database on 1.x (after a 404 `database not found`); no-op on v2. */
  ensureDatabase?(): Promise<void>
  /** Releases keep-alive sockets. */
  close?(): void
}

export interface InfluxTransportOptions {
  /** Per-request timeout in milliseconds @defaultValue 10000 */
  timeoutMs?: number
}

/** Lines grouped by the retention policy their measurement is written to ('' for the default). */
export function byRetentionPolicy(lines: string): Map<string, string[]> {
  const groups = new Map<string, string[]>()
  for (const line of lines.split('\n')) {
    if (!line) continue
    // our measurement names need no escaping: the name ends at the first comma or space
    const end = line.search(/[, ]/)
    const rp = retentionPolicyOf(end < 0 ? line : line.slice(0, end)) ?? ''
    let g = groups.get(rp)
    if (!g) groups.set(rp, (g = []))
    g.push(line)
  }
  return groups
}

function createV1Transport(cfg: InfluxConfig, server: InfluxServer, timeoutMs: number): InfluxTransport {
  const agents = createAgents()
  const urlFor = (rp: string) => endpoint(cfg, '/write', { db: cfg.bucket, precision: 'ms', ...(rp ? { rp } : {}) })
  const headers = { ...authHeader(cfg.token, 'v1'), 'content-type': 'text/plain; charset=utf-8' }
  return {
    server,
    // One POST per retention policy; a batch sent again after a partial failure rewrites the same
    // points with the same values, which InfluxDB takes as no change. A refusal of one policy's points
    // (bad data: the segment will be set aside) does not keep the others from being sent first.
    async send(lines, signal) {
      const text = typeof lines === 'string' ? lines : Buffer.from(lines).toString('utf8')
      const groups = byRetentionPolicy(text)
      let refused: InfluxError | undefined
      for (const [rp, group] of groups) {
        const url = urlFor(rp)
        const body = groups.size === 1 ? text : group.join('\n')
        const res = await request(url, { method: 'POST', headers, body, timeoutMs, signal, agents })
        if (res.status < 300) continue
        const err = errorOf('POST', url, res)
        if (err.retriable) throw err
        refused ??= err
      }
      if (refused) throw refused
    },
    ensureDatabase: () => ensureDatabase(cfg, server, timeoutMs),
    close: () => agents.destroy(),
  }
}

function secondsToMs(v: unknown): number | undefined {
  const n = Number(v)
  return v !== undefined && Number.isFinite(n) && n >= 0 ? n * 1000 : undefined
}

function fromClientError(err: unknown, url: URL): InfluxError {
  if (err instanceof InfluxError) return err
  if (err instanceof HttpError) {
    const msg = (err.json as { message?: string } | undefined)?.message ?? err.body ?? ''
    return new InfluxError(`[POST] "${url.href}": ${err.statusCode} ${err.statusMessage ?? ''}${msg ? ': ' + msg : ''}`, {
      status: err.statusCode,
      body: msg,
      retriable: isRetriableStatus(err.statusCode),
      // Not err.retryAfter(): the client reads the header's seconds as milliseconds.
      retryAfterMs: secondsToMs(err.headers?.['retry-after']),
      cause: err,
    })
  }
  const what = err instanceof RequestTimedOutError ? 'timed out' : err instanceof Error ? err.message : String(err)
  return new InfluxError(`[POST] "${url.href}": ${what}`, { retriable: true, cause: err })
}

function createV2Transport(cfg: InfluxConfig, server: InfluxServer, timeoutMs: number): InfluxTransport {
  const agents = createAgents()
  const isHttps = new URL(cfg.url).protocol === 'https:'
  // Only the client's transport is used: its WriteApi would buffer and drop on its own terms.
  const client = new InfluxDB({
    url: cfg.url,
    token: cfg.token,
    timeout: timeoutMs,
    transportOptions: { agent: isHttps ? agents.https : agents.http },
  })
  // A measurement kept apart goes to the bucket `<bucket>/<policy>`: InfluxDB 2.x maps a bucket of that
  // name to the InfluxQL database and retention policy by itself, and 3.x names its database so.
  const target = (rp: string) => {
    const query = new URLSearchParams({
      ...(cfg.org ? { org: cfg.org } : {}),
      bucket: rp ? `${cfg.bucket}/${rp}` : cfg.bucket,
      precision: 'ms',
    })
    return { path: `/api/v2/write?${query}`, url: endpoint(cfg, '/api/v2/write', Object.fromEntries(query)) }
  }
  const options = { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' } }
  return {
    server,
    async send(lines, signal) {
      const text = typeof lines === 'string' ? lines : Buffer.from(lines.buffer, lines.byteOffset, lines.byteLength).toString('utf8')
      const groups = byRetentionPolicy(text)
      for (const [rp, group] of groups) {
        const { path, url } = target(rp)
        // The client's socket timeout does not end the request; this signal does.
        const timeout = AbortSignal.timeout(timeoutMs)
        const sig = signal ? AbortSignal.any([signal, timeout]) : timeout
        try {
          await client.transport.request(path, groups.size === 1 ? text : group.join('\n'), { ...options, signal: sig })
        } catch (err) {
          throw fromClientError(timeout.aborted ? new RequestTimedOutError() : err, url)
        }
      }
    },
    ensureDatabase: () => ensureBuckets(cfg, timeoutMs),
    close: () => agents.destroy(),
  }
}

/**
 * A transport for the detected server: v1 posts to `/write?db=<bucket>&precision=ms` itself; v2 posts
 * to `/api/v2/write?org=&bucket=&precision=ms` through @influxdata/influxdb-client's HTTP transport.
 */
export function createTransport(cfg: InfluxConfig, server: InfluxServer, opts: InfluxTransportOptions = {}): InfluxTransport {
  const timeoutMs = opts.timeoutMs ?? 10_000
  return server.api === 'v1' ? createV1Transport(cfg, server, timeoutMs) : createV2Transport(cfg, server, timeoutMs)
}
