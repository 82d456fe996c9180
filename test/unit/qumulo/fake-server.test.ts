import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../lib/log.ts'
import { createQumuloClient, QumuloApiError, type QumuloClient } from '../../../qumulo/client.ts'
import { qumuloConfig } from '../simulator/helpers.ts'

// Shapes the simulator never produces, acted out by a bare node:http server.
interface Reply {
  status: number
  body?: string
}
type Route = (req: IncomingMessage, body: string) => Reply

const PASSWORD = 'fake-server-pw-42'
const ENVELOPE_401 = JSON.stringify({
  module: 'qumulo.rest',
  error_class: 'http_unauthorized_error',
  description: 'Need to log in first',
  stack: [],
  user_visible: true,
})
const json = (value: unknown): Reply => ({ status: 200, body: JSON.stringify(value) })

let server: Server
let url: string
let logins = 0
let validToken: string | undefined
let client: QumuloClient

const authorized = (req: IncomingMessage) => validToken !== undefined && req.headers.authorization === `Bearer ${validToken}`

const routes: Record<string, Route> = {
  'POST /v1/session/login': (_, body) => {
    if (JSON.parse(body).password !== PASSWORD) return { status: 401 }
    validToken = `session-v1:fake${++logins}`
    return json({ bearer_token: validToken })
  },
  'GET /v1/file-system': (req) =>
    authorized(req)
      ? json({ block_size_bytes: '4096', total_size_bytes: 10, free_size_bytes: '4', snapshot_size_bytes: '0' })
      : { status: 401, body: ENVELOPE_401 },
  'GET /v1/analytics/activity/current': () => ({ status: 500, body: '<html><body>Internal error</body></html>' }),
  'POST /v1/files/resolve': (_, body) => {
    const ids = JSON.parse(body) as string[]
    return json([{ id: '424242', path: '/stray' }, ...ids.map((id, i) => ({ id, path: `/p/${id}${i % 2 ? '/' : ''}` })).reverse()])
  },
  'GET /v1/version': () => ({ status: 200, body: 'Qumulo Core 7.8.0' }),
  'GET /v1/files/%2Fbad/aggregates/?max-entries=0': () => json({ path: '/bad/', id: '5', total_capacity: 'lots' }),
  'GET /v1/files/%2Fdenied/aggregates/?max-entries=0': () => ({ status: 401 }),
  'GET /v1/files/%2Fecho/aggregates/?max-entries=0': (req) => ({
    status: 502,
    body: `proxy saw Authorization: ${req.headers.authorization}`,
  }),
}

function handle(req: IncomingMessage, respond: (r: Reply) => void) {
  let body = ''
  req.on('data', (c: Buffer) => (body += c))
  req.on('end', () => {
    const route = routes[`${req.method} ${req.url}`]
    respond(route ? route(req, body) : { status: 404 })
  })
}

beforeAll(async () => {
  server = createServer((req, res) => handle(req, (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body ?? '')))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
beforeEach(() => {
  client?.close()
  client = createQumuloClient(qumuloConfig(url, { username: 'svc', password: PASSWORD }), silentLogger)
  logins = 0
  validToken = undefined
})

async function failure(p: Promise<unknown>): Promise<QumuloApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(QumuloApiError)
  return err as QumuloApiError
}

describe('Qumulo client against odd server answers', () => {
  it('logs in again once after a 401 that carries a JSON envelope', async () => {
    await client.fileSystem()
    validToken = 'session-v1:revoked'
    expect((await client.fileSystem()).totalBytes).toBe(10n)
    expect(logins).toBe(2)
  })

  it('gives up after one re-login when the retry is refused too', async () => {
    const err = await failure(client.aggregates('/denied'))
    expect(err).toMatchObject({ status: 401, retriable: false })
    expect(logins).toBe(2)
    expect(client.stats()).toEqual({ requests: 4, logins: 2, failures: 1 })
  })

  it('reports a non-JSON 500 with a short excerpt of the body', async () => {
    const err = await failure(client.activity())
    expect(err).toMatchObject({ status: 500, retriable: true, errorClass: undefined })
    expect(err.message).toBe(
      '[GET] /v1/analytics/activity/current: 500 Internal Server Error (body: <html><body>Internal error</body></html>)',
    )
  })

  it('builds the resolve map from ids, not from the answer order', async () => {
    const paths = await client.resolve(['11', '22', '33'])
    expect(paths).toEqual(
      new Map([
        ['11', '/p/11'],
        ['22', '/p/22/'],
        ['33', '/p/33'],
      ]),
    )
  })

  it('reports a 200 that is not JSON, or not the documented shape, as invalid', async () => {
    const notJson = await failure(client.version())
    expect(notJson.message).toBe('[GET] /v1/version: 200 OK (invalid response: not JSON (unparsable body))')
    expect(notJson.retriable).toBe(false)
    const badShape = await failure(client.aggregates('/bad'))
    expect(badShape.message).toBe(
      '[GET] /v1/files/%2Fbad/aggregates/?max-entries=0: 200 OK ' +
        '(invalid response: total_capacity: expected a decimal string, got "lots"; ' +
        'total_data: missing; total_meta: missing; and 2 more)',
    )
  })

  it('keeps tokens out of error messages even when the server echoes them', async () => {
    const err = await failure(client.aggregates('/echo'))
    expect(err.message).not.toMatch(/fake\d/)
    expect(err.message).toContain('Bearer ***')
  })

  it('explains a login refused with an empty 401 body, without the password', async () => {
    client.close()
    client = createQumuloClient(qumuloConfig(url, { username: 'svc', password: 'not-' + PASSWORD }), silentLogger)
    const err = await failure(client.fileSystem())
    expect(err.message).toBe(
      '[POST] /v1/session/login: 401 Unauthorized (login refused for user "svc": check QUMULO_USERNAME and QUMULO_PASSWORD)',
    )
  })
})
