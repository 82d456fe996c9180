import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readdirSync } from 'node:fs'
import type { InfluxConfig } from '../../lib/config.ts'
import { silentLogger as log } from '../../lib/log.ts'
import { createInfluxQL, quoteIdent, quoteString } from '../../lib/influx/influxql.ts'
import { toLine, type LinePoint } from '../../lib/influx/line-protocol.ts'
import { detectServer } from '../../lib/influx/server.ts'
import { createDurableWriter, type DurableWriterOptions } from '../../lib/influx/writer.ts'
import { startFakeInflux } from '../support/fake-influx.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'

let influxd: Influxd
let dbCount = 0

beforeAll(async () => {
  influxd = await startInfluxd()
})
afterAll(async () => {
  await influxd?.stop()
})

const T0 = 1_700_000_000
const config = (): InfluxConfig => ({ url: influxd.url, bucket: `writer_${++dbCount}`, queryLanguage: 'influxql' })
const writerFor = (influx: InfluxConfig, dir = tempDir(), over: Partial<DurableWriterOptions> = {}) =>
  createDurableWriter({ influx, dir, maxBytes: 2 ** 28, log, retryMinMs: 50, retryMaxMs: 200, ...over })
const points = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) =>
    toLine({ measurement: 'seq', tags: { host: `h${(from + i) % 7}` }, fields: { n: BigInt(from + i) }, time: T0 + from + i }),
  )

async function count(influx: InfluxConfig, measurement = 'seq'): Promise<number> {
  const q = createInfluxQL(influx)
  const [r] = await q.query(`SELECT count("n") FROM ${quoteIdent(measurement)}`)
  return (r.series[0]?.values[0][1] as number | undefined) ?? 0
}

describe('durable writer against a real influxd', () => {
  it('detects 1.6.7 as the v1 API', async () => {
    expect(await detectServer(config())).toEqual({ version: expect.stringMatching(/^1\.6\.7/), api: 'v1' })
  })

  it('creates the database and writes 20k points that count back exactly', async () => {
    const influx = config()
    const w = await writerFor(influx)
    expect(await w.write(points(0, 20_000))).toEqual({ accepted: 20_000, dropped: 0 })
    await w.flush()
    await w.close()
    expect(await count(influx)).toBe(20_000)
    const q = createInfluxQL(influx)
    const [sum] = await q.query('SELECT sum("n") FROM "seq" WHERE time >= $from', { from: '2023-11-14T22:13:20Z' })
    expect(sum.series[0].values[0][1]).toBe((19_999 * 20_000) / 2)
    expect(w.stats()).toMatchObject({ deliveredLines: 20_000, writeErrors: 0, serverVersion: expect.stringMatching(/^1\.6\.7/) })
  })

  it('stores escaped names, values and integers beyond 2^53 exactly as written', async () => {
    const influx = config()
    const tricky: LinePoint = {
      measurement: 'we"ird m,x',
      tags: { 'p a=th': "/proj/it's, é😀", nl: 'a\nb' },
      fields: { s: 'say "hi"\\ C:\\', big: 2n ** 62n + 1n, f: -1.5e-7, ok: true },
      time: T0,
    }
    const w = await writerFor(influx)
    await w.write([toLine(tricky)])
    await w.flush()
    await w.close()
    const q = createInfluxQL(influx)
    const where = `${quoteIdent('p a=th')} = ${quoteString("/proj/it's, é😀")} AND nl = $nl`
    const [r] = await q.query(`SELECT * FROM ${quoteIdent('we"ird m,x')} WHERE ${where}`, { nl: 'a\\nb' })
    expect(r.series[0].rows[0]).toMatchObject({ s: 'say "hi"\\ C:\\', f: -1.5e-7, ok: true, nl: 'a\\nb' })
    const csv = await fetch(`${influxd.url}/query?db=${influx.bucket}&q=${encodeURIComponent(`SELECT big FROM "we\\"ird m,x"`)}`, {
      headers: { accept: 'application/csv' },
    })
    expect(await csv.text()).toContain(String(2n ** 62n + 1n))
  })

  it('loses nothing and keeps order while influxd is stopped during 10 writes', async () => {
    const influx = config()
    const w = await writerFor(influx)
    await w.write(points(0, 1000))
    await w.flush()
    await influxd.stop()
    try {
      for (let i = 0; i < 10; i++) {
        // Same series and time in every batch: the value stored last shows the batch delivered last.
        const order = toLine({ measurement: 'order', tags: {}, fields: { batch: BigInt(i) }, time: T0 })
        expect(await w.write([...points(1000 + i * 1000, 1000), order])).toEqual({ accepted: 1001, dropped: 0 })
      }
      expect(w.stats()).toMatchObject({ spoolSegments: 10, pendingLines: 10_010 })
      expect(w.stats().writeErrors).toBeGreaterThan(0)
    } finally {
      await influxd.start()
    }
    await w.flush()
    await w.close()
    expect(await count(influx)).toBe(11_000)
    const q = createInfluxQL(influx)
    const [order] = await q.query('SELECT batch FROM "order"')
    const [sum] = await q.query('SELECT sum(n) FROM seq')
    expect(order.series[0].values).toEqual([[T0, 9]])
    expect(sum.series[0].values[0][1]).toBe((10_999 * 11_000) / 2)
  })

  it('delivers what a closed writer left on disk from a new writer on the same dir', async () => {
    const influx = config()
    const dir = tempDir()
    await influxd.stop()
    try {
      const a = await writerFor(influx, dir, { closeTimeoutMs: 300 })
      await a.write(points(0, 3000))
      await a.write(points(3000, 3000))
      await a.close()
      expect(readdirSync(dir).filter((f) => f.endsWith('.lp'))).toHaveLength(2)
    } finally {
      await influxd.start()
    }
    const b = await writerFor(influx, dir)
    await b.write(points(6000, 1000))
    await b.flush()
    await b.close()
    expect(await count(influx)).toBe(7000)
    expect(readdirSync(dir).filter((f) => f.endsWith('.lp'))).toEqual([])
  })
})

describe('v2 API path through @influxdata/influxdb-client', () => {
  it('detects 2.7.10 and writes to /api/v2/write with Token, org, bucket and precision=ms', async () => {
    const fake = await startFakeInflux('2.7.10')
    try {
      const influx: InfluxConfig = { url: fake.url, token: 'tok3n', org: 'acme', bucket: 'qa', queryLanguage: 'influxql' }
      const w = await writerFor(influx, tempDir(), { batchLines: 5000 })
      await w.write(points(0, 12_000))
      await w.flush()
      await w.close()
      const writes = fake.requests.filter((r) => r.path === '/api/v2/write')
      expect(writes).toHaveLength(3)
      for (const r of writes) {
        expect(r.headers.authorization).toBe('Token tok3n')
        expect(Object.fromEntries(r.query)).toEqual({ org: 'acme', bucket: 'qa', precision: 'ms' })
        expect(r.headers['user-agent']).toMatch(/influxdb-client-js/)
      }
      expect(fake.accepted).toEqual(points(0, 12_000))
      expect(fake.requests.some((r) => r.path === '/write' || r.path === '/query')).toBe(false)
      expect(w.stats().serverVersion).toBe('2.7.10')
    } finally {
      await fake.close()
    }
  })
})
