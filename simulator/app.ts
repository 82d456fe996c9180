import { Hono, type Context, type MiddlewareHandler } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { normalizePath } from '../lib/paths.ts'
import { ACTIVITY_TYPES, type ActivityType } from '../lib/schema.ts'
import { ORDER_BY, type OrderBy } from './capacity.ts'
import type { Cluster } from './cluster.ts'
import type { SessionStore } from './sessions.ts'
import { resolvedPath, type DirNode, type FileNode, type Tree } from './tree.ts'

/** Failures the simulator acts out; changeable while it runs. */
export interface Faults {
  /** Delay before every response, in milliseconds @defaultValue 0 */
  latencyMs: number
  /** Fraction (0–1) of authenticated requests answered 503 with an error envelope @defaultValue 0 */
  errorRate: number
  /** Lifetime of new session tokens in seconds (10 h on a real cluster) @defaultValue 36000 */
  tokenLifetimeSeconds: number
}

export const DEFAULT_FAULTS: Faults = { latencyMs: 0, errorRate: 0, tokenLifetimeSeconds: 36_000 }

export interface SimulatorAppDeps {
  cluster: Cluster
  sessions: SessionStore
  /** Read at every request. */
  faults: Faults
  /** Seconds since the simulator started (scenario time). */
  elapsedSeconds: () => number
  /** Incremented per route key, e.g. `GET /v1/file-system`. */
  requests: Record<string, number>
  /** Size of every `POST /v1/files/resolve` body. */
  resolveBatchSizes: number[]
  /** @defaultValue Math.random */
  random?: () => number
}

/** Route keys used to count requests; unknown paths count under `METHOD path`. */
const ROUTES: Array<[string, RegExp]> = [
  ['GET /v1/version', /^\/v1\/version$/],
  ['POST /v1/session/login', /^\/v1\/session\/login$/],
  ['GET /v1/analytics/activity/current', /^\/v1\/analytics\/activity\/current$/],
  ['POST /v1/files/resolve', /^\/v1\/files\/resolve$/],
  ['GET /v1/file-system', /^\/v1\/file-system$/],
  ['GET /v1/files/{ref}/aggregates/', /^\/v1\/files\/[^/]+\/aggregates\/$/],
]

const PUBLIC_PATHS = new Set(['/v1/version', '/v1/session/login'])

const VERSION = { build_date: '2026-02-07T02:28:15Z', build_id: '341775.1.14', flavor: 'simulator', revision_id: 'Qumulo Core 7.8.0' }

const loginBody = z.object({ username: z.string(), password: z.string() })

/** The Qumulo REST API of docs/qumulo/api.md §7 as a Hono app (no listening: serve it or call `app.request`). */
export function createSimulatorApp(d: SimulatorAppDeps): Hono {
  const app = new Hono()
  app.use(countAndDelay(d))
  app.use(authenticate(d))
  app.get('/v1/version', (c) => c.json(VERSION))
  app.post('/v1/session/login', (c) => login(c, d.sessions))
  app.get('/v1/analytics/activity/current', (c) => activity(c, d))
  app.post('/v1/files/resolve', (c) => resolve(c, d))
  app.get('/v1/file-system', (c) => c.json(d.cluster.capacity.fileSystem(d.elapsedSeconds())))
  app.get('/v1/files/:ref/aggregates/', (c) => aggregates(c, d))
  app.notFound((c) => fail(c, 404, 'http_not_found_error', `No route for ${c.req.method} ${c.req.path}`))
  app.onError((err, c) => fail(c, 500, 'simulator_internal_error', err.message))
  return app
}

/** Qumulo's error envelope (docs/qumulo/api.md §1.4). */
function fail(c: Context, status: ContentfulStatusCode, errorClass: string, description: string): Response {
  return c.json({ module: 'qumulo.rest', error_class: errorClass, description, stack: [], user_visible: true }, status)
}

export function routeKey(method: string, path: string): string {
  const route = ROUTES.find(([key, re]) => key.startsWith(method + ' ') && re.test(path))
  return route ? route[0] : `${method} ${path}`
}

