import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startSlurm, type TestSlurm } from '../support/slurm.ts'

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
})
