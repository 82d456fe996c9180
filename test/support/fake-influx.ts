import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A request the fake received. */
export interface Recorded {
  method: string
  path: string
  query: URLSearchParams
  headers: IncomingHttpHeaders
  body: string
}

/** What the fake answers; `hang` never answers (until `close()`). */
export type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'hang'

export interface FakeInflux {
  url: string
  /** Every request, in arrival order. */
  requests: Recorded[]
  /** Lines of every write answered with 2xx, in order. */
  accepted: string[]
  /** Decides the answer to a write (`/write` or `/api/v2/write`); default 204. */
  onWrite: (req: Recorded, attempt: number) => Reply | Promise<Reply>
  /** Decides the answer to `/query`; default an empty result. */
  onQuery: (req: Recorded) => Reply
  /** Decides the answer to any other path (`/api/v2/buckets`…); default 404. */
  onOther: (req: Recorded) => Reply
  /** Sent as `X-Influxdb-Version` on every answer; undefined sends none. */
  version: string | undefined
  close(): Promise<void>
}

/** An InfluxDB stand-in on 127.0.0.1 port 0 that records requests and acts out failures. */
export async function startFakeInflux(version: string | undefined = '1.6.7~rc0'): Promise<FakeInflux> {
  let writes = 0
  const fake: FakeInflux = {
    url: '',
    requests: [],
    accepted: [],
    version,
    onWrite: () => ({ status: 204 }),
    onQuery: () => ({ status: 200, body: '{"results":[{"statement_id":0}]}' }),
    onOther: () => ({ status: 404, body: '404 page not found' }),
    close: async () => {},
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://fake')
      let body = Buffer.concat(chunks).toString('utf8')
      let query = url.searchParams
      if (req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
        query = new URLSearchParams([...url.searchParams, ...new URLSearchParams(body)])
        body = ''
      }
      const rec: Recorded = { method: req.method ?? '', path: url.pathname, query, headers: req.headers, body }
      fake.requests.push(rec)
      let reply: Reply = fake.onOther(rec)
      if (rec.path === '/ping') reply = { status: 204 }
      else if (rec.path === '/query') reply = fake.onQuery(rec)
      else if (rec.path === '/write' || rec.path === '/api/v2/write') {
        reply = await fake.onWrite(rec, ++writes)
        if (reply !== 'hang' && reply.status < 300) fake.accepted.push(...body.split('\n').filter(Boolean))
      }
      if (reply === 'hang') return
      const headers: Record<string, string> = { 'content-type': 'application/json', ...reply.headers }
      if (fake.version !== undefined) headers['x-influxdb-version'] = fake.version
      res.writeHead(reply.status, headers).end(reply.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  fake.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return fake
}

/** `n` distinct, numbered lines `m,k=<tag> seq=<i>i <i>`. */
export function numberedLines(from: number, n: number, tag = 'a'): string[] {
  return Array.from({ length: n }, (_, i) => `m,k=${tag} seq=${from + i}i ${from + i}`)
}
