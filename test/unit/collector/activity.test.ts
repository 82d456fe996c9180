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

  it('sums rates per (client, path) and type, counting every entry once, as whole counts of the 60 s window', () => {
    const byKey = Object.fromEntries(series.map((s) => [`${s.clientIp} ${s.path}`, [...s.rates]]))
    expect(byKey).toEqual({
      // 136.533… + 13926.4 bytes/s stand for 8,192 + 835,584 = 843,776 bytes (206 blocks of 4 KiB) in Qumulo's 60 s window
      '10.0.0.1 /render': [2.5, 0, 0, 0, 843_776 / 60, 0],
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

  it('writes all six fields as integer counts of the 60 s window (rate × 60), zeros too, tags sorted, at the poll second', () => {
    const lines = activityLines(series, 'c1', 1700000000)
    expect(lines[0]).toBe(
      'qumulo_activity,client_ip=10.0.0.1,cluster=c1,path=/render ' +
        'iops_read=150i,iops_write=0i,metadata_iops_read=0i,metadata_iops_write=0i,' +
        'throughput_read=843776i,throughput_write=0i 1700000000000',
    )
    expect(lines[1]).toBe(
      'qumulo_activity,client_ip=10.0.0.2,cluster=c1,path=/render ' +
        'iops_read=0i,iops_write=0i,metadata_iops_read=0i,metadata_iops_write=1i,throughput_read=0i,throughput_write=0i 1700000000000',
    )
  })
})

describe('the counts of the 60 s window', () => {
  it('come out whole from rates with float noise, so every series sums exactly', () => {
    // 0.1 + 0.2 ops/s is 0.30000000000000004 in floats: 18 operations in the window, not 18.000000000000004
    const noisy = sumBySeries(
      [
        { id: '1', ip: '10.0.0.1', rate: 0.1, type: 'file-iops-read' },
        { id: '2', ip: '10.0.0.1', rate: 0.2, type: 'file-iops-read' },
      ],
      () => '/a',
    )
    expect(noisy[0].rates[0]).toBe(18 / 60)
    expect(activityLines(noisy, 'c', 60)[0]).toContain('iops_read=18i,')
  })
})
