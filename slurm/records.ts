import { z } from 'zod'
import { issuesText } from '../lib/zod-text.ts'
import { messageOf } from '../lib/errors.ts'

/**
 * Slurm's own record of a job, as `squeue --json --states=all` (Slurm 22.05, OpenAPI v0.0.38) gives
 * it — finished jobs stay listed for `MinJobAge` seconds — in the terms qactivity uses. The source
 * of truth the Slurm sync compares the job store with.
 */
export interface SlurmRecord {
  /**
   * The qactivity job id: the Slurm job id; an array task `<array_job_id>_<array_task_id>`; a
   * heterogeneous job's component `<het_job_id>+<het_job_offset>`; a requeued job's later runs
   * `.<restart count>` appended (`123`, then `123.1`), so each run is its own job.
   */
  id: string
  /** Slurm's numeric job id */
  jobId: number
  /** how often Slurm requeued it (`restart_cnt`): the run this record describes */
  restarts: number
  name: string
  user: string
  account: string
  partition: string
  /** Slurm's job state: PENDING, RUNNING, COMPLETED, CANCELLED, FAILED, TIMEOUT, … */
  state: string
  /** when it started, ISO; absent while pending and for a job cancelled before it started */
  startedAt?: string
  /** when it ended, ISO; only in a final state (a running job's `end_time` is its time limit) */
  endedAt?: string
  /** the batch script's exit status (0–255) */
  exitCode: number
  /** the signal that ended it, 0 for none */
  signal: number
  /** the allocated nodes, a Slurm hostlist (`node[01-04]`) */
  nodes: string
  /** the job's working directory */
  workDir: string
}

/** States a job no longer leaves (Slurm's JOB_STATE_BASE final states). */
export const FINAL_STATES = new Set([
  'COMPLETED',
  'CANCELLED',
  'FAILED',
  'TIMEOUT',
  'NODE_FAIL',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'OUT_OF_MEMORY',
])

/** Output of a Slurm command that is not what it should be: one line naming the problem. */
export class SlurmOutputError extends Error {}

const seconds = z.number().int().nonnegative()
const Job = z.looseObject({
  job_id: z.number().int().positive(),
  name: z.string(),
  user_name: z.string().default(''),
  account: z.string().default(''),
  partition: z.string().default(''),
  job_state: z.string().min(1),
  start_time: seconds.default(0),
  end_time: seconds.default(0),
  exit_code: z.number().int().nullable().default(0),
  nodes: z.string().default(''),
  current_working_directory: z.string().default(''),
  array_job_id: z.number().int().nonnegative().default(0),
  array_task_id: z.number().int().nonnegative().nullable().default(null),
  het_job_id: z.number().int().nonnegative().default(0),
  het_job_offset: z.number().int().nonnegative().default(0),
  restart_cnt: z.number().int().nonnegative().default(0),
})
const Answer = z.looseObject({
  jobs: z.array(z.unknown()),
  errors: z.array(z.looseObject({ error: z.string().optional(), description: z.string().optional() })).default([]),
})

const iso = (s: number) => new Date(s * 1000).toISOString()

/** The qactivity id of a Slurm job (see {@link SlurmRecord.id}). */
function idOf(j: z.infer<typeof Job>): string {
  const base =
    j.array_task_id !== null && j.array_job_id > 0
      ? `${j.array_job_id}_${j.array_task_id}`
      : j.het_job_id > 0
        ? `${j.het_job_id}+${j.het_job_offset}`
        : String(j.job_id)
  return j.restart_cnt > 0 ? `${base}.${j.restart_cnt}` : base
}

/**
 * The jobs of `squeue --json` output. A job entry that does not have the expected shape is an error
 * naming the job and the field (the sync must not act on a misread record); Slurm's own `errors`
 * are one too.
 */
