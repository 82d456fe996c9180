import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { AuthEnv } from '../auth.ts'
import { ApiError } from '../errors.ts'
import type { JobService } from '../../jobs/service.ts'
import {
  AddClientsBody,
  AddPathsBody,
  CommentBody,
  CompleteBody,
  CreateJobBody,
  ErrorSchema,
  IdParam,
  JobListSchema,
  JobSchema,
  ListQuery,
} from '../schemas.ts'

const security = [{ bearerAuth: [] }]
type JsonResponse<S extends z.ZodType> = { description: string; content: { 'application/json': { schema: S } } }
function errors<const C extends readonly number[]>(...codes: C): { [K in C[number]]: JsonResponse<typeof ErrorSchema> } {
  return Object.fromEntries(
    codes.map((c) => [c, { description: ERROR_TEXT[c], content: { 'application/json': { schema: ErrorSchema } } }]),
  ) as never
}
const ERROR_TEXT: Record<number, string> = {
  400: 'invalid input; the message names the field',
  401: 'missing or unknown token',
  403: 'the token’s role is too low',
  404: 'no such job',
  409: 'conflicts with the job’s state',
  413: 'body over 64 KiB',
  415: 'unsupported content type',
}
/** JSON, or form bodies for curl users; both validated by the same schema. */
export const body = <T extends z.ZodType>(schema: T) => ({
  content: { 'application/json': { schema }, 'application/x-www-form-urlencoded': { schema } },
})
function jobResponse<const S extends number>(status: S, description: string): { [K in S]: JsonResponse<typeof JobSchema> } {
  return { [status]: { description, content: { 'application/json': { schema: JobSchema } } } } as never
}

/** The validated body, whichever of the two content types it came in. */
export function bodyOf<T>(c: Context): T {
  const form = /^application\/x-www-form-urlencoded/i.test(c.req.header('content-type') ?? '')
  return (c.req.valid as (t: string) => T)(form ? 'form' : 'json')
}

/** The address the API sees the caller at (`X-Forwarded-For` only when trusted). */
export type CallerAddress = (c: Context) => string | undefined

export function jobRoutes(service: JobService, callerAddress: CallerAddress) {
  const app = new OpenAPIHono<AuthEnv>()

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs',
      security,
      summary: 'Start a job',
      request: { body: body(CreateJobBody) },
      responses: {
        ...jobResponse(201, 'created'),
        ...jobResponse(200, 'the same create replayed (client-chosen id)'),
        ...errors(400, 401, 403, 409, 413, 415),
      },
    }),
    async (c) => {
      const { path, client, label, ...b } = bodyOf<z.output<typeof CreateJobBody>>(c)
      const input = {
        ...b,
        paths: [...(b.paths ?? []), ...(path ? [path] : [])],
        clients: [...(b.clients ?? []), ...(client ? [client] : [])],
        labels: { ...b.labels, ...label },
      }
      const { job, created } = await service.create(c.get('principal'), input)
      return c.json(job, created ? 201 : 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs',
      security,
      summary: 'List jobs, newest first',
      request: { query: ListQuery },
      responses: {
        200: { description: 'a page of jobs', content: { 'application/json': { schema: JobListSchema } } },
        ...errors(400, 401, 403),
      },
    }),
    (c) => c.json(service.list(c.req.valid('query')), 200),
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/{id}',
      security,
      summary: 'One job',
      request: { params: IdParam },
      responses: { ...jobResponse(200, 'the job'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json(await service.find(c.req.valid('param').id), 200),
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/{id}/paths',
      security,
      summary: 'Attach paths (idempotent)',
      request: { params: IdParam, body: body(AddPathsBody) },
      responses: { ...jobResponse(200, 'the job'), ...errors(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const b = bodyOf<z.output<typeof AddPathsBody>>(c)
      return c.json(await service.addPaths(c.req.valid('param').id, [...(b.path ? [b.path] : []), ...(b.paths ?? [])]), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/{id}/clients',
      security,
      summary: 'Attach clients (idempotent); none = the caller',
      request: { params: IdParam, body: body(AddClientsBody) },
      responses: { ...jobResponse(200, 'the job'), ...errors(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const b = bodyOf<z.output<typeof AddClientsBody>>(c)
      let clients = [...(b.client ? [b.client] : []), ...(b.clients ?? [])]
      if (!clients.length) {
        const caller = callerAddress(c)
        if (!caller) throw new ApiError(400, 'invalid_request', 'clients: none given and the caller’s address is unknown')
        clients = [caller]
      }
      return c.json(await service.addClients(c.req.valid('param').id, clients), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/{id}/comments',
      security,
      summary: 'Comment (the fossil record)',
      request: { params: IdParam, body: body(CommentBody) },
      responses: {
        201: {
          description: 'the comment',
          content: { 'application/json': { schema: z.object({ at: z.string(), author: z.string(), text: z.string() }) } },
        },
        ...errors(400, 401, 403, 404, 413, 415),
      },
    }),
    async (c) =>
      c.json(await service.comment(c.get('principal'), c.req.valid('param').id, bodyOf<z.output<typeof CommentBody>>(c).text), 201),
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/{id}/complete',
      security,
      summary: 'Complete a job',
      request: { params: IdParam, body: body(CompleteBody) },
      responses: { ...jobResponse(200, 'the completed job'), ...errors(400, 401, 403, 404, 409, 413, 415) },
    }),
    async (c) => {
      const b = bodyOf<z.output<typeof CompleteBody>>(c)
      return c.json(await service.complete(c.req.valid('param').id, b.status, b.at, b.labels), 200)
    },
  )

  return app
}
