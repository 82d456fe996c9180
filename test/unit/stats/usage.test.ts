import { describe, expect, it } from 'vitest'
import { parseGroup, usageOf, withShares } from '../../../stats/usage.ts'
import { ACTIVITY_FIELDS, type ActivityField } from '../../../lib/schema.ts'
import type { Job } from '../../../jobs/types.ts'
import { completedJob } from '../../support/job.ts'

const T0 = Date.parse('2026-11-01T00:00:00Z')
const DAY = 86_400_000

/** A completed job with a summary: totals derived from its number, so the ground truth is a sum over the jobs. */
function job(i: number, over: Partial<Job> = {}, summarised = true): Job {
  const end = T0 + (i % 30) * DAY + 3_600_000
  const activity = Object.fromEntries(ACTIVITY_FIELDS.map((f, k) => [f, { total: (i + 1) * (k + 1) * 1.5, mean: 1, peak: 1 }]))
  return completedJob({
    id: `j${i}`,
    name: `render-${i % 3}`,
    cluster: i % 2 ? 'a' : 'b',
    startedAt: new Date(end - 3_600_000).toISOString(),
    endedAt: new Date(end).toISOString(),
    labels: i % 4 ? { project: `p${i % 4}` } : {},
    ...(summarised
      ? { summary: { state: 'done', stats: { activity, capacity: [{ usedBytes: { start: 0, end: i, delta: i } }] } } }
      : { summary: { state: 'pending' } }),
    ...over,
  })
}

describe('usageOf', () => {
  const jobs = Array.from({ length: 300 }, (_, i) => job(i))
  const month = { sinceMs: T0, untilMs: T0 + 30 * DAY }

  it('adds up exactly the summaries of the jobs that ended in the range, per group', () => {
    for (const g of ['name', 'cluster', 'label:project'] as const) {
      const group = parseGroup(g)!
      const u = usageOf(jobs, { group, ...month })
      expect(u.jobs).toBe(300)
      expect(u.pending).toBe(0)
      for (const f of ACTIVITY_FIELDS) {
        const sum = u.rows.reduce((a, r) => a + r.total[f], 0)
        expect(sum, `${g} ${f}`).toBe(
          jobs.reduce((a, j) => a + (j.summary!.stats as { activity: Record<ActivityField, { total: number }> }).activity[f].total, 0),
        )
      }
      expect(u.rows.reduce((a, r) => a + r.jobs, 0)).toBe(300)
      expect(u.rows.reduce((a, r) => a + r.usedBytesDelta, 0)).toBe((299 * 300) / 2)
    }
    const byLabel = usageOf(jobs, { group: parseGroup('label:project')!, ...month })
    expect(byLabel.rows.map((r) => r.group).sort()).toEqual(['(none)', 'p1', 'p2', 'p3'])
  })

  it('counts by end time in [since, until), of one cluster when asked, and leaves jobs without a summary out, counted', () => {
    const firstDay = usageOf(jobs, { group: { by: 'name' }, sinceMs: T0, untilMs: T0 + DAY })
    expect(firstDay.jobs).toBe(10) // i % 30 === 0
    expect(usageOf(jobs, { group: { by: 'name' }, ...month, cluster: 'a' }).jobs).toBe(150)
    const withPending = usageOf([...jobs, job(1000, {}, false), job(1001, { status: 'running', endedAt: null })], {
      group: { by: 'name' },
      ...month,
    })
    expect(withPending).toMatchObject({ jobs: 301, pending: 1 })
  })

  it("shares: a group's totals over its cluster's, or over every cluster's", () => {
    const u = usageOf(jobs.slice(0, 2), { group: { by: 'cluster' }, ...month })
    const totals = (x: number) => Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, x])) as Record<ActivityField, number>
    withShares(
      u,
      new Map([
        ['a', totals(30)],
        ['b', totals(0)],
        ['', totals(30)],
      ]),
      true,
    )
    expect(u.rows.find((r) => r.group === 'a')!.share!.iops_read).toBeCloseTo((2 * 1.5 * 100) / 30, 12) // job j1
    expect(u.rows.find((r) => r.group === 'b')!.share!.iops_read).toBeNull() // the cluster did nothing
  })

  it('parses its groups', () => {
    expect(parseGroup('label:team.x')).toEqual({ by: 'label', key: 'team.x' })
    expect(parseGroup('label:')).toBeUndefined()
    expect(parseGroup('user')).toBeUndefined()
  })
})
