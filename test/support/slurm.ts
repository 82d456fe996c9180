import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../../lib/influx/local-server.ts'
import { tempDir } from './tmp.ts'

const run = promisify(execFile)

/** A one-host Slurm (Debian's slurm-wlm 22.05) on free ports with a private configuration and state. */
export interface TestSlurm {
  /** the private slurm.conf (every Slurm command honours `SLURM_CONF`) */
  conf: string
  dir: string
  /** environment for Slurm commands and hooks: `SLURM_CONF` and a PATH with Slurm's binaries */
  env: NodeJS.ProcessEnv
  /** runs a Slurm command (`sbatch`, `scontrol`, `squeue`…) against this cluster; its stdout */
  cmd(name: string, args: string[]): Promise<string>
  /** `scontrol -o show job ID` as key → value */
  job(id: string): Promise<Record<string, string>>
  /** the daemons' logs, for a failure's message */
  logs(): string
  stop(): Promise<void>
}

/** munged is one per machine (its socket path is fixed): started once, left running like a system service. */
async function ensureMunged(): Promise<void> {
  const socket = '/run/munge/munge.socket.2'
  if (existsSync(socket)) {
    try {
      await run('munge', ['-n'], { timeout: 5000 })
      return
    } catch {
      // a stale socket: start it again below
    }
  }
  mkdirSync('/run/munge', { recursive: true })
  const munge = Number((await run('id', ['-u', 'munge'])).stdout.trim())
  chownSync('/run/munge', munge, munge)
  await run('runuser', ['-u', 'munge', '--', '/usr/sbin/munged', '--force'], { timeout: 10_000 })
  for (let i = 0; i < 50 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100))
}

/**
 * Starts slurmctld and slurmd in the foreground (`-D`) with a private configuration: one node (this
 * host at 127.0.0.1, 2 CPUs), one default partition, no cgroups (`proctrack/linuxproc`,
 * `task/none`), state and spool directories owned by SlurmUser `slurm`. Resolves once the node is
 * idle. `extra` lines are appended to slurm.conf (hooks, PrologFlags…); a function gets the path of
 * the written slurm.conf first (for `qactivity slurm conf`, which reads it) and returns them.
 */
export async function startSlurm(extra: string[] | ((conf: string) => Promise<string[]>) = []): Promise<TestSlurm> {
  await ensureMunged()
  const dir = tempDir('qactivity-slurm-')
  chmodSync(dir, 0o755) // SlurmUser must traverse it
  const slurm = Number((await run('id', ['-u', 'slurm'])).stdout.trim())
  for (const d of ['state', 'spool']) {
    mkdirSync(join(dir, d), { recursive: true })
    chownSync(join(dir, d), slurm, slurm)
  }
  const node = hostname().split('.')[0]
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()]
  const conf = join(dir, 'slurm.conf')
  writeFileSync(
    conf,
    [
      'ClusterName=qa',
      `SlurmctldHost=${node}(127.0.0.1)`,
      'SlurmUser=slurm',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'slurmd.log')}`,
      'AuthType=auth/munge',
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      // Cores only: with memory as a resource too, a job takes the node's whole (unset, 1 MB) memory and the next waits.
      'SelectTypeParameters=CR_Core',
      'MpiDefault=none',
      'ReturnToService=2',
      'MinJobAge=600',
      // With EpilogSlurmctld set, a job waiting for a busy CPU starts at a backfill pass: one every second.
      'SchedulerParameters=sched_interval=1,bf_interval=1',
      `NodeName=${node} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  )
  const lines = typeof extra === 'function' ? await extra(conf) : extra
  if (lines.length) appendFileSync(conf, `${lines.join('\n')}\n`)
  const env = { ...process.env, SLURM_CONF: conf, PATH: `/usr/bin:/usr/sbin:/bin:/sbin:${process.env.PATH ?? ''}` }
  const daemons: ChildProcess[] = [
    spawn('/usr/sbin/slurmctld', ['-D', '-i'], { env, stdio: 'ignore' }),
    spawn('/usr/sbin/slurmd', ['-D'], { env, stdio: 'ignore' }),
  ]
  const logs = () =>
    ['slurmctld.log', 'slurmd.log']
      .map((f) => (existsSync(join(dir, f)) ? `--- ${f}\n${readFileSync(join(dir, f), 'utf8').split('\n').slice(-30).join('\n')}` : ''))
      .join('\n')
  const cmd = async (name: string, args: string[]) => (await run(name, args, { env, timeout: 30_000 })).stdout
  const stop = async () => {
    await Promise.all(
      daemons.map(
        (d) =>
          new Promise<void>((resolve) => {
            if (d.exitCode !== null || d.signalCode !== null) return resolve()
            d.once('exit', () => resolve())
            d.kill('SIGTERM')
          }),
      ),
    )
  }
  // Up once the node takes jobs.
  const deadline = Date.now() + 60_000
  for (;;) {
    const state = await cmd('sinfo', ['-h', '-N', '-o', '%T']).catch(() => '')
    if (/^idle/m.test(state)) break
    if (Date.now() > deadline || daemons.some((d) => d.exitCode !== null)) {
      await stop()
      throw new Error(`Slurm did not start (node state "${state.trim()}")\n${logs()}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    conf,
    dir,
    env,
    cmd,
    async job(id) {
      const line = (await cmd('scontrol', ['-o', 'show', 'job', id])).trim()
      return Object.fromEntries(
        line.split(/ (?=[A-Za-z][\w:/]*=)/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]),
      )
    },
    logs,
    stop,
  }
}
