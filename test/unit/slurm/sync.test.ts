import { writeFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConflictError, createSlurmSync, type CreateRequest, type SyncApi } from '../../../slurm/sync.ts'
import type { SlurmCommands } from '../../../slurm/commands.ts'
import type { SlurmRecord } from '../../../slurm/records.ts'
import { silentLogger } from '../../../lib/log.ts'
import { tempDir } from '../../support/tmp.ts'
import { slurmRecord } from '../../support/slurm-record.ts'

const T0 = Date.parse('2026-12-01T10:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString()

/** A Slurm whose records the test sets. */
function fakeSlurm(records: SlurmRecord[]): SlurmCommands {
  return {
    jobs: async () => records,
    jobsNamed: async (ids) => records.filter((r) => ids.includes(r.jobId)),
    nodeAddresses: async (names) => new Map(names.map((n) => [n, '10.0.0.1'])),
    clusterName: async () => 'hpc',
  }
}

/** The API's job semantics: create is idempotent, a second completion is 'already'. */
function fakeApi() {
  const jobs = new Map<string, CreateRequest & { status: string; endedAt?: string; labels: Record<string, string> }>()
  let down = false
  const api: SyncApi = {
    async running() {
      if (down) throw new Error('unreachable')
      return new Set([...jobs.values()].filter((j) => j.status === 'running').map((j) => j.id))
    },
    async create(job) {
      if (down) throw new Error('unreachable')
      const had = jobs.get(job.id)
      if (had && had.startedAt !== job.startedAt) throw new ConflictError(`job "${job.id}" exists with another start`)
      if (!had) jobs.set(job.id, { ...job, status: 'running' })
      return { status: jobs.get(job.id)!.status }
    },
    async addClients(id, clients) {
      if (down) throw new Error('unreachable')
      jobs.get(id)!.clients.push(...clients)
    },
    async complete(id, body) {
      if (down) throw new Error('unreachable')
      const j = jobs.get(id)
      if (!j) throw new ConflictError(`job "${id}" not found`)
      if (j.status !== 'running') return 'already'
      Object.assign(j, { status: body.status, endedAt: body.at, labels: { ...j.labels, ...body.labels } })
      return 'done'
    },
    async report() {},
  }
  return { api, jobs, setDown: (d: boolean) => (down = d) }
}

const record = (o: Partial<SlurmRecord> & { jobId: number }): SlurmRecord =>
  slurmRecord({ nodes: 'n[1-2]', workDir: '/mnt/q/shots', startedAt: iso(T0), ...o })

function setup(records: SlurmRecord[], clock = { t: T0 + 1000 }) {
  const spool = tempDir()
  const { api, jobs, setDown } = fakeApi()
  const sync = createSlurmSync({
    slurm: fakeSlurm(records),
    api,
    addresses: async (nodes) => ({ clients: nodes.map((_, i) => `10.0.0.${i + 1}`), problems: [] }),
    spoolDir: spool,
    mapping: { idPrefix: '', mounts: [{ mount: '/mnt/q', path: '/' }] },
    cluster: 'lab',
    periodSeconds: 60,
    log: silentLogger,
    now: () => clock.t,
  })
  let seq = 0
  const hook = (kind: 'prolog' | 'epilog', jobId: number, atMs: number, env: Record<string, string> = {}) => {
    const vars = { SLURM_JOB_ID: String(jobId), SLURM_JOB_NAME: 'render', SLURM_JOB_USER: 'ana', ...env }
    const body = Object.entries(vars).map(([k, v]) => `${k}=${v}\0`)
    writeFileSync(join(spool, `${atMs * 1000 + seq++}.1.${jobId}.${kind}`), body.join(''))
  }
  return { sync, jobs, spool, hook, clock, setDown, files: () => readdirSync(spool) }
}

describe('slurm sync', () => {
  it("creates a started job from Slurm's record (its StartTime, node addresses, mapped work dir) and removes the event", async () => {
    const s = setup([record({ jobId: 7 })])
    s.hook('prolog', 7, T0 + 5)
    const r = await s.sync.once()
    expect(r).toMatchObject({ created: 1, completed: 0, pending: 0, problems: [] })
    expect(s.jobs.get('7')).toMatchObject({
      name: 'render',
      startedAt: iso(T0),
      clients: ['10.0.0.1', '10.0.0.2'],
      paths: ['/shots'],
      cluster: 'lab',
      labels: { scheduler: 'slurm', slurm_cluster: 'hpc', user: 'ana', account: 'vfx', partition: 'gpu' },
      status: 'running',
    })
    expect(s.files()).toEqual([])
  })

  it("keeps an end event until Slurm records the final state, then completes with Slurm's EndTime and state", async () => {
    const records = [record({ jobId: 7, state: 'COMPLETING' })]
    const s = setup(records)
    s.hook('prolog', 7, T0 + 5)
    s.hook('epilog', 7, T0 + 9000)
    // COMPLETING: the run's final state (and, after a requeue, which run it is) is not known yet.
    expect(await s.sync.once()).toMatchObject({ created: 0, completed: 0, pending: 2 })
    expect(s.files()).toHaveLength(2)
    records[0] = record({ jobId: 7, state: 'TIMEOUT', endedAt: iso(T0 + 8000) })
    expect(await s.sync.once()).toMatchObject({ created: 1, completed: 1, pending: 0 })
    expect(s.jobs.get('7')).toMatchObject({ status: 'failed', endedAt: iso(T0 + 8000), labels: { slurm_state: 'TIMEOUT' } })
    expect(s.files()).toEqual([])
  })

  it("a requeue's epilog (Slurm already counts the next run) ends the open run; the next run is <id>.1", async () => {
    const records = [record({ jobId: 9 })]
    const s = setup(records)
    s.hook('prolog', 9, T0 + 5, { SLURM_JOB_RESTART_COUNT: '0' })
    await s.sync.once()
    records[0] = record({ jobId: 9, id: '9.1', restarts: 1, state: 'PENDING', startedAt: undefined })
    s.hook('epilog', 9, T0 + 30_000, { SLURM_JOB_RESTART_COUNT: '1', SLURM_JOB_EXIT_CODE2: '0:15' })
    s.clock.t = T0 + 31_000
    expect(await s.sync.once()).toMatchObject({ completed: 1, pending: 0, problems: [] })
    expect(s.jobs.get('9')).toMatchObject({ status: 'failed', endedAt: iso(T0 + 30_000), labels: { slurm_state: 'REQUEUED' } })
    records[0] = record({ jobId: 9, id: '9.1', restarts: 1, startedAt: iso(T0 + 40_000) })
    s.hook('prolog', 9, T0 + 40_000, { SLURM_JOB_RESTART_COUNT: '1' })
    s.clock.t = T0 + 41_000
    await s.sync.once()
    expect(s.jobs.get('9.1')).toMatchObject({ status: 'running', startedAt: iso(T0 + 40_000) })
    expect(s.jobs.get('9')?.status).toBe('failed')
  })

  it('an API that fails leaves the events for a later round; nothing is lost', async () => {
    const s = setup([record({ jobId: 7, state: 'COMPLETED', endedAt: iso(T0 + 3000) })])
    s.hook('prolog', 7, T0 + 5)
    s.hook('epilog', 7, T0 + 3005)
    s.setDown(true)
    await expect(s.sync.once()).rejects.toThrow(/unreachable/)
    expect(s.files()).toHaveLength(2)
    s.setDown(false)
    expect(await s.sync.once()).toMatchObject({ created: 1, completed: 1, pending: 0 })
    expect(s.jobs.get('7')).toMatchObject({ status: 'succeeded', startedAt: iso(T0), endedAt: iso(T0 + 3000) })
    expect(s.files()).toEqual([])
  })

  it('a running job Slurm no longer lists is completed as failed (UNKNOWN), and said so', async () => {
    const records = [record({ jobId: 7 })]
    const s = setup(records)
    await s.sync.once()
    records.length = 0
    s.clock.t = T0 + 540_000
    // One answer without it may be Slurm's mistake (a wrong SLURM_CONF, a restarted slurmctld): two in a row are needed.
    expect((await s.sync.once()).completed).toBe(0)
    expect(s.jobs.get('7')?.status).toBe('running')
    s.clock.t = T0 + 600_000
    const r = await s.sync.once()
    expect(s.jobs.get('7')).toMatchObject({ status: 'failed', endedAt: iso(T0 + 600_000), labels: { slurm_state: 'UNKNOWN' } })
    expect(r.problems).toEqual([expect.stringMatching(/job 7: Slurm no longer lists it/)])
  })

  it('a job no hook noted (hooks missing or the spool not writable) is created from the record and reported', async () => {
    const clock = { t: T0 }
    const records: SlurmRecord[] = []
    const s = setup(records, clock)
    await s.sync.once() // the sync is up before the job starts
    records.push(record({ jobId: 8, startedAt: iso(T0 + 5000) }))
    clock.t = T0 + 30_000
    const r = await s.sync.once()
    expect(s.jobs.get('8')?.status).toBe('running')
    expect(r.problems).toEqual([expect.stringMatching(/job 8: started .* but no hook noted it/)])
    expect(s.sync.report()).toMatchObject({ failing: true, lastError: expect.stringMatching(/no hook noted it/) })
  })

  it('an id the API refuses for good is reported once and its events are not retried forever', async () => {
    const s = setup([record({ jobId: 7 })])
    await s.sync.once()
    s.jobs.get('7')!.startedAt = iso(T0 - 1) // someone else's job 7
    s.jobs.get('7')!.status = 'succeeded'
    const s2 = setup([record({ jobId: 7 })])
    s2.jobs.set('7', { ...s.jobs.get('7')! })
    s2.hook('prolog', 7, T0 + 5)
    const r = await s2.sync.once()
    expect(r.problems).toEqual([expect.stringMatching(/job 7: job "7" exists with another start/)])
    expect(s2.files()).toEqual([])
    expect((await s2.sync.once()).problems).toEqual([])
  })

  it("a run Slurm forgot before the sync saw it is recorded from the hooks' notes, with the epilog's exit code", async () => {
    const s = setup([])
    s.hook('prolog', 5, T0 + 1000, { SLURM_JOB_NODELIST: 'n1', SLURM_JOB_WORK_DIR: '/mnt/q/a' })
    s.hook('epilog', 5, T0 + 4000, { SLURM_JOB_EXIT_CODE2: '3:0' })
    await s.sync.once()
    expect(s.jobs.get('5')).toMatchObject({
      status: 'failed',
      startedAt: iso(T0 + 1000),
      endedAt: iso(T0 + 4000),
      paths: ['/a'],
      labels: { slurm_state: 'FAILED' },
    })
    expect(s.files()).toEqual([])
  })

  it('a job on more nodes than one call takes gets them all; a passing API refusal is asked again, not dropped', async () => {
    const s = setup([record({ jobId: 3, nodes: 'n[1-300]' })])
    s.hook('prolog', 3, T0 + 5)
    await s.sync.once()
    expect(s.jobs.get('3')?.clients).toHaveLength(300)
    const t = setup([record({ jobId: 4 })])
    t.hook('prolog', 4, T0 + 5)
    t.setDown(true)
    await expect(t.sync.once()).rejects.toThrow()
    t.setDown(false)
    t.clock.t += 60_000
    expect(await t.sync.once()).toMatchObject({ created: 1, pending: 0 })
  })

  it("a requeue's epilog met first by a restarted sync still ends the run that was open, at the epilog's time", async () => {
    const records = [record({ jobId: 9 })]
    const s = setup(records)
    s.hook('prolog', 9, T0 + 5, { SLURM_JOB_RESTART_COUNT: '0' })
    await s.sync.once()
    // a new sync process: nothing in memory; the API still has run 0 running
    const restarted = setup(records, s.clock)
    for (const [id, j] of s.jobs) restarted.jobs.set(id, { ...j })
    records[0] = record({ jobId: 9, id: '9.1', restarts: 1, state: 'PENDING', startedAt: undefined })
    restarted.hook('epilog', 9, T0 + 30_000, { SLURM_JOB_RESTART_COUNT: '1' })
    restarted.clock.t = T0 + 90_000
    await restarted.sync.once()
    expect(restarted.jobs.get('9')).toMatchObject({ status: 'failed', endedAt: iso(T0 + 30_000), labels: { slurm_state: 'REQUEUED' } })
    expect(restarted.jobs.has('9.1')).toBe(false)
    expect(restarted.files()).toEqual([])
  })
})
