import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { Hook } from '@hono/zod-openapi'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import type { InfluxError } from '../lib/influx/http.ts'
import { JobError, type JobErrorCode } from '../jobs/errors.ts'

/** An expected failure with the status, code and message the client sees (docs/interface.md §5). */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** `{"error": {"code", "message", "details"?}}` */
export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } }
}

interface Issue {
  code: string
  path: PropertyKey[]
  message: string
  keys?: string[]
}

/** zod failures → 400 naming the field: `name: name must not be empty`. */
export const validationHook: Hook<unknown, any, any, unknown> = (result, c) => {
  if (result.success) return
  const issues = (result.error as { issues: Issue[] }).issues
  const details = issues.map((i) => ({
    field: i.code === 'unrecognized_keys' ? (i.keys ?? []).join(',') : i.path.map(String).join('.') || '(body)',
    message: i.code === 'unrecognized_keys' ? `unknown field${(i.keys ?? []).length > 1 ? 's' : ''}` : i.message,
  }))
  const first = details[0]
  return c.json(errorBody('invalid_request', `${first.field}: ${first.message}`, details), 400)
}

const JOB_STATUS: Record<JobErrorCode, ContentfulStatusCode> = { invalid_request: 400, not_found: 404, conflict: 409 }

const CODES: Partial<Record<number, string>> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
}

/** One place turning thrown errors into responses: expected ones keep their status, anything else is a logged 500. */
export function onError(log: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.details), err.status)
    if (err instanceof JobError) return c.json(errorBody(err.code, err.message, err.details), JOB_STATUS[err.code])
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode
      const message = /malformed json/i.test(err.message) ? 'body is not valid JSON' : err.message || 'request refused'
      return c.json(errorBody(CODES[status] ?? 'error', message), status)
    }
    log.error('Unhandled API error', { method: c.req.method, path: c.req.path, error: messageOf(err) })
    return c.json(errorBody('internal', 'internal error'), 500)
  }
}

/**
 * InfluxDB failing, as a client sees it: a 503 that names no internal address (the InfluxDB URL and
 * the server's words go to the log). "unreachable" when it may answer later (network, timeout, 5xx).
 */
export function influxUnavailable(err: InfluxError, log: Logger, what: string): ApiError {
  log.error(`${what}: InfluxDB failed`, { error: err.message })
  const why = err.retriable ? 'InfluxDB unreachable' : `InfluxDB refused the query${err.status ? ` (HTTP ${err.status})` : ''}`
  return new ApiError(503, 'influx_unavailable', `${what}: ${why}; the server log has the details`)
}
