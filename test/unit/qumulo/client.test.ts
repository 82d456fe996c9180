import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { QumuloConfig } from '../../../lib/config.ts'
import { createQumuloClient, MAX_RESOLVE_IDS, QumuloApiError, type QumuloClient } from '../../../qumulo/client.ts'
import type { RunningSimulator } from '../../../simulator/server.ts'
import { ACCESS_TOKEN, manualClock, qumuloConfig, startTestSimulator } from '../simulator/helpers.ts'
import { capturedLog } from '../../support/log.ts'

const PASSWORD = 'S3cret-Pa55word!'
const SCENARIO = {
  workloads: [
    { clients: ['10.0.1.1', '10.0.1.2'], path: '/render/shots', files: 2, ops: { 'file-iops-read': 120, 'file-throughput-write': 30 } },
    { clients: ['10.0.2.1'], path: '/gen', files: 0, ops: { 'metadata-iops-read': 6 }, directoryIds: true },
    { clients: ['10.0.3.1'], path: '/scratch', files: 1, ops: { 'file-iops-write': 60 }, deleted: true },
  ],
  capacity: [{ path: '/big', usedBytes: '18014398509481985', files: '9007199254740993', directories: 3 }],
  fileSystem: { totalBytes: '100000000000000000', snapshotBytes: '4096' },
}

let sim: RunningSimulator | undefined
let client: QumuloClient | undefined
const { lines, log } = capturedLog()

afterEach(async () => {
  client?.close()
  await sim?.close()
  sim = client = undefined
  lines.length = 0
})

async function setUp(config: Partial<QumuloConfig> = { token: ACCESS_TOKEN }, options = {}) {
  sim = await startTestSimulator(SCENARIO, { users: { svc: PASSWORD }, clock: manualClock().now, ...options })
  client = createQumuloClient(qumuloConfig(sim.url, config), log)
  return { sim, client }
}

async function failure(p: Promise<unknown>): Promise<QumuloApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(QumuloApiError)
  return err as QumuloApiError
}

