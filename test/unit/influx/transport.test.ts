import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InfluxError } from '../../../lib/influx/server.ts'
import { createTransport } from '../../../lib/influx/transport.ts'
import { startFakeInflux, type FakeInflux } from '../../support/fake-influx.ts'

let fake: FakeInflux
beforeAll(async () => {
  fake = await startFakeInflux()
})
afterAll(() => fake.close())

const cfg = (token?: string) => ({ url: fake.url, bucket: 'qa', org: 'acme', token, queryLanguage: 'influxql' as const })
const v1 = { version: '1.6.7', api: 'v1' as const }
const v2 = { version: '2.7.10', api: 'v2' as const }

describe('v1 transport', () => {
  it('posts to /write with db, precision=ms and Basic auth for user:password', async () => {
    fake.onWrite = () => ({ status: 204 })
    const t = createTransport(cfg('u:p'), v1)
    await t.send('m f=1 1\nm f=2 2')
    t.close?.()
    const req = fake.requests.at(-1)!
    expect([req.method, req.path, req.query.get('db'), req.query.get('precision')]).toEqual(['POST', '/write', 'qa', 'ms'])
    expect(req.headers.authorization).toBe('Basic dTpw')
    expect(req.body).toBe('m f=1 1\nm f=2 2')
  })

  it('makes 5xx and 429 retriable and other 4xx not, with the server message', async () => {
    const t = createTransport(cfg(), v1)
    fake.onWrite = () => ({ status: 503, body: '{"error":"busy"}' })
    const e503 = (await t.send('m f=1 1').catch((e: unknown) => e)) as InfluxError
    fake.onWrite = () => ({ status: 429, body: '' })
    const e429 = (await t.send('m f=1 1').catch((e: unknown) => e)) as InfluxError
    fake.onWrite = () => ({ status: 400, body: '{"error":"partial write: unable to parse \'x\': invalid field format dropped=0"}' })
    const e400 = (await t.send('x').catch((e: unknown) => e)) as InfluxError
    t.close?.()
    expect([e503.retriable, e429.retriable, e400.retriable]).toEqual([true, true, false])
    expect(e400).toBeInstanceOf(InfluxError)
    expect(e400.status).toBe(400)
    expect(e400.message).toContain('partial write: unable to parse')
  })

  it('times out a hanging server with a retriable error', async () => {
    fake.onWrite = () => 'hang'
    const t = createTransport(cfg(), v1, { timeoutMs: 200 })
    const err = (await t.send('m f=1 1').catch((e: unknown) => e)) as InfluxError
    t.close?.()
    expect(err.retriable).toBe(true)
    expect(err.message).toMatch(/timed out after 200 ms/)
  })
})

describe('v2 transport (official client)', () => {
  it('posts to /api/v2/write with Token, org, bucket and precision=ms', async () => {
    fake.onWrite = () => ({ status: 204 })
    const t = createTransport(cfg('s3cret'), v2)
    await t.send(Buffer.from('m f=1 1\n'))
    t.close?.()
    const req = fake.requests.at(-1)!
    expect(req.path).toBe('/api/v2/write')
    expect(Object.fromEntries(req.query)).toEqual({ org: 'acme', bucket: 'qa', precision: 'ms' })
    expect(req.headers.authorization).toBe('Token s3cret')
    expect(req.body).toBe('m f=1 1\n')
  })

  it('maps client errors to InfluxError', async () => {
    const t = createTransport(cfg('s3cret'), v2, { timeoutMs: 200 })
    fake.onWrite = () => ({ status: 400, body: '{"code":"invalid","message":"unable to parse \'x\'"}' })
    const e400 = (await t.send('x').catch((e: unknown) => e)) as InfluxError
    fake.onWrite = () => ({ status: 500, body: '{"code":"internal error","message":"boom"}' })
    const e500 = (await t.send('m f=1 1').catch((e: unknown) => e)) as InfluxError
    fake.onWrite = () => 'hang'
    const eHang = (await t.send('m f=1 1').catch((e: unknown) => e)) as InfluxError
    t.close?.()
    expect([e400.status, e400.retriable, e400.body]).toEqual([400, false, "unable to parse 'x'"])
    expect([e500.status, e500.retriable]).toEqual([500, true])
    expect(eHang).toBeInstanceOf(InfluxError)
    expect(eHang.retriable).toBe(true)
  })
})
