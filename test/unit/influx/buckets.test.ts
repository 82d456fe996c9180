import { afterEach, describe, expect, it } from 'vitest'
import { ensureBuckets } from '../../../lib/influx/server.ts'
import { startFakeInflux, type FakeInflux } from '../../support/fake-influx.ts'

let fake: FakeInflux
afterEach(async () => fake?.close())

/** InfluxDB 2.x's bucket API as documented: list by name, orgs by name, create with retention rules. */
function bucketApi(f: FakeInflux, existing: string[], allowed = true) {
  const created: unknown[] = []
  f.onOther = (req) => {
    if (!allowed) return { status: 403, body: '{"code":"forbidden","message":"insufficient permissions"}' }
    if (req.method === 'GET' && req.path === '/api/v2/buckets')
      return {
        status: 200,
        body: JSON.stringify({ buckets: existing.filter((b) => b === req.query.get('name')).map((name) => ({ name })) }),
      }
    if (req.method === 'GET' && req.path === '/api/v2/orgs')
      return { status: 200, body: JSON.stringify({ orgs: [{ id: 'org1', name: 'lab' }] }) }
    if (req.method === 'POST' && req.path === '/api/v2/buckets') {
      created.push(JSON.parse(req.body))
      return { status: 201, body: req.body }
    }
    return { status: 404, body: '404 page not found' }
  }
  return created
}

describe('ensureBuckets (InfluxDB 2.x)', () => {
  it('creates the missing buckets of the measurements kept apart, with their retention; leaves existing ones', async () => {
    fake = await startFakeInflux('v2.7.1')
    const created = bucketApi(fake, ['q/qactivity_jobs'])
    await ensureBuckets({
      url: fake.url,
      token: 't0k',
      org: 'lab',
      bucket: 'q',
      queryLanguage: 'influxql',
      retention: { raw: '7d', jobs: 'INF' },
    })
    expect(created).toEqual([{ orgID: 'org1', name: 'q/qactivity_raw', retentionRules: [{ type: 'expire', everySeconds: 604800 }] }])
    expect(fake.requests.every((r) => r.headers.authorization === 'Token t0k')).toBe(true)
  })

  it('a token that may not create them gets one line naming what to create', async () => {
    fake = await startFakeInflux('v2.7.1')
    bucketApi(fake, [], false)
    await expect(ensureBuckets({ url: fake.url, token: 't', org: 'lab', bucket: 'q', queryLanguage: 'influxql' })).rejects.toThrow(
      'InfluxDB: create the buckets "q/qactivity_raw" (retention 30d) and "q/qactivity_jobs" (retention forever) ' +
        'in org "lab", or use a token that may',
    )
  })
})
