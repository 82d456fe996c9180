import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify, parseEnv } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startSlurm, type TestSlurm } from '../support/slurm.ts'
import { freePort, startInfluxd, type Influxd } from '../support/influxd.ts'
import { startApiProcess, type ApiProcess } from '../support/api-process.ts'
import { tempDir } from '../support/tmp.ts'
import type { Job } from '../../jobs/types.ts'

/**
 * The Slurm integration (issue #13) end to end, on a real Slurm 22.05: the hook installed exactly as
 * `qactivity slurm conf` prints it, `qactivity slurm sync` and `qactivity api` as their own processes
 * (the API over a real influxd), real jobs. Every job is compared with Slurm's own record
 * (`scontrol -o show job`): name, start and end, final state, nodes' address, work directory.
 */
const BIN = new URL('../../bin/qactivity.mjs', import.meta.url).pathname
const TOKEN = 'slurm-sync-token-0123456789'
const run = promisify(execFile)

let slurm: TestSlurm
let influxd: Influxd
let api: ApiProcess
let apiEnv: Record<string, string>
let sync: ChildProcess
let syncLog = ''
let settings: Record<string, string>
let spool: string
let work: string
let timeoutJob: string

const terminal = /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)$/

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(5000) })
  return { status: res.status, body: (await res.json()) as T }
}
const jobOf = async (id: string) => {
  const r = await get<Job>(`/api/v1/jobs/${encodeURIComponent(id)}`)
  return r.status === 200 ? r.body : undefined
}

async function submit(args: string[]): Promise<string> {
  return (await slurm.cmd('sbatch', ['--parsable', '-o', '/dev/null', `--chdir=${work}`, ...args])).trim().split(';')[0]
}

/** Waits for Slurm's final record of a job. */
async function slurmFinal(id: string, timeout = 60_000): Promise<Record<string, string>> {
  let rec: Record<string, string> = {}
  await vi.waitFor(
    async () => {
      rec = await slurm.job(id)
      expect(rec.JobState, slurm.logs()).toMatch(terminal)
    },
    { timeout, interval: 250 },
  )
  return rec
}

/** Waits until qactivity has the job in a state `ok` accepts. */
async function qactivity(id: string, ok: (j: Job) => boolean, timeout = 60_000): Promise<Job> {
  let job: Job | undefined
  await vi.waitFor(
    async () => {
      job = await jobOf(id)
      expect(job && ok(job), `job ${id}: ${JSON.stringify(job)}\nsync:\n${syncLog.slice(-3000)}`).toBe(true)
    },
    { timeout, interval: 200 },
  )
  return job!
}

/** Slurm prints local times without a zone; JavaScript reads those as local time too. */
const slurmTime = (t: string) => new Date(t).toISOString()

/** The job as Slurm recorded it, in qactivity's terms. */
function expectSame(job: Job, rec: Record<string, string>, status: string) {
  expect(job).toMatchObject({
    name: rec.JobName,
    status,
    cluster: 'lab',
    startedAt: slurmTime(rec.StartTime),
    endedAt: slurmTime(rec.EndTime),
    clients: ['127.0.0.1'], // the node's NodeAddr
    paths: ['/projects/render'], // the work directory under the mount
    labels: { scheduler: 'slurm', slurm_cluster: 'qa', user: 'root', partition: 'debug', slurm_state: rec.JobState },
  })
}

