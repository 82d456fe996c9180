import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createGrafanaSink, GrafanaApiError } from '../../../api/annotations/grafana.ts'
import { startFakeGrafana, type FakeGrafana } from '../../support/fake-grafana.ts'

let fake: FakeGrafana
let token: string
beforeAll(async () => {
  fake = await startFakeGrafana()
  token = fake.token
})
afterAll(() => fake.close())
afterEach(async () => {
  fake.setLatency(0)
  fake.failNext(0, 500)
  fake.dropNext(0)
  fake.token = token
  await fake.up()
})

const T = Date.UTC(2025, 0, 15, 10, 0, 0, 123)
const sink = (over: { token?: string; timeoutMs?: number; url?: string } = {}) =>
  createGrafanaSink({ url: over.url ?? fake.url, token: over.token ?? token, timeoutMs: over.timeoutMs ?? 2000 })
const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('should fail'),
    (e: unknown) => e as GrafanaApiError,
  )

describe('createGrafanaSink against the fake Grafana', () => {
  it('creates an org-wide annotation with Bearer auth, epoch-ms time, tags and text', async () => {
    const id = await sink().create({ time: T, tags: ['qactivity', 'job:j1', 'name:render'], text: 'render (job j1) started' })
    const req = fake.requests.at(-1)!
    expect([req.method, req.path, req.status]).toEqual(['POST', '/api/annotations', 200])
    expect(req.headers.authorization).toBe(`Bearer ${token}`)
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.json).toEqual({ time: T, tags: ['qactivity', 'job:j1', 'name:render'], text: 'render (job j1) started' })
    expect(req.json).not.toHaveProperty('dashboardUID')
    expect(req.json).not.toHaveProperty('panelId')
    const stored = fake.annotations.find((a) => a.id === id)!
    expect(stored).toMatchObject({ time: T, timeEnd: T, dashboardId: 0, dashboardUID: '', panelId: 0 })
    expect(fake.violations).toEqual([])
  })

  it('patches timeEnd and text, turning the point into a region', async () => {
    const s = sink()
    const id = await s.create({ time: T, tags: ['qactivity', 'job:j2'], text: 'started' })
    await s.patch(id, { timeEnd: T + 60_000, text: 'succeeded' })
    expect(fake.requests.at(-1)).toMatchObject({ method: 'PATCH', path: `/api/annotations/${id}`, status: 200 })
    expect(fake.requests.at(-1)!.json).toEqual({ timeEnd: T + 60_000, text: 'succeeded' })
    expect(fake.annotations.find((a) => a.id === id)).toMatchObject({ time: T, timeEnd: T + 60_000, text: 'succeeded' })
  })

  it('creates a region in one call when timeEnd is given', async () => {
    const id = await sink().create({ time: T, timeEnd: T + 5000, tags: ['qactivity', 'job:r'], text: 'r' })
    expect(fake.annotations.find((a) => a.id === id)).toMatchObject({ time: T, timeEnd: T + 5000 })
  })

  it('finds by ANDed tags and overlapping time range, leaving out other jobs and times', async () => {
    const s = sink()
    const a = await s.create({ time: T + 1, tags: ['qactivity', 'job:f1'], text: 'a' })
    const b = await s.create({ time: T + 1, tags: ['qactivity', 'comment', 'job:f1'], text: 'b' })
    await s.create({ time: T + 1, tags: ['qactivity', 'job:f2'], text: 'other job' })
    await s.create({ time: T + 100_000, tags: ['qactivity', 'job:f1'], text: 'later' })
    const found = await s.find({ tags: ['qactivity', 'job:f1'], from: T, to: T + 2 })
    expect(found.map((x) => x.id).sort()).toEqual([a, b].sort())
    const q = fake.requests.at(-1)!.query
    expect(q.getAll('tags')).toEqual(['qactivity', 'job:f1'])
    expect([q.get('from'), q.get('to'), q.get('type')]).toEqual([String(T), String(T + 2), 'annotation'])
    expect(found.find((x) => x.id === a)).toEqual({ id: a, time: T + 1, text: 'a', tags: ['qactivity', 'job:f1'] })
    const comments = await s.find({ tags: ['qactivity', 'comment', 'job:f1'], from: T, to: T + 2 })
    expect(comments.map((x) => x.id)).toEqual([b])
  })

  it('the fake refuses seconds, fractions and dashboard references, as the outbox never sends', async () => {
    const e = await failure(sink().create({ time: Math.floor(T / 1000), tags: [], text: 'seconds' }))
    expect(e).toBeInstanceOf(GrafanaApiError)
    expect([e.status, e.retriable, e.configError]).toEqual([400, false, false])
    expect(e.message).toBe(`[POST] /api/annotations: 400 Bad Request (time must be epoch milliseconds, got ${Math.floor(T / 1000)})`)
    const raw = await fetch(`${fake.url}/api/annotations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ time: T, text: 'x', dashboardUID: 'abc', panelId: 2 }),
    })
    expect(raw.status).toBe(400)
    expect(fake.violations.at(-1)).toEqual({ method: 'POST', path: '/api/annotations', fields: ['dashboardUID', 'panelId'] })
    const frac = await fetch(`${fake.url}/api/annotations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ time: T + 0.5, text: 'x' }),
    })
    expect([frac.status, await frac.json()]).toEqual([400, { message: 'bad request data' }])
  })

  it('maps 401/403 to retriable configuration errors without the token in the message', async () => {
    const e401 = await failure(sink({ token: 'glsa_wrongSecret_00000000' }).create({ time: T, tags: [], text: 'x' }))
    expect(e401.message).toBe('[POST] /api/annotations: 401 Unauthorized (Unauthorized)')
    expect([e401.status, e401.retriable, e401.configError]).toEqual([401, true, true])
    expect(e401.message).not.toContain('glsa_')
    fake.failNext(1, 403, `permissions missing for ${token}`)
    const e403 = await failure(sink().create({ time: T, tags: [], text: 'x' }))
    expect([e403.status, e403.retriable, e403.configError]).toEqual([403, true, true])
    expect(e403.message).toBe('[POST] /api/annotations: 403 Forbidden (permissions missing for ***)')
    expect(JSON.stringify(e403)).not.toContain(token)
  })

  it('maps 5xx and 429 to retriable, other 4xx to not retriable, in one line', async () => {
    fake.failNext(1, 503, 'database is locked\nretry later')
    const e503 = await failure(sink().create({ time: T, tags: [], text: 'x' }))
    expect(e503.message).toBe('[POST] /api/annotations: 503 Service Unavailable (database is locked retry later)')
    fake.failNext(1, 429, 'slow down')
    const e429 = await failure(sink().patch(1, { text: 'x' }))
    fake.failNext(1, 400, 'bad request data')
    const e400 = await failure(sink().patch(1, { text: 'x' }))
    const e404 = await failure(sink().patch(999_999, { text: 'x' }))
    expect([e503.retriable, e429.retriable, e400.retriable, e404.retriable]).toEqual([true, true, false, false])
    expect(e404.message).toBe('[PATCH] /api/annotations/999999: 404 Not Found (Annotation not found)')
    expect(e404.status).toBe(404)
  })

  it('treats a 404 on the collection route (wrong GRAFANA_URL prefix) as a configuration error', async () => {
    const e = await failure(sink({ url: `${fake.url}/grafana` }).create({ time: T, tags: [], text: 'x' }))
    expect(e.message).toBe('[POST] /api/annotations: 404 Not Found (Not found)')
    expect([e.retriable, e.configError]).toEqual([true, true])
    expect(fake.requests.at(-1)!.path).toBe('/grafana/api/annotations')
  })

  it('maps connection refused and timeouts to retriable one-line errors', async () => {
    await fake.down()
    const s = sink()
    // The first call may pick a kept-alive socket the fake just closed ("other side closed"): also retriable.
    const stale = await failure(s.create({ time: T, tags: [], text: 'x' }))
    expect(stale.retriable).toBe(true)
    const down = await failure(s.create({ time: T, tags: [], text: 'x' }))
    expect(down.retriable).toBe(true)
    expect(down.status).toBeUndefined()
    expect(down.message).toMatch(/^\[POST\] \/api\/annotations: connect ECONNREFUSED 127\.0\.0\.1:\d+$/)
    await fake.up()
    fake.setLatency(60_000) // beyond the test's timeout: only the client's timeout can end the call
    const slow = await failure(sink({ timeoutMs: 100 }).find({ tags: ['qactivity'], from: T, to: T + 1 }))
    expect(slow.message).toBe('[GET] /api/annotations: timed out after 100 ms')
    expect(slow.retriable).toBe(true)
  })

  it('aborts on the caller signal', async () => {
    fake.setLatency(60_000) // beyond the test's timeout: only the abort can end the call
    const ac = new AbortController()
    const p = failure(sink().create({ time: T, tags: [], text: 'x' }, ac.signal))
    setTimeout(() => ac.abort(), 50)
    const e = await p
    expect(e.message).toBe('[POST] /api/annotations: aborted')
    expect(e.retriable).toBe(true)
  })

  it('keeps a path prefix of the configured URL and never puts URL credentials on the wire', async () => {
    const id = await sink().create({ time: T, tags: ['p'], text: 'x' })
    expect(id).toBeGreaterThan(0)
    const withCreds = new URL(fake.url)
    withCreds.username = 'admin'
    withCreds.password = 'hunter2'
    await sink({ url: withCreds.href }).create({ time: T, tags: ['p'], text: 'y' })
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${token}`)
  })
})
