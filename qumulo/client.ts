import type { QumuloConfig } from '../lib/config.ts'
import type { Logger } from '../lib/log.ts'
import type { ActivityType } from '../lib/schema.ts'
import { InvalidResponseError, QumuloApiError } from './errors.ts'
import { createTransport, TransportError, type RawResponse } from './transport.ts'
import {
  parseActivity,
  parseAggregates,
  parseErrorEnvelope,
  parseFileSystem,
  parseLogin,
  parseResolve,
  parseVersion,
  type ActivityEntry,
  type DirAggregates,
  type FileSystemStats,
} from './types.ts'

export type { ActivityEntry, DirAggregates, FileSystemStats } from './types.ts'
export { QumuloApiError } from './errors.ts'

/** Most ids sent in one `POST /v1/files/resolve` (the batch size Qumulo's power-tools use). */
export const MAX_RESOLVE_IDS = 1000

/** Canonical endpoint paths (docs/qumulo/api.md §0): exact, including the trailing slashes. */
export const ENDPOINT = {
  login: '/v1/session/login',
  activity: '/v1/analytics/activity/current',
  resolve: '/v1/files/resolve',
  fileSystem: '/v1/file-system',
  version: '/v1/version',
  aggregates: (path: string) => `/v1/files/${encodeURIComponent(path)}/aggregates/?max-entries=0`,
} as const

/** Request counters for self-metrics. */
export interface QumuloClientStats {
  /** HTTP requests sent, logins and retries included. */
  requests: number
  /** `POST /v1/session/login` attempts. */
  logins: number
  /** Client calls that ended in an error. */
  failures: number
}

/** Typed, validated access to the Qumulo endpoints the collector polls. Every failure is a {@link QumuloApiError}. */
export interface QumuloClient {
  /** `GET /v1/analytics/activity/current[?type=]`; malformed entries are dropped and counted in `rejected`. */
  activity(type?: ActivityType): Promise<{ entries: ActivityEntry[]; rejected: number }>
  /**
   * `POST /v1/files/resolve` with at most {@link MAX_RESOLVE_IDS} ids (RangeError above). id → path exactly
   * as served: `''` for ids that no longer exist, directories with their trailing `/`. Ids the answer
   * leaves out are absent from the map.
   */
  resolve(ids: string[]): Promise<Map<string, string>>
  /** `GET /v1/file-system`. */
  fileSystem(): Promise<FileSystemStats>
  /** `GET /v1/files/{path}/aggregates/?max-entries=0` for an absolute path. */
  aggregates(path: string): Promise<DirAggregates>
  /** `GET /v1/version`, without authentication. */
  version(): Promise<{ revisionId: string }>
  stats(): QumuloClientStats
  /** Closes idle keep-alive connections. */
  close(): void
}

interface Call {
  method: 'GET' | 'POST'
  path: string
  body?: string
  /** false for the endpoints that need no token (`/v1/version`). */
  auth?: boolean
}

/** Session state: the token in use and the one login in flight, shared by concurrent callers. */
interface Auth {
  readonly canLogin: boolean
  token(): Promise<string | undefined>
  /** A token newer than `stale`: another caller's fresh login, or a new one. */
  renew(stale: string | undefined): Promise<string | undefined>
}

