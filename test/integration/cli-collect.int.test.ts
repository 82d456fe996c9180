import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'

const BIN = new URL('../../bin/qactivity.mjs', import.meta.url).pathname
let influxd: Influxd
let sim: RunningSimulator
let tls: RunningSimulator
let caFile: string

beforeAll(async () => {
  const scenario = parseScenario({
    workloads: [{ clients: ['10.9.0.1'], path: '/proj/a', files: 2, ops: { 'file-iops-read': 60, 'file-throughput-write': 15 } }],
  })
  ;[influxd, sim, tls] = await Promise.all([
    startInfluxd(),
    startSimulator({ scenario, users: { admin: 'pw-do-not-print' } }),
    startSimulator({ scenario, https: true, accessTokens: ['access-v1:tls-token'] }),
  ])
  caFile = join(tempDir(), 'qumulo-ca.pem')
  writeFileSync(caFile, tls.caPem!)
})
afterAll(async () => {
  await sim?.close()
  await tls?.close()
  await influxd?.stop()
})

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** `killWhen`: SIGTERM once the output so far (stdout + stderr) satisfies it. */
function run(args: string[], env: Record<string, string>, opts: { killWhen?: (output: string) => boolean } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      cwd: tempDir(),
    })
    let stdout = ''
    let stderr = ''
    let killed = false
    const seen = () => {
      if (!killed && opts.killWhen?.(stdout + stderr)) killed = child.kill('SIGTERM')
    }
    child.stdout.on('data', (d) => ((stdout += d), seen()))
    child.stderr.on('data', (d) => ((stderr += d), seen()))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const baseEnv = () => ({
  QUMULO_URL: sim.url,
  QUMULO_USERNAME: 'admin',
  QUMULO_PASSWORD: 'pw-do-not-print',
  INFLUX_URL: influxd.url,
  QACTIVITY_DATA_DIR: tempDir(),
})

describe('qactivity collect', () => {
  it('--once polls, writes to InfluxDB and exits 0', async () => {
    const env = { ...baseEnv(), INFLUX_BUCKET: 'cli_once', QUMULO_CLUSTER: 'c1' }
    const r = await run(['collect', '--once'], env)
    expect(r.stderr).not.toContain('pw-do-not-print')
    expect(r.code).toBe(0)
    const [res] = await createInfluxQL({ url: influxd.url, bucket: 'cli_once', queryLanguage: 'influxql' }).query(
      `SELECT sum("iops_read") AS r, sum("throughput_write") AS w FROM "qactivity_raw"."qumulo_activity" WHERE "cluster" = 'c1'`,
    )
    // stored as counts of Qumulo's 60 s window: 2 ops/s and 2 × 15 blocks a minute
    expect(res.series[0].values[0].slice(1)).toEqual([120, 2 * 15 * 4096])
  })

  it('--once exits 1 and names the failing endpoint when Qumulo is unreachable', async () => {
    const r = await run(['collect', '--once'], { ...baseEnv(), QUMULO_URL: 'http://127.0.0.1:9', INFLUX_BUCKET: 'cli_down' })
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/Activity poll failed.*ECONNREFUSED/)
    expect(r.stderr).not.toContain('pw-do-not-print')
  })

  const selfSignedTls =
    '--once trusts a self-signed cluster through QUMULO_CA_FILE, refuses it without, or with QUMULO_INSECURE_TLS=1 accepts it'
  it(selfSignedTls, async () => {
    const env = {
      ...baseEnv(),
      QUMULO_URL: tls.url,
      QUMULO_TOKEN: 'access-v1:tls-token',
      QUMULO_USERNAME: '',
      QUMULO_PASSWORD: '',
      INFLUX_BUCKET: 'cli_tls',
    }
    const trusted = await run(['collect', '--once'], { ...env, QUMULO_CA_FILE: caFile })
    expect(trusted.code).toBe(0)
    const untrusted = await run(['collect', '--once'], env)
    expect(untrusted.code).toBe(1)
    expect(untrusted.stderr).toContain('QUMULO_CA_FILE')
    expect(untrusted.stderr).not.toContain('tls-token')
    const insecure = await run(['collect', '--once'], { ...env, QUMULO_INSECURE_TLS: '1' })
    expect(insecure.code).toBe(0)
  })

  it('refuses to start on invalid configuration, naming every variable, exit 2', async () => {
    const r = await run(['collect', '--once'], { QACTIVITY_POLL_SECONDS: 'soon', QACTIVITY_DATA_DIR: tempDir() })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    for (const v of ['QUMULO_URL', 'INFLUX_URL', 'QACTIVITY_POLL_SECONDS']) expect(r.stderr).toContain(v)
  })

  it('polls on the 1 s grid until SIGTERM, logging in again as 1 s session tokens expire, then exits 0', async () => {
    sim.setFaults({ tokenLifetimeSeconds: 1 })
    const logins = sim.requests['POST /v1/session/login'] ?? 0
    try {
      // Stopped after four cycles, however slowly a loaded machine starts the process.
      const cycles = (out: string) => out.match(/Cycle (done|incomplete)/g)?.length ?? 0
      const r = await run(
        ['collect'],
        { ...baseEnv(), INFLUX_BUCKET: 'cli_loop', QACTIVITY_POLL_SECONDS: '1', QACTIVITY_LOG_LEVEL: 'debug' },
        { killWhen: (out) => cycles(out) >= 4 },
      )
      expect(r.code).toBe(0)
    } finally {
      sim.setFaults({ tokenLifetimeSeconds: 36000 })
    }
    const [res] = await createInfluxQL({ url: influxd.url, bucket: 'cli_loop', queryLanguage: 'influxql' }).query(
      `SELECT "success", "skipped_ticks" FROM "qactivity_collector"`,
    )
    const rows = res.series[0].values as number[][]
    expect(rows.length).toBeGreaterThanOrEqual(3)
    // every cycle succeeded although tokens expired between them: re-login, no gap
    expect(rows.map((v) => v[1])).toEqual(rows.map(() => 1))
    // consecutive grid seconds; a tick lost to a slow cycle is accounted for in skipped_ticks
    rows.slice(1).forEach((v, i) => expect(v[0] - rows[i][0]).toBe(1 + v[2]))
    expect((sim.requests['POST /v1/session/login'] ?? 0) - logins).toBeGreaterThanOrEqual(2)
  })
})