describe('Qumulo client against the simulator', () => {
  it('uses an access token as is, without logging in', async () => {
    const { sim, client } = await setUp()
    const { entries, rejected } = await client.activity()
    expect(rejected).toBe(0)
    expect(entries).toHaveLength(2 * 2 * 2 + 1 + 1)
    expect(sim.requests['POST /v1/session/login']).toBeUndefined()
    expect(client.stats()).toEqual({ requests: 1, logins: 0, failures: 0 })
  })

  it('keeps ids as 30-digit strings and filters by type', async () => {
    const { client } = await setUp()
    const { entries } = await client.activity('file-throughput-write')
    expect(entries).toHaveLength(4)
    for (const e of entries) {
      expect(e.id).toMatch(/^\d{30}$/)
      expect(e).toMatchObject({ type: 'file-throughput-write', rate: (4096 * 30) / 60 })
    }
  })

  it('logs in lazily and once more, transparently, after the session expires', async () => {
    const { sim, client } = await setUp({ username: 'svc', password: PASSWORD })
    expect(sim.requests['POST /v1/session/login']).toBeUndefined()
    await client.fileSystem()
    expect(client.stats().logins).toBe(1)
    sim.expireSessions()
    await client.fileSystem()
    expect(client.stats()).toEqual({ requests: 5, logins: 2, failures: 0 })
    expect(sim.requests['POST /v1/session/login']).toBe(2)
  })

  it('shares one login between concurrent requests that hit a 401', async () => {
    const { sim, client } = await setUp({ username: 'svc', password: PASSWORD })
    await client.fileSystem()
    sim.expireSessions()
    await Promise.all([client.fileSystem(), client.activity(), client.aggregates('/big'), client.resolve(['1'])])
    expect(sim.requests['POST /v1/session/login']).toBe(2)
    expect(client.stats().failures).toBe(0)
  })

  it('reports a wrong password clearly, without the password', async () => {
    const { client } = await setUp({ username: 'svc', password: 'wrong-' + PASSWORD })
    const err = await failure(client.activity())
    expect(err).toMatchObject({ status: 401, method: 'POST', url: '/v1/session/login', retriable: false })
    expect(err.message).toMatch(/^\[POST\] \/v1\/session\/login: 401 Unauthorized \(/)
    expect(err.message).not.toContain(PASSWORD)
    expect(client.stats()).toMatchObject({ logins: 1, failures: 1 })
  })

  it('never writes the password or a token to the log', async () => {
    const { sim, client } = await setUp({ username: 'svc', password: PASSWORD })
    await client.fileSystem()
    sim.expireSessions()
    await client.fileSystem()
    sim.setFaults({ errorRate: 1 })
    await failure(client.fileSystem())
    const all = lines.join('\n')
    expect(lines.length).toBeGreaterThan(3)
    expect(all).not.toContain(PASSWORD)
    expect(all).not.toMatch(/session-v1:[^*]/)
  })

  it('turns a 503 fault into a retriable QumuloApiError with the envelope', async () => {
    const { sim, client } = await setUp()
    sim.setFaults({ errorRate: 1 })
    const err = await failure(client.fileSystem())
    expect(err).toMatchObject({ status: 503, retriable: true, errorClass: 'simulated_fault_error', method: 'GET', url: '/v1/file-system' })
    expect(err.message).toBe('[GET] /v1/file-system: 503 Service Unavailable (simulated_fault_error: Simulated fault (error rate 1))')
  })

  it('gives up after timeoutMs with a retriable error', async () => {
    const { client } = await setUp({ token: ACCESS_TOKEN, timeoutMs: 100 }, { faults: { latencyMs: 1000 } })
    // Without the timeout the request would succeed after 1 s: the error alone proves it.
    const err = await failure(client.fileSystem())
    expect(err.status).toBeUndefined()
    expect(err.retriable).toBe(true)
    expect(err.message).toBe('[GET] /v1/file-system: timed out after 100 ms')
  })

  it('resolves files, directories with their trailing slash and deleted files to ""', async () => {
    const { client } = await setUp()
    const { entries } = await client.activity()
    const idOf = (ip: string) => entries.find((e) => e.ip === ip)!.id
    const paths = await client.resolve([idOf('10.0.1.1'), idOf('10.0.2.1'), idOf('10.0.3.1')])
    expect([...paths.values()].sort()).toEqual(['', '/gen/', '/render/shots/f0000.bin'])
    expect(paths.get(idOf('10.0.3.1'))).toBe('')
    await expect(client.resolve(Array.from({ length: MAX_RESOLVE_IDS + 1 }, (_, i) => String(i)))).rejects.toThrow(RangeError)
    expect(await client.resolve([])).toEqual(new Map())
  })

  it('reads aggregates and file-system byte counts above 2^53 exactly', async () => {
    const { client } = await setUp()
    const big = await client.aggregates('/big')
    expect(big).toMatchObject({ path: '/big', totalCapacity: 18014398509481985n, totalFiles: 9007199254740993n, totalDirectories: 3n })
    expect(big.totalData + big.totalMeta).toBe(big.totalCapacity)
    expect(big.id).toMatch(/^\d{30}$/)
    expect((await client.aggregates('/')).path).toBe('/')
    const fs = await client.fileSystem()
    expect(fs).toMatchObject({ blockSizeBytes: 4096, totalBytes: 100000000000000000n, snapshotBytes: 4096n })
    expect(fs.totalBytes - fs.freeBytes).toBeGreaterThan(18014398509481985n)
  })

  it('reports an unknown path as a non-retriable 404 fs_no_such_entry_error', async () => {
    const { client } = await setUp()
    const err = await failure(client.aggregates('/no such dir'))
    expect(err).toMatchObject({
      status: 404,
      errorClass: 'fs_no_such_entry_error',
      retriable: false,
      url: '/v1/files/%2Fno%20such%20dir/aggregates/?max-entries=0',
    })
  })

  it('reads the version without credentials, and explains a 401 when none are configured', async () => {
    const { client } = await setUp({})
    expect((await client.version()).revisionId).toMatch(/^Qumulo Core/)
    const err = await failure(client.fileSystem())
    expect(err.message).toMatch(/401 Unauthorized \(token rejected: check QUMULO_TOKEN/)
  })

  it('reports a refused connection as a retriable error without status', async () => {
    client = createQumuloClient(qumuloConfig('http://127.0.0.1:1', { token: ACCESS_TOKEN }), log)
    const err = await failure(client.version())
    expect(err).toMatchObject({ status: undefined, retriable: true })
    expect(err.message).toContain('ECONNREFUSED')
  })
})

describe('Qumulo client over HTTPS', () => {
  async function httpsSim(): Promise<{ sim: RunningSimulator; caFile: string }> {
    sim = await startTestSimulator(SCENARIO, { https: true })
    const caFile = join(mkdtempSync(join(tmpdir(), 'qact-ca-')), 'ca.pem')
    writeFileSync(caFile, sim.caPem!)
    return { sim, caFile }
  }

  it('trusts the self-signed certificate given as a CA file', async () => {
    const { sim, caFile } = await httpsSim()
    expect(sim.url).toMatch(/^https:/)
    client = createQumuloClient(qumuloConfig(sim.url, { token: ACCESS_TOKEN, caFile }), log)
    expect((await client.fileSystem()).blockSizeBytes).toBe(4096)
  })

  it('refuses the certificate without the CA file, unless TLS checks are off', async () => {
    const { sim } = await httpsSim()
    client = createQumuloClient(qumuloConfig(sim.url, { token: ACCESS_TOKEN }), log)
    const err = await failure(client.version())
    expect(err).toMatchObject({ retriable: false, status: undefined })
    expect(err.message).toContain('QUMULO_CA_FILE')
    client.close()
    client = createQumuloClient(qumuloConfig(sim.url, { token: ACCESS_TOKEN, insecureTls: true }), log)
    expect((await client.version()).revisionId).toBeTruthy()
  })
})
