import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import type { AuthEnv } from '../auth.ts'
import { ApiError, influxUnavailable } from '../errors.ts'
import { InfluxError } from '../../lib/influx/http.ts'
import type { Logger } from '../../lib/log.ts'
import type { JobService } from '../../jobs/service.ts'
import {
  ActivityRangeQuery,
  ActivityRangeSchema,
  UsageQuery,
  UsageSchema,
  CompareQuery,
  ComparisonSchema,
  ErrorSchema,
  IdParam,
  StatsSchema,
} from '../schemas.ts'
import type { ActivityRange } from '../../stats/range.ts'
import { clusterTotals, parseGroup, usageOf, withShares } from '../../stats/usage.ts'
import type { StatsService } from '../../stats/service.ts'

const security = [{ bearerAuth: [] }]
const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } })

export function statsRoutes(jobs: JobService, stats: StatsService | undefined, log: Logger, range?: ActivityRange) {
  const app = new OpenAPIHono<AuthEnv>()
  // InfluxDB failing is a 503; anything else is our bug, logged as a 500 by the app's error handler.
  const guarded = <T>(f: () => Promise<T>): Promise<T> =>
    f().catch((e: unknown) => {
      throw e instanceof InfluxError ? influxUnavailable(e, log, 'stats not computed') : e
    })
  const need = () => {
    if (!stats) throw new ApiError(503, 'stats_unavailable', 'stats need InfluxDB (INFLUX_URL)')
    return stats
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/{id}/stats',
      security,
      summary: 'The job’s aggregates (live while running)',
      request: { params: IdParam },
      responses: {
        200: { description: 'the aggregates (README: What the numbers mean)', content: { 'application/json': { schema: StatsSchema } } },
        400: err('invalid id'),
        401: err('no token'),
        404: err('no such job'),
        503: err('InfluxDB unreachable'),
      },
    }),
    async (c) => {
      const job = await jobs.find(c.req.valid('param').id)
      return c.json(await guarded(() => need().stats(job)), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/compare',
      security,
      summary: 'Jobs side by side, deltas against the first',
      request: { query: CompareQuery },
      responses: {
        200: { description: 'stats and deltas', content: { 'application/json': { schema: ComparisonSchema } } },
        400: err('fewer than 2 or malformed ids'),
        401: err('no token'),
        404: err('a job does not exist'),
        503: err('InfluxDB unreachable'),
      },
    }),
    async (c) => {
      const list = await Promise.all(c.req.valid('query').jobs.map((id) => jobs.find(id)))
      return c.json(await guarded(() => need().compare(list)), 200)
    },
  )
  app.openapi(
    createRoute({
      method: 'get',
      path: '/activity',
      security,
      summary: 'A cluster’s activity over any range, per path, client or cluster: raw points, and rollups beyond raw retention',
      request: { query: ActivityRangeQuery },
      responses: {
        200: {
          description: 'totals and peaks (README: Sizing and retention)',
          content: { 'application/json': { schema: ActivityRangeSchema } },
        },
        400: err('malformed query'),
        401: err('no token'),
        503: err('InfluxDB unreachable'),
      },
    }),
    async (c) => {
      if (!range) throw new ApiError(503, 'stats_unavailable', 'activity needs InfluxDB (INFLUX_URL)')
      const q = c.req.valid('query')
      const iso = (s: number) => new Date(s * 1000).toISOString()
      const part = (p?: { from: number; to: number }) => p && { from: iso(p.from), to: iso(p.to) }
      const a = await guarded(() =>
        range({ cluster: q.cluster, by: q.by, from: q.since.getTime() / 1000, to: (q.until?.getTime() ?? Date.now()) / 1000 }),
      )
      return c.json({ ...a, from: iso(a.from), to: iso(a.to), rollups: part(a.rollups), raw: part(a.raw) }, 200)
    },
  )
  app.openapi(
    createRoute({
      method: 'get',
      path: '/usage',
      security,
      summary: 'Showback: completed jobs of a range grouped by name, cluster or label, with totals and share of the cluster',
      request: { query: UsageQuery },
      responses: {
        200: { description: 'per group (README: What the numbers mean)', content: { 'application/json': { schema: UsageSchema } } },
        400: err('malformed query'),
        401: err('no token'),
        503: err('InfluxDB unreachable (for the shares)'),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const group = parseGroup(q.group)!
      const sinceMs = q.since.getTime()
      const untilMs = q.until?.getTime() ?? Date.now()
      const answer = usageOf(jobs.allJobs(), { group, sinceMs, untilMs, cluster: q.cluster })
      if (range && answer.rows.length) {
        // The cluster's totals over the same range, exact (rollups and raw points): the denominator of the shares.
        const totals = await guarded(() => clusterTotals(range, q.cluster, sinceMs / 1000, untilMs / 1000))
        withShares(answer, totals, group.by === 'cluster')
      }
      return c.json({ group: q.group, since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), ...answer }, 200)
    },
  )
  return app
}
