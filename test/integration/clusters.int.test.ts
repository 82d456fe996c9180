import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { freePort, startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'

/**
 * `qactivity serve` polling two clusters that both have /render/shots and both see client
 * 10.0.1.1, into one database: a job on cluster "a" counts only a's points. Cluster "b" answers
 * slowly (each request takes longer than a poll interval), and a's polls must not suffer for it.
 */

const I = 2
const BIN = new URL('../../bin/qactivity.mjs', import.meta.url).pathname
const TOKEN = 'writer-token-0123456789'
// Ops per minute per file per client: a's and b's differ so that a mixed total cannot pass.
const A = { reads: 120, writes: 30, files: 2 }
const B = { reads: 600, writes: 6, files: 3 }
const scenario = (w: typeof A, usedBytes: number) =>
  parseScenario({
    workloads: [
      {
        clients: ['10.0.1.1'],
        path: '/render/shots/sq010',
        files: w.files,
        ops: { 'file-iops-read': w.reads, 'file-throughput-write': w.writes },
      },
    ],
    capacity: [{ path: '/render/shots', usedBytes, files: 10, directories: 2 }],
  })

let influxd: Influxd
let simA: RunningSimulator
let simB: RunningSimulator
let serve: ChildProcess
let api: string
let stderr = ''

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(api + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: await res.json() }
}

beforeAll(async () => {
  ;[influxd, simA, simB] = await Promise.all([
    startInfluxd(),
    startSimulator({ scenario: scenario(A, 1_000_000), users: { qa: 'pw-a' } }),
    startSimulator({ scenario: scenario(B, 9_000_000), accessTokens: ['access-v1:token-b'], faults: { latencyMs: 2500 } }),
  ])
  const dir = tempDir()
  writeFileSync(join(dir, 'b.token'), 'access-v1:token-b\n')
  // YAML with a relative tokenFile: read from the clusters file's directory.
  writeFileSync(
    join(dir, 'clusters.yaml'),
    [
      `- name: a`,
      `  url: ${simA.url}`,
      `  username: qa`,
      `  password: pw-a`,
      `- name: b`,
      `  url: ${simB.url}`,
      `  tokenFile: b.token`,
      `  timeoutSeconds: 10`,
      '',
    ].join('\n'),
  )
  await createInfluxQL({ url: influxd.url, bucket: 'clusters', queryLanguage: 'influxql' }).query('CREATE DATABASE "clusters"')
  const port = await freePort()
  api = `http://127.0.0.1:${port}`
  serve = spawn(process.execPath, [BIN, 'serve'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      QACTIVITY_CLUSTERS_FILE: join(dir, 'clusters.yaml'),
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: 'clusters',
      QACTIVITY_POLL_SECONDS: String(I),
      QACTIVITY_PATH_DEPTH: '1',
      QACTIVITY_API_TOKENS: `ci:${TOKEN}`,
      QACTIVITY_HOST: '127.0.0.1',
      QACTIVITY_PORT: String(port),
      QACTIVITY_DATA_DIR: join(dir, 'data'),
    },
  })
  serve.stderr!.on('data', (d) => (stderr += d))
  // Up once both collector threads have polled: the API answers before the threads have started.
  await vi.waitFor(
    async () => {
      const health = (await (await fetch(`${api}/healthz`)).json()) as any
      expect(health.qumulo.clusters.a.collector.lastCycle).toEqual(expect.any(String))
      expect(health.qumulo.clusters.b.collector.lastCycle).toEqual(expect.any(String))
    },
    { timeout: 30_000, interval: 100 },
  )
}, 60_000)

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    const exited = new Promise((resolve) => serve.once('exit', resolve))
    serve.kill('SIGTERM')
    await exited
  }
  await Promise.all([simA?.close(), simB?.close(), influxd?.stop()])
})

