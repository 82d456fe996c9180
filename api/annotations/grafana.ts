/**
 * Grafana annotations over the legacy `/api/annotations` routes (docs/interface.md §7).
 *
 * Kept behind {@link AnnotationSink} because Grafana 13 replaces these routes with the alpha
 * `/apis/annotation.grafana.app` API, where time ranges are immutable: a future sink may create the
 * region at completion instead of patching `timeEnd`.
 *
 * Every annotation is an organisation annotation: `dashboardUID`, `dashboardId` and `panelId` are never
 * sent, so any dashboard that filters the built-in "Grafana" annotation source on the tags shows it.
 */
import { STATUS_CODES } from 'node:http'
import { redact } from '../../lib/errors.ts'

/** An annotation as `find` returns it. Times are epoch milliseconds. */
export interface FoundAnnotation {
  id: number
  time: number
  /** absent for a point (Grafana stores `timeEnd == time`, or 0) */
  timeEnd?: number
  text: string
  tags: string[]
}

/** Where job annotations go. Every method rejects with a {@link GrafanaApiError}. */
export interface AnnotationSink {
  /** Creates an organisation annotation (a region when `timeEnd` is given); resolves with its id. Not idempotent. */
  create(a: { time: number; timeEnd?: number; tags: string[]; text: string }, signal?: AbortSignal): Promise<number>
  /** Changes the given fields; `tags` replaces the whole list. Idempotent. A missing id rejects with status 404. */
  patch(id: number, p: { timeEnd?: number; text?: string; tags?: string[] }, signal?: AbortSignal): Promise<void>
  /** Annotations (not alerts) carrying every tag and overlapping [from, to]; at most 100. */
  find(q: { tags: string[]; from: number; to: number }, signal?: AbortSignal): Promise<FoundAnnotation[]>
}

/**
 * A failed Grafana call, one line: `[POST] /api/annotations: 503 Service Unavailable (message)`.
 * The token never appears in it.
 */
export class GrafanaApiError extends Error {
  /** HTTP status; absent for network errors, timeouts and aborts. */
  readonly status?: number
  /** Network error, timeout, abort, 5xx, 429, a 2xx we cannot read, and every {@link configError}: may succeed later. */
  readonly retriable: boolean
  /**
   * 401/403 (token or permissions), a 3xx (URL points at a login page or the wrong scheme) or a 404 from
   * POST/GET `/api/annotations` (wrong URL prefix): retriable, so nothing queued is dropped, but it needs an operator.
   */
  readonly configError: boolean
  /** What the server asked us to wait (`Retry-After` on 429/503), in ms. */
  readonly retryAfterMs?: number

  constructor(
    message: string,
    opts: { status?: number; retriable: boolean; configError?: boolean; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, { cause: opts.cause })
    this.name = 'GrafanaApiError'
    this.status = opts.status
    this.retriable = opts.retriable
    this.configError = opts.configError ?? false
    this.retryAfterMs = opts.retryAfterMs
  }
}

/** Options of {@link createGrafanaSink}. */
export interface GrafanaSinkConfig {
  /** base URL, e.g. `http://grafana:3000` or `https://example.org/grafana` (a path prefix is kept) */
  url: string
  /** service-account token (`glsa_…`), sent as `Authorization: Bearer` */
  token: string
  /** per request, including reading the answer @defaultValue 5000 */
  timeoutMs?: number
}

