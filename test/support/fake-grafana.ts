/**
 * A Grafana stand-in for the legacy annotation API (`/api/annotations`), strict where Grafana is and
 * stricter where qactivity must be: bearer token required, epoch-millisecond integers only, org-wide
 * annotations only (a dashboard or panel reference is refused and recorded in `violations`).
 * Behaviour follows grafana/grafana `pkg/api/annotations.go` and the sqlstore's find query
 * (`epoch <= to AND epoch_end >= from`, tags ANDed unless `matchAny=true`).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** A request the fake received (also those answered 401 or failed on purpose). */
export interface GrafanaRequest {
  method: string
  path: string
  query: URLSearchParams
  headers: IncomingHttpHeaders
  body: string
  /** the body parsed as JSON, when it was */
  json?: unknown
  /** status sent; undefined when the connection was dropped */
  status?: number
}

/** A stored annotation, as `GET /api/annotations` returns it. */
export interface StoredAnnotation {
  id: number
  alertId: number
  dashboardId: number
  dashboardUID: string
  panelId: number
  userId: number
  time: number
  timeEnd: number
  text: string
  tags: string[]
  created: number
  updated: number
  login: string
  email: string
  avatarUrl: string
  data: Record<string, unknown>
}

export interface FakeGrafana {
  /** `http://127.0.0.1:<port>` (stable across `down()`/`up()`) */
  url: string
  /** the accepted service-account token; change it to act out a revoked token */
  token: string
  /** every request in arrival order */
  requests: GrafanaRequest[]
  /** stored annotations, in id order */
  annotations: StoredAnnotation[]
  /** POST/PATCH bodies refused because they referred to a dashboard or panel */
  violations: Array<{ method: string; path: string; fields: string[] }>
  /** closes the listener and every connection: clients get connection refused */
  down(): Promise<void>
  /** listens again on the same port */
  up(): Promise<void>
  /** delays every answer (after the request has taken effect) */
  setLatency(ms: number): void
  /** the next `n` requests (any route, after auth) get `status` with `{"message": message}` and change nothing */
  failNext(n: number, status: number, message?: string): void
  /** the next `n` requests take effect, then the connection is destroyed without an answer (a lost response) */
  dropNext(n: number): void
  /** annotations carrying every given tag */
  withTags(...tags: string[]): StoredAnnotation[]
  close(): Promise<void>
}

const MIN_MS = 1e12 // 2001-09-09: anything smaller is seconds (or garbage)
const MAX_MS = 1e13 // 2286

class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeGrafana(opts: { token?: string } = {}): Promise<FakeGrafana> {
  let nextId = 1
  let latencyMs = 0
  let fail: { n: number; status: number; message: string } = { n: 0, status: 500, message: '' }
  let drop = 0
  const sockets = new Set<Socket>()

  const fake: FakeGrafana = {
    url: '',
    token: opts.token ?? 'glsa_fakeTokenSecret0123456789abcdef_0badc0de',
    requests: [],
    annotations: [],
    violations: [],
    down: async () => {},
    up: async () => {},
    setLatency: (ms) => {
      latencyMs = ms
    },
    failNext: (n, status, message = 'injected failure') => {
      fail = { n, status, message }
    },
    dropNext: (n) => {
      drop = n
    },
    withTags: (...tags) => fake.annotations.filter((a) => tags.every((t) => a.tags.includes(t))),
    close: async () => {},
  }

  const handle = (rec: GrafanaRequest): { status: number; body: unknown } => {
    const auth = rec.headers.authorization
    if (auth !== `Bearer ${fake.token}`) return { status: 401, body: { message: 'Unauthorized' } }
    if (fail.n > 0) {
      fail.n--
      return { status: fail.status, body: { message: fail.message } }
    }
    try {
      return route(rec)
    } catch (err) {
      if (err instanceof BadRequest) return { status: err.status, body: { message: err.message } }
      throw err
    }
  }

  const route = (rec: GrafanaRequest): { status: number; body: unknown } => {
    const parts = rec.path.split('/').filter(Boolean) // ['api','annotations',id?]
    if (parts[0] !== 'api' || parts[1] !== 'annotations' || parts.length > 3) {
      return { status: 404, body: { message: 'Not found' } }
    }
    if (parts.length === 2) {
      if (rec.method === 'POST') return post(rec)
      if (rec.method === 'GET') return { status: 200, body: find(rec.query) }
      return { status: 405, body: { message: 'Method not allowed' } }
    }
    const idText = parts[2]
    if (!/^-?\d+$/.test(idText)) throw new BadRequest('annotationId is invalid')
    const id = Number(idText)
    const i = fake.annotations.findIndex((a) => a.id === id)
    if (rec.method === 'PATCH') {
      const cmd = parseBody(rec)
      if (i < 0) throw new BadRequest('Annotation not found', 404)
      return patch(rec, fake.annotations[i], cmd)
    }
    if (i < 0) throw new BadRequest('Annotation not found', 404)
    if (rec.method === 'GET') return { status: 200, body: fake.annotations[i] }
    if (rec.method === 'DELETE') {
      fake.annotations.splice(i, 1)
      return { status: 200, body: { message: 'Annotation deleted' } }
    }
    return { status: 405, body: { message: 'Method not allowed' } }
  }

