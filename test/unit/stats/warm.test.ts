import { describe, expect, it } from 'vitest'
import type { Job } from '../../../jobs/types.ts'
import { StatsService } from '../../../stats/service.ts'
import { startLiveWarmer } from '../../../stats/warm.ts'
import { memorySource } from '../../support/memory-source.ts'
import { capturedLog } from '../../support/log.ts'

const I = 60
const T0 = 1_700_000_040
const job = (id: string, status: Job['status'] = 'running'): Job => ({
  id,
  name: 'n',
  cluster: '',
  status,
  startedAt: new Date((T0 + 10) * 1000).toISOString(),
  endedAt: status === 'running' ? null : new Date((T0 + 600) * 1000).toISOString(),
  paths: ['/p'],
  clients: [],
  labels: {},
  comments: [],
  notify: [],
  annotation: { state: 'off', comments: 0 },
  capacity: [],
  createdBy: 't',
  updatedAt: '',
})

describe('startLiveWarmer', () => {
  it('brings running jobs up to date so that a stats call reads only the latest polls; one warning per failed round', async () => {
    const m = memorySource()
    let nowS = T0
    const stats = new StatsService({ source: m.source, intervalSeconds: I, previousRuns: () => [], now: () => nowS * 1000 })
    const { lines, log } = capturedLog('info')
    const jobs = [job('a'), job('b')]
    const warmer = startLiveWarmer({ stats, runningJobs: () => jobs, intervalSeconds: I, log, now: () => nowS * 1000 })
    await new Promise((r) => setTimeout(r, 20)) // the round at start (nothing stored yet); the next is a poll away
    for (let k = 1; k <= 20; k++)
      m.points.push({ time: T0 + k * I, client: 'c', path: k % 2 ? '/p/x' : '/p/y', values: [1, 0, 0, 0, 0, 0], points: 1 })
    nowS = T0 + 20 * I + 10
    await warmer.round()
    const read = m.calls.rowsRead
    expect(read).toBe(40) // each job read once in full
    const s = await stats.stats(jobs[0])
    expect(m.calls.rowsRead - read).toBeLessThanOrEqual(2) // the unsettled tail only
    expect(s.activity.iops_read.total).toBeCloseTo(20 * I - 10, 9)

    const rows = m.source.rows
    m.source.rows = async () => {
      throw new Error('influxd down')
    }
    await warmer.round()
    m.source.rows = rows
    expect(lines.filter((l) => l.includes('Live stats not refreshed'))).toHaveLength(1)
    expect(lines.join('\n')).toMatch(/jobs=2 .*influxd down/)
    warmer.stop()
  })
})
