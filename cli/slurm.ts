import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../lib/config.ts'
import { UsageError, messageOf } from '../lib/errors.ts'
import { createLogger } from '../lib/log.ts'
import { slurmCommands } from '../slurm/commands.ts'
import { HOOK_FILE, SETTINGS_FILE, UNIT_FILE, hookScript, settingsFile, slurmConfLines, syncUnit } from '../slurm/hooks.ts'
import { nodeAddresses } from '../slurm/nodes.ts'
import { ConflictError, createSlurmSync, type SyncApi } from '../slurm/sync.ts'
import { ApiResponseError, createApiClient, type ApiClient } from './api-client.ts'
import { COMMANDS } from './commands.ts'

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: COMMANDS.slurm.options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(messageOf(err))
  }
}

/** `qactivity slurm conf [--hooks-dir DIR]` | `qactivity slurm sync [--once]` */
export async function runSlurmCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parse(argv)
  const [sub, ...rest] = positionals
  if (rest.length) throw new UsageError(`slurm ${sub}: unexpected "${rest[0]}"`)
  if (sub === 'conf') {
    if (values.once) throw new UsageError('slurm conf: --once belongs to slurm sync')
    return conf(resolve(values['hooks-dir'] ?? '/etc/slurm/qactivity'), env)
  }
  if (sub === 'sync') {
    if (values['hooks-dir'] !== undefined) throw new UsageError('slurm sync: --hooks-dir belongs to slurm conf')
    return sync(values.once === true, env)
  }
  throw new UsageError(sub === undefined ? 'slurm: give conf or sync' : `slurm: unknown subcommand "${sub}" (conf or sync)`)
}

/** The directories of `squeue` and `scontrol` on this PATH. */
function slurmBinDirs(env: NodeJS.ProcessEnv): string[] {
  const dirs = (env.PATH ?? '').split(':').filter(Boolean)
  return ['squeue', 'scontrol'].map((cmd) => dirs.find((d) => existsSync(join(d, cmd)))).filter((d): d is string => d !== undefined)
}

/** SlurmUser of a slurm.conf (Slurm's default: root). */
function slurmUserOf(slurmConf: string): string {
  const text = readFileSync(slurmConf, 'utf8')
  return /^\s*SlurmUser\s*=\s*(\S+)/im.exec(text)?.[1] ?? 'root'
}

function idsOf(user: string): { uid: number; gid: number } {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', user]).toString().trim()),
      gid: Number(execFileSync('id', ['-g', user]).toString().trim()),
    }
  } catch {
    throw new UsageError(`SlurmUser "${user}" is not a user on this host`)
  }
}

/** Writes the hook, the settings and the unit; prints the slurm.conf lines on stdout, what to do next on stderr. */
function conf(hooksDir: string, env: NodeJS.ProcessEnv): number {
  const config = loadConfig(env)
  const slurmConf = resolve(config.slurm.slurmConf ?? '/etc/slurm/slurm.conf')
  if (!existsSync(slurmConf)) throw new Error(`slurm conf: no ${slurmConf} (set SLURM_CONF to the cluster's slurm.conf)`)
  const slurmUser = slurmUserOf(slurmConf)
  const { uid, gid } = idsOf(slurmUser)
  const settings: Record<string, string> = {
    QACTIVITY_URL: config.client.url,
    ...(config.client.token ? { QACTIVITY_TOKEN: config.client.token } : {}),
    SLURM_CONF: slurmConf,
    QACTIVITY_SLURM_SPOOL: config.slurm.spoolDir,
    // Where this shell finds squeue and scontrol (Slurm may live in /opt/slurm/bin), then the usual.
    PATH: [...new Set([...slurmBinDirs(env), '/usr/local/bin', '/usr/bin', '/bin'])].join(':'),
  }
  for (const [k, v] of Object.entries(env)) if (k.startsWith('QACTIVITY_SLURM_') && v && !(k in settings)) settings[k] = v
  const script = realpathSync(process.argv[1])
  // The unit runs this very script: an npx cache or a checkout's temporary copy would vanish.
  if (/[/\\]_npx[/\\]/.test(script))
    throw new UsageError(`slurm conf: run it with the installed qactivity, not through npx (${script} is in npx's cache)`)
  const install = {
    hooksDir,
    spoolDir: config.slurm.spoolDir,
    slurmConf,
    slurmUser,
    // By absolute path: the sync must never depend on a PATH or on npx.
    qactivity: [process.execPath, script],
    settings,
  }
  try {
    mkdirSync(hooksDir, { recursive: true, mode: 0o755 })
    writeFileSync(join(hooksDir, HOOK_FILE), hookScript(install), { mode: 0o755 })
    chmodSync(join(hooksDir, HOOK_FILE), 0o755)
    // The token: SlurmUser's (the sync runs as it) and root's, nobody else's — not even SlurmUser's group.
    writeFileSync(join(hooksDir, SETTINGS_FILE), settingsFile(install), { mode: 0o600 })
    chmodSync(join(hooksDir, SETTINGS_FILE), 0o600)
    chownSync(join(hooksDir, SETTINGS_FILE), uid, gid)
    writeFileSync(join(hooksDir, UNIT_FILE), syncUnit(install), { mode: 0o644 })
    // Only SlurmUser (the hooks) and root write notes: a note names jobs the sync creates.
    mkdirSync(config.slurm.spoolDir, { recursive: true, mode: 0o700 })
    chownSync(config.slurm.spoolDir, uid, gid)
    chmodSync(config.slurm.spoolDir, 0o700)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new Error(`slurm conf: ${messageOf(err)}${code === 'EPERM' || code === 'EACCES' ? ' (run it as root)' : ''}`)
  }
  process.stdout.write(['# qactivity (`qactivity slurm conf`)', ...slurmConfLines(install), ''].join('\n'))
  process.stderr.write(
    [
      `wrote ${join(hooksDir, HOOK_FILE)}, ${join(hooksDir, SETTINGS_FILE)} (mode 0600, owned by ${slurmUser})`,
      `and ${join(hooksDir, UNIT_FILE)};`,
      `spool ${config.slurm.spoolDir} (owned by ${slurmUser}). Next:`,
      `  1. add the lines above to ${slurmConf} and restart slurmctld (scontrol reconfigure does not load new controller hooks)`,
      `  2. cp ${join(hooksDir, UNIT_FILE)} /etc/systemd/system/ && systemctl enable --now ${UNIT_FILE.replace('.service', '')}`,
      '',
    ].join('\n'),
  )
  return 0
}

