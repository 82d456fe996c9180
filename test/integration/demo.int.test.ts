import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadScenario } from '../../simulator/scenario.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'

// The README's first command, `qactivity demo`, as a user runs it (a child process).
let influxd: Influxd
beforeAll(async () => {
  influxd = await startInfluxd()
})
afterAll(async () => influxd?.stop())

const { INFLUX_URL: _ignored, ...envWithoutInflux } = process.env

function demo(env: NodeJS.ProcessEnv, dataDir: string) {
  return spawnSync(process.execPath, ['bin/qactivity.mjs', 'demo', '--cycles', '2'], {
    env: { ...env, INFLUX_BUCKET: 'demo_it', QACTIVITY_DATA_DIR: dataDir, QACTIVITY_LOG_LEVEL: 'error' },
    encoding: 'utf8',
    timeout: 60_000,
  })
}

async function answersPing(url: string): Promise<boolean> {
  return fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) }).then(
    (r) => r.status === 204,
    () => false,
  )
}

/** The private influxd the demo announced: its URL and data dir. */
function announcedInfluxd(stdout: string): { url: string; port: string; dir: string } {
  const m = /^InfluxDB: (http:\/\/127\.0\.0\.1:(\d+)), .*a private influxd, data in (\S+);/m.exec(stdout)
  expect(m, stdout).not.toBeNull()
  return { url: m![1], port: m![2], dir: m![3] }
}

/** The job JSON the demo prints after `$ curl …/jobs/ID`. */
function printedJob(stdout: string) {
  const start = stdout.indexOf('{', stdout.indexOf('$ curl http'))
  return JSON.parse(stdout.slice(start, stdout.indexOf('\n}\n', start) + 2)) as {
    capacity: Array<{
      path: string
      start: { at: string; usedBytes: string; files: string }
      end: { at: string; usedBytes: string; files: string }
    }>
  }
}

/** Bytes and files per second the demo scenario writes into `dir`; whole numbers, so growth is exact per second. */
function writtenPerSecond(dir: string) {
  const writers = loadScenario('simulator/scenarios/demo.json').workloads.filter((w) => w.path === dir && !w.deleted)
  const bytes = writers.reduce((s, w) => s + (w.clients.length * w.files * (w.ops['file-throughput-write'] ?? 0) * 4096) / 60, 0)
  const files = writers.reduce((s, w) => s + (w.clients.length * w.newFilesPerMinute) / 60, 0)
  expect(Number.isInteger(bytes) && Number.isInteger(files) && bytes > 0 && files > 0).toBe(true)
  return { bytes, files }
}

describe('qactivity demo', () => {
  it(
    'without INFLUX_URL runs its own influxd on a free port, queries it, removes it at the end, ' +
      'and the job grows by what the scenario wrote',
    async () => {
      const dataDir = tempDir()
      const r = demo(envWithoutInflux, dataDir)
      expect(r.status, r.stderr).toBe(0)
      const own = announcedInfluxd(r.stdout)
      expect(own.port).not.toBe('8086')
      expect(r.stdout).toContain(`$ influx -host 127.0.0.1 -port ${own.port} -database demo_it -execute 'SELECT`)
      expect(existsSync(own.dir)).toBe(false)
      expect(await answersPing(own.url)).toBe(false)

      // Ground truth: whole seconds of writing between the two snapshots, each adding the same bytes and files.
      const job = printedJob(r.stdout)
      const out = job.capacity.find((c) => c.path === '/render/output/sq010')!
      const rate = writtenPerSecond('/render/output/sq010')
      const files = Number(out.end.files) - Number(out.start.files)
      const seconds = files / rate.files
      expect(Number.isInteger(seconds) && seconds >= 1).toBe(true)
      expect(BigInt(out.end.usedBytes) - BigInt(out.start.usedBytes)).toBe(BigInt(seconds * (rate.bytes + 4096 * rate.files)))
      expect(Math.abs(seconds - (Date.parse(out.end.at) - Date.parse(out.start.at)) / 1000)).toBeLessThanOrEqual(1)
      const shots = job.capacity.find((c) => c.path === '/render/shots/sq010')!
      expect(shots.end.usedBytes).toBe(shots.start.usedBytes)
      expect(r.stdout).toMatch(/^\/render\/output\/sq010\s+\+\d/m)
    },
    90_000,
  )

  it('with INFLUX_URL writes there and prints queries against it: activity, the job, its stats and its PDF report', () => {
    const dataDir = tempDir()
    const r = demo({ ...process.env, INFLUX_URL: influxd.url }, dataDir)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain(`InfluxDB: ${influxd.url}, database "demo_it" (INFLUX_URL)`)
    expect(r.stdout).toContain(`$ influx -host 127.0.0.1 -port ${influxd.port} -database demo_it -execute`)
    expect(r.stdout).toMatch(/cycle at .*activity entries/)
    expect(r.stdout).toMatch(/^iops_read\s+\S+ k? ?ops/m)
    const pdf = readdirSync(join(dataDir, 'demo')).find((f) => /^report-.*\.pdf$/.test(f))
    expect(pdf).toBeDefined()
    expect(execFileSync('pdftotext', [join(dataDir, 'demo', pdf!), '-'], { encoding: 'utf8' })).toContain('demo-render')
  }, 90_000)

  it('stops and removes its influxd on Ctrl-C', async () => {
    const child = spawn(process.execPath, ['bin/qactivity.mjs', 'demo', '--cycles', '100'], {
      env: { ...envWithoutInflux, QACTIVITY_DATA_DIR: tempDir(), QACTIVITY_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString()
        if (stdout.includes('Started job')) resolve()
      })
      child.once('exit', () => reject(new Error(`demo exited early: ${stdout}`)))
    })
    const own = announcedInfluxd(stdout)
    expect(await answersPing(own.url)).toBe(true)
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    expect(existsSync(own.dir)).toBe(false)
    expect(await answersPing(own.url)).toBe(false)
  }, 60_000)
})
