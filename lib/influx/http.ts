import http from 'node:http'
import https from 'node:https'
import type { InfluxConfig } from '../config.ts'
import { redact } from '../errors.ts'

/** A failed InfluxDB call: `[POST] "http://influx:8086/write?db=q&precision=s": 400 Bad Request: partial write: …`. */
export class InfluxError extends Error {
  /** HTTP status; absent for network errors and timeouts. */
  readonly status?: number
  /** The server's error message (JSON `error` member, `X-Influxdb-Error` header or body text). */
  readonly body?: string
  /** True for network errors, timeouts, 5xx and 429: the same request may succeed later. */
  readonly retriable: boolean
  /** Milliseconds the server asked us to wait (`Retry-After`), if it did. */
  readonly retryAfterMs?: number

  constructor(message: string, opts: { status?: number; body?: string; retriable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(redact(message), { cause: opts.cause })
    this.name = 'InfluxError'
    this.status = opts.status
    this.body = opts.body
    this.retriable = opts.retriable
    this.retryAfterMs = opts.retryAfterMs
  }
}

/** True when a status is worth retrying unchanged. */
export const isRetriableStatus = (status: number): boolean => status >= 500 || status === 429

/**
 * InfluxDB 1.x answers a write to a missing database with 404 `database not found`, and one to a
 * missing retention policy with 500 `retention policy not found`, 2.x one to a missing bucket of ours
 * with 404 `bucket "…/qactivity_raw" not found`: each is made, then the write retried.
 */
export function isDatabaseNotFound(err: unknown): boolean {
  return (
    err instanceof InfluxError &&
    ((err.status === 404 && /database not found/i.test(err.body ?? '')) ||
      (err.status === 500 && /retention policy not found/i.test(err.body ?? '')) ||
      (err.status === 404 && /bucket "[^"]*\/qactivity_[a-z]+" not found/i.test(err.body ?? '')) ||
      // InfluxQL answers 200 with the error in its results: nothing written yet
      (err.status === undefined && /^(database|retention policy) not found/i.test(err.body ?? '')))
  )
}

/** The server's own words from an error response. */
export function serverMessage(headers: http.IncomingHttpHeaders, body: string): string {
  try {
    const json = JSON.parse(body) as { error?: unknown; message?: unknown }
    const msg = json.error ?? json.message
    if (typeof msg === 'string') return msg
  } catch {
    // not JSON
  }
  const header = headers['x-influxdb-error']
  return (body.trim() || (typeof header === 'string' ? header : '')).slice(0, 2000)
}

/** `Authorization` for the API flavour: v1 with `user:password` → Basic, any other token → `Token`. */
export function authHeader(token: string | undefined, api: 'v1' | 'v2'): Record<string, string> {
  if (!token) return {}
  if (api === 'v1' && token.includes(':')) {
    return { authorization: 'Basic ' + Buffer.from(token).toString('base64') }
  }
  return { authorization: 'Token ' + token }
}

/** A base URL plus an API path and query, keeping any path prefix of the configured URL (reverse proxies). */
export function endpoint(cfg: InfluxConfig, path: string, query: Record<string, string | undefined> = {}): URL {
  const url = new URL(cfg.url)
  url.pathname = url.pathname.replace(/\/+$/, '') + path
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v)
  return url
}

/** Keep-alive agents, one pair per owner so `destroy()` releases exactly its sockets. */
export function createAgents(): { http: http.Agent; https: https.Agent; destroy(): void } {
  const a = new http.Agent({ keepAlive: true, maxSockets: 4 })
  const b = new https.Agent({ keepAlive: true, maxSockets: 4 })
  return { http: a, https: b, destroy: () => (a.destroy(), b.destroy()) }
}

const shared = createAgents()

export interface HttpRequest {
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string | Uint8Array
  /** @defaultValue 10000 */
  timeoutMs?: number
  signal?: AbortSignal
  agents?: { http: http.Agent; https: https.Agent }
}

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

function retryAfter(headers: http.IncomingHttpHeaders): number | undefined {
  const v = Number(headers['retry-after'])
  return Number.isFinite(v) && v >= 0 ? v * 1000 : undefined
}

/** Turns a non-2xx response into an {@link InfluxError}. */
export function errorOf(method: string, url: URL, res: HttpResponse): InfluxError {
  const msg = serverMessage(res.headers, res.body)
  const text = `${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trim()
  return new InfluxError(`[${method}] "${url.href}": ${text}${msg ? ': ' + msg : ''}`, {
    status: res.status,
    body: msg,
    retriable: isRetriableStatus(res.status),
    retryAfterMs: retryAfter(res.headers),
  })
}

/**
 * One HTTP exchange over keep-alive sockets. Resolves with any status (callers decide); network errors,
 * timeouts and aborts reject with a retriable {@link InfluxError}.
 */
export async function request(url: URL, req: HttpRequest): Promise<HttpResponse> {
  try {
    return await exchange(url, req)
  } catch (err) {
    // A kept-alive socket the server closed meanwhile (e.g. it restarted) fails on first use; every
    // call we make is idempotent, so it is repeated once on a fresh socket.
    if (err instanceof StaleSocketError) return exchange(url, req)
    throw err
  }
}

class StaleSocketError extends InfluxError {}

function exchange(url: URL, req: HttpRequest): Promise<HttpResponse> {
  const timeoutMs = req.timeoutMs ?? 10_000
  const agents = req.agents ?? shared
  const lib = url.protocol === 'https:' ? https : http
  const fail = (what: string, cause?: unknown) => new InfluxError(`[${req.method}] "${url.href}": ${what}`, { retriable: true, cause })
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers }
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body)
    const r = lib.request(url, {
      method: req.method,
      headers,
      agent: url.protocol === 'https:' ? agents.https : agents.http,
      signal: req.signal,
    })
    const timer = setTimeout(() => r.destroy(fail(`timed out after ${timeoutMs} ms`)), timeoutMs)
    r.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      if (err instanceof InfluxError) return reject(err)
      const what = err.name === 'AbortError' ? 'aborted' : err.message
      const stale = r.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')
      reject(stale ? new StaleSocketError(what, { retriable: true, cause: err }) : fail(what, err))
    })
    r.once('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.once('error', (err) => {
        clearTimeout(timer)
        reject(fail(err.message, err))
      })
      res.once('end', () => {
        clearTimeout(timer)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') })
      })
    })
    r.end(req.body)
  })
}
