import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const ROOT = new URL('../..', import.meta.url).pathname

/** The project as users get it: `npm pack` (which builds dist/), installed with `npm install -g --prefix`. */
export interface PackedInstall {
  /** Paths inside the tarball. */
  files: string[]
  /** The installed executable, `<prefix>/bin/qactivity`. */
  bin: string
  prefix: string
}

function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } })
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`)
  return r.stdout
}

/** Packs the checkout into `dir` and installs the tarball under `dir/prefix` (dependencies from the npm cache or registry). */
export function packAndInstall(dir: string): PackedInstall {
  const out = npm(['pack', '--json', '--pack-destination', dir], ROOT)
  const [packed] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>
  const prefix = join(dir, 'prefix')
  npm(['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed.filename)], dir)
  return { files: packed.files.map((f) => f.path), bin: join(prefix, 'bin', 'qactivity'), prefix }
}
