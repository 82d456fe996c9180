import { describe, expect, it } from 'vitest'
import { fitBudget } from '../../../collector/series-budget.ts'
import type { ActivitySeries } from '../../../collector/activity.ts'
import { ACTIVITY_FIELDS } from '../../../lib/schema.ts'

const s = (clientIp: string, path: string, iops: number): ActivitySeries => {
  const rates = new Float64Array(ACTIVITY_FIELDS.length)
  rates[0] = iops
  rates[5] = iops * 4096
  return { clientIp, path, rates }
}
const total = (xs: ActivitySeries[], i: number) => xs.reduce((a, x) => a + x.rates[i], 0)
const view = (xs: ActivitySeries[]) => xs.map((x) => `${x.clientIp} ${x.path} ${x.rates[0]}`).sort()

describe('fitBudget', () => {
  const series = [
    s('10.0.0.1', '/render/shots/a', 1), // watched: never cut
    s('10.0.0.1', '/scratch/x/y', 2),
    s('10.0.0.1', '/scratch/x/z', 3),
    s('10.0.0.1', '/scratch/w', 4),
    s('10.0.0.2', '/scratch/x/y', 0.5),
    s('10.0.0.2', '(unresolved)', 7),
  ]
  const kept = (p: string) => p === '/render/shots/a' || p === '(unresolved)'

  it('within the budget changes nothing', () => {
    expect(fitBudget(series, 6, kept)).toEqual({ series, collapsedPaths: 0, over: false })
  })

  it('cuts the deepest unwatched paths one level at a time until it fits; sums the merged rates', () => {
    const fit = fitBudget(series, 5, kept)
    expect(fit).toMatchObject({ depth: 2, collapsedPaths: 2, over: false })
    expect(view(fit.series)).toEqual([
      '10.0.0.1 /render/shots/a 1',
      '10.0.0.1 /scratch/w 4',
      '10.0.0.1 /scratch/x 5',
      '10.0.0.2 (unresolved) 7',
      '10.0.0.2 /scratch/x 0.5',
    ])
    for (const i of [0, 5]) expect(total(fit.series, i)).toBe(total(series, i))
  })

  it('goes shallower while needed; says when even / does not fit (watched paths and clients alone exceed it)', () => {
    const fit = fitBudget(series, 4, kept)
    expect(fit).toMatchObject({ depth: 1, collapsedPaths: 3, over: false })
    expect(view(fit.series)).toContain('10.0.0.1 /scratch 9')
    const tight = fitBudget(series, 2, kept)
    expect(tight).toMatchObject({ depth: 0, over: true })
    expect(view(tight.series)).toEqual(['10.0.0.1 / 9', '10.0.0.1 /render/shots/a 1', '10.0.0.2 (unresolved) 7', '10.0.0.2 / 0.5'].sort())
    expect(total(tight.series, 0)).toBe(total(series, 0))
  })
})
