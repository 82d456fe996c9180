import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInfluxQL, quoteIdent, quoteString } from '../../../lib/influx/influxql.ts'
import { InfluxError } from '../../../lib/influx/server.ts'
import { startFakeInflux, type FakeInflux } from '../../support/fake-influx.ts'

describe('quoteIdent', () => {
  it.each([
    ['plain', 'read', '"read"'],
    ['double quotes', 'a"b', '"a\\"b"'],
    ['backslashes', 'C:\\x\\', '"C:\\\\x\\\\"'],
    ['newlines', 'a\nb', '"a\\nb"'],
    ['Unicode', 'mé😀', '"mé😀"'],
    ['single quotes untouched', "it's", '"it\'s"'],
  ])('quotes %s', (_, input, quoted) => {
    expect(quoteIdent(input)).toBe(quoted)
  })
})

describe('quoteString', () => {
  it.each([
    ['plain', '/proj/a', "'/proj/a'"],
    ['single quotes', "it's", "'it\\'s'"],
    ['backslashes', 'a\\b\\', "'a\\\\b\\\\'"],
    ['newlines', 'a\nb', "'a\\nb'"],
    ['Unicode', 'ünï😀', "'ünï😀'"],
    ['an injection attempt', "x' OR 1=1 --", "'x\\' OR 1=1 --'"],
  ])('quotes %s', (_, input, quoted) => {
    expect(quoteString(input)).toBe(quoted)
  })
})

describe('createInfluxQL', () => {
  let fake: FakeInflux
  beforeAll(async () => {
    fake = await startFakeInflux()
  })
  afterAll(() => fake.close())

  const cfg = () => ({ url: fake.url, bucket: 'qa', queryLanguage: 'influxql' as const, token: 'user:pw' })

  it('posts q, db, epoch=s and bound params, and parses series into rows', async () => {
    fake.onQuery = () => ({
      status: 200,
      body: JSON.stringify({
        results: [
          {
            statement_id: 0,
            series: [
              {
                name: 'm',
                tags: { path: '/a' },
                columns: ['time', 'v'],
                values: [
                  [60, 1.5],
                  [120, 2],
                ],
              },
            ],
          },
          { statement_id: 1 },
        ],
      }),
    })
    const q = createInfluxQL(cfg())
    const res = await q.query('SELECT v FROM m WHERE path = $p; SHOW DATABASES', { p: "/a'b", n: 3 })
    const req = fake.requests.at(-1)!
    expect(req.method).toBe('POST')
    expect(req.query.get('db')).toBe('qa')
    expect(req.query.get('epoch')).toBe('s')
    expect(JSON.parse(req.query.get('params')!)).toEqual({ p: "/a'b", n: 3 })
    expect(req.headers.authorization).toBe('Basic ' + Buffer.from('user:pw').toString('base64'))
    expect(res).toHaveLength(2)
    expect(res[0].series[0]).toMatchObject({
      name: 'm',
      tags: { path: '/a' },
      rows: [
        { time: 60, v: 1.5 },
        { time: 120, v: 2 },
      ],
    })
    expect(res[1]).toEqual({ statementId: 1, series: [] })
  })

  it('throws the statement error with the server message', async () => {
    fake.onQuery = () => ({ status: 200, body: '{"results":[{"statement_id":0,"error":"database not found: qa"}]}' })
    const q = createInfluxQL(cfg())
    const err = await q.query('SELECT 1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InfluxError)
    expect((err as InfluxError).message).toContain('database not found: qa')
    expect((err as InfluxError).retriable).toBe(false)
  })

  it('throws a parse error (HTTP 400) with the server message', async () => {
    fake.onQuery = () => ({ status: 400, body: '{"error":"error parsing query: found EOF"}' })
    const q = createInfluxQL(cfg())
    await expect(q.query('SELECT')).rejects.toThrow(/400 Bad Request: error parsing query: found EOF/)
  })
})
