import { describe, expect, it } from 'vitest'
import { aggregateActivity } from '../../../stats/compute.ts'
import { LiveAggregates } from '../../../stats/live.ts'
import type { ActivityRow, ActivitySelector } from '../../../stats/model.ts'
import { memorySource } from '../../support/memory-source.ts'

const I = 60
const T0 = 1_700_000_040 // on the 60 s grid
const point = (t: number, client: string, path: string, v: number): ActivityRow => ({
  time: t,
  client,
  path,
  values: [v, 2 * v, 0, 0, 4096 * v, 0],
  points: 1,
})
const sel = (endS: number, over: Partial<ActivitySelector> = {}): ActivitySelector => ({
  startMs: (T0 + 10) * 1000,
  endMs: endS * 1000,
  intervalSeconds: I,
  clients: ['c1'],
  paths: ['/p'],
  ...over,
})

describe('LiveAggregates', () => {
  it('equals a full aggregation after every poll, reading only what is not settled', async () => {
    const m = memorySource()
    const live = new LiveAggregates(m.source, { settleSeconds: 30 })
    for (let k = 1; k <= 30; k++) {
      const t = T0 + k * I
      m.points.push(point(t, 'c1', '/q', k), point(t, 'c2', '/p/x', 10 * k), point(t, 'c3', '/pq', 1000))
      const s = sel(t + 7)
      const before = m.calls.rowsRead
      const got = await live.aggregates('j', s)
      const { full, rowsRead, ...agg } = got
      expect(agg).toEqual(
        aggregateActivity(
          await m.source.rows({
            measurement: 'qumulo_activity',
            selector: s,
            fields: [],
            range: { fromMs: s.startMs, toMs: s.endMs + I * 1000 },
          }),
          s,
        ),
      )
      expect(full).toBe(k <= 2) // nothing settled before the second poll: read from the start
      if (k > 3) expect(rowsRead).toBeLessThanOrEqual(2 * 3) // two matching series × the last ≤ 3 polls
      expect(m.calls.rowsRead - before - rowsRead).toBe(2 * k) // (the reference read above)
    }
  })

  it('starts over when a point arrives late in the settled range, or one disappears', async () => {
    const m = memorySource()
    const live = new LiveAggregates(m.source, { settleSeconds: 0 })
    for (let k = 1; k <= 10; k++) m.points.push(point(T0 + k * I, 'c1', '/a', 1))
    expect((await live.aggregates('j', sel(T0 + 10 * I + 5))).full).toBe(true)
    expect((await live.aggregates('j', sel(T0 + 10 * I + 6))).full).toBe(false)
    m.points.push(point(T0 + 2 * I, 'c1', '/late', 50))
    const late = await live.aggregates('j', sel(T0 + 10 * I + 7))
    expect(late.full).toBe(true)
    expect(late.activity.iops_read.total).toBeCloseTo((T0 + 10 * I - (T0 + 10)) * 1 + 50 * I, 9)
    m.points.splice(0, 1)
    expect((await live.aggregates('j', sel(T0 + 10 * I + 8))).full).toBe(true)
  })

  it('starts over when the clients, paths, start or interval change', async () => {
    const m = memorySource()
    const live = new LiveAggregates(m.source)
    for (let k = 1; k <= 5; k++) m.points.push(point(T0 + k * I, 'c1', '/a', 1), point(T0 + k * I, 'c9', '/a', 3))
    const end = T0 + 5 * I + 5
    await live.aggregates('j', sel(end))
    expect((await live.aggregates('j', sel(end))).full).toBe(false)
    const more = await live.aggregates('j', sel(end, { clients: ['c1', 'c9'] }))
    expect(more.full).toBe(true)
    expect(more.activity.iops_read.peak).toBe(4)
    expect((await live.aggregates('j', sel(end, { clients: ['c9', 'c1'] }))).full).toBe(false) // order does not matter
    expect((await live.aggregates('j', sel(end, { clients: ['c9', 'c1'], paths: ['/b'] }))).full).toBe(true)
    expect((await live.aggregates('j', sel(end, { clients: ['c9', 'c1'], paths: ['/b'], startMs: (T0 + 20) * 1000 }))).full).toBe(true)
    expect(
      (await live.aggregates('j', sel(end, { clients: ['c9', 'c1'], paths: ['/b'], startMs: (T0 + 20) * 1000, intervalSeconds: 30 }))).full,
    ).toBe(true)
  })

  it('runs concurrent calls on one job one after the other, and keeps at most maxJobs', async () => {
    const m = memorySource()
    const live = new LiveAggregates(m.source, { maxJobs: 2, settleSeconds: 0 })
    for (let k = 1; k <= 5; k++) m.points.push(point(T0 + k * I, 'c1', '/a', 1))
    const end = T0 + 5 * I + 5
    const answers = await Promise.all([1, 2, 3].map(() => live.aggregates('j', sel(end))))
    expect(answers.map((a) => a.full)).toEqual([true, false, false])
    expect(answers[1].activity).toEqual(answers[0].activity)
    await live.aggregates('k', sel(end))
    await live.aggregates('j', sel(end)) // j used last: l evicts k
    await live.aggregates('l', sel(end))
    expect(live.size).toBe(2)
    expect((await live.aggregates('j', sel(end))).full).toBe(false)
    expect((await live.aggregates('k', sel(end))).full).toBe(true)
  })

  it('a failed read leaves the job to be read again, and later calls still work', async () => {
    const m = memorySource()
    const live = new LiveAggregates(m.source)
    m.points.push(point(T0 + I, 'c1', '/a', 1))
    const rows = m.source.rows
    m.source.rows = async () => {
      throw new Error('influxd down')
    }
    await expect(live.aggregates('j', sel(T0 + I + 5))).rejects.toThrow('influxd down')
    m.source.rows = rows
    const ok = await live.aggregates('j', sel(T0 + I + 5))
    expect(ok.activity.iops_read.total).toBeCloseTo(I - 10, 9)
  })
})
