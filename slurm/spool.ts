import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { messageOf } from '../lib/errors.ts'

/**
 * The hook spool (`QACTIVITY_SLURM_SPOOL`): the controller hooks (slurm/hooks.ts) note each job start
 * and end here as one file, `<epoch µs>.<pid>.<slurm job id>.<prolog|epilog>`, holding the hook's
 * environment (`env -0`: NUL-separated `NAME=value`). The file is written under a dot name and renamed,
 * so a listed file is complete. The sync reads them and removes each once the API has what it says.
 */
export interface HookEvent {
  /** file name in the spool */
  file: string
  kind: 'prolog' | 'epilog'
  /** when the hook ran, epoch ms */
  atMs: number
  /** Slurm's numeric job id (`SLURM_JOB_ID`) */
  jobId: number
  /** the hook's `SLURM_*` variables */
  env: Record<string, string>
}

const NAME = /^(\d{10,20})\.\d+\.(\d+)\.(prolog|epilog)$/

/** Parses `env -0` output; only `SLURM_*` variables are kept. */
export function parseHookEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=')
    if (eq > 0 && entry.startsWith('SLURM_')) env[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return env
}

/**
 * What the spool holds now, oldest first: the names of all its notes, and the notes themselves of
 * the first `max` that `wanted` accepts (the others are not read). Files it cannot read or name are
 * reported, not dropped.
 */
export async function readSpool(
  dir: string,
  o: { wanted?: (file: string) => boolean; max?: number } = {},
): Promise<{ files: string[]; events: HookEvent[]; problems: string[] }> {
  const files: string[] = []
  const events: HookEvent[] = []
  const problems: string[] = []
  for (const file of (await readdir(dir)).sort()) {
    if (file.startsWith('.') || file === 'hooks.log') continue
    const m = NAME.exec(file)
    if (!m) {
      problems.push(`${join(dir, file)}: not a hook event file`)
      continue
    }
    files.push(file)
    if (events.length >= (o.max ?? Infinity) || (o.wanted && !o.wanted(file))) continue
    try {
      const env = parseHookEnv(await readFile(join(dir, file), 'utf8'))
      events.push({ file, kind: m[3] as HookEvent['kind'], atMs: Math.floor(Number(m[1]) / 1000), jobId: Number(m[2]), env })
    } catch (err) {
      // removed by another sync meanwhile: nothing to report
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${join(dir, file)}: ${messageOf(err)}`)
    }
  }
  return { files, events, problems }
}

/** Removes handled event files; one that is already gone is fine. */
export async function removeEvents(dir: string, files: string[]): Promise<void> {
  await Promise.all(files.map((f) => rm(join(dir, f), { force: true })))
}
