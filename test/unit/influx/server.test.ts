import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authHeader } from '../../../lib/influx/http.ts'
import { apiOfVersion, detectServer, ensureDatabase, InfluxError } from '../../../lib/influx/server.ts'
import { startFakeInflux, type FakeInflux } from '../../support/fake-influx.ts'
import { capturedLog } from '../../support/log.ts'

describe('apiOfVersion', () => {
  it.each([
    ['1.6.7~rc0', 'v1'],
    ['1.7.11', 'v1'],
    ['1.8.10', 'v2'],
    ['v2.7.10', 'v2'],
    ['2.7.10', 'v2'],
    ['3.0.1', 'v2'],
    ['OSS', undefined],
  ])('%s → %s', (version, api) => {
    expect(apiOfVersion(version)).toBe(api)
  })
})

describe('authHeader', () => {
  it('uses Basic for user:password on v1 and Token otherwise', () => {
    expect(authHeader('u:p', 'v1')).toEqual({ authorization: 'Basic dTpw' })
    expect(authHeader('tok', 'v1')).toEqual({ authorization: 'Token tok' })
    expect(authHeader('u:p', 'v2')).toEqual({ authorization: 'Token u:p' })
    expect(authHeader(undefined, 'v2')).toEqual({})
  })
})

describe('detectServer', () => {
  let fake: FakeInflux
  beforeAll(async () => {
    fake = await startFakeInflux()
  })
  afterAll(() => fake.close())
  const cfg = () => ({ url: fake.url, bucket: 'my "db"', queryLanguage: 'influxql' as const })

  it('reads the version header: 1.6.7 is v1, 2.7.10 is v2', async () => {
    fake.version = '1.6.7~rc0'
    expect(await detectServer(cfg())).toEqual({ version: '1.6.7~rc0', api: 'v1' })
    fake.version = '2.7.10'
    expect(await detectServer(cfg())).toEqual({ version: '2.7.10', api: 'v2' })
  })

  it('falls back to v1 with a warning when the header is missing', async () => {
    fake.version = undefined
    const { lines, log } = capturedLog('warn')
    const server = await detectServer(cfg(), log)
    expect(server).toEqual({ version: 'unknown', api: 'v1' })
    expect(lines.join()).toMatch(/level=warn.*no version/)
    fake.version = '1.6.7~rc0'
  })

  it('throws a retriable error when nothing listens', async () => {
    const err = await detectServer({ ...cfg(), url: 'http://127.0.0.1:1' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InfluxError)
    expect((err as InfluxError).retriable).toBe(true)
  })

  it('creates the database with a quoted identifier on v1', async () => {
    await ensureDatabase(cfg(), { version: '1.6.7', api: 'v1' })
    expect(fake.requests.map((r) => r.query.get('q')).filter(Boolean)[0]).toBe('CREATE DATABASE "my \\"db\\""')
  })
})