  const parseBody = (rec: GrafanaRequest): Record<string, unknown> => {
    if (!/^application\/json\b/i.test(rec.headers['content-type'] ?? '')) throw new BadRequest('bad request data')
    if (rec.json === null || typeof rec.json !== 'object' || Array.isArray(rec.json)) {
      throw new BadRequest('bad request data')
    }
    const cmd = rec.json as Record<string, unknown>
    const refs = ['dashboardUID', 'dashboardId', 'dashboardID', 'panelId', 'panelID'].filter((k) => k in cmd)
    if (refs.length) {
      fake.violations.push({ method: rec.method, path: rec.path, fields: refs })
      throw new BadRequest(`org-wide annotations only: unexpected ${refs.join(', ')}`)
    }
    if ('tags' in cmd && cmd.tags !== null) {
      if (!Array.isArray(cmd.tags) || !cmd.tags.every((t) => typeof t === 'string')) {
        throw new BadRequest('bad request data')
      }
    }
    if ('text' in cmd && typeof cmd.text !== 'string') throw new BadRequest('bad request data')
    for (const k of ['time', 'timeEnd']) {
      if (!(k in cmd)) continue
      const v = cmd[k]
      // Go unmarshals into int64: a fraction or a string is a bind error.
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new BadRequest('bad request data')
      if (v !== 0 && (v < MIN_MS || v > MAX_MS)) {
        throw new BadRequest(`${k} must be epoch milliseconds, got ${v}`)
      }
    }
    return cmd
  }

  const post = (rec: GrafanaRequest): { status: number; body: unknown } => {
    const cmd = parseBody(rec)
    const text = (cmd.text as string | undefined) ?? ''
    if (text === '') throw new BadRequest('Failed to save annotation')
    let time = (cmd.time as number | undefined) ?? 0
    let timeEnd = (cmd.timeEnd as number | undefined) ?? 0
    // qactivity always sends `time` (Grafana would otherwise need timeEnd, ErrTimerangeMissing).
    if (time === 0) throw new BadRequest('Failed to save annotation')
    if (timeEnd === 0) timeEnd = time
    if (timeEnd < time) [time, timeEnd] = [timeEnd, time]
    const now = Date.now()
    const a: StoredAnnotation = {
      id: nextId++,
      alertId: 0,
      dashboardId: 0,
      dashboardUID: '',
      panelId: 0,
      userId: 2,
      time,
      timeEnd,
      text,
      tags: [...((cmd.tags as string[] | null | undefined) ?? [])],
      created: now,
      updated: now,
      login: 'sa-qactivity',
      email: 'sa-qactivity',
      avatarUrl: '',
      data: {},
    }
    fake.annotations.push(a)
    return { status: 200, body: { message: 'Annotation added', id: a.id } }
  }

  const patch = (_rec: GrafanaRequest, a: StoredAnnotation, cmd: Record<string, unknown>) => {
    if (Array.isArray(cmd.tags)) a.tags = [...(cmd.tags as string[])]
    if (typeof cmd.text === 'string' && cmd.text !== '') a.text = cmd.text
    if (typeof cmd.time === 'number' && cmd.time > 0) a.time = cmd.time
    if (typeof cmd.timeEnd === 'number' && cmd.timeEnd > 0) a.timeEnd = cmd.timeEnd
    if (a.timeEnd < a.time) [a.time, a.timeEnd] = [a.timeEnd, a.time]
    a.updated = Date.now()
    return { status: 200, body: { message: 'Annotation patched' } }
  }

  const find = (q: URLSearchParams): StoredAnnotation[] => {
    const from = Number(q.get('from') ?? 0) || 0
    const to = Number(q.get('to') ?? 0) || 0
    const tags = q
      .getAll('tags')
      .map((t) => t.trim())
      .filter(Boolean)
    const matchAny = q.get('matchAny') === 'true'
    const type = q.get('type')
    const dashboardUID = q.get('dashboardUID')
    const limit = Number(q.get('limit') ?? 100) || 100
    return fake.annotations
      .filter((a) => !(from > 0 && to > 0) || (a.time <= to && a.timeEnd >= from))
      .filter((a) => type !== 'alert' || a.alertId > 0)
      .filter((a) => !dashboardUID || a.dashboardUID === dashboardUID)
      .filter((a) => tags.length === 0 || (matchAny ? tags.some((t) => a.tags.includes(t)) : tags.every((t) => a.tags.includes(t))))
      .sort((x, y) => y.time - x.time || y.timeEnd - x.timeEnd)
      .slice(0, limit)
  }

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake')
      const body = Buffer.concat(chunks).toString('utf8')
      const rec: GrafanaRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body }
      if (body) {
        try {
          rec.json = JSON.parse(body)
        } catch {
          rec.json = undefined
        }
      }
      fake.requests.push(rec)
      const authorised = req.headers.authorization === `Bearer ${fake.token}`
      const out = handle(rec)
      if (authorised && drop > 0) {
        drop--
        req.socket.destroy()
        return
      }
      rec.status = out.status
      if (latencyMs > 0) {
        const t = setTimeout(() => {
          if (!res.destroyed) answer(res, out.status, out.body)
        }, latencyMs)
        res.on('close', () => clearTimeout(t))
      } else answer(res, out.status, out.body)
    })
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })

  let port = 0
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve()
      const onError = (err: Error) => reject(err)
      server.once('error', onError)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', onError)
        resolve()
      })
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve()
      server.close(() => resolve())
      for (const s of sockets) s.destroy()
      server.closeAllConnections()
    })

  await listen()
  port = (server.address() as AddressInfo).port
  fake.url = `http://127.0.0.1:${port}`
  fake.down = stop
  fake.up = listen
  fake.close = stop
  return fake
}
