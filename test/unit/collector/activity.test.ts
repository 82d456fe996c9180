import { describe, expect, it } from 'vitest'
import { sumBySeries, activityLines } from '../../../collector/activity.ts'
import type { ActivityEntry } from '../../../qumulo/types.ts'

const entries: ActivityEntry[] = [
  { id: '131072291465916581236989467785', ip: '10.0.0.1', rate: 136.53333333333333, type: 'file-throughput-read' },
  { id: '131072291465916581236989576284', ip: '10.0.0.1', rate: 13926.4, type: 'file-throughput-read' },
  { id: '131072291465916581236989576284', ip: '10.0.0.1', rate: 2.5, type: 'file-iops-read' },
  { id: '131072291465916581236989576284', ip: '10.0.0.2', rate: 1 / 60, type: 'metadata-iops-write' },
  { id: '131072291465916581236989999999', ip: '10.0.0.2', rate: 0.5, type: 'file-iops-write' },
]
const paths: Record<string, string> = {
  '131072291465916581236989467785': '/render',
  '131072291465916581236989576284': '/render',
  '131072291465916581236989999999': '(unresolved)',
}

describe('sumBySeries', () => {
  const series = sumBySeries(entries, (id) => paths[id])

  it('sums rates per (client, path) and type, counting every entry once', () => {
    const byKey = Object.fromEntries(series.map((s) => [`${s.clientIp} ${s.path}`, [...s.rates]]))
    expect(byKey).toEqual({
      '10.0.0.1 /render': [2.5, 0, 0, 0, 136.53333333333333 + 13926.4, 0],
      '10.0.0.2 /render': [0, 0, 0, 1 / 60, 0, 0],
      '10.0.0.2 (unresolved)': [0, 0.5, 0, 0, 0, 0],
    })
  })

  it('preserves the grand total of every type', () => {
    const total = series.reduce((a, s) => a + s.rates.reduce((x, y) => x + y, 0), 0)
    expect(total).toBeCloseTo(
      entries.reduce((a, e) => a + e.rate, 0),
      9,
    )
  })

  it('writes all six fields as floats, tags sorted, at the poll second', () => {
    const lines = activityLines(series, 'c1', 1700000000)
    expect(lines[1]).toBe(
      'qumulo_activity,client_ip=10.0.0.2,cluster=c1,path=/render ' +
        'iops_read=0,iops_write=0,metadata_iops_read=0,metadata_iops_write=0.016666666666666666,' +
        'throughput_read=0,throughput_write=0 1700000000000',
    )
  })
})
