import { describe, expect, it } from 'vitest'
import { serve } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import { makeApp, TOKENS } from '../../support/api-app.ts'
import type { Job } from '../../../jobs/types.ts'

const J = '/api/v1/jobs'
const form = { 'content-type': 'application/x-www-form-urlencoded' }
const json = async <T = Job>(res: Response) => (await res.json()) as T

describe('job routes', () => {
  it('creates a job from JSON with canonical paths and clients, authored by the token name', async () => {
    const { call } = await makeApp()
    const res = await call('POST', J, {
      name: 'render',
      paths: ['/render/shots/', '//render//shots'],
      clients: ['10.0.0.7/24', '::ffff:10.1.1.1'],
      labels: { shot: '042' },
      comment: 'first run',
    })
    expect(res.status).toBe(201)
    const job = await json(res)
    expect(job).toMatchObject({
      name: 'render',
      status: 'running',
      endedAt: null,
      paths: ['/render/shots'],
      clients: ['10.0.0.0/24', '10.1.1.1'],
      labels: { shot: '042' },
      createdBy: 'ci',
    })
    expect(job.comments).toEqual([{ at: job.startedAt, author: 'ci', text: 'first run' }])
    expect(job.id).toMatch(/^[0-9A-Z]{26}$/)
  })

  it('creates a job from a curl form body, with repeated keys and k=v labels', async () => {
    const { call } = await makeApp()
    const res = await call('POST', J, 'name=render&paths=/a&paths=/b&client=10.0.0.1&label=shot=042&label=team=fx', form)
    expect(res.status).toBe(201)
    expect(await json(res)).toMatchObject({ paths: ['/a', '/b'], clients: ['10.0.0.1'], labels: { shot: '042', team: 'fx' } })
  })

  it('generated ids sort by creation time', async () => {
    const { call } = await makeApp()
    const ids: string[] = []
    for (let i = 0; i < 20; i++) ids.push((await json(await call('POST', J, { name: `j${i}` }))).id)
    expect([...ids].sort()).toEqual(ids)
  })

  it('a client-chosen id is idempotent: the same create returns the same job, new paths attach', async () => {
    const { call } = await makeApp()
    const first = await call('POST', J, { name: 'slurm', id: '48213', paths: ['/a'] })
    expect(first.status).toBe(201)
    const again = await call('POST', J, { name: 'slurm', id: '48213', paths: ['/a'] })
    expect(again.status).toBe(200)
    expect((await json(again)).startedAt).toBe((await json(first)).startedAt)
    const node2 = await json(await call('POST', J, { name: 'slurm', id: '48213', clients: ['10.0.0.2'] }))
    expect(node2).toMatchObject({ id: '48213', paths: ['/a'], clients: ['10.0.0.2'] })
  })

  it('attaching is idempotent and completing twice is a 409', async () => {
    const { call } = await makeApp()
    const { id } = await json(await call('POST', J, { name: 'n' }))
    await call('POST', `${J}/${id}/paths`, { paths: ['/x', '/y'] })
    const job = await json(await call('POST', `${J}/${id}/paths`, { path: '/x' }))
    expect(job.paths).toEqual(['/x', '/y'])
    const done = await call('POST', `${J}/${id}/complete`, 'status=failed', form)
    expect(done.status).toBe(200)
    expect(await json(done)).toMatchObject({ status: 'failed' })
    expect((await call('POST', `${J}/${id}/complete`)).status).toBe(409)
  })

  it('comments are 201 and kept in time order, also after completion', async () => {
    const { call } = await makeApp()
    const { id } = await json(await call('POST', J, { name: 'n' }))
    expect((await call('POST', `${J}/${id}/comments`, { text: 'enabled Maya 64-bit shaders' })).status).toBe(201)
    await call('POST', `${J}/${id}/complete`, {})
    const c2 = await call('POST', `${J}/${id}/comments`, 'text=post-mortem: cache was cold', form)
    expect(await json(c2)).toMatchObject({ author: 'ci', text: 'post-mortem: cache was cold' })
    const job = await json(await call('GET', `${J}/${id}`))
    expect(job.comments.map((c) => c.text)).toEqual(['enabled Maya 64-bit shaders', 'post-mortem: cache was cold'])
  })

  it('completes at a given time', async () => {
    const { call } = await makeApp()
    const { id, startedAt } = await json(await call('POST', J, { name: 'n' }))
    const at = new Date(Date.parse(startedAt) + 1).toISOString()
    expect(await json(await call('POST', `${J}/${id}/complete`, { at }))).toMatchObject({ endedAt: at, status: 'succeeded' })
  })

  it('lists newest first with filters and cursor pagination', async () => {
    const { call } = await makeApp()
    for (let i = 0; i < 7; i++) await call('POST', J, { name: i % 2 ? 'odd' : 'even', labels: { n: String(i) } })
    const page1 = await json<{ jobs: Job[]; nextCursor: string }>(await call('GET', `${J}?limit=3`))
    const page2 = await json<{ jobs: Job[]; nextCursor: string }>(await call('GET', `${J}?limit=3&cursor=${page1.nextCursor}`))
    const page3 = await json<{ jobs: Job[]; nextCursor: string | null }>(await call('GET', `${J}?limit=3&cursor=${page2.nextCursor}`))
    expect([...page1.jobs, ...page2.jobs, ...page3.jobs].map((j) => j.labels.n)).toEqual(['6', '5', '4', '3', '2', '1', '0'])
    expect(page3.nextCursor).toBeNull()
    const odd = await json<{ jobs: Job[] }>(await call('GET', `${J}?name=odd&label=n:3`))
    expect(odd.jobs.map((j) => j.labels.n)).toEqual(['3'])
    const running = await json<{ jobs: Job[] }>(await call('GET', `${J}?status=succeeded`))
    expect(running.jobs).toEqual([])
  })

  it('roles: a reader reads, an admin archives, auth can be turned off', async () => {
    const { call } = await makeApp()
    const { id } = await json(await call('POST', J, { name: 'n' }))
    expect((await call('GET', `${J}/${id}`, undefined, { authorization: `Bearer ${TOKENS[1].token}` })).status).toBe(200)
    expect((await call('POST', '/api/v1/admin/archive', {}, { authorization: `Bearer ${TOKENS[2].token}` })).status).toBe(200)
    const open = await makeApp({ auth: false })
    const res = await open.call('POST', J, { name: 'n' }, { authorization: '' })
    expect(await json(res)).toMatchObject({ createdBy: 'anonymous' })
  })

  it('serves an OpenAPI 3.1 document generated from the validation schemas', async () => {
    const { call } = await makeApp()
    const doc = await json<{
      openapi: string
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>
      components: { securitySchemes: unknown; schemas: Record<string, { additionalProperties?: boolean }> }
    }>(await call('GET', '/api/v1/openapi.json'))
    expect(doc.openapi).toBe('3.1.0')
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/v1/activity',
      '/api/v1/compare',
      '/api/v1/jobs',
      '/api/v1/jobs/{id}',
      '/api/v1/jobs/{id}/clients',
      '/api/v1/jobs/{id}/comments',
      '/api/v1/jobs/{id}/complete',
      '/api/v1/jobs/{id}/paths',
      '/api/v1/jobs/{id}/report',
      '/api/v1/jobs/{id}/report/email',
      '/api/v1/jobs/{id}/stats',
      '/api/v1/usage',
    ])
    expect(Object.keys(doc.paths['/api/v1/jobs'].post.requestBody!.content)).toEqual([
      'application/json',
      'application/x-www-form-urlencoded',
    ])
    expect(doc.components.schemas.CreateJob.additionalProperties).toBe(false)
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: { type: 'http', scheme: 'bearer' } })
  })

  it('answers /healthz without a token', async () => {
    const { app } = await makeApp()
    expect((await app.request('/healthz')).status).toBe(200)
  })
})