/** The job API over HTTP, as the sync uses it; refusals that retrying cannot fix are ConflictErrors. */
export function syncApi(client: ApiClient): SyncApi {
  // For good: the id is another job's (or archived), or the job is gone. Anything else (a 409 "created
  // concurrently", a 400 from a clock ahead of the API's, 5xx, no answer) is asked again later.
  const permanent = (err: unknown) =>
    err instanceof ApiResponseError &&
    ((err.status === 409 && /exists (with another|in the archive)/.test(err.message)) || err.status === 404)
      ? new ConflictError(err.message)
      : err
  return {
    async running(labels) {
      const ids = new Set<string>()
      let cursor: string | null = null
      do {
        const query = new URLSearchParams({ status: 'running', limit: '500' })
        for (const l of labels) query.append('label', l)
        if (cursor) query.set('cursor', cursor)
        const page: { jobs: Array<{ id: string }>; nextCursor: string | null } = await client.request('GET', '/jobs', { query })
        for (const j of page.jobs) ids.add(j.id)
        cursor = page.nextCursor
      } while (cursor)
      return ids
    },
    async create(job) {
      try {
        return await client.request<{ status: string }>('POST', '/jobs', { body: job })
      } catch (err) {
        throw permanent(err)
      }
    },
    async addClients(id, clients) {
      await client.request('POST', `/jobs/${encodeURIComponent(id)}/clients`, { body: { clients } })
    },
    async complete(id, body) {
      try {
        await client.request('POST', `/jobs/${encodeURIComponent(id)}/complete`, { body })
        return 'done'
      } catch (err) {
        if (err instanceof ApiResponseError && err.status === 409 && /already/.test(err.message)) return 'already'
        throw permanent(err)
      }
    },
    async report(r) {
      await client.request('POST', '/slurm/status', { body: r })
    },
  }
}

async function sync(once: boolean, env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadConfig(env)
  const log = createLogger(config.logLevel, { component: 'slurm-sync' })
  const slurm = slurmCommands({ slurmConf: config.slurm.slurmConf })
  if (!existsSync(config.slurm.spoolDir))
    throw new Error(`QACTIVITY_SLURM_SPOOL: no such directory "${config.slurm.spoolDir}" (run qactivity slurm conf)`)
  const s = createSlurmSync({
    slurm,
    api: syncApi(createApiClient({ url: config.client.url, token: config.client.token })),
    addresses: nodeAddresses({
      template: config.slurm.clientTemplate,
      file: config.slurm.clientFile,
      nodeAddr: (n) => slurm.nodeAddresses(n),
    }),
    spoolDir: config.slurm.spoolDir,
    mapping: { idPrefix: config.slurm.idPrefix, mounts: config.slurm.mounts },
    cluster: config.slurm.cluster,
    periodSeconds: config.slurm.syncSeconds,
    log,
  })
  if (once) {
    const r = await s.once()
    process.stdout.write(`created ${r.created}, completed ${r.completed}, events pending ${r.pending}\n`)
    for (const p of r.problems) process.stderr.write(`qactivity: ${p}\n`)
    return r.problems.length ? 1 : 0
  }
  log.info('Slurm sync started', { spool: config.slurm.spoolDir, periodSeconds: config.slurm.syncSeconds })
  s.start()
  await new Promise<void>((done) => {
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })
  await s.stop()
  return 0
}
