import { describe, expect, it } from 'vitest'
import { shareOf } from '../../../stats/share.ts'
import type { ActivitySelector } from '../../../stats/model.ts'

const I = 60
const s: ActivitySelector = { startMs: 90_000, endMs: 240_000, intervalSeconds: I, clients: ['c'], paths: [] }
const six = (read: number, write = 0) => [read, write, 0, 0, 0, 0]

describe('shareOf', () => {
  it("weights the cluster's polls by the job's window edges, and takes the peak share at the poll where it is highest", () => {
    // polls at 120 (30 s inside: 90…120), 180, 240 (full), 300 (outside: (240, 300])
    const cluster = new Map([
      [120, six(10, 4)],
      [180, six(4, 0)],
      [240, six(20, 0)],
      [300, six(1000, 0)],
    ])
    const jobPolls = new Map([
      [120, six(5)],
      [180, six(3)],
      [240, six(2)],
    ])
    const totals = six(5 * 30 + 3 * 60 + 2 * 60)
    const share = shareOf({ perPoll: jobPolls, totals, usedBytesDelta: 50 }, cluster, 200, s)
    expect(share.iops_read.total).toBeCloseTo(((5 * 30 + 3 * 60 + 2 * 60) / (10 * 30 + 4 * 60 + 20 * 60)) * 100, 12)
    expect(share.iops_read.peak).toBe(75) // 3 of 4 at 180, not 5 of 10 at 120 nor 2 of 20 at 240
    expect(share.iops_write).toEqual({ total: 0, peak: 0 }) // the cluster wrote, the job did not
    expect(share.metadata_iops_read).toEqual({ total: null, peak: null }) // nobody did: no share
    expect(share.used_bytes).toEqual({ total: 25 })
  })

  it('tells no capacity share when the cluster did not grow or a reading is missing', () => {
    const none = new Map<number, number[]>()
    expect(shareOf({ perPoll: none, totals: six(0), usedBytesDelta: 50 }, none, -10, s).used_bytes).toEqual({ total: null })
    expect(shareOf({ perPoll: none, totals: six(0), usedBytesDelta: null }, none, 100, s).used_bytes).toEqual({ total: null })
    expect(shareOf({ perPoll: none, totals: six(0), usedBytesDelta: 5 }, none, null, s).used_bytes).toEqual({ total: null })
  })
})
