import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createGrafanaSink } from '../../../api/annotations/grafana.ts'
import {
  completeText,
  initialAnnotationSync,
  startOutbox,
  type Outbox,
  type OutboxDeps,
  type OutboxStore,
} from '../../../api/annotations/outbox.ts'
import type { Job, StoreData } from '../../../jobs/types.ts'
import { createLogger } from '../../../lib/log.ts'
import { startFakeGrafana, type FakeGrafana, type StoredAnnotation } from '../../support/fake-grafana.ts'
import { until } from '../../support/wait.ts'

/**
 * A stand-in for jobs/store.ts (written concurrently): same contract — `fn` runs synchronously on the data,
 * the promise resolves after a (simulated) write. `failNext` makes writes reject like a full disk.
 */
class MemStore implements OutboxStore {
  data: StoreData = { version: 1, jobs: {}, outbox: [], nextSeq: 1 }
  writes = 0
  failNext = 0
  /** every job's annotation.state after each update, consecutive duplicates removed */
  states = new Map<string, string[]>()
  async update<R>(fn: (data: StoreData) => R): Promise<R> {
    const r = fn(this.data)
    for (const [id, job] of Object.entries(this.data.jobs)) {
      const seen = this.states.get(id) ?? []
      if (seen.at(-1) !== job.annotation.state) seen.push(job.annotation.state)
      this.states.set(id, seen)
    }
    await new Promise((resolve) => setImmediate(resolve))
    if (this.failNext > 0) {
      this.failNext--
      throw new Error('ENOSPC: no space left on device, write')
    }
    this.writes++
    return r
  }
}

const T = Date.UTC(2025, 2, 1, 8, 0, 0, 250)
const iso = (ms: number) => new Date(ms).toISOString()

function newJob(id: string, at: number, enabled = true): Job {
  return {
    id,
    name: 'render',
    cluster: '',
    status: 'running',
    startedAt: iso(at),
    endedAt: null,
    paths: ['/projects/x'],
    clients: [],
    labels: { project: 'x' },
    comments: [],
    notify: [],
    annotation: initialAnnotationSync(enabled),
    capacity: [],
    createdBy: 'ci',
    updatedAt: iso(at),
  }
}

// What the routes will do: change the job and queue its annotation in one update, then kick.
async function startJob(store: MemStore, ob: Outbox, id: string, at = T) {
  await store.update((d) => {
    d.jobs[id] = newJob(id, at, ob.enabled)
    ob.start(d, id)
  })
  ob.kick()
}
async function addComment(store: MemStore, ob: Outbox, id: string, text: string, at: number, author = 'alice') {
  await store.update((d) => {
    d.jobs[id].comments.push({ at: iso(at), author, text })
    ob.comment(d, id)
  })
  ob.kick()
}
async function completeJob(store: MemStore, ob: Outbox, id: string, at: number, status: 'succeeded' | 'failed' = 'succeeded') {
  await store.update((d) => {
    Object.assign(d.jobs[id], { status, endedAt: iso(at), updatedAt: iso(at) })
    ob.complete(d, id)
  })
  ob.kick()
}

let fake: FakeGrafana
const logLines: string[] = []
const unhandled: unknown[] = []
const onUnhandled = (e: unknown) => unhandled.push(e)
const outboxes: Outbox[] = []

beforeAll(async () => {
  fake = await startFakeGrafana()
  process.on('unhandledRejection', onUnhandled)
})
afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((o) => o.stop()))
  fake.setLatency(0)
  fake.failNext(0, 500)
  fake.dropNext(0)
  await fake.up()
})
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  await fake.close()
  expect(unhandled).toEqual([])
  expect(logLines.join('\n')).not.toContain(fake.token)
})

function setup(over: Partial<OutboxDeps> & { timeoutMs?: number; store?: MemStore } = {}) {
  const store = over.store ?? new MemStore()
  const sink = 'sink' in over ? over.sink : createGrafanaSink({ url: fake.url, token: fake.token, timeoutMs: over.timeoutMs ?? 2000 })
  const ob = startOutbox({
    store,
    sink,
    log: createLogger('debug', {}, (l) => logLines.push(l)),
    retryMinMs: over.retryMinMs ?? 10,
    retryMaxMs: over.retryMaxMs ?? 80,
    now: over.now,
  })
  outboxes.push(ob)
  return { store, ob }
}

