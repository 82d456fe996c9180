import { RETENTION_POLICY } from '../schema.ts'
import type { InfluxConfig } from '../config.ts'
import type { Logger } from '../log.ts'
import { authHeader, endpoint, errorOf, InfluxError, request } from './http.ts'
import { createInfluxQL, quoteIdent } from './influxql.ts'

export { InfluxError, isDatabaseNotFound } from './http.ts'

/** What `/ping` told us: the version and which write API to use. */
export interface InfluxServer {
  /** `X-Influxdb-Version`, e.g. `1.6.7~rc0`, `v2.7.10`; `unknown` when absent. */
  version: string
  /** `v1`: `/write` + `/query` (1.0–1.7); `v2`: `/api/v2/write` (1.8+, 2.x, 3.x). */
  api: 'v1' | 'v2'
}

/** Maps a version string to its write API; undefined when it does not look like a version. */
export function apiOfVersion(version: string): 'v1' | 'v2' | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(version.trim())
  if (!m) return undefined
  const [major, minor] = [Number(m[1]), Number(m[2])]
  return major > 1 || (major === 1 && minor >= 8) ? 'v2' : 'v1'
}

function versionFromBody(body: string): string | undefined {
  try {
    const v = (JSON.parse(body) as { version?: unknown }).version
    return typeof v === 'string' ? v : undefined
  } catch {
    return undefined
  }
}

/**
 * Asks `/ping` which InfluxDB answers. 1.x before 1.8 → `v1`; 1.8+, 2.x and 3.x → `v2`. Without a
 * version (header or JSON body) it assumes `v1` and warns. Network errors and 5xx throw a retriable
 * {@link InfluxError}.
 */
export async function detectServer(cfg: InfluxConfig, log?: Logger, timeoutMs = 10_000): Promise<InfluxServer> {
  const url = endpoint(cfg, '/ping')
  // The token is sent in v2 form: 3.x wants it on /ping, 1.x ignores it there.
  const res = await request(url, { method: 'GET', headers: authHeader(cfg.token, 'v2'), timeoutMs })
  if (res.status >= 500) throw errorOf('GET', url, res)
  const header = res.headers['x-influxdb-version']
  const version = (typeof header === 'string' && header) || versionFromBody(res.body)
  const api = version ? apiOfVersion(version) : undefined
  if (version && api) return { version, api }
  if (res.status >= 400) throw errorOf('GET', url, res)
  log?.warn('InfluxDB sent no version on /ping; assuming the 1.x API', { url: cfg.url, version })
  return { version: version || 'unknown', api: 'v1' }
}

/**
 * On 1.x, creates the database named by the bucket (`CREATE DATABASE` is idempotent there). No-op on
 * v2 servers, whose buckets are created by their admins.
 */
export async function ensureDatabase(cfg: InfluxConfig, server: InfluxServer, timeoutMs = 10_000): Promise<void> {
  if (server.api !== 'v1') return
  const ql = createInfluxQL(cfg, server, timeoutMs)
  await ql.query(`CREATE DATABASE ${quoteIdent(cfg.bucket)}`)
  await ensureRetentionPolicies(cfg, ql)
}

/**
 * On 2.x, the buckets of the measurements kept apart (`<bucket>/qactivity_raw`, `<bucket>/qactivity_jobs`,
 * which 2.x maps to that database and retention policy for InfluxQL by itself), created with the
 * configured retention when missing. A token that may not create buckets gets a one-line error naming
 * what to create. Existing buckets are left as they are (their retention is the admin's).
 */
export async function ensureBuckets(cfg: InfluxConfig, timeoutMs = 10_000): Promise<void> {
  const headers = { ...authHeader(cfg.token, 'v2'), 'content-type': 'application/json' }
  const want: Record<string, string> = {
    [`${cfg.bucket}/${RETENTION_POLICY.raw}`]: cfg.retention?.raw ?? '30d',
    [`${cfg.bucket}/${RETENTION_POLICY.jobs}`]: cfg.retention?.jobs ?? 'INF',
  }
  const call = async (method: 'GET' | 'POST', path: string, query: Record<string, string>, body?: unknown) => {
    const url = endpoint(cfg, path, query)
    const res = await request(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), timeoutMs })
    if (res.status >= 300) {
      const missing = Object.entries(want)
        .map(([name, d]) => `"${name}" (retention ${d === 'INF' ? 'forever' : d})`)
        .join(' and ')
      if (res.status === 401 || res.status === 403)
        throw new InfluxError(`InfluxDB: create the buckets ${missing} in org "${cfg.org ?? ''}", or use a token that may`, {
          status: res.status,
          body: res.body,
          retriable: true,
        })
      throw errorOf(method, url, res)
    }
    return JSON.parse(res.body || '{}') as Record<string, unknown>
  }
  const org: Record<string, string> = cfg.org ? { org: cfg.org } : {}
  for (const [name, duration] of Object.entries(want)) {
    const found = (await call('GET', '/api/v2/buckets', { ...org, name })) as { buckets?: unknown[] }
    if (found.buckets?.length) continue
    const orgs = (await call('GET', '/api/v2/orgs', org)) as { orgs?: Array<{ id: string }> }
    const orgID = orgs.orgs?.[0]?.id
    if (!orgID) throw new InfluxError(`InfluxDB: no organization "${cfg.org ?? ''}" to create the bucket "${name}" in`, { retriable: true })
    const everySeconds = duration === 'INF' ? 0 : durationMs(duration) / 1000
    await call('POST', '/api/v2/buckets', {}, { orgID, name, retentionRules: everySeconds ? [{ type: 'expire', everySeconds }] : [] })
  }
}

/** `720h0m0s` → ms; `0s` (forever) → 0. */
function durationMs(text: string): number {
  let ms = 0
  for (const [, n, unit] of text.matchAll(/(\d+)(w|d|h|m|s)/g))
    ms += Number(n) * { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[unit]!
  return ms
}

/**
 * On 1.x, qactivity's retention policies (lib/schema.ts RETENTION_POLICY) with the configured
 * durations: created when missing, their duration changed when the setting changed (a shorter one
 * expires older points, as asked); data already there, and the default policy, are left alone.
 */
export async function ensureRetentionPolicies(cfg: InfluxConfig, ql: ReturnType<typeof createInfluxQL>): Promise<void> {
  const want: Record<string, string> = {
    [RETENTION_POLICY.raw]: cfg.retention?.raw ?? '30d',
    [RETENTION_POLICY.jobs]: cfg.retention?.jobs ?? 'INF',
  }
  const [shown] = await ql.query(`SHOW RETENTION POLICIES ON ${quoteIdent(cfg.bucket)}`)
  const rows = shown.series[0]?.values ?? []
  const have = new Map(rows.map((r) => [String(r[0]), durationMs(String(r[1]))]))
  for (const [rp, duration] of Object.entries(want)) {
    const ms = duration === 'INF' ? 0 : durationMs(duration)
    const on = `${quoteIdent(rp)} ON ${quoteIdent(cfg.bucket)}`
    if (!have.has(rp)) await ql.query(`CREATE RETENTION POLICY ${on} DURATION ${duration} REPLICATION 1`)
    else if (have.get(rp) !== ms) await ql.query(`ALTER RETENTION POLICY ${on} DURATION ${duration}`)
  }
}
