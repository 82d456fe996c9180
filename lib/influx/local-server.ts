import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A private influxd (Debian's 1.6.7 package) on free loopback ports with its data in a temp dir: the
 * demo's database, and the tests'. Both of its ports are moved, so it never meets an InfluxDB already
 * running on the machine (8086, 8088).
 */
export interface LocalInfluxd {
  /** e.g. `http://127.0.0.1:41234` */
  url: string
  /** HTTP port */
  port: number
  /** Temp dir holding the config, meta, data and wal dirs. */
  dir: string
  /** SIGTERM, then waits for the process to exit (SIGKILL after 10 s). */
  stop(): Promise<void>
  /** SIGKILL, without waiting. */
  kill(): void
  /** Starts again on the same port and data dir; resolves when `/ping` answers. */
  start(): Promise<void>
  /** Stops it and removes its temp dir. */
  close(): Promise<void>
}

/** Options of {@link startLocalInfluxd}. */
export interface LocalInfluxdOptions {
  /** Milliseconds to wait for `/ping` @defaultValue 20000 */
  readyTimeoutMs?: number
  /** Keep the temp dir when the test process exits (for post-mortems) @defaultValue false */
  keepDir?: boolean
  /** More `[data]` settings, e.g. `cache-snapshot-write-cold-duration = "1s"` (the storage benchmark) */
  data?: string[]
}

const running = new Set<ChildProcess>()
const dirs = new Set<string>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // influxd may still be dying; a leftover temp dir in the system temp folder is harmless.
    }
  }
})

/** Where {@link freePort} picks from: below Linux's ephemeral range (32768–60999), which outgoing connections take. */
const PORTS = { from: 20_000, to: 32_000 }

/** Whether `port` can be bound on 127.0.0.1 right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/**
 * A TCP port free on 127.0.0.1 right now, chosen at random below the ephemeral range: a port the OS
 * hands out for `listen(0)` is one any outgoing connection (a Slurm daemon's, a test's HTTP client)
 * may take before the server it was meant for binds it.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = PORTS.from + Math.floor(Math.random() * (PORTS.to - PORTS.from))
    if (await canBind(port)) return port
  }
  throw new Error(`no free port found between ${PORTS.from} and ${PORTS.to}`)
}

function requireInfluxd(): void {
  const found = spawnSync('sh', ['-c', 'command -v influxd'], { encoding: 'utf8' })
  if (found.status !== 0) {
    throw new Error('influxd is not on PATH: run `bash scripts/ensure-system-deps.sh` (installs Debian influxdb) or set INFLUX_URL')
  }
}

function configText(dir: string, httpPort: number, rpcPort: number, data: string[] = []): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${dir}/meta"
  logging-enabled = false

[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  trace-logging-enabled = false
${data.map((l) => `  ${l}\n`).join('')}
[monitor]
  store-enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  write-tracing = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) })
    return res.status === 204
  } catch {
    return false
  }
}

/**
 * Starts a private influxd; `close()` it when done (it is SIGKILLed and its dir removed at process exit
 * anyway). Throws when influxd is missing.
 */
export async function startLocalInfluxd(opts: LocalInfluxdOptions = {}): Promise<LocalInfluxd> {
  requireInfluxd()
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000
  const dir = mkdtempSync(join(tmpdir(), 'qactivity-influxd-'))
  if (!opts.keepDir) dirs.add(dir)
  const port = await freePort()
  const rpcPort = await freePort()
  const configFile = join(dir, 'influxdb.conf')
  writeFileSync(configFile, configText(dir, port, rpcPort, opts.data))
  const url = `http://127.0.0.1:${port}`
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()

  const start = async (): Promise<void> => {
    if (child?.killed) await exited // after kill(): wait until the port is free again
    if (child) throw new Error('influxd is already running')
    let stderr = ''
    const proc = spawn('influxd', ['run', '-config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    running.add(proc)
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    })
    let exitCode: number | string | null | undefined
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        exitCode = code ?? signal
        running.delete(proc)
        if (child === proc) child = undefined
        resolve()
      })
    })
    const deadline = Date.now() + readyTimeoutMs
    while (!(await ping(url))) {
      if (exitCode !== undefined || Date.now() > deadline) {
        proc.kill('SIGKILL')
        const why = exitCode !== undefined ? `exited (${exitCode})` : `not ready after ${readyTimeoutMs} ms`
        throw new Error(`influxd ${why} on ${url}; stderr tail:\n${stderr.trim().split('\n').slice(-15).join('\n')}`)
      }
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  const stop = async (): Promise<void> => {
    const proc = child
    if (!proc) return
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }

  await start()
  return {
    url,
    port,
    dir,
    start,
    kill: () => child?.kill('SIGKILL'),
    stop,
    async close() {
      await stop()
      dirs.delete(dir)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
