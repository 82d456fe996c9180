import { describe, expect, it } from 'vitest'
import { parseSqueueJson, SlurmOutputError } from '../../../slurm/records.ts'

const job = (over: Record<string, unknown> = {}) => ({
  job_id: 7,
  name: 'render',
  user_name: 'ana',
  account: 'vfx',
  partition: 'gpu',
  job_state: 'RUNNING',
  start_time: 1_800_000_000,
  end_time: 1_800_003_600, // a running job's end_time is its time limit
  exit_code: 0,
  nodes: 'node[01-02]',
  current_working_directory: '/mnt/qumulo/shows/sq010',
  array_job_id: 0,
  array_task_id: null,
  het_job_id: 0,
  het_job_offset: 0,
  restart_cnt: 0,
  ...over,
})
const parse = (jobs: unknown[], extra: Record<string, unknown> = {}) =>
  parseSqueueJson(JSON.stringify({ meta: {}, errors: [], jobs, ...extra }))

describe('parseSqueueJson', () => {
  it('maps a running job: no end yet, its nodes and working directory', () => {
    expect(parse([job()])).toEqual([
      {
        id: '7',
        jobId: 7,
        restarts: 0,
        name: 'render',
        user: 'ana',
        account: 'vfx',
        partition: 'gpu',
        state: 'RUNNING',
        startedAt: '2027-01-15T08:00:00.000Z',
        exitCode: 0,
        signal: 0,
        nodes: 'node[01-02]',
        workDir: '/mnt/qumulo/shows/sq010',
      },
    ])
  })

  it('names array tasks, heterogeneous components and requeued runs apart', () => {
    const ids = parse([
      job({ job_id: 15, array_job_id: 14, array_task_id: 2 }),
      job({ job_id: 20, het_job_id: 20, het_job_offset: 1 }),
      job({ job_id: 30, restart_cnt: 2 }),
    ]).map((r) => r.id)
    expect(ids).toEqual(['14_2', '20+1', '30.2'])
  })

  it('ends final states, splits the wait status, and never starts a job cancelled while pending', () => {
    const [failed, killed, cancelled] = parse([
      job({ job_state: 'FAILED', exit_code: 768, end_time: 1_800_000_060 }),
      job({ job_state: 'TIMEOUT', exit_code: 15, end_time: 1_800_000_060 }),
      job({ job_state: 'CANCELLED', nodes: '', start_time: 1_800_000_060, end_time: 1_800_000_060 }),
    ])
    expect(failed).toMatchObject({ state: 'FAILED', exitCode: 3, signal: 0, endedAt: '2027-01-15T08:01:00.000Z' })
    expect(killed).toMatchObject({ state: 'TIMEOUT', exitCode: 0, signal: 15 })
    expect(cancelled.startedAt).toBeUndefined()
    expect(cancelled.endedAt).toBe('2027-01-15T08:01:00.000Z')
  })

  it('refuses output it cannot trust, in one line naming the job and the field', () => {
    const err = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        expect(e).toBeInstanceOf(SlurmOutputError)
        return (e as Error).message
      }
      throw new Error('no error')
    }
    expect(err(() => parseSqueueJson('slurm_load_jobs error: Unable to contact slurm controller'))).toMatch(/^squeue --json: not JSON/)
    expect(err(() => parse([job({ job_state: 5 })]))).toBe(
      'squeue --json: job 7: job_state: Invalid input: expected string, received number',
    )
    expect(err(() => parse([], { errors: [{ error: 'Invalid user' }] }))).toBe('squeue --json: Slurm says Invalid user')
    expect(err(() => parseSqueueJson('{"jobs": 3}'))).toMatch(/^squeue --json: jobs: /)
  })
})
