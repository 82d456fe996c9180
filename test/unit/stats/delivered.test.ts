import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collectorWatermark, renderFluxCollectorCount } from '../../../stats/delivered.ts'
import { validateFlux } from '../../../stats/flux.ts'
import { startFakeFlux, type FakeFlux } from '../../support/fake-flux.ts'

const T = 1_700_000_040
let fake: FakeFlux

beforeAll(async () => {
  fake = await startFakeFlux()
  const collector = (cluster: string, s: number) => ({
    measurement: 'qactivity_collector',
    time: s * 1000,
    field: 'points',
    value: 12,
    type: 'long' as const,
    tags: { cluster },
  })
  fake.points.push(collector('c1', T), collector('c1', T + 60), collector('c2', T + 120))
  fake.points.push({ time: (T + 600) * 1000, field: 'iops_read', value: 1, tags: { cluster: 'c1', client_ip: '10.0.0.1', path: '/p' } })
})
afterAll(() => fake.close())

describe('collectorWatermark with INFLUX_QUERY_LANGUAGE=flux', () => {
  it('is true once a collector point of the cluster exists at or after the time, and only then', async () => {
    const delivered = collectorWatermark({ url: fake.url, token: fake.token, org: fake.org, bucket: fake.bucket, queryLanguage: 'flux' })
    expect(await delivered('c1', T + 60)).toBe(true)
    expect(await delivered('c1', T + 61)).toBe(false) // an activity point later is no proof
    expect(await delivered('c2', T + 100)).toBe(true)
    expect(await delivered('c2', T + 121)).toBe(false)
    expect(await delivered('c3', T)).toBe(false)
  })

  it('quotes the cluster name as a Flux string: the fake evaluates the parsed query and finds it', async () => {
    const odd = 'we"ird ${x}\\ "or" true'
    expect(validateFlux(renderFluxCollectorCount(odd, T, 'b"'))).toEqual([])
    fake.points.push({
      measurement: 'qactivity_collector',
      time: T * 1000,
      field: 'points',
      value: 1,
      type: 'long',
      tags: { cluster: odd },
    })
    const delivered = collectorWatermark({ url: fake.url, token: fake.token, org: fake.org, bucket: fake.bucket, queryLanguage: 'flux' })
    expect(await delivered(odd, T)).toBe(true)
    expect(await delivered('we"ird', T)).toBe(false)
  })
})
