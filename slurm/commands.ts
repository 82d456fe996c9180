import { execFile } from 'node:child_process'
import { oneLine } from '../lib/text.ts'
import pLimit from 'p-limit'
import { parseScontrolJobs, parseSqueueJson, SlurmOutputError, type SlurmRecord } from './records.ts'

/** How the sync runs Slurm's commands. */
export interface SlurmCommandOptions {
  /** `SLURM_CONF` for every command; unset: Slurm's default (`/etc/slurm/slurm.conf`) */
  slurmConf?: string
  /** a command taking longer is killed @defaultValue 30000 */
  timeoutMs?: number
}

/** Slurm's own records, read with its commands (Slurm 22.05: `squeue --json`, `scontrol -o`). */
export interface SlurmCommands {
  /** every job Slurm lists: `squeue --json --states=all` (finished ones for MinJobAge) */
  jobs(): Promise<SlurmRecord[]>
  /**
   * The given jobs (`scontrol -o show job`, one each: in 22.05 `squeue --json` ignores `--jobs`);
   * an array job's id gives every task of it. A job Slurm has forgotten is absent.
   */
  jobsNamed(ids: number[]): Promise<SlurmRecord[]>
  /** node name → `NodeAddr` of the given nodes (`scontrol -o show node`) */
  nodeAddresses(names: string[]): Promise<Map<string, string>>
  /** Slurm's `ClusterName` */
  clusterName(): Promise<string>
}

export function slurmCommands(o: SlurmCommandOptions = {}): SlurmCommands {
  const env = { ...process.env, ...(o.slurmConf ? { SLURM_CONF: o.slurmConf } : {}) }
  const run = (cmd: string, args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(cmd, args, { env, timeout: o.timeoutMs ?? 30_000, killSignal: 'SIGKILL', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
        if (err) {
          const why = oneLine(stderr.trim() || err.message).slice(0, 300)
          reject(new SlurmOutputError(`${cmd} ${args.join(' ')}: ${err.killed ? `no answer in ${(o.timeoutMs ?? 30_000) / 1000} s` : why}`))
        } else resolve(stdout)
      })
    })
  return {
    async jobs() {
      return parseSqueueJson(await run('squeue', ['--json', '--states=all']))
    },
    async jobsNamed(ids) {
      // One `scontrol` per job, 8 at a time: a job Slurm no longer knows is simply absent.
      const limit = pLimit(8)
      const each = await Promise.all(
        ids.map((id) =>
          limit(async () => {
            try {
              return parseScontrolJobs(await run('scontrol', ['-o', 'show', 'job', String(id)]))
            } catch (err) {
              if (err instanceof SlurmOutputError && /Invalid job id/i.test(err.message)) return []
              throw err
            }
          }),
        ),
      )
      return each.flat()
    },
    async nodeAddresses(names) {
      const out = new Map<string, string>()
      if (!names.length) return out
      const text = await run('scontrol', ['-o', 'show', 'node', names.join(',')])
      for (const line of text.split('\n')) {
        const name = /(?:^|\s)NodeName=(\S+)/.exec(line)?.[1]
        const addr = /(?:^|\s)NodeAddr=(\S+)/.exec(line)?.[1]
        if (name && addr) out.set(name, addr)
      }
      return out
    },
    async clusterName() {
      const text = await run('scontrol', ['show', 'config'])
      const name = /^ClusterName\s*=\s*(\S+)/m.exec(text)?.[1]
      if (!name) throw new SlurmOutputError('scontrol show config: no ClusterName')
      return name
    },
  }
}
