import { describe, expect, it } from 'vitest'
import { makeApp } from '../../support/api-app.ts'
import { completedJob } from '../../support/job.ts'
import { ACTIVITY_FIELDS } from '../../../lib/schema.ts'

const activity = (x: number) => Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, { total: x, mean: 0, peak: 0 }]))

describe('GET /api/v1/usage', () => {
  it('groups the completed jobs of the range from the store, and refuses a malformed query in one line', async () => {
    const { call, store } = await makeApp()
    await store.update((d) => {
      for (const [id, name, end, x] of [
        ['u1', 'render', '2026-11-02T10:00:00Z', 10],
        ['u2', 'render', '2026-11-03T10:00:00Z', 5],
        ['u3', 'align', '2026-11-03T11:00:00Z', 7],
        ['u4', 'render', '2026-12-02T10:00:00Z', 100], // after the range
      ] as const)
        d.jobs[id] = completedJob({
          id,
          name,
          startedAt: '2026-11-01T00:00:00Z',
          endedAt: end,
          summary: { state: 'done', stats: { activity: activity(x), capacity: [] } },
        })
    })
    const res = await call('GET', '/api/v1/usage?since=2026-11-01T00:00:00Z&until=2026-12-01T00:00:00Z')
    expect(res.status).toBe(200)
    const body = (await res.json()) as {
      jobs: number
      pending: number
      rows: Array<{ group: string; jobs: number; total: { iops_read: number } }>
    }
    expect(body).toMatchObject({ jobs: 3, pending: 0 })
    expect(body.rows.map((r) => [r.group, r.jobs, r.total.iops_read])).toEqual([
      ['render', 2, 15],
      ['align', 1, 7],
    ])
    for (const [q, problem] of [
      ['group=user&since=2026-11-01T00:00:00Z', 'group must be name, cluster or label:KEY'],
      ['group=name', 'since'],
      ['since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z', 'until must be after since'],
    ]) {
      const bad = await call('GET', `/api/v1/usage?${q}`)
      expect(bad.status, q).toBe(400)
      expect(((await bad.json()) as { error: { message: string } }).error.message, q).toContain(problem)
    }
  })
})
