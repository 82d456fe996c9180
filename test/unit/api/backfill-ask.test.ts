import { describe, expect, it } from 'vitest'
import { makeApp } from '../../support/api-app.ts'
import { JobService } from '../../../jobs/service.ts'
import { silentLogger } from '../../../lib/log.ts'
import { cycleScope } from '../../../collector/watched.ts'
import type { Job } from '../../../jobs/types.ts'
import type { JobScope } from '../../../lib/job-scope.ts'

const J = '/api/v1/jobs'

describe('backfill requests', () => {
  it('a late attachment asks for one up to the attachment; another extends it, never shortens it', async () => {
    const asked: string[] = []
    const { store, call } = await makeApp({ deps: { clusters: ['a'] } })
    const job = (await (await call('POST', J, { name: 'r', clients: ['10.0.0.1'] })).json()) as Job
    expect(job.backfill).toBeUndefined()
    const t = Date.parse(job.startedAt) + 120_000
    const service = new JobService({ store, clusters: ['a'], log: silentLogger, now: () => t, onBackfill: (id) => asked.push(id) })
    await service.addPaths(job.id, ['/render'])
    expect(store.data.jobs[job.id].backfill).toEqual({ until: new Date(t).toISOString() })
    expect(asked).toEqual([job.id])
    // Nothing new attached: nothing asked.
    await service.addPaths(job.id, ['/render'])
    expect(asked).toEqual([job.id])
  })

  it('an attachment before the first poll since the start needs none: that poll has it', async () => {
    const asked: string[] = []
    const { store } = await makeApp({ deps: { clusters: ['a'] } })
    let now = Date.parse('2026-12-01T10:00:10Z')
    const service = new JobService({ store, clusters: ['a'], log: silentLogger, now: () => now, onBackfill: (id) => asked.push(id) })
    const { job } = await service.create({ name: 'ci' }, { name: 'r', clients: ['10.0.0.1'] })
    now += 45_000 // 10:00:55, before the tick at 10:01:00
    await service.addClients(job.id, ['10.0.0.2'])
    expect(store.data.jobs[job.id].backfill).toBeUndefined()
    now += 10_000 // 10:01:05: the poll at 10:01:00 may have been attributed without it
    await service.addClients(job.id, ['10.0.0.3'])
    expect(store.data.jobs[job.id].backfill).toEqual({ until: new Date(now).toISOString() })
    expect(asked).toEqual([job.id])
  })

  it('a poll that used an earlier job list asks for one for the jobs created or changed since', async () => {
    const asked: string[] = []
    const { store } = await makeApp({ deps: { clusters: ['a', 'b'] } })
    let now = Date.parse('2026-12-01T10:00:00Z')
    const service = new JobService({ store, clusters: ['a', 'b'], log: silentLogger, now: () => now, onBackfill: (id) => asked.push(id) })
    const ci = { name: 'ci' }
    const { job: old } = await service.create(ci, { name: 'old', cluster: 'a', clients: ['10.0.0.1'] })
    now += 60_000 // the list used was given for the poll at this time
    const sinceS = now / 1000
    now += 20_000
    const { job: fresh } = await service.create(ci, { name: 'new', cluster: 'a', clients: ['10.0.0.2'] })
    const { job: other } = await service.create(ci, { name: 'b', cluster: 'b', clients: ['10.0.0.3'] })
    const tickS = sinceS + 60
    await service.backfillMissed('a', tickS, sinceS)
    expect(asked).toEqual([fresh.id])
    // Only the polls since the list used: `from` is the later of that list's time and the job's start.
    expect(store.data.jobs[fresh.id].backfill).toEqual({ until: new Date(tickS * 1000).toISOString(), from: fresh.startedAt })
    // An attachment later needs every earlier poll again: the request widens to the whole job.
    now = tickS * 1000 + 30_000
    await service.addClients(fresh.id, ['10.0.0.9'])
    expect(store.data.jobs[fresh.id].backfill).toEqual({ until: new Date(now).toISOString() })
    expect(store.data.jobs[old.id].backfill).toBeUndefined()
    expect(store.data.jobs[other.id].backfill).toBeUndefined()
  })

  it('a collector whose job source fails uses the last list and says for which poll it was given', async () => {
    const jobs: JobScope[] = [{ id: 'x', name: 'x', cluster: 'a', startMs: 0, clients: [], paths: ['/p'] }]
    let fail = false
    const scope = cycleScope(
      ['/static'],
      async () => {
        if (fail) throw new Error('no answer from the API thread in 500 ms')
        return jobs
      },
      silentLogger,
    )
    expect(await scope(100)).toEqual({ paths: ['/static', '/p'], jobs, staleSince: undefined })
    fail = true
    expect(await scope(160)).toEqual({ paths: ['/static', '/p'], jobs, staleSince: 100 })
  })
})
