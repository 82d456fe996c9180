import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import { createApiClient } from '../../../cli/api-client.ts'

/** The CLI's own transport (node:http, no fetch) against a real local server. */
let server: Server
let base = ''
const seen: Array<{ method?: string; url?: string; auth?: string; type?: string; body: string }> = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body })
      if (req.url?.startsWith('/api/v1/jobs/stall')) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"id":') // and never the rest
        return
      }
      if (req.url === '/api/v1/jobs/missing') {
        res.writeHead(404, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ error: { code: 'not_found', message: 'no job "missing"' } }))
      }
      res.writeHead(201, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ id: 'J1', echo: body }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const a = server.address()
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`
})
afterAll(() => {
  server.closeAllConnections()
  return new Promise<void>((r) => server.close(() => r()))
})

describe('createApiClient without an injected fetch', () => {
  it('sends JSON with the token and decodes the answer', async () => {
    const api = createApiClient({ url: base + '/', token: 'tok-0123456789abcdef' })
    const out = await api.request<{ id: string; echo: string }>('POST', '/jobs', { body: { name: 'render' } })
    expect(out).toEqual({ id: 'J1', echo: '{"name":"render"}' })
    expect(seen.at(-1)).toMatchObject({
      method: 'POST',
      url: '/api/v1/jobs',
      auth: 'Bearer tok-0123456789abcdef',
      type: 'application/json',
    })
  })

  it('turns an error answer, a refused connection and a stalled body into one-line ApiErrors', async () => {
    const api = createApiClient({ url: base, timeoutMs: 200 })
    await expect(api.request('GET', '/jobs/missing')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'no job "missing" (404)',
    })
    await expect(api.request('GET', '/jobs/stall')).rejects.toMatchObject({
      status: 0,
      message: `no answer from the qactivity API at ${base} within 0.2 s`,
    })
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()))
    const a = closed.address()
    await new Promise<void>((r) => closed.close(() => r()))
    const down = createApiClient({ url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` })
    await expect(down.request('GET', '/jobs')).rejects.toThrow(
      /^cannot reach the qactivity API at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/,
    )
  })
})
