import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { ApiConfig } from '../lib/config.ts'
import type { Logger } from '../lib/log.ts'
import { authenticate, requireRole, roleFor, type AuthEnv } from './auth.ts'
import { ApiError, errorBody, onError, validationHook } from './errors.ts'
import type { JobService } from '../jobs/service.ts'
import { jobRoutes } from './routes/jobs.ts'
import { statsRoutes } from './routes/stats.ts'
import { reportRoutes } from './routes/reports.ts'
import type { ReportSources } from '../reports/build.ts'
import type { Reports } from '../reports/service.ts'
import type { StatsService } from '../stats/service.ts'
import type { ActivityRange } from '../stats/range.ts'
import type { Summaries } from '../stats/summary.ts'
import { canonicalAddress } from './schemas.ts'
import { slurmRoutes, type SlurmStatus } from './routes/slurm.ts'

/** Largest request body (docs/interface.md §5). */
export const MAX_BODY_BYTES = 64 * 1024

/** `GET /healthz`: liveness plus reachability of what the API depends on. */
export type HealthReport = Record<string, unknown> & { status: 'ok' | 'degraded' }

/** Everything the HTTP layer needs; no socket, so tests drive it with `app.request()`. */
export interface AppDeps {
  service: JobService
  /** per-job aggregates; stats routes answer 503 without it */
  stats?: StatsService
  /** a cluster's activity over any range (`GET /activity`); 503 without it */
  range?: ActivityRange
  /** recomputes a completed job's summary on `POST /api/v1/admin/jobs/{id}/summary` */
  summaries?: Summaries
  /** what job reports are made from; the report route answers 503 without it */
  reportSources?: ReportSources
  /** e-mailed reports; off (409) without SMTP_URL */
  reports?: Reports
  /** `QACTIVITY_REPORT_TO` @defaultValue [] */
  reportTo?: string[]
  /** why e-mailed reports are off although SMTP_URL is set (an unreadable queue file) */
  reportsOff?: string
  config: Pick<ApiConfig, 'auth' | 'tokens' | 'trustProxy'>
  log: Logger
  health?: () => Promise<HealthReport>
  /** moves old completed jobs to the archive now; returns how many */
  archive?: () => Promise<number>
  version?: string
  /** the Slurm syncs' reports (`POST /api/v1/slurm/status`), shown at /healthz; the route answers 404 without it */
  slurm?: SlurmStatus
}

/** The caller's address: the socket peer, or the last `X-Forwarded-For` hop when a proxy is trusted. */
export function callerAddress(trustProxy: boolean) {
  return (c: Context): string | undefined => {
    if (trustProxy) {
      // The right-most entry was added by our proxy; entries left of it are whatever the client sent.
      const hops = (c.req.header('x-forwarded-for') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
      const last = hops.at(-1)
      if (last) return canonicalAddress(last)
    }
    try {
      const address = getConnInfo(c).remote.address
      return address ? canonicalAddress(address) : undefined
    } catch {
      return undefined // app.request() in tests has no socket
    }
  }
}

/** Refuses multipart and body-without-type; an empty body without a type is validated as `{}` JSON. */
const contentTypeGate = async (c: Context, next: () => Promise<void>) => {
  if (!['POST', 'PUT', 'PATCH'].includes(c.req.method)) return next()
  const type = c.req.header('content-type')
  if (type && /^multipart\//i.test(type))
    throw new ApiError(415, 'unsupported_media_type', 'use application/json or application/x-www-form-urlencoded')
  if (!type) {
    if ((await c.req.raw.clone().arrayBuffer()).byteLength > 0)
      throw new ApiError(415, 'unsupported_media_type', 'Content-Type is required: application/json or application/x-www-form-urlencoded')
    const headers = new Headers(c.req.raw.headers)
    headers.set('content-type', 'application/json')
    c.req.raw = new Request(c.req.raw.url, { method: c.req.method, headers, body: '{}' })
  }
  return next()
}

export function createApp(deps: AppDeps): OpenAPIHono<AuthEnv> {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook })
  app.onError(onError(deps.log))
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404))

  app.get('/healthz', async (c) => c.json(deps.health ? await deps.health() : { status: 'ok' }, 200))

  app.use(
    '/api/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json(errorBody('payload_too_large', `body over ${MAX_BODY_BYTES / 1024} KiB`), 413),
    }),
  )
  app.use('/api/*', contentTypeGate)
  app.use('/api/*', authenticate(deps.config))
  app.use('/api/*', async (c, next) => requireRole(roleFor(c.req.method, c.req.path))(c, next))

  app.route('/api/v1', jobRoutes(deps.service, callerAddress(deps.config.trustProxy)))
  app.route('/api/v1', statsRoutes(deps.service, deps.stats, deps.log, deps.range))
  app.route('/api/v1', reportRoutes(deps.service, deps.reportSources, deps.reports, deps.reportTo ?? [], deps.log, deps.reportsOff))
  if (deps.slurm) app.route('/api/v1', slurmRoutes(deps.slurm))
  app.post('/api/v1/admin/jobs/:id/summary', async (c) => {
    const job = await deps.service.find(c.req.param('id'))
    if (job.status === 'running') throw new ApiError(409, 'conflict', `job "${job.id}" is still running`)
    const stats = await deps.summaries?.compute(job.id)
    if (!stats) throw new ApiError(503, 'influx_unavailable', 'summary not computed; see the job’s summary.lastError')
    return c.json(stats, 200)
  })
  app.post('/api/v1/admin/archive', async (c) => c.json({ archived: deps.archive ? await deps.archive() : 0 }, 200))

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' })
  app.doc31('/api/v1/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'qactivity job API',
      version: deps.version ?? '0.1.0',
      description: 'Jobs on a Qumulo cluster: attach paths and clients, comment, complete (README: The job API).',
    },
    servers: [{ url: '/' }],
  })
  return app
}