export function createQumuloClient(config: QumuloConfig, log: Logger): QumuloClient {
  const transport = createTransport(config)
  const counters: QumuloClientStats = { requests: 0, logins: 0, failures: 0 }

  const send = async (call: Call, token?: string): Promise<RawResponse> => {
    counters.requests++
    const started = performance.now()
    try {
      const res = await transport.send({ method: call.method, path: call.path, body: call.body, token })
      log.debug('Qumulo request', { method: call.method, path: call.path, status: res.status, ms: Math.round(performance.now() - started) })
      return res
    } catch (err) {
      throw transportFailure(call, err)
    }
  }

  const login = async (): Promise<string> => {
    counters.logins++
    const call: Call = {
      method: 'POST',
      path: ENDPOINT.login,
      body: JSON.stringify({ username: config.username, password: config.password }),
    }
    const res = await send(call)
    if (res.status === 401 || res.status === 403)
      throw httpFailure(call, res, `login refused for user "${config.username}": check QUMULO_USERNAME and QUMULO_PASSWORD`)
    const token = decode(call, res, parseLogin)
    log.info('Logged in to Qumulo', { user: config.username })
    return token
  }

  const auth = createAuth(config, login)

  const authorized = async (call: Call): Promise<RawResponse> => {
    if (call.auth === false) return send(call)
    const token = await auth.token()
    const res = await send(call, token)
    if (res.status !== 401 || !auth.canLogin) return res
    log.info('Qumulo session rejected, logging in again', { path: call.path })
    return send(call, await auth.renew(token))
  }

  const request = async <T>(call: Call, parse: (json: unknown) => T): Promise<T> => {
    try {
      return decode(call, await authorized(call), parse)
    } catch (err) {
      counters.failures++
      throw err
    }
  }

  return {
    activity: async (type) => {
      const path = type ? `${ENDPOINT.activity}?type=${encodeURIComponent(type)}` : ENDPOINT.activity
      const parsed = await request({ method: 'GET', path }, (json) => parseActivity(json, type))
      if (parsed.rejected) log.warn('Dropped malformed activity entries', { rejected: parsed.rejected, example: parsed.firstProblem })
      return { entries: parsed.entries, rejected: parsed.rejected }
    },
    resolve: (ids) => resolveIds(ids, (call, parse) => request(call, parse), log),
    fileSystem: () => request({ method: 'GET', path: ENDPOINT.fileSystem }, parseFileSystem),
    aggregates: (path) => request({ method: 'GET', path: ENDPOINT.aggregates(path) }, parseAggregates),
    version: () => request({ method: 'GET', path: ENDPOINT.version, auth: false }, parseVersion),
    stats: () => ({ ...counters }),
    close: () => transport.close(),
  }
}

type Requester = <T>(call: Call, parse: (json: unknown) => T) => Promise<T>

async function resolveIds(ids: string[], request: Requester, log: Logger): Promise<Map<string, string>> {
  if (ids.length > MAX_RESOLVE_IDS) throw new RangeError(`resolve: at most ${MAX_RESOLVE_IDS} ids per call, got ${ids.length}`)
  if (ids.length === 0) return new Map()
  const requested = new Set(ids)
  const call: Call = { method: 'POST', path: ENDPOINT.resolve, body: JSON.stringify(ids) }
  const { paths, rejected } = await request(call, (json) => parseResolve(json, requested))
  if (rejected) log.warn('Ignored malformed or unrequested resolve items', { rejected })
  return paths
}

function createAuth(config: QumuloConfig, login: () => Promise<string>): Auth {
  let current = config.token
  let pending: Promise<string> | undefined
  const canLogin = !config.token && config.username !== undefined && config.password !== undefined
  const refresh = () => {
    pending ??= login()
      .then((t) => (current = t))
      .finally(() => (pending = undefined))
    return pending
  }
  return {
    canLogin,
    token: async () => current ?? (canLogin ? refresh() : undefined),
    renew: async (stale) => (current !== stale ? current : refresh()),
  }
}

/** Turns a response into a value: a non-2xx status, a non-JSON body or a wrong shape becomes a QumuloApiError. */
function decode<T>(call: Call, res: RawResponse, parse: (json: unknown) => T): T {
  if (res.status < 200 || res.status > 299) throw httpFailure(call, res, res.status === 401 ? unauthorizedHint(call) : undefined)
  let json: unknown
  try {
    json = JSON.parse(res.body)
  } catch {
    throw invalid(call, res, `invalid response: not JSON (${res.body.trim() ? 'unparsable body' : 'empty body'})`)
  }
  try {
    return parse(json)
  } catch (err) {
    if (err instanceof InvalidResponseError) throw invalid(call, res, `invalid response: ${err.message}`)
    throw err
  }
}

function unauthorizedHint(call: Call): string {
  return call.auth === false ? 'authentication required' : 'token rejected: check QUMULO_TOKEN, or QUMULO_USERNAME and QUMULO_PASSWORD'
}

function httpFailure(call: Call, res: RawResponse, hint?: string): QumuloApiError {
  const envelope = parseErrorEnvelope(res.body)
  const text = res.body.trim() && !envelope ? `body: ${res.body}` : undefined
  return new QumuloApiError({
    method: call.method,
    url: call.path,
    status: res.status,
    statusText: res.statusText,
    envelope,
    detail: hint ?? text,
  })
}

function invalid(call: Call, res: RawResponse, detail: string): QumuloApiError {
  return new QumuloApiError({
    method: call.method,
    url: call.path,
    status: res.status,
    statusText: res.statusText,
    detail,
    retriable: false,
  })
}

function transportFailure(call: Call, err: unknown): QumuloApiError {
  const message = err instanceof Error ? err.message : String(err)
  const retriable = err instanceof TransportError ? err.retriable : true
  return new QumuloApiError({ method: call.method, url: call.path, detail: message, retriable, cause: err })
}
