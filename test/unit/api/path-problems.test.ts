import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { silentLogger } from '../../../lib/log.ts'
import { openJobStore } from '../../../jobs/store.ts'
import { JobService } from '../../../jobs/service.ts'
import { pathProblemRecorder } from '../../../jobs/path-problems.ts'
import { tempDir } from '../../support/tmp.ts'

const ci = { name: 'ci', role: 'writer' } as const

async function setup() {
  const file = join(tempDir(), 'jobs.json')
  const store = await openJobStore(file, silentLogger)
  const service = new JobService({ store, clusters: ['c'], log: silentLogger })
  return { file, store, service, record: pathProblemRecorder(store, () => service.runningJobs()) }
}

describe('pathProblemRecorder', () => {
  it('sets a job error once, keeps it across a restart, and clears it when the directory appears', async () => {
    const { file, store, service, record } = await setup()
    const { job } = await service.create(ci, { name: 'a', paths: ['/ok', '/missing'] })
    const writes = store.stats.writes
    const problem = new Map([
      ['/ok', undefined],
      ['/missing', '/missing: no such directory on Qumulo'],
    ])
    await record(problem)
    await record(problem)
    await record(problem)
    expect(store.stats.writes).toBe(writes + 1)
    expect(store.data.jobs[job.id].error).toBe('/missing: no such directory on Qumulo')
    await store.close()

    const reopened = await openJobStore(file, silentLogger)
    expect(reopened.data.jobs[job.id].error).toBe('/missing: no such directory on Qumulo')
    const again = pathProblemRecorder(reopened, () => Object.values(reopened.data.jobs))
    await again(new Map([['/ok', undefined]]))
    expect(reopened.data.jobs[job.id].error).toBeDefined() // '/missing' not checked yet: unknown, not fine
    await again(new Map([['/missing', undefined]]))
    expect(reopened.data.jobs[job.id].error).toBeUndefined()
    await reopened.close()
  })

  it('gives a job attached later to an already missing path the same error', async () => {
    const { store, service, record } = await setup()
    const problem = new Map([['/missing', '/missing: no such directory on Qumulo']])
    await record(problem)
    const { job } = await service.create(ci, { name: 'late', paths: ['/missing'] })
    await record(problem)
    expect(store.data.jobs[job.id].error).toBe('/missing: no such directory on Qumulo')
    await store.close()
  })
})
