import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { rootCertificates } from 'node:tls'
import type { QumuloConfig } from '../lib/config.ts'
import { messageOf } from '../lib/errors.ts'

/** One HTTP exchange as the client needs it: status and the whole body as text. */
export interface RawResponse {
  status: number
  statusText: string
  body: string
}

export interface RawRequest {
  method: string
  /** Path and query below the base URL, e.g. `/v1/file-system`. */
  path: string
  body?: string
  token?: string
}

/** Sends requests to one cluster over a keep-alive agent; rejects with {@link TransportError}. */
export interface QumuloTransport {
  send(req: RawRequest): Promise<RawResponse>
  close(): void
}

/** A request that got no HTTP response: timeout, refused connection, TLS failure… */
export class TransportError extends Error {
  /** Worth retrying later (false for certificate problems, which need a configuration change). */
  readonly retriable: boolean
  constructor(message: string, retriable: boolean, cause?: unknown) {
    super(message, { cause })
    this.name = 'TransportError'
    this.retriable = retriable
  }
}

const TLS_VERIFY_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/

export function createTransport(config: QumuloConfig): QumuloTransport {
  const base = new URL(config.url)
  const secure = base.protocol === 'https:'
  const agent = secure
    ? new https.Agent({ keepAlive: true, ca: loadCa(config.caFile), rejectUnauthorized: !config.insecureTls })
    : new http.Agent({ keepAlive: true })
  const prefix = base.pathname.replace(/\/+$/, '')
  const request = secure ? https.request : http.request
  const once = (req: RawRequest, sent: { reused: boolean }) =>
    exchange(
      (onResponse) => {
        const r = request(
          {
            host: base.hostname.replace(/^\[|\]$/g, ''),
            port: base.port,
            agent,
            method: req.method,
            path: prefix + req.path,
            headers: headersOf(req),
          },
          onResponse,
        )
        r.once('socket', () => (sent.reused = r.reusedSocket))
        return r
      },
      req.body,
      config.timeoutMs,
    )
  return {
    async send(req) {
      const sent = { reused: false }
      try {
        return await once(req, sent)
      } catch (err) {
        // A kept-alive connection the server closed while it sat idle (its keep-alive timeout): the
        // request never reached it, so it goes once more on a fresh connection (Node's documented remedy).
        const reset = err instanceof TransportError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET'
        if (!sent.reused || !reset) throw err
        return once(req, { reused: false })
      }
    },
    close: () => agent.destroy(),
  }
}

/** The system CAs plus the configured bundle, read once; undefined keeps Node's default store. */
function loadCa(caFile: string | undefined): string[] | undefined {
  if (!caFile) return undefined
  try {
    return [...rootCertificates, readFileSync(caFile, 'utf8')]
  } catch (err) {
    throw new Error(`Cannot read QUMULO_CA_FILE "${caFile}": ${messageOf(err)}`, { cause: err })
  }
}

function headersOf(req: RawRequest): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = { accept: 'application/json' }
  if (req.token) headers.authorization = `Bearer ${req.token}`
  if (req.body !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = Buffer.byteLength(req.body)
  }
  return headers
}

type Start = (onResponse: (res: http.IncomingMessage) => void) => http.ClientRequest

/** Runs one request with an overall deadline covering connect, send and reading the body. */
function exchange(start: Start, body: string | undefined, timeoutMs: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(timer)
      req.destroy()
      reject(toTransportError(err))
    }
    const req = start((res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', fail)
      res.on('end', () => {
        clearTimeout(timer)
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', body: Buffer.concat(chunks).toString('utf8') })
      })
    })
    const timer = setTimeout(() => fail(new TransportError(`timed out after ${timeoutMs} ms`, true)), timeoutMs)
    req.on('error', fail)
    req.end(body)
  })
}

function toTransportError(err: Error): TransportError {
  if (err instanceof TransportError) return err
  const code = (err as NodeJS.ErrnoException).code ?? ''
  if (TLS_VERIFY_ERROR.test(code)) {
    return new TransportError(`TLS: ${err.message} (trust the cluster with QUMULO_CA_FILE or set QUMULO_INSECURE_TLS=1)`, false, err)
  }
  return new TransportError(err.message || code || 'network error', true, err)
}
