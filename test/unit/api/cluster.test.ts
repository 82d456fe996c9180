import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { makeApp } from '../../support/api-app.ts'
import { JobService } from '../../../jobs/service.ts'
import { openJobStore } from '../../../jobs/store.ts'
import { silentLogger } from '../../../lib/log.ts'
import type { Job } from '../../../jobs/types.ts'

const J = '/api/v1/jobs'
const form = { 'content-type': 'application/x-www-form-urlencoded' }

describe("a job's cluster", () => {
  it('defaults to the only configured cluster; JSON and form bodies may name it', async () => {
    const { call } = await makeApp()
    expect(((await (await call('POST', J, { name: 'r' })).json()) as Job).cluster).toBe('test')
    expect(((await (await call('POST', J, 'name=r&cluster=test', form)).json()) as Job).cluster).toBe('test')
    const wrong = await call('POST', J, { name: 'r', cluster: 'other' })
    expect(wrong.status).toBe(400)
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toBe(
      'cluster: "other" is not a configured cluster (test)',
    )
    const bad = await call('POST', J, { name: 'r', cluster: 'no spaces' })
    expect(bad.status).toBe(400)
  })

  it('with several clusters: required, and a replayed create with another cluster is a conflict', async () => {
    const { call } = await makeApp({ deps: { clusters: ['a', 'b'] } })
    const none = await call('POST', J, { name: 'r' })
    expect(none.status).toBe(400)
    expect(((await none.json()) as { error: { message: string } }).error.message).toBe(
      'cluster: required when several clusters are configured (a, b)',
    )
    expect((await call('POST', J, { name: 'r', id: 'slurm-1', cluster: 'b' })).status).toBe(201)
    // A worker replaying the create without a cluster gets the job; with another cluster, 409.
    const replay = await call('POST', J, { name: 'r', id: 'slurm-1' })
    expect(replay.status).toBe(200)
    expect(((await replay.json()) as Job).cluster).toBe('b')
    expect((await call('POST', J, { name: 'r', id: 'slurm-1', cluster: 'a' })).status).toBe(409)
  })

  it('with no cluster known: jobs are tied to none ("")', async () => {
    const { call } = await makeApp({ deps: { clusters: [] } })
    expect(((await (await call('POST', J, { name: 'r' })).json()) as Job).cluster).toBe('')
    expect(((await (await call('POST', J, { name: 'r', cluster: 'x' })).json()) as Job).cluster).toBe('x')
  })

  it('stored jobs without one get the only configured cluster, or none with several', async () => {
    const { store, dir } = await makeApp()
    await store.update((d) => {
      d.jobs.old = {
        id: 'old',
        name: 'r',
        status: 'running',
        startedAt: new Date().toISOString(),
        endedAt: null,
        paths: ['/p'],
        clients: [],
        labels: {},
        comments: [],
        notify: [],
        annotation: { state: 'off', comments: 0 },
        capacity: [],
        createdBy: 'ci',
        updatedAt: new Date().toISOString(),
      } as unknown as Job
    })
    await store.close()
    const one = await openJobStore(join(dir, 'jobs.json'), silentLogger)
    expect(new JobService({ store: one, clusters: ['a'], log: silentLogger }).get('old').cluster).toBe('a')
    await one.close()
    const several = await openJobStore(join(dir, 'jobs.json'), silentLogger)
    const service = new JobService({ store: several, clusters: ['a', 'b'], log: silentLogger })
    expect(service.get('old').cluster).toBe('')
    // A job tied to no cluster is watched on every cluster.
    expect(service.watchedPaths('b', Date.now() / 1000)).toEqual(['/p'])
    await several.close()
  })

  it("watches a completed job's paths until the first poll at or after its end + one interval", async () => {
    const { store, call } = await makeApp({ deps: { clusters: ['a', 'b'], intervalSeconds: 60 } })
    const job = (await (await call('POST', J, { name: 'r', cluster: 'a', paths: ['/render'] })).json()) as Job
    const endMs = Date.parse(job.startedAt) + 30_000
    // Completing at a back-dated time inside the window (at may not be in the future).
    const service = new JobService({ store, clusters: ['a', 'b'], intervalSeconds: 60, log: silentLogger, now: () => endMs + 1000 })
    await service.complete(job.id, 'succeeded', new Date(endMs))
    expect(service.watchedPaths('a', endMs / 1000 + 59)).toEqual(['/render'])
    expect(service.watchedPaths('b', endMs / 1000 + 59)).toEqual([])
    expect(service.watchedPaths('a', endMs / 1000 + 60)).toEqual([])
  })
})