/** The Grafana annotation sink over `/api/annotations`. */
export function createGrafanaSink(cfg: GrafanaSinkConfig): AnnotationSink {
  const base = new URL(cfg.url)
  base.username = ''
  base.password = ''
  base.search = ''
  base.hash = ''
  const prefix = base.pathname.replace(/\/+$/, '')
  const timeoutMs = cfg.timeoutMs ?? 5000
  const token = cfg.token

  /** One line, no token, bounded length. */
  const clean = (s: string): string => {
    let out = s.replace(/\s+/g, ' ').trim()
    if (token) out = out.split(token).join('***')
    out = redact(out)
    return out.length > 300 ? out.slice(0, 297) + '...' : out
  }

  async function call(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    body: unknown,
    query: URLSearchParams | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const url = new URL(base.href)
    url.pathname = prefix + path
    if (query) url.search = query.toString()
    const where = `[${method}] ${path}`
    const timeout = AbortSignal.timeout(timeoutMs)
    const sig = signal ? AbortSignal.any([signal, timeout]) : timeout
    // No `cause`: the useful part of it is in the message already, and messageOf() would append the rest
    // ("fetch failed", "The operation was aborted due to timeout").
    const failed = (what: string) => new GrafanaApiError(clean(`${where}: ${what}`), { retriable: true })
    const abortReason = () => (signal?.aborted ? 'aborted' : `timed out after ${timeoutMs} ms`)

    let res: Response
    let text: string
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: sig,
        redirect: 'manual',
      })
      text = await res.text()
    } catch (err) {
      if (sig.aborted) throw failed(abortReason())
      throw failed(networkMessage(err))
    }

    if (res.status >= 200 && res.status < 300) {
      if (text === '') return undefined
      try {
        return JSON.parse(text) as unknown
      } catch {
        throw failed(`${res.status} answer is not JSON`)
      }
    }
    const status = res.status
    const reason = `${status} ${STATUS_CODES[status] ?? ''}`.trim()
    const msg = serverMessage(text)
    // 401/403: token or permissions. A redirect (login page, http→https) or a 404 on the collection route
    // means GRAFANA_URL points somewhere else. All need an operator; none may drop queued annotations.
    const configError = status === 401 || status === 403 || (status >= 300 && status < 400) || (status === 404 && method !== 'PATCH')
    const retryAfter = Number(res.headers.get('retry-after'))
    throw new GrafanaApiError(clean(`${where}: ${reason}${msg ? ` (${msg})` : ''}`), {
      status,
      retriable: configError || status >= 500 || status === 429,
      configError,
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    })
  }

  return {
    async create(a, signal) {
      const body: Record<string, unknown> = { time: ms(a.time), tags: [...a.tags], text: a.text }
      if (a.timeEnd !== undefined) body.timeEnd = ms(a.timeEnd)
      const out = (await call('POST', '/api/annotations', body, undefined, signal)) as { id?: unknown } | undefined
      const id = out?.id
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
        // The POST may have landed; a retry looks it up first (see the outbox).
        throw new GrafanaApiError('[POST] /api/annotations: answer has no annotation id', { retriable: true })
      }
      return id
    },

    async patch(id, p, signal) {
      const body: Record<string, unknown> = {}
      if (p.timeEnd !== undefined) body.timeEnd = ms(p.timeEnd)
      if (p.text !== undefined) body.text = p.text
      if (p.tags !== undefined) body.tags = [...p.tags]
      await call('PATCH', `/api/annotations/${encodeURIComponent(String(id))}`, body, undefined, signal)
    },

    async find(q, signal) {
      const query = new URLSearchParams()
      for (const t of q.tags) query.append('tags', t)
      query.set('type', 'annotation')
      query.set('from', String(ms(q.from)))
      query.set('to', String(ms(q.to)))
      query.set('limit', '100')
      const out = await call('GET', '/api/annotations', undefined, query, signal)
      if (!Array.isArray(out)) {
        throw new GrafanaApiError('[GET] /api/annotations: answer is not a list', { retriable: true })
      }
      const found: FoundAnnotation[] = []
      for (const item of out as Array<Record<string, unknown>>) {
        if (typeof item?.id !== 'number' || typeof item.time !== 'number') continue
        const a: FoundAnnotation = {
          id: item.id,
          time: item.time,
          text: typeof item.text === 'string' ? item.text : '',
          tags: Array.isArray(item.tags) ? item.tags.filter((t): t is string => typeof t === 'string') : [],
        }
        if (typeof item.timeEnd === 'number' && item.timeEnd > 0 && item.timeEnd !== item.time) a.timeEnd = item.timeEnd
        found.push(a)
      }
      return found
    },
  }
}

/** Epoch milliseconds as Grafana's int64. */
function ms(t: number): number {
  return Math.round(t)
}

/** `message` of Grafana's error body (`{"message": …}`), else the start of the body. */
function serverMessage(body: string): string {
  try {
    const json = JSON.parse(body) as { message?: unknown }
    if (typeof json?.message === 'string') return json.message
  } catch {
    // not JSON (a proxy's HTML page…)
  }
  return body
    .replace(/<[^>]*>/g, ' ')
    .trim()
    .slice(0, 200)
}

/** `connect ECONNREFUSED 127.0.0.1:3000` rather than undici's bare `fetch failed`. */
function networkMessage(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { message?: unknown; code?: unknown } | undefined) : undefined
  if (cause && typeof cause.message === 'string' && cause.message) return cause.message
  if (cause && typeof cause.code === 'string') return cause.code
  return err instanceof Error ? err.message : String(err)
}
