import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { freePort, startInfluxd, type Influxd } from '../support/influxd.ts'
import { startApiProcess, type ApiProcess } from '../support/api-process.ts'
import { tempDir } from '../support/tmp.ts'

/**
 * `qactivity job …` as users run it: the real CLI as a child process against the real API
 * (`qactivity api`, its own child process) backed by a real influxd and the Qumulo simulator.
 */

const BIN = new URL('../../bin/qactivity.mjs', import.meta.url).pathname
const EXAMPLES = new URL('../../examples/', import.meta.url).pathname
const WRITER = 'ci-writer-token-0123456789'
const READER = 'ci-reader-token-0123456789'

let influxd: Influxd
let sim: RunningSimulator
let api: ApiProcess
let apiUrl: string

beforeAll(async () => {
  const scenario = parseScenario({
    workloads: [{ clients: ['127.0.0.1'], path: '/render/shots', files: 2, ops: { 'file-iops-write': 60 } }],
    capacity: [{ path: '/render/shots', usedBytes: '1073741824', files: 100, directories: 3 }],
  })
  ;[influxd, sim] = await Promise.all([startInfluxd(), startSimulator({ scenario, users: { admin: 'sim-password' } })])
  const port = await freePort()
  api = await startApiProcess({
    QACTIVITY_API_TOKENS: `ci:${WRITER}:writer,viewer:${READER}:reader`,
    QACTIVITY_PORT: String(port),
    QACTIVITY_HOST: '127.0.0.1',
    QACTIVITY_DATA_DIR: tempDir(),
    INFLUX_URL: influxd.url,
    INFLUX_BUCKET: 'cli_job',
    QUMULO_URL: sim.url,
    QUMULO_USERNAME: 'admin',
    QUMULO_PASSWORD: 'sim-password',
  })
  apiUrl = api.url
}, 90_000)

afterAll(async () => {
  await api?.stop()
  await sim?.close()
  await influxd?.stop()
})

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(cmd: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        QACTIVITY_URL: apiUrl,
        QACTIVITY_TOKEN: WRITER,
        ...env,
      } as NodeJS.ProcessEnv,
      cwd: tempDir(),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** `qactivity job …` */
const qa = (args: string[], env: Record<string, string | undefined> = {}) => run(process.execPath, [BIN, 'job', ...args], env)

/** Asserts a failure: exit code, nothing on stdout, exactly one `qactivity: …` line on stderr. */
function expectFailure(r: Run, code: 1 | 2, message: RegExp): void {
  expect(r, r.stderr).toMatchObject({ code, stdout: '' })
  expect(r.stderr.endsWith('\n')).toBe(true)
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
  expect(r.stderr).toMatch(/^qactivity: /)
  expect(r.stderr.trimEnd()).toMatch(message)
}

const ID_LINE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\n$/

