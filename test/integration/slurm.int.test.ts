import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startSlurm, type TestSlurm } from '../support/slurm.ts'
import { FINAL_STATES, parseScontrolJobs, parseSqueueJson, type SlurmRecord } from '../../slurm/records.ts'
import { expandHostlist } from '../../slurm/hostlist.ts'

/**
 * The real Slurm the Slurm integration (issue #13) is tested against: Debian's slurm-wlm 22.05 with
 * munge, slurmctld and slurmd on free ports with a private slurm.conf. Here: that it runs real jobs
 * and records what the integration will compare with (`scontrol -o show job`).
 */
let slurm: TestSlurm

beforeAll(async () => {
  slurm = await startSlurm()
}, 90_000)
afterAll(async () => slurm?.stop())

/** Submits a batch job; its id. */
async function submit(args: string[]): Promise<string> {
  const out = await slurm.cmd('sbatch', ['--parsable', '-o', '/dev/null', ...args])
  return out.trim().split(';')[0]
}

describe('a real one-host Slurm', () => {
  it("runs jobs to their final state with Slurm's own exit codes, start and end times", async () => {
    const ok = await submit(['-J', 'render-ok', '--wrap', 'true'])
    const bad = await submit(['-J', 'render-bad', '--wrap', 'exit 3'])
    const done = async (id: string) => {
      let job: Record<string, string> = {}
      await vi.waitFor(
        async () => {
          job = await slurm.job(id)
          expect(job.JobState, slurm.logs()).toMatch(/^(COMPLETED|FAILED)$/)
        },
        { timeout: 60_000, interval: 250 },
      )
      return job
    }
    const [a, b] = [await done(ok), await done(bad)]
    expect(a).toMatchObject({ JobId: ok, JobName: 'render-ok', JobState: 'COMPLETED', ExitCode: '0:0' })
    expect(b).toMatchObject({ JobId: bad, JobName: 'render-bad', JobState: 'FAILED', ExitCode: '3:0' })
    expect(Date.parse(`${a.StartTime}Z`)).not.toBeNaN()
    expect(Date.parse(a.EndTime) >= Date.parse(a.StartTime)).toBe(true)
    // squeue --json lists finished jobs for MinJobAge (the sync will read it).
    const listed = JSON.parse(await slurm.cmd('squeue', ['--json', '--states=all'])) as { jobs: Array<{ job_id: number; name: string }> }
    expect(listed.jobs.map((j) => j.name).sort()).toEqual(['render-bad', 'render-ok'])
  })

  it("reads Slurm's records: array tasks, exit codes and signals, a job cancelled before it started", async () => {
    const array = await submit(['-J', 'frames', '--array=1-2', '--wrap', 'exit 0'])
    const killed = await submit(['-J', 'killed', '--wrap', 'kill -9 $$'])
    const held = await submit(['-J', 'held', '--hold', '--wrap', 'true'])
    await slurm.cmd('scancel', [held])
    let records: SlurmRecord[] = []
    await vi.waitFor(
      async () => {
        records = parseSqueueJson(await slurm.cmd('squeue', ['--json', '--states=all']))
        const mine = records.filter((r) => ['frames', 'killed', 'held'].includes(r.name))
        expect(
          mine.map((r) => r.state).filter((s) => !FINAL_STATES.has(s)),
          slurm.logs(),
        ).toEqual([])
        expect(mine).toHaveLength(4)
      },
      { timeout: 60_000, interval: 250 },
    )
    const byId = new Map(records.map((r) => [r.id, r]))
    expect(byId.get(`${array}_1`)).toMatchObject({ name: 'frames', state: 'COMPLETED', exitCode: 0, user: 'root', partition: 'debug' })
    expect(byId.get(`${array}_2`)).toMatchObject({ name: 'frames', state: 'COMPLETED' })
    const k = byId.get(killed)!
    expect(k).toMatchObject({ state: 'FAILED', exitCode: 0, signal: 9 })
    expect(Date.parse(k.endedAt!)).toBeGreaterThanOrEqual(Date.parse(k.startedAt!))
    expect(k.nodes).not.toBe('')
    const h = byId.get(held)!
    expect(h.state).toBe('CANCELLED')
    expect(h.startedAt).toBeUndefined()
    // scontrol's one-line records (what the sync asks about noted jobs) read the same as squeue's JSON.
    for (const r of records) {
      const [viaScontrol] = parseScontrolJobs(await slurm.cmd('scontrol', ['-o', 'show', 'job', String(r.jobId)]))
      expect(viaScontrol, r.id).toEqual(r)
    }
    // The failed job of the first test: Slurm's 3:0 is exit code 3.
    expect(records.find((r) => r.name === 'render-bad')).toMatchObject({ state: 'FAILED', exitCode: 3, signal: 0 })
  })

  it('expands hostlists as Slurm itself does (scontrol show hostnames)', async () => {
    for (const list of ['node[01-03,7],login1', 'n[08-11]', 'r[1-2]n[08-09]']) {
      const slurmSays = (await slurm.cmd('scontrol', ['show', 'hostnames', list])).trim().split('\n')
      expect(expandHostlist(list), list).toEqual(slurmSays)
    }
    // What Slurm refuses ("Invalid hostlist" on stderr, no host), we refuse.
    expect((await slurm.cmd('scontrol', ['show', 'hostnames', 'gpu[9-10]-ib'])).trim()).toBe('')
    expect(() => expandHostlist('gpu[9-10]-ib')).toThrow(/text after the last range/)
  })
})