describe('several clusters in one serve', () => {
  it('asks for a cluster when several are configured, and refuses one that is not', async () => {
    const none = await call('POST', '/api/v1/jobs', { name: 'render' })
    expect(none.status).toBe(400)
    expect(none.body.error.message).toBe('cluster: required when several clusters are configured (a, b)')
    const unknown = await call('POST', '/api/v1/jobs', { name: 'render', cluster: 'c' })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error.message).toBe('cluster: "c" is not a configured cluster (a, b)')
  })

  it("counts only its own cluster's points, with capacity from its own cluster, while the other cluster is slow", async () => {
    const created = await call('POST', '/api/v1/jobs', { name: 'render', cluster: 'a', paths: ['/render/shots'], clients: ['10.0.1.1'] })
    expect(created.status).toBe(201)
    const id = created.body.id as string
    expect(created.body.cluster).toBe('a')
    // Let both clusters be polled a few times inside the job's window.
    await vi.waitFor(
      async () => {
        const health = (await (await fetch(`${api}/healthz`)).json()) as any
        expect(Date.parse(health.qumulo.clusters.b.collector.lastCycle)).toBeGreaterThan(Date.parse(created.body.startedAt) + 2 * I * 1000)
      },
      { timeout: 20_000, interval: 200 },
    )
    const done = await call('POST', `/api/v1/jobs/${id}/complete`, {})
    const startS = Date.parse(done.body.startedAt) / 1000
    const endS = Date.parse(done.body.endedAt) / 1000
    // Every tick t (a multiple of I) with start < t < end + I overlaps the window; a polled each one.
    let expectedPolls = 0
    for (let t = Math.floor(startS / I) * I; t < endS + I; t += I) if (t > startS) expectedPolls++
    let stats: any
    await vi.waitFor(
      async () => {
        stats = (await call('GET', `/api/v1/jobs/${id}/stats`)).body
        expect(stats.polls).toBe(expectedPolls)
      },
      { timeout: 20_000, interval: 200 },
    )
    const seconds = endS - startS
    expect(stats.cluster).toBe('a')
    // Rates are constant, so the weighted sum over contiguous polls is rate × window exactly.
    expect(stats.activity.iops_read.total).toBeCloseTo(((A.reads * A.files) / 60) * seconds, 6)
    expect(stats.activity.throughput_write.total).toBeCloseTo(((A.writes * A.files * 4096) / 60) * seconds, 3)
    expect(stats.activity.iops_read.peak).toBeCloseTo((A.reads * A.files) / 60, 9)
    expect(stats.topClients).toHaveLength(1)
    // Capacity at attachment came from a (1,000,000 bytes plus what it wrote since), not b (9,000,000 and up).
    const job = (await call('GET', `/api/v1/jobs/${id}`)).body
    expect(Number(job.capacity[0].start.usedBytes)).toBeGreaterThanOrEqual(1_000_000)
    expect(Number(job.capacity[0].start.usedBytes)).toBeLessThan(2_000_000)

    // b's points were written too, for the same client, tagged b; only a watched the job's path.
    const [r] = await createInfluxQL({ url: influxd.url, bucket: 'clusters', queryLanguage: 'influxql' }).query(
      `SELECT count("iops_read") FROM "qactivity_raw"."qumulo_activity" WHERE "client_ip" = '10.0.1.1' GROUP BY "cluster", "path"`,
    )
    expect(r.series.map((s) => `${s.tags.cluster} ${s.tags.path}`).sort()).toEqual(['a /render', 'a /render/shots', 'b /render'])
    // The job's events carry its cluster.
    const [events] = await createInfluxQL({ url: influxd.url, bucket: 'clusters', queryLanguage: 'influxql' }).query(
      `SELECT count("event") FROM "qactivity_jobs"."qactivity_job" WHERE "job_id" = '${id}' GROUP BY "cluster"`,
    )
    expect(events.series.map((s) => s.tags.cluster)).toEqual(['a'])
  })

  it('reports each cluster in /healthz', async () => {
    const health = (await (await fetch(`${api}/healthz`)).json()) as any
    expect(Object.keys(health.qumulo.clusters).sort()).toEqual(['a', 'b'])
    expect(health.qumulo.clusters.a).toMatchObject({ ok: true, collector: { cluster: 'a', ok: true, failedCycles: 0 } })
    expect(stderr).not.toMatch(/pw-a|token-b/)
  })
})