describe('the caller’s address, over a real socket', () => {
  async function listen(trustProxy: boolean) {
    const t = await makeApp({ trustProxy })
    const server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((r) => server.once('listening', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return { ...t, url, close: () => new Promise((r) => server.close(r)) }
  }
  const post = (url: string, path: string, headers: Record<string, string> = {}) =>
    fetch(url + path, { method: 'POST', headers: { authorization: `Bearer ${TOKENS[0].token}`, ...headers } })

  it('add-client with no address attaches the socket peer, ignoring X-Forwarded-For by default', async () => {
    const s = await listen(false)
    try {
      const { id } = await json(
        await fetch(s.url + J, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKENS[0].token}`, 'content-type': 'application/json' },
          body: '{"name":"n"}',
        }),
      )
      const job = await json(await post(s.url, `${J}/${id}/clients`, { 'x-forwarded-for': '10.9.9.9' }))
      expect(job.clients).toEqual(['127.0.0.1'])
    } finally {
      await s.close()
    }
  })

  it('with QACTIVITY_TRUST_PROXY the proxy’s hop of X-Forwarded-For is used', async () => {
    const s = await listen(true)
    try {
      const res = await fetch(s.url + J, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS[0].token}`, 'content-type': 'application/json' },
        body: '{"name":"n"}',
      })
      const { id } = await json(res)
      const job = await json(await post(s.url, `${J}/${id}/clients`, { 'x-forwarded-for': '203.0.113.9, 10.1.2.3' }))
      expect(job.clients).toEqual(['10.1.2.3'])
    } finally {
      await s.close()
    }
  })
})
