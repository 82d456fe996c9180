import { describe, expect, it } from 'vitest'
import { ActivityAccumulator, TIMELINE_POINTS } from '../../../stats/compute.ts'

const sel = (polls: number) => ({ startMs: 0, endMs: polls * 60_000, intervalSeconds: 60, clients: [], paths: [] })

describe('ActivityAccumulator.timeline', () => {
  it('keeps every poll up to the limit, summed over the points of a poll', () => {
    const acc = new ActivityAccumulator().add(
      [
        { time: 120, client: 'a', path: '/x', values: [1, 0, 0, 0, 10, 0], points: 1 },
        { time: 60, client: 'a', path: '/x', values: [2, 0, 0, 0, 0, 0], points: 1 },
        { time: 120, client: 'b', path: '/y', values: [3, 0, 0, 0, 5, 0], points: 1 },
      ],
      sel(2),
    )
    expect(acc.timeline()).toEqual([
      { time: 60, values: [2, 0, 0, 0, 0, 0] },
      { time: 120, values: [4, 0, 0, 0, 15, 0] },
    ])
  })

  it('averages consecutive polls in equal groups beyond the limit: a day of polls → 240 points', () => {
    const rows = Array.from({ length: 1440 }, (_, i) => ({
      time: (i + 1) * 60,
      client: 'c',
      path: '/p',
      values: [i, 0, 0, 0, 0, 1],
      points: 1,
    }))
    const result = new ActivityAccumulator().add(rows, sel(1440)).result(sel(1440))
    expect(result.timeline).toHaveLength(TIMELINE_POINTS)
    expect(result.timeline[0]).toEqual({ time: 6 * 60, values: [2.5, 0, 0, 0, 0, 1] }) // mean of polls 0..5
    expect(result.timeline.at(-1)!.time).toBe(1440 * 60)
    expect(result.activity.iops_read.peak).toBe(1439) // the aggregates still see every poll
  })
})

describe('ActivityAccumulator.timeline with idle polls', () => {
  it('fills the polls missing between two with zeros, so averages and charts see the idle time', () => {
    const rows = [60, 120, 300, 360].map((time) => ({ time, client: 'c', path: '/p', values: [10, 0, 0, 0, 0, 0], points: 1 }))
    const acc = new ActivityAccumulator().add(rows, sel(6))
    expect(acc.timeline(Infinity, 60).map((p) => [p.time, p.values[0]])).toEqual([
      [60, 10],
      [120, 10],
      [180, 0],
      [240, 0],
      [300, 10],
      [360, 10],
    ])
    expect(acc.timeline(3, 60).map((p) => [p.time, p.values[0]])).toEqual([
      [120, 10],
      [240, 0],
      [360, 10],
    ])
    expect(acc.timeline()).toHaveLength(4) // without an interval nothing is filled
  })
})