function startSync() {
  sync = spawn(process.execPath, [BIN, 'slurm', 'sync'], {
    env: { HOME: process.env.HOME ?? '/tmp', ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  sync.stdout!.resume()
  sync.stderr!.on('data', (d: Buffer) => (syncLog = (syncLog + d.toString()).slice(-50_000)))
}

beforeAll(async () => {
  const dir = tempDir('qactivity-slurm-sync-')
  chmodSync(dir, 0o755) // SlurmUser writes to the spool inside
  spool = join(dir, 'spool')
  work = join(dir, 'mnt', 'projects', 'render')
  mkdirSync(work, { recursive: true })
  const hooksDir = join(dir, 'hooks')
  influxd = await startInfluxd()
  const port = await freePort()
  apiEnv = {
    QACTIVITY_API_TOKENS: `slurm:${TOKEN}:writer`,
    QACTIVITY_PORT: String(port),
    QACTIVITY_HOST: '127.0.0.1',
    QACTIVITY_DATA_DIR: join(dir, 'data'),
    INFLUX_URL: influxd.url,
    INFLUX_BUCKET: 'slurm_sync',
    QUMULO_CLUSTER: 'lab',
  }
  api = await startApiProcess(apiEnv)
  // Installed exactly as an admin would: `qactivity slurm conf`, its lines appended to slurm.conf.
  slurm = await startSlurm(async (conf) => {
    const { stdout } = await run(process.execPath, [BIN, 'slurm', 'conf', '--hooks-dir', hooksDir], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        SLURM_CONF: conf,
        QACTIVITY_URL: api.url,
        QACTIVITY_TOKEN: TOKEN,
        QACTIVITY_SLURM_SPOOL: spool,
        QACTIVITY_SLURM_CLUSTER: 'lab',
        QACTIVITY_SLURM_PATHS: `${join(dir, 'mnt')}=/`,
        QACTIVITY_SLURM_SYNC_SECONDS: '5',
      },
    })
    return stdout.split('\n')
  })
  settings = parseEnv(readFileSync(join(hooksDir, 'settings.env'), 'utf8')) as Record<string, string>
  // A minute is Slurm's shortest time limit: this one runs while the other tests do.
  timeoutJob = await submit(['-J', 'too-long', '-t', '1', '--wrap', 'sleep 300'])
  startSync()
}, 120_000)

afterAll(async () => {
  sync?.kill('SIGTERM')
  await api?.stop()
  await slurm?.stop()
  await influxd?.stop()
})

describe('Slurm → qactivity on a real Slurm', () => {
  it('conf installs a hook SlurmUser runs, a settings file users cannot read, and a spool SlurmUser owns', async () => {
    const s = statSync(join(spool, '..', 'hooks', 'settings.env'))
    const slurmUid = Number((await run('id', ['-u', 'slurm'])).stdout)
    // the token: SlurmUser's and root's only
    expect({ mode: s.mode & 0o777, uid: s.uid }).toEqual({ mode: 0o600, uid: slurmUid })
    expect(settings).toMatchObject({ QACTIVITY_URL: api.url, QACTIVITY_TOKEN: TOKEN, SLURM_CONF: slurm.conf, QACTIVITY_SLURM_SPOOL: spool })
    expect(settings.PATH.split(':')[0]).toBe('/usr/bin') // where squeue was found
    expect({ mode: statSync(spool).mode & 0o777, uid: statSync(spool).uid }).toEqual({ mode: 0o700, uid: slurmUid })
    expect(readFileSync(slurm.conf, 'utf8')).toMatch(/^PrologSlurmctld=.*\/hooks\/qactivity-hook$/m)
  })

  it('completed, failed (exit 3) and array jobs: names, times, states, nodes and paths as Slurm recorded them', async () => {
    const ok = await submit(['-J', 'render-ok', '--wrap', 'true'])
    const bad = await submit(['-J', 'render-bad', '--wrap', 'exit 3'])
    const array = await submit(['-J', 'frames', '--array=1-2', '--wrap', 'true'])
    const [a, b] = [await slurmFinal(ok), await slurmFinal(bad)]
    expectSame(await qactivity(ok, (j) => j.status !== 'running'), a, 'succeeded')
    expect(b.ExitCode).toBe('3:0')
    expectSame(await qactivity(bad, (j) => j.status !== 'running'), b, 'failed')
    for (const task of ['1', '2']) {
      const rec = await slurmFinal(`${array}_${task}`)
      expect(rec.ArrayTaskId).toBe(task)
      const job = await qactivity(`${array}_${task}`, (j) => j.status !== 'running')
      expectSame(job, rec, 'succeeded')
      expect(job.name).toBe('frames')
    }
  })

  it('a job cancelled while running is cancelled, with its running time only', async () => {
    const id = await submit(['-J', 'to-cancel', '--wrap', 'sleep 120'])
    const running = await qactivity(id, (j) => j.status === 'running')
    expect(running.startedAt).toBe(slurmTime((await slurm.job(id)).StartTime))
    await slurm.cmd('scancel', [id])
    const rec = await slurmFinal(id)
    expect(rec.JobState).toBe('CANCELLED')
    expectSame(await qactivity(id, (j) => j.status !== 'running'), rec, 'cancelled')
  })

  it('a requeued job: each run is its own job (<id>, then <id>.1), none dropped', async () => {
    const id = await submit(['-J', 'requeued', '--requeue', '--wrap', 'sleep 120'])
    try {
      const first = await qactivity(id, (j) => j.status === 'running')
      await slurm.cmd('scontrol', ['requeue', id])
      // Slurm holds a requeued job back for a while: let it start again at once.
      await vi.waitFor(async () => expect((await slurm.job(id)).JobState).toBe('PENDING'), { timeout: 30_000, interval: 200 })
      await slurm.cmd('scontrol', ['update', `JobId=${id}`, 'StartTime=now'])
      const ended = await qactivity(id, (j) => j.status !== 'running')
      expect(ended).toMatchObject({ status: 'failed', labels: { slurm_state: 'REQUEUED' }, startedAt: first.startedAt })
      // The second run: running (then cancelled), or — on a loaded machine Slurm may fail its launch — already over.
      let again: Record<string, string> = {}
      await vi.waitFor(
        async () => {
          again = await slurm.job(id)
          expect(again.Restarts).toBe('1')
          expect(again.JobState).toMatch(/^(RUNNING|COMPLETED|FAILED|CANCELLED|NODE_FAIL|TIMEOUT)$/)
        },
        { timeout: 60_000, interval: 250 },
      )
      if (again.JobState === 'RUNNING') {
        const second = await qactivity(`${id}.1`, (j) => j.status === 'running')
        expect(second.startedAt).toBe(slurmTime(again.StartTime))
        // Slurm's StartTime is cut to the second; the epilog's time is not: the first run ends within that second
        expect(Date.parse(ended.endedAt!)).toBeLessThan(Date.parse(second.startedAt) + 1000)
        await slurm.cmd('scancel', [id])
      }
      const rec = await slurmFinal(id)
      const status = rec.JobState === 'CANCELLED' ? 'cancelled' : rec.JobState === 'COMPLETED' ? 'succeeded' : 'failed'
      expectSame(await qactivity(`${id}.1`, (j) => j.status !== 'running'), rec, status)
    } finally {
      // a job left running holds the test node: every later test would wait behind it
      await slurm.cmd('scancel', [id]).catch(() => {})
    }
  })

  it('a job whose whole life falls in an API outage is recorded with Slurm’s own times once the API is back', async () => {
    await api.stop()
    const id = await submit(['-J', 'in-outage', '--wrap', 'sleep 1'])
    const rec = await slurmFinal(id)
    api = await startApiProcess(apiEnv)
    expectSame(await qactivity(id, (j) => j.status !== 'running'), rec, 'succeeded')
    // /healthz: the sync reports again, and says what failed meanwhile.
    await vi.waitFor(
      async () => {
        const h = (
          await get<{ slurm?: { clusters: Record<string, { reconciled: number; lastError?: string; lastSync?: string }> } }>('/healthz')
        ).body
        const qa = h.slurm?.clusters.qa
        expect(qa?.reconciled).toBeGreaterThan(0)
        expect(qa?.lastError).toMatch(/qactivity API|ECONNREFUSED|unreachable|not reach/i)
      },
      { timeout: 30_000, interval: 250 },
    )
  })

  it('a hanging API does not hold a job up: its script starts within 2 s of Slurm’s StartTime', async () => {
    api.child.kill('SIGSTOP')
    try {
      const mark = join(work, 'first-line')
      const id = await submit(['-J', 'api-hangs', '--wrap', `date +%s.%N > ${mark}`])
      const rec = await slurmFinal(id)
      expect(rec.JobState).toBe('COMPLETED')
      const firstLine = Number(readFileSync(mark, 'utf8')) * 1000
      expect(firstLine - Date.parse(slurmTime(rec.StartTime))).toBeLessThan(2000)
      api.child.kill('SIGCONT')
      expectSame(await qactivity(id, (j) => j.status !== 'running'), rec, 'succeeded')
    } finally {
      api.child.kill('SIGCONT')
    }
  })

  it('a job that ran out of time is failed, with Slurm’s TIMEOUT kept as a label', async () => {
    const rec = await slurmFinal(timeoutJob, 150_000)
    expect(rec.JobState).toBe('TIMEOUT')
    expectSame(await qactivity(timeoutJob, (j) => j.status !== 'running'), rec, 'failed')
  }, 180_000)
})