function countAndDelay(d: SimulatorAppDeps): MiddlewareHandler {
  return async (c, next) => {
    const key = routeKey(c.req.method, c.req.path)
    d.requests[key] = (d.requests[key] ?? 0) + 1
    if (d.faults.latencyMs > 0) await sleep(d.faults.latencyMs)
    await next()
  }
}

/** Missing, unknown or expired token: 401 with an empty body, as real clusters appear to answer. */
function authenticate(d: SimulatorAppDeps): MiddlewareHandler {
  const random = d.random ?? Math.random
  return async (c, next) => {
    if (PUBLIC_PATHS.has(c.req.path)) return next()
    const token = /^Bearer (\S+)$/.exec(c.req.header('authorization') ?? '')?.[1]
    if (!token || !d.sessions.accepts(token)) return c.body(null, 401)
    if (random() < d.faults.errorRate) {
      return fail(c, 503, 'simulated_fault_error', `Simulated fault (error rate ${d.faults.errorRate})`)
    }
    await next()
  }
}

async function readJson(c: Context): Promise<{ ok: true; json: unknown } | { ok: false }> {
  try {
    return { ok: true, json: await c.req.json() }
  } catch {
    return { ok: false }
  }
}

async function login(c: Context, sessions: SessionStore): Promise<Response> {
  const body = await readJson(c)
  const creds = body.ok ? loginBody.safeParse(body.json) : undefined
  if (!creds?.success) return fail(c, 400, 'decode_error', 'Expected {"username": string, "password": string}')
  const token = sessions.login(creds.data.username, creds.data.password)
  if (!token) return fail(c, 401, 'http_unauthorized_error', 'Invalid username or password')
  return c.json({ bearer_token: token })
}

function activity(c: Context, d: SimulatorAppDeps): Response {
  const type = c.req.query('type')
  if (type !== undefined && !(ACTIVITY_TYPES as readonly string[]).includes(type)) {
    return fail(c, 400, 'http_bad_request_error', `Unknown activity type "${type}", expected one of ${ACTIVITY_TYPES.join(', ')}`)
  }
  const body = d.cluster.activity.body(d.elapsedSeconds(), type as ActivityType | undefined)
  return c.body(body, 200, { 'content-type': 'application/json' })
}

async function resolve(c: Context, d: SimulatorAppDeps): Promise<Response> {
  const body = await readJson(c)
  if (!body.ok || !Array.isArray(body.json) || !body.json.every((id) => typeof id === 'string')) {
    return fail(c, 400, 'decode_error', 'Expected a JSON array of file id strings')
  }
  const ids = body.json as string[]
  d.resolveBatchSizes.push(ids.length)
  return c.json(ids.map((id) => ({ id, path: resolvedPath(d.cluster.tree, id) })))
}

function aggregates(c: Context, d: SimulatorAppDeps): Response {
  const ref = c.req.param('ref') ?? ''
  const node = lookup(d.cluster.tree, ref)
  if (!node) return fail(c, 404, 'fs_no_such_entry_error', `No such file or directory: ${ref}`)
  if (node.kind !== 'dir') return fail(c, 400, 'fs_not_a_directory_error', `Not a directory: ${ref}`)
  const maxEntries = c.req.query('max-entries') ?? '1000'
  if (!/^\d+$/.test(maxEntries))
    return fail(c, 400, 'http_bad_request_error', `max-entries must be a non-negative integer, got "${maxEntries}"`)
  const orderBy = c.req.query('order-by') ?? 'total_blocks'
  if (!(ORDER_BY as readonly string[]).includes(orderBy)) return fail(c, 400, 'http_bad_request_error', `Unknown order-by "${orderBy}"`)
  return c.json(d.cluster.capacity.aggregates(node, d.elapsedSeconds(), Math.min(Number(maxEntries), 5000), orderBy as OrderBy))
}

/** `ref` is an absolute path (trailing slash allowed) or a file id. */
function lookup(tree: Tree, ref: string): DirNode | FileNode | undefined {
  if (!ref.startsWith('/')) return tree.byId.get(ref)
  const n = normalizePath(ref)
  if (!n.ok) return undefined
  const dir = tree.byPath.get(n.path)
  if (dir) return dir
  const cut = n.path.lastIndexOf('/')
  return tree.byPath.get(n.path.slice(0, cut) || '/')?.files.find((f) => f.name === n.path.slice(cut + 1))
}
