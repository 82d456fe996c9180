import { OpenAPIHono, createRoute } from '@hono/zod-openapi'
import type { AuthEnv } from '../auth.ts'
import { ApiError } from '../errors.ts'
import type { JobService } from '../jobs.ts'
import { CompareQuery, ComparisonSchema, ErrorSchema, IdParam, StatsSchema } from '../schemas.ts'
import type { StatsService } from '../../stats/service.ts'

const security = [{ bearerAuth: [] }]
const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } })

/** Runs a stats computation; an unreachable InfluxDB is a 503, not a 500. */
async function guarded<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f()
  } catch (e) {
    if (e instanceof ApiError) throw e
    throw new ApiError(503, 'influx_unavailable', `InfluxDB query failed: ${(e as Error).message}`)
  }
}

export function statsRoutes(jobs: JobService, stats: StatsService | undefined) {
  const app = new OpenAPIHono<AuthEnv>()
  const need = () => {
    if (!stats) throw new ApiError(503, 'stats_unavailable', 'stats need InfluxDB (INFLUX_URL)')
    return stats
  }

  app.openapi(
    createRoute({ method: 'get', path: '/jobs/{id}/stats', security, summary: 'The job’s aggregates (live while running)', request: { params: IdParam }, responses: { 200: { description: 'interface.md §6', content: { 'application/json': { schema: StatsSchema } } }, 400: err('invalid id'), 401: err('no token'), 404: err('no such job'), 503: err('InfluxDB unreachable') } }),
    async (c) => {
      const job = await jobs.find(c.req.valid('param').id)
      return c.json(await guarded(() => need().stats(job)), 200)
    },
  )

  app.openapi(
    createRoute({ method: 'get', path: '/compare', security, summary: 'Jobs side by side, deltas against the first', request: { query: CompareQuery }, responses: { 200: { description: 'stats and deltas', content: { 'application/json': { schema: ComparisonSchema } } }, 400: err('fewer than 2 or malformed ids'), 401: err('no token'), 404: err('a job does not exist'), 503: err('InfluxDB unreachable') } }),
    async (c) => {
      const list = await Promise.all(c.req.valid('query').jobs.map((id) => jobs.find(id)))
      return c.json(await guarded(() => need().compare(list)), 200)
    },
  )
  return app
}
