/**
 * A minimal client for the job API (docs/interface.md §5), used by `qactivity job …`. Every failure
 * becomes one {@link ApiResponseError} whose message is a single line fit for stderr.
 */
import http from 'node:http'
import https from 'node:https'
import { oneLine } from '../lib/text.ts'

/** The API's version prefix. */
export const API_PREFIX = '/api/v1'

export interface ApiClientOptions {
  /** Base URL without trailing slash (`QACTIVITY_URL`), e.g. `http://127.0.0.1:8750` */
  url: string
  /** Bearer token (`QACTIVITY_TOKEN`) */
  token?: string
  /** Per-request timeout, covering the response body too @defaultValue 10000 */
  timeoutMs?: number
  /** Injected for tests; without it node:http(s) carries the requests */
  fetch?: typeof fetch
}

/**
 * A failed call. `status` is the HTTP status, or 0 when no answer arrived (unreachable, timeout,
 * unreadable body). The message is already one line: `<what went wrong> (<status>)` for HTTP errors.
 */
export class ApiResponseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'ApiResponseError'
  }

  /**
   * The request was refused because of what the user typed: 400 (validation names the field) and
   * 413 (a body over 64 KiB, i.e. an oversized comment or path list). These exit 2 like any other
   * usage error; everything else (401/403/404/409, 5xx, no answer) is an operational failure, exit 1.
   */
  get isUserInput(): boolean {
    return this.status === 400 || this.status === 413
  }
}

export interface RequestOptions {
  /** JSON body (sent with `content-type: application/json`) */
  body?: unknown
  query?: URLSearchParams
}

export interface ApiClient {
  /** The decoded JSON answer of a 2xx response (`undefined` for an empty body). */
  request<T = unknown>(method: 'GET' | 'POST', path: string, opts?: RequestOptions): Promise<T>
  /** The raw bytes of a 2xx GET (reports: HTML, PDF) and their content type. */
  download(path: string, query?: URLSearchParams): Promise<{ contentType: string; body: Buffer }>
}

/** The `{"error":{"code","message"}}` of an API error body, or a fallback from the status line. */
export function errorFromResponse(status: number, statusText: string, bodyText: string): ApiResponseError {
  let code = `http_${status}`
  let message = ''
  try {
    const parsed = JSON.parse(bodyText) as { error?: { code?: unknown; message?: unknown } }
    if (typeof parsed?.error?.message === 'string') message = parsed.error.message
    if (typeof parsed?.error?.code === 'string') code = parsed.error.code
  } catch {
    // not JSON (a proxy's HTML page, an empty 401…): fall back to the status line
  }
  if (!message) message = statusText || `HTTP ${status}`
  return new ApiResponseError(status, code, `${oneLine(message)} (${status})`)
}

function networkMessage(err: unknown, base: string, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return `no answer from the qactivity API at ${base} within ${timeoutMs / 1000} s`
  }
  const why = e?.cause?.code ?? e?.cause?.message ?? e?.code ?? e?.message ?? String(err)
  return `cannot reach the qactivity API at ${base}: ${oneLine(why, 200)}`
}

interface Answer {
  status: number
  statusText: string
  contentType: string
  body: Buffer
}

/**
 * One exchange over node:http(s). The CLI's default rather than fetch, whose first call loads undici
 * and web streams: ~80 ms that a Slurm prolog would pay at every call. The timeout covers the body too.
 */
function httpExchange(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).request(url, { method, headers })
    const fail = (err: Error) => {
      clearTimeout(timer)
      reject(err)
      req.destroy()
    }
    const timer = setTimeout(() => fail(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), timeoutMs)
    req.once('error', fail)
    req.once('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.once('error', fail)
      res.once('end', () => {
        clearTimeout(timer)
        const type = res.headers['content-type'] ?? ''
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', contentType: type, body: Buffer.concat(chunks) })
      })
    })
    req.end(body)
  })
}

export function createApiClient(o: ApiClientOptions): ApiClient {
  const base = o.url.replace(/\/+$/, '')
  const timeoutMs = o.timeoutMs ?? 10_000
  const viaFetch = async (
    doFetch: typeof fetch,
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Answer> => {
    // One signal for the whole exchange: a server that sends headers and then stalls still times out.
    const res = await doFetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) })
    return {
      status: res.status,
      statusText: res.statusText,
      contentType: res.headers.get('content-type') ?? '',
      body: Buffer.from(await res.arrayBuffer()),
    }
  }
  /** One call; a network failure or timeout is an {@link ApiResponseError} naming the API. */
  async function exchange(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body: unknown): Promise<Answer> {
    const text = body === undefined ? undefined : JSON.stringify(body)
    try {
      return await (o.fetch ? viaFetch(o.fetch, url, method, headers, text) : httpExchange(url, method, headers, text, timeoutMs))
    } catch (err) {
      throw new ApiResponseError(0, 'unreachable', networkMessage(err, base, timeoutMs))
    }
  }
  const auth = (headers: Record<string, string>) => (o.token ? { ...headers, authorization: `Bearer ${o.token}` } : headers)
  // The API's 401 speaks HTTP ("missing bearer token"); the user needs the variable to set and where tokens come from.
  const failure = (status: number, statusText: string, bodyText: string): ApiResponseError => {
    if (status !== 401) return errorFromResponse(status, statusText, bodyText)
    const fix = 'one of the tokens in its QACTIVITY_API_TOKENS (ask whoever runs it)'
    const message = o.token ? `does not know the token in QACTIVITY_TOKEN: use ${fix}` : `needs a token: set QACTIVITY_TOKEN to ${fix}`
    return new ApiResponseError(401, 'unauthorized', `the qactivity API at ${base} ${message} (401)`)
  }

  return {
    async download(path, query) {
      const qs = query?.toString()
      const res = await exchange(
        'GET',
        `${base}${API_PREFIX}${path}${qs ? `?${qs}` : ''}`,
        auth({ 'user-agent': 'qactivity-cli' }),
        undefined,
      )
      if (res.status < 200 || res.status > 299) throw failure(res.status, res.statusText, res.body.toString('utf8'))
      return { contentType: res.contentType, body: res.body }
    },
    async request<T>(method: 'GET' | 'POST', path: string, opts: RequestOptions = {}): Promise<T> {
      const qs = opts.query?.toString()
      const url = `${base}${API_PREFIX}${path}${qs ? `?${qs}` : ''}`
      const headers = auth({
        accept: 'application/json',
        'user-agent': 'qactivity-cli',
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      })
      const res = await exchange(method, url, headers, opts.body)
      const { status, statusText } = res
      const text = res.body.toString('utf8')
      if (status < 200 || status > 299) throw failure(status, statusText, text)
      if (text === '') return undefined as T
      try {
        return JSON.parse(text) as T
      } catch {
        throw new ApiResponseError(
          status,
          'bad_response',
          `the qactivity API at ${base} answered ${status} with something that is not JSON`,
        )
      }
    },
  }
}
