import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { AuthEnv } from '../auth.ts'
import { ErrorSchema } from '../schemas.ts'

const security = [{ bearerAuth: [] }]
const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } })
const line = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must be one line')

/** What `qactivity slurm sync` reports after each round (slurm/sync.ts SyncReport). */
export const SlurmStatusBody = z
  .strictObject({
    slurmCluster: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'slurmCluster: a Slurm ClusterName'),
    periodSeconds: z.number().int().min(1).max(86_400),
    lastSync: z.iso.datetime().optional(),
    reconciled: z.number().int().nonnegative(),
    pendingEvents: z.number().int().nonnegative(),
    failing: z.boolean(),
    lastError: line(2000).optional(),
    lastErrorAt: z.iso.datetime().optional(),
  })
  .openapi('SlurmSyncStatus')

type Report = z.output<typeof SlurmStatusBody>

/**
 * The Slurm syncs' last reports, for `/healthz` (`slurm`): kept in memory, one per Slurm cluster. A
 * sync that has not reported for three of its periods is `stale`: it stopped, or cannot reach the API.
 */
export function slurmStatus(now: () => number = Date.now) {
  const reports = new Map<string, { report: Report; at: number }>()
  return {
    set(report: Report): void {
      reports.set(report.slurmCluster, { report, at: now() })
    },
    /** undefined until a sync reported; `ok` false when one fails or went quiet */
    health(): { ok: boolean; clusters: Record<string, Report & { reportedAt: string; stale: boolean }> } | undefined {
      if (!reports.size) return undefined
      const clusters = Object.fromEntries(
        [...reports].map(([name, { report, at }]) => {
          const stale = now() - at > 3 * report.periodSeconds * 1000
          return [name, { ...report, reportedAt: new Date(at).toISOString(), stale }]
        }),
      )
      return { ok: Object.values(clusters).every((c) => !c.failing && !c.stale), clusters }
    },
  }
}
export type SlurmStatus = ReturnType<typeof slurmStatus>

export function slurmRoutes(status: SlurmStatus) {
  const app = new OpenAPIHono<AuthEnv>()
  app.openapi(
    createRoute({
      method: 'post',
      path: '/slurm/status',
      security,
      summary: 'The Slurm sync reports how it is doing (shown at /healthz)',
      request: { body: { content: { 'application/json': { schema: SlurmStatusBody } } } },
      responses: {
        204: { description: 'recorded' },
        400: err('invalid report'),
        401: err('missing or unknown token'),
        403: err('the token’s role is too low'),
      },
    }),
    async (c) => {
      status.set(c.req.valid('json'))
      return c.body(null, 204)
    },
  )
  return app
}
