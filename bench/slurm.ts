/**
 * What the Slurm hooks add to a job's start (issue #13), on the real one-host Slurm the tests use:
 * `qactivity slurm conf`'s hook installed as PrologSlurmctld/EpilogSlurmctld and `qactivity slurm
 * sync` running. Each job's batch script writes the time of its first line; the delay is that minus
 * the moment slurmctld logs its start (`Allocate JobId=…` or `Started JobId=…`, ms in its log). The same jobs on a Slurm without hooks
 * are the baseline; then with the API up, and hanging (SIGSTOP). Also: the hook alone, run directly
 * (what Slurm waits for), and how soon the sync records a started job in the API.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseEnv, promisify } from 'node:util'
import { freePort } from '../test/support/influxd.ts'
import { startApiProcess, type ApiProcess } from '../test/support/api-process.ts'
import { startSlurm, type TestSlurm } from '../test/support/slurm.ts'
import { tempDir } from '../test/support/tmp.ts'
import { printTable, quantile, row } from './table.ts'

const JOBS = Number(process.env.JOBS ?? 20)
const BIN = new URL('../bin/qactivity.mjs', import.meta.url).pathname
const run = promisify(execFile)
const ms = (x: number) => `${Math.round(x)} ms`

/** slurmctld's log time (local, ms) of the job's start: `Allocate JobId=<id>` (main scheduler) or `Started JobId=<id>` (backfill). */
function startedAt(slurm: TestSlurm, id: string): number {
  const log = readFileSync(join(slurm.dir, 'slurmctld.log'), 'utf8')
  const m = new RegExp(`^\\[([^\\]]+)\\] .*(?:_start_job: Started|sched: Allocate) JobId=${id} `, 'm').exec(log)
  if (!m) throw new Error(`no "Started JobId=${id}" or "Allocate JobId=${id}" in slurmctld.log`)
  return new Date(m[1]).getTime()
}

/** Runs JOBS jobs one after the other; each one's delay from Slurm's start to its first line (ms). */
async function startDelays(slurm: TestSlurm, work: string): Promise<number[]> {
  const delays: number[] = []
  for (let i = 0; i < JOBS; i++) {
    const mark = join(work, `first-line-${i}`)
    const id = (await slurm.cmd('sbatch', ['--parsable', '-o', '/dev/null', `--chdir=${work}`, '--wrap', `date +%s.%N > ${mark}`])).trim()
    for (;;) {
      const state = (await slurm.job(id)).JobState
      if (/^(COMPLETED|FAILED|CANCELLED)$/.test(state)) break
      await new Promise((r) => setTimeout(r, 50))
    }
    delays.push(Number(readFileSync(mark, 'utf8')) * 1000 - startedAt(slurm, id))
  }
  return delays
}

function report(what: string, delays: number[], goalMs?: number) {
  const median = quantile(delays, 0.5)
  row(`${what}: start delay median`, ms(median), goalMs ? `≤ ${goalMs} ms` : '', goalMs ? median <= goalMs : undefined)
  row(`${what}: start delay p95 / max`, `${ms(quantile(delays, 0.95))} / ${ms(Math.max(...delays))}`, '', undefined)
}

const dir = tempDir('qactivity-bench-slurm-')
chmodSync(dir, 0o755)
const work = join(dir, 'work')
mkdirSync(work)
const spool = join(dir, 'spool')
const hooksDir = join(dir, 'hooks')

// Baseline: no hooks.
{
  const slurm = await startSlurm()
  try {
    report('no hooks (baseline)', await startDelays(slurm, work))
  } finally {
    await slurm.stop()
  }
}

let api: ApiProcess | undefined
let sync: ChildProcess | undefined
let slurm: TestSlurm | undefined
try {
  api = await startApiProcess({
    QACTIVITY_AUTH: 'off',
    QACTIVITY_PORT: String(await freePort()),
    QACTIVITY_HOST: '127.0.0.1',
    QACTIVITY_DATA_DIR: join(dir, 'data'),
    INFLUX_URL: 'http://127.0.0.1:9', // nobody: job events wait in the spool
    QUMULO_CLUSTER: 'lab',
  })
  const apiUrl = api.url
  slurm = await startSlurm(async (conf) => {
    const env = { PATH: process.env.PATH ?? '', SLURM_CONF: conf, QACTIVITY_URL: apiUrl, QACTIVITY_SLURM_SPOOL: spool }
    return (await run(process.execPath, [BIN, 'slurm', 'conf', '--hooks-dir', hooksDir], { env })).stdout.split('\n')
  })
  const settings = parseEnv(readFileSync(join(hooksDir, 'settings.env'), 'utf8')) as Record<string, string>
  sync = spawn(process.execPath, [BIN, 'slurm', 'sync'], {
    env: { HOME: '/tmp', ...settings, QACTIVITY_LOG_LEVEL: process.env.SYNC_LOG_LEVEL ?? 'info' },
    stdio: ['ignore', 'ignore', process.env.SYNC_LOG_LEVEL ? 'inherit' : 'ignore'],
  })

  // The hook alone, as Slurm runs it (SlurmUser, a controller hook's environment), into a spool of its own.
  const aside = join(dir, 'spool-aside')
  mkdirSync(aside)
  chownSync(aside, statSync(spool).uid, statSync(spool).gid)
  const hookCopy = join(dir, 'hook-aside')
  writeFileSync(hookCopy, readFileSync(join(hooksDir, 'qactivity-hook'), 'utf8').replace(`spool='${spool}'`, `spool='${aside}'`), {
    mode: 0o755,
  })
  const hookTimes: number[] = []
  for (let i = 0; i < 200; i++) {
    const t = process.hrtime.bigint()
    await run('/usr/sbin/runuser', ['-u', 'slurm', '--', hookCopy], {
      env: { SLURM_SCRIPT_CONTEXT: 'prolog_slurmctld', SLURM_JOB_ID: String(900_000 + i), SLURM_JOB_NAME: 'bench' },
    })
    hookTimes.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  row(
    'the hook alone (runuser + bash + env -0 + mv), median / p99',
    `${ms(quantile(hookTimes, 0.5))} / ${ms(quantile(hookTimes, 0.99))}`,
    '',
    undefined,
  )

  report('hooks, API up', await startDelays(slurm, work), 200)
  // How soon the sync has a started job in the API.
  const seen: number[] = []
  for (let i = 0; i < 5; i++) {
    const id = (await slurm.cmd('sbatch', ['--parsable', '-o', '/dev/null', `--chdir=${work}`, '--wrap', 'sleep 3'])).trim()
    for (;;) {
      const res = await fetch(`${apiUrl}/api/v1/jobs/${id}`)
      if (res.status === 200) break
      await new Promise((r) => setTimeout(r, 20))
    }
    seen.push(Date.now() - startedAt(slurm, id))
  }
  row('Slurm start → job in the API (sync), median of 5', ms(quantile(seen, 0.5)), '', undefined)

  api.child.kill('SIGSTOP')
  report('hooks, API hanging', await startDelays(slurm, work), 2000)
  api.child.kill('SIGCONT')
} finally {
  sync?.kill('SIGTERM')
  await api?.stop()
  await slurm?.stop()
}
printTable()
