import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { AuthEnv } from '../auth.ts'
import { ApiError, influxUnavailable } from '../errors.ts'
import type { Logger } from '../../lib/log.ts'
import { InfluxError } from '../../lib/influx/http.ts'
import type { JobService } from '../../jobs/service.ts'
import { body, bodyOf } from './jobs.ts'
import { ErrorSchema, IdParam, ReportEmailBody, ReportQuery } from '../schemas.ts'
import type { ReportSources } from '../../reports/build.ts'
import { reportDocument } from '../../reports/document.ts'
import { recipients, type Reports } from '../../reports/service.ts'

const security = [{ bearerAuth: [] }]
const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } })

/** `GET /jobs/{id}/report` and `POST /jobs/{id}/report/email` (issue #6). */
export function reportRoutes(
  jobs: JobService,
  sources: ReportSources | undefined,
  reports: Reports | undefined,
  defaultTo: string[],
  log: Logger,
  offBecause?: string,
) {
  const app = new OpenAPIHono<AuthEnv>()

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/{id}/report',
      security,
      summary: 'The job’s report: HTML (charts inlined) or PDF',
      request: { params: IdParam, query: ReportQuery },
      responses: {
        200: {
          description: 'the report',
          content: { 'text/html': { schema: z.string() }, 'application/pdf': { schema: z.string().openapi({ format: 'binary' }) } },
        },
        400: err('invalid id or format'),
        401: err('no token'),
        404: err('no such job'),
        503: err('InfluxDB unreachable'),
      },
    }),
    async (c) => {
      if (!sources) throw new ApiError(503, 'stats_unavailable', 'reports need InfluxDB (INFLUX_URL)')
      const job = await jobs.find(c.req.valid('param').id)
      // InfluxDB failing is a 503; anything else is our bug, logged as a 500 by the app's error handler.
      const doc = await reportDocument(job, sources, c.req.valid('query').format).catch((e: unknown) => {
        throw e instanceof InfluxError ? influxUnavailable(e, log, 'report not made') : e
      })
      const disposition = `${doc.contentType.startsWith('application/pdf') ? 'attachment' : 'inline'}; filename="${doc.filename}"`
      return c.body(typeof doc.body === 'string' ? doc.body : new Uint8Array(doc.body), 200, {
        'content-type': doc.contentType,
        'content-disposition': disposition,
      }) as never
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/{id}/report/email',
      security,
      summary: 'E-mail the job’s report (queued; sent in the background)',
      request: { params: IdParam, body: body(ReportEmailBody) },
      responses: {
        202: {
          description: 'queued',
          content: { 'application/json': { schema: z.object({ task: z.string(), to: z.array(z.string()) }) } },
        },
        400: err('invalid address, or no recipient'),
        415: err('unsupported content type'),
        401: err('no token'),
        403: err('reader token'),
        404: err('no such job'),
        409: err('reports are off (SMTP_URL unset)'),
      },
    }),
    async (c) => {
      if (!reports) throw new ApiError(409, 'reports_off', offBecause ?? 'reports are off: set SMTP_URL')
      const job = await jobs.find(c.req.valid('param').id)
      const asked = bodyOf<z.infer<typeof ReportEmailBody>>(c).to
      const to = asked ? [...new Set(Array.isArray(asked) ? asked : [asked])] : recipients(job, { to: defaultTo })
      if (!to.length) {
        throw new ApiError(400, 'invalid_request', 'no recipient: give "to", or set the job’s notify or QACTIVITY_REPORT_TO')
      }
      const task = await reports.send(job, to)
      return c.json({ task: task.id, to }, 202)
    },
  )
  return app
}
