import { STATUS_CODES } from 'node:http'
import { redact } from '../lib/errors.ts'
import { clip } from '../lib/log.ts'
import { oneLine } from '../lib/text.ts'

/** Qumulo's error body: `{module, error_class, description, stack, user_visible, inner?}` (docs/qumulo/api.md §1.4). */
export interface QumuloErrorEnvelope {
  module?: string
  errorClass?: string
  description?: string
  inner?: QumuloErrorEnvelope
}

/** What went wrong with one request, for {@link QumuloApiError}. */
export interface QumuloApiErrorInit {
  method: string
  /** Request path and query, never the host or credentials. */
  url: string
  status?: number
  statusText?: string
  envelope?: QumuloErrorEnvelope
  /** Shown when there is no envelope (a plain-text body, a timeout, a network error, a bad shape). */
  detail?: string
  retriable?: boolean
  cause?: unknown
}

/** Statuses worth trying again later: the cluster is busy, restarting or behind a flaky proxy. */
const RETRIABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504])

const MAX_DETAIL_CHARS = 200

/**
 * A failed Qumulo REST call: an HTTP error status, a timeout, a network error or a response of the
 * wrong shape. The message is one line, e.g.
 * `[GET] /v1/file-system: 503 Service Unavailable (fs_internal_error: description)`.
 */
export class QumuloApiError extends Error {
  /** HTTP status; undefined for timeouts and network errors. */
  readonly status?: number
  readonly method: string
  /** Request path and query only. */
  readonly url: string
  /** `error_class` of Qumulo's error envelope, when the body had one. */
  readonly errorClass?: string
  /** `description` of Qumulo's error envelope, when the body had one. */
  readonly description?: string
  /** True when the same request may succeed later (5xx, 408, 429, timeouts, network errors). */
  readonly retriable: boolean

  constructor(init: QumuloApiErrorInit) {
    super(formatMessage(init), { cause: init.cause })
    this.name = 'QumuloApiError'
    this.status = init.status
    this.method = init.method
    this.url = init.url
    this.errorClass = init.envelope?.errorClass
    this.description = init.envelope?.description
    this.retriable = init.retriable ?? (init.status === undefined || RETRIABLE_STATUSES.has(init.status))
  }
}

/** Qumulo's answers meaning "this path is not a directory that exists": the caller's path is wrong, the cluster is fine. */
const NOT_A_DIRECTORY_CLASSES = new Set(['fs_no_such_entry_error', 'fs_no_such_path_error', 'fs_not_a_directory_error'])

/** True when Qumulo answered that a path does not exist or is not a directory (as opposed to an outage). */
export function isMissingDirectory(err: unknown): err is QumuloApiError {
  return err instanceof QumuloApiError && (err.status === 404 || NOT_A_DIRECTORY_CLASSES.has(err.errorClass ?? ''))
}

/** A response body that does not have the documented shape; the client adds method and path. */
export class InvalidResponseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidResponseError'
  }
}

function formatMessage(init: QumuloApiErrorInit): string {
  const status = init.status === undefined ? '' : `${init.status} ${init.statusText || STATUS_CODES[init.status] || ''}`.trim()
  const detail = init.envelope ? describeEnvelope(init.envelope) : init.detail && oneLine(init.detail, MAX_DETAIL_CHARS)
  const text = status && detail ? `${status} (${detail})` : status || detail || 'request failed'
  return redact(`[${init.method}] ${clip(init.url)}: ${text}`)
}

function describeEnvelope(e: QumuloErrorEnvelope): string {
  const head = [e.errorClass, e.description && oneLine(e.description, MAX_DETAIL_CHARS)].filter(Boolean).join(': ')
  const inner = e.inner ? describeEnvelope(e.inner) : ''
  return inner && inner !== head ? `${head} <- ${inner}` : head
}