const ofJob = (id: string): StoredAnnotation[] => fake.withTags(`job:${id}`)
const regionOf = (id: string) => ofJob(id).filter((a) => !a.tags.includes('comment') && !a.tags.includes('regression'))
const commentsOf = (id: string) => ofJob(id).filter((a) => a.tags.includes('comment'))
const accepted = (method: string) => fake.requests.filter((r) => r.method === method && r.status === 200)

describe('annotation outbox', () => {
  it('the completion text rounds the duration as the CLI and the reports do', () => {
    const job = { id: 'j1', name: 'render', labels: {}, status: 'succeeded' as const, startedAt: '2026-11-23T10:00:00.000Z' }
    expect(completeText({ ...job, endedAt: '2026-11-23T10:00:11.960Z' })).toBe('render (job j1) succeeded after 12s')
    expect(completeText({ ...job, endedAt: '2026-11-23T11:04:59.000Z' })).toBe('render (job j1) succeeded after 1h 05m')
  })

  it('delivers start, comment and completion in order with Grafana-shaped bodies', async () => {
    const { store, ob } = setup()
    const n0 = fake.requests.length
    await startJob(store, ob, 'j1')
    expect(store.data.jobs.j1.annotation.state).toBe('pending')
    expect(store.data.outbox).toMatchObject([{ kind: 'start', jobId: 'j1', seq: 1 }])
    await addComment(store, ob, 'j1', 'frames 1-100 done', T + 1000)
    await completeJob(store, ob, 'j1', T + 65_000)
    await ob.drain()

    const reqs = fake.requests.slice(n0)
    expect(reqs.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/annotations',
      'POST /api/annotations',
      `PATCH /api/annotations/${store.data.jobs.j1.annotation.id}`,
    ])
    expect(reqs[0].json).toEqual({ time: T, tags: ['qactivity', 'job:j1', 'name:render'], text: 'render (job j1) started · project=x' })
    expect(reqs[1].json).toEqual({ time: T + 1000, tags: ['qactivity', 'comment', 'job:j1'], text: 'alice: frames 1-100 done' })
    expect(reqs[2].json).toEqual({
      timeEnd: T + 65_000,
      text: 'render (job j1) succeeded after 1m 05s · project=x',
      tags: ['qactivity', 'job:j1', 'name:render'],
    })
    expect(reqs.every((r) => r.headers.authorization === `Bearer ${fake.token}`)).toBe(true)

    expect(regionOf('j1')).toMatchObject([{ time: T, timeEnd: T + 65_000, dashboardUID: '', panelId: 0 }])
    expect(commentsOf('j1')).toMatchObject([{ time: T + 1000, timeEnd: T + 1000, text: 'alice: frames 1-100 done' }])
    expect(store.data.jobs.j1.annotation).toEqual({ state: 'synced', id: regionOf('j1')[0].id, comments: 1 })
    expect(store.data.outbox).toEqual([])
    expect(store.data.nextSeq).toBe(4)
    expect(fake.violations).toEqual([])
    expect(ob.health()).toEqual({ enabled: true, queued: 0, failing: false, configError: false })
  })

  it('queues nothing and shows "off" when Grafana is not configured', async () => {
    const { store, ob } = setup({ sink: undefined })
    expect(ob.enabled).toBe(false)
    await startJob(store, ob, 'off1')
    await addComment(store, ob, 'off1', 'hi', T + 1)
    await completeJob(store, ob, 'off1', T + 2)
    expect(store.data.outbox).toEqual([])
    expect(store.data.nextSeq).toBe(1)
    expect(store.data.jobs.off1.annotation).toEqual({ state: 'off', comments: 0 })
    await ob.drain(100)
    expect(ob.health()).toMatchObject({ enabled: false, queued: 0 })
  })

  it('keeps everything across an outage and delivers each annotation exactly once afterwards', async () => {
    const { store, ob } = setup()
    await fake.down()
    const jobs = ['o1', 'o2', 'o3']
    for (const [i, id] of jobs.entries()) {
      const t0 = T + i * 10_000
      await startJob(store, ob, id, t0)
      await addComment(store, ob, id, 'first', t0 + 100)
      await addComment(store, ob, id, 'second', t0 + 200, 'bob')
      await completeJob(store, ob, id, t0 + 5000, i === 1 ? 'failed' : 'succeeded')
    }
    await until(() => jobs.some((id) => store.data.jobs[id].annotation.state === 'failing'), 'a failing job')
    const failing = jobs.map((id) => store.data.jobs[id]).find((j) => j.annotation.state === 'failing')!
    expect(failing.annotation.lastError).toMatch(
      /^\[(POST|GET)\] \/api\/annotations: (connect ECONNREFUSED 127\.0\.0\.1:\d+|other side closed)$/,
    )
    expect(store.data.outbox).toHaveLength(12)
    expect(ob.health()).toMatchObject({ failing: true, queued: 12, configError: false })
    await new Promise((r) => setTimeout(r, 200)) // a few retries while down
    expect(store.data.outbox).toHaveLength(12)

    await fake.up()
    await ob.drain(10_000)
    for (const [i, id] of jobs.entries()) {
      const t0 = T + i * 10_000
      expect(regionOf(id)).toHaveLength(1)
      expect(regionOf(id)[0]).toMatchObject({ time: t0, timeEnd: t0 + 5000 })
      expect(regionOf(id)[0].text).toContain(i === 1 ? 'failed after 5s' : 'succeeded after 5s')
      expect(
        commentsOf(id)
          .map((a) => a.text)
          .sort(),
      ).toEqual(['alice: first', 'bob: second'])
      expect(store.data.jobs[id].annotation).toEqual({ state: 'synced', id: regionOf(id)[0].id, comments: 2 })
    }
    expect(store.data.outbox).toEqual([])
    expect(ob.health().failing).toBe(false)
  })

  it('does not post twice when a POST landed but its answer was lost', async () => {
    const { store, ob } = setup()
    const n0 = fake.requests.length
    fake.dropNext(1)
    await startJob(store, ob, 'lost1')
    await ob.drain()
    expect(regionOf('lost1')).toHaveLength(1)
    expect(store.data.jobs.lost1.annotation).toMatchObject({ state: 'synced', id: regionOf('lost1')[0].id })
    expect(fake.requests.slice(n0).map((r) => r.method)).toEqual(['POST', 'GET']) // the lookup found it
    expect(store.data.jobs.lost1.annotation.lastError).toBeUndefined()

    fake.dropNext(1)
    await addComment(store, ob, 'lost1', 'once only', T + 500)
    await ob.drain()
    expect(commentsOf('lost1')).toHaveLength(1)
    expect(store.data.jobs.lost1.annotation.comments).toBe(1)
  })

  it('does not post twice when Grafana answers after the client timed out', async () => {
    const { store, ob } = setup({ timeoutMs: 100 })
    fake.setLatency(400)
    const n0 = fake.requests.length
    await startJob(store, ob, 'slow1')
    await until(() => store.data.jobs.slow1.annotation.state === 'failing', 'the timeout')
    expect(store.data.jobs.slow1.annotation.lastError).toBe('[POST] /api/annotations: timed out after 100 ms')
    // Counted before the attempt; retries (each a lookup that times out too) may already have begun.
    expect(store.data.outbox[0].kind).toBe('start')
    expect(store.data.outbox[0].attempts).toBeGreaterThanOrEqual(1)
    expect(store.data.outbox[0].notBefore).toEqual(expect.any(String))
    fake.setLatency(0)
    await ob.drain()
    expect(regionOf('slow1')).toHaveLength(1)
    expect(accepted('POST').filter((r) => (r.json as { tags: string[] }).tags.includes('job:slow1'))).toHaveLength(1)
    expect(fake.requests.slice(n0).filter((r) => r.method === 'POST')).toHaveLength(1)
    expect(store.data.jobs.slow1.annotation).toMatchObject({ state: 'synced', id: regionOf('slow1')[0].id })
  })

  it('never delays the caller: kick() returns at once and the store stays free while Grafana is slow', async () => {
    // Grafana answers after a minute, beyond the test's timeout: a call that waited for it would fail
    // the test, whatever the machine's load (no wall-clock bound needed).
    const { store, ob } = setup({ timeoutMs: 120_000 })
    fake.setLatency(60_000)
    await startJob(store, ob, 'busy1')
    await until(
      () => fake.requests.some((r) => (r.json as { tags?: string[] } | undefined)?.tags?.includes('job:busy1') ?? false),
      'the POST',
    )
    // A delivery is now in flight; job calls go on undisturbed.
    for (let i = 0; i < 20; i++) await addComment(store, ob, 'busy1', `c${i}`, T + i + 1)
    ob.kick()
    expect(store.data.jobs.busy1.annotation.state).toBe('pending')

    // Shutdown aborts the call in flight; the task stays queued, marked as attempted.
    await ob.stop()
    // Counted before the attempt; retries (each a lookup that times out too) may already have begun.
    expect(store.data.outbox[0].kind).toBe('start')
    expect(store.data.outbox[0].attempts).toBeGreaterThanOrEqual(1)
    expect(store.data.outbox).toHaveLength(21)

    // After a restart the landed POST is found, not repeated.
    fake.setLatency(0)
    const again = setup({ store })
    await again.ob.drain()
    expect(regionOf('busy1')).toHaveLength(1)
    expect(commentsOf('busy1')).toHaveLength(20)
    expect(store.data.jobs.busy1.annotation).toMatchObject({ state: 'synced', comments: 20, id: regionOf('busy1')[0].id })
  })

  it('drops a task Grafana refuses (400) with lastError, then recovers with the next task', async () => {
    const { store, ob } = setup()
    fake.failNext(1, 400, 'bad request data')
    await startJob(store, ob, 'bad1')
    await ob.drain()
    expect(regionOf('bad1')).toEqual([])
    expect(store.data.jobs.bad1.annotation).toEqual({
      state: 'failing',
      comments: 0,
      lastError: 'start annotation dropped: [POST] /api/annotations: 400 Bad Request (bad request data)',
    })
    // Completion without a start annotation creates the region itself.
    await completeJob(store, ob, 'bad1', T + 3_600_000)
    await ob.drain()
    expect(regionOf('bad1')).toMatchObject([
      { time: T, timeEnd: T + 3_600_000, text: 'render (job bad1) succeeded after 1h 00m · project=x' },
    ])
    expect(store.data.jobs.bad1.annotation).toEqual({ state: 'synced', id: regionOf('bad1')[0].id, comments: 0 })
  })

  it('shows pending → failing → synced on the job, with backoff between retries', async () => {
    const { store, ob } = setup({ retryMinMs: 30, retryMaxMs: 30 })
    fake.failNext(2, 503, 'database is locked')
    const n0 = fake.requests.length
    await startJob(store, ob, 'st1')
    await until(() => store.data.jobs.st1.annotation.state === 'failing', 'failing')
    expect(store.data.jobs.st1.annotation.lastError).toBe('[POST] /api/annotations: 503 Service Unavailable (database is locked)')
    expect(ob.health()).toMatchObject({ failing: true, lastError: store.data.jobs.st1.annotation.lastError })
    await ob.drain()
    expect(store.states.get('st1')).toEqual(['pending', 'failing', 'synced'])
    expect(store.data.jobs.st1.annotation.lastError).toBeUndefined()
    const times = fake.requests.slice(n0).map((r) => r.method)
    expect(times).toEqual(['POST', 'GET', 'GET', 'POST']) // 503 (not landed), lookup 503, lookup: nothing, POST
    expect(regionOf('st1')).toHaveLength(1)
  })

  it("gives the region the job's automatic tags once its summary knows them (the completion queued again)", async () => {
    const { store, ob } = setup()
    await startJob(store, ob, 'tg1')
    await completeJob(store, ob, 'tg1', T + 10)
    await ob.drain()
    await store.update((d) => {
      d.jobs.tg1.summary = { state: 'done', stats: { tags: ['small-io', 'cluster-hog'] } }
      ob.complete(d, 'tg1')
    })
    ob.kick()
    await ob.drain()
    expect(regionOf('tg1')).toMatchObject([{ tags: ['qactivity', 'job:tg1', 'name:render', 'tag:small-io', 'tag:cluster-hog'] }])
  })

  it('posts a regression alert as a point at the job end, its flags in words, once even when queued twice', async () => {
    const { store, ob } = setup()
    await startJob(store, ob, 'rg1')
    await completeJob(store, ob, 'rg1', T + 10)
    await ob.drain()
    const flags = [
      { text: 'read IOPS 2.3× the median of the last 5 runs' },
      { text: 'bytes written 40 % of the median of the last 5 runs' },
    ]
    await store.update((d) => {
      d.jobs.rg1.summary = { state: 'done', stats: { regression: { runs: 5, flags } } }
      ob.regression(d, 'rg1')
      ob.regression(d, 'rg1') // queued twice (a recomputed summary): the second finds the first
    })
    ob.kick()
    await ob.drain()
    const alerts = ofJob('rg1').filter((a) => a.tags.includes('regression'))
    expect(alerts).toMatchObject([
      {
        time: T + 10,
        tags: ['qactivity', 'regression', 'job:rg1'],
        text: 'render (job rg1): read IOPS 2.3× the median of the last 5 runs; bytes written 40 % of the median of the last 5 runs',
      },
    ])
  })

  it('never sends a completion before its start, even when the start is being retried', async () => {
    const { store, ob } = setup()
    fake.failNext(1, 502, 'bad gateway')
    const n0 = fake.requests.length
    await startJob(store, ob, 'ord1')
    await completeJob(store, ob, 'ord1', T + 10)
    await ob.drain()
    const reqs = fake.requests.slice(n0).filter((r) => r.status === 200)
    expect(reqs.map((r) => r.method)).toEqual(['GET', 'POST', 'PATCH'])
    expect(regionOf('ord1')).toMatchObject([{ time: T, timeEnd: T + 10 }])
  })

  it('keeps tasks queued on 401 (configuration error) until the token works', async () => {
    const { store, ob } = setup()
    const good = fake.token
    fake.token = 'glsa_rotatedToken_12345678'
    await startJob(store, ob, 'auth1')
    // (an attempt that timed out on a loaded machine is retried, after a GET looking whether the POST
    // landed after all: the 401 is what it must come to, on either)
    await until(() => store.data.jobs.auth1.annotation.lastError?.includes('401'), 'a 401')
    expect(store.data.jobs.auth1.annotation).toMatchObject({
      state: 'failing',
      lastError: expect.stringMatching(/^\[(POST|GET)\] \/api\/annotations: 401 Unauthorized \(Unauthorized\)$/),
    })
    expect(ob.health()).toMatchObject({ configError: true, queued: 1 })
    await new Promise((r) => setTimeout(r, 150))
    expect(store.data.outbox).toHaveLength(1)
    fake.token = good
    await ob.drain()
    expect(regionOf('auth1')).toHaveLength(1)
    expect(ob.health().configError).toBe(false)
  })

  it('re-creates the region when the start annotation was deleted in Grafana', async () => {
    const { store, ob } = setup()
    await startJob(store, ob, 'del1')
    await ob.drain()
    const oldId = store.data.jobs.del1.annotation.id!
    const del = await fetch(`${fake.url}/api/annotations/${oldId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${fake.token}` },
    })
    expect(del.status).toBe(200)
    await completeJob(store, ob, 'del1', T + 2000)
    await ob.drain()
    expect(regionOf('del1')).toMatchObject([{ time: T, timeEnd: T + 2000 }])
    expect(regionOf('del1')[0].id).not.toBe(oldId)
    expect(store.data.jobs.del1.annotation).toMatchObject({ state: 'synced', id: regionOf('del1')[0].id })
  })

  it('after a crash mid-POST (attempts > 0 on disk) reuses the annotation that landed', async () => {
    const store = new MemStore()
    const job = newJob('crash1', T)
    store.data.jobs.crash1 = job
    store.data.outbox.push({ kind: 'start', jobId: 'crash1', seq: 7, attempts: 1 })
    store.data.nextSeq = 8
    const landed = await createGrafanaSink({ url: fake.url, token: fake.token }).create({
      time: T,
      tags: ['qactivity', 'job:crash1', 'name:render'],
      text: 'render (job crash1) started · project=x',
    })
    const n0 = fake.requests.length
    const { ob } = setup({ store }) // starts delivering what is queued
    await ob.drain()
    expect(fake.requests.slice(n0).map((r) => r.method)).toEqual(['GET'])
    expect(store.data.jobs.crash1.annotation).toMatchObject({ state: 'synced', id: landed })
  })

  it('survives store write failures without unhandled rejections and delivers later', async () => {
    const { store, ob } = setup()
    await startJob(store, ob, 'disk1')
    store.failNext = 2 // the in-flight mark and the outcome of the next attempts
    await addComment(store, ob, 'disk1', 'x', T + 1).catch(() => {}) // the route's own write fails too
    store.failNext = 0
    await ob.drain()
    expect(regionOf('disk1')).toHaveLength(1)
    expect(commentsOf('disk1')).toHaveLength(1)
    expect(store.data.jobs.disk1.annotation.state).toBe('synced')
  })

  it('drops tasks of jobs that left the store', async () => {
    const { store, ob } = setup()
    await fake.down()
    await startJob(store, ob, 'gone1')
    await until(() => store.data.jobs.gone1.annotation.state === 'failing', 'failing')
    await store.update((d) => {
      delete d.jobs.gone1
    })
    await fake.up()
    await ob.drain()
    expect(regionOf('gone1')).toEqual([])
    // The task leaves the queue inside the store update; the line is logged once that update resolves.
    await until(() => logLines.some((l) => l.includes('job no longer in the store') && l.includes('gone1')), 'the drop logged')
  })
})
