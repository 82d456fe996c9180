import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createTransport } from '../../../qumulo/transport.ts'

let server: http.Server | undefined
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())))

describe('the Qumulo transport on a kept-alive connection', () => {
  it('sends a request again on a fresh connection when the server had closed the idle one', async () => {
    // Each connection answers its first request and drops on the second: what a server whose
    // keep-alive timeout ran out looks like to a client that reuses the socket at that moment.
    let connections = 0
    server = http.createServer((req, res) => {
      const sock = req.socket as typeof req.socket & { served?: number }
      sock.served = (sock.served ?? 0) + 1
      if (sock.served > 1) return void sock.destroy()
      res.setHeader('connection', 'keep-alive')
      res.end(`{"n":${sock.served}}`)
    })
    server.on('connection', () => connections++)
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const t = createTransport({ url: `http://127.0.0.1:${port}`, insecureTls: false, cluster: 'x', timeoutMs: 5000 })
    try {
      expect((await t.send({ method: 'GET', path: '/v1/file-system' })).status).toBe(200)
      expect((await t.send({ method: 'GET', path: '/v1/file-system' })).status).toBe(200)
      expect(connections).toBe(2)
    } finally {
      t.close()
    }
  })
})
