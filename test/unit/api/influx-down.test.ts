import { describe, expect, it } from 'vitest'
import { createLogger } from '../../../lib/log.ts'
import { StatsService } from '../../../stats/service.ts'
import { createInfluxQLSource } from '../../../stats/influxql.ts'
import { makeApp } from '../../support/api-app.ts'

// Nothing listens on port 1: every query fails at once with a refused connection.
const INFLUX_URL = 'http://127.0.0.1:1'

describe('InfluxDB down: a 503 that keeps the InfluxDB address out of the answer and in the log', () => {
  it.each([
    ['stats', '/api/v1/jobs/r1/stats', 'stats not computed: InfluxDB unreachable; the server log has the details'],
    ['compare', '/api/v1/compare?jobs=r1,r2', 'stats not computed: InfluxDB unreachable; the server log has the details'],
    ['report', '/api/v1/jobs/r1/report', 'report not made: InfluxDB unreachable; the server log has the details'],
  ])('%s', async (_what, path, message) => {
    const logged: string[] = []
    const t = await makeApp({
      app: (service) => {
        const stats = new StatsService({
          source: createInfluxQLSource({ url: INFLUX_URL, bucket: 'q', queryLanguage: 'influxql' }),
          intervalSeconds: 60,
          previousRuns: (n, b, id) => service.previousRuns(n, b, id),
        })
        return {
          stats,
          reportSources: { stats, previousRuns: (n, b, id) => service.previousRuns(n, b, id), flavour: 'influxql', thresholdPct: 20 },
          log: createLogger('error', {}, (l) => logged.push(l)),
        }
      },
    })
    for (const id of ['r1', 'r2']) expect((await t.call('POST', '/api/v1/jobs', { name: 'r', id, clients: ['10.0.0.1'] })).status).toBe(201)
    const res = await t.call('GET', path)
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ error: { code: 'influx_unavailable', message } })
    expect(logged.join('\n')).toContain(INFLUX_URL)
  })
})
