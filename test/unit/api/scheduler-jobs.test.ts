import { describe, expect, it } from 'vitest'
import { makeApp } from '../../support/api-app.ts'
import { JobService } from '../../../jobs/service.ts'
import { silentLogger } from '../../../lib/log.ts'
import type { Job } from '../../../jobs/types.ts'

const J = '/api/v1/jobs'

/** What a scheduler integration (Slurm sync) needs of the API: its own ids, start and end times, and final states. */
describe('jobs recorded by a scheduler', () => {
  it('a job learned of late is created with its real start, and the polls it missed are backfilled', async () => {
    const asked: string[] = []
    const { store } = await makeApp({ deps: { clusters: ['a'] } })
    const now = Date.parse('2026-12-01T10:05:10Z')
    const service = new JobService({ store, clusters: ['a'], log: silentLogger, now: () => now, onBackfill: (id) => asked.push(id) })
    const startedAt = new Date('2026-12-01T10:00:30Z')
    const { job, created } = await service.create({ name: 'sync' }, { id: '4711', name: 'r', clients: ['10.0.0.1'], startedAt })
    expect(created).toBe(true)
    expect(job.startedAt).toBe(startedAt.toISOString())
    expect(store.data.jobs['4711'].backfill).toEqual({ until: new Date(now).toISOString() })
    expect(asked).toEqual(['4711'])
    // Replayed with the same start: the job; with another start: a conflict naming it.
    expect((await service.create({ name: 'sync' }, { id: '4711', name: 'r', startedAt })).created).toBe(false)
    await expect(service.create({ name: 'sync' }, { id: '4711', name: 'r', startedAt: new Date(now) })).rejects.toThrow(
      /exists with another start 2026-12-01T10:00:30.000Z/,
    )
  })

  it('a start after the last poll tick needs no backfill; one far in the future is refused', async () => {
    const { store } = await makeApp({ deps: { clusters: ['a'] } })
    const now = Date.parse('2026-12-01T10:05:10Z')
    const service = new JobService({ store, clusters: ['a'], log: silentLogger, now: () => now })
    const { job } = await service.create({ name: 'sync' }, { id: '1', name: 'r', startedAt: new Date('2026-12-01T10:05:01Z') })
    expect(job.backfill).toBeUndefined()
    await expect(service.create({ name: 'sync' }, { id: '2', name: 'r', startedAt: new Date(now + 61_000) })).rejects.toThrow(
      /startedAt: at most 60 s ahead/,
    )
  })

  it('completes as cancelled with labels set at the end; heterogeneous and requeued ids are accepted', async () => {
    const { call } = await makeApp({ deps: { clusters: ['a'] } })
    const start = Date.now() - 120_000
    const res = await call('POST', J, { id: '812+1', name: 'het', labels: { user: 'ana' }, startedAt: start })
    expect(res.status).toBe(201)
    const done = await call('POST', `${J}/812+1/complete`, {
      status: 'cancelled',
      at: start + 60_000,
      labels: { slurm_state: 'CANCELLED' },
    })
    expect(done.status).toBe(200)
    const job = (await done.json()) as Job
    expect(job).toMatchObject({ id: '812+1', status: 'cancelled', labels: { user: 'ana', slurm_state: 'CANCELLED' } })
    expect(job.endedAt).toBe(new Date(start + 60_000).toISOString())
    expect((await call('POST', J, { id: '812.1', name: 'requeued' })).status).toBe(201)
    const listed = (await (await call('GET', `${J}?status=cancelled`)).json()) as { jobs: Job[] }
    expect(listed.jobs.map((j) => j.id)).toEqual(['812+1'])
    const bad = await call('POST', `${J}/812.1/complete`, { status: 'aborted' })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(await bad.json())).toMatch(/succeeded.*failed.*cancelled/)
  })
})