describe('qactivity job against the real API', () => {
  it('start prints only the ID; add-path/add-client/comment/complete are quiet; show --json has everything', async () => {
    const start = await qa(['start', '--name', 'render', '--path', '/render/shots', '--label', 'shot=sq010'])
    expect(start.stderr).toBe('')
    expect(start.code).toBe(0)
    expect(start.stdout).toMatch(ID_LINE)
    const env = { QACTIVITY_JOB: start.stdout.trim() }

    for (const args of [
      ['add-path', '/render/cache', '/render/shots'],
      ['add-client'],
      ['add-client', '10.0.1.7/24', 'fd00::1'],
      ['comment', 'enabled', 'Maya', '64-bit', 'shaders'],
      ['comment', 'second thoughts'],
      ['complete', '--failed'],
    ]) {
      const r = await qa(args, env)
      expect({ args, ...r }).toEqual({ args, code: 0, stdout: '', stderr: '' })
    }

    const show = await qa(['show', '--json'], env)
    expect(show.code).toBe(0)
    const job = JSON.parse(show.stdout)
    expect(job).toMatchObject({
      id: env.QACTIVITY_JOB,
      name: 'render',
      status: 'failed',
      paths: ['/render/shots', '/render/cache'],
      clients: ['127.0.0.1', '10.0.1.0/24', 'fd00::1'],
      labels: { shot: 'sq010' },
    })
    expect(job.endedAt).toEqual(expect.any(String))
    expect(job.comments.map((c: { text: string; author: string }) => [c.author, c.text])).toEqual([
      ['ci', 'enabled Maya 64-bit shaders'],
      ['ci', 'second thoughts'],
    ])

    // human output: key/value block and the comments in order
    const human = await qa(['show', '--job', env.QACTIVITY_JOB])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(new RegExp(`^id +${env.QACTIVITY_JOB}\nname +render\ncluster +127.0.0.1\nstatus +failed\n`))
    expect(human.stdout).toMatch(/paths +\/render\/shots\n +\/render\/cache\n/)
    expect(human.stdout).toMatch(/comments \(2\)\n .* ci +enabled Maya 64-bit shaders\n .* ci +second thoughts\n$/)

    // completing twice: 409, exit 1, one line
    expectFailure(await qa(['complete'], env), 1, /\(409\)$/)
  })

  it('stats and compare: human tables with units, --json with the §6 shape', async () => {
    const ids: string[] = []
    for (const name of ['render', 'render']) {
      const id = (await qa(['start', '--name', name, '--client', '10.0.1.7'])).stdout.trim()
      expect((await qa(['complete', '--job', id])).code).toBe(0)
      ids.push(id)
    }
    const json = await qa(['stats', '--job', ids[1], '--json'])
    expect(json.code, json.stderr).toBe(0)
    const stats = JSON.parse(json.stdout)
    expect(Object.keys(stats)).toEqual(
      expect.arrayContaining(['job', 'window', 'activity', 'capacity', 'topClients', 'topPaths', 'previousRuns']),
    )
    expect(stats.previousRuns[0].id).toBe(ids[0])
    const human = await qa(['stats', '--job', ids[1]])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/ACTIVITY/)
    const cmp = await qa(['compare', ...ids])
    expect(cmp.code, cmp.stderr).toBe(0)
    expect(cmp.stdout).toContain(ids[0])
    expectFailure(await qa(['compare', ids[0]]), 2, /two|2|least/i)
  })

  it('start --json, complete --at, and the comment answer with --json', async () => {
    const start = await qa(['start', '--name', 'json-run', '--client', '10.0.0.5', '--comment', 'first', '--json'])
    expect(start.code).toBe(0)
    const job = JSON.parse(start.stdout)
    expect(job).toMatchObject({ name: 'json-run', status: 'running', clients: ['10.0.0.5'], comments: [{ text: 'first', author: 'ci' }] })
    const comment = await qa(['comment', '--json', '--job', job.id, 'more'])
    expect(JSON.parse(comment.stdout)).toMatchObject({ author: 'ci', text: 'more' })
    const at = new Date(Date.now() + 1000).toISOString()
    const done = await qa(['complete', '--json', '--at', at, '--job', job.id])
    expect(done.code).toBe(0)
    expect(JSON.parse(done.stdout)).toMatchObject({ id: job.id, status: 'succeeded', endedAt: at })
  })

  it('a client-chosen ID is idempotent; the same ID with other attributes is 409 (exit 1)', async () => {
    const args = ['start', '--id', 'slurm-1001', '--name', 'sim', '--label', 'user=ann']
    const a = await qa(args)
    const b = await qa(args)
    expect([a.code, a.stdout, b.code, b.stdout]).toEqual([0, 'slurm-1001\n', 0, 'slurm-1001\n'])
    expectFailure(await qa(['start', '--id', 'slurm-1001', '--name', 'other']), 1, /\(409\)$/)
  })

  it('usage errors exit 2 with one line: missing job, bad flags, and the API refusing the input (400)', async () => {
    expectFailure(
      await qa(['comment', 'hello'], { QACTIVITY_JOB: undefined }),
      2,
      /^qactivity: no job: pass --job ID or set QACTIVITY_JOB$/,
    )
    expectFailure(await qa(['start']), 2, /--name is required/)
    expectFailure(await qa(['start', '--name', 'x', '--frobnicate']), 2, /Unknown option '--frobnicate'/)
    expectFailure(await qa(['bogus']), 2, /unknown job subcommand "bogus"/)
    expectFailure(await qa(['add-path', '--job', '../etc', '/x']), 2, /is not a job ID/)
    const start = await qa(['start', '--name', 'bad-input'])
    const env = { QACTIVITY_JOB: start.stdout.trim() }
    expectFailure(await qa(['add-path', 'relative/path'], env), 2, /\(400\)$/)
    expectFailure(await qa(['add-client', '999.1.1.1'], env), 2, /\(400\)$/)
    expectFailure(await qa(['start', '--name', 'x', '--notify', 'not-an-address']), 2, /\(400\)$/)
    // nothing was stored by the refused calls
    const show = JSON.parse((await qa(['show', '--json'], env)).stdout)
    expect([show.paths, show.clients]).toEqual([[], []])
  })

  it('operational failures exit 1 with one line: unknown job (404), bad token (401), reader writing (403), API down', async () => {
    expectFailure(await qa(['show', '--job', 'no-such-job']), 1, /\(404\)$/)
    expectFailure(
      await qa(['list'], { QACTIVITY_TOKEN: 'wrong-token-0123456789' }),
      1,
      /does not know the token in QACTIVITY_TOKEN: .*QACTIVITY_API_TOKENS.* \(401\)$/,
    )
    expectFailure(
      await qa(['list'], { QACTIVITY_TOKEN: undefined }),
      1,
      /needs a token: set QACTIVITY_TOKEN .*QACTIVITY_API_TOKENS.* \(401\)$/,
    )
    expectFailure(await qa(['start', '--name', 'x'], { QACTIVITY_TOKEN: READER }), 1, /\(403\)$/)
    expect((await qa(['list', '--limit', '1'], { QACTIVITY_TOKEN: READER })).code).toBe(0)
    const down = await qa(['show', '--job', 'x'], { QACTIVITY_URL: `http://127.0.0.1:${await freePort()}` })
    expectFailure(down, 1, /cannot reach the qactivity API at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/)
    expect(down.stderr).not.toContain(WRITER)
  })

  it('list: table, filters, --json, and --all across pages', async () => {
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await qa(['start', '--name', 'paged', '--label', `n=${i}`])).stdout.trim())
    await qa(['complete', '--job', ids[0]])

    const table = await qa(['list', '--name', 'paged'])
    expect(table.code).toBe(0)
    const lines = table.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID +NAME +STATUS +STARTED +DURATION +PATHS +CLIENTS$/)
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([...ids].reverse()) // newest first

    const running = JSON.parse((await qa(['list', '--json', '--name', 'paged', '--status', 'running'])).stdout)
    expect(running.jobs.map((j: { id: string }) => j.id).sort()).toEqual(ids.slice(1).sort())
    const labelled = JSON.parse((await qa(['list', '--json', '--label', 'n:1'])).stdout)
    expect(labelled.jobs.map((j: { id: string }) => j.id)).toEqual([ids[1]])

    const onePage = await qa(['list', '--name', 'paged', '--limit', '1'])
    expect(onePage.stdout.trimEnd().split('\n')).toHaveLength(2)
    expect(onePage.stderr).toMatch(/more jobs: --all/)
    const all = JSON.parse((await qa(['list', '--json', '--name', 'paged', '--limit', '1', '--all'])).stdout)
    expect(all).toEqual({ jobs: expect.any(Array), nextCursor: null })
    expect(all.jobs.map((j: { id: string }) => j.id)).toEqual([...ids].reverse())
  })

  it('examples/render-farm.sh with 4 parallel workers ends with a completed job holding 4 comments', async () => {
    const r = await run('bash', [`${EXAMPLES}render-farm.sh`, '4'], {
      QACTIVITY_BIN: `${process.execPath} ${BIN}`,
      JOB_NAME: 'render-farm-test',
      WORK_SECONDS: '0.2',
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/render-farm: job \S+, 4 workers/)
    const list = JSON.parse((await qa(['list', '--json', '--name', 'render-farm-test'])).stdout)
    expect(list.jobs).toHaveLength(1)
    const job = list.jobs[0]
    expect(job).toMatchObject({
      status: 'succeeded',
      paths: ['/render/shots'],
      clients: ['127.0.0.1'],
      labels: { shot: 'sq010', workers: '4' },
    })
    expect(job.comments.map((c: { text: string }) => c.text).sort()).toEqual([
      'worker 1 done',
      'worker 2 done',
      'worker 3 done',
      'worker 4 done',
    ])
    // the script ends with `job show` of that job
    expect(r.stdout).toMatch(new RegExp(`^id +${job.id}\n`))
    expect(r.stdout).toContain('comments (4)')
  })
})
