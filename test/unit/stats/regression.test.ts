import { describe, expect, it } from 'vitest'
import { median, regressionOf } from '../../../stats/regression.ts'
import { ACTIVITY_FIELDS } from '../../../lib/schema.ts'

const agg = (read: number, readMean = read / 100) =>
  Object.fromEntries(
    ACTIVITY_FIELDS.map((f) => [f, f === 'iops_read' ? { total: read, mean: readMean } : { total: 10, mean: 0.1 }]),
  ) as Parameters<typeof regressionOf>[0]

describe('median', () => {
  it('of odd and even counts, in any order', () => {
    expect(median([5, 1, 3])).toBe(3)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([7])).toBe(7)
  })
})

describe('regressionOf', () => {
  it('takes the median of the runs given, flags totals and rates at or beyond the threshold, and says so in words', () => {
    const history = [100, 90, 400, 110, 95].map((read, i) => ({ id: `r${i}`, activity: agg(read) }))
    const r = regressionOf(agg(230, 2.3), history, 20)!
    expect(r.runs).toBe(5)
    expect(r.runIds).toEqual(['r0', 'r1', 'r2', 'r3', 'r4'])
    expect(r.median.iops_read).toEqual({ total: 100, mean: 1 })
    expect(r.flags.map((f) => f.text).sort()).toEqual([
      'read IOPS 2.3× the median of the last 5 runs',
      'reads 2.3× the median of the last 5 runs',
    ])
    const rate = r.flags.find((f) => f.kind === 'mean')!
    expect(rate).toMatchObject({ field: 'iops_read', value: 2.3, median: 1 })
    expect(rate.pct).toBeCloseTo(130, 9)
  })

  it('flags a drop too, a change just under the threshold not, a median of 0 never; no history, no answer', () => {
    const history = [{ id: 'a', activity: agg(100) }]
    expect(
      regressionOf(agg(40), history, 20)!
        .flags.map((f) => f.text)
        .sort(),
    ).toEqual(['read IOPS 40 % of the last run', 'reads 40 % of the last run'])
    expect(regressionOf(agg(119.9), history, 20)!.flags).toEqual([])
    expect(regressionOf(agg(120), history, 20)!.flags).toHaveLength(2)
    expect(regressionOf(agg(5), [{ id: 'z', activity: agg(0) }], 20)!.flags).toEqual([])
    expect(regressionOf(agg(5), [], 20)).toBeUndefined()
  })
})