export function parseSqueueJson(text: string): SlurmRecord[] {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new SlurmOutputError(`squeue --json: not JSON (${messageOf(err)})`)
  }
  const answer = Answer.safeParse(json)
  if (!answer.success) throw new SlurmOutputError(`squeue --json: ${issuesText(answer.error)}`)
  const failed = answer.data.errors.find((e) => e.error || e.description)
  if (failed) throw new SlurmOutputError(`squeue --json: Slurm says ${failed.error ?? failed.description}`)
  return answer.data.jobs.map((raw, i) => {
    const parsed = Job.safeParse(raw)
    if (!parsed.success) {
      const id = (raw as { job_id?: unknown } | null)?.job_id
      throw new SlurmOutputError(`squeue --json: job ${typeof id === 'number' ? id : `#${i + 1}`}: ${issuesText(parsed.error)}`)
    }
    const j = parsed.data
    const state = j.job_state.split(/[ ,]/)[0]
    const final = FINAL_STATES.has(state)
    const started = j.start_time > 0 && state !== 'PENDING' && !(final && j.nodes === '')
    const raw32 = j.exit_code ?? 0
    return {
      id: idOf(j),
      jobId: j.job_id,
      restarts: j.restart_cnt,
      name: j.name,
      user: j.user_name,
      account: j.account,
      partition: j.partition,
      state,
      ...(started ? { startedAt: iso(j.start_time) } : {}),
      ...(final && j.end_time > 0 ? { endedAt: iso(j.end_time) } : {}),
      // A wait status: the exit code in bits 8–15, the signal in bits 0–6.
      exitCode: (raw32 >> 8) & 0xff,
      signal: raw32 & 0x7f,
      nodes: j.nodes,
      workDir: j.current_working_directory,
    }
  })
}

/** `scontrol -o` prints local times without a zone (`2026-12-03T14:40:21`), or `Unknown`/`None`. */
function localTime(v: string | undefined): string | undefined {
  if (!v || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(v)) return undefined
  const t = new Date(v) // no zone: local time, as slurmctld on the same host wrote it
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString()
}

/** `Key=value` pairs of one `scontrol -o show job` line; a value may hold spaces (JobName, WorkDir). */
export function scontrolFields(line: string): Record<string, string> {
  return Object.fromEntries(
    line
      .trim()
      .split(/ (?=[A-Za-z][\w:/]*=)/)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]),
  )
}

/**
 * The jobs of `scontrol -o show job ID…` output, one line each — what the sync asks about the jobs
 * the hooks noted (`squeue --json` in 22.05 ignores `--jobs` and `--states` and lists everything).
 * A line without a numeric JobId or a JobState is an error naming it.
 */
export function parseScontrolJobs(text: string): SlurmRecord[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const f = scontrolFields(line)
      const jobId = Number(f.JobId)
      if (!Number.isInteger(jobId) || jobId <= 0 || !f.JobState)
        throw new SlurmOutputError(`scontrol show job: not a job record: "${line.slice(0, 120)}"`)
      const num = (k: string) => (/^\d+$/.test(f[k] ?? '') ? Number(f[k]) : 0)
      const task = /^\d+$/.test(f.ArrayTaskId ?? '') ? Number(f.ArrayTaskId) : null
      const state = f.JobState.split(/[ ,]/)[0]
      const final = FINAL_STATES.has(state)
      const nodes = f.NodeList && f.NodeList !== '(null)' ? f.NodeList : ''
      const startedAt = localTime(f.StartTime)
      const started = startedAt !== undefined && state !== 'PENDING' && !(final && nodes === '')
      const endedAt = final ? localTime(f.EndTime) : undefined
      const [exitCode, signal] = (f.ExitCode ?? '0:0').split(':').map((n) => Number(n) || 0)
      return {
        id: idOf({
          job_id: jobId,
          array_job_id: num('ArrayJobId'),
          array_task_id: task,
          het_job_id: num('HetJobId'),
          het_job_offset: num('HetJobOffset'),
          restart_cnt: num('Restarts'),
        } as z.infer<typeof Job>),
        jobId,
        restarts: num('Restarts'),
        name: f.JobName ?? '',
        user: (f.UserId ?? '').replace(/\(\d+\)$/, ''),
        account: f.Account && f.Account !== '(null)' ? f.Account : '',
        partition: f.Partition ?? '',
        state,
        ...(started ? { startedAt } : {}),
        ...(endedAt ? { endedAt } : {}),
        exitCode,
        signal,
        nodes,
        workDir: f.WorkDir ?? '',
      }
    })
}
